"""The demo province: drawn like the plan's province, built through the real imports and cycle, repeatable."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command

from onboard90.core import clock
from onboard90.demo import generator, services

TODAY = dt.date(2012, 6, 1)
HANDSET_RANGES = {"130", "131", "132", "155", "156", "185", "186"}


def _province() -> generator.Province:
    """A province of three cities without a database: the generator is plain Python."""
    units = lambda code: (  # noqa: E731
        generator.UnitSpec(f"{code}-store-1", "store", True),
        generator.UnitSpec(f"{code}-store-2", "store"),
        generator.UnitSpec(f"{code}-club", "club"),
        generator.UnitSpec(f"{code}-am", "account_manager_team"),
        generator.UnitSpec(f"{code}-cc", "call_centre"),
    )
    cities = tuple(generator.CitySpec(code, weight, units(code)) for code, weight in
                   [("jinan", 10), ("qingdao", 12), ("laiwu", 2)])
    packages = tuple(
        generator.PackageSpec(code, "prepaid" if code.startswith("P") else "postpaid", Decimal(code[1:]))
        for code in ["A46", "A66", "A96", "A126", "A186", "A286", "A386", "B46", "B66", "B96", "C46", "P20", "P36"]
    )
    return generator.Province(cities=cities, packages=packages, tiers=("diamond", "gold", "silver"))


def _draw(seed: int, count: int = 4000):
    gen = generator.ProvinceGenerator(seed=seed, province=_province())
    return gen.customers(count=count, first_day=TODAY - dt.timedelta(days=120), last_day=TODAY)


def test_customers_are_drawn_like_a_2012_province():
    activations, events = _draw(seed=2012)
    count = len(activations)
    assert count == 4000
    assert {a.msisdn[:3] for a in activations} <= HANDSET_RANGES
    assert all(len(a.msisdn) == 11 and a.msisdn.isdigit() for a in activations)
    assert len({a.msisdn for a in activations}) == count
    packages = Counter(a.package for a in activations)
    assert packages.most_common(1)[0][0] == "A66"
    changers = sum(1 for a in activations if a.previous_msisdn) / count
    assert 0.12 <= changers <= 0.18
    cities = Counter(a.city for a in activations)
    assert cities["qingdao"] > cities["jinan"] > cities["laiwu"] > 0  # weighted by city size
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in a.name) for a in activations[:50])  # zh_CN names

    by_type = Counter(e.type for e in events)
    assert 0.06 <= by_type["vip_rated"] / count <= 0.10
    assert 0 < by_type["cancellation"] / count <= 0.03
    prepaid = {a.msisdn for a in activations if a.product == "prepaid"}
    rated = {e.msisdn: e.at for e in events if e.type == "vip_rated"}
    assert not prepaid & rated.keys()  # prepaid numbers are never rated VIP
    activated = {a.msisdn: a.activated_at for a in activations}
    late = [m for m, at in rated.items() if (clock.local_date(at) - clock.local_date(activated[m])).days > 10]
    assert late, "some VIPs must be rated after day 10 (the plan's late-rating rule)"
    billed = {e.msisdn for e in events if e.type == "bill_issued"}
    assert billed and not billed & prepaid


def test_the_same_seed_draws_the_same_province_and_another_seed_does_not():
    assert _draw(seed=7, count=500) == _draw(seed=7, count=500)
    assert _draw(seed=7, count=500)[0] != _draw(seed=8, count=500)[0]


OPTIONS = services.DemoOptions(customers=250, days=45, seed=11, today=TODAY)


def _fingerprint() -> list[tuple]:
    from onboard90.journeys.models import JourneyAction

    return sorted(
        JourneyAction.objects.values_list(
            "journey__customer__msisdn", "action_code", "status", "window_start", "task__status",
            "task__completed_by__username", "task__assignee__username",
        )
    )


@pytest.mark.django_db
def test_the_demo_simulates_every_day_with_the_real_cycle_and_staff_at_work(tmp_path):
    from onboard90.journeys.models import CycleRun, JourneyAction, Task, TaskAttempt

    summary = services.demo_build(options=OPTIONS, out_dir=tmp_path)

    assert summary["customers"]["total"] == 250
    assert CycleRun.objects.filter(status="finished").count() == OPTIONS.days + 1 == summary["cycles"]
    assert sum(summary["journeys"].values()) == 250
    assert summary["sms"]["sent"] > 0 and (tmp_path / "sms-sent.jsonl").exists()
    assert TaskAttempt.objects.exists()
    statuses = Counter(JourneyAction.objects.values_list("status", flat=True))
    # Staff finish most work on time, some late, some never: the report has something to tell.
    assert statuses["done"] > statuses["done_late"] > 0 and statuses["missed"] > 0
    assert Task.objects.filter(status__in=["open", "overdue"]).exists()  # today's work is left for people
    assert list(tmp_path.glob("bss/demo-customers-*.csv"))  # it went through the real import files


@pytest.mark.django_db
def test_the_compliance_report_shows_real_differences_between_cities(tmp_path):
    from onboard90.journeys.selectors import compliance_report

    services.demo_build(options=services.DemoOptions(customers=600, days=40, seed=5, today=TODAY), out_dir=tmp_path)
    report = compliance_report(by="city", as_of=clock.cycle_instant(TODAY))
    rates = [row["on_time_rate"] for row in report["rows"] if row["due"] >= 100]
    assert len(rates) >= 3
    assert max(rates) - min(rates) >= 0.03


def _replies() -> list[tuple]:
    from onboard90.messaging.models import InboundMessage

    return sorted(InboundMessage.objects.values_list("msisdn", "text", "received_at", "kind"))


@pytest.mark.django_db
def test_the_same_seed_rebuilds_the_same_province_and_replies_row_for_row_on_business_time(tmp_path, monkeypatch):
    """The first build's cycles look only at each day's changes, as in production; the rebuild's look at every
    journey every day. Equal rows say both at once: the same seed gives the same province, and the delta cycles
    miss nothing a full look would find."""
    from onboard90.journeys import changes
    from onboard90.journeys.models import Journey
    from onboard90.testing import cycle_looks

    looked = cycle_looks(monkeypatch)
    services.demo_build(options=OPTIONS, out_dir=tmp_path)
    # Every journey is stamped on the night its customer's file was loaded, not when the demo ran.
    for created_at, activated_on in Journey.objects.values_list("created_at", "customer__activated_on"):
        assert clock.local_date(created_at) - activated_on in (dt.timedelta(0), dt.timedelta(days=1))
    assert sum(since is not None for since in looked) > len(looked) * 0.9  # the production path, not full looks
    first, first_replies = _fingerprint(), _replies()
    assert first_replies

    monkeypatch.setattr(changes, "since_previous", lambda previous, digest, run, touched: None)
    looked.clear()
    services.demo_build(options=OPTIONS, reset=True, out_dir=tmp_path)
    assert looked and all(since is None for since in looked)
    assert _fingerprint() == first
    assert _replies() == first_replies


@pytest.mark.django_db
def test_the_demo_refuses_a_database_with_customers_of_its_own(tmp_path):
    from onboard90 import testing as builders
    from onboard90.catalog.services import catalog_install
    from onboard90.org.models import City
    from onboard90.org.services import reference_data_install
    from onboard90.playbook.services import playbook_install_default

    reference_data_install()
    catalog_install()
    playbook_install_default()
    builders.customer(city_obj=City.objects.get(code="jinan"), activated_on=TODAY)
    with pytest.raises(services.DemoRefused, match="--reset"):
        services.demo_build(options=OPTIONS, out_dir=tmp_path)
    with pytest.raises(services.DemoRefused, match="did not create"):
        services.demo_build(options=OPTIONS, reset=True, out_dir=tmp_path)


@pytest.mark.django_db
def test_the_demo_command_says_where_to_look_next(tmp_path, settings):
    settings.VAR_DIR = tmp_path
    out = io.StringIO()
    call_command("demo", customers=40, days=6, seed=3, today=TODAY.isoformat(), stdout=out)
    text = out.getvalue()
    assert "demo province built" in text
    assert "onboard90 journey 1" in text
    assert "onboard90 report compliance --by city" in text
    assert "onboard90 serve" in text


# -- the customers' replies, and the SMS through a real Kannel ----------------------------------------------

REPLY_OPTIONS = services.DemoOptions(customers=200, days=95, seed=11, today=TODAY)  # long enough for surveys


@pytest.mark.django_db
def test_the_demos_customers_reply_and_the_replies_land_where_staff_and_reports_look(tmp_path):
    from onboard90.customers.models import Customer
    from onboard90.journeys.flows import FOLLOW_UP_TITLE
    from onboard90.journeys.models import Task
    from onboard90.messaging.enums import Purpose, ReplyKind
    from onboard90.messaging.models import InboundMessage, OutboxMessage
    from onboard90.messaging.selectors import sms_figures

    summary = services.demo_build(options=REPLY_OPTIONS, out_dir=tmp_path)

    replies = InboundMessage.objects.all()
    opted_out = replies.filter(kind=ReplyKind.OPT_OUT)
    assert opted_out.exists() and all(r.customer.marketing_opt_out for r in opted_out)
    # Each opt-out is confirmed by one service SMS, sent like any other.
    confirmations = OutboxMessage.objects.filter(purpose=Purpose.OPT_OUT_CONFIRMATION)
    assert confirmations.count() == Customer.objects.filter(replies__kind=ReplyKind.OPT_OUT).distinct().count()
    scores = replies.filter(kind=ReplyKind.SURVEY_SCORE)
    assert scores.exists() and {r.action.action_code for r in scores} == {"onboarding_survey"}
    assert {r.score for r in scores} <= {1, 2, 3, 4, 5} and len({r.score for r in scores}) > 1
    accepted = replies.filter(kind=ReplyKind.OFFER_ACCEPTED)
    assert accepted.exists()
    follow_ups = Task.objects.filter(action__in=[r.action_id for r in accepted])
    assert follow_ups.count() == accepted.values("action").distinct().count()
    assert all(t.note.startswith(FOLLOW_UP_TITLE) and t.owner_unit.kind == "store" for t in follow_ups)
    assert replies.filter(kind=ReplyKind.UNMATCHED).exists()
    # Each reply came after the SMS it answers, on the history's business time.
    assert all(r.received_at > r.action.sms.sent_at for r in [*scores, *accepted])

    assert summary["replies"] == {kind: replies.filter(kind=kind).count() for kind in ReplyKind.values}
    figures = sms_figures(day_from=TODAY - dt.timedelta(days=95), day_to=TODAY)
    assert figures["total"]["sent"] == summary["sms"]["sent"]


def test_a_reply_comes_after_its_sms_on_the_same_evening_at_the_latest():
    sent = clock.at_local(TODAY, 20, 59)
    drawn = [
        generator.reply_to(seed=1, msisdn=f"186{n:08d}", action_code="onboarding_survey", sent_at=sent)
        for n in range(400)
    ]
    answered = [reply for reply in drawn if reply]
    assert 0.35 < len(answered) / len(drawn) < 0.55
    assert all(sent < reply.at <= clock.at_local(TODAY, 22) for reply in answered)


@pytest.mark.kannel
@pytest.mark.django_db
def test_with_gateway_kannel_the_demos_sms_go_through_kannel_and_their_delivery_reports_come_back(tmp_path):
    from onboard90.messaging.enums import Delivery, MessageStatus
    from onboard90.messaging.models import OutboxMessage

    options = services.DemoOptions(customers=60, days=35, seed=9, today=TODAY, gateway="kannel")
    summary = services.demo_build(options=options, out_dir=tmp_path)

    sent = OutboxMessage.objects.filter(status=MessageStatus.SENT)
    assert sent.exists() and set(sent.values_list("gateway", flat=True)) == {"kannel"}
    assert not sent.exclude(delivery=Delivery.DELIVERED).exists()  # fakesmsc delivers every one, and says so
    assert summary["sms"]["delivered"] == sent.count() == summary["sms_reports"]["delivered"]
    handsets = (tmp_path / "kannel" / "fakesmsc.log").read_text(encoding="utf-8", errors="replace")
    assert handsets.count("Got message") >= sent.count()  # a long one arrives in parts
    assert not (tmp_path / "sms-sent.jsonl").exists()


@pytest.mark.django_db
def test_the_demo_with_gateway_kannel_and_no_kannel_installed_says_so_in_one_line(tmp_path, settings, monkeypatch):
    from django.core.management.base import CommandError

    settings.VAR_DIR = tmp_path
    monkeypatch.setattr(services, "kannel_missing", lambda: "needs Kannel 1.4 (/usr/sbin/bearerbox missing)")
    with pytest.raises(CommandError, match="Kannel") as raised:
        call_command("demo", customers=10, days=3, seed=3, today=TODAY.isoformat(), gateway="kannel")
    assert "\n" not in str(raised.value)
    assert not services.demo_present()["demo_staff"]  # refused before anything was written


@pytest.mark.django_db
def test_the_demo_has_usage_that_makes_package_fit_and_offers_differ(tmp_path):
    """Heavy and light users, some on a package that does not fit, some surges: the usage acts have real
    differences to show after a history long enough to reach the package-fit window, and the cycles raise
    data-surge alerts of every kind, told by SMS."""
    from onboard90.messaging.enums import MessageStatus, Purpose
    from onboard90.messaging.models import OutboxMessage
    from onboard90.usage.models import OfferChoice, PackageFitVerdict, SurgeAlert, UsageDay

    services.demo_build(options=services.DemoOptions(customers=150, days=70, seed=7, today=TODAY), out_dir=tmp_path)

    verdicts = set(PackageFitVerdict.objects.values_list("verdict", flat=True))
    assert verdicts == {"fits", "does_not_fit"}
    assert len(set(OfferChoice.objects.filter(made_at__isnull=False).values_list("offer__kind", flat=True))) >= 2
    assert UsageDay.objects.filter(data_mb__gte=120).exists()  # some surge days
    raised = set(SurgeAlert.objects.values_list("kind", "percent"))
    assert {("day_surge", 0), ("month_share", 80), ("month_share", 100)} <= raised
    told = OutboxMessage.objects.filter(purpose=Purpose.DATA_SURGE_ALERT, status=MessageStatus.SENT)
    assert told.filter(text__contains="远高于您平时每天").exists() and told.filter(text__contains="已用完套餐所含").exists()
    assert (tmp_path / "bss" / f"demo-usage-{(TODAY - dt.timedelta(days=1)).isoformat()}.csv").exists()
