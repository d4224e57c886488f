"""The customer admin: numbers are masked in the list, opening a customer's full record is audited, and a
customer is added or changed only as an import would do it — derived dates are shown, not edited; a value an
import refuses is a form error with the import's reason; a good change is written and recorded as an import
writes it. Events and bills are shown, never edited."""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.customers import services
from onboard90.customers.enums import EventType
from onboard90.customers.models import Customer, CustomerEvent
from onboard90.customers.tests.files import world
from onboard90.journeys.models import Journey

pytestmark = pytest.mark.django_db

DERIVED = ("activated_on", "vip_rated_on", "manager_assigned_on", "first_bill_on", "number_changed")


def test_customer_list_masks_numbers_and_opening_one_is_audited(admin_client):
    builders.playbook_version()
    customer = builders.customer(msisdn="18612345678", activated_on=dt.date(2012, 3, 1))

    listing = admin_client.get("/admin/customers/customer/", {"vip": "no", "product": "postpaid"})

    assert listing.status_code == 200
    page = listing.content.decode()
    assert "186****5678" in page and "18612345678" not in page

    detail = admin_client.get(f"/admin/customers/customer/{customer.pk}/change/")

    assert detail.status_code == 200
    entry = AuditEntry.objects.get(verb="customer.viewed")
    assert entry.object_id == str(customer.pk) and entry.actor.is_superuser


# --- writes through the import's validation --------------------------------------------------------------


def days_ago(days: int, hour: int = 10) -> dt.datetime:
    """An instant `days` local days before the real today: the admin runs on the real clock."""
    return clock.at_local(clock.today() - dt.timedelta(days=days), hour)


@pytest.fixture
def province():
    return world()


@pytest.fixture
def recent(province):
    """A customer activated ten days ago, imported as BSS would send it."""
    activated = days_ago(10)
    services.customer_write(
        row={"msisdn": "18600000001", "city": "济南", "activated_at": activated.isoformat(sep=" "),
             "product": "postpaid", "package_code": "A66", "name": "张三"},
        new=True,
    )
    return Customer.objects.get(msisdn="18600000001")


def form_data(customer: Customer, **changes) -> dict[str, str]:
    """What the change form posts for this customer, with `changes` (field -> posted value)."""
    activated = customer.activated_at.astimezone(clock.OPERATOR_TZ)
    data = {
        "name": customer.name, "city": str(customer.city_id), "store": str(customer.store_id),
        "activated_at_0": activated.date().isoformat(), "activated_at_1": activated.strftime("%H:%M:%S"),
        "product": customer.product, "package": str(customer.package_id), "contract_plan": customer.contract_plan,
        "previous_msisdn": customer.previous_msisdn, "handset_os": customer.handset_os,
        "vip_tier": str(customer.vip_tier_id or ""), "vip_rated_at_0": "", "vip_rated_at_1": "",
        "first_month": customer.first_month, "_save": "保存",
    }
    if customer.marketing_opt_out:
        data["marketing_opt_out"] = "on"
    data.update(changes)
    return data


def change_url(customer: Customer) -> str:
    return f"/admin/customers/customer/{customer.pk}/change/"


def form_errors(response) -> str:
    """Every error the admin page shows (non-field and per field), as one text."""
    form = response.context["adminform"].form
    return " | ".join(str(error) for errors in form.errors.values() for error in errors)


def test_derived_dates_are_shown_but_not_editable_and_a_posted_one_is_ignored(admin_client, recent):
    page = admin_client.get(change_url(recent)).content.decode()

    for name in DERIVED:
        assert f'name="{name}"' not in page, name
    assert 'name="activated_at_0"' in page and 'name="msisdn"' not in page  # the number is the key: shown only

    response = admin_client.post(change_url(recent), form_data(recent, activated_on="1999-01-01", name="张三丰"))

    assert response.status_code == 302
    recent.refresh_from_db()
    assert recent.name == "张三丰" and recent.activated_on == clock.local_date(recent.activated_at)


def test_activation_before_the_onboarding_period_is_refused_with_the_import_reason(admin_client, recent):
    events = CustomerEvent.objects.count()

    response = admin_client.post(
        change_url(recent), form_data(recent, activated_at_0="1999-01-01", activated_at_1="10:00:00")
    )

    assert response.status_code == 200  # the form again, with its error; never a 500
    assert "activated before the 90-day onboarding period: 1999-01-01 10:00" in form_errors(response)
    assert "入网时间早于90天服务期" in form_errors(response)
    fresh = Customer.objects.get(pk=recent.pk)
    assert fresh.activated_at == recent.activated_at and fresh.activated_on == recent.activated_on
    assert CustomerEvent.objects.count() == events


