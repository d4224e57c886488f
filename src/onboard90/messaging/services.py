"""Writes of the outbox: render queued messages, dispatch due ones through the gateway, expire late ones."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Count, F

from onboard90.catalog.models import Package, VipTier
from onboard90.core import clock
from onboard90.core.bulk import chunks, update_rows
from onboard90.core.locks import dispatcher_lock
from onboard90.customers.models import Bill
from onboard90.messaging.context import CUSTOMER_FIELDS, customer_context, reference_lists
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.gateways import SmsGateway, gateway_from_settings
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.signals import messages_settled
from onboard90.org.models import City, Unit
from onboard90.playbook import templating
from onboard90.playbook.content import locals_for, sms_template_for, sms_text
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.selectors import playbook_of

log = logging.getLogger("onboard90.messaging")

MAX_SEND_ATTEMPTS = 3
WINDOW_CLOSED = "window closed before sending"
DAILY_LIMIT = "daily limit reached until the window closed"


def _hhmm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def next_send_time(as_of: dt.datetime, quiet_start: str, quiet_end: str) -> dt.datetime:
    """The first instant at or after `as_of` inside the allowed sending hours (local time)."""
    local = as_of.astimezone(clock.OPERATOR_TZ)
    start, end = _hhmm(quiet_start), _hhmm(quiet_end)
    if local.time() < start:
        return clock.at_local(local.date(), start.hour, start.minute)
    if local.time() >= end:
        return clock.at_local(local.date() + dt.timedelta(days=1), start.hour, start.minute)
    return as_of


def outbox_render(*, batch: int = 2000, page: int = 50_000) -> int:
    """Personalise queued messages not yet rendered, from each customer's real package and city content.

    Rendering is the one step that must run per message (a template per customer); it belongs to the
    dispatcher, not the set-based cycle, and works through the backlog in batches (`page` ids read at a
    time, `batch` messages loaded and written at a time).
    """
    # The playbook document is a large JSON value: read each version once, not once per message. The
    # customers' package, city, store, tier and manager are a few dozen rows of reference data: attached
    # from one read of each, not joined and built again for every message.
    unrendered = OutboxMessage.objects.filter(status=MessageStatus.QUEUED, text="")
    rows = (
        unrendered.select_related("customer")
        .only(
            "customer_id", "message_class", "text", "segments", "status", "last_error",
            *(f"customer__{field}" for field in CUSTOMER_FIELDS),
        )
        .annotate(version_id=F("action__journey__playbook_version_id"), action_code=F("action__action_code"))
        .order_by("pk")
    )
    playbooks: dict[int, Any] = {}
    refs = references = None
    rendered = 0
    for messages in _pages(unrendered, rows, batch=batch, page=page):
        if references is None:  # read on the first batch: most dispatches find nothing left to render
            refs, references = reference_lists(), _References()
        references.attach([m.customer for m in messages])
        bills: dict[int, Bill] = {}
        for bill in Bill.objects.filter(customer_id__in=[m.customer_id for m in messages]).order_by("-issued_at"):
            bills.setdefault(bill.customer_id, bill)
        for message in messages:
            if message.version_id not in playbooks:
                playbooks[message.version_id] = playbook_of(PlaybookVersion.objects.get(pk=message.version_id))
            playbook = playbooks[message.version_id]
            action = playbook.action(message.action_code)
            city = message.customer.city.code
            context = customer_context(
                message.customer, bill=bills.get(message.customer_id), local=locals_for(playbook, city), refs=refs
            )
            try:
                template = sms_template_for(playbook, action, city, message.customer.package.family)
                body = templating.render(template or "", context)
            except Exception as exc:  # a template that fails for one customer must not stop the others
                message.status = MessageStatus.FAILED
                message.last_error = f"render: {exc}"[:255]
                message.text = "-"
                log.warning("sms %s for %s failed to render: %s", message.pk, action.code, exc)
                continue
            text = sms_text(playbook, body, message.message_class)
            message.text = text
            message.segments = templating.segments(text)
            rendered += 1
        failed = [m for m in messages if m.status == MessageStatus.FAILED]
        update_rows(OutboxMessage, ["text", "segments"], ((m.pk, m.text, m.segments) for m in messages))
        update_rows(OutboxMessage, ["status", "last_error"], ((m.pk, m.status, m.last_error) for m in failed))
    return rendered


def _pages(ids_of, rows, *, batch: int, page: int):
    """The rows of `ids_of`, `batch` at a time in id order, loaded by `rows`.

    The ids are read a page at a time from past the last one read, so no row is read twice: asking again
    for the first `batch` would, on PostgreSQL, sort every row still waiting (a day's 84k messages at a
    million journeys) once per batch.
    """
    last = 0
    while True:
        ids = list(ids_of.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:page])
        if not ids:
            return
        last = ids[-1]
        for chunk in chunks(ids, batch):
            if found := list(rows.filter(pk__in=chunk)):  # empty if another writer took them meanwhile
                yield found


class _References:
    """The rows a customer's SMS context refers to (package, city, store, VIP tier, account manager), read
    once per render and set on each customer as if they had been joined."""

    def __init__(self):
        self.by_field = {
            "package": Package.objects.in_bulk(), "city": City.objects.in_bulk(), "store": Unit.objects.in_bulk(),
            "vip_tier": VipTier.objects.in_bulk(),
        }
        self.managers: dict[int, Any] = {}

    def attach(self, customers) -> None:
        from django.contrib.auth import get_user_model

        wanted = {c.account_manager_id for c in customers} - {None} - set(self.managers)
        if wanted:
            self.managers.update(get_user_model().objects.select_related("staff").in_bulk(wanted))
        by_field = {**self.by_field, "account_manager": self.managers}
        for customer in customers:
            for name, rows in by_field.items():
                pk = getattr(customer, f"{name}_id")
                if pk is not None:
                    setattr(customer, name, rows[pk])


def outbox_dispatch(
    *,
    as_of: dt.datetime,
    quiet_hours: tuple[str, str],
    gateway: SmsGateway | None = None,
    now: Callable[[], dt.datetime] = clock.now,
    daily_limit: int | None = None,
) -> dict:
    """Send what is due now; a message whose window has closed is never sent: it is recorded missed.

    `daily_limit` (the playbook's `sms_daily_limit`): a customer who has had that many messages today gets
    the next one on a later day of its window, at the opening of the sending hours; if its window ends
    first it is recorded missed (`daily_limit`). A late-loaded customer whose notices are all due at once
    is spread the same way, and the figures show what could not be delivered in time.

    "Now" is `now()`, the clock read at each round and again right before each message leaves, not
    `as_of`: a cycle stamped 09:00 may well be dispatching at 21:59, and what may leave is decided by the
    instant it actually leaves — inside the playbook's sending hours (`quiet_hours`, start <= t < end,
    see `next_send_time`) and inside the message's window (scheduled_at <= t <= not_after). A message
    due in quiet hours stays queued for a later dispatch; one whose window closes first is recorded
    missed. `clock.now` follows the simulated clock of a scratch history (the demo, the bench), so
    those keep dispatching at their business time; tests pass a clock of their own.

    `as_of`, the business instant of the cycle that asked, no longer decides anything here (it stays so
    that the callers need not change): a late or catch-up run must not send what the real instant no
    longer allows, nor date what it sends or misses to a moment before it happened.

    Runs as the only dispatcher (see `locks`); if another one is at work, this call does nothing.
    """
    gateway = gateway or gateway_from_settings()
    with dispatcher_lock() as alone:
        if not alone:
            log.warning("outbox: another dispatcher is running; this one leaves the outbox to it")
            return {"sms_sent": 0, "sms_failed": 0, "sms_missed": 0, "busy": True}
        return _dispatch(as_of=as_of, quiet_hours=quiet_hours, gateway=gateway, now=now, daily_limit=daily_limit)


def _sending_hours(instant: dt.datetime, quiet_hours: tuple[str, str]) -> bool:
    """Whether `instant` is inside the allowed sending hours: the one rule, `next_send_time`'s."""
    return next_send_time(instant, *quiet_hours) == instant


