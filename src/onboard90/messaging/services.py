"""Writes of the outbox: render queued messages, dispatch due ones through the gateway, expire late ones."""

from __future__ import annotations

import datetime as dt
import logging
import time
from array import array
from collections.abc import Callable
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Value

from onboard90.catalog.models import Package, VipTier
from onboard90.core import clock
from onboard90.core.bulk import update_rows
from onboard90.core.locks import dispatcher_lock
from onboard90.core.masking import mask_msisdn
from onboard90.core.planner import among, broad, narrow
from onboard90.customers.models import Bill, Customer
from onboard90.messaging import policy
from onboard90.messaging.context import CUSTOMER_FIELDS, SharedParts, message_text, reference_lists
from onboard90.messaging.enums import PLAN_PURPOSES, MessageClass, MessageStatus
from onboard90.messaging.gateways import PERMANENT, SENT, UNKNOWN, SmsGateway, gateway_from_settings
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.signals import messages_failed, messages_settled
from onboard90.org.models import City, Unit
from onboard90.playbook import templating
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.selectors import current_version, playbook_of

log = logging.getLogger("onboard90.messaging")

# Sends the gateway certainly did not take (refused connection, 5xx) before a message is recorded failed.
MAX_SEND_ATTEMPTS = 5
# How long a hand-over whose answer never came waits for a delivery report before it is recorded failed.
RECONCILE = dt.timedelta(hours=1)
WINDOW_CLOSED, DAILY_LIMIT = policy.WINDOW_CLOSED, policy.DAILY_LIMIT


def outbox_render(*, batch: int = 2000, page: int = 50_000) -> int:
    """Personalise queued messages not yet rendered, from each customer's real package and city content.

    Rendering is the one step that must run per message (a template per customer); it belongs to the
    dispatcher, not the set-based cycle, and works through the backlog in batches (`page` ids read at a
    time, `batch` messages loaded and written at a time). A message whose template fails is recorded failed,
    with the reason. See `messages_render` for how.
    """
    return len(messages_render(messages=OutboxMessage.objects.all(), batch=batch, page=page, record_failures=True))


# What a caller adds to some customers' SMS contexts: customer ids in, {customer id: {name: value}} out.
ExtraContext = Callable[[list[int]], dict[int, dict[str, Any]]]


def messages_render(
    *,
    messages: QuerySet[OutboxMessage],
    extra: ExtraContext | None = None,
    record_failures: bool = False,
    act: tuple[int, str] | None = None,
    batch: int = 2000,
    page: int = 50_000,
) -> list[int]:
    """Render those of `messages` that are queued and not yet rendered; the ids of the customers whose SMS
    was written. The dispatcher renders every one (`outbox_render`); the daily cycle renders its usage acts'
    SMS as it queues them, with each customer's verdict and offer in the context (`extra`). A message whose
    template fails is recorded failed when `record_failures`, else left unrendered for the dispatcher. `act`, a
    (playbook version id, act code), is the template of every one of `messages` when they carry no act of their
    own (a data-surge alert's SMS, `journeys.surge_acts`) or are all of that one act (the cycle's usage acts);
    otherwise each message's act names it.

    What it reads per message is a row, not model instances: the message's and its customer's columns
    (`_Recipient`), with the package, city, store, tier and manager — a few dozen rows of reference data —
    attached from one read of each (`_References`), and what customers share of a context (a package's, a
    city's values, the act's template for the city and package family) made once per playbook version
    (`context.SharedParts`); each template is compiled once (`templating.compile_template`). Each batch is
    written back by one prepared statement (its texts and parts; a second for any that failed to render).
    """
    unrendered = messages.filter(status=MessageStatus.QUEUED, text="")
    template = ("action__journey__playbook_version_id", "action__action_code") if act is None else map(Value, act)
    rows = unrendered.values_list("pk", *template, *(f"customer__{field}" for field in ("pk", *CUSTOMER_FIELDS)))
    playbooks: dict[int, tuple[Any, SharedParts]] = {}
    refs = references = None
    rendered: list[int] = []
    for found in _pages(unrendered, rows, batch=batch, page=page):
        if references is None:  # read on the first batch: most dispatches find nothing left to render
            refs, references = reference_lists(), _References()
        recipients = [_Recipient(*row[3:]) for row in found]
        references.attach(recipients)
        bills: dict[int, _Bill] = {}
        for customer_id, month, amount in (
            Bill.objects.filter(among("customer_id", {r.pk for r in recipients}))
            .order_by("-issued_at")
            .values_list("customer_id", "bill_month", "amount")
        ):
            bills.setdefault(customer_id, _Bill(month, amount))
        contexts = extra([r.pk for r in recipients]) if extra is not None else {}
        written, failed = [], []
        for (pk, version_id, action_code, *_customer), customer in zip(found, recipients, strict=True):
            if version_id not in playbooks:
                playbooks[version_id] = (playbook_of(PlaybookVersion.objects.get(pk=version_id)), SharedParts())
            playbook, shared = playbooks[version_id]
            action = playbook.action(action_code)
            try:
                text = message_text(
                    playbook, action, customer, bill=bills.get(customer.pk), refs=refs, shared=shared,
                    extra=contexts.get(customer.pk),
                )  # fmt: skip
            except Exception as exc:  # a template that fails for one customer must not stop the others
                if record_failures:
                    written.append((pk, customer.pk, "-", 0))
                    failed.append((pk, customer.pk, MessageStatus.FAILED, f"render: {exc}"[:255]))
                    log.warning("sms %s for %s failed to render: %s", pk, action.code, exc)
                continue
            written.append((pk, customer.pk, text, templating.segments(text)))
            rendered.append(customer.pk)
        # The status only of those that failed: one the engine cancelled meanwhile (its act ended) stays so.
        with transaction.atomic():
            # By id and customer: the outbox is partitioned by customer on PostgreSQL (docs/SCALING.md).
            update_rows(OutboxMessage, ["text", "segments"], written, key="customer")
            update_rows(OutboxMessage, ["status", "last_error"], failed, key="customer")
            _report_failed([pk for pk, _customer, _status, _error in failed], at=clock.now())
    return rendered


