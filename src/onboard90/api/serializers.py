"""The API's documents as serializers: what the schema (`/api/v1/schema/`) and the docs page describe, field
by field, in Chinese and English. Requests of the writes are parsed by them too; an event's fields are the
events file's and are checked by the importer's own validation (`customers.validation.clean_event`), so
the request serializers of events only describe them."""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from onboard90.journeys.enums import AttemptOutcome

EVENT_TYPE_HELP = (
    "事件类型 / event type: activation 入网, vip_rated VIP评级, bill_issued 出账, number_changed 换号入网, "
    "cancellation 离网, port_out 携号转出, opt_out 退订营销短信, usage_daily 日用量"
)
EVENT_TYPES = [
    "activation",
    "vip_rated",
    "bill_issued",
    "number_changed",
    "cancellation",
    "port_out",
    "opt_out",
    "usage_daily",
]


def _text(help_text: str, *, required: bool = False, **kwargs) -> serializers.CharField:
    return serializers.CharField(help_text=help_text, required=required, allow_blank=not required, **kwargs)


class EventBase(serializers.Serializer):
    type = serializers.ChoiceField(choices=EVENT_TYPES, help_text=EVENT_TYPE_HELP)
    msisdn = _text(
        "号码 / the customer's 11-digit Unicom mobile number (MSISDN); +86 is accepted", required=True
    )
    at = _text(
        "发生时间 / when it happened in the BSS: `YYYY-MM-DD HH:MM[:SS]`, ISO 8601 with an offset, or "
        "YYYYMMDDHHMMSS; without an offset it is Asia/Shanghai (北京时间). Not more than an hour ahead of now.",
        required=True,
    )
    idempotency_key = _text(
        "幂等键 / the sender's unique id of this fact (≤128 characters): the same key again changes nothing and "
        "gets the first answer back; the same key with another body is refused (422). Shared with the events "
        "file import: a fact sent by both is stored once.",
        required=True,
    )


class ActivationEvent(EventBase):
    """入网: a new customer (or an update of one on file) — the columns of a customers import row."""

    city = _text("地市 / city: code (jinan), name (济南) or area code (0531)", required=True)
    product = _text("付费方式 / product: postpaid 后付费 or prepaid 预付费", required=True)
    package_code = _text("套餐 / package code from `onboard90 catalog` (e.g. A96)", required=True)
    activated_at = _text(
        "入网时间 / activation time (default: `at`); must lie in the 90-day onboarding period"
    )
    name = _text("姓名 / customer's name (≤64); shown masked (张*) in every list")
    store_code = _text("受理营业厅 / store unit code (default: the city's main store)")
    contract_plan = _text("合约计划 / contract plan (≤64)")
    previous_msisdn = _text(
        "原号码 / the number the customer came from (换号入网): the number-change coaching applies"
    )
    handset_os = _text("手机系统 / handset OS: android, ios, symbian, windows, other")
    vip_level = _text("VIP等级 / VIP tier code, name or rank (1 = highest); empty: not VIP. Post-paid only.")
    vip_rated_at = _text("VIP评级时间 / when rated VIP (default: the activation)")
    first_month = _text("首月资费 / first-month option: 全月 (full), 减半 (half) or 包外 (outside)")
    marketing_opt_out = _text("拒收营销短信 / refuses marketing SMS: 1/0, true/false, 是/否")


class VipRatedEvent(EventBase):
    """VIP评级: the first rating anchors the VIP clocks (3-day manager assignment, 7-day callback)."""

    vip_level = _text("VIP等级 / VIP tier code, name or rank (1 = highest)", required=True)


class BillIssuedEvent(EventBase):
    """出账: a monthly bill; the earliest is the first-bill anchor (首账单释疑)."""

    bill_month = _text("账期 / billing month, YYYY-MM", required=True)
    amount = _text("金额 / amount in yuan (元), ≥ 0, two decimals", required=True)


class NumberChangedEvent(EventBase):
    """换号入网: the customer came over from another number."""

    previous_msisdn = _text("原号码 / the previous 11-digit mobile number (any operator)", required=True)


class DepartureEvent(EventBase):
    """离网 (cancellation) / 携号转出 (port_out): the journey exits, open work is cancelled, no more SMS."""


class OptOutEvent(EventBase):
    """退订: no more marketing SMS (the customer told the BSS or 10010); service notices still go."""


