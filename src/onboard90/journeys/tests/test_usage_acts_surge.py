"""The data-surge alert (流量突增提醒) opened by the daily cycle from real usage: the night's usage file arrives,
the next cycle judges the new days — a day over 3× the customer's own median of the days before it and over
50 MB, or the month crossing 80 % and then 100 % of the package's data — records one alert per threshold per
bill month with the figures that set it off, and tells the customer by SMS under the normal sending policy.

The customers are on A66 (300 MB of data a month, 0.3 元 a MB beyond it) unless a test says otherwise, and
use 10 MB a day: their usual day is 10 MB, a surge is a day over 50 MB (3 × 10 = 30 is the lower bar)."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboard90 import testing as builders
from onboard90.catalog.services import catalog_install
from onboard90.core import clock
from onboard90.journeys import changes, cycle, surge_acts
from onboard90.journeys.enums import CycleStatus
from onboard90.journeys.models import CycleRun
from onboard90.journeys.selectors import versions_in_use
from onboard90.journeys.services import journey_exit
from onboard90.messaging.enums import MessageStatus, Purpose
from onboard90.messaging.gateways import MemoryGateway
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.services import outbox_dispatch
from onboard90.playbook import schema
from onboard90.playbook.services import default_document
from onboard90.usage import alerts, verdicts
from onboard90.usage import services as usage_services
from onboard90.usage.models import SurgeAlert
from onboard90.usage.services import usage_import

pytestmark = pytest.mark.django_db

START = dt.date(2012, 4, 1)  # activation: April is the first month, May the month the alerts are about
HOURS = ("08:00", "21:00")


def may(n: int) -> dt.date:
    return dt.date(2012, 5, n)


@pytest.fixture
def plan():
    city = builders.city("jinan")
    catalog_install()
    builders.playbook_version()
    return {"city": city}


class Usage:
    """The operator's nightly usage files, written and imported as BSS would deliver them."""

    def __init__(self, folder):
        self.folder = folder
        self.files = 0

    def load(self, rows: list[tuple], *, night_of: dt.date) -> None:
        """Import `rows` (customer, day, MB) at 02:00 after `night_of`, as that night's file."""
        self.files += 1
        path = self.folder / f"usage-{self.files}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["msisdn", "date", "voice_min", "data_mb", "sms"])
            for customer, day, mb in rows:
                writer.writerow([customer.msisdn, day.isoformat(), 0, mb, 0])
        result = usage_import(path=path, now=clock.at_local(night_of + dt.timedelta(days=1), 2))
        assert result.rejected == 0

    def history(self, customer, *, first: dt.date, last: dt.date, mb: int = 10) -> None:
        """`mb` a day from `first` to `last`, delivered the night after `last`."""
        days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
        self.load([(customer, day, mb) for day in days], night_of=last)

    def night(self, day: dt.date, **by_customer) -> None:
        """The file of `day`: the MB of each customer named (keyword = a key of `people`)."""
        self.load([(customer, day, mb) for customer, mb in by_customer.values()], night_of=day)


@pytest.fixture
def usage(tmp_path):
    return Usage(tmp_path)


def customer(plan, **fields):
    fields.setdefault("activated_on", START)
    fields.setdefault("package_code", "A66")
    return builders.customer(city_obj=plan["city"], **fields)


def run(day: dt.date, hour: int = 9) -> CycleRun:
    return cycle.cycle_run(as_of=clock.at_local(day, hour), dispatch=False)


def alerts_of(person) -> list[SurgeAlert]:
    return list(
        SurgeAlert.objects.filter(customer=person).select_related("message").order_by("day", "percent")
    )


def alert_sms(person) -> list[OutboxMessage]:
    return list(
        OutboxMessage.objects.filter(customer=person, purpose=Purpose.DATA_SURGE_ALERT).order_by("pk")
    )


def quiet_until_may_10(usage, *people) -> None:
    """10 MB a day from April 1 to May 9, loaded and judged by the cycle of May 10: nothing to alert."""
    for person in people:
        usage.history(person, first=START, last=may(9))
    assert run(may(10)).counts["surge_alerts"] == 0


