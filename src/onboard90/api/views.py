"""The API's views: thin, as the web's are — parse, find in the caller's scope, call the same selector or
service as the web and the command line, answer.

Every record is looked up through the caller's scope (`org.scoping`, `journeys.scoping`): outside it is
the same 404 as unknown. A write the caller's role does not allow is 403; a task closed meanwhile, an
escalation already acknowledged, or an idempotency key reused with another body is 409/422; a refusal of the
rules is 422 with the service's own words. Nothing answers 500 on bad input.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.db import DataError
from django.db.models import Q
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status as http
from rest_framework.exceptions import ParseError, PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from onboard90.api import docs, serializers
from onboard90.api.auth import caller_key, caller_scope
from onboard90.api.services import (
    idempotency_find,
    idempotency_find_many,
    idempotency_keep,
    idempotency_keep_many,
)
from onboard90.core import clock
from onboard90.core.masking import mask_msisdn, mask_name
from onboard90.customers import validation
from onboard90.customers.models import Customer
from onboard90.customers.services import (
    CHUNK,
    EventOutcome,
    RowError,
    customer_events_apply,
    customer_opt_out,
    customer_viewed,
)
from onboard90.journeys import selectors as journeys
from onboard90.journeys import services as work
from onboard90.journeys.models import Escalation, Journey, Task
from onboard90.journeys.rules.tasks import CompletionRefused
from onboard90.journeys.scoping import customer_filter, task_filter
from onboard90.messaging.models import OutboxMessage
from onboard90.org.models import Unit
from onboard90.org.scoping import CITY, PROVINCE, UNIT, escalation_filter
from onboard90.playbook.models import PlaybookVersion
from onboard90.usage import validation as usage_validation
from onboard90.usage.services import usage_record

IDEMPOTENCY_HEADER = "Idempotency-Key"
PAGE = 100
PAGE_MAX = 500
OUTSIDE_SCOPE = "号码不在本账号的授权范围 / this number is outside the caller's scope"
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="幂等键 / a key of the caller's choosing (≤200 characters) for the whole request: a replay gets the "
    "first answer back unchanged (header `Idempotent-Replayed: true`) and changes nothing; the same key with "
    "another body (or on another route) answers 422",
)



def problems(*statuses: int) -> dict[int, type[serializers.Problem]]:
    """The error answers an operation declares in its schema, all of one shape (`serializers.Problem`)."""
    return dict.fromkeys(statuses, serializers.Problem)

def exception_handler(exc, context):
    """DRF's answers, plus: a service's ValueError/LookupError that escaped a view is a 422 with its words,
    never a 500; a value the database cannot take (a NUL character in a query parameter, which PostgreSQL's
    text refuses) is a 400."""
    if isinstance(exc, DataError):
        set_rollback()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Response(
            {"detail": f"请求中有无法使用的值 / a value in the request cannot be used: {reason}"},
            status=http.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, (ValueError, LookupError)) and not isinstance(exc, Http404):
        return Response({"detail": str(exc)}, status=http.HTTP_422_UNPROCESSABLE_ENTITY)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(exc, ValidationError):
        # One shape for every error (serializers.Problem): the words in `detail`, and per field in `errors`.
        errors = _field_errors(response.data)
        response.data = {
            "detail": "; ".join(f"{field}: {' '.join(words)}" for field, words in errors.items()),
            "errors": errors,
        }
    return response


def _field_errors(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's validation errors (nested per field, per list item) as {field path: [messages]}."""
    if isinstance(data, dict):
        found: dict[str, list[str]] = {}
        for key, value in data.items():
            found.update(_field_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return found
    if isinstance(data, list) and all(not isinstance(item, (dict, list)) for item in data):
        return {prefix or "non_field_errors": [str(item) for item in data]}
    if isinstance(data, list):
        found = {}
        for index, value in enumerate(data):
            found.update(_field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return found
    return {prefix or "non_field_errors": [str(data)]}


def _iso(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(clock.OPERATOR_TZ).isoformat()
    return value.isoformat()


def _refused(status: int, text: str) -> Response:
    return Response({"detail": text}, status=status)


# --- idempotent writes ----------------------------------------------------------------------------------


def _fingerprint(request, body: Any) -> str:
    text = json.dumps([request.method, request.path, body], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotent(request, handle) -> Response:
    """Run `handle()` once per `Idempotency-Key` of the caller: a replay gets the first answer back (status and
    body) with `Idempotent-Replayed: true`; the same key with another request is refused with 422. An answer
    of 5xx or 429 is not kept (the caller may retry). Without the header, `handle()` simply runs."""
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if not key:
        return handle()
    if len(key) > 200:
        return _refused(
            http.HTTP_400_BAD_REQUEST, f"{IDEMPOTENCY_HEADER} 过长 / is longer than 200 characters"
        )
    stored_key = f"request:{key}"
    fingerprint = _fingerprint(request, request.data)
    first = idempotency_find(account=request.user, key=stored_key)
    if first is None:
        response = handle()
        if response.status_code >= 500 or response.status_code == 429:
            return response
        first = idempotency_keep(
            account=request.user,
            api_key=caller_key(request),
            key=stored_key,
            fingerprint=fingerprint,
            status=response.status_code,
            body=response.data,
        )
        if first.fingerprint == fingerprint and first.body == response.data:
            return response
    if first.fingerprint != fingerprint:
        return _refused(
            http.HTTP_422_UNPROCESSABLE_ENTITY,
            f"幂等键 {key!r} 已用于另一个请求 / {IDEMPOTENCY_HEADER} {key!r} was already used for a different "
            "request: send a new key for a new request",
        )
    replay = Response(first.body, status=first.status)
    replay["Idempotent-Replayed"] = "true"
    return replay


# --- events ---------------------------------------------------------------------------------------------

_FIELD_WORDS = (
    ("unknown city", "city"),
    ("unknown package", "package_code"),
    ("unknown store", "store_code"),
    ("store ", "store_code"),
    ("unknown VIP level", "vip_level"),
    ("VIP tier", "vip_level"),
    ("prepaid customers are not VIP", "vip_level"),
    ("unknown customer", "msisdn"),
    ("Unicom mobile number", "msisdn"),
    ("unknown event type", "type"),
    ("package ", "package_code"),
    ("activated before the", "activated_at"),
    ("prepaid customers have no bills", "msisdn"),
)


def errors_of(reason: str) -> dict[str, list[str]]:
    """The importer's reason filed under the field it names (its English half names the column), else under
    `non_field_errors`; "missing field(s): a, b" under each field."""
    english = reason.split(" / ", 1)[1] if " / " in reason else reason
    if english.startswith("missing field(s): "):
        return {name.strip(): [reason] for name in english.removeprefix("missing field(s): ").split(",")}
    first = english.split(" ", 1)[0]
    if first in validation.LABELS or first in usage_validation.LABELS:
        return {first: [reason]}
    for words, field in _FIELD_WORDS:
        if words in english:
            return {field: [reason]}
    return {"non_field_errors": [reason]}


def _event_fingerprint(obj: Any) -> str:
    return hashlib.sha256(
        json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()
    ).hexdigest()


def _admit(scope, events: list[Any]):
    """The scope check of an event before it is applied (`customers.services.customer_events_apply`): the
    province reaches everything; otherwise a customer on file must be in the caller's scope (else refused
    as unknown, the same words as for a number that does not exist), and an activation must be in the
    caller's city (a city key) or at its store (a store key)."""
    if scope.kind == PROVINCE:
        return None
    numbers = set()
    for obj in events:
        if isinstance(obj, dict):
            try:
                numbers.add(validation.parse_msisdn(str(obj.get("msisdn") or "")))
            except RowError:
                pass
    reached = set(
        Customer.objects.filter(customer_filter(scope), msisdn__in=sorted(numbers)).values_list(
            "msisdn", flat=True
        )
    )

    def on_file_in_scope(customer) -> bool:
        return customer.pk is None or customer.msisdn in reached  # pk None: made by this batch, admitted then

    def admit(clean: dict, customer) -> None:
        if clean["type"] == "activation":
            row = clean["customer"]
            if scope.kind == CITY:
                allowed = row["city_id"] == scope.city_id
            else:
                allowed = (
                    scope.kind == UNIT and scope.role == "store_clerk" and row["store_id"] == scope.unit_id
                )
            if not allowed or (customer is not None and not on_file_in_scope(customer)):
                raise RowError(OUTSIDE_SCOPE)
            return
        if customer is None or not on_file_in_scope(customer):
            raise RowError(f"未知号码(客户不存在) / unknown customer: {clean['msisdn']}")

    return admit


USAGE_EVENT = "usage_daily"


def _is_usage(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("type") == USAGE_EVENT


def _usage_apply(obj: dict, *, scope, source: str) -> EventOutcome:
    """One `usage_daily` event through `usage.services.usage_record` (the usage import's own checks and
    write). A number outside the caller's scope is refused with the words for an unknown one."""
    try:
        if not str(obj.get("idempotency_key") or "").strip():
            raise RowError("缺少幂等键 / idempotency_key is empty")
        if scope.kind != PROVINCE:
            try:
                msisdn = validation.parse_msisdn(str(obj.get("msisdn") or ""))
            except RowError:
                msisdn = None  # usage_record gives the reason
            if (
                msisdn is not None
                and not Customer.objects.filter(customer_filter(scope), msisdn=msisdn).exists()
            ):
                raise RowError(f"未知号码(客户不存在) / unknown customer: {msisdn}")
        status = usage_record(
            msisdn=str(obj.get("msisdn") or ""),
            day=str(obj.get("date") or ""),
            voice_min=obj.get("voice_min"),
            data_mb=obj.get("data_mb"),
            sms=obj.get("sms"),
            source=source,
        )
    except RowError as exc:
        return EventOutcome(None, exc.reason)
    return EventOutcome(status, "")


class EventsView(APIView):
    """事件接收: the BSS/CRM pushes what happened to a subscriber, as it happens."""

    @extend_schema(
        operation_id="events_create",
        summary="推送事件 / push one event or a batch",
        description=docs.EVENTS,
        request={"application/json": serializers.EventBatch},
        parameters=[IDEMPOTENCY_PARAMETER],
        examples=docs.EVENT_EXAMPLES,
        responses={
            200: OpenApiResponse(
                serializers.EventBatchResult, description="批量：逐个结果 / a batch: one result per event"
            ),
            201: OpenApiResponse(serializers.EventResult, description="单个事件已新建 / one event, created"),
            400: OpenApiResponse(
                serializers.Problem, description="请求体不是事件 / the body is not an event or a batch"
            ),
            422: OpenApiResponse(
                serializers.EventRefused,
                description="单个事件被拒绝（未做任何改动），或幂等键已用于另一个请求 / one event, refused: nothing "
                "changed (an EventResult); or the Idempotency-Key was used for another request (a Problem)",
            ),
        },
    )
    def post(self, request):
        return idempotent(request, lambda: self._intake(request))

    def _intake(self, request) -> Response:
        body = request.data
        batch = isinstance(body, dict) and "events" in body
        if batch:
            events = body["events"]
            if not isinstance(events, list) or not events:
                raise ValidationError({"events": ["须为非空列表 / must be a non-empty list of events"]})
            if len(events) > CHUNK // 2:
                raise ValidationError(
                    {"events": [f"一次最多 {CHUNK // 2} 个事件 / at most {CHUNK // 2} events at once"]}
                )
        elif isinstance(body, dict):
            events = [body]
        else:
            raise ParseError(
                '请求体须为一个事件或 {"events": [...]} / the body must be one event or {"events": [...]}'
            )
        results = self._apply(request, events)
        counts: dict[str, int] = {}
        for result in results:
            counts[result["status"]] = counts.get(result["status"], 0) + 1
        if batch:
            return Response({"results": results, "counts": counts}, status=http.HTTP_200_OK)
        result = results[0]
        code = {"created": 201, "rejected": 422}.get(result["status"], 200)
        return Response(result, status=code)

    def _apply(self, request, events: list[Any]) -> list[dict]:
        account = request.user
        results: list[dict | None] = [None] * len(events)
        fingerprints: dict[str, str] = {}
        to_apply: list[int] = []
        kept = idempotency_find_many(
            account=account,
            keys=[
                f"event:{str(obj.get('idempotency_key') or '').strip()}"
                for obj in events
                if isinstance(obj, dict) and str(obj.get("idempotency_key") or "").strip()
            ],
        )
        for index, obj in enumerate(events):
            key = str(obj.get("idempotency_key") or "").strip() if isinstance(obj, dict) else ""
            base = {
                "index": index,
                "type": obj.get("type") if isinstance(obj, dict) else None,
                "idempotency_key": key or None,
                "replayed": False,
            }
            if key:
                fingerprint = _event_fingerprint(obj)
                seen = fingerprints.setdefault(key, fingerprint)
                first = kept.get(f"event:{key}")
                if seen != fingerprint or (first is not None and first.fingerprint != fingerprint):
                    reason = f"幂等键已用于另一个事件 / idempotency_key {key!r} was already used for a different event"
                    results[index] = {**base, "status": "rejected", "errors": {"idempotency_key": [reason]}}
                    continue
                if first is not None:
                    results[index] = {**first.body, "index": index, "replayed": True}
                    continue
            to_apply.append(index)
        source = f"api:{account.get_username()}"[:64]
        scope = caller_scope(request)
        answers: list[tuple[str, str, int, Any]] = []
        # In the request's order: a run of customer events goes through the importer's path in one call, a
        # run of usage days through usage_record one by one, so a day sent after its customer's activation
        # in the same batch finds the customer on file.
        for is_usage, run in itertools.groupby(to_apply, key=lambda i: _is_usage(events[i])):
            indexes = list(run)
            chosen = [events[i] for i in indexes]
            if is_usage:
                outcomes = [_usage_apply(obj, scope=scope, source=source) for obj in chosen]
            else:
                outcomes = customer_events_apply(
                    events=chosen, source=source, actor=account, admit=_admit(scope, chosen)
                )
            for index, outcome in zip(indexes, outcomes, strict=True):
                obj = events[index]
                key = str(obj.get("idempotency_key") or "").strip() if isinstance(obj, dict) else ""
                result = {
                    "index": index,
                    "type": obj.get("type") if isinstance(obj, dict) else None,
                    "idempotency_key": key or None,
                    "status": outcome.status or "rejected",
                    "errors": errors_of(outcome.reason) if outcome.status is None else {},
                    "replayed": False,
                }
                results[index] = result
                if outcome.status is not None and key:
                    answers.append((f"event:{key}", _event_fingerprint(obj), 200, result))
        idempotency_keep_many(account=account, api_key=caller_key(request), answers=answers)
        return [r for r in results if r is not None]


# --- customers ------------------------------------------------------------------------------------------


def _customer_item(customer: Customer) -> dict:
    journey = getattr(customer, "journey", None)
    return {
        "masked_msisdn": mask_msisdn(customer.msisdn),
        "masked_name": mask_name(customer.name),
        "city": customer.city.code,
        "store": customer.store.code,
        "activated_on": customer.activated_on.isoformat(),
        "status": customer.status,
        "vip": customer.vip_tier_id is not None,
        "journey_id": journey.pk if journey is not None else None,
    }


def _customer_or_404(request, msisdn: str) -> Customer:
    found = journeys.customer_in_scope(scope=caller_scope(request), msisdn=msisdn)
    if found is None:
        raise Http404
    return found


def parse_number(text: str) -> str | None:
    """The number search, as the web's: 11 digits or the last 4."""
    digits = "".join((text or "").split())
    if digits.isdigit() and len(digits) in (4, 11):
        return digits
    return None


class CustomersView(APIView):
    @extend_schema(
        operation_id="customers_search",
        summary="查找客户 / find customers by number",
        description="在调用方范围内按完整号码或后4位查找，号码与姓名脱敏 / customers in the caller's scope by the full "
        "number or its last 4 digits; numbers and names masked. At most 50.",
        parameters=[
            OpenApiParameter(
                "msisdn", str, required=True, description="11位号码或后4位 / 11 digits or the last 4"
            )
        ],
        responses={200: serializers.CustomerListItem(many=True), **problems(400)},
    )
    def get(self, request):
        number = parse_number(request.query_params.get("msisdn", ""))
        if number is None:
            raise ValidationError(
                {
                    "msisdn": [
                        "请输入完整的11位号码或号码后4位 / the full 11-digit number or its last 4 digits"
                    ]
                }
            )
        customers = Customer.objects.filter(customer_filter(caller_scope(request))).select_related(
            "city", "store", "journey"
        )
        customers = (
            customers.filter(msisdn=number)
            if len(number) == 11
            else customers.filter(msisdn__endswith=number)
        )
        return Response([_customer_item(c) for c in customers.order_by("msisdn")[:50]])


class CustomerView(APIView):
    @extend_schema(
        operation_id="customers_read",
        summary="客户详情（完整号码）/ one customer, full number",
        description="完整号码只在此处出现，每次查看都记入审计日志（customer.viewed）/ the only answer with the full "
        "number; every read is audited as the web's customer page is.",
        responses={200: serializers.CustomerDetail, **problems(404)},
    )
    def get(self, request, msisdn: str):
        found = _customer_or_404(request, msisdn)
        customer_viewed(customer=found, viewed_by=request.user)
        manager = found.account_manager
        return Response(
            {
                **_customer_item(found),
                "msisdn": found.msisdn,
                "name": found.name,
                "product": found.product,
                "package": found.package.code,
                "vip_tier": found.vip_tier.code if found.vip_tier_id else None,
                "number_changed": found.number_changed,
                "marketing_opt_out": found.marketing_opt_out,
                "account_manager": manager.get_username() if manager is not None else None,
                "first_bill_on": _iso(found.first_bill_on),
            }
        )


class CustomerMessagesView(APIView):
    @extend_schema(
        operation_id="customers_messages",
        summary="客户的短信及状态 / the customer's SMS with their status",
        responses={200: serializers.MessageItem(many=True), **problems(404)},
    )
    def get(self, request, msisdn: str):
        found = _customer_or_404(request, msisdn)
        messages = (
            OutboxMessage.objects.filter(customer=found)
            .select_related("action")
            .order_by("scheduled_at", "pk")
        )
        return Response(
            [
                {
                    "id": m.pk,
                    "act": m.action.action_code if m.action_id else None,
                    "purpose": m.purpose,
                    "message_class": m.message_class,
                    "text": m.text,
                    "status": m.status,
                    "scheduled_at": _iso(m.scheduled_at),
                    "sent_at": _iso(m.sent_at),
                    "delivery": m.delivery,
                    "delivery_at": _iso(m.delivery_at),
                    "last_error": m.last_error,
                }
                for m in messages
            ]
        )


class CustomerOptOutView(APIView):
    @extend_schema(
        operation_id="customers_opt_out",
        summary="退订营销短信 / opt the customer out of marketing SMS",
        description="与短信回复TD相同的服务（customer_opt_out）/ the same service as a TD reply; service notices still go.",
        request=serializers.OptOut,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: serializers.OptOutResult,
            **problems(400, 404, 422),
        },
    )
    def post(self, request, msisdn: str):
        found = _customer_or_404(request, msisdn)

        def handle() -> Response:
            form = serializers.OptOut(data=request.data)
            form.is_valid(raise_exception=True)
            at = form.validated_data.get("at") or clock.now()
            if at > clock.now() + validation.FUTURE_TOLERANCE:
                raise ValidationError({"at": ["退订时间晚于当前时间 / at is in the future"]})
            status = customer_opt_out(
                customer=found, at=at, source=f"api:{request.user.get_username()}"[:64], actor=request.user
            )
            return Response({"status": status})

        return idempotent(request, handle)


# --- journeys, tasks ------------------------------------------------------------------------------------


class JourneyView(APIView):
    @extend_schema(
        operation_id="journeys_read",
        summary="导入期旅程 / a journey with its acts",
        description="与 `onboard90 journey MSISDN --json` 相同的文档 / the same document as `onboard90 journey --json`.",
        responses={
            200: OpenApiResponse(description="journey document (see `onboard90 journey --json`)"),
            **problems(404),
        },
    )
    def get(self, request, journey_id: int):
        journey = Journey.objects.filter(pk=journey_id).select_related("customer").first()
        if (
            journey is None
            or journeys.customer_in_scope(scope=caller_scope(request), msisdn=journey.customer.msisdn) is None
        ):
            raise Http404
        return Response(
            journeys.journey_document(msisdn=journey.customer.msisdn, as_of=journeys.default_as_of())
        )


def _cursor(task: Task) -> str:
    text = f"{round(task.due_at.timestamp() * 1_000_000)}.{task.pk}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _parse_cursor(text: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        micros, pk = raw.split(".")
        return dt.datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt.UTC), int(pk)
    except (ValueError, OverflowError, OSError, UnicodeDecodeError):
        raise ValidationError({"cursor": ["游标无效 / not a cursor this API gave"]}) from None


def _date(params, name: str) -> dt.date | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError({name: [f"日期格式应为 YYYY-MM-DD / not a date: {text!r}"]}) from None


def _task_item(task: Task) -> dict:
    return {
        "id": task.pk,
        "masked_msisdn": mask_msisdn(task.journey.customer.msisdn),
        "journey_id": task.journey_id,
        "action": task.action.action_code,
        "kind": task.kind,
        "status": task.status,
        "due_at": _iso(task.due_at),
        "owner_unit": task.owner_unit.code,
        "assignee": task.assignee.get_username() if task.assignee_id else None,
        "attempts": task.attempts,
        "max_attempts": task.max_attempts,
        "backdated": task.backdated,
    }


class TasksView(APIView):
    @extend_schema(
        operation_id="tasks_list",
        summary="任务列表 / tasks in the caller's scope",
        description="截止时间最早的在前，游标分页 / soonest due first, cursor-paginated: pass `next` back as `cursor`.",
        parameters=[
            OpenApiParameter("unit", str, description="责任单位代码 / owning unit code"),
            OpenApiParameter(
                "status",
                str,
                description="running（默认：进行中+已超时）, all, 或任务状态 / or a task status",
            ),
            OpenApiParameter("action", str, description="服务动作代码 / act code"),
            OpenApiParameter(
                "due_from", dt.date, description="截止日期从 / due on or after (YYYY-MM-DD, local)"
            ),
            OpenApiParameter(
                "due_to", dt.date, description="截止日期到 / due on or before (YYYY-MM-DD, local)"
            ),
            OpenApiParameter("cursor", str, description="上一页的 next / the previous page's `next`"),
            OpenApiParameter(
                "limit", int, description=f"每页条数 / page size (default {PAGE}, at most {PAGE_MAX})"
            ),
        ],
        responses={200: serializers.TaskPage, **problems(400)},
    )
    def get(self, request):
        params = request.query_params
        try:
            tasks = journeys.task_list(
                status=params.get("status") or None,
                unit=params.get("unit") or None,
                action=params.get("action") or None,
            )
        except ValueError as exc:
            raise ValidationError({"detail": [str(exc)]}) from None
        tasks = tasks.filter(task_filter(caller_scope(request)))
        due_from, due_to = _date(params, "due_from"), _date(params, "due_to")
        if due_from:
            tasks = tasks.filter(due_at__gte=clock.at_local(due_from))
        if due_to:
            tasks = tasks.filter(due_at__lt=clock.at_local(due_to + dt.timedelta(days=1)))
        if params.get("cursor"):
            due, pk = _parse_cursor(params["cursor"])
            tasks = tasks.filter(Q(due_at__gt=due) | Q(due_at=due, pk__gt=pk))
        try:
            limit = min(max(int(params.get("limit") or PAGE), 1), PAGE_MAX)
        except ValueError:
            raise ValidationError({"limit": ["须为整数 / must be a whole number"]}) from None
        rows = list(tasks[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        return Response(
            {"results": [_task_item(t) for t in rows], "next": _cursor(rows[-1]) if more and rows else None}
        )


def _task_or_404(request, task_id: int) -> Task:
    task = journeys.task_in_scope(scope=caller_scope(request), task_id=task_id)
    if task is None:
        raise Http404
    return task


def _task_done(task: Task) -> dict:
    task = Task.objects.select_related("owner_unit", "assignee").get(pk=task.pk)
    return {
        "id": task.pk,
        "status": task.status,
        "outcome": task.outcome or None,
        "attempts": task.attempts,
        "owner_unit": task.owner_unit.code,
        "assignee": task.assignee.get_username() if task.assignee_id else None,
    }


class TaskCompleteView(APIView):
    @extend_schema(
        operation_id="tasks_complete",
        summary="登记任务结果 / record a task's outcome",
        description="与网页和 `onboard90 complete` 相同的服务；任务已被他人关闭时返回409，不会覆盖 / the same service as "
        "the web and the command line; a task closed meanwhile answers 409, never a silent overwrite.",
        request=serializers.TaskComplete,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: serializers.TaskDone,
            **problems(400, 403, 404, 409, 422),
        },
    )
    def post(self, request, task_id: int):
        task = _task_or_404(request, task_id)

        def handle() -> Response:
            form = serializers.TaskComplete(data=request.data)
            form.is_valid(raise_exception=True)
            data = form.validated_data
            try:
                done = work.task_complete_checked(
                    task=task,
                    outcome=data["outcome"],
                    completed_by=request.user,
                    checklist=data.get("checklist"),
                    note=data.get("note", "").strip(),
                    now=clock.now(),
                )
            except work.TaskNotOpen as exc:
                return _refused(http.HTTP_409_CONFLICT, str(exc))
            except work.TaskRefused as exc:
                return _refused(http.HTTP_403_FORBIDDEN, str(exc))
            except (CompletionRefused, ValueError) as exc:
                return _refused(http.HTTP_422_UNPROCESSABLE_ENTITY, str(exc))
            return Response(_task_done(done))

        return idempotent(request, handle)


class TaskReassignView(APIView):
    @extend_schema(
        operation_id="tasks_reassign",
        summary="改派任务（主管）/ reassign a task (supervisors)",
        request=serializers.TaskReassign,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: serializers.TaskDone,
            **problems(400, 403, 404, 409, 422),
        },
    )
    def post(self, request, task_id: int):
        task = _task_or_404(request, task_id)
        if not journeys.is_supervisor_of(user=request.user, task=task):
            raise PermissionDenied(
                "只有本地市主管可以改派任务 / only the city's supervisor (or the province) may reassign"
            )

        def handle() -> Response:
            form = serializers.TaskReassign(data=request.data)
            form.is_valid(raise_exception=True)
            data = form.validated_data
            city_id = task.owner_unit.city_id
            to_unit = to_user = None
            if data.get("to_unit"):
                to_unit = Unit.objects.filter(code=data["to_unit"].strip(), city_id=city_id).first()
                if to_unit is None:
                    raise ValidationError({"to_unit": ["不是本地市的单位 / not a unit of the task's city"]})
            if data.get("to_user"):
                to_user = get_user_model().objects.filter(username=data["to_user"].strip()).first()
                if to_user is None:
                    raise ValidationError({"to_user": ["没有这个员工 / no such staff member"]})
            try:
                done = work.task_reassign(
                    task=task,
                    reassigned_by=request.user,
                    to_unit=to_unit,
                    to_user=to_user,
                    reason=data.get("reason", ""),
                    now=clock.now(),
                )
            except work.TaskNotOpen as exc:
                return _refused(http.HTTP_409_CONFLICT, str(exc))
            except ValueError as exc:
                return _refused(http.HTTP_422_UNPROCESSABLE_ENTITY, str(exc))
            return Response(_task_done(done))

        return idempotent(request, handle)


class EscalationAcknowledgeView(APIView):
    @extend_schema(
        operation_id="escalations_acknowledge",
        summary="确认升级（主管）/ acknowledge an escalation (supervisors)",
        request=serializers.Acknowledge,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={
            200: serializers.AcknowledgeResult,
            **problems(400, 403, 404, 409, 422),
        },
    )
    def post(self, request, escalation_id: int):
        scope = caller_scope(request)
        if not scope.is_supervising:
            raise PermissionDenied(
                "只有主管可以确认升级 / only a supervisor (or the province) handles escalations"
            )
        escalation = Escalation.objects.filter(escalation_filter(scope), pk=escalation_id).first()
        if escalation is None:
            raise Http404

        def handle() -> Response:
            form = serializers.Acknowledge(data=request.data)
            form.is_valid(raise_exception=True)
            try:
                row = work.escalation_acknowledge(
                    escalation=escalation,
                    acknowledged_by=request.user,
                    note=form.validated_data.get("note", ""),
                )
            except work.EscalationRefused as exc:
                return _refused(http.HTTP_409_CONFLICT, str(exc))
            return Response(
                {
                    "id": row.pk,
                    "task_id": row.task_id,
                    "acknowledged_at": _iso(row.acknowledged_at),
                    "acknowledged_by": request.user.get_username(),
                }
            )

        return idempotent(request, handle)


# --- reports, playbook ----------------------------------------------------------------------------------


class ComplianceView(APIView):
    @extend_schema(
        operation_id="reports_compliance",
        summary="合规报告 / the compliance report",
        description="与 `onboard90 report compliance --json` 相同的文档；地市范围只含本市（合计为全市）/ the same document "
        "as `onboard90 report compliance --json`; a city's caller gets its city only (the total is the city's). "
        "Supervisors and the province; others 403.",
        parameters=[
            OpenApiParameter(
                "by",
                str,
                enum=list(journeys.REPORT_KEYS),
                description="分组 / rows by city, store, staff or action",
            ),
            OpenApiParameter("date", dt.date, description="截至此日 / as of this date (default: now)"),
            OpenApiParameter("from", dt.date, description="截止日期从 / acts due from"),
            OpenApiParameter("to", dt.date, description="截止日期到 / acts due up to, inclusive"),
        ],
        responses={
            200: OpenApiResponse(description="compliance report (see `onboard90 report compliance --json`)"),
            **problems(400, 403, 422),
        },
    )
    def get(self, request):
        scope = caller_scope(request)
        if not scope.is_supervising:
            raise PermissionDenied(
                "合规报告仅供主管与省公司 / the compliance report is for supervisors and the province"
            )
        params = request.query_params
        day = _date(params, "date")
        as_of = clock.cycle_instant(day) if day else journeys.default_as_of()
        try:
            report = journeys.compliance_report(
                by=params.get("by") or "city",
                as_of=as_of,
                due_from=_date(params, "from"),
                due_to=_date(params, "to"),
                city_id=scope.city_id if scope.kind == CITY else None,
            )
        except ValueError as exc:
            raise ValidationError({"detail": [str(exc)]}) from None
        return Response(json.loads(json.dumps(report, default=_json_default)))


def _json_default(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return float(value)


class PlaybookVersionsView(APIView):
    @extend_schema(
        operation_id="playbook_versions",
        summary="服务方案版本 / the playbook's published versions",
        responses={200: serializers.PlaybookVersionItem(many=True)},
    )
    def get(self, request):
        versions = list(PlaybookVersion.objects.order_by("number"))
        newest = versions[-1].number if versions else None
        return Response(
            [
                {
                    "number": v.number,
                    "name": v.name,
                    "checksum": v.checksum,
                    "published_at": _iso(v.published_at),
                    "current": v.number == newest,
                }
                for v in versions
            ]
        )


class NotFoundView(APIView):
    """Any path under /api/v1/ that is no route: 404 in JSON, after the caller is authenticated."""

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        raise Http404

    post = put = patch = delete = get
