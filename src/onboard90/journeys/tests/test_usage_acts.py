"""The acts that read usage, opened by the daily cycle: package-fit coaching calls the customers whose package
does not fit (the task says what to recommend, the saving and why) and confirms by SMS to those whose
package fits; the value-added SMS names the offer chosen from the first month, and the customer's yes and
the store's follow-up are recorded against it. The one-customer preview shows the verdict the cycle uses."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command
from openpyxl import load_workbook

from onboard90 import testing as builders
from onboard90.catalog.services import catalog_install
from onboard90.core import clock
from onboard90.journeys import cycle, selectors
from onboard90.journeys.models import JourneyAction, Task
from onboard90.journeys.services import task_complete, tasks_complete_bulk
from onboard90.messaging.enums import MessageStatus
from onboard90.messaging.gateways import MemoryGateway
from onboard90.messaging.replies import reply_receive
from onboard90.messaging.services import outbox_dispatch
from onboard90.org.enums import Role
from onboard90.usage.models import OfferChoice, PackageFitVerdict, UsageDay, UsageLoad, UsageMonth

pytestmark = pytest.mark.django_db

# Activated on the last day of January: at day 61 (1 April) February and March are the two complete months.
DAY0 = dt.date(2012, 1, 31)
FIT_DAY = 61


def day(n: int, start: dt.date = DAY0) -> dt.date:
    return start + dt.timedelta(days=n)


@pytest.fixture
def plan():
    city = builders.city("jinan")
    catalog_install()
    builders.playbook_version()
    return {
        "city": city,
        "clerk": builders.staff("clerk", role=Role.STORE_CLERK, city_obj=city),
        "agent": builders.staff("agent", role=Role.CALL_CENTRE_AGENT, city_obj=city),
    }


def used(customer, months: dict[str, tuple[int, int, int]]) -> None:
    """Months on file as an import leaves them: the month rows, and a day row carrying the import's load."""
    load = UsageLoad.objects.create(source="test", rows=len(months))
    for month, (voice, data, sms) in months.items():
        first = dt.date(int(month[:4]), int(month[5:]), 1)
        UsageDay.objects.update_or_create(
            customer=customer,
            day=first,
            defaults={"voice_min": voice, "data_mb": data, "sms": sms, "load_id": load.pk},
        )
        UsageMonth.objects.update_or_create(
            customer=customer, month=month,
            defaults={"voice_min": voice, "data_mb": data, "sms": sms, "days": 28, "load_id": load.pk},
        )  # fmt: skip


def fit_act(customer) -> JourneyAction:
    return JourneyAction.objects.get(journey__customer=customer, action_code="package_fit_coaching")


def test_a_package_that_does_not_fit_gets_the_call_one_that_fits_the_confirming_sms(plan):
    caller = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=DAY0)
    used(caller, {"2012-02": (400, 100, 0), "2012-03": (400, 100, 0)})
    suited = builders.customer(city_obj=plan["city"], package_code="A66", activated_on=DAY0)
    used(suited, {"2012-02": (40, 250, 200), "2012-03": (45, 280, 180)})
    unknown = builders.customer(city_obj=plan["city"], package_code="A66", activated_on=DAY0)

    run = cycle.cycle_run(as_of=clock.cycle_instant(day(FIT_DAY)), dispatch=False)

    assert run.counts["fit_verdicts"] == 2
    call = Task.objects.get(action=fit_act(caller))
    assert call.note.startswith("套餐适配结论：推荐改用C66，每月可省51.50元。")
    assert "通话平均每月400分钟" in call.note
    assert not hasattr(fit_act(caller), "sms")

    assert not Task.objects.filter(action=fit_act(suited)).exists()
    assert "正合适" in fit_act(suited).sms.text and "无需更换" in fit_act(suited).sms.text
    general = fit_act(unknown).sms.text  # no usage on file: no verdict, the general reminder
    assert "已近两个月" in general and "正合适" not in general
    assert not Task.objects.filter(action=fit_act(unknown)).exists()


def test_usage_that_changes_in_the_window_moves_the_verdict_and_opens_the_call(plan):
    customer = builders.customer(city_obj=plan["city"], package_code="A66", activated_on=DAY0)
    used(customer, {"2012-02": (40, 250, 200), "2012-03": (45, 280, 180)})
    cycle.cycle_run(as_of=clock.cycle_instant(day(FIT_DAY)), dispatch=False)
    assert PackageFitVerdict.objects.get(customer=customer).verdict == "fits"

    # Corrected months: far over the 50 minutes included, on little data.
    used(customer, {"2012-02": (900, 50, 10), "2012-03": (900, 50, 10)})
    looked = cycle.cycle_run(as_of=clock.cycle_instant(day(FIT_DAY + 1)), dispatch=False)

    assert looked.counts["fit_verdicts"] == 1  # only the customer whose usage changed is priced again
    assert PackageFitVerdict.objects.get(customer=customer).verdict == "does_not_fit"
    assert Task.objects.get(action=fit_act(customer)).note.startswith("套餐适配结论：推荐改用")