class UsageDailyEvent(serializers.Serializer):
    """日用量: one customer's usage of one local day, as a row of `onboard90 import usage` (docs/USAGE.md). A day
    sent again replaces that day (never adds to it); the month is recomputed from its days."""

    type = serializers.ChoiceField(choices=["usage_daily"], help_text="usage_daily 日用量")
    msisdn = _text("号码 / the customer's 11-digit Unicom mobile number", required=True)
    date = _text(
        "日期 / the local day (Asia/Shanghai), YYYY-MM-DD: not after today, not before the activation day, "
        "not before the first day still held (its month is settled)",
        required=True,
    )
    voice_min = _text("通话分钟 / minutes used that day, a whole number 0–1440", required=True)
    data_mb = _text("流量(MB) / data used that day in MB, 0–1 000 000 (rounded half up)", required=True)
    sms = _text("短信条数 / SMS sent that day, 0–100 000", required=True)
    idempotency_key = _text(
        "幂等键 / the sender's unique id of this fact (≤128 characters), as for the other events",
        required=True,
    )
    at = _text("发送时间 / optional: when the feed produced it (not used)")


class EventBatch(serializers.Serializer):
    events = serializers.ListField(
        child=serializers.DictField(),
        max_length=1000,
        help_text="至多1000个事件，按顺序处理 / up to 1000 events, applied in order; each is answered on its own",
    )


class EventResult(serializers.Serializer):
    index = serializers.IntegerField(
        help_text="在请求中的位置 / position in the request (0 for a single event)"
    )
    type = serializers.CharField(help_text=EVENT_TYPE_HELP, allow_null=True)
    idempotency_key = serializers.CharField(
        help_text="幂等键 / the event's idempotency key as sent", allow_null=True
    )
    status = serializers.ChoiceField(
        choices=["created", "updated", "unchanged", "duplicate", "rejected"],
        help_text="结果 / outcome: created 新建, updated 已更新, unchanged 无变化, duplicate 重复（已收到过）, "
        "rejected 拒绝（未做任何改动 / nothing changed）",
    )
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="按字段的原因（中文 / English）/ reasons per field (`non_field_errors` for the event as a whole)",
    )
    replayed = serializers.BooleanField(
        help_text="重放：返回的是首次的结果 / a replay: the first answer, unchanged"
    )


class EventBatchResult(serializers.Serializer):
    results = EventResult(
        many=True, help_text="每个事件的结果，按请求顺序 / one result per event, in the request's order"
    )
    counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="各结果的数量 / how many of each status"
    )


class CustomerListItem(serializers.Serializer):
    masked_msisdn = serializers.CharField(help_text="号码（脱敏）/ number, masked: 186****1234")
    masked_name = serializers.CharField(help_text="姓名（脱敏）/ name, masked: 张*")
    city = serializers.CharField(help_text="地市代码 / city code")
    store = serializers.CharField(help_text="受理营业厅代码 / store unit code")
    activated_on = serializers.DateField(help_text="入网日期 / activation date (local)")
    status = serializers.CharField(help_text="状态 / active 在网 or cancelled 已离网")
    vip = serializers.BooleanField(help_text="是否VIP / VIP-rated")
    journey_id = serializers.IntegerField(
        allow_null=True, help_text="导入期旅程 / the journey's id (/journeys/{id})"
    )


class CustomerDetail(CustomerListItem):
    msisdn = serializers.CharField(
        help_text="完整号码（每次查看均记入审计日志）/ the full number (every view is audited)"
    )
    name = serializers.CharField(help_text="姓名 / full name")
    product = serializers.CharField(help_text="付费方式 / postpaid or prepaid")
    package = serializers.CharField(help_text="套餐代码 / package code")
    vip_tier = serializers.CharField(allow_null=True, help_text="VIP等级代码 / VIP tier code")
    number_changed = serializers.BooleanField(help_text="换号入网 / came over from another number")
    marketing_opt_out = serializers.BooleanField(help_text="拒收营销短信 / opted out of marketing SMS")
    account_manager = serializers.CharField(allow_null=True, help_text="客户经理 / the VIP's account manager")
    first_bill_on = serializers.DateField(allow_null=True, help_text="首次出账日期 / first bill date")


class MessageItem(serializers.Serializer):
    id = serializers.IntegerField(help_text="短信编号 / message id")
    act = serializers.CharField(
        allow_null=True, help_text="服务动作代码 / the act it belongs to (null: an answer to a reply)"
    )
    purpose = serializers.CharField(help_text="用途 / act, or an answer such as an opt-out's confirmation")
    message_class = serializers.CharField(help_text="类别 / service (服务) or marketing (营销)")
    text = serializers.CharField(help_text="内容 / the text")
    status = serializers.CharField(
        help_text="状态 / queued 待发, sending 发送中, sent 已发, failed 失败, missed 窗口已过, cancelled 已取消, …"
    )
    scheduled_at = serializers.DateTimeField(help_text="计划发送 / scheduled")
    sent_at = serializers.DateTimeField(allow_null=True, help_text="发送时间 / sent")
    delivery = serializers.CharField(
        help_text="送达状态 / delivery report: delivered, undelivered, expired, or empty"
    )
    delivery_at = serializers.DateTimeField(allow_null=True, help_text="送达报告时间 / when the report came")
    last_error = serializers.CharField(
        help_text="未发送原因 / why it did not go (opted_out, sms_window_closed, …)"
    )


