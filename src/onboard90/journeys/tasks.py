"""The scheduled jobs on Celery workers (`onboard90 worker`; schedules by `onboard90 beat`, see
`journeys.schedules`): each a thin wrapper that takes a date or ids and calls one service.

- `cycle-daily` (`cycle_daily`): the daily cycle of a date, fanned out — the plan (`cycle.cycle_start`), then
  the pieces of each stage (`cycle_piece`, one per window group; the piece that finds its stage all done
  starts the next: `cycle.stage_advance`; the shared steps are the last stages' pieces), then the figures and the
  record (`cycle_finish`). A piece that fails on the
  database (a lost connection, a restarted server) is retried alone; a worker killed mid-piece, or cut off
  from a restarted broker, has its message put back (acks late, rejected on worker loss, cancelled on
  connection loss) and the piece, whose transaction rolled back, runs again.
- `outbox-dispatch` (`outbox_dispatch`): what is due now through the configured gateway, within the
  playbook's sending hours and daily cap — the job `onboard90 dispatch` runs in one process.
- `sla-scan` (`sla_scan`): overdue and escalations between two cycles.
- `partitions-ahead` (`partitions_ahead`): PostgreSQL's ranges of the act, task and message rows kept a block
  ahead of the newest customer (`journeys.partitioning`).
- after today's cycle, `onboard90.dashboards_refresh` (`reporting.tasks`): the dashboards read ahead.

The outbox job sits here rather than with the outbox because the cycle runs the same service in line and
this module is the one the workers' schedules are written for; it calls messaging's service only.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import group
from django.conf import settings
from django.db import DatabaseError, InterfaceError

from onboard90.core import clock
from onboard90.core.celery_app import app
from onboard90.journeys import cycle, partitioning
from onboard90.messaging.gateways import gateway_from_settings
from onboard90.messaging.services import outbox_dispatch_due

log = logging.getLogger("onboard90.journeys")

# A job that failed on the database (a lost connection, a server restarting, a deadlock, a locked SQLite file) is
# retried alone, after 2, 4, 8, 16, 32 s and then every minute: about four minutes in all, which rides out a
# database restart. No jitter: Celery's default draws each pause between zero and its bound, and five retries
# could then all fall within the seconds a restarting server still refuses connections. A stage, a piece or the
# finish failing for good records the cycle failed.
RETRIED = (DatabaseError, InterfaceError)
RETRY = {
    "autoretry_for": RETRIED, "max_retries": 8, "retry_backoff": 2, "retry_backoff_max": 60, "retry_jitter": False,
}


def _fail_run(task, exc, task_id, args, kwargs, einfo) -> None:
    run_id = kwargs.get("run_id", args[0] if args else None)
    if isinstance(exc, RETRIED) and task.request.retries < task.max_retries:
        # Not the job's failure for good: its retry is on the queue already, and what failed was Celery writing
        # that retry down (the result store is the database, and the database was still away).
        return
    if run_id is not None and not isinstance(exc, cycle.CycleAbandoned):
        log.error("cycle run %s failed in %s: %r", run_id, task.name, exc)
        cycle.cycle_fail(run_id=run_id)


@app.task(name="onboard90.cycle_daily")
def cycle_daily(day: str | None = None, rescan: bool = False) -> dict:
    """日处理 of `day` (YYYY-MM-DD; default today) at the configured hour, fanned out over the workers. A cycle
    already running, or a day after today, is refused and said so (nothing is retried: the next run of the
    schedule, or an operator, starts it again)."""
    as_of = clock.cycle_instant(clock.parse_date(day) if day else clock.today())
    try:
        run = cycle.cycle_start(as_of=as_of, rescan=rescan)
    except (cycle.CycleBusy, cycle.CycleRefused) as exc:
        log.warning("cycle-daily %s refused: %s", clock.local_date(as_of).isoformat(), exc)
        return {"refused": str(exc)}
    cycle_stage.delay(run_id=run.pk, stage=0)
    return {"run": run.pk}


@app.task(name="onboard90.cycle_stage", on_failure=_fail_run, **RETRY)
def cycle_stage(run_id: int, stage: int) -> dict:
    """Start the pieces of stage `stage` of cycle `run_id` still to run; after the last stage, the finish.
    A stage with nothing left to run (started again after its pieces finished) moves straight on. Retried like a
    piece: sent twice, its pieces run once each (`cycle.piece_run`), and the next stage starts once."""
    names = cycle.stage_pieces(run_id=run_id, stage=stage)
    if names is None:
        cycle_finish.delay(run_id=run_id)
        return {"run": run_id, "finish": True}
    if not names:
        if cycle.stage_advance(run_id=run_id, stage=stage):
            cycle_stage.delay(run_id=run_id, stage=stage + 1)
        return {"run": run_id, "stage": stage, "pieces": 0}
    group(cycle_piece.si(run_id=run_id, name=name, stage=stage) for name in names).delay()
    return {"run": run_id, "stage": stage, "pieces": len(names)}


@app.task(name="onboard90.cycle_piece", on_failure=_fail_run, **RETRY)
def cycle_piece(run_id: int, name: str, stage: int) -> dict[str, int]:
    """One piece of a cycle (`cycle.piece_run`): a window group or a shard of a shared step; the last of its stage
    starts the next."""
    sends = name == cycle.DISPATCH  # the one piece that sends: through the configured gateway, if at all
    counts = cycle.piece_run(
        run_id=run_id, name=name, gateway=gateway_from_settings() if sends else None,
        dispatch=settings.ONBOARD90["CYCLE_DISPATCH"],
    )
    if cycle.stage_advance(run_id=run_id, stage=stage):
        cycle_stage.delay(run_id=run_id, stage=stage + 1)
    return counts


@app.task(name="onboard90.cycle_finish", on_failure=_fail_run, **RETRY)
def cycle_finish(run_id: int) -> dict:
    """The end of cycle `run_id` once its pieces are done (`cycle.cycle_finish`): the figures and the record."""
    run = cycle.cycle_finish(run_id=run_id)
    day = clock.local_date(run.as_of)
    if day == clock.today():
        # The morning's dashboards read ahead (`reporting.tasks`, named here: the figures sit above the engine).
        app.send_task("onboard90.dashboards_refresh", kwargs={"day": day.isoformat()})
    return {"run": run.pk, "status": run.status, **run.counts}


@app.task(name="onboard90.outbox_dispatch", **RETRY)
def outbox_dispatch() -> dict:
    """发送: the outbox-dispatch job, as `onboard90 dispatch --once` runs it."""
    return outbox_dispatch_due(gateway=gateway_from_settings())


@app.task(name="onboard90.sla_scan", **RETRY)
def sla_scan(at: str | None = None) -> dict:
    """超时扫描 as of `at` (ISO instant; default now): `cycle.sla_scan`."""
    as_of = dt.datetime.fromisoformat(at) if at else clock.now()
    return cycle.sla_scan(as_of=as_of)


@app.task(name="onboard90.partitions_ahead", **RETRY)
def partitions_ahead() -> dict:
    """The next ranges of customer ids on every partitioned table (`partitioning.partitions_ahead`)."""
    return {"created": partitioning.partitions_ahead()}