# --- the day surge ------------------------------------------------------------------------------------------


def test_day_over_three_times_own_median_and_over_50mb_sends_one_alert(plan, usage):
    surfer = customer(plan)  # 120 MB: over 3 × 10 and over 50
    modest = customer(plan)  # 45 MB: over 3 × 10, but not over 50
    steady = customer(plan)  # 55 MB, on a usual day of 20: over 50, but not over 3 × 20 = 60
    usage.history(steady, first=START, last=may(9), mb=20)
    quiet_until_may_10(usage, surfer, modest)

    usage.night(may(10), a=(surfer, 120), b=(modest, 45), c=(steady, 55))
    done = run(may(11))

    assert (done.counts["surge_alerts"], done.counts["surge_sms"]) == (1, 1)
    [alert] = alerts_of(surfer)
    assert (alert.kind, alert.percent, alert.bill_month, alert.day) == ("day_surge", 0, "2012-05", may(10))
    # The figures it was judged on: 35 days held before May 10 (April 5 – May 9), all of them 10 MB; May 1–9
    # make 90 MB of the month before it, 210 with it, of the 300 MB included.
    assert (alert.day_mb, alert.median_mb, alert.days_held) == (120, Decimal("10.0"), 35)
    assert (alert.month_mb_before, alert.month_mb_after, alert.allowance_mb) == (90, 210, 300)
    assert alert.raised_by == done.pk
    sms = alert.message
    assert (sms.action, sms.purpose, sms.status, sms.message_class) == (
        None,
        "data_surge_alert",
        "queued",
        "service",
    )
    assert sms.text.startswith(
        "【中国联通】流量提醒：您5月10日手机上网用了120MB流量，远高于您平时每天约10MB。"
    )
    assert "发CXLL到10010可查已用流量" in sms.text and sms.segments == 2
    assert alerts_of(modest) == [] and alerts_of(steady) == []


def test_a_customer_who_never_used_data_surges_on_any_day_over_50mb(plan, usage):
    idle = customer(plan)
    usage.history(idle, first=START, last=may(9), mb=0)  # days on file with no data: a median of 0
    run(may(10))
    usage.night(may(10), a=(idle, 51))
    run(may(11))
    [alert] = alerts_of(idle)
    assert (alert.kind, alert.median_mb) == ("day_surge", Decimal("0.0"))
    assert "您5月10日手机上网用了51MB流量，而您平时几乎不用流量。" in alert.message.text


def test_a_customer_new_to_the_network_has_no_usual_day_yet(plan, usage):
    newcomer = customer(plan, activated_on=may(4))  # 6 days held before May 10: fewer than the 7 asked for
    usage.history(newcomer, first=may(4), last=may(9))
    run(may(10))
    usage.night(may(10), a=(newcomer, 150))  # 60 + 150 = 210 MB: under 80 % of 300 too
    assert run(may(11)).counts["surge_alerts"] == 0
    assert alerts_of(newcomer) == []


class _Unreadable:
    def __getattr__(self, name):
        raise RuntimeError(f"alert.{name} cannot be read")

    __getitem__ = __getattr__


def test_an_alert_whose_sms_fails_to_render_keeps_its_message_recorded_failed_and_the_others_go(
    plan, usage, monkeypatch
):
    """One customer's template failing (here: an alert the template cannot read) must not stop the others'
    SMS: the alert is on file, linked to its message, which is recorded failed with the reason."""
    broken, fine = customer(plan), customer(plan)
    quiet_until_may_10(usage, broken, fine)
    told = alerts.alert_context
    monkeypatch.setattr(
        alerts, "alert_context", lambda alert: _Unreadable() if alert.customer_id == broken.pk else told(alert)
    )
    usage.night(may(10), a=(broken, 120), b=(fine, 120))
    done = run(may(11))

    assert (done.counts["surge_alerts"], done.counts["surge_sms"]) == (2, 2)
    [failed], [queued] = alert_sms(broken), alert_sms(fine)
    assert (failed.status, failed.text) == (MessageStatus.FAILED, "-")
    assert failed.last_error.startswith("render: ")
    assert [a.message_id for a in alerts_of(broken)] == [failed.pk]
    assert queued.status == MessageStatus.QUEUED and queued.text.startswith("【中国联通】流量提醒：")
    assert [a.message_id for a in alerts_of(fine)] == [queued.pk]