def test_a_verdict_is_priced_again_when_its_inputs_move_not_for_each_day_of_the_running_month(plan):
    from onboard90.catalog.models import Package
    from onboard90.customers.models import Customer

    # Activated on 20 February: its window (days 61 to 75) runs from 21 April to 5 May; March is its only
    # complete month until 1 May, when April is over too.
    start = dt.date(2012, 2, 20)
    customer = builders.customer(city_obj=plan["city"], package_code="A66", activated_on=start)
    used(customer, {"2012-03": (40, 250, 200), "2012-04": (10, 50, 30)})
    first = cycle.cycle_run(as_of=clock.cycle_instant(day(61, start)), dispatch=False)
    assert first.counts["fit_verdicts"] == 1
    assert PackageFitVerdict.objects.get(customer=customer).months == "2012-03"

    used(customer, {"2012-04": (30, 120, 60)})  # the daily feed: the running month moves, March does not
    assert cycle.cycle_run(as_of=clock.cycle_instant(day(62, start)), dispatch=False).counts["fit_verdicts"] == 0

    Customer.objects.filter(pk=customer.pk).update(package=Package.objects.get(code="A46"))
    moved = cycle.cycle_run(as_of=clock.cycle_instant(day(63, start)), dispatch=False)
    assert moved.counts["fit_verdicts"] == 1  # another package: priced again
    assert PackageFitVerdict.objects.get(customer=customer).package == "A46"
    assert cycle.cycle_run(as_of=clock.cycle_instant(day(64, start)), dispatch=False).counts["fit_verdicts"] == 0

    # 1 May: April is over, with no new load: the verdict is made on the two months.
    ended = cycle.cycle_run(as_of=clock.cycle_instant(dt.date(2012, 5, 1)), dispatch=False)
    assert ended.counts["fit_verdicts"] == 1
    assert PackageFitVerdict.objects.get(customer=customer).months == "2012-03,2012-04"


def test_an_offer_not_sent_is_not_chosen_again_for_each_day_of_the_running_month(plan):
    # Opted out of marketing: the recommendation's SMS is never written, so the offer stays not made.
    customer = builders.customer(city_obj=plan["city"], package_code="A66", activated_on=DAY0, marketing_opt_out=True)
    used(customer, {"2012-01": (40, 900, 20)})  # the first month, all the offer reads
    first = cycle.cycle_run(as_of=clock.cycle_instant(day(31)), dispatch=False)
    assert first.counts["offers_chosen"] == 1
    used(customer, {"2012-03": (10, 80, 5)})  # the daily feed: the running month moves
    again = cycle.cycle_run(as_of=clock.cycle_instant(day(32)), dispatch=False)
    assert again.counts["offers_chosen"] == 0
    assert OfferChoice.objects.get(customer=customer).made_at is None


def test_whose_usage_moved_is_asked_of_each_customer_not_as_a_list_of_every_customer_a_file_touched(plan):
    from onboard90.customers.models import Customer
    from onboard90.usage import verdicts

    # Beside an OR, `pk IN (the customers a day's file wrote)` is read again for every customer in the window
    # once the list outgrows PostgreSQL's work_mem: a province's file is a million customers.
    stale = verdicts.package_fit_stale(Customer.objects.all(), run_id=1, today=day(FIT_DAY))
    offers = verdicts.offers_stale(Customer.objects.all(), run_id=1)
    for query in (str(stale.query), str(offers.query)):
        assert "EXISTS" in query
        assert '"id" IN (SELECT' not in query


def test_customers_in_the_window_whose_usage_has_not_arrived_are_not_priced_again_every_day(plan, monkeypatch):
    from onboard90.usage import verdicts

    with_usage = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=DAY0)
    used(with_usage, {"2012-02": (400, 100, 0), "2012-03": (400, 100, 0)})
    waiting = [builders.customer(city_obj=plan["city"], package_code="A66", activated_on=DAY0) for _ in range(3)]
    handed: dict[str, list[int]] = {"fit": [], "offer": []}
    fit_real, offer_real = verdicts.package_fit_verdicts, verdicts.offer_choices

    def fit_spy(customers, **kwargs):
        handed["fit"] += list(customers.values_list("pk", flat=True))
        return fit_real(customers, **kwargs)

    def offer_spy(customers, **kwargs):
        handed["offer"] += list(customers.values_list("pk", flat=True))
        return offer_real(customers, **kwargs)

    monkeypatch.setattr(verdicts, "package_fit_verdicts", fit_spy)
    monkeypatch.setattr(verdicts, "offer_choices", offer_spy)
    for n in (FIT_DAY, FIT_DAY + 1):
        cycle.cycle_run(as_of=clock.cycle_instant(day(n)), dispatch=False)

    assert handed["fit"] == [with_usage.pk]  # priced once; the three without usage never
    assert not {c.pk for c in waiting} & {*handed["fit"], *handed["offer"]}
    assert not PackageFitVerdict.objects.filter(customer__in=waiting).exists()


