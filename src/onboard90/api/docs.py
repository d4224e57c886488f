"""What the docs page says beyond the fields: the API's introduction and an example of each event type."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample

DESCRIPTION = """
onboard90 的接口：BSS/CRM 推送用户事件，客服（CTI）、CRM 等系统读取并处理导入期服务工作。
The API of onboard90 for the operator's other systems: the BSS/CRM pushes subscriber events as they happen;
the call centre's screen (CTI), the CRM and others read and act on the 90-day onboarding work.

**认证 / Authentication.** 每个系统账号一个密钥，由管理员创建（只显示一次）/ one key per system account,
created by the administrator and shown once:

    onboard90 apikey create bss --scope province      # or city:jinan, unit:jinan-store-1

Send it on every request: `Authorization: Bearer ob90_<prefix>_<secret>`. A signed-in staff member's browser
session works too (writes then need the CSRF token, as the web's forms do).

**范围 / Scope.** A key reaches what a staff member of the same scope reaches: `province` everything (as the
province administrator, 省公司管理员), `city:<code>` that city (as its supervisor, 地市分公司主管), `unit:<code>`
that store, club or call centre (as its staff). A record outside the scope answers **404**, exactly as one
that does not exist; a list simply leaves it out.

**脱敏与审计 / Masking and audit.** Lists show numbers and names masked (`186****1234`, `张*`); only
`GET /customers/{msisdn}` shows the full number, and every such read is written to the audit log, as the web's
customer page is. Every write is audited in the caller's name: a system account appears as `api:<name>`, on
the channel `api`.

**状态码 / Status codes.** 200/201 success; 400 a malformed request; **401** no key, or an invalid or revoked
one; **403** the caller's role may not do this (e.g. reassigning without being a supervisor); **404** not found
or outside the caller's scope; **409** the record changed meanwhile (a task already closed, an escalation
already acknowledged); **422** refused by the rules, or an idempotency key reused with another body; **429**
more requests than the key's rate (`ONBOARD90_API_RATE`, default 600/min; see `Retry-After`).

**幂等 / Idempotency.** Every POST takes an `Idempotency-Key` header: a replay gets the first answer back
unchanged and changes nothing. Each event also carries its own `idempotency_key` (required, as in the
events file import): a fact sent twice — by the API, the file import or both — is stored once.

**业务术语 / Business terms.** 入网 activation · 导入期 the 90-day onboarding period · 服务动作 an act of the
plan · 任务 a staff task · 升级 an escalation to the supervisor · 离网 cancellation · 携号转出 port-out ·
退订 opt-out of marketing SMS · 出账 a bill issued · 换号入网 came over from another number · 营业厅 store ·
俱乐部 the 3G customer club · 客户经理 account manager · 合规率 on-time (compliance) rate.
"""

EVENTS = """
一个事件，或 `{"events": [...]}` 至多1000个，按顺序处理 / one event, or `{"events": [...]}` with up to 1000,
applied in order. The fields are those of the events file import (`onboard90 import events`), checked by the
same validation and applied by the same services, so a fact sent both ways is stored once.

- One event: **201** created, **200** updated/unchanged/duplicate, **422** refused (with `errors` per field;
  nothing changed).
- A batch: **200** with one result per event (`index`, `status`, `errors`); the good ones are applied, a bad
  one changes nothing.
- An event for a customer outside the caller's scope is refused like an unknown number.
- `usage_daily` (日用量: `date`, `voice_min`, `data_mb`, `sms`) is one row of `onboard90 import usage`, checked
  and written by the same code: a day sent again replaces that day, never adds to it (`updated`, or
  `unchanged` with the same figures); it is refused with the import's reason (a number not on file, a day in
  the future, before the activation, or before the days still held).
- The same `idempotency_key` again with the same event: the first result, marked `replayed`; with another
  event: refused.