def test_second_surge_in_same_month_sends_no_second_sms(plan, usage):
    surfer = customer(plan)
    quiet_until_may_10(usage, surfer)
    usage.night(may(10), a=(surfer, 60))
    run(may(11))
    usage.night(may(11), a=(surfer, 10))
    run(may(12))
    usage.night(may(12), a=(surfer, 70))  # a surge again (the month: 90 + 60 + 10 + 70 = 230, under 240)

    assert run(may(13)).counts["surge_alerts"] == 0
    assert [a.day for a in alerts_of(surfer)] == [may(10)] and len(alert_sms(surfer)) == 1


def test_new_month_alerts_again(plan, usage):
    surfer = customer(plan)
    quiet_until_may_10(usage, surfer)
    usage.night(may(10), a=(surfer, 60))
    run(may(11))
    usage.history(surfer, first=may(11), last=dt.date(2012, 6, 9))
    run(dt.date(2012, 6, 10))
    usage.night(dt.date(2012, 6, 10), a=(surfer, 60))

    assert run(dt.date(2012, 6, 11)).counts["surge_alerts"] == 1
    assert [(a.bill_month, a.day) for a in alerts_of(surfer)] == [
        ("2012-05", may(10)),
        ("2012-06", dt.date(2012, 6, 10)),
    ]
    assert len(alert_sms(surfer)) == 2


# --- the month crossing 80 % and 100 % ----------------------------------------------------------------------


def test_crossing_80_then_100_percent_sends_two_alerts_in_a_month(plan, usage):
    heavy = customer(plan)  # 30 MB a day: 240 MB (80 % of 300) on May 8, 300 MB on May 10
    usage.history(heavy, first=START, last=may(6), mb=30)
    run(may(7))  # April went far over its allowance, but that is history: only the last days are judged
    for n in range(7, 11):
        usage.night(may(n), a=(heavy, 30))
        run(may(n + 1))

    eighty, hundred = alerts_of(heavy)
    assert (eighty.kind, eighty.percent, eighty.day) == ("month_share", 80, may(8))
    assert (eighty.month_mb_before, eighty.month_mb_after, eighty.allowance_mb) == (210, 240, 300)
    assert (hundred.percent, hundred.day, hundred.month_mb_before, hundred.month_mb_after) == (
        100,
        may(10),
        270,
        300,
    )
    assert "截至5月8日，您本月已用流量240MB，达到套餐所含300MB的80%，还剩约60MB。" in eighty.message.text
    assert (
        "截至5月10日，您本月已用流量300MB，已用完套餐所含300MB，超出部分按0.3元/MB计费。"
        in hundred.message.text
    )
    assert eighty.median_mb == Decimal("30.0")  # the figures of the day are kept whatever fired


def test_a_day_that_crosses_80_and_100_at_once_sends_one_sms_telling_of_100(plan, usage):
    binge = customer(plan)
    quiet_until_may_10(usage, binge)
    usage.night(may(10), a=(binge, 250))  # 90 + 250 = 340 MB: a surge, past 80 % and past 100 %

    done = run(may(11))

    assert (done.counts["surge_alerts"], done.counts["surge_sms"]) == (3, 1)
    raised = alerts_of(binge)
    assert [(a.kind, a.percent) for a in raised] == [
        ("day_surge", 0),
        ("month_share", 80),
        ("month_share", 100),
    ]
    [sms] = alert_sms(binge)
    assert {a.message_id for a in raised} == {sms.pk}
    assert "您本月已用流量340MB，已用完套餐所含300MB，超出部分按0.3元/MB计费。" in sms.text