def test_the_preview_shows_the_verdict_the_cycle_makes(plan):
    customer = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=DAY0)
    used(customer, {"2012-02": (400, 100, 0), "2012-03": (400, 100, 0)})
    before = selectors.journey_document(msisdn=customer.msisdn, as_of=clock.cycle_instant(day(FIT_DAY)))
    cycle.cycle_run(as_of=clock.cycle_instant(day(FIT_DAY)), dispatch=False)
    after = selectors.journey_document(msisdn=customer.msisdn, as_of=clock.cycle_instant(day(FIT_DAY)))

    assert before["package_fit"]["stored"] is False and after["package_fit"]["stored"] is True
    keys = ("verdict", "recommended", "monthly_saving", "months", "explanation")
    assert {k: before["package_fit"][k] for k in keys} == {k: after["package_fit"][k] for k in keys}
    assert (
        after["package_fit"]["verdict"] == "does_not_fit" and after["package_fit"]["monthly_saving"] == 51.5
    )


def test_the_preview_before_the_window_shows_the_call_the_verdict_will_open(plan):
    customer = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=DAY0)
    used(customer, {"2012-02": (400, 100, 0), "2012-03": (400, 100, 0)})
    doc = selectors.journey_document(msisdn=customer.msisdn, as_of=clock.cycle_instant(day(FIT_DAY - 1)))
    pending = next(a for a in doc["actions"] if a["code"] == "package_fit_coaching")
    assert pending["status"] == "pending" and pending["owner_unit"] is not None  # the call centre's call


# --- the offer -------------------------------------------------------------------------------------------

OFFER_START = dt.date(2012, 3, 1)
OFFER_DAY = 32


def at(n: int, hour: int = 12) -> dt.datetime:
    return clock.at_local(day(n, OFFER_START), hour)


def cycle_and_send(n: int) -> MemoryGateway:
    gateway = MemoryGateway()
    cycle.cycle_run(as_of=clock.cycle_instant(day(n, OFFER_START)), dispatch=False)
    outbox_dispatch(as_of=at(n, 10), quiet_hours=("08:00", "21:00"), gateway=gateway, now=lambda: at(n, 10))
    return gateway


def test_the_offer_sms_names_the_customers_offer_and_the_yes_and_the_follow_up_are_recorded(plan):
    surfer = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=OFFER_START)
    used(surfer, {"2012-03": (30, 400, 10)})  # 28 days on file: about 443 MB a month
    quiet = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=OFFER_START)

    gateway = cycle_and_send(OFFER_DAY)

    texts = dict(gateway.sent)
    assert "3G流量包20元含300M" in texts[surfer.msisdn] and "回复1" in texts[surfer.msisdn]
    assert "10元含100M、20元含300M" in texts[quiet.msisdn]  # no first month on file: the city's default
    choice = OfferChoice.objects.get(customer=surfer)
    assert choice.offer.code == "data20" and choice.made_at == clock.cycle_instant(
        day(OFFER_DAY, OFFER_START)
    )
    assert not OfferChoice.objects.filter(customer=quiet).exists()

    reply_receive(msisdn=surfer.msisdn, text="1", received_at=at(OFFER_DAY, 19))
    choice.refresh_from_db()
    assert choice.accepted_at == at(OFFER_DAY, 19) and choice.taken_at is None

    follow_up = Task.objects.get(action__journey__customer=surfer, action__action_code="vas_recommendation")
    task_complete(task=follow_up, outcome="reached", completed_by=plan["clerk"], at=at(OFFER_DAY + 1, 10),
                  now=at(OFFER_DAY + 1, 10))  # fmt: skip
    choice.refresh_from_db()
    assert (choice.taken_at, choice.taken_via) == (at(OFFER_DAY + 1, 10), "task")


