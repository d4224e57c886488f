"""Real customers walked through the plan, day by day, with the daily cycle (runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.customers import services as customer_services
from onboard90.journeys import cycle, selectors, services
from onboard90.journeys.enums import ActionStatus, JourneyStatus
from onboard90.journeys.models import Escalation, Journey, JourneyAction, Task
from onboard90.messaging.models import OutboxMessage
from onboard90.org.enums import Role
from onboard90.org.models import StaffProfile

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)


def day(n: int) -> dt.date:
    return DAY0 + dt.timedelta(days=n)


def run(province, first: int, last: int | None = None, *, work=None) -> None:
    """Run the cycle for days first..last; `work(day_number)` may complete tasks after each cycle."""
    for n in range(first, (first if last is None else last) + 1):
        cycle.cycle_run(as_of=clock.cycle_instant(day(n)), gateway=province["gateway"])
        if work:
            work(n)


@pytest.fixture(autouse=True)
def dispatch_at_the_cycles_instant(monkeypatch):
    builders.dispatch_at_the_cycles_instant(monkeypatch)


def status(customer, code: str) -> str | None:
    row = JourneyAction.objects.filter(journey__customer=customer, action_code=code).first()
    return row.status if row else None


def complete_everything(customer, *, on_day: int, outcome: str = "reached") -> None:
    """The city's supervisor (who may act on every task of the city) records the day's work as it happens."""
    supervisor = StaffProfile.objects.get(role=Role.SUPERVISOR, city=customer.city).user
    at = clock.at_local(day(on_day), 15)
    for task in Task.objects.filter(journey__customer=customer, status__in=["open", "overdue"]):
        services.task_complete(task=task, outcome=outcome, at=at, completed_by=supervisor, now=at)


def rate_vip(customer, tier: str, on_day: int) -> None:
    customer_services.customer_rate_vip(
        customer=customer, tier=builders.vip_tier(tier), rated_at=clock.at_local(day(on_day), 8)
    )


def test_ordinary_postpaid_customer_gets_every_applicable_act_and_the_journey_completes(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)

    def work(n):
        complete_everything(customer, on_day=n)
        if n == 20:
            customer_services.customer_record_bill(
                customer=customer, bill_month="2012-03", issued_at=clock.at_local(day(20), 7), amount="58.50"
            )

    run(province, 0, 91, work=work)

    journey = Journey.objects.get(customer=customer)
    assert journey.status == JourneyStatus.COMPLETED
    for code in ("tariff_notice", "contract_terms_notice", "club_recommendation", "internet_coaching", "first_callback"):
        assert status(customer, code) == ActionStatus.DONE, code
    for code in ("channels_notice", "billing_notice", "data_usage_notice", "first_bill_notice", "onboarding_survey"):
        assert status(customer, code) == ActionStatus.DONE, code  # delivered by SMS
    for code in ("tier_benefits_notice", "vip_manager_assignment", "vip_first_callback", "number_change_coaching"):
        assert status(customer, code) == ActionStatus.NOT_APPLICABLE, code
    # every act of the playbook has an outcome, none is left running
    assert not JourneyAction.objects.filter(journey=journey, status__in=["open", "overdue"]).exists()
    assert JourneyAction.objects.filter(journey=journey).count() == 17
    texts = [text for msisdn, text in province["gateway"].sent if msisdn == customer.msisdn]
    tariff = OutboxMessage.objects.get(action__journey=journey, action__action_code="tariff_notice").text
    assert tariff in texts and "66" in tariff and tariff.startswith("【中国联通】")
    assert "58.5" in OutboxMessage.objects.get(action__journey=journey, action__action_code="first_bill_notice").text


def test_first_stage_tasks_go_to_the_activating_store_and_the_callback_to_the_call_centre(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0)
    store_tasks = Task.objects.filter(journey__customer=customer, action__stage=1)
    assert {t.owner_unit.code for t in store_tasks} == {"jinan-store-1"}
    assert {t.action.action_code for t in store_tasks} == {
        "tariff_notice", "contract_terms_notice", "club_recommendation", "internet_coaching"
    }
    run(province, 4)
    callback = Task.objects.get(journey__customer=customer, action__action_code="first_callback")
    assert callback.owner_unit.code == "jinan-cc"
    assert callback.due_at == clock.end_of_day(day(10))


def test_prepaid_customer_never_gets_the_first_bill_notice(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0, product="prepaid", package_code="P20")
    run(province, 0, 91, work=lambda n: complete_everything(customer, on_day=n))
    assert status(customer, "first_bill_notice") == ActionStatus.NOT_APPLICABLE
    assert status(customer, "package_fit_coaching") == ActionStatus.NOT_APPLICABLE
    assert status(customer, "onboarding_survey") == ActionStatus.DONE


def test_vip_rated_on_day_0_is_assigned_a_manager_and_never_gets_the_ordinary_callback(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    rate_vip(customer, "gold", 0)
    run(province, 0)
    customer.refresh_from_db()
    assert customer.account_manager == province["manager"]
    assert customer.manager_assigned_on == day(0)
    assert status(customer, "vip_manager_assignment") == ActionStatus.DONE
    vip_call = Task.objects.get(journey__customer=customer, action__action_code="vip_first_callback")
    assert vip_call.assignee == province["manager"]
    assert vip_call.due_at == clock.end_of_day(day(7))
    tier_task = Task.objects.get(journey__customer=customer, action__action_code="tier_benefits_notice")
    assert tier_task.assignee == province["manager"]
    run(province, 1, 91, work=lambda n: complete_everything(customer, on_day=n))
    assert status(customer, "first_callback") == ActionStatus.NOT_APPLICABLE
    assert status(customer, "vip_first_callback") == ActionStatus.DONE


def test_vip_rated_on_day_7_supersedes_the_open_ordinary_callback(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 6)
    assert status(customer, "first_callback") == ActionStatus.OPEN
    rate_vip(customer, "silver", 7)
    run(province, 7)
    assert status(customer, "first_callback") == ActionStatus.SUPERSEDED
    task = Task.objects.get(journey__customer=customer, action__action_code="first_callback")
    assert task.status == ActionStatus.SUPERSEDED
    assert status(customer, "vip_first_callback") == ActionStatus.OPEN
    # never both calls in the same week: only the VIP call is on anyone's worklist
    running = Task.objects.filter(journey__customer=customer, status__in=["open", "overdue"], action__stage=2)
    assert [t.action.action_code for t in running] == ["vip_first_callback"]


def test_vip_rated_late_gets_ordinary_callback_first_then_the_vip_clocks(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 14, work=lambda n: complete_everything(customer, on_day=n) if n == 5 else None)
    assert status(customer, "first_callback") == ActionStatus.DONE
    rate_vip(customer, "diamond", 15)
    run(province, 15)
    customer.refresh_from_db()
    assert customer.manager_assigned_on == day(15)  # within 3 days of the rating
    assert status(customer, "vip_manager_assignment") == ActionStatus.DONE
    vip_call = Task.objects.get(journey__customer=customer, action__action_code="vip_first_callback")
    assert vip_call.due_at == clock.end_of_day(day(22))  # within 7 days of the assignment
    assert status(customer, "first_callback") == ActionStatus.DONE  # not superseded after the fact


def test_vip_in_a_city_without_account_manager_goes_to_the_supervisor_until_one_is_added(province):
    qingdao = builders.city("qingdao")
    boss = builders.staff("qd_boss", role=Role.SUPERVISOR, city_obj=qingdao)
    customer = builders.customer(city_obj=qingdao, activated_on=DAY0)
    rate_vip(customer, "gold", 2)
    run(province, 2)
    task = Task.objects.get(journey__customer=customer, action__action_code="vip_manager_assignment")
    assert task.kind == "manual_assignment" and task.owner_unit.code == "qingdao-am"
    assert Escalation.objects.get(task=task).supervisor == boss
    manager = builders.staff("qd_manager", role=Role.ACCOUNT_MANAGER, city_obj=qingdao)
    run(province, 3)
    customer.refresh_from_db()
    assert customer.account_manager == manager
    task.refresh_from_db()
    assert task.status == ActionStatus.DONE
    assert status(customer, "vip_manager_assignment") == ActionStatus.DONE


def test_account_managers_are_load_balanced_within_the_city(province):
    second = builders.staff("manager2", role=Role.ACCOUNT_MANAGER, city_obj=province["city"])
    vips = [builders.customer(city_obj=province["city"], activated_on=DAY0) for _ in range(4)]
    for customer in vips:
        rate_vip(customer, "gold", 1)
    run(province, 1)
    managers = [type(c).objects.get(pk=c.pk).account_manager for c in vips]
    assert managers.count(province["manager"]) == 2 and managers.count(second) == 2


def test_number_changer_gets_number_change_coaching_others_do_not(province):
    changer = builders.customer(
        city_obj=province["city"], activated_on=DAY0, previous_msisdn="13012345678", number_changed=True
    )
    other = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0)
    assert status(changer, "number_change_coaching") == ActionStatus.OPEN
    assert Task.objects.get(journey__customer=changer, action__action_code="number_change_coaching").owner_unit.code == "jinan-store-1"
    assert status(other, "number_change_coaching") is None


def test_number_change_recorded_on_day_2_opens_the_coaching_that_day_with_its_store_task(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 1)
    assert status(customer, "number_change_coaching") is None
    assert status(customer, "tariff_notice") == ActionStatus.OPEN  # its group mates opened on day 0
    customer.previous_msisdn, customer.number_changed = "13012345678", True
    customer.save(update_fields=["previous_msisdn", "number_changed"])
    run(province, 2)
    row = JourneyAction.objects.get(journey__customer=customer, action_code="number_change_coaching")
    assert row.status == ActionStatus.OPEN and row.opened_at == clock.cycle_instant(day(2))
    assert row.window_end == day(3)
    assert Task.objects.get(action=row).owner_unit.code == "jinan-store-1"
    assert JourneyAction.objects.filter(journey__customer=customer, action_code="tariff_notice").count() == 1


def test_cancellation_on_day_20_exits_the_journey_and_cancels_open_work(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 19)
    assert Task.objects.filter(journey__customer=customer, status__in=["open", "overdue"]).exists()
    customer_services.customer_cancel(customer=customer, at=clock.at_local(day(20), 8))
    run(province, 20, 40)
    journey = Journey.objects.get(customer=customer)
    assert journey.status == JourneyStatus.EXITED
    assert not Task.objects.filter(journey=journey, status__in=["open", "overdue"]).exists()
    assert not JourneyAction.objects.filter(journey=journey, status__in=["open", "overdue"]).exists()
    assert status(customer, "vas_recommendation") == ActionStatus.CANCELLED
    sent_after = [m for m in OutboxMessage.objects.filter(action__journey=journey) if m.sent_at and m.sent_at > clock.at_local(day(20), 8)]
    assert sent_after == []


def _snapshot():
    """Everything the engine wrote, keyed by customer and act, without surrogate ids or wall-clock times."""
    actions = sorted(
        JourneyAction.objects.values_list(
            "journey__customer__msisdn", "action_code", "occurrence", "status", "window_start", "window_end", "reason"
        )
    )
    tasks = sorted(
        Task.objects.values_list("journey__customer__msisdn", "action__action_code", "status", "owner_unit__code", "assignee__username")
    )
    sms = sorted(OutboxMessage.objects.values_list("msisdn", "action__action_code", "status", "text"))
    escalations = sorted(Escalation.objects.values_list("task__action__action_code", "task__journey__customer__msisdn", "reason"))
    return actions, tasks, sms, escalations


def test_running_the_same_date_twice_changes_nothing(province):
    for n in range(3):
        builders.customer(city_obj=province["city"], activated_on=day(n))
    run(province, 0, 12)
    before = _snapshot()
    sent = len(province["gateway"].sent)
    run(province, 12)
    assert _snapshot() == before
    assert len(province["gateway"].sent) == sent


def test_a_skipped_week_is_caught_up_missed_acts_recorded_and_their_sms_never_sent(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    # the system was down from day 0 to day 8: stage-1 windows (days 0-3) went by unseen
    run(province, 9)
    for code in ("tariff_notice", "channels_notice", "billing_notice", "internet_coaching"):
        assert status(customer, code) == ActionStatus.MISSED, code
    assert not OutboxMessage.objects.filter(action__journey__customer=customer, action__action_code="channels_notice").exists()
    assert not Task.objects.filter(journey__customer=customer, action__action_code="tariff_notice").exists()
    # the callback window (days 4-10) is still open: it opens now, late but in time
    assert status(customer, "first_callback") == ActionStatus.OPEN


def test_an_sms_whose_window_closed_before_dispatch_is_recorded_missed_not_sent(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    # a cycle at 22:00 queues messages but quiet hours hold them until 08:00 next day
    cycle.cycle_run(as_of=clock.at_local(day(3), 22), gateway=province["gateway"])
    assert province["gateway"].sent == []
    queued = OutboxMessage.objects.get(action__journey__customer=customer, action__action_code="channels_notice")
    assert queued.status == "queued" and queued.not_after == clock.end_of_day(day(3))
    run(province, 4)
    queued.refresh_from_db()
    assert queued.status == "missed"
    assert status(customer, "channels_notice") == ActionStatus.MISSED
    assert province["gateway"].sent == []


def test_a_crash_in_the_middle_of_a_cycle_then_a_rerun_loses_nothing_and_doubles_nothing(province, monkeypatch):
    from onboard90.journeys import engine

    customers = [builders.customer(city_obj=province["city"], activated_on=day(n % 5)) for n in range(10)]
    rate_vip(customers[0], "gold", 4)
    run(province, 0, 8)
    clean = _snapshot()

    # Same history again, but the day-8 cycle dies half-way through creating tasks.
    from onboard90.customers.models import Customer
    from onboard90.journeys.models import CycleRun

    Escalation.objects.all().delete()
    OutboxMessage.objects.all().delete()
    Task.objects.all().delete()
    JourneyAction.objects.all().delete()
    CycleRun.objects.all().delete()
    Customer.objects.update(account_manager=None, manager_assigned_at=None, manager_assigned_on=None)
    province["gateway"].sent.clear()
    run(province, 0, 7)
    real_create_tasks = engine.create_tasks
    calls = {"n": 0}

    def dying(**kwargs):
        calls["n"] += 1
        if calls["n"] == 8:
            raise RuntimeError("power cut")
        return real_create_tasks(**kwargs)

    monkeypatch.setattr(engine, "create_tasks", dying)
    with pytest.raises(RuntimeError):
        run(province, 8)
    monkeypatch.setattr(engine, "create_tasks", real_create_tasks)
    assert CycleRun.objects.filter(status="failed").count() == 1
    run(province, 8)
    assert _snapshot() == clean


def test_an_overdue_task_is_escalated_once_to_the_city_supervisor(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 5)
    task = Task.objects.get(journey__customer=customer, action__action_code="tariff_notice")
    assert task.status == ActionStatus.OVERDUE
    escalation = Escalation.objects.get(task=task)
    assert escalation.supervisor == province["supervisor"] and escalation.reason == "overdue"
    assert Escalation.objects.filter(task=task).count() == 1
    at = clock.at_local(day(5), 16)
    services.task_complete(task=task, outcome="reached", at=at, completed_by=province["clerk"], now=at)
    assert status(customer, "tariff_notice") == ActionStatus.DONE_LATE


def test_no_answer_keeps_the_callback_open_until_its_attempts_are_spent(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 4)
    task = Task.objects.get(journey__customer=customer, action__action_code="first_callback")
    assert task.max_attempts == 3
    at = clock.at_local(day(4), 11)
    services.task_complete(task=task, outcome="no_answer", at=at, completed_by=province["agent"], now=at)
    services.task_complete(task=task, outcome="busy", at=at, completed_by=province["agent"], now=at)
    task.refresh_from_db()
    assert task.status == ActionStatus.OPEN and task.attempts == 2
    services.task_complete(task=task, outcome="no_answer", at=at, completed_by=province["agent"], now=at)
    task.refresh_from_db()
    assert task.status == ActionStatus.MISSED
    assert task.attempt_log.count() == 3
    with pytest.raises(ValueError):
        services.task_complete(task=task, outcome="reached", at=at, completed_by=province["agent"], now=at)


def test_a_new_playbook_version_applies_only_to_journeys_that_start_after_it(province):
    old = builders.customer(city_obj=province["city"], activated_on=DAY0)
    document = builders.playbook_version().document  # a second, identical publish just to get a copy
    document = {**document}
    stages = [dict(stage) for stage in document["stages"]]
    stages[0] = {**stages[0], "actions": [a for a in stages[0]["actions"] if a["code"] != "club_recommendation"]}
    document["stages"] = stages
    document["city_overrides"] = {}
    document["name"] = "试行方案修订版"
    newer = builders.playbook_version(document)
    new = builders.customer(city_obj=province["city"], activated_on=DAY0)
    assert old.journey.playbook_version != newer and new.journey.playbook_version == newer
    run(province, 0)
    assert status(old, "club_recommendation") == ActionStatus.OPEN
    assert status(new, "club_recommendation") is None


def test_journey_document_lists_opened_and_pending_acts(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0)
    doc = selectors.journey_document(msisdn=customer.msisdn, as_of=clock.cycle_instant(day(0)))
    assert doc["day"] == 0 and doc["stage"] == 1 and doc["status"] == "active" and doc["vip"] is False
    by_code = {a["code"]: a for a in doc["actions"]}
    assert by_code["tariff_notice"]["status"] == "open"
    assert {"kind": "task", "status": "open", "backdated": False} in by_code["tariff_notice"]["deliveries"]
    assert by_code["tariff_notice"]["owner_unit"] == "jinan-store-1"
    assert by_code["first_callback"]["status"] == "pending"
    assert by_code["first_callback"]["window_start"] == "2012-03-05"
    assert "vip_first_callback" not in by_code  # no anchor yet (no manager assigned)
    assert "number_change_coaching" not in by_code  # audience does not hold


def test_every_reference_the_engine_wrote_points_to_a_row_and_a_broken_one_is_reported(province):
    """The engine's references are unchecked by the database (journeys.models.ENGINE_WRITTEN): `integrity` proves them."""
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.db import connection

    for _ in range(3):
        builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 6)
    found = selectors.dangling_references()
    assert "journeys_journeyaction.journey_id" in found and "messaging_outboxmessage.action_id" in found
    assert {"journeys_journeyaction.customer_id", "journeys_task.customer_id", "journeys_taskattempt.task_id"} <= set(found)
    assert set(found.values()) == {0}
    assert Task.objects.exists() and OutboxMessage.objects.exists()

    victim = Task.objects.order_by("pk").first()
    with connection.cursor() as cursor:  # what no code path does: remove an act under its task
        cursor.execute("DELETE FROM journeys_journeyaction WHERE id = %s", [victim.action_id])
    found = selectors.dangling_references()
    assert found["journeys_task.action_id"] == 1
    with pytest.raises(CommandError, match="journeys_task.action_id=1"):
        call_command("integrity", "--json")