class _Recipient:
    """A customer as the renderer reads them (CUSTOMER_FIELDS, and `_References` attaching the rows they
    refer to): what `context.customer_context` reads, without a model instance per message."""

    __slots__ = ("pk", *CUSTOMER_FIELDS, "city", "store", "package", "vip_tier", "account_manager")

    def __init__(self, pk, *values):
        self.pk = pk
        for name, value in zip(CUSTOMER_FIELDS, values, strict=True):
            setattr(self, name, value)
        self.city = self.store = self.package = self.vip_tier = self.account_manager = None

    @property
    def masked_msisdn(self) -> str:
        return mask_msisdn(self.msisdn)


class _Bill(NamedTuple):
    bill_month: str
    amount: Any


def _pages(ids_of, rows, *, batch: int, page: int):
    """The rows of `ids_of`, `batch` at a time in id order, loaded by `rows`.

    The ids are read first, in one pass (`page` fetched at a time, kept in a compact array: 8 bytes an id):
    the queue's index is by status and scheduled time, not id, so a read of "the next page past the last id"
    reads every queued message again for each page (at 13M journeys a day's 840k unrendered SMS, 0.3 s a
    page, seventeen pages), and asking again for the first `batch` would sort them all once per batch. A batch is
    loaded by its id range (still among `ids_of`: another writer may have taken some meanwhile), not by a
    list of 2,000 ids the query would have to carry.
    """
    ids = array("q", ids_of.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=page))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        if found := list(rows.filter(pk__gte=chunk[0], pk__lte=chunk[-1]).order_by("pk")):
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


def outbox_dispatch_due(
    *, as_of: dt.datetime | None = None, gateway: SmsGateway | None = None, now: Callable[[], dt.datetime] = clock.now
) -> dict:
    """发送: the outbox-dispatch job — what is due now through the configured gateway, under the current
    playbook's sending hours and daily cap. The daily cycle runs it in line; `onboard90 dispatch` on its own,
    every minute."""
    playbook = playbook_of(current_version())
    hours = playbook.quiet_hours
    return outbox_dispatch(
        as_of=as_of or now(), quiet_hours=(hours.start, hours.end), gateway=gateway, now=now,
        daily_limit=playbook.sms_daily_limit,
    )


