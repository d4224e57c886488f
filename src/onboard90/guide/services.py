"""Writes of the booklet: recording that it was handed to the customer.

The hand-over is what delivers stage 1's booklet notices (便捷服务渠道、查费缴费方法、3G流量注意事项告知), so its
time is bounded the way a task's completion is: not in the future (the real instant of entry is the limit),
not before the customer was activated, not after they left. Each one is audited like every other write.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from onboard90.core import clock
from onboard90.core.services import audit_record
from onboard90.customers.enums import CustomerStatus
from onboard90.customers.models import Customer
from onboard90.guide.models import BookletHandover
from onboard90.journeys.audience_sql import facts_of
from onboard90.journeys.models import Journey
from onboard90.journeys.rules import audience
from onboard90.playbook.selectors import playbook_of


class HandoverRefused(ValueError):
    """A hand-over the rules do not allow (no one named, a time out of bounds, staff of another city)."""


def guide_action_codes(customer: Customer) -> list[str]:
    """The acts of the customer's journey the booklet delivers: those whose playbook `deliveries` include
    "guide" and whose audience holds for the customer, in the playbook version the journey runs on; [] for a
    customer without a journey."""
    journey = Journey.objects.select_related("playbook_version").filter(customer=customer).first()
    if journey is None:
        return []
    facts = facts_of(customer)
    return [
        action.code
        for action in playbook_of(journey.playbook_version).actions
        if "guide" in action.deliveries and audience.predicate(action.audience)(facts)
    ]


def guide_hand_over(
    *, customer: Customer, handed_over_by, at: dt.datetime | None = None, now: dt.datetime | None = None,
    source: str = "",
) -> BookletHandover:
    """Record that the booklet was handed to `customer` at `at` (default: now).

    `handed_over_by` is the staff member who handed it over; None only with a `source` naming the feed that
    reports it (a store system). A staff member of another city may not record it. `at` may not be after
    `now`, the real instant of entry (passed in by tests), nor before the customer's activation, nor after
    they left. The row names the acts it delivered (`guide_action_codes`); the audit row carries the real
    instant and the claimed time side by side.
    """
    now = now or clock.now()
    at = at or now
    source = source.strip()
    if handed_over_by is None and not source:
        raise HandoverRefused("须指明递交人 / a hand-over must name who handed the booklet over (--as USER)")
    with transaction.atomic():
        customer = Customer.objects.select_related("city", "package", "vip_tier").get(pk=customer.pk)
        if handed_over_by is not None:
            _check_staff(user=handed_over_by, customer=customer)
        _check_time(customer=customer, at=at, now=now)
        codes = guide_action_codes(customer)
        label = handed_over_by.get_username() if handed_over_by is not None else source
        handover = BookletHandover.objects.create(
            customer=customer, handed_at=at, entered_at=now, handed_over_by=handed_over_by,
            handed_over_label=label[:64], journey_action_codes=codes,
        )
        audit_record(
            actor=handed_over_by, actor_label=source if handed_over_by is None else "",
            verb="guide.hand_over", obj=handover,
            after={
                "customer": customer.pk, "msisdn": customer.masked_msisdn, "handed_at": _iso(at),
                "journey_action_codes": codes,
            },
            claimed_at=at,
        )
    return handover


def _check_staff(*, user, customer: Customer) -> None:
    if not user.is_active:
        raise HandoverRefused(f"账号已停用 / user {user.get_username()!r} is deactivated")
    if user.is_superuser:
        return
    profile = getattr(user, "staff", None)
    if profile is None or not profile.active:
        raise HandoverRefused(f"{user.get_username()} 不是在岗员工 / is not active staff")
    if profile.city_id is not None and profile.city_id != customer.city_id:
        raise HandoverRefused(
            f"{user.get_username()} 不是{customer.city.name}的员工 / is not staff of {customer.city.name_en}, "
            f"the customer's city"
        )


def _check_time(*, customer: Customer, at: dt.datetime, now: dt.datetime) -> None:
    if at > now:
        raise HandoverRefused(
            f"递交时间 {_local(at)} 晚于当前时间 {_local(now)} / the hand-over time {_local(at)} is later than now "
            f"({_local(now)})"
        )
    if at < customer.activated_at:
        raise HandoverRefused(
            f"递交时间 {_local(at)} 早于入网时间 {_local(customer.activated_at)} / the hand-over time {_local(at)} "
            f"is before the customer's activation ({_local(customer.activated_at)})"
        )
    if customer.status == CustomerStatus.CANCELLED and customer.cancelled_at and at > customer.cancelled_at:
        raise HandoverRefused(
            f"客户已于 {_local(customer.cancelled_at)} 离网 / the customer left on {_local(customer.cancelled_at)}"
        )


def _local(instant: dt.datetime) -> str:
    return instant.astimezone(clock.OPERATOR_TZ).strftime("%Y-%m-%d %H:%M")


def _iso(value: dt.datetime) -> str:
    return value.astimezone(clock.OPERATOR_TZ).isoformat()
