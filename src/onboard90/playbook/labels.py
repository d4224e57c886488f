"""Chinese names for the playbook's vocabulary and fields, for people reading it in the admin.

The document keeps its English codes (the engine reads them); these labels are what a province
administrator sees instead of `call_centre` or `window.end`. Plain Python, no database.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from onboard90.core.language import is_english

ANCHORS = {
    "activation": _("入网后"),
    "vip_rated": _("VIP评级后"),
    "manager_assigned": _("分配客户经理后"),
    "bill_issued": _("首张账单出账后"),
    "data_surge": _("流量突增后"),
}
DELIVERIES = {
    "guide": _("服务指南"),
    "sms": _("短信"),
    "verbal": _("口头告知"),
    "call": _("电话"),
    "hands_on": _("现场辅导"),
    "system": _("系统自动"),
}
CHANNELS = {
    "store": _("营业厅"),
    "club": _("客户俱乐部"),
    "call_centre": _("客服中心(10010)"),
    "account_manager": _("客户经理"),
    "supervisor": _("地市分公司主管"),
}
KINDS = {
    "notice": _("告知"),
    "recommend": _("推荐"),
    "coaching": _("辅导"),
    "callback": _("回访"),
    "system": _("系统动作"),
    "survey": _("满意度调查"),
    "alert": _("提醒"),
}
SOURCES = {"plan": _("方案原文"), "inferred": _("推断")}
MESSAGE_CLASSES = {"service": _("服务类"), "marketing": _("营销类")}
SYSTEM_ACTS = {"assign_account_manager": _("分配客户经理")}
# The audiences the shipped playbook uses, in words; any other expression is shown as written.
AUDIENCES = {
    "true": _("全部客户"),
    "vip": _("VIP客户"),
    "not vip": _("非VIP客户"),
    "number_changed": _("换号客户"),
    "postpaid": _("后付费客户"),
    "not postpaid": _("预付费客户"),
    'product == "postpaid"': _("后付费客户"),
    'product == "prepaid"': _("预付费客户"),
    "not marketing_opt_out": _("未退订营销短信的客户"),
    'package_family != "datacard"': _("手机客户(上网卡除外)"),
    'not vip and package_family != "datacard"': _("非VIP手机客户(上网卡除外)"),
    'number_changed and package_family != "datacard"': _("换号的手机客户(上网卡除外)"),
    'not marketing_opt_out and package_family != "datacard" and package != "P20"': _(
        "未退订营销短信的手机客户(上网卡、20元卡除外)"
    ),
    "false": _("暂不生成"),
}

# Field paths inside an act (and a stage, and the document), as the diff and the forms name them.
FIELDS = {
    "code": _("代码"),
    "name": _("中文名称"),
    "name_en": _("英文名称"),
    "number": _("序号"),
    "days": _("阶段天数"),
    "kind": _("类型"),
    "source": _("来源"),
    "audience": _("适用客户"),
    "window": _("时间窗"),
    "window.anchor": _("时间窗起点"),
    "window.start": _("时间窗开始(天)"),
    "window.end": _("时间窗结束(天)"),
    "window.latest_day": _("最迟(入网后第几天)"),
    "deliveries": _("服务方式"),
    "content": _("方案要点"),
    "task": _("人工任务"),
    "task.channel": _("责任渠道"),
    "task.title": _("任务标题"),
    "task.title_en": _("任务标题(英文)"),
    "task.script": _("服务话术"),
    "task.script_en": _("服务话术(英文)"),
    "task.checklist": _("检查清单"),
    "task.max_attempts": _("最多尝试次数"),
    "task.audience": _("任务适用客户"),
    "task.takeable_by": _("可领取的单位"),
    "sms": _("短信"),
    "sms.template": _("短信模板"),
    "sms.message_class": _("短信类别"),
    "sms.send_day": _("短信发送日(时间窗第几天)"),
    "sms.by_family": _("分套餐系列短信模板"),
    "pending": _("尚未完全生效"),
    "system": _("系统动作"),
    "supersede_when": _("替代条件"),
    "superseded_by": _("被替代为"),
    "stage": _("所属阶段"),
    "journey_days": _("导入期天数"),
    "sms_signature": _("短信签名"),
    "opt_out_suffix": _("退订提示"),
    "quiet_hours.start": _("短信发送开始时间"),
    "quiet_hours.end": _("短信发送结束时间"),
    "sms_daily_limit": _("每位客户每日短信上限"),
    "order": _("动作顺序"),
}


def field_label(path: str) -> str:
    """The Chinese name of a field path; `locals.x` and `city_overrides.…` keep their keys."""
    if path in FIELDS:
        return str(FIELDS[path])
    head, _sep, rest = path.partition(".")
    if head == "locals":
        return _("本地内容 %(key)s") % {"key": rest}
    if head == "city_overrides":
        return _("地市定制 %(key)s") % {"key": rest}
    return path


def window_words(window: Any) -> str:
    """A window in words: "入网后第 0–3 天", "首张账单出账后第 0–2 天，最迟入网后第 45 天"."""
    anchor = ANCHORS.get(window.anchor, window.anchor)
    text = _("%(anchor)s第 %(start)s–%(end)s 天") % {"anchor": anchor, "start": window.start, "end": window.end}
    if window.latest_day is not None:
        text += _("，最迟入网后第 %(day)s 天") % {"day": window.latest_day}
    return text


def deadline_words(window: Any) -> str:
    """The clock an act runs on: it is due by the window's last day; past it the task is overdue and goes
    to the supervisor (the playbook has no separate SLA field — the window is the service level)."""
    anchor = ANCHORS.get(window.anchor, window.anchor)
    return _("%(anchor)s第 %(end)s 天内完成，逾期升级至主管") % {"anchor": anchor, "end": window.end}


def audience_words(expression: str) -> str:
    return str(AUDIENCES.get(expression.strip(), expression))


def list_words(items) -> str:
    """Items as one line: "口头告知、短信" in Chinese, "Verbal, SMS" in English."""
    return (", " if is_english() else "、").join(str(item) for item in items)


def deliveries_words(deliveries: list[str]) -> str:
    return list_words(DELIVERIES.get(d, d) for d in deliveries)


def value_words(path: str, value: Any) -> str:
    """A field's value as a reader wants it in a diff: labels for codes, lines for lists."""
    if value is None:
        return "—"
    last = path.rsplit(".", 1)[-1]
    if path == "window.anchor":
        return str(ANCHORS.get(value, value))
    if path == "deliveries":
        return deliveries_words(value)
    if path == "task.channel":
        return str(CHANNELS.get(value, value))
    if path == "task.takeable_by":
        return list_words(CHANNELS.get(c, c) for c in value) or "—"
    if path == "kind":
        return str(KINDS.get(value, value))
    if path == "source":
        return str(SOURCES.get(value, value))
    if path == "sms.message_class":
        return str(MESSAGE_CLASSES.get(value, value))
    if path == "system":
        return str(SYSTEM_ACTS.get(value, value))
    if last == "audience" or path == "supersede_when":
        return audience_words(value)
    if path == "task.checklist":
        return "\n".join(f"{item.get('text', '')}（{item.get('code', '')}）" for item in value) or "—"
    if path == "days" and isinstance(value, (list, tuple)) and len(value) == 2:
        return _("第 %(start)s–%(end)s 天") % {"start": value[0], "end": value[1]}
    if isinstance(value, bool):
        return str(_("是") if value else _("否"))
    if isinstance(value, (list, tuple)):
        return "\n".join(str(v) for v in value) or "—"
    if isinstance(value, dict):
        return "\n".join(f"{k}: {v}" for k, v in value.items()) or "—"
    return str(value)