def _sending_hours(instant: dt.datetime, quiet_hours: tuple[str, str]) -> bool:
    """Whether `instant` is inside the allowed sending hours: the one rule, `next_send_time`'s."""
    return policy.next_send_time(instant, *quiet_hours) == instant


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
        expired_ids = list(expired.exclude(action=None).values_list("action_id", flat=True))
        missed_sms = expired.update(status=MessageStatus.MISSED, last_error=policy.WINDOW_CLOSED)
        _report(at=started, undelivered={policy.WINDOW_CLOSED: expired_ids})
        unconfirmed = _settle_unconfirmed(at=started)
    counts = {"sms_sent": 0, "sms_failed": unconfirmed, "sms_missed": missed_sms, "sms_suppressed": 0}
    queued = OutboxMessage.objects.filter(status=MessageStatus.QUEUED).exclude(text="").order_by("scheduled_at", "pk")
    pace = _Pace(settings.ONBOARD90["SMS_RATE_LIMIT"])
    # Messages claimed per round, the gateway's own (SEND_BATCH for most, more for the demo's, which only
    # appends to a file); a crash leaves at most one round unsettled.
    for instant, due in _due_rounds(queued, size=gateway.batch, now=now, quiet_hours=quiet_hours):
        # The round by id and customer: on PostgreSQL the outbox is partitioned by customer (docs/SCALING.md).
        round_of = OutboxMessage.objects.filter(pk__in=[pk for pk, _c in due], customer_id__in={c for _p, c in due})
        # Claim before sending, and commit the claim: a crash after this point leaves the batch `sending`,
        # never `queued`, so a rerun cannot hand the same message to the gateway a second time unasked.
        with transaction.atomic():
            _still_queued(round_of).update(
                status=MessageStatus.SENDING, attempts=F("attempts") + 1, gateway=gateway.name
            )
        batch = list(
            round_of.filter(status=MessageStatus.SENDING)
            .only(
                "action_id", "customer_id", "msisdn", "text", "attempts", "status", "sent_at", "gateway_ref",
                "last_error", "scheduled_at", "not_after", "message_class", "purpose",
            )
            .order_by("scheduled_at", "pk")
        )
        delivered: list[int] = []
        undelivered: dict[str, list[int]] = {}
        stop = False  # the rest of the round goes back to the queue (quiet hours began, the gateway is down)
        sent_today = _sent_today(batch, instant) if daily_limit else {}
        opted_out = _opted_out(batch)
        for message in batch:
            if stop:
                message.status, message.attempts = MessageStatus.QUEUED, message.attempts - 1
                continue
            # The round's instant is seconds old by now, and a round can take minutes on a slow gateway:
            # the clock is read again for each message, right before it would leave.
            at = now()
            verdict = policy.sending_verdict(
                at=at, scheduled_at=message.scheduled_at, not_after=message.not_after,
                marketing=message.message_class == MessageClass.MARKETING,
                opted_out=message.customer_id in opted_out, sent_today=sent_today.get(message.customer_id, 0),
                # The plan's daily cap is on its own messages: an answer to the customer's reply is not held by it.
                daily_limit=daily_limit if message.purpose in PLAN_PURPOSES else None, sending_hours=quiet_hours,
            )
            if verdict.action != policy.SEND:
                message.attempts -= 1  # the claim's attempt: the gateway never saw it
                if verdict.action == policy.SUPPRESS:
                    message.status, message.last_error = MessageStatus.MISSED, verdict.reason
                    undelivered.setdefault(verdict.reason, []).append(message.action_id)
                    counts["sms_missed" if verdict.reason == policy.WINDOW_CLOSED else "sms_suppressed"] += 1
                elif verdict.reason == policy.DAILY_LIMIT:
                    message.status, message.scheduled_at = MessageStatus.QUEUED, verdict.until
                    counts["sms_held"] = counts.get("sms_held", 0) + 1
                else:
                    # Quiet hours began during the round (or the clock stepped back): this message and the
                    # rest of the round go back to the queue, as `outbox_recover` does for a send the
                    # gateway never saw.
                    message.status, stop = MessageStatus.QUEUED, True
                continue
            pace.wait()
            result = gateway.send(msisdn=message.msisdn, text=message.text, message_id=message.pk)
            if result.ok:
                message.status, message.sent_at, message.gateway_ref = MessageStatus.SENT, at, result.ref
                message.last_error = "" if result.fate == SENT else result.fate  # `queued`: Kannel delivers later
                delivered.append(message.action_id)
                sent_today[message.customer_id] = sent_today.get(message.customer_id, 0) + 1
                counts["sms_sent"] += 1
            elif result.fate == UNKNOWN:
                # It may have left: never handed over again. A delivery report settles it (`dlr_record`);
                # without one, the next dispatches record it failed after RECONCILE.
                message.status, message.sent_at, message.last_error = MessageStatus.UNCONFIRMED, at, result.error[:255]
                sent_today[message.customer_id] = sent_today.get(message.customer_id, 0) + 1  # it may have arrived
                counts["sms_unconfirmed"] = counts.get("sms_unconfirmed", 0) + 1
            elif result.fate == PERMANENT or message.attempts >= MAX_SEND_ATTEMPTS:
                message.status, message.last_error = MessageStatus.FAILED, result.error[:255]
                undelivered.setdefault(policy.GATEWAY_REFUSED, []).append(message.action_id)
                counts["sms_failed"] += 1
            else:
                # Certainly not taken (connection refused, 5xx): retried after a backoff. The gateway is down,
                # most likely: the rest of the round waits for the next dispatch instead of each spending an
                # attempt on it now.
                message.status, message.last_error = MessageStatus.QUEUED, result.error[:255]
                message.scheduled_at = at + policy.retry_after(message.attempts)
                counts["sms_retried"] = counts.get("sms_retried", 0) + 1
                stop = True
        # One statement closes the round's acts (not one per act): the instant the round is recorded,
        # at most the round's sending time after each act's own SMS left.
        recorded = now() if delivered or undelivered else None
        with transaction.atomic():
            update_rows(
                OutboxMessage, ["status", "sent_at", "gateway_ref", "last_error", "attempts", "scheduled_at"],
                (
                    (m.pk, m.customer_id, m.status, m.sent_at, m.gateway_ref, m.last_error, m.attempts, m.scheduled_at)
                    for m in batch
                ),
                key="customer",
            )
            _report(at=recorded, delivered=delivered, undelivered=undelivered)
            _report_failed([m.pk for m in batch if m.status == MessageStatus.FAILED], at=recorded or now())
        if stop:
            break  # the clock has left the sending hours, or the gateway is down: the next dispatch goes on
    return counts


