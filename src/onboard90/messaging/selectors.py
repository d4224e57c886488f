"""Reads of the outbox: what an SMS will say (`sms_preview`), and what became of the SMS (`sms_figures`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q

from onboard90.catalog.models import Package
from onboard90.catalog.selectors import package_context
from onboard90.core import clock
from onboard90.customers.models import Bill, Customer
from onboard90.messaging import policy
from onboard90.messaging.context import message_text, reference_lists
from onboard90.messaging.enums import Delivery, MessageStatus, Purpose
from onboard90.messaging.models import InboundMessage, OutboxMessage
from onboard90.playbook import templating
from onboard90.playbook.content import locals_for, sample_context, sms_template_for, sms_text
from onboard90.playbook.selectors import current_version, playbook_of


class PreviewRefused(ValueError):
    """A preview asked of something that is not there (an act without SMS, an unknown number or package)."""


def sms_preview(
    *, action_code: str, msisdn: str | None = None, package_code: str | None = None, city_code: str | None = None
) -> dict[str, Any]:
    """The text an act's SMS has under the current playbook, and how many parts it goes as: for a customer
    (`msisdn`: their own package, city, tier, manager and latest bill, exactly as the dispatcher renders it),
    or for a sample customer on a catalogue package in a city (`package_code`, `city_code`)."""
    playbook = playbook_of(current_version())
    try:
        action = playbook.action(action_code)
    except KeyError:
        raise PreviewRefused(f"未知服务动作 / unknown act {action_code!r}") from None
    if action.sms is None:
        raise PreviewRefused(f"{action_code} 不发短信 / act {action_code} sends no SMS")
    if msisdn:
        customer = Customer.objects.select_related("city", "store", "package", "vip_tier").filter(msisdn=msisdn).first()
        if customer is None:
            raise PreviewRefused(f"未知客户 / no customer {msisdn}")
        bill = Bill.objects.filter(customer=customer).order_by("-issued_at").first()
        text = message_text(playbook, action, customer, bill=bill, refs=reference_lists())
        shown = {"msisdn": customer.masked_msisdn, "package": customer.package.code, "city": customer.city.code}
    else:
        package = Package.objects.filter(code=package_code).first() if package_code else None
        if package is None:
            raise PreviewRefused(f"须指定 --msisdn 或已知的 --package / give --msisdn, or a known --package ({package_code!r})")
        context = {
            **sample_context(playbook, city_code, family=package.family), "package": package_context(package),
            "local": locals_for(playbook, city_code), **reference_lists(),
        }
        template = sms_template_for(playbook, action, city_code, package.family)
        text = sms_text(playbook, templating.render(template or "", context), action.sms.message_class)
        shown = {"package": package.code, "city": city_code or ""}
    return {
        "action": action.code, **shown, "text": text, "characters": len(text), "parts": templating.segments(text),
        "coding": "GSM 7-bit" if templating.sms_coding(text) == templating.CODING_GSM7 else "UCS-2",
        "max_parts": playbook.sms_max_parts,
    }


# The columns of `sms_figures`, in order, with what each counts (a message in exactly one of the status columns;
# delivered/undelivered split `sent` by the gateway's delivery reports).
SMS_FIGURES = {
    "messages": Q(),
    "waiting": Q(status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]),
    "sent": Q(status=MessageStatus.SENT),
    "delivered": Q(status=MessageStatus.SENT, delivery=Delivery.DELIVERED),
    "undelivered": Q(status=MessageStatus.SENT, delivery__in=[Delivery.FAILED, Delivery.EXPIRED, Delivery.REJECTED]),
    "unconfirmed": Q(status=MessageStatus.UNCONFIRMED),
    "failed": Q(status=MessageStatus.FAILED),
    "missed": Q(status=MessageStatus.MISSED) & ~Q(last_error__in=[policy.OPTED_OUT, policy.DAILY_LIMIT]),
    "suppressed_opted_out": Q(status=MessageStatus.MISSED, last_error=policy.OPTED_OUT),
    "suppressed_daily_limit": Q(status=MessageStatus.MISSED, last_error=policy.DAILY_LIMIT),
    "cancelled": Q(status=MessageStatus.CANCELLED),
}
SMS_FIGURES_ZH = {
    "messages": "短信", "waiting": "待发送", "sent": "已发送", "delivered": "已送达", "undelivered": "未送达",
    "unconfirmed": "待确认", "failed": "发送失败", "missed": "过期未发", "suppressed_opted_out": "已退订未发",
    "suppressed_daily_limit": "超日上限未发", "cancelled": "已取消",
}


def sms_figures(*, day_from: dt.date | None = None, day_to: dt.date | None = None) -> dict[str, Any]:
    """短信发送统计: the messages planned for the local days `day_from`..`day_to` (their `scheduled_at`; both
    optional), per act and in total — waiting, sent and of those delivered or not (delivery reports), not yet
    confirmed, failed, missed (window closed), suppressed by reason (opted out, daily cap), cancelled — and
    the delivery rate, delivered of sent. One GROUP BY over the outbox."""
    messages = OutboxMessage.objects.all()
    if day_from:
        messages = messages.filter(scheduled_at__gte=clock.at_local(day_from))
    if day_to:
        messages = messages.filter(scheduled_at__lt=clock.at_local(day_to + dt.timedelta(days=1)))
    counts = {name: Count("pk", filter=condition) if condition else Count("pk") for name, condition in SMS_FIGURES.items()}
    rows = [
        {"action": row.pop("action__action_code") or row.pop("purpose"), **row}
        for row in messages.values("action__action_code", "purpose").annotate(**counts).order_by("action__action_code", "purpose")
    ]
    for row in rows:
        row.pop("purpose", None)
    total = {"action": None, **{name: sum(row[name] for row in rows) for name in SMS_FIGURES}}
    for row in [*rows, total]:
        row["delivery_rate"] = round(row["delivered"] / row["sent"], 4) if row["sent"] else None
    return {"day_from": day_from, "day_to": day_to, "rows": rows, "total": total}


def answers_to(*, customer) -> list[OutboxMessage]:
    """The customer's messages that are not an act's, oldest first: the answers to their own replies (an
    opt-out's confirmation) and their data-surge alerts (`Purpose`)."""
    return list(OutboxMessage.objects.filter(customer=customer).exclude(purpose=Purpose.ACT).order_by("pk"))


def replies_of(*, customer, limit: int = 50) -> list[InboundMessage]:
    """The customer's replies (上行短信), newest first."""
    return list(InboundMessage.objects.filter(customer=customer).order_by("-received_at", "-pk")[:limit])

