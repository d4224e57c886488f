"""Webhooks out (事件通知): what a system account subscribed to, written to an outbox in the transaction of the
change and delivered afterwards, signed, retried with backoff, every attempt logged.

The outbox. The engine, the customers and the outbox of SMS report their changes by signals sent inside
their transactions (`journeys.signals`, `messaging.signals`; connected in `api.apps`); the receivers here
write one `WebhookEvent` per subscription that wants the event and reaches the object, in that same
transaction: a change that rolls back leaves no event, and a committed one always has its events. The cycle
reports its bulk writes (a day's ~67k tasks at a million journeys) as a queryset, and the events are
written from it by one INSERT … SELECT per subscription — never a Python loop per row — and only when a
subscription wants them: without one, a receiver costs one read of the (empty) subscriptions table.

Scope. A subscription belongs to a system account and reaches what the account's live key reaches
(`api.auth.key_profile`): a 青岛 key is told of 青岛's work only; an account whose key is revoked is told
nothing. Numbers are masked, as in the API's lists.

Delivery (`webhooks_deliver`, `onboard90 webhooks deliver`, a Celery task later). Each due event is POSTed as
JSON with `X-Onboard90-Event`, `X-Onboard90-Delivery` (the event's id), `X-Onboard90-Timestamp` (Unix
seconds) and `X-Onboard90-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the
subscription's secret>`. A 2xx answer delivers it; anything else (another status, a refused connection,
a timeout) is an attempt logged in `WebhookAttempt`, retried after 1 minute, then 2, 4… up to
BACKOFF_CAP, and given up (`failed`) after MAX_ATTEMPTS. At least once: an event whose answer was lost is
sent again with the same id and the same body (its `data` is frozen at the first attempt).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.db.models import DateTimeField, F, IntegerField, Q, QuerySet, Value

from onboard90.api.models import (
    ApiKey,
    WebhookAttempt,
    WebhookEvent,
    WebhookEventType,
    WebhookStatus,
    WebhookSubscription,
)
from onboard90.api.services import ACCOUNT_PREFIX
from onboard90.core import clock
from onboard90.core.bulk import chunks, insert_select
from onboard90.core.locks import singleton_lock
from onboard90.core.masking import mask_msisdn
from onboard90.core.services import audit_record
from onboard90.customers.models import Customer
from onboard90.journeys.enums import RUNNING, ActionStatus, JourneyStatus
from onboard90.journeys.models import Escalation, Journey, Task
from onboard90.journeys.scoping import customer_filter, task_filter
from onboard90.messaging.models import OutboxMessage
from onboard90.org.scoping import PROVINCE, Scope, escalation_filter, scope_of

EVENT_TYPES = tuple(WebhookEventType.values)
# Retries: 1 minute after the first failure, doubling, at most BACKOFF_CAP apart; given up after MAX_ATTEMPTS
# (about two days of a receiver being down: 1+2+…+256 minutes, then 6 hours apart).
BACKOFF_FIRST = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=6)
MAX_ATTEMPTS = 15
TIMEOUT_SECONDS = 10
BATCH = 100
SIGNATURE_HEADER = "X-Onboard90-Signature"
CLOSED_BY_STAFF = (ActionStatus.DONE, ActionStatus.DONE_LATE, ActionStatus.MISSED)


# --- subscriptions --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NewSubscription:
    subscription: WebhookSubscription
    secret: str  # shown once


def parse_event_types(values: Iterable[str]) -> list[str]:
    """Event type names (comma-separated allowed; `all` or `*` for every one) → the sorted list, or ValueError."""
    wanted: set[str] = set()
    for value in values:
        for name in str(value).split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name in ("all", "*"):
                wanted.update(EVENT_TYPES)
            elif name in EVENT_TYPES:
                wanted.add(name)
            else:
                raise ValueError(
                    f"未知事件类型 / unknown event type {name!r} (choose: {', '.join(EVENT_TYPES)}, all)"
                )
    if not wanted:
        raise ValueError(f"须至少订阅一种事件 / name at least one event type ({', '.join(EVENT_TYPES)}, all)")
    return sorted(wanted)


def check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 500:
        raise ValueError(f"地址无效 / not an http(s) URL: {url!r}")
    return url


def webhook_add(
    *, name: str, url: str, event_types: Iterable[str], created_by: Any = None
) -> NewSubscription:
    """订阅: the system account `name` (that of `onboard90 apikey create NAME`) is told of `event_types` at `url`.
    The secret is returned once; every delivery is signed with it."""
    account_name = ACCOUNT_PREFIX + (name or "").strip().lower()
    key = ApiKey.objects.filter(account__username=account_name).select_related("account").first()
    if key is None:
        raise ValueError(
            f"没有系统账号 {name!r} / no system account {name!r}: create its key first (onboard90 apikey create)"
        )
    types = parse_event_types(event_types)
    url = check_url(url)
    secret = secrets.token_hex(32)
    with transaction.atomic():
        sub = WebhookSubscription.objects.create(
            account=key.account, url=url, event_types=types, secret=secret, created_by=created_by
        )
        audit_record(actor=created_by, verb="webhook.add", obj=sub, after=webhook_as_dict(sub))
    return NewSubscription(subscription=sub, secret=secret)


def webhook_remove(
    *, subscription_id: int, removed_by: Any = None, now: dt.datetime | None = None
) -> WebhookSubscription:
    """停用: no more events are written for it; those still waiting are given up (`failed`, said why)."""
    now = now or clock.now()
    with transaction.atomic():
        sub = WebhookSubscription.objects.select_for_update().filter(pk=subscription_id, active=True).first()
        if sub is None:
            raise ValueError(
                f"没有有效的订阅 {subscription_id} / no active subscription {subscription_id} (onboard90 webhooks list)"
            )
        sub.active, sub.removed_at = False, now
        sub.save(update_fields=["active", "removed_at"])
        WebhookEvent.objects.filter(subscription=sub, status=WebhookStatus.PENDING).update(
            status=WebhookStatus.FAILED, last_error="订阅已停用 / subscription removed"
        )
        audit_record(
            actor=removed_by, verb="webhook.remove", obj=sub, before={"active": True}, after={"active": False}
        )
    return sub


def webhook_as_dict(sub: WebhookSubscription) -> dict[str, Any]:
    """A subscription as `webhooks list` shows it: never its secret."""
    return {
        "id": sub.pk,
        "account": sub.account.get_username(),
        "url": sub.url,
        "event_types": list(sub.event_types),
        "active": sub.active,
        "created_at": sub.created_at.isoformat() if sub.created_at else None,
        "removed_at": sub.removed_at.isoformat() if sub.removed_at else None,
    }


# --- the outbox: written by the receivers, inside the change's transaction --------------------------------


def _subscribers(event_type: str) -> list[tuple[int, Scope]]:
    """(subscription id, the scope it reaches) of the active subscriptions that want `event_type` and whose
    account has a live key. A handful of rows: read whole, chosen here (a JSON list is searched alike on
    every database this way)."""
    wanted = [
        (pk, account_id)
        for pk, account_id, types in WebhookSubscription.objects.filter(active=True).values_list(
            "pk", "account_id", "event_types"
        )
        if event_type in (types or ())
    ]
    if not wanted:
        return []
    # Here, not at the top: every process imports this module as it starts (`api.apps` connects its receivers),
    # and the keys' authentication brings in the REST framework, which only a subscriber's event needs.
    from onboard90.api.auth import key_account

    keys = {
        key.account_id: key
        for key in ApiKey.objects.filter(
            account_id__in={a for _pk, a in wanted}, revoked_at__isnull=True
        ).select_related("account", "city", "unit")
    }
    return [(pk, scope_of(key_account(keys[a]))) for pk, a in wanted if a in keys]


def _emit(event_type: str, objects: QuerySet, *, scoped: Callable[[Scope], Q], at: Any) -> int:
    """One event per object of `objects` for each subscription that wants it and reaches it: one INSERT …
    SELECT per subscription. `at` is the instant (or an expression of the object, e.g. its completion time)
    it happened, and when it is first due."""
    written = 0
    for sub_id, scope in _subscribers(event_type):
        when = at if hasattr(at, "resolve_expression") else Value(at, output_field=DateTimeField())
        rows = objects.filter(scoped(scope)).values_list(
            Value(sub_id, output_field=IntegerField()), Value(event_type), "pk", when, when
        )
        written += insert_select(
            WebhookEvent, ["subscription", "event_type", "object_id", "occurred_at", "next_attempt_at"], rows
        )
    return written


def _customers_of(scope: Scope, field: str) -> Q:
    if scope.kind == PROVINCE:
        return Q()
    return Q(**{f"{field}__in": Customer.objects.filter(customer_filter(scope)).values("pk")})


def on_tasks_created(sender, *, tasks: QuerySet, at: dt.datetime, **kwargs) -> None:
    _emit(WebhookEventType.TASK_CREATED, tasks, scoped=task_filter, at=at)


def on_tasks_overdue(sender, *, tasks: QuerySet, at: dt.datetime, **kwargs) -> None:
    _emit(WebhookEventType.TASK_OVERDUE, tasks, scoped=task_filter, at=at)


def on_escalations_created(sender, *, escalations: QuerySet, at: dt.datetime, **kwargs) -> None:
    _emit(WebhookEventType.ESCALATION_CREATED, escalations, scoped=escalation_filter, at=at)


def on_journeys_closed(sender, *, journeys: QuerySet, status: str, at: dt.datetime, **kwargs) -> None:
    kind = (
        WebhookEventType.JOURNEY_COMPLETED
        if status == JourneyStatus.COMPLETED
        else WebhookEventType.JOURNEY_EXITED
    )
    _emit(kind, journeys, scoped=lambda scope: _customers_of(scope, "customer_id"), at=at)


def on_messages_failed(sender, *, messages: QuerySet, at: dt.datetime, **kwargs) -> None:
    _emit(
        WebhookEventType.SMS_FAILED, messages, scoped=lambda scope: _customers_of(scope, "customer_id"), at=at
    )


def on_acts_moved(sender, *, changes, **kwargs) -> None:
    """task.completed: a running task closed by its outcome (reached, refused, or its attempts spent). A
    supervisor's correction of a closed task is not a second completion."""
    closed = [
        act_id for act_id, before, after, *_rest in changes if before in RUNNING and after in CLOSED_BY_STAFF
    ]
    for ids in chunks(closed, 2000):
        _emit(
            WebhookEventType.TASK_COMPLETED,
            Task.objects.filter(action_id__in=list(ids)),
            scoped=task_filter,
            at=F("completed_at"),
        )