def test_in_the_activation_month_half_a_package_is_half_the_allowance(plan, usage):
    halved = customer(plan, activated_on=may(1), first_month="half")  # 150 MB in May: 80 % is 120 MB
    usage.history(halved, first=may(1), last=may(11))
    run(may(12))
    usage.night(may(12), a=(halved, 10))

    run(may(13))

    [alert] = alerts_of(halved)
    assert (alert.percent, alert.allowance_mb, alert.month_mb_after) == (80, 150, 120)
    assert "达到套餐所含150MB的80%，还剩约30MB" in alert.message.text


# --- the sending policy ------------------------------------------------------------------------------------


def test_alert_sms_waits_for_quiet_hours_to_end(plan, usage):
    surfer = customer(plan)
    quiet_until_may_10(usage, surfer)
    usage.night(may(10), a=(surfer, 120))
    run(may(11), hour=6)  # a cycle before the sending hours open
    [sms] = alert_sms(surfer)
    assert (sms.scheduled_at, sms.not_after) == (clock.at_local(may(11), 8), clock.end_of_day(may(11)))

    gateway = MemoryGateway()

    def dispatch(hour: int, minute: int = 0):
        at = clock.at_local(may(11), hour, minute)
        return outbox_dispatch(as_of=at, quiet_hours=HOURS, gateway=gateway, now=lambda: at, daily_limit=2)

    assert dispatch(7, 30)["sms_sent"] == 0 and gateway.sent == []
    assert dispatch(8)["sms_sent"] == 1
    assert gateway.sent[0][0] == surfer.msisdn and "120MB" in gateway.sent[0][1]


def test_alert_sms_is_held_by_the_daily_cap_and_missed_when_its_day_ends(plan, usage):
    surfer = customer(plan)
    quiet_until_may_10(usage, surfer)
    usage.night(may(10), a=(surfer, 120))
    run(may(11))
    at = clock.at_local(may(11), 10)
    for n in range(2):  # the plan's two SMS of the day have left already
        OutboxMessage.objects.create(customer=surfer, msisdn=surfer.msisdn, message_class="service", text=f"第{n}条",
                                     status=MessageStatus.SENT, sent_at=at, scheduled_at=at, not_after=at,
                                     created_at=at)  # fmt: skip

    counts = outbox_dispatch(
        as_of=at, quiet_hours=HOURS, gateway=MemoryGateway(), now=lambda: at, daily_limit=2
    )

    [sms] = alert_sms(surfer)
    assert counts["sms_sent"] == 0 and (sms.status, sms.last_error) == ("missed", "sms_daily_limit")
    assert alerts_of(surfer)[0].message_id == sms.pk  # the alert stays, with what became of its SMS


def test_opted_out_customer_gets_alert_recorded_but_no_sms(plan, usage):
    document = default_document()
    act = next(a for s in document["stages"] for a in s["actions"] if a["code"] == "data_surge_alert")
    act["sms"]["message_class"] = "marketing"  # an operator who counts the alert as marketing
    builders.playbook_version(document)
    refused = customer(plan, marketing_opt_out=True)
    willing = customer(plan)
    quiet_until_may_10(usage, refused, willing)
    usage.night(may(10), a=(refused, 120), b=(willing, 120))

    done = run(may(11))

    assert (done.counts["surge_alerts"], done.counts["surge_sms"]) == (2, 1)
    [alert] = alerts_of(refused)
    assert alert.message is None and alert_sms(refused) == []
    assert alerts_of(willing)[0].message.text.endswith("回复TD退订")


def test_opted_out_customer_still_gets_the_shipped_alert_which_is_a_service_notice(plan, usage):
    refused = customer(plan, marketing_opt_out=True)  # TD stops marketing SMS; service notices still go
    quiet_until_may_10(usage, refused)
    usage.night(may(10), a=(refused, 120))
    run(may(11))
    assert alerts_of(refused)[0].message.message_class == "service"