def _dispatch(
    *,
    as_of: dt.datetime,
    quiet_hours: tuple[str, str],
    gateway: SmsGateway,
    now: Callable[[], dt.datetime] = clock.now,
    daily_limit: int | None = None,
) -> dict:
    outbox_recover(as_of=as_of, gateway=gateway, now=now)
    outbox_render()
    # Acts are closed at the real instant their outcome is recorded, as `sent_at` is: the compliance
    # report judges whether an act was done in time, and the cycle's nominal as_of (09:00 of its day)
    # would date a send made at 20:30, or a miss found by a catch-up run days later, to a moment when
    # it had not happened yet.
    started = now()
    with transaction.atomic():
        expired = OutboxMessage.objects.filter(status=MessageStatus.QUEUED, not_after__lt=started)
        expired_ids = list(expired.values_list("action_id", flat=True))
        missed_sms = expired.update(status=MessageStatus.MISSED, last_error=WINDOW_CLOSED)
        _report(at=started, undelivered={"sms_window_closed": expired_ids})
    counts = {"sms_sent": 0, "sms_failed": 0, "sms_missed": missed_sms}
    queued = OutboxMessage.objects.filter(status=MessageStatus.QUEUED).exclude(text="").order_by("scheduled_at", "pk")
    # Messages claimed per round, the gateway's own (SEND_BATCH for most, more for the demo's, which only
    # appends to a file); a crash leaves at most one round unsettled.
    size = gateway.batch
    while True:
        instant = now()
        if not _sending_hours(instant, quiet_hours):
            break  # quiet hours: nothing goes out now; what is queued waits for a later dispatch
        ids = list(
            queued.filter(scheduled_at__lte=instant, not_after__gte=instant).values_list("pk", flat=True)[:size]
        )
        if not ids:
            break
        # Claim before sending, and commit the claim: a crash after this point leaves the batch `sending`,
        # never `queued`, so a rerun cannot hand the same message to the gateway a second time unasked.
        with transaction.atomic():
            _still_queued(OutboxMessage.objects.filter(pk__in=ids)).update(
                status=MessageStatus.SENDING, attempts=F("attempts") + 1, gateway=gateway.name
            )
        batch = list(
            OutboxMessage.objects.filter(pk__in=ids, status=MessageStatus.SENDING)
            .only(
                "action_id", "customer_id", "msisdn", "text", "attempts", "status", "sent_at", "gateway_ref",
                "last_error", "scheduled_at", "not_after",
            )
            .order_by("scheduled_at", "pk")
        )
        sent_actions, missed_actions, crowded_out, failed_actions = [], [], [], []
        held_back = False
        sent_today = _sent_today(batch, instant) if daily_limit else {}
        for message in batch:
            # The round's instant is seconds old by now, and a round can take minutes on a slow gateway:
            # the clock is read again for each message, right before it would leave.
            at = None if held_back else now()
            if at is None or not _sending_hours(at, quiet_hours) or at < message.scheduled_at:
                # Quiet hours began during the round (or the clock stepped back): this message and the
                # rest of the round go back to the queue, their claim's attempt uncounted, as
                # `outbox_recover` does for a send the gateway never saw.
                held_back = True
                message.status = MessageStatus.QUEUED
                message.attempts -= 1
                continue
            if at > message.not_after:
                message.status, message.last_error = MessageStatus.MISSED, WINDOW_CLOSED
                message.attempts -= 1
                missed_actions.append(message.action_id)
                counts["sms_missed"] += 1
                continue
            if daily_limit and sent_today.get(message.customer_id, 0) >= daily_limit:
                message.attempts -= 1
                tomorrow = clock.at_local(clock.local_date(at) + dt.timedelta(days=1))
                later = next_send_time(tomorrow, *quiet_hours)
                if later > message.not_after:
                    message.status, message.last_error = MessageStatus.MISSED, DAILY_LIMIT
                    crowded_out.append(message.action_id)
                    counts["sms_missed"] += 1
                else:
                    message.status, message.scheduled_at = MessageStatus.QUEUED, later
                    counts["sms_held"] = counts.get("sms_held", 0) + 1
                continue
            result = gateway.send(msisdn=message.msisdn, text=message.text, message_id=message.pk)
            if result.ok:
                message.status, message.sent_at, message.gateway_ref = MessageStatus.SENT, at, result.ref
                sent_actions.append(message.action_id)
                sent_today[message.customer_id] = sent_today.get(message.customer_id, 0) + 1
                counts["sms_sent"] += 1
            else:
                message.last_error = result.error[:255]
                message.status = MessageStatus.QUEUED
                if message.attempts >= MAX_SEND_ATTEMPTS:
                    message.status = MessageStatus.FAILED
                    failed_actions.append(message.action_id)
                    counts["sms_failed"] += 1
        # One statement closes the round's acts (not one per act): the instant the round is recorded,
        # at most the round's sending time after each act's own SMS left.
        recorded = now() if sent_actions or missed_actions or crowded_out or failed_actions else None
        with transaction.atomic():
            update_rows(
                OutboxMessage, ["status", "sent_at", "gateway_ref", "last_error", "attempts", "scheduled_at"],
                ((m.pk, m.status, m.sent_at, m.gateway_ref, m.last_error, m.attempts, m.scheduled_at) for m in batch),
            )
            _report(
                at=recorded, delivered=sent_actions,
                undelivered={"sms_window_closed": missed_actions, "sms_daily_limit": crowded_out, "sms_failed": failed_actions},
            )
        if held_back:
            break  # the clock has left the sending hours: the next dispatch takes the rest
        if batch and all(m.status == MessageStatus.QUEUED and m.scheduled_at <= instant for m in batch):
            break  # every send failed and will be retried by the next dispatch (held ones are due later)
    return counts


