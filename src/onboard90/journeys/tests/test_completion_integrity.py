"""Completion times that cannot lie (完成时间不可作假): a completion names its actor, is bounded by when its
task existed and the real instant it is entered, is backdated past the grace (a supervisor's, with a
reason), and a closed outcome changes only by a supervisor's correction that keeps the first record."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.journeys import services
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import Escalation, JourneyAction, Task, TaskAttempt
from onboard90.journeys.rules.tasks import CompletionRefused, completion_timing
from onboard90.journeys.tests.test_plan_walkthrough import DAY0, day, run
from onboard90.org.enums import Role

GRACE = dt.timedelta(hours=24)


def at(n: int, hour: int = 11, minute: int = 0) -> dt.datetime:
    return clock.at_local(day(n), hour, minute)


# --- the rule, without a database -------------------------------------------------------------------------

instants = st.datetimes(min_value=dt.datetime(2012, 1, 1), max_value=dt.datetime(2012, 12, 31)).map(
    lambda d: d.replace(tzinfo=clock.OPERATOR_TZ)
)


@given(claimed=instants, entered=instants, created=instants)
def test_a_completion_is_refused_outside_its_task_and_backdated_only_past_the_grace(claimed, entered, created):
    if claimed > entered or claimed < created:
        with pytest.raises(CompletionRefused):
            completion_timing(claimed_at=claimed, entered_at=entered, created_at=created, grace=GRACE)
    else:
        backdated = completion_timing(claimed_at=claimed, entered_at=entered, created_at=created, grace=GRACE)
        assert backdated == (entered - claimed > GRACE)


# --- through the service ----------------------------------------------------------------------------------


@pytest.fixture
def overdue_tariff_notice(province):
    """The store's tariff notice (due end of day 3), overdue and escalated to the supervisor on day 4."""
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 4)
    task = Task.objects.select_related("owner_unit").get(journey__customer=customer, action__action_code="tariff_notice")
    assert task.status == ActionStatus.OVERDUE and Escalation.objects.filter(task=task).exists()
    return task


@pytest.mark.django_db
def test_an_overdue_task_backdated_to_before_its_due_time_days_later_is_refused_for_the_clerk(
    province, overdue_tariff_notice
):
    with pytest.raises(services.TaskRefused, match="supervisor"):
        services.task_complete(
            task=overdue_tariff_notice, outcome="reached", completed_by=province["clerk"], at=at(2, 10), now=at(9, 10)
        )
    overdue_tariff_notice.refresh_from_db()
    assert overdue_tariff_notice.status == ActionStatus.OVERDUE and not TaskAttempt.objects.exists()


@pytest.mark.django_db
def test_the_supervisor_may_enter_a_backdated_completion_only_with_a_reason_and_it_stays_marked(
    province, overdue_tariff_notice
):
    boss = province["supervisor"]
    with pytest.raises(services.TaskRefused, match="reason"):
        services.task_complete(task=overdue_tariff_notice, outcome="reached", completed_by=boss, at=at(2, 10), now=at(9))

    task = services.task_complete(
        task=overdue_tariff_notice, outcome="reached", completed_by=boss, at=at(2, 10), now=at(9),
        reason="营业厅纸质登记表，系统故障未能当日录入",
    )

    assert (task.status, task.backdated, task.completed_at, task.completion_entered_at) == (
        ActionStatus.DONE, True, at(2, 10), at(9)
    )
    assert task.completion_reason == "营业厅纸质登记表，系统故障未能当日录入"


@pytest.mark.django_db
def test_yesterdays_paper_sheet_entered_within_the_grace_counts_as_it_happened(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 1)
    task = Task.objects.get(journey__customer=customer, action__action_code="tariff_notice")

    task = services.task_complete(
        task=task, outcome="reached", completed_by=province["clerk"], at=at(0, 16), now=at(1, 9, 30)
    )

    assert (task.status, task.backdated, task.completed_at) == (ActionStatus.DONE, False, at(0, 16))


@pytest.mark.django_db
def test_a_completion_before_the_task_existed_or_after_now_is_refused(province, overdue_tariff_notice):
    clerk = province["clerk"]
    with pytest.raises(CompletionRefused, match="before the task existed"):
        services.task_complete(
            task=overdue_tariff_notice, outcome="reached", completed_by=clerk, at=at(0, 8), now=at(4, 10)
        )
    with pytest.raises(CompletionRefused, match="later than now"):
        services.task_complete(
            task=overdue_tariff_notice, outcome="reached", completed_by=clerk, at=at(4, 12), now=at(4, 10)
        )
    assert not TaskAttempt.objects.exists()


@pytest.mark.django_db
def test_a_completion_names_its_actor(province, overdue_tariff_notice):
    with pytest.raises(services.TaskRefused, match="name who did it"):
        services.task_complete(task=overdue_tariff_notice, outcome="no_answer", completed_by=None, now=at(4, 12))
    overdue_tariff_notice.refresh_from_db()
    assert overdue_tariff_notice.status == ActionStatus.OVERDUE