# Rounds of the queue's head read at once (`_due_rounds`), and how long a read is used at most.
ROUNDS_A_READ = 25
READ_FOR = dt.timedelta(seconds=10)


def _due_rounds(queued: QuerySet, *, size: int, now: Callable[[], dt.datetime], quiet_hours: tuple[str, str]):
    """The due messages of `queued` (in its order), `size` at a time, each round with the instant it starts at;
    no more once the sending hours end or nothing is due.

    The head is read ROUNDS_A_READ rounds at a time: PostgreSQL reads every due message of every partition to
    sort out the first ones (its statistics of the partitions predate the day's messages, so it sorts rather than
    merges the partitions' index orders) — at 13M journeys 585k messages, 0.35 s, which read for every round of
    200 held the dispatch to 600 SMS a second. A message that falls due meanwhile (an answer to a reply) waits for
    the next read, READ_FOR at most, however slowly a paced gateway sends; each round is still claimed, sent and
    recorded on its own, and each message is still judged at the instant it would leave (expiry, quiet hours,
    the daily cap)."""
    ahead: list[tuple[int, int]] = []
    read_at = None
    while True:
        instant = now()
        if not _sending_hours(instant, quiet_hours):
            return  # quiet hours: nothing goes out now; what is queued waits for a later dispatch
        if not ahead or read_at is None or instant - read_at > READ_FOR:
            due = queued.filter(scheduled_at__lte=instant, not_after__gte=instant).values_list("pk", "customer_id")
            ahead, read_at = list(due[: size * ROUNDS_A_READ]), instant
            if not ahead:
                return
        yield instant, ahead[:size]
        ahead = ahead[size:]


class _Pace:
    """At most `per_second` sends a second through one gateway (0: no limit), spaced evenly."""

    def __init__(self, per_second: float):
        self.gap = 1.0 / per_second if per_second else 0.0
        self.next = 0.0

    def wait(self) -> None:
        if not self.gap:
            return
        moment = time.monotonic()
        if moment < self.next:
            time.sleep(self.next - moment)
            moment = self.next
        self.next = moment + self.gap


def _opted_out(batch) -> set[int]:
    """The customers of a round's marketing messages who opted out (a reply since the message was queued)."""
    marketing = {m.customer_id for m in batch if m.message_class == MessageClass.MARKETING}
    if not marketing:
        return set()
    return set(
        Customer.objects.filter(pk__in=marketing, marketing_opt_out=True).values_list("pk", flat=True)
    )