def _sent_today(batch, instant: dt.datetime) -> dict[int, int]:
    """How many messages each customer of a round has been sent since the start of `instant`'s local day."""
    customers = {m.customer_id for m in batch}
    day_start = clock.at_local(clock.local_date(instant))
    rows = (
        OutboxMessage.objects.filter(customer_id__in=customers, status=MessageStatus.SENT, sent_at__gte=day_start)
        .values("customer_id")
        .annotate(n=Count("pk"))
        .values_list("customer_id", "n")
    )
    return dict(rows)


def _still_queued(messages):
    """The messages among `messages` (a round's ids) still queued.

    Said as "in no other status": `status = queued` is an indexed condition, and PostgreSQL's estimate for
    it is the last ANALYZE's, often taken with nothing queued. Believing it, the planner walks every queued
    message (a day's 84k at a million journeys) to find the round's 200, in every round.
    """
    return messages.exclude(status__in=[s for s in MessageStatus.values if s != MessageStatus.QUEUED])


def outbox_recover(
    *, as_of: dt.datetime, gateway: SmsGateway, now: Callable[[], dt.datetime] = clock.now
) -> dict[str, int]:
    """Settle messages a crashed dispatcher left `sending`: ask the gateway which it accepted.

    Call it only as the one live dispatcher (`outbox_dispatch` does), or a send in flight looks crashed.

    Those it has are recorded sent (as the interrupted run would have); the others go back to the queue
    (or are cancelled if their act has ended meanwhile) and are sent by this dispatch, if the clock and
    their window still allow it. A gateway that cannot answer (`accepted` missing) gets them again:
    at-least-once for the one batch in flight.

    The accepted ones are stamped with `now()`, the instant the send is learnt of: the gateway does not
    say when it took them, and the crashed run's sends happened before now, not at this call's `as_of`
    (which may be an earlier day's business time in a catch-up run).
    """
    rows = OutboxMessage.objects.filter(status=MessageStatus.SENDING).values_list("pk", "action_id", "msisdn", "text")
    stuck = {pk: action_id for pk, action_id, _msisdn, _text in rows}
    if not stuck:
        return {"recovered_sent": 0, "requeued": 0}
    # `accepted` is the one optional method (`RecoverableGateway`): without it the stuck ones are requeued.
    lookup = getattr(gateway, "accepted", None)
    accepted: dict[int, str] = lookup({pk: (msisdn, text) for pk, _a, msisdn, text in rows}) if lookup else {}
    with transaction.atomic():
        if accepted:
            learnt = now()
            update_rows(
                OutboxMessage, ["status", "sent_at", "gateway_ref", "last_error"],
                ((pk, MessageStatus.SENT, learnt, ref, "") for pk, ref in accepted.items()),
            )
            _report(at=learnt, delivered=[stuck[pk] for pk in accepted])
        rest = [pk for pk in stuck if pk not in accepted]
        # The claim counted an attempt the gateway never saw. (A message whose act ended meanwhile is no longer
        # `sending`: the engine cancels an ended act's queued and in-flight messages.)
        requeued = OutboxMessage.objects.filter(pk__in=rest, status=MessageStatus.SENDING).update(
            status=MessageStatus.QUEUED, attempts=F("attempts") - 1
        )
    log.warning("outbox: %d interrupted sends settled (%d accepted, %d requeued)", len(stuck), len(accepted), requeued)
    return {"recovered_sent": len(accepted), "requeued": requeued}


def _report(*, at: dt.datetime | None, delivered=(), undelivered: dict[str, list[int]] | None = None) -> None:
    """Tell the engine which acts' messages left or will not (`signals.messages_settled`), inside the caller's
    transaction: it records the acts (an act delivered by SMS alone is done when its message has left)."""
    undelivered = {reason: ids for reason, ids in (undelivered or {}).items() if ids}
    if delivered or undelivered:
        messages_settled.send(sender=OutboxMessage, at=at, delivered=list(delivered), undelivered=undelivered)