@pytest.mark.django_db
def test_the_audit_entry_carries_the_real_instant_beside_the_claimed_time(province):
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 1)
    task = Task.objects.get(journey__customer=customer, action__action_code="tariff_notice")
    before = clock.now()

    services.task_complete(task=task, outcome="reached", completed_by=province["clerk"], at=at(0, 16), now=at(1, 9))

    entry = AuditEntry.objects.get(verb="task.complete")
    assert entry.claimed_at == at(0, 16)
    assert before <= entry.at <= clock.now()  # when the row was really written, not the claimed or given time
    assert entry.actor == province["clerk"] and entry.after["backdated"] is False


# --- corrections ------------------------------------------------------------------------------------------


@pytest.fixture
def unreachable_callback(province):
    """A first callback closed missed by the agent's three unanswered calls on day 5."""
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 5)
    task = Task.objects.select_related("owner_unit").get(journey__customer=customer, action__action_code="first_callback")
    for minute in (0, 10, 20):
        services.task_complete(
            task=task, outcome="no_answer", completed_by=province["agent"], at=at(5, 10, minute), now=at(5, 11)
        )
    task.refresh_from_db()
    assert task.status == ActionStatus.MISSED
    return task


@pytest.mark.django_db
def test_a_closed_outcome_cannot_be_completed_again(province, unreachable_callback):
    with pytest.raises(services.TaskNotOpen, match="correct"):
        services.task_complete(
            task=unreachable_callback, outcome="reached", completed_by=province["agent"], at=at(5, 12), now=at(5, 12)
        )


@pytest.mark.django_db
def test_only_the_supervisor_corrects_a_closed_outcome_and_the_first_record_is_kept(province, unreachable_callback):
    with pytest.raises(services.TaskRefused, match="supervisor"):
        services.task_correct(
            task=unreachable_callback, outcome="reached", corrected_by=province["agent"], reason="客户回电", now=at(6)
        )
    with pytest.raises(services.TaskRefused, match="reason"):
        services.task_correct(
            task=unreachable_callback, outcome="reached", corrected_by=province["supervisor"], reason=" ", now=at(6)
        )

    task = services.task_correct(
        task=unreachable_callback, outcome="reached", corrected_by=province["supervisor"],
        reason="客户当日回电，已解答", at=at(5, 16), now=at(6, 9),
    )

    assert (task.status, task.outcome, task.completed_at, task.corrected_at) == (
        ActionStatus.DONE, "reached", at(5, 16), at(6, 9)
    )
    assert task.backdated is False and task.completed_by == province["agent"]
    assert JourneyAction.objects.get(pk=task.action_id).status == ActionStatus.DONE
    log = list(TaskAttempt.objects.filter(task=task).values_list("outcome", "by"))
    assert log == [("no_answer", province["agent"].pk)] * 3 + [("reached", province["supervisor"].pk)]
    verbs = list(AuditEntry.objects.filter(object_id=str(task.pk)).order_by("id").values_list("verb", flat=True))
    assert verbs == ["task.complete"] * 3 + ["task.correct"]
    correction = AuditEntry.objects.get(verb="task.correct")
    assert correction.before["status"] == "missed" and correction.after["status"] == "done"
    assert correction.after["reason"] == "客户当日回电，已解答"


@pytest.mark.django_db
def test_a_correction_long_after_the_fact_is_backdated(province, unreachable_callback):
    task = services.task_correct(
        task=unreachable_callback, outcome="reached", corrected_by=province["supervisor"], reason="核实录音",
        at=at(5, 16), now=at(20, 9),
    )
    assert task.backdated is True and task.status == ActionStatus.DONE


@pytest.mark.django_db
def test_a_running_task_is_not_corrected_but_completed(province, overdue_tariff_notice):
    with pytest.raises(services.TaskRefused, match="only a done"):
        services.task_correct(
            task=overdue_tariff_notice, outcome="reached", corrected_by=province["supervisor"], reason="x", now=at(4)
        )


@pytest.mark.django_db
def test_a_supervisor_of_another_city_may_not_correct(province, unreachable_callback):
    qingdao_boss = builders.staff("qd_boss", role=Role.SUPERVISOR, city_obj=builders.city("qingdao"))
    with pytest.raises(services.TaskRefused, match="supervisor"):
        services.task_correct(
            task=unreachable_callback, outcome="reached", corrected_by=qingdao_boss, reason="x", now=at(6)
        )


@pytest.mark.django_db
def test_the_admin_shows_a_backdated_completion_and_the_audits_real_and_claimed_times(province, overdue_tariff_notice, client):
    services.task_complete(
        task=overdue_tariff_notice, outcome="reached", completed_by=province["supervisor"], at=at(2, 10),
        now=at(9), reason="纸质登记表",
    )
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("root", password="x" * 12))
    tasks = client.get("/admin/journeys/task/?backdated__exact=1")
    assert tasks.status_code == 200 and f">{overdue_tariff_notice.pk}<" in tasks.content.decode()
    audit = client.get("/admin/core/auditentry/?verb=task.complete")
    assert audit.status_code == 200 and "task.complete" in audit.content.decode()
