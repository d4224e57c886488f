"""What the outbox reports to the engine above it: which acts' messages were delivered or could not be.

The outbox knows messages, not acts: when a round sends, expires, crowds out or gives up on messages it
reports their acts here, inside the transaction that records the messages' fate, and the engine records
the acts (`journeys.flows`, connected in `journeys.apps`) — an act delivered by SMS alone is done when its
message has left, missed when it cannot.
"""

from django.dispatch import Signal

# at: datetime — the instant the round recorded them; delivered: list[int] — act ids whose message left;
# undelivered: dict[str, list[int]] — act ids whose message will not leave, by reason (sms_window_closed,
# sms_daily_limit, sms_failed).
messages_settled = Signal()
