"""Reads of the outbox: what an SMS will say (`sms_preview`)."""

from __future__ import annotations

from typing import Any

from onboard90.catalog.models import Package
from onboard90.catalog.selectors import package_context
from onboard90.customers.models import Bill, Customer
from onboard90.messaging.context import message_text, reference_lists
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