def test_a_good_change_is_written_as_an_import_writes_it_and_recomputes_activated_on(admin_client, recent):
    moved = days_ago(5, hour=9)

    response = admin_client.post(change_url(recent), form_data(
        recent, activated_at_0=moved.date().isoformat(), activated_at_1="09:00:00", contract_plan="存费送机",
    ))

    assert response.status_code == 302
    recent.refresh_from_db()
    assert recent.activated_at == moved and recent.activated_on == moved.date()
    assert recent.contract_plan == "存费送机"
    update = CustomerEvent.objects.get(customer=recent, type=EventType.CUSTOMER_UPDATED)
    assert update.source == "admin"
    assert update.payload["activated_on"][1] == moved.date().isoformat()
    assert update.payload["contract_plan"] == ["", "存费送机"]
    created, changed = AuditEntry.objects.filter(verb="customer.write").order_by("id")
    assert created.actor is None and created.after["status"] == "created"
    assert changed.actor.is_superuser and changed.after["status"] == "updated"
    assert changed.after["changes"]["contract_plan"] == ["", "存费送机"]


def test_an_activation_more_than_an_hour_ahead_is_refused(admin_client, recent):
    ahead = clock.now() + dt.timedelta(hours=2)

    response = admin_client.post(change_url(recent), form_data(
        recent, activated_at_0=ahead.date().isoformat(), activated_at_1=ahead.strftime("%H:%M:%S"),
    ))

    assert response.status_code == 200
    assert "入网时间晚于当前时间 / activated_at is in the future" in form_errors(response)
    assert Customer.objects.get(pk=recent.pk).activated_at == recent.activated_at


def test_vip_on_a_prepaid_customer_is_refused_as_the_import_refuses_it(admin_client, province, recent):
    response = admin_client.post(change_url(recent), form_data(
        recent, product="prepaid", package=str(province.packages["P19"].pk),
        vip_tier=str(province.tiers["gold"].pk),
    ))

    assert response.status_code == 200
    assert "预付费客户不参与VIP评级 / prepaid customers are not VIP-rated" in form_errors(response)
    assert Customer.objects.get(pk=recent.pk).product == "postpaid"


def test_clearing_a_value_the_import_would_keep_is_a_form_error_not_a_silent_difference(admin_client, recent):
    response = admin_client.post(change_url(recent), form_data(recent, name=""))

    assert response.status_code == 200
    assert "clearing is not kept" in form_errors(response)
    assert Customer.objects.get(pk=recent.pk).name == "张三"


def test_adding_a_customer_creates_it_on_its_journey_like_an_imported_one(admin_client, province):
    activated = days_ago(3)
    data = {
        "msisdn": "18600000002", "name": "李四", "city": str(province.jinan.pk), "store": str(province.main_store.pk),
        "activated_at_0": activated.date().isoformat(), "activated_at_1": "10:00:00", "product": "postpaid",
        "package": str(province.packages["A96"].pk), "vip_tier": str(province.tiers["gold"].pk),
        "first_month": "full", "_save": "保存",
    }

    response = admin_client.post("/admin/customers/customer/add/", data)

    assert response.status_code == 302
    customer = Customer.objects.get(msisdn="18600000002")
    assert customer.activated_on == activated.date() and customer.package.code == "A96"
    assert customer.vip_rated_at == activated and customer.vip_rated_on == activated.date()  # rated on activation
    assert Journey.objects.filter(customer=customer).exists()
    assert CustomerEvent.objects.get(idempotency_key="activation:18600000002").source == "admin"


def test_adding_a_customer_activated_in_1999_or_a_known_number_is_refused(admin_client, province, recent):
    data = {
        "msisdn": "18600000003", "city": str(province.jinan.pk), "store": str(province.main_store.pk),
        "activated_at_0": "1999-01-01", "activated_at_1": "10:00:00", "product": "postpaid",
        "package": str(province.packages["A66"].pk), "first_month": "full", "_save": "保存",
    }

    old = admin_client.post("/admin/customers/customer/add/", data)
    known = admin_client.post("/admin/customers/customer/add/", {
        **data, "msisdn": recent.msisdn, "activated_at_0": days_ago(1).date().isoformat(),
    })

    assert old.status_code == 200 and "activated before the 90-day onboarding period" in form_errors(old)
    assert known.status_code == 200 and "already exists" in form_errors(known)
    assert list(Customer.objects.values_list("msisdn", flat=True)) == [recent.msisdn]


def test_events_and_bills_are_shown_but_never_added_or_edited(admin_client, recent):
    event = CustomerEvent.objects.get(customer=recent)

    assert admin_client.get("/admin/customers/customerevent/").status_code == 200
    assert admin_client.get("/admin/customers/customerevent/add/").status_code == 403
    assert admin_client.get("/admin/customers/bill/add/").status_code == 403
    shown = admin_client.post(f"/admin/customers/customerevent/{event.pk}/change/", {"type": "cancellation"})
    assert shown.status_code == 403
    assert CustomerEvent.objects.get(pk=event.pk).type == EventType.ACTIVATION
