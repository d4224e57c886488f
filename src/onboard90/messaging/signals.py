"""What the outbox reports to the engine above it: which acts' messages were delivered or could not be.

The outbox knows messages, not acts: when a round sends, expires, crowds out or gives up on messages it
reports their acts here, inside the transaction that records the messages' fate, and the engine records
the acts (`journeys.flows`, connected in `journeys.apps`) — an act delivered by SMS alone is done when its
message has left, missed when it cannot.

Likewise a customer's reply (上行短信, `messaging.replies`): the outbox reads the words, the engine knows which
acts are waiting for an answer (a survey's score, an offer's yes) and records what follows from one.
"""

from django.dispatch import Signal

# at: datetime — the instant the round recorded them; delivered: list[int] — act ids whose message left;
# undelivered: dict[str, list[int]] — act ids whose message will not leave, by reason (sms_window_closed,
# sms_daily_limit, sms_failed).
messages_settled = Signal()

# A customer's reply that is not an opt-out, sent inside the transaction that stores it (`replies.reply_receive`)
# for the engine to match against the customer's acts. customer_id: int — the customer whose number sent it;
# received_at: datetime — when it reached the gateway; text: str — the reply as received; score: int | None —
# the text read as a 1–5 survey answer ("5", "５", "5分"); accepts: bool — the text read as a yes ("1", 是, 好,
# 要). A receiver that took the reply to answer an act returns (ReplyKind value, act id), having recorded
# what follows (the offer's follow-up task); otherwise None. The first answer wins.
reply_received = Signal()

# messages: QuerySet[OutboxMessage] — messages just recorded failed (the gateway refused them or gave up, no
# delivery report came for an unconfirmed hand-over, the text could not be rendered), sent inside the
# transaction that records it; at: datetime — when.
messages_failed = Signal()