def test_a_follow_up_closed_from_a_dialler_file_takes_the_offer_up_as_one_closed_on_the_page(plan):
    surfer = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=OFFER_START)
    used(surfer, {"2012-03": (30, 400, 10)})
    changed_mind = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=OFFER_START)
    used(changed_mind, {"2012-03": (30, 400, 10)})
    cycle_and_send(OFFER_DAY)
    for customer in (surfer, changed_mind):
        reply_receive(msisdn=customer.msisdn, text="1", received_at=at(OFFER_DAY, 19))
    follow_ups = {
        t.action.journey.customer_id: t
        for t in Task.objects.filter(action__action_code="vas_recommendation").select_related("action__journey")
    }

    counts = tasks_complete_bulk(
        completions=[
            (follow_ups[surfer.pk].pk, "reached", at(OFFER_DAY + 1, 10), plan["clerk"].pk),
            (follow_ups[changed_mind.pk].pk, "refused", at(OFFER_DAY + 1, 11), plan["clerk"].pk),
        ],
        source="dialler",
        now=at(OFFER_DAY + 1, 12),
    )

    assert counts["closed"] == 2
    taken = dict(OfferChoice.objects.values_list("customer_id", "taken_at"))
    assert taken == {surfer.pk: at(OFFER_DAY + 1, 10), changed_mind.pk: None}
    assert OfferChoice.objects.get(customer=surfer).taken_via == "task"


def test_a_batch_of_closed_tasks_finds_its_offer_follow_ups_by_the_tasks_not_by_every_offer_on_file(plan):
    """Led by the offer act's code, SQLite walked every offer act on file and probed its task, for each batch
    a dialler's file or the demo's staff closed (a second a batch on the demo's province)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from onboard90.journeys.usage_acts import record_offers_taken

    with CaptureQueriesContext(connection) as queries:
        record_offers_taken(closed=[(n, "reached", at(OFFER_DAY, 10)) for n in range(1, 201)])
    (sql,) = [q["sql"] for q in queries.captured_queries]
    assert "journeys_journey" not in sql.replace("journeys_journeyaction", "")  # the task's own customer
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            steps = [str(row[-1]) for row in cursor.fetchall()]
            assert steps[0].startswith("SEARCH journeys_task USING INTEGER PRIMARY KEY"), steps
        else:
            cursor.execute(f"EXPLAIN {sql}")
            plan_text = " ".join(row[0] for row in cursor.fetchall())
            assert "journeys_action_code" not in plan_text, plan_text


def test_an_offer_sms_that_is_not_sent_yet_is_not_counted_as_made(plan):
    surfer = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=OFFER_START)
    used(surfer, {"2012-03": (30, 400, 10)})  # 28 days on file: about 443 MB a month
    cycle.cycle_run(
        as_of=clock.cycle_instant(day(OFFER_DAY - 1, OFFER_START) - dt.timedelta(days=1)), dispatch=False
    )
    assert not OfferChoice.objects.filter(customer=surfer).exists()  # the window has not opened
    cycle.cycle_run(as_of=clock.cycle_instant(day(OFFER_DAY, OFFER_START)), dispatch=False)
    message = JourneyAction.objects.get(journey__customer=surfer, action_code="vas_recommendation").sms
    assert message.status == MessageStatus.QUEUED and "3G流量包20元" in message.text


def test_the_offers_report_counts_made_accepted_and_taken_per_offer_and_city(plan, tmp_path, capsys):
    surfer = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=OFFER_START)
    used(surfer, {"2012-03": (30, 400, 10)})
    other = builders.customer(city_obj=plan["city"], package_code="A46", activated_on=OFFER_START)
    used(other, {"2012-03": (30, 400, 10)})
    cycle_and_send(OFFER_DAY)
    reply_receive(msisdn=surfer.msisdn, text="是", received_at=at(OFFER_DAY, 19))

    call_command("report", "offers", "--json", "--xlsx", str(tmp_path / "offers.xlsx"))
    doc = json.loads(capsys.readouterr().out)

    data20 = next(row for row in doc["offers"] if row["offer"] == "data20")
    assert (data20["made"], data20["accepted"], data20["taken"]) == (2, 1, 0)
    assert doc["cities"] == [
        {"city": "jinan", "name": plan["city"].name, "made": 2, "accepted": 1, "taken": 0, "take_up_rate": 0.0}
    ]
    assert doc["total"]["made"] == 2
    book = load_workbook(tmp_path / "offers.xlsx")
    assert book.sheetnames == ["offers", "cities"] and book["cities"]["A3"].value == "jinan"

    call_command("report", "offers")
    text = capsys.readouterr().out
    assert "data20" in text and "办理率" in text


def test_the_offers_report_refuses_a_folder_it_cannot_write(plan, tmp_path):
    with pytest.raises(CommandError, match="cannot write"):
        call_command("report", "offers", "--xlsx", str(tmp_path / "missing" / "offers.xlsx"))