# --- delivery -------------------------------------------------------------------------------------------


def backoff(attempts: int) -> dt.timedelta:
    """How long after its `attempts`-th failed attempt an event is tried again: 1 min, 2, 4… at most BACKOFF_CAP."""
    return min(BACKOFF_FIRST * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: `sha256=` and the hex HMAC-SHA256 of "<timestamp>.<body>"."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, now: dt.datetime, tolerance: int = 300
) -> bool:
    """What a receiver does (and the docs show): the signature matches, and the timestamp is within
    `tolerance` seconds of its clock (a captured request replayed later is refused)."""
    try:
        fresh = abs(now.timestamp() - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


def _iso(value) -> str | None:
    return value.astimezone(clock.OPERATOR_TZ).isoformat() if value else None


def _task_data(task_id: int) -> dict[str, Any]:
    task = (
        Task.objects.filter(pk=task_id)
        .select_related("action", "owner_unit", "assignee", "journey__customer")
        .first()
    )
    if task is None:
        return {"task_id": task_id, "deleted": True}
    return {
        "task_id": task.pk,
        "journey_id": task.journey_id,
        "masked_msisdn": mask_msisdn(task.journey.customer.msisdn),
        "action": task.action.action_code,
        "kind": task.kind,
        "status": task.status,
        "outcome": task.outcome or None,
        "due_at": _iso(task.due_at),
        "completed_at": _iso(task.completed_at),
        "owner_unit": task.owner_unit.code,
        "assignee": task.assignee.get_username() if task.assignee_id else None,
    }


def _escalation_data(escalation_id: int) -> dict[str, Any]:
    row = Escalation.objects.filter(pk=escalation_id).select_related("unit", "supervisor").first()
    if row is None:
        return {"escalation_id": escalation_id, "deleted": True}
    return {
        "escalation_id": row.pk,
        "reason": row.reason,
        "at": _iso(row.at),
        "unit": row.unit.code,
        "supervisor": row.supervisor.get_username() if row.supervisor_id else None,
        "task": _task_data(row.task_id),
    }


def _journey_data(journey_id: int) -> dict[str, Any]:
    journey = Journey.objects.filter(pk=journey_id).select_related("customer__city").first()
    if journey is None:
        return {"journey_id": journey_id, "deleted": True}
    return {
        "journey_id": journey.pk,
        "masked_msisdn": mask_msisdn(journey.customer.msisdn),
        "city": journey.customer.city.code,
        "status": journey.status,
        "started_at": _iso(journey.started_at),
        "closed_at": _iso(journey.closed_at),
    }


def _message_data(message_id: int) -> dict[str, Any]:
    message = OutboxMessage.objects.filter(pk=message_id).select_related("action").first()
    if message is None:
        return {"message_id": message_id, "deleted": True}
    return {
        "message_id": message.pk,
        "masked_msisdn": mask_msisdn(message.msisdn),
        "act": message.action.action_code if message.action_id else None,
        "journey_id": message.action.journey_id if message.action_id else None,
        "purpose": message.purpose,
        "status": message.status,
        "last_error": message.last_error,
        "attempts": message.attempts,
    }


RENDER: dict[str, Callable[[int], dict[str, Any]]] = {
    WebhookEventType.TASK_CREATED: _task_data,
    WebhookEventType.TASK_OVERDUE: _task_data,
    WebhookEventType.TASK_COMPLETED: _task_data,
    WebhookEventType.ESCALATION_CREATED: _escalation_data,
    WebhookEventType.JOURNEY_COMPLETED: _journey_data,
    WebhookEventType.JOURNEY_EXITED: _journey_data,
    WebhookEventType.SMS_FAILED: _message_data,
}


def body_of(event: WebhookEvent) -> bytes:
    """The JSON body of an event (its `data` frozen by the caller before the first attempt)."""
    document = {
        "id": event.pk,
        "type": event.event_type,
        "occurred_at": _iso(event.occurred_at),
        "data": event.data,
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timed out)
    error: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer that is not 2xx: retried later
        return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST `body` to `url` directly (no proxy, no redirect followed); the answer's status, or why none came."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(response.status)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, f"HTTP {exc.code} {exc.reason}"[:255])
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(None, f"{type(exc).__name__}: {reason}"[:255])


def webhooks_deliver(
    *,
    now: dt.datetime,
    post: Callable[[str, bytes, dict[str, str], float], Answer] = http_post,
    limit: int | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> dict[str, int]:
    """Deliver the events due at `now` (oldest first; at most `limit`): POST each, log the attempt, and
    record it delivered, to be retried (backoff), or given up. One deliverer at a time (a second returns at
    once with `busy`). `now` is the business clock the backoff reads and the timestamp signed; the
    command passes the wall clock, tests their own."""
    counts = {"delivered": 0, "retried": 0, "failed": 0}
    with singleton_lock("webhooks") as alone:
        if not alone:
            return {**counts, "busy": 1}
        due = WebhookEvent.objects.filter(
            status=WebhookStatus.PENDING, next_attempt_at__lte=now, subscription__active=True
        ).order_by("next_attempt_at", "id")
        done = 0
        while limit is None or done < limit:
            size = BATCH if limit is None else min(BATCH, limit - done)
            batch = list(due.select_related("subscription")[:size])
            if not batch:
                break
            for event in batch:
                counts[_deliver_one(event, now=now, post=post, timeout=timeout)] += 1
            done += len(batch)
    return counts


def _deliver_one(event: WebhookEvent, *, now: dt.datetime, post, timeout: float) -> str:
    if event.data is None:  # frozen now: every later attempt sends the same body
        event.data = RENDER[event.event_type](event.object_id)
        WebhookEvent.objects.filter(pk=event.pk, data__isnull=True).update(data=event.data)
    body = body_of(event)
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "onboard90-webhooks/1",
        "X-Onboard90-Event": event.event_type,
        "X-Onboard90-Delivery": str(event.pk),
        "X-Onboard90-Timestamp": timestamp,
        SIGNATURE_HEADER: sign(event.subscription.secret, timestamp, body),
    }
    started = time.monotonic()
    answer = post(event.subscription.url, body, headers, timeout)
    took = int((time.monotonic() - started) * 1000)
    ok = answer.status is not None and 200 <= answer.status < 300
    attempts = event.attempts + 1
    error = "" if ok else (answer.error or f"HTTP {answer.status}")[:255]
    if ok:
        outcome, fields = (
            "delivered",
            {"status": WebhookStatus.DELIVERED, "delivered_at": now, "last_error": ""},
        )
    elif attempts >= MAX_ATTEMPTS:
        outcome, fields = "failed", {"status": WebhookStatus.FAILED, "last_error": error}
    else:
        outcome, fields = "retried", {"next_attempt_at": now + backoff(attempts), "last_error": error}
    with transaction.atomic():
        WebhookAttempt.objects.create(
            event_id=event.pk,
            number=attempts,
            at=now,
            status_code=answer.status,
            ok=ok,
            error=error,
            duration_ms=took,
        )
        WebhookEvent.objects.filter(pk=event.pk).update(attempts=attempts, **fields)
    return outcome