"""

_EXAMPLES = {
    "activation": (
        "入网 / activation",
        {
            "type": "activation",
            "msisdn": "18653100001",
            "at": "2012-03-01 10:15",
            "idempotency_key": "bss-act-0001",
            "city": "jinan",
            "store_code": "jinan-store-1",
            "product": "postpaid",
            "package_code": "A96",
            "name": "张三",
            "handset_os": "android",
            "first_month": "全月",
        },
    ),
    "vip_rated": (
        "VIP评级 / VIP rated",
        {
            "type": "vip_rated",
            "msisdn": "18653100001",
            "at": "2012-03-02 09:00",
            "idempotency_key": "bss-vip-0001",
            "vip_level": "gold",
        },
    ),
    "bill_issued": (
        "出账 / bill issued",
        {
            "type": "bill_issued",
            "msisdn": "18653100001",
            "at": "2012-04-03 07:00",
            "idempotency_key": "bss-bill-0001",
            "bill_month": "2012-03",
            "amount": "96.00",
        },
    ),
    "number_changed": (
        "换号入网 / number changed",
        {
            "type": "number_changed",
            "msisdn": "18653100001",
            "at": "2012-03-01 10:20",
            "idempotency_key": "bss-chg-0001",
            "previous_msisdn": "13953100001",
        },
    ),
    "cancellation": (
        "离网 / cancellation",
        {
            "type": "cancellation",
            "msisdn": "18653100001",
            "at": "2012-04-20 16:00",
            "idempotency_key": "bss-can-0001",
        },
    ),
    "port_out": (
        "携号转出 / port-out",
        {
            "type": "port_out",
            "msisdn": "18653100001",
            "at": "2012-04-20 16:00",
            "idempotency_key": "bss-port-0001",
        },
    ),
    "usage_daily": (
        "日用量 / one day's usage",
        {
            "type": "usage_daily",
            "msisdn": "18653100001",
            "date": "2012-03-05",
            "voice_min": 42,
            "data_mb": 118.4,
            "sms": 3,
            "idempotency_key": "bss-use-18653100001-20120305",
        },
    ),
    "opt_out": (
        "退订营销短信 / opt-out",
        {
            "type": "opt_out",
            "msisdn": "18653100001",
            "at": "2012-03-10 12:00",
            "idempotency_key": "crm-td-0001",
        },
    ),
}

EVENT_EXAMPLES = [
    OpenApiExample(name, summary=summary, value=value, request_only=True)
    for name, (summary, value) in _EXAMPLES.items()
] + [
    OpenApiExample(
        "batch",
        summary="批量 / a batch",
        request_only=True,
        value={"events": [_EXAMPLES["activation"][1], _EXAMPLES["vip_rated"][1]]},
    ),
    OpenApiExample(
        "batch-result",
        summary="批量结果 / a batch's answer",
        response_only=True,
        status_codes=["200"],
        value={
            "results": [
                {
                    "index": 0,
                    "type": "activation",
                    "idempotency_key": "bss-act-0001",
                    "status": "created",
                    "errors": {},
                    "replayed": False,
                },
                {
                    "index": 1,
                    "type": "vip_rated",
                    "idempotency_key": "bss-vip-0001",
                    "status": "rejected",
                    "errors": {"vip_level": ["未知VIP等级 / unknown VIP level: tin"]},
                    "replayed": False,
                },
            ],
            "counts": {"created": 1, "rejected": 1},
        },
    ),
]


COMMON = {
    "401": "未认证：没有密钥，或密钥无效、已吊销 / no key, or an invalid or revoked one",
    "429": "请求过多：超过密钥的速率，见 Retry-After / more requests than the key's rate: see Retry-After",
}


def common_responses(result, generator, request, public):
    """drf-spectacular post-processing: every operation of the API (not the schema and docs pages, which are
    public) lists 401 and 429 as a Problem, as every one of them can answer them."""
    for path, operations in result.get("paths", {}).items():
        if path.endswith(("/schema/", "/docs/")):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for code, text in COMMON.items():
                responses.setdefault(
                    code,
                    {
                        "description": text,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                    },
                )
    return result