def test_a_customer_who_leaves_gets_no_alert_sms_still_waiting(plan, usage):
    surfer = customer(plan)
    quiet_until_may_10(usage, surfer)
    usage.night(may(10), a=(surfer, 120))
    run(may(11), hour=6)
    journey_exit(customer=surfer, at=clock.at_local(may(11), 7))
    [sms] = alert_sms(surfer)
    assert (sms.status, sms.last_error) == ("cancelled", "cancellation")


# --- once, whatever happens ---------------------------------------------------------------------------------


def test_rerun_of_the_cycle_doubles_nothing(plan, usage):
    surfer = customer(plan)
    quiet_until_may_10(usage, surfer)
    usage.night(may(10), a=(surfer, 120))
    first = run(may(11))
    again = run(may(11))
    assert (first.counts["surge_alerts"], again.counts["surge_alerts"], again.counts["surge_sms"]) == (
        1,
        0,
        0,
    )
    assert len(alerts_of(surfer)) == 1 and len(alert_sms(surfer)) == 1


def test_a_cycle_that_crashed_after_its_alerts_is_finished_by_the_next_without_a_second_sms(
    plan, usage, monkeypatch
):
    surfer = customer(plan)
    quiet_until_may_10(usage, surfer)
    usage.night(may(10), a=(surfer, 120))

    def crash(**kwargs):
        raise RuntimeError("the machine went down")

    with monkeypatch.context() as patch:
        patch.setattr(changes, "changes_consume", crash)  # the next step of the plan, after the alerts
        with pytest.raises(RuntimeError):
            run(may(11))
    crashed = CycleRun.objects.get(status=CycleStatus.RUNNING)
    assert len(alerts_of(surfer)) == 1  # the alert and its SMS committed together

    rerun = run(may(11))  # claims again the crashed run's usage, judges it again, inserts nothing twice

    assert rerun.status == CycleStatus.FINISHED and rerun.counts["surge_alerts"] == 0
    [alert] = alerts_of(surfer)
    assert alert.raised_by == crashed.pk and len(alert_sms(surfer)) == 1


def test_a_re_imported_surge_day_alerts_once(plan, usage):
    surfer = customer(plan)
    quiet_until_may_10(usage, surfer)
    usage.night(may(10), a=(surfer, 120))
    run(may(11))
    usage.night(may(10), a=(surfer, 125))  # BSS corrects the day: it is new usage, and no new alert
    assert run(may(12)).counts["surge_alerts"] == 0
    assert alerts_of(surfer)[0].day_mb == 120


# --- the playbook's thresholds -------------------------------------------------------------------------------


def test_thresholds_come_from_the_playbook(plan, usage):
    before = customer(plan)  # on the shipped playbook: 3 × the median
    document = default_document()
    document["data_surge"] = {"multiple": 2, "min_mb": 50, "min_days": 7, "month_percents": [80, 100]}
    builders.playbook_version(document)
    after = customer(plan)  # started on the new version: 2 × the median
    for person in (before, after):
        usage.history(person, first=START, last=may(9), mb=20)
    run(may(10))
    usage.night(may(10), a=(before, 55), b=(after, 55))  # 55 MB: over 2 × 20 and 50, not over 3 × 20

    run(may(11))

    assert alerts_of(before) == []
    [alert] = alerts_of(after)
    assert (alert.kind, alert.day_mb, alert.median_mb) == ("day_surge", 55, Decimal("20.0"))


