"""客户页的用量与套餐: the usage by day and by month against the allowances, the package-fit verdict with the
comparison table it came from, the offer made and what became of it, the data-surge alerts with their SMS; and
the call-centre agent working the package-fit call reads the recommendation and the saving on the task itself."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboard90 import testing as builders
from onboard90.catalog.services import catalog_install
from onboard90.core import clock
from onboard90.journeys import cycle
from onboard90.messaging.enums import MessageStatus, Purpose
from onboard90.messaging.gateways import MemoryGateway
from onboard90.messaging.models import OutboxMessage
from onboard90.org.enums import Role
from onboard90.usage.models import Offer, OfferChoice, SurgeAlert, SurgeKind, UsageDay, UsageLoad, UsageMonth

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 1, 31)  # February and March are the two complete months at day 61
FIT_DAY = DAY0 + dt.timedelta(days=61)


@pytest.fixture
def heavy_caller():
    city = builders.city("jinan")
    catalog_install()
    builders.playbook_version()
    builders.scratch_database()
    customer = builders.customer(city_obj=city, package_code="A46", activated_on=DAY0)
    load = UsageLoad.objects.create(source="test", rows=40)
    for month in ("2012-02", "2012-03"):
        UsageMonth.objects.create(customer=customer, month=month, voice_min=400, data_mb=100, sms=0, days=28,
                                  load_id=load.pk)  # fmt: skip
    for n in range(20):
        UsageDay.objects.create(customer=customer, day=dt.date(2012, 3, 10) + dt.timedelta(days=n), voice_min=14,
                                data_mb=3 if n != 12 else 60, sms=0, load_id=load.pk)  # fmt: skip
    cycle.cycle_run(as_of=clock.cycle_instant(FIT_DAY), gateway=MemoryGateway(), dispatch=False)
    return {
        "customer": customer,
        "agent": builders.staff("agent", role=Role.CALL_CENTRE_AGENT, city_obj=city),
        "clerk": builders.staff("clerk", role=Role.STORE_CLERK, city_obj=city),
    }


def page(client, user, customer):
    client.force_login(user)
    with clock.simulated(clock.at_local(FIT_DAY, 10)):
        return client.get(f"/customers/{customer.msisdn}/")


def test_the_agent_sees_the_recommendation_and_the_saving_on_the_call(client, heavy_caller):
    response = page(client, heavy_caller["agent"], heavy_caller["customer"])
    html = response.content.decode()
    assert response.status_code == 200
    call = html[html.index('class="card cu-task"'):html.index('class="cu-journey"')]
    assert "套餐适配结论：推荐改用C66，每月可省51.50元。" in call


def test_the_page_shows_the_verdict_with_its_comparison_table(client, heavy_caller):
    html = page(client, heavy_caller["clerk"], heavy_caller["customer"]).content.decode()
    usage = html[html.index('id="usage"'):html.index('class="cu-journey"')]
    assert "套餐不合适" in usage and "<b>C66</b>" in usage and "<b>51.50</b>" in usage
    assert "通话平均每月400分钟" in usage  # the plain-Chinese why
    # The table: the current package, the recommended one and what each would have cost in each month.
    assert 'class="current"' in usage and 'class=" recommended"' in usage
    assert "133.50" in usage and "82.00" in usage and "-51.50" in usage


def test_the_page_shows_usage_by_month_against_the_allowance_and_by_day(client, heavy_caller):
    response = page(client, heavy_caller["clerk"], heavy_caller["customer"])
    html = response.content.decode()
    assert "每月用量与套餐内含" in html and "/ 50（800%）" in html  # 400 of the 50 minutes A46 includes
    assert "28/29 天" in html  # February 2012: 28 days on file of 29
    chart = response.context["usage_chart"]
    assert chart["months"] == ["2012-02", "2012-03"] and chart["parts"]["voice"] == [800, 800]
    assert max(chart["data_mb"]) == 60 and len(chart["days"]) == 20
    assert "cu-usage-chart" in html and "echarts.min.js" in html


def test_the_offer_and_what_became_of_it(client, heavy_caller):
    customer = heavy_caller["customer"]
    OfferChoice.objects.create(customer=customer, offer=Offer.objects.get(code="data10"), month="2012-01", reason="首月流量折合每月约420MB",
                               as_of=DAY0, made_at=clock.at_local(FIT_DAY, 9))  # fmt: skip
    html = page(client, heavy_caller["clerk"], customer).content.decode()
    assert "增值业务推荐" in html and "首月流量折合每月约420MB" in html and "已推荐，未回复" in html


def test_a_customer_without_usage_has_no_usage_section(client, heavy_caller):
    other = builders.customer(city_obj=heavy_caller["customer"].city, package_code="A66", activated_on=DAY0)
    html = page(client, heavy_caller["clerk"], other).content.decode()
    assert 'id="usage"' not in html and "echarts.min.js" not in html


# --- the data-surge alerts (流量提醒) -------------------------------------------------------------------------


def alerted(customer, *, month: str, kind: str, percent: int = 0, day: dt.date, sms: str | None = None, **figures):
    """An alert as the cycle records it (journeys.surge_acts), with its SMS in `sms` status (None: no SMS)."""
    message = None
    if sms is not None:
        at = clock.at_local(day + dt.timedelta(days=1), 9)
        message = OutboxMessage.objects.create(
            customer=customer, msisdn=customer.msisdn, purpose=Purpose.DATA_SURGE_ALERT, message_class="service",
            text="【中国联通】流量提醒：…", status=sms, scheduled_at=at, not_after=at, created_at=at,
            sent_at=at if sms == MessageStatus.SENT else None,
        )
    values = {"day_mb": 10, "median_mb": None, "days_held": 35, "month_mb_before": 0, "month_mb_after": 10,
              "allowance_mb": 150, **figures}  # fmt: skip
    return SurgeAlert.objects.create(customer=customer, bill_month=month, kind=kind, percent=percent, day=day,
                                     message=message, raised_by=1, **values)  # fmt: skip


def test_the_page_lists_the_surge_alerts_with_their_figures_and_sms(client, heavy_caller):
    customer = heavy_caller["customer"]
    alerted(customer, month="2012-03", kind=SurgeKind.DAY_SURGE, day=dt.date(2012, 3, 22), sms=MessageStatus.SENT,
            day_mb=60, median_mb="3.0", days_held=12)  # fmt: skip
    alerted(customer, month="2012-03", kind=SurgeKind.MONTH_SHARE, percent=80, day=dt.date(2012, 3, 25),
            sms=None, month_mb_before=110, month_mb_after=122)  # fmt: skip

    html = page(client, heavy_caller["clerk"], customer).content.decode()

    alerts = html[html.index('id="surge-alerts"'):html.index('class="cu-journey"')]
    assert "流量提醒" in alerts and "单日流量突增" in alerts and "当月流量达套餐的80%" in alerts
    assert "当日 60 MB，此前 12 天的日中位数 3 MB" in alerts
    assert "当月 110 → 122 MB，套餐含 150 MB" in alerts
    assert "已发送" in alerts and "未发短信" in alerts
    assert alerts.index("2012-03-25") < alerts.index("2012-03-22")  # newest first
    sms = html[html.index('class="cu-sms"'):]
    assert "流量突增提醒" in sms  # the alert's SMS in the customer's messages, named by what it is for


def test_the_alerts_read_in_english_too(client, heavy_caller):
    customer = heavy_caller["customer"]
    alerted(customer, month="2012-03", kind=SurgeKind.MONTH_SHARE, percent=100, day=dt.date(2012, 3, 28),
            sms=MessageStatus.QUEUED, month_mb_before=140, month_mb_after=151)  # fmt: skip
    client.force_login(heavy_caller["clerk"])
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    with clock.simulated(clock.at_local(FIT_DAY, 10)):
        html = client.get(f"/customers/{customer.msisdn}/").content.decode()
    alerts = html[html.index('id="surge-alerts"'):html.index('class="cu-journey"')]
    assert "Data-use alerts" in alerts and "Month's data at 100% of the package" in alerts
    assert "Month 140 → 151 MB of the 150 MB included" in alerts


def test_the_page_costs_the_same_queries_with_one_and_ten_alerts(client, heavy_caller):
    customer = heavy_caller["customer"]

    def queries() -> int:
        client.force_login(heavy_caller["clerk"])
        with clock.simulated(clock.at_local(FIT_DAY, 10)):
            client.get(f"/customers/{customer.msisdn}/")
            with CaptureQueriesContext(connection) as captured:
                client.get(f"/customers/{customer.msisdn}/")
        return len(captured)

    alerted(customer, month="2012-01", kind=SurgeKind.DAY_SURGE, day=dt.date(2012, 1, 31), sms=MessageStatus.SENT)
    one = queries()
    for n, month in enumerate(["2012-02", "2012-03", "2012-04"]):
        for kind, percent in [(SurgeKind.DAY_SURGE, 0), (SurgeKind.MONTH_SHARE, 80), (SurgeKind.MONTH_SHARE, 100)]:
            alerted(customer, month=month, kind=kind, percent=percent, day=dt.date(2012, 2 + n, 10 + percent // 10),
                    sms=MessageStatus.SENT if percent else None)  # fmt: skip
    ten = queries()
    assert SurgeAlert.objects.filter(customer=customer).count() == 10
    assert one == ten
