"""A batch of contact attempts (a dialler's end-of-day file) is recorded under the same rule as one
attempt at a time: `tasks_complete_bulk` ends where `task_complete` called row by row ends (runs on SQLite
and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.journeys import services
from onboard90.journeys.enums import RUNNING, ActionStatus, AttemptOutcome
from onboard90.journeys.models import JourneyAction, Task, TaskAttempt
from onboard90.journeys.tests.test_plan_walkthrough import DAY0, day, rate_vip, run
from onboard90.org.enums import Role

pytestmark = pytest.mark.django_db

NONE = {"closed": 0, "retried": 0, "skipped": 0, "refused": 0}
# A batch is entered as a dialler's end-of-day file is: a little after its last attempt.
ENTERED_AFTER = dt.timedelta(minutes=30)


def entered(completions) -> dt.datetime:
    return max(c[2] for c in completions) + ENTERED_AFTER


def at(n: int, hour: int = 11, minute: int = 0) -> dt.datetime:
    return clock.at_local(day(n), hour, minute)


def task_of(customer, code: str) -> Task:
    return Task.objects.select_related("action").get(journey__customer=customer, action__action_code=code)


def complete(*completions, source: str = "dialler", now: dt.datetime | None = None) -> dict[str, int]:
    now = now or (entered(completions) if completions else None)
    return services.tasks_complete_bulk(completions=list(completions), source=source, now=now)


def attempts_of(task: Task) -> list[tuple]:
    return list(TaskAttempt.objects.filter(task=task).order_by("pk").values_list("at", "outcome", "note", "by"))


@pytest.fixture
def customer(province):
    """A customer on day 4: the four store acts are overdue (one attempt each, due end of day 3), the
    first callback is open (three attempts, due end of day 10)."""
    customer = builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 4)
    return customer


@pytest.fixture
def callback(customer) -> Task:
    task = task_of(customer, "first_callback")
    assert (task.status, task.max_attempts, task.due_at) == (ActionStatus.OPEN, 3, clock.end_of_day(day(10)))
    return task


# --- the rule, one attempt at a time ----------------------------------------------------------------------


def test_a_reached_call_closes_the_task_done_and_the_act_done(province, callback):
    agent = province["agent"]

    assert complete((callback.pk, "reached", at(5), agent.pk)) == NONE | {"closed": 1}

    callback.refresh_from_db()
    assert (callback.status, callback.attempts, callback.outcome) == (ActionStatus.DONE, 1, "reached")
    assert (callback.completed_at, callback.completed_by) == (at(5), agent)
    act = JourneyAction.objects.get(pk=callback.action_id)
    assert (act.status, act.closed_at, act.reason) == (ActionStatus.DONE, at(5), "")
    assert attempts_of(callback) == [(at(5), "reached", "", agent.pk)]


def test_a_refused_call_also_closes_the_act_done(province, callback):
    complete((callback.pk, "refused", at(5), province["agent"].pk))

    callback.refresh_from_db()
    assert (callback.status, callback.outcome) == (ActionStatus.DONE, "refused")
    assert JourneyAction.objects.get(pk=callback.action_id).status == ActionStatus.DONE


def test_a_reached_customer_after_the_due_time_closes_the_act_done_late(province, customer):
    tariff = task_of(customer, "tariff_notice")
    assert tariff.status == ActionStatus.OVERDUE

    complete((tariff.pk, "reached", at(4, 16), province["clerk"].pk))

    tariff.refresh_from_db()
    assert (tariff.status, tariff.completed_at) == (ActionStatus.DONE_LATE, at(4, 16))
    assert JourneyAction.objects.get(pk=tariff.action_id).status == ActionStatus.DONE_LATE


def test_no_answer_keeps_the_task_running_and_counts_an_attempt(province, callback):
    agent = province["agent"]

    assert complete((callback.pk, "no_answer", at(5), agent.pk)) == NONE | {"retried": 1}

    callback.refresh_from_db()
    assert (callback.status, callback.attempts, callback.outcome) == (ActionStatus.OPEN, 1, "no_answer")
    assert (callback.completed_at, callback.completed_by) == (None, None)
    act = JourneyAction.objects.get(pk=callback.action_id)
    assert (act.status, act.closed_at, act.reason) == (ActionStatus.OPEN, None, "")
    assert attempts_of(callback) == [(at(5), "no_answer", "", agent.pk)]


def test_the_last_unanswered_attempt_closes_the_task_missed(province, callback):
    agent = province["agent"]

    counts = complete(
        (callback.pk, "no_answer", at(5, 9), agent.pk),
        (callback.pk, "busy", at(5, 14), agent.pk),
        (callback.pk, "no_answer", at(5, 20), agent.pk),
    )

    assert counts == NONE | {"retried": 2, "closed": 1}
    callback.refresh_from_db()
    assert (callback.status, callback.attempts, callback.outcome) == (ActionStatus.MISSED, 3, "no_answer")
    assert (callback.completed_at, callback.completed_by) == (at(5, 20), agent)
    assert callback.completion_entered_at == at(5, 20) + ENTERED_AFTER and not callback.backdated
    act = JourneyAction.objects.get(pk=callback.action_id)
    assert (act.status, act.closed_at, act.reason) == (ActionStatus.MISSED, at(5, 20), "unreachable")
    assert [outcome for _, outcome, _, _ in attempts_of(callback)] == ["no_answer", "busy", "no_answer"]


def test_attempts_spent_in_earlier_batches_count_towards_the_last_one(province, callback):
    agent = province["agent"].pk
    assert complete((callback.pk, "busy", at(5, 9), agent), (callback.pk, "no_answer", at(5, 15), agent)) == NONE | {
        "retried": 2
    }

    assert complete((callback.pk, "busy", at(7), agent)) == NONE | {"closed": 1}

    callback.refresh_from_db()
    assert (callback.status, callback.attempts) == (ActionStatus.MISSED, 3)
    assert JourneyAction.objects.get(pk=callback.action_id).reason == "unreachable"


def test_a_single_attempt_task_unanswered_once_is_missed(province, customer):
    club = task_of(customer, "club_recommendation")
    assert club.max_attempts == 1

    assert complete((club.pk, "busy", at(4, 15), province["clerk"].pk)) == NONE | {"closed": 1}

    club.refresh_from_db()
    assert (club.status, club.attempts) == (ActionStatus.MISSED, 1)
    assert JourneyAction.objects.get(pk=club.action_id).reason == "unreachable"


def test_a_wrong_number_closes_the_task_missed_at_once(province, callback):
    assert complete((callback.pk, "wrong_number", at(5), province["agent"].pk)) == NONE | {"closed": 1}

    callback.refresh_from_db()
    assert (callback.status, callback.attempts, callback.outcome) == (ActionStatus.MISSED, 1, "wrong_number")
    act = JourneyAction.objects.get(pk=callback.action_id)
    assert (act.status, act.closed_at, act.reason) == (ActionStatus.MISSED, at(5), "wrong_number")


# --- what is skipped --------------------------------------------------------------------------------------


def test_a_later_row_for_a_task_an_earlier_row_closed_is_skipped(province, callback):
    agent = province["agent"].pk

    counts = complete((callback.pk, "reached", at(5, 9), agent), (callback.pk, "no_answer", at(5, 10), agent))

    assert counts == NONE | {"closed": 1, "skipped": 1}
    callback.refresh_from_db()
    assert (callback.status, callback.attempts, callback.outcome, callback.completed_at) == (
        ActionStatus.DONE, 1, "reached", at(5, 9)
    )
    assert attempts_of(callback) == [(at(5, 9), "reached", "", agent)]


def test_a_task_closed_before_the_batch_is_skipped(province, callback):
    agent = province["agent"]
    services.task_complete(task=callback, outcome="reached", at=at(5), completed_by=agent, now=at(5))

    assert complete((callback.pk, "wrong_number", at(6), None)) == NONE | {"skipped": 1}

    callback.refresh_from_db()
    assert (callback.status, callback.attempts, callback.outcome, callback.completed_by) == (
        ActionStatus.DONE, 1, "reached", agent
    )
    assert JourneyAction.objects.get(pk=callback.action_id).status == ActionStatus.DONE
    assert attempts_of(callback) == [(at(5), "reached", "", agent.pk)]


def test_a_manual_account_manager_assignment_is_skipped_as_task_complete_refuses_it(province):
    qingdao = builders.city("qingdao")
    builders.staff("qd_boss", role=Role.SUPERVISOR, city_obj=qingdao)
    vip = builders.customer(city_obj=qingdao, activated_on=DAY0)
    rate_vip(vip, "gold", 2)
    run(province, 2)
    assignment = task_of(vip, "vip_manager_assignment")
    assert assignment.kind == "manual_assignment" and assignment.status in RUNNING
    with pytest.raises(ValueError):
        services.task_complete(
            task=assignment, outcome="reached", at=at(2, 15), completed_by=province["supervisor"], now=at(2, 15)
        )

    assert complete((assignment.pk, "reached", at(2, 15), None)) == NONE | {"skipped": 1}

    assignment.refresh_from_db()
    assert (assignment.status, assignment.attempts) == (ActionStatus.OPEN, 0)
    assert not TaskAttempt.objects.filter(task=assignment).exists()


def test_an_unknown_task_is_skipped_and_the_others_are_recorded(province, callback):
    missing = Task.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    agent = province["agent"].pk
    counts = complete((missing, "reached", at(5), agent), (callback.pk, "reached", at(5), agent))

    assert counts == NONE | {"closed": 1, "skipped": 1}
    assert TaskAttempt.objects.get().task_id == callback.pk


def test_an_unknown_outcome_refuses_the_whole_batch_and_writes_nothing(province, customer, callback):
    tariff = task_of(customer, "tariff_notice")

    with pytest.raises(ValueError, match="voicemail"):
        complete(
            (tariff.pk, "reached", at(4, 15), province["clerk"].pk), (callback.pk, "voicemail", at(5), None)
        )

    assert not TaskAttempt.objects.exists()
    assert not AuditEntry.objects.filter(verb="task.complete_bulk").exists()
    assert set(Task.objects.filter(pk__in=[tariff.pk, callback.pk]).values_list("status", "attempts")) == {
        (ActionStatus.OVERDUE, 0), (ActionStatus.OPEN, 0)
    }


def test_an_empty_batch_changes_nothing():
    assert complete() == NONE
    assert not AuditEntry.objects.exists()


def test_the_batch_is_audited_once_with_its_counts_and_source(province, customer, callback):
    tariff = task_of(customer, "tariff_notice")

    clerk, agent = province["clerk"].pk, province["agent"].pk
    counts = complete(
        (tariff.pk, "reached", at(4, 15), clerk), (callback.pk, "busy", at(5), agent), (tariff.pk, "busy", at(5), clerk),
        (callback.pk, "busy", at(5, 10), None),
        source="dialler-20120305",
    )

    entry = AuditEntry.objects.get(verb="task.complete_bulk")
    assert (entry.actor, entry.actor_label, entry.object_type) == (None, "dialler-20120305", "journeys.task")
    assert entry.after == counts == {"closed": 1, "retried": 1, "skipped": 1, "refused": 1}
    assert entry.at == clock.now() or entry.at <= clock.now()  # the real instant of the entry


# --- the same end as task_complete, row by row ------------------------------------------------------------

SETTINGS = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def end_state() -> dict[str, list]:
    """Every task, act and attempt row the two ways could write (attempts in the order they were written)."""
    return {
        "tasks": list(Task.objects.order_by("pk").values_list(
            "pk", "status", "attempts", "outcome", "note", "completed_at", "completed_by", "completion_entered_at",
            "backdated",
        )),
        "acts": list(JourneyAction.objects.order_by("pk").values_list("pk", "status", "closed_at", "reason")),
        "attempts": list(TaskAttempt.objects.order_by("pk").values_list("task", "at", "outcome", "note", "by")),
    }


def one_at_a_time(completions, users, now) -> dict[str, int]:
    """The same attempts through `task_complete`, entered at `now`: a task it finds not open (closed, or not an
    act's) is a skip; a row it refuses otherwise (no one named, out of scope, impossible or backdated time) is
    a refusal."""
    counts = dict(NONE)
    for task_id, outcome, when, user_id in completions:
        try:
            task = services.task_complete(
                task=Task(pk=task_id), outcome=outcome, at=when, completed_by=users.get(user_id), now=now
            )
        except services.TaskNotOpen:
            counts["skipped"] += 1
            continue
        except ValueError:  # TaskRefused, CompletionRefused
            counts["refused"] += 1
            continue
        counts["retried" if task.status in RUNNING else "closed"] += 1
    return counts


def tried(record, completions) -> tuple[dict, dict]:
    """What recording the completions leaves (counts, end state), rolled back afterwards."""
    with transaction.atomic():
        counts = record(completions)
        state = end_state()
        transaction.set_rollback(True)
    return counts, state


@pytest.fixture
def worklist(province):
    """Two customers' day-4 tasks (overdue store acts, open callbacks), one callback already closed by
    hand, and a manual account-manager assignment for a VIP in a city without managers."""
    first, second = (builders.customer(city_obj=province["city"], activated_on=DAY0) for _ in range(2))
    qingdao = builders.city("qingdao")
    builders.staff("qd_boss", role=Role.SUPERVISOR, city_obj=qingdao)
    vip = builders.customer(city_obj=qingdao, activated_on=DAY0)
    run(province, 0, 4, work=lambda n: rate_vip(vip, "gold", 2) if n == 1 else None)
    closed = task_of(second, "first_callback")
    services.task_complete(task=closed, outcome="busy", at=at(4, 12), completed_by=province["agent"], now=at(4, 12))
    services.task_complete(task=closed, outcome="reached", at=at(4, 13), completed_by=province["agent"], now=at(4, 13))
    assignment = task_of(vip, "vip_manager_assignment")
    assert assignment.kind == "manual_assignment" and assignment.status in RUNNING
    tasks = list(Task.objects.order_by("pk").values_list("pk", flat=True))
    users = {
        user.pk: user for user in (province["agent"], province["clerk"], province["manager"], province["supervisor"])
    }
    return {"tasks": tasks, "users": users, "customer": first, "closed": closed, "assignment": assignment}


def test_a_batch_ends_where_the_same_attempts_one_at_a_time_end(worklist):
    tasks, users = worklist["tasks"], worklist["users"]
    callback = task_of(worklist["customer"], "first_callback").pk
    tariff = task_of(worklist["customer"], "tariff_notice").pk
    closed = worklist["closed"].pk
    # a few tasks drawn often, so that attempts pile up on the same task within a batch
    often = [callback, tariff, closed, worklist["assignment"].pk]
    assert {t.status for t in Task.objects.filter(pk__in=tasks)} >= {"open", "overdue", "done"}
    before = end_state()
    agent, clerk = list(users)[:2]
    attempt = st.tuples(
        st.one_of(st.sampled_from(often), st.sampled_from(tasks)),
        st.sampled_from(AttemptOutcome.values),
        st.integers(3, 12),  # days: before, on and after the store acts' (3) and the callbacks' (10) due days
        st.integers(8, 21),
        st.integers(0, 59),
        st.integers(0, 999_999),
        st.sampled_from([None, *users]),
    )

    @SETTINGS
    @given(st.lists(attempt, min_size=1, max_size=14))
    @example([(callback, "no_answer", 5, 9, 0, 0, agent), (callback, "busy", 5, 14, 0, 0, agent),
              (callback, "no_answer", 6, 10, 0, 0, None), (callback, "reached", 6, 11, 0, 0, agent),
              (tariff, "reached", 4, 15, 0, 0, clerk), (tariff, "wrong_number", 4, 16, 0, 0, clerk),
              (closed, "reached", 5, 9, 0, 0, agent)])
    def same_end(drawn):
        completions = [
            (task, outcome, clock.at_local(day(n), hour, minute).replace(microsecond=micro), user)
            for task, outcome, n, hour, minute, micro, user in drawn
        ]
        now = entered(completions)
        bulk = tried(lambda c: services.tasks_complete_bulk(completions=c, source="test", now=now), completions)
        single = tried(lambda c: one_at_a_time(c, users, now), completions)
        assert bulk[1] == single[1], completions
        assert bulk[0] == single[0], completions
        assert sum(bulk[0].values()) == len(completions)

    same_end()
    assert end_state() == before  # every example was rolled back
