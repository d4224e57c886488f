"""The scheduled jobs without a broker: the named schedules, the SLA scan between cycles, one fanned-out cycle at a
time, a piece run twice, and the `cycle-daily` job's plan and refusals (Celery's tasks called in this process)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, OperationalError, connection, transaction
from django_celery_beat.models import PeriodicTask

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle, tasks
from onboard90.journeys import services as journeys_services
from onboard90.journeys.enums import CycleStatus
from onboard90.journeys.models import CyclePiece, CycleRun, JourneyAction, Task
from onboard90.journeys.schedules import schedules_install

pytestmark = pytest.mark.django_db

DAY = dt.date(2012, 3, 1)


def test_the_named_schedules_are_created_once_and_an_operators_edit_is_kept():
    assert schedules_install() == {"created": 4, "unchanged": 0}
    jobs = {job.name: job for job in PeriodicTask.objects.all()}
    assert set(jobs) == {"cycle-daily", "outbox-dispatch", "sla-scan", "partitions-ahead"}
    assert jobs["partitions-ahead"].task == "onboard90.partitions_ahead"
    daily = jobs["cycle-daily"]
    assert daily.task == "onboard90.cycle_daily" and (daily.crontab.hour, daily.crontab.minute) == ("9", "0")
    assert str(daily.crontab.timezone) == "Asia/Shanghai"
    assert jobs["outbox-dispatch"].interval.every == 60
    daily.enabled = False  # the operator switches the daily cycle off in the admin
    daily.save()

    assert schedules_install() == {"created": 0, "unchanged": 4}
    assert not PeriodicTask.objects.get(name="cycle-daily").enabled


def test_the_sla_scan_escalates_late_tasks_between_cycles_once_and_leaves_them_to_a_running_cycle(province):
    builders.customer(city_obj=province["city"], activated_on=DAY)
    cycle.cycle_run(as_of=clock.cycle_instant(DAY), gateway=province["gateway"])
    open_tasks = Task.objects.filter(status="open")
    late_at = max(open_tasks.values_list("due_at", flat=True)) + dt.timedelta(seconds=1)
    assert open_tasks.exists()

    with builders.held_elsewhere("cycle"):
        assert cycle.sla_scan(as_of=late_at) == {"busy": 1, "overdue": 0, "escalated": 0}
    assert Task.objects.filter(status="overdue").count() == 0

    scanned = cycle.sla_scan(as_of=late_at)
    assert scanned["busy"] == 0 and scanned["overdue"] == Task.objects.filter(status="overdue").count() > 0
    assert JourneyAction.objects.filter(status="overdue").count() == scanned["overdue"]
    assert cycle.sla_scan(as_of=late_at) == {"busy": 0, "overdue": 0, "escalated": 0}


def test_a_fanned_out_cycle_refuses_another_while_its_pieces_move_and_a_lost_one_is_recorded_failed(province):
    builders.customer(city_obj=province["city"], activated_on=DAY)
    as_of = clock.cycle_instant(DAY)
    fanned = cycle.cycle_start(as_of=as_of)
    assert fanned.on_workers and fanned.status == CycleStatus.RUNNING
    assert cycle.stage_pieces(run_id=fanned.pk, stage=0)

    with pytest.raises(cycle.CycleBusy, match="running on the workers"):
        cycle.cycle_run(as_of=as_of, gateway=province["gateway"])
    assert CycleRun.objects.count() == 1

    # Nothing moved for longer than the lease: its broker messages are taken as lost.
    long_ago = clock.now() - dt.timedelta(hours=3)
    CycleRun.objects.filter(pk=fanned.pk).update(started_at=long_ago)
    CyclePiece.objects.filter(run=fanned).exclude(finished_at=None).update(finished_at=long_ago)
    run = cycle.cycle_run(as_of=as_of, gateway=province["gateway"])
    assert run.status == CycleStatus.FINISHED and run.counts["opened"] > 0
    fanned.refresh_from_db()
    assert fanned.status == CycleStatus.FAILED and fanned.counts == {"interrupted": True}

    # A piece of the lost cycle delivered late does nothing.
    late = CyclePiece.objects.filter(run=fanned, finished_at=None).first()
    acts = JourneyAction.objects.count()
    with pytest.raises(cycle.CycleAbandoned):
        cycle.piece_run(run_id=fanned.pk, name=late.name)
    assert JourneyAction.objects.count() == acts


def test_a_piece_run_twice_writes_once_and_returns_what_it_recorded(province):
    builders.customer(city_obj=province["city"], activated_on=DAY)
    run = cycle.cycle_start(as_of=clock.cycle_instant(DAY))
    names = cycle.stage_pieces(run_id=run.pk, stage=0)
    counts = {name: cycle.piece_run(run_id=run.pk, name=name) for name in names}
    acts, tasks_on_file = JourneyAction.objects.count(), Task.objects.count()
    assert sum(c["opened"] for c in counts.values()) == acts > 0 and tasks_on_file > 0

    assert {name: cycle.piece_run(run_id=run.pk, name=name) for name in names} == counts
    assert (JourneyAction.objects.count(), Task.objects.count()) == (acts, tasks_on_file)
    assert cycle.stage_pieces(run_id=run.pk, stage=0) == []


def test_the_daily_job_plans_the_day_and_hands_its_first_stage_to_the_workers(province, monkeypatch):
    builders.customer(city_obj=province["city"], activated_on=DAY)
    sent = []
    monkeypatch.setattr(tasks.cycle_stage, "delay", lambda **kwargs: sent.append(kwargs))

    planned = tasks.cycle_daily.apply(kwargs={"day": DAY.isoformat()}).get()

    run = CycleRun.objects.get()
    assert planned == {"run": run.pk} and sent == [{"run_id": run.pk, "stage": 0}]
    assert run.on_workers and run.as_of == clock.cycle_instant(DAY)
    # Beat fires twice (or an operator started one by hand): the second is refused and says why.
    again = tasks.cycle_daily.apply(kwargs={"day": DAY.isoformat()}).get()
    assert "running on the workers" in again["refused"] and len(sent) == 1
    ahead = tasks.cycle_daily.apply(kwargs={"day": (clock.today() + dt.timedelta(days=1)).isoformat()}).get()
    assert "ahead of time" in ahead["refused"]


def _pieces_done(run: CycleRun) -> None:
    stage = 0
    while (names := cycle.stage_pieces(run_id=run.pk, stage=stage)) is not None:
        for name in names:
            cycle.piece_run(run_id=run.pk, name=name)
        stage += 1


def test_after_todays_cycle_the_workers_read_the_dashboards_ahead_and_not_after_a_past_day(province, monkeypatch):
    from onboard90.reporting import tasks as reporting_tasks

    builders.customer(city_obj=province["city"], activated_on=DAY)
    sent = []
    monkeypatch.setattr(tasks.app, "send_task", lambda name, kwargs: sent.append((name, kwargs)))

    def fanned_out(day):
        run = cycle.cycle_start(as_of=clock.cycle_instant(day))
        _pieces_done(run)
        return tasks.cycle_finish.apply(kwargs={"run_id": run.pk}).get()

    today = DAY + dt.timedelta(days=1)
    monkeypatch.setattr(clock, "today", lambda: today)

    fanned_out(DAY)  # yesterday's, caught up: nobody looks at its dashboards
    assert sent == []
    assert fanned_out(today)["status"] == CycleStatus.FINISHED
    assert sent == [("onboard90.dashboards_refresh", {"day": "2012-03-02"})]
    done = reporting_tasks.dashboards_refresh.apply(kwargs=sent[0][1]).get()
    assert done["day"] == "2012-03-02" and done["dashboards"] == 2  # the province and its one city


def test_the_worker_and_beat_refuse_a_broker_they_are_not_set_up_for(settings):
    settings.CELERY_BROKER_URL = "http://127.0.0.1:5672/"
    for command in ("worker", "beat"):
        with pytest.raises(CommandError, match="ONBOARD90_BROKER_URL must be amqp"):
            call_command(command)
    with pytest.raises(CommandError, match="--concurrency must be positive"):
        call_command("worker", "--concurrency", "0")


def test_the_pieces_of_cycles_long_finished_or_deleted_in_bulk_are_pruned_by_a_later_cycle(province):
    builders.customer(city_obj=province["city"], activated_on=DAY)
    first = cycle.cycle_run(as_of=clock.cycle_instant(DAY), gateway=province["gateway"])
    second = cycle.cycle_run(as_of=clock.cycle_instant(DAY + dt.timedelta(days=1)), gateway=province["gateway"])
    assert CyclePiece.objects.filter(run=first).exists() and CyclePiece.objects.filter(run=second).exists()
    # The demo's reset deletes cycle records in one SQL statement, leaving their pieces behind.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM journeys_cyclerun WHERE id = %s", [second.pk])

    cycle.cycle_run(as_of=clock.cycle_instant(DAY + dt.timedelta(days=9)), gateway=province["gateway"])

    assert not CyclePiece.objects.filter(run_id=second.pk).exists(), "the deleted record's pieces"
    assert not CyclePiece.objects.filter(run=first).exists(), "a week and more ago"
    assert CyclePiece.objects.filter(run__as_of=clock.cycle_instant(DAY + dt.timedelta(days=9))).exists()



def test_a_shared_step_or_a_finish_on_the_workers_cut_off_by_the_database_leaves_the_cycle_running_for_its_retry(
    province, monkeypatch
):
    builders.customer(city_obj=province["city"], activated_on=DAY)
    run = cycle.cycle_start(as_of=clock.cycle_instant(DAY))
    real_overdue, real_prune = cycle.engine.mark_overdue, cycle.changes.changes_prune
    calls = []

    def server_gone_once(real):
        def call(**kwargs):
            calls.append(real)
            if calls.count(real) == 1:
                raise OperationalError("server closed the connection unexpectedly")
            return real(**kwargs)

        return call

    monkeypatch.setattr(cycle.engine, "mark_overdue", server_gone_once(real_overdue))
    monkeypatch.setattr(cycle.changes, "changes_prune", server_gone_once(real_prune))
    overdue = next(p.name for p in CyclePiece.objects.filter(run=run) if p.name.startswith(cycle.OVERDUE))
    with pytest.raises(OperationalError):
        _pieces_done(run)
    assert CyclePiece.objects.get(run=run, name=overdue).finished_at is None  # the piece is retried alone
    assert CycleRun.objects.get(pk=run.pk).status == CycleStatus.RUNNING
    _pieces_done(run)
    with pytest.raises(OperationalError):
        cycle.cycle_finish(run_id=run.pk)
    assert CycleRun.objects.get(pk=run.pk).status == CycleStatus.RUNNING  # the job is retried; nothing is final

    assert cycle.cycle_finish(run_id=run.pk).status == CycleStatus.FINISHED
    assert calls.count(real_overdue) == 1 + cycle.settings.ONBOARD90["CYCLE_SHARDS"] and calls.count(real_prune) == 2


def test_a_job_with_its_retry_on_the_queue_does_not_fail_the_cycle_and_one_out_of_retries_does(province):
    builders.customer(city_obj=province["city"], activated_on=DAY)
    run = cycle.cycle_start(as_of=clock.cycle_instant(DAY))
    lost = OperationalError("the connection is closed")
    job = SimpleNamespace(name="onboard90.cycle_piece", max_retries=tasks.RETRY["max_retries"],
                          request=SimpleNamespace(retries=2))  # fmt: skip

    # Celery failed to write down the retry (its result store is the database, still away): the retry is queued.
    tasks._fail_run(job, lost, "id", (), {"run_id": run.pk, "name": "v1.g0", "stage": 0}, None)
    assert CycleRun.objects.get(pk=run.pk).status == CycleStatus.RUNNING

    job.request.retries = tasks.RETRY["max_retries"]
    tasks._fail_run(job, lost, "id", (), {"run_id": run.pk, "name": "v1.g0", "stage": 0}, None)
    assert CycleRun.objects.get(pk=run.pk).status == CycleStatus.FAILED


def test_a_piece_whose_insert_fails_on_a_row_written_beside_it_starts_over_once_and_then_fails_loudly(
    province, monkeypatch
):
    builders.customer(city_obj=province["city"], activated_on=DAY)
    run = cycle.cycle_start(as_of=clock.cycle_instant(DAY))
    names = cycle.stage_pieces(run_id=run.pk, stage=0)
    real_open, real_create_tasks = cycle.engine.open_due_actions, cycle.engine.create_tasks

    def clash(**kwargs):
        raise IntegrityError('duplicate key value violates unique constraint "journeys_action_once_per_journey"')

    monkeypatch.setattr(cycle.engine, "open_due_actions", clash)  # a clash each time: the second attempt raises
    with pytest.raises(IntegrityError):
        cycle.piece_run(run_id=run.pk, name=names[0])
    assert CyclePiece.objects.get(run=run, name=names[0]).finished_at is None
    assert JourneyAction.objects.count() == 0

    clashes = [1]  # the first call writes its tasks, then its statement is taken as failed on a clash

    def clash_once(**kwargs):
        written = real_create_tasks(**kwargs)
        if clashes:
            clashes.pop()
            raise IntegrityError('duplicate key value violates unique constraint "journeys_task_action_id_key"')
        return written

    monkeypatch.setattr(cycle.engine, "open_due_actions", real_open)
    monkeypatch.setattr(cycle.engine, "create_tasks", clash_once)
    counts = {name: cycle.piece_run(run_id=run.pk, name=name) for name in names}
    assert not clashes and sum(c["tasks_created"] for c in counts.values()) == Task.objects.count() > 0
    assert Task.objects.values("action").distinct().count() == Task.objects.count()  # one task an act
    assert sum(c["opened"] for c in counts.values()) == JourneyAction.objects.count()
    assert cycle.stage_pieces(run_id=run.pk, stage=0) == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_customer_who_leaves_while_the_cycle_opens_their_acts_keeps_the_exits_record_and_the_rest_open(
    province, caplog
):
    leaving = builders.customer(city_obj=province["city"], activated_on=DAY)
    staying = builders.customer(city_obj=province["city"], activated_on=DAY)
    run = cycle.cycle_start(as_of=clock.cycle_instant(DAY))
    names = cycle.stage_pieces(run_id=run.pk, stage=0)
    exit_at = clock.cycle_instant(DAY) + dt.timedelta(minutes=5)
    written, blocked = threading.Event(), threading.Event()
    failures = []

    def leave_while_the_cycle_writes():
        # The exit's transaction stays open until the cycle's insert waits on a row it wrote: the cycle's read of
        # the acts on file did not see that row, its insert meets it.
        try:
            with transaction.atomic():
                journeys_services.journey_exit(customer=leaving, at=exit_at)
                written.set()
                for _ in range(500):
                    with connection.cursor() as cursor:
                        cursor.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                        )
                        if cursor.fetchone()[0]:
                            blocked.set()
                            break
                    time.sleep(0.02)
        except BaseException as exc:  # noqa: B036 — reported to the test
            failures.append(exc)
        finally:
            written.set()
            connection.close()

    leaver = threading.Thread(target=leave_while_the_cycle_writes)
    leaver.start()
    assert written.wait(timeout=30)
    with caplog.at_level(logging.WARNING, logger="onboard90.journeys"):
        counts = {name: cycle.piece_run(run_id=run.pk, name=name) for name in names}
    leaver.join(timeout=30)

    assert not failures and blocked.is_set(), "the cycle's insert never waited on the exit's rows"
    assert "met a row written beside it" in caplog.text
    left = JourneyAction.objects.filter(customer=leaving)
    assert left.exists() and set(left.values_list("status", flat=True)) == {"cancelled"}
    assert Task.objects.filter(customer=leaving).count() == 0
    opened = JourneyAction.objects.filter(customer=staying, status="open").count()
    assert opened > 0 and sum(c["opened"] for c in counts.values()) == opened
