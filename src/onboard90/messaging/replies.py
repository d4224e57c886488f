"""上行短信: customers' replies, read and kept whatever they say.

Kannel passes each handset's message to MO_PATH (`views.kannel_mo`), which hands it to `reply_receive`. The
reply is read once its text is normalised (`reply_words`: NFKC, so full-width ＴＤ and ５ are TD and 5;
stripped of spaces and closing punctuation; case-folded):

- TD or 退订 opts the customer out of marketing SMS (`customers.services.customer_opt_out`) and queues one
  service SMS confirming it — not a second one when the customer had opted out already;
- anything else goes to the engine above (`signals.reply_received`), which knows which acts wait for an
  answer: a 1–5 score for the onboarding survey, a yes (1, 是, 好, 要) to the value-added offer;
- what nobody took is kept as `unmatched`, for staff to read (`onboard90 replies --unmatched`), as is a reply
  from a number that is not a customer's.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata

from django.db import transaction

from onboard90.core import clock
from onboard90.core.masking import mask_msisdn
from onboard90.customers.models import Customer
from onboard90.customers.services import UPDATED, customer_opt_out
from onboard90.messaging.enums import MessageClass, MessageStatus, Purpose, ReplyKind
from onboard90.messaging.models import InboundMessage, OutboxMessage
from onboard90.messaging.signals import reply_received
from onboard90.playbook import schema, templating
from onboard90.playbook.selectors import current_version, playbook_of

log = logging.getLogger("onboard90.messaging")

OPT_OUT_WORDS = frozenset({"td", "退订"})
YES_WORDS = frozenset({"1", "是", "好", "要"})
_SCORE = re.compile(r"([1-5])\s*分?")
# What people put around a one-word answer: spaces, and a full stop or an exclamation (NFKC has already made
# the full-width ones half-width, all but 。 and 、).
_EDGES = " \t\r\n.!?~,。、"

# The confirmation of an opt-out, after the playbook's signature: marketing stops, service notices do not.
OPT_OUT_CONFIRMATION = "您已退订营销短信，今后不再向您推荐优惠；账单、服务提醒等服务通知仍会照常发送。"
# How long the confirmation may wait for the sending hours (a TD sent at night is confirmed in the morning).
CONFIRMATION_VALID = dt.timedelta(days=1)


def reply_words(text: str) -> str:
    """A reply's text as it is matched: NFKC (full-width letters and digits become plain ones), stripped of
    spaces and closing punctuation, case-folded. "ＴＤ", " td ", "退订。" read "td", "td", "退订"."""
    return unicodedata.normalize("NFKC", text or "").strip(_EDGES).casefold()


def survey_score(words: str) -> int | None:
    """The 1–5 score normalised `words` give ("5", "5分"), or None."""
    found = _SCORE.fullmatch(words)
    return int(found.group(1)) if found else None


def local_number(msisdn: str) -> str:
    """A sender's number as customers are kept (11 digits): without spaces, a leading + and China's 86 / 0086.
    Anything else is kept as given (at most 20 characters)."""
    number = re.sub(r"[\s()-]", "", msisdn or "").removeprefix("+")
    if number.startswith("0086"):
        number = number[4:]
    elif number.startswith("86") and len(number) == 13:
        number = number[2:]
    return number[:20]


def reply_receive(
    *, msisdn: str, text: str, received_at: dt.datetime, gateway: str = "kannel", smsc: str = ""
) -> InboundMessage:
    """Read and keep one reply (see the module's docstring); returns it as stored, with what it was taken for.

    The customer is found by number, whether still a customer or gone. Everything — the reply, the opt-out
    and its confirmation, what the engine records for an answer — is written in one transaction, with the
    customer's row locked, so two replies from one customer (a TD sent twice) are read one after the other.
    """
    number = local_number(msisdn)
    words = reply_words(text)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().filter(msisdn=number).first()
        reply = InboundMessage(
            msisdn=number, text=(text or "")[:640], received_at=received_at, gateway=gateway[:32], smsc=smsc[:64],
            customer=customer, kind=ReplyKind.UNMATCHED,
        )
        if customer is None:
            log.info("reply from %s, who is not a customer: kept unmatched", mask_msisdn(number))
        elif words in OPT_OUT_WORDS:
            reply.kind = ReplyKind.OPT_OUT
            status = customer_opt_out(customer=customer, at=received_at, source=f"sms:{gateway}"[:64])
            if status == UPDATED:
                _confirm_opt_out(customer)
        else:
            score = survey_score(words)
            answers = reply_received.send(
                sender=InboundMessage, customer_id=customer.pk, received_at=received_at, text=text or "",
                score=score, accepts=words in YES_WORDS,
            )
            for _receiver, answer in answers:
                if answer:
                    reply.kind, reply.action_id = answer
                    reply.score = score if reply.kind == ReplyKind.SURVEY_SCORE else None
                    break
        reply.save()
    return reply


def _confirm_opt_out(customer: Customer) -> OutboxMessage:
    """One service SMS telling the customer the opt-out took effect: queued now, valid for a day, sent by the
    dispatcher like any other (sending hours, daily limit). It answers the customer, not an act: no action."""
    text = f"{_signature()}{OPT_OUT_CONFIRMATION}"
    now = clock.now()
    return OutboxMessage.objects.create(
        action=None, purpose=Purpose.OPT_OUT_CONFIRMATION, customer=customer, msisdn=customer.msisdn,
        message_class=MessageClass.SERVICE, text=text, segments=templating.segments(text),
        status=MessageStatus.QUEUED, scheduled_at=now, not_after=now + CONFIRMATION_VALID, created_at=now,
    )


def _signature() -> str:
    """The current playbook's SMS signature (【中国联通】), the one every message of the plan carries."""
    try:
        return playbook_of(current_version()).sms_signature
    except LookupError:  # no playbook yet: no customer either, but a confirmation must still be signed
        return schema.Playbook.model_fields["sms_signature"].default


def replies_listed(
    *, unmatched: bool = False, since: dt.date | None = None, limit: int | None = None
) -> list[InboundMessage]:
    """Replies newest first, with their customer and act: only the unmatched ones (for staff to read and
    act on by hand) with `unmatched`, only those received on or after the local day `since`."""
    rows = InboundMessage.objects.select_related("customer", "action").order_by("-received_at", "-pk")
    if unmatched:
        rows = rows.filter(kind=ReplyKind.UNMATCHED)
    if since is not None:
        rows = rows.filter(received_at__gte=clock.at_local(since))
    return list(rows[:limit] if limit else rows)