class TaskItem(serializers.Serializer):
    id = serializers.IntegerField(help_text="任务编号 / task id")
    masked_msisdn = serializers.CharField(help_text="客户号码（脱敏）/ customer's number, masked")
    journey_id = serializers.IntegerField(help_text="导入期旅程 / journey id")
    action = serializers.CharField(
        help_text="服务动作代码 / act code of the playbook (e.g. activation_welcome_call)"
    )
    kind = serializers.CharField(help_text="act 服务动作, or manual_assignment 待指定客户经理")
    status = serializers.CharField(
        help_text="状态 / open 进行中, overdue 已超时, done 按时完成, done_late 超时完成, missed 未完成, cancelled 已取消"
    )
    due_at = serializers.DateTimeField(help_text="截止时间 / due (Asia/Shanghai offset)")
    owner_unit = serializers.CharField(help_text="责任单位代码 / owning unit code")
    assignee = serializers.CharField(allow_null=True, help_text="负责人 / assignee username")
    attempts = serializers.IntegerField(help_text="已尝试次数 / attempts so far")
    max_attempts = serializers.IntegerField(help_text="最多尝试次数 / attempts allowed")
    backdated = serializers.BooleanField(
        help_text="补录 / entered more than the grace after the claimed time"
    )


class TaskPage(serializers.Serializer):
    results = TaskItem(many=True, help_text="本页任务 / this page's tasks")
    next = serializers.CharField(
        allow_null=True, help_text="下一页游标 / the cursor of the next page (null: the last)"
    )


class TaskComplete(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=AttemptOutcome.values,
        help_text="结果 / outcome: reached 已联系, no_answer 无人接听, busy 占线, wrong_number 号码错误, refused 客户拒绝; "
        "no_answer/busy keep the task open until its attempts are spent",
    )
    checklist = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        allow_null=True,
        help_text="已勾选的核对项代码 / the ticked checklist item codes of the act (omit: no checklist recorded)",
    )
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, help_text="备注 / note (≤1000)"
    )


class TaskReassign(serializers.Serializer):
    to_unit = serializers.CharField(
        required=False, allow_blank=True, help_text="改派到的单位代码 / unit code of the task's city"
    )
    to_user = serializers.CharField(
        required=False, allow_blank=True, help_text="改派到的员工登录名 / staff username of the task's city"
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="原因 / reason"
    )


class TaskDone(serializers.Serializer):
    id = serializers.IntegerField(help_text="任务编号 / task id")
    status = serializers.CharField(help_text="任务状态 / the task's status after the write")
    outcome = serializers.CharField(allow_null=True, help_text="最近一次结果 / last outcome")
    attempts = serializers.IntegerField(help_text="已尝试次数 / attempts so far")
    owner_unit = serializers.CharField(help_text="责任单位代码 / owning unit code")
    assignee = serializers.CharField(
        allow_null=True, help_text="负责人 / assignee username (null: the unit's)"
    )


class OptOut(serializers.Serializer):
    at = serializers.DateTimeField(
        required=False, help_text="退订时间 / when the customer asked (default: now)"
    )


class OptOutResult(serializers.Serializer):
    status = serializers.CharField(
        help_text="updated 已退订, unchanged 此前已退订 / already opted out, duplicate"
    )


class Acknowledge(serializers.Serializer):
    note = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="处理说明 / what was done"
    )


class AcknowledgeResult(serializers.Serializer):
    id = serializers.IntegerField(help_text="升级编号 / escalation id")
    task_id = serializers.IntegerField(help_text="升级的任务 / the escalated task's id")
    acknowledged_at = serializers.DateTimeField(help_text="确认时间 / when acknowledged")
    acknowledged_by = serializers.CharField(
        help_text="确认人 / who acknowledged (api:<name> for a system account)"
    )


class PlaybookVersionItem(serializers.Serializer):
    number = serializers.IntegerField(help_text="版本号 / version number")
    name = serializers.CharField(help_text="名称 / name")
    checksum = serializers.CharField(help_text="校验和 / checksum of the document")
    published_at = serializers.DateTimeField(help_text="发布时间 / published")
    current = serializers.BooleanField(
        help_text="当前版本（新客户按此版本）/ the version new customers start on"
    )


class Problem(serializers.Serializer):
    detail = serializers.CharField(help_text="原因（中文 / English）/ what went wrong")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="按字段的原因（仅400）/ reasons per field of a malformed request (400 only)",
    )


EventRefused = PolymorphicProxySerializer(
    component_name="EventRefused",
    serializers=[EventResult, Problem],
    resource_type_field_name=None,
)