def _settle_unconfirmed(*, at: dt.datetime) -> int:
    """Messages whose hand-over went unanswered: one a delivery report reached meanwhile (it may come while the
    send was still waiting for its answer) was taken by the gateway — recorded sent, its act delivered; one
    with no report within RECONCILE is recorded failed (never sent again: the customer may have it). Returns
    how many failed."""
    unconfirmed = OutboxMessage.objects.filter(status=MessageStatus.UNCONFIRMED)
    reported = unconfirmed.exclude(delivery="")
    taken = list(reported.exclude(action=None).values_list("action_id", "sent_at"))
    reported.update(status=MessageStatus.SENT, last_error="")
    for sent_at, action_ids in _by_instant(taken).items():
        _report(at=sent_at, delivered=action_ids)
    stale = unconfirmed.filter(delivery="", sent_at__lt=at - RECONCILE)
    action_ids = list(stale.exclude(action=None).values_list("action_id", flat=True))
    stale_ids = list(stale.values_list("pk", flat=True))
    settled = stale.update(status=MessageStatus.FAILED, last_error=policy.NO_REPORT)
    _report_failed(stale_ids, at=at)
    _report(at=at, undelivered={policy.GATEWAY_REFUSED: action_ids})
    return settled


def _by_instant(pairs) -> dict[dt.datetime, list[int]]:
    """(act id, instant) pairs grouped by instant: an act is recorded at the instant its message left."""
    grouped: dict[dt.datetime, list[int]] = {}
    for action_id, instant in pairs:
        grouped.setdefault(instant, []).append(action_id)
    return grouped


def _sent_today(batch, instant: dt.datetime) -> dict[int, int]:
    """How many of the plan's messages each customer of a round has been sent since the start of `instant`'s
    local day — an unconfirmed hand-over counts, it may well have arrived, and so does one recorded failed
    for want of a delivery report (`NO_REPORT`, after RECONCILE): the record changed, not what the customer
    may have got. Answers to the customer's own replies do not: the daily cap is on the plan's messages (its
    acts' and its data-surge alerts')."""
    customers = {m.customer_id for m in batch}
    day_start = clock.at_local(clock.local_date(instant))
    # The round's customers drive the query (their index); the statuses only filter their few rows. Said as an
    # OR of statuses, it led SQLite to the status index: every message ever sent, in every round.
    handed_over = [MessageStatus.SENT, MessageStatus.UNCONFIRMED, MessageStatus.FAILED]
    rows = (
        OutboxMessage.objects.filter(*narrow(customer_id__in=customers))
        .filter(*broad(status__in=handed_over), sent_at__gte=day_start, purpose__in=PLAN_PURPOSES)
        .filter(~Q(status=MessageStatus.FAILED) | Q(last_error=policy.NO_REPORT))
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
    and are sent by this dispatch, if the clock and their window still allow it. A gateway that cannot
    answer (`accepted` missing) either reports deliveries (`reports_delivery`, Kannel): then the stuck ones
    are recorded `unconfirmed` and never handed over again — a delivery report settles each, and one
    without a report is recorded failed after RECONCILE (at most one round, the gateway's `batch`, is at
    stake) — or it gets them again: at least once for the one batch in flight.

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
        rest = OutboxMessage.objects.filter(pk__in=[pk for pk in stuck if pk not in accepted], status=MessageStatus.SENDING)
        if lookup is None and getattr(gateway, "reports_delivery", False):
            unconfirmed = rest.update(status=MessageStatus.UNCONFIRMED, sent_at=now(), last_error="interrupted")
            requeued = 0
        else:
            # The claim counted an attempt the gateway never saw. (A message whose act ended meanwhile is no
            # longer `sending`: the engine cancels an ended act's queued and in-flight messages.)
            requeued = rest.update(status=MessageStatus.QUEUED, attempts=F("attempts") - 1)
            unconfirmed = 0
    log.warning(
        "outbox: %d interrupted sends settled (%d accepted, %d requeued, %d awaiting a delivery report)",
        len(stuck), len(accepted), requeued, unconfirmed,
    )
    return {"recovered_sent": len(accepted), "requeued": requeued, "unconfirmed": unconfirmed}


def _report_failed(message_ids: list[int], *, at: dt.datetime) -> None:
    """Tell whoever listens (the API's webhooks) which messages were just recorded failed
    (`signals.messages_failed`), inside the caller's transaction."""
    if message_ids:
        failed = OutboxMessage.objects.filter(pk__in=message_ids, status=MessageStatus.FAILED)
        messages_failed.send(sender=OutboxMessage, messages=failed, at=at)


def _report(*, at: dt.datetime | None, delivered=(), undelivered: dict[str, list[int]] | None = None) -> None:
    """Tell the engine which acts' messages left or will not (`signals.messages_settled`), inside the caller's
    transaction: it records the acts (an act delivered by SMS alone is done when its message has left)."""
    undelivered = {reason: ids for reason, ids in (undelivered or {}).items() if ids}
    if delivered or undelivered:
        messages_settled.send(sender=OutboxMessage, at=at, delivered=list(delivered), undelivered=undelivered)