def test_the_playbook_says_which_shares_of_the_allowance_alert(plan, usage):
    document = default_document()
    document["data_surge"] = {"month_percents": [50]}  # the others keep their defaults
    builders.playbook_version(document)
    heavy = customer(plan)
    usage.history(heavy, first=START, last=may(9), mb=15)  # May 1–9: 135 MB
    run(may(10))
    usage.night(may(10), a=(heavy, 15))  # 150 MB: half of 300
    run(may(11))
    assert [(a.percent, a.month_mb_after) for a in alerts_of(heavy)] == [(50, 150)]


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ({"month_percents": [100, 80]}, "percents must increase"),
        ({"month_percents": [0]}, "1–1000"),
        ({"min_days": 0}, "greater than or equal to 1"),
        ({"min_days": 36}, "less than or equal to 35"),  # the day rows kept: 35 days before the day judged
        ({"multiple": 0}, "greater than or equal to 1"),
        ({"median": 3}, "Extra inputs"),
    ],
)
def test_the_playbook_refuses_thresholds_that_cannot_work(rules, problem):
    document = default_document()
    document["data_surge"] = rules
    with pytest.raises(schema.PlaybookError, match=problem):
        schema.validate(document)


def test_the_playbooks_window_bound_is_the_usage_kept():
    assert schema.SURGE_WINDOW_DAYS == usage_services.SURGE_WINDOW_DAYS


# --- the SMS preview -----------------------------------------------------------------------------------------


def test_the_preview_falls_back_to_the_general_text_without_an_alert(plan, capsys):
    import json

    person = customer(plan)
    call_command("sms", "preview", "data_surge_alert", "--msisdn", person.msisdn, "--json")
    text = json.loads(capsys.readouterr().out)["text"]
    assert text.startswith("【中国联通】流量提醒：您近期手机上网流量增长较快。")
    call_command("sms", "preview", "data_surge_alert", "--package", "A66", "--city", "jinan", "--json")
    sample = json.loads(capsys.readouterr().out)
    assert "达到套餐所含300MB的80%" in sample["text"] and sample["parts"] <= 2


# --- set-based --------------------------------------------------------------------------------------------------


def test_the_steps_queries_do_not_grow_with_the_customers_alerted(plan, usage):
    people = [customer(plan) for _ in range(33)]
    april_to_may_9 = [START + dt.timedelta(days=n) for n in range(39)]
    usage.load([(p, day, 10) for p in people for day in april_to_may_9], night_of=may(9))
    run(may(10))

    def step(day: dt.date, surfers) -> tuple[int, int]:
        usage.load([(p, day, 120 if p in surfers else 10) for p in people], night_of=day)
        this = CycleRun.objects.create(as_of=clock.cycle_instant(day + dt.timedelta(days=1)),
                                       started_at=clock.now(), status=CycleStatus.RUNNING)  # fmt: skip
        verdicts.loads_claim(run_id=this.pk)
        with CaptureQueriesContext(connection) as captured:
            counts = surge_acts.surge_alerts(
                run=this, versions=versions_in_use(), today=day + dt.timedelta(days=1)
            )
        CycleRun.objects.filter(pk=this.pk).update(status=CycleStatus.FINISHED)
        return len(captured), counts["surge_alerts"]

    three, raised_three = step(may(10), people[:3])
    thirty, raised_thirty = step(may(11), people[3:])
    assert (raised_three, raised_thirty) == (3, 30)
    assert three == thirty


# --- the admin ---------------------------------------------------------------------------------------------------


def test_the_admin_lists_the_alerts_read_only_by_kind_and_month(plan, usage, client, settings):
    from onboard90.org.services import staff_add

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    surfer = customer(plan)
    quiet_until_may_10(usage, surfer)
    usage.night(may(10), a=(surfer, 120))
    run(may(11))
    staff_add(username="admin", role="province_admin", city=None, password="Province-Admin-2012")
    assert client.login(username="admin", password="Province-Admin-2012")

    listed = client.get("/admin/usage/surgealert/?kind__exact=day_surge&bill_month__exact=2012-05")
    other_month = client.get("/admin/usage/surgealert/?bill_month__exact=2012-06")

    html = listed.content.decode()
    assert listed.status_code == 200 and "单日流量突增" in html and "186****" in html
    assert "\n1 流量提醒记录\n" in html  # the paginator: one alert among May's day surges
    assert "\n0 流量提醒记录\n" in other_month.content.decode()
    assert client.get("/admin/usage/surgealert/add/").status_code == 403
