"""The daily cycle (日处理) from end to end, in pieces: `cycle_begin` takes the change log and plans the day,
one piece per window group of each playbook version does the per-journey work, then the shared steps run as
pieces of their own (overdue by shard of customers, the dispatch, the journeys' ends by shard), and
`cycle_finish` brings the figures up to date and records the run.

`cycle_run` runs the pieces one after another in this process, holding the cycle lock throughout (the
embedded default: `onboard90 run`, the demo, the bench). On Celery workers (`journeys.tasks`) the same
pieces are fanned out, one stage at a time, the next stage started by the piece that finds its own stage all
done (`stage_advance`), and the finish follows the last stage: a worker killed mid-piece, or a broker
restarted under it, rolls its transaction back and the piece is delivered again; a piece that was recorded done
(`CyclePiece`) never runs twice.

The steps: usage's verdicts (package fit, the offer: `usage_acts`) and supersede (in the plan), then per window
group (acts sharing an anchor and window) open the due acts, assign VIP managers, create tasks and queue SMS;
then overdue and escalations, the outbox's dispatch, the journeys that reached their last day, and the figures
(`signals.cycle_finishing`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, Max, OuterRef, Q

from onboard90.core import clock
from onboard90.core.locks import singleton_lock
from onboard90.journeys import changes, engine, surge_acts, usage_acts, vip_assignment
from onboard90.journeys.enums import CycleStatus
from onboard90.journeys.models import CyclePiece, CycleRun, JourneyAction, Task
from onboard90.journeys.rules.assignment import CHANNEL_UNIT_KIND
from onboard90.journeys.selectors import versions_in_use
from onboard90.journeys.signals import cycle_finishing
from onboard90.messaging.models import OutboxMessage
from onboard90.messaging.policy import next_send_time
from onboard90.messaging.services import outbox_dispatch_due
from onboard90.org.enums import UnitKind
from onboard90.playbook import schema
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.selectors import playbook_of

log = logging.getLogger("onboard90.journeys")


def cycle_run(
    *, as_of: dt.datetime, gateway=None, dispatch: bool = True, rescan: bool = False, figures: bool = True
) -> CycleRun:
    """日处理: the daily cycle as of `as_of`, in this process. Idempotent: the same instant twice changes nothing.

    Order matters only within a day: supersede before opening (a fresh VIP never gets both calls),
    system acts (VIP manager assignment) before the acts anchored on them, deliveries after opening,
    then overdue/escalation, the outbox, and finally journeys that reached their last day.

    After a finished cycle only what changed since it is looked at (`engine.Since`, from the change log it
    consumes: `journeys.changes`); `rescan` looks at every journey, for a database someone has edited behind
    the application's back (with its triggers off).
    """
    _refuse_ahead(as_of)
    with singleton_lock("cycle") as alone:
        if not alone:
            raise CycleBusy("另一个日处理正在运行 / another daily cycle is running on this database; try again later")
        run = cycle_begin(as_of=as_of, rescan=rescan)
        try:
            for name in run.pieces.filter(finished_at__isnull=True).order_by("position").values_list("name", flat=True):
                piece_run(run_id=run.pk, name=name, gateway=gateway, dispatch=dispatch)
        except BaseException:
            cycle_fail(run_id=run.pk)
            raise
        return cycle_finish(run_id=run.pk, figures=figures)


def cycle_start(*, as_of: dt.datetime, rescan: bool = False) -> CycleRun:
    """The start of a cycle fanned out over Celery workers: the plan, under the cycle lock, which is then let
    go (the pieces run in other processes). Until the run is finished or failed, `cycle_begin` refuses any
    other cycle on this database while its pieces move (see `_settle_running`)."""
    _refuse_ahead(as_of)
    with singleton_lock("cycle") as alone:
        if not alone:
            raise CycleBusy("另一个日处理正在运行 / another daily cycle is running on this database; try again later")
        return cycle_begin(as_of=as_of, rescan=rescan, on_workers=True)


class CycleBusy(ValueError):
    """Another cycle holds the database (cron or beat fired twice, or an operator ran one by hand)."""


class CycleRefused(ValueError):
    """A cycle asked for a day after today: it would escalate, miss and send work ahead of time."""


class CycleAbandoned(RuntimeError):
    """A piece or the finish of a cycle that is no longer running (recorded failed meanwhile): it does nothing."""


def _refuse_ahead(as_of: dt.datetime) -> dt.date:
    today = clock.local_date(as_of)
    if today > clock.today():
        raise CycleRefused(
            f"不能提前运行日处理：{today} 晚于今天 {clock.today()} / the daily cycle cannot run ahead of time: "
            f"{today} is after today ({clock.today()}); simulated history belongs in a scratch database "
            "(`onboard90 demo`, `onboard90 bench`, or `init --scratch` with ONBOARD90_CLOCK)"
        )
    return today


def _settle_running() -> None:
    """Holding the cycle lock: a run still marked running was cut off (its process died) — say so — unless it is
    fanned out over workers and its pieces moved within the lease (`ONBOARD90_CYCLE_LEASE_MINUTES`): then it is
    alive, and this cycle is refused."""
    lease = dt.timedelta(minutes=settings.ONBOARD90["CYCLE_LEASE_MINUTES"])
    now = clock.now()
    for run in CycleRun.objects.filter(status=CycleStatus.RUNNING, on_workers=True):
        moved = run.pieces.aggregate(last=Max("finished_at"))["last"] or run.started_at
        if now - max(moved, run.started_at) < lease:
            raise CycleBusy(
                f"日处理 {clock.local_date(run.as_of)} 正在工作进程上运行 / the daily cycle of "
                f"{clock.local_date(run.as_of)} is running on the workers (run {run.pk}); try again later"
            )
    CycleRun.objects.filter(status=CycleStatus.RUNNING).update(
        status=CycleStatus.FAILED, finished_at=now, counts={"interrupted": True}
    )


def cycle_begin(*, as_of: dt.datetime, rescan: bool = False, on_workers: bool = False) -> CycleRun:
    """The plan of a cycle, holding the cycle lock: the run's record, the change log consumed, the delta, the
    supersedes (every piece reads what they close), one `CyclePiece` per window group of each version, in the
    order one process runs them and in the stages workers run them in (`stages`), and after them the shared
    steps' pieces (`_shared_pieces`)."""
    began = time.monotonic()  # for the log line's seconds: wall time, whatever the simulated clock says
    today = clock.local_date(as_of)
    _settle_running()
    previous = CycleRun.objects.filter(status=CycleStatus.FINISHED, as_of__lt=as_of).order_by("-as_of").first()
    versions = versions_in_use()
    digest = changes.facts_digest(versions)
    # The run's own start and finish times are the only clock readings here: records, never inputs.
    run = CycleRun.objects.create(as_of=as_of, started_at=clock.now(), status=CycleStatus.RUNNING, digest=digest)
    # Usage's verdicts first: a verdict that moved is a change of its customer, claimed just below.
    usage_counts = usage_acts.usage_verdicts(run=run, versions=versions, today=today)
    usage_counts |= surge_acts.surge_alerts(run=run, versions=versions, today=today)  # reads the loads claimed above
    touched = changes.changes_consume(run=run)
    since = None if rescan else changes.since_previous(previous, digest=digest, run=run, touched=touched)
    try:
        # In a delta cycle (see engine.Since) the older acts that can need a supersede or a new delivery.
        changed = None
        if since is not None:
            before = JourneyAction.objects.aggregate(top=Max("pk"))["top"] or 0
            codes = {code for v in versions for code in changes.changeable(playbook_of(v).actions)}
            changed = changes.changed_running_acts(since=since, before=before, codes=codes)
        superseded = 0
        pieces = []
        for version in versions:
            ordered = _ordered(playbook_of(version))
            for action in ordered:
                candidates = None if changed is None else changed.get(action.code, [])
                superseded += engine.supersede(version=version, action=action, as_of=as_of, candidates=candidates)
            groups = window_groups(ordered)
            for index, (group, stage) in enumerate(zip(groups, stages(waits(groups)), strict=True)):
                plan = {
                    "since": since.day.isoformat() if since is not None else None,
                    "changed": None if changed is None else {a.code: changed.get(a.code, []) for a in group},
                }
                pieces.append(
                    CyclePiece(run=run, name=f"v{version.pk}.g{index}", position=len(pieces) + 1, stage=stage, plan=plan)
                )
        pieces += _shared_pieces(
            run=run, stage=1 + max((p.stage for p in pieces), default=-1), position=len(pieces) + 1,
            shards=settings.ONBOARD90["CYCLE_SHARDS"] if on_workers else 1,
        )
        # The plan's own piece, done: it carries the supersedes' count and marks the run's first move.
        done = CyclePiece(
            run=run, name="plan", position=0, stage=0, counts={"superseded": superseded, **usage_counts},
            finished_at=clock.now(),
        )
        CyclePiece.objects.bulk_create([done, *pieces])
        if on_workers:  # only now: a run cut off before its plan was whole is a dead one (`_settle_running`)
            CycleRun.objects.filter(pk=run.pk).update(on_workers=True)
            run.on_workers = True
    except BaseException:
        cycle_fail(run_id=run.pk)
        raise
    log.info("cycle %s: planned run %d, %d pieces, %s", today.isoformat(), run.pk, len(pieces),
             "delta" if since is not None else "every journey",
             extra={"event": "cycle_plan", "run_id": run.pk, "as_of": today.isoformat(), "pieces": len(pieces),
                    "delta": since is not None, "seconds": round(time.monotonic() - began, 3),
                    "counts": done.counts})  # fmt: skip
    return run


OVERDUE, DISPATCH, CLOSING = "overdue", "dispatch", "closing"
SHARED_STEPS = (OVERDUE, DISPATCH, CLOSING)


def _shared_pieces(*, run: CycleRun, stage: int, position: int, shards: int) -> list[CyclePiece]:
    """The shared steps after the window groups, each stage waiting for the one before: overdue and escalations
    by shard of customers (`engine.Shard`), the outbox's dispatch, the journeys that reached their last day by
    shard. The dispatch comes between the two, as it always has: at the cycle's hour it sends what a journey
    closed before it would cancel. One shard of each in one process; on workers the shards run side by side."""
    overdue = [
        CyclePiece(run=run, name=f"{OVERDUE}.{k}", stage=stage, position=position + k, plan={"shard": [k, shards]})
        for k in range(shards)
    ]
    dispatch = CyclePiece(run=run, name=DISPATCH, stage=stage + 1, position=position + shards, plan={})
    closing = [
        CyclePiece(
            run=run, name=f"{CLOSING}.{k}", stage=stage + 2, position=position + shards + 1 + k,
            plan={"shard": [k, shards]},
        )
        for k in range(shards)
    ]
    return [*overdue, dispatch, *closing]


def piece_run(*, run_id: int, name: str, gateway=None, dispatch: bool = True) -> dict[str, int]:
    """One piece of cycle `run_id` and its record done; its counts. A window group's per-journey work runs in one
    transaction with its record. A shard of a shared step commits its own ranges (see `engine.mark_overdue`) and
    is recorded after them; the dispatch sends through `gateway` (when `dispatch`), outside any transaction of
    ours, as the outbox's job does.

    Run again after it was recorded, it returns what it recorded and writes nothing. Cut off before, it starts
    over: a window group, its transaction rolled back, re-reads where the acts stand (`opened_after`) and writes
    against the same unique keys; a shared step finds what is left to do. Either ends where one clean run of it
    would have.

    The cycle's inserts leave out the rows on file by their own reads, not by skipping clashes on every row
    (`core.bulk.insert_rows`): a row written meanwhile by a writer beside the cycle (a journey exited while its
    acts opened, a second delivery of this piece) fails the statement. The piece then starts over, once, and
    reads that row on file like any other.
    """
    try:
        return _piece_run(run_id=run_id, name=name, gateway=gateway, dispatch=dispatch)
    except IntegrityError:
        log.warning("cycle run %d: piece %s met a row written beside it; starting it over", run_id, name)
        return _piece_run(run_id=run_id, name=name, gateway=gateway, dispatch=dispatch)


def _piece_run(*, run_id: int, name: str, gateway, dispatch: bool) -> dict[str, int]:
    began = time.monotonic()
    piece = CyclePiece.objects.select_related("run").get(run_id=run_id, name=name)
    if piece.finished_at is not None:
        return piece.counts
    run = piece.run
    if run.status != CycleStatus.RUNNING:
        raise CycleAbandoned(f"日处理 {run.pk} 已不在运行 / cycle run {run.pk} is {run.status}, not running")
    kind = name.partition(".")[0]
    try:
        if kind in SHARED_STEPS:
            counts = _shared_step(piece=piece, kind=kind, gateway=gateway, dispatch=dispatch)
            _record(piece, counts)
        else:
            with transaction.atomic():
                counts = _window_group(piece=piece)
                _record(piece, counts)
    except _DoneElsewhere:
        return CyclePiece.objects.get(pk=piece.pk).counts
    as_of = run.as_of
    log.info("cycle %s: piece %s " + " ".join(f"{key}=%d" for key in counts), clock.local_date(as_of).isoformat(),
             name, *counts.values(),
             extra={"event": "cycle_piece", "run_id": run.pk, "piece": name, "stage": piece.stage,
                    "as_of": clock.local_date(as_of).isoformat(), "seconds": round(time.monotonic() - began, 3),
                    "counts": counts})  # fmt: skip
    return counts


def _record(piece: CyclePiece, counts: dict[str, int]) -> None:
    if not CyclePiece.objects.filter(pk=piece.pk, finished_at__isnull=True).update(
        counts=counts, finished_at=clock.now()
    ):
        raise _DoneElsewhere  # a second delivery ran it meanwhile: keep its record, drop this copy


def _window_group(*, piece: CyclePiece) -> dict[str, int]:
    run = piece.run
    version_key, _dot, group_key = piece.name.partition(".")
    version = PlaybookVersion.objects.get(pk=int(version_key[1:]))
    playbook = playbook_of(version)
    group = window_groups(_ordered(playbook))[int(group_key[1:])]
    since_day = piece.plan.get("since")
    since = changes.Since(day=dt.date.fromisoformat(since_day), run_id=run.pk) if since_day else None
    as_of = run.as_of
    send_from = next_send_time(as_of, playbook.quiet_hours.start, playbook.quiet_hours.end)
    return _open_group(
        version=version, playbook=playbook, group=group, today=clock.local_date(as_of), as_of=as_of,
        since=since, changed=piece.plan.get("changed"), send_from=send_from,
    )


def _shared_step(*, piece: CyclePiece, kind: str, gateway, dispatch: bool) -> dict[str, int]:
    """Overdue, the dispatch or the journeys' ends, for the piece's shard of the customers (all of them in one
    process)."""
    as_of = piece.run.as_of
    shard = engine.Shard(*piece.plan["shard"]) if "shard" in piece.plan else None
    if kind == OVERDUE:
        done = engine.mark_overdue(as_of=as_of, shard=shard)
        return {"overdue": done["overdue"], "escalated": done["escalated"]}
    if kind == DISPATCH:
        # The outbox-dispatch job, run in line by default; at scale it runs on its own too (`CYCLE_DISPATCH`).
        sent = outbox_dispatch_due(as_of=as_of, gateway=gateway) if dispatch else {"sms_sent": 0, "sms_missed": 0}
        return {"sms_sent": sent["sms_sent"], "missed": sent["sms_missed"]}
    closed = sum(
        engine.close_finished_journeys(
            version=version, playbook=playbook_of(version), today=clock.local_date(as_of), as_of=as_of, shard=shard
        )
        for version in versions_in_use()
    )
    return {"closed": closed}


class _DoneElsewhere(Exception):
    pass


def cycle_finish(*, run_id: int, figures: bool = True) -> CycleRun:
    """The end of cycle `run_id` once every piece is done (the shared steps among them): the figures, the change
    log and old pieces pruned, then the record, with the counts of all pieces. A finished run is left as it is
    (the finish delivered twice)."""
    began = time.monotonic()
    run = CycleRun.objects.get(pk=run_id)
    if run.status == CycleStatus.FINISHED:
        return run
    if run.status != CycleStatus.RUNNING:
        raise CycleAbandoned(f"日处理 {run.pk} 已不在运行 / cycle run {run.pk} is {run.status}, not running")
    waiting = list(run.pieces.filter(finished_at__isnull=True).values_list("name", flat=True))
    if waiting:
        raise RuntimeError(f"cycle run {run.pk}: pieces not done yet: {', '.join(waiting)}")
    as_of = run.as_of
    today = clock.local_date(as_of)
    counts = dict.fromkeys(COUNT_KEYS, 0)
    for piece_counts in run.pieces.values_list("counts", flat=True):
        for key, value in piece_counts.items():
            counts[key] = counts.get(key, 0) + value
    try:
        # The dashboard's figures follow, once the day's work is on file (reporting listens).
        cycle_finishing.send(sender=CycleRun, run=run, as_of=as_of, last_day=figures)
        changes.changes_prune(as_of=as_of)
        pieces_prune(as_of=as_of)
    except BaseException:
        # In one process a failed step ends the cycle: record it failed, with what was done. On workers the
        # finish is retried or delivered again (a lost connection, a worker cut off from the broker and
        # stopped), and each step above is idempotent: only the job's failure for good records the run failed
        # (`tasks._fail_run`).
        if not run.on_workers:
            cycle_fail(run_id=run.pk, counts=counts)
        raise
    run.status = CycleStatus.FINISHED
    run.finished_at = clock.now()
    run.counts = counts
    run.save(update_fields=["status", "finished_at", "counts"])
    log.info(
        "cycle %s: " + " ".join(f"{key}=%d" for key in COUNT_KEYS), today.isoformat(), *(counts[k] for k in COUNT_KEYS),
        extra={"event": "cycle_finish", "run_id": run.pk, "as_of": today.isoformat(),
               "seconds": round(time.monotonic() - began, 3),
               "cycle_seconds": round((run.finished_at - run.started_at).total_seconds(), 3), "counts": counts},
    )  # fmt: skip
    return run


def pieces_prune(*, as_of: dt.datetime) -> int:
    """Delete the pieces of cycles finished for a business day more than `changes.RETAIN` before `as_of`, and
    those whose cycle record is gone (deleted in bulk by the demo's reset): what a cycle's pieces did stays in
    its counts."""
    done = CycleRun.objects.filter(status=CycleStatus.FINISHED, as_of__lt=as_of - changes.RETAIN).values("pk")
    orphans = ~Exists(CycleRun.objects.filter(pk=OuterRef("run_id")))
    deleted, _ = CyclePiece.objects.filter(Q(run_id__in=done) | Q(orphans)).delete()
    return deleted


def cycle_fail(*, run_id: int, counts: dict | None = None) -> None:
    """Record cycle `run_id` failed (a step raised, or a piece failed for good on the workers), if still running."""
    done = {} if counts is None else {"counts": counts}
    CycleRun.objects.filter(pk=run_id, status=CycleStatus.RUNNING).update(
        status=CycleStatus.FAILED, finished_at=clock.now(), **done
    )


def stage_advance(*, run_id: int, stage: int) -> bool:
    """On workers: once every piece of `stage` is done, move cycle `run_id` on to the next stage — exactly once.

    The stages are not chained by counting the pieces' replies (a chord): a broker restarted mid-cycle hands
    back pieces that had finished but not been acknowledged, and their second replies would count a stage done
    before it is. Here the pieces on file decide, and one conditional UPDATE lets a single caller through: the
    one that gets True starts the next stage.
    """
    if CyclePiece.objects.filter(run_id=run_id, stage=stage, finished_at__isnull=True).exclude(name="plan").exists():
        return False
    return CycleRun.objects.filter(pk=run_id, stage=stage, status=CycleStatus.RUNNING).update(stage=stage + 1) == 1


def stage_pieces(*, run_id: int, stage: int) -> list[str] | None:
    """The pieces of `stage` of cycle `run_id` still to run (on workers); None past its last stage."""
    pieces = CyclePiece.objects.filter(run_id=run_id, stage__gte=stage).exclude(name="plan")
    if not pieces.exists():
        return None
    return list(pieces.filter(stage=stage, finished_at__isnull=True).order_by("position").values_list("name", flat=True))


def sla_scan(*, as_of: dt.datetime) -> dict[str, int]:
    """超时扫描: overdue and escalations between two cycles (`sla-scan`), the cycle's own step run alone.

    It waits for no one: while a cycle runs (which does the same at its end) it leaves the work to it and
    says `busy`. Idempotent like the cycle's step: a late task is flipped and escalated once.
    """
    with singleton_lock("cycle") as alone:
        if not alone or CycleRun.objects.filter(status=CycleStatus.RUNNING, on_workers=True).exists():
            return {"busy": 1, "overdue": 0, "escalated": 0}
        return {"busy": 0, **engine.mark_overdue(as_of=as_of)}


def _ordered(playbook: schema.Playbook) -> list[schema.Action]:
    return sorted(playbook.actions, key=lambda a: a.system is None)  # system acts first


def _open_group(*, version, playbook, group, today, as_of, since, changed, send_from) -> dict[str, int]:
    """One window group of acts: open them, assign VIP managers if it is that act, create their tasks and
    queue their SMS, in one transaction (its own process's when the cycle runs on workers)."""
    counts = dict.fromkeys(("opened", "missed", "assigned", "escalated", "tasks_created", "sms_queued"), 0)
    with transaction.atomic():
        # The group's new acts have ids above this: their deliveries are looked for by id (and by code, so
        # the acts another piece opens meanwhile are not this group's).
        opened_after = JourneyAction.objects.aggregate(top=Max("pk"))["top"] or 0
        opened = engine.open_due_actions(
            version=version, playbook=playbook, actions=group, today=today, as_of=as_of, since=since
        )
        counts["opened"] += opened["opened"]
        counts["missed"] += opened["missed"]
        for action in group:
            if action.system == "assign_account_manager":
                assigned = vip_assignment.assign_due_account_managers(version=version, action=action, as_of=as_of)
                counts["assigned"] += assigned["assigned"]
                counts["escalated"] += assigned["escalated"]
            fresh = None if changed is None else engine.Fresh(opened_after=opened_after, changed=changed)
            # The usage acts' tasks and SMS are written up once created, found by their ids above these.
            usage = action.code in usage_acts.USAGE_ACTS
            tasks_after = engine.top(Task) if usage else 0
            counts["tasks_created"] += engine.create_tasks(version=version, action=action, as_of=as_of, fresh=fresh)
            if usage:
                usage_acts.annotate_tasks(version=version, action=action, as_of=as_of, after=tasks_after)
            sms_after = engine.top(OutboxMessage) if usage else 0
            counts["sms_queued"] += engine.queue_messages(
                version=version, action=action, send_from=send_from, as_of=as_of, fresh=fresh,
                sending_hours=(playbook.quiet_hours.start, playbook.quiet_hours.end),
            )
            if usage:
                usage_acts.render_messages(version=version, action=action, as_of=as_of, after=sms_after)
    return counts


COUNT_KEYS = (
    "opened", "sms_queued", "tasks_created", "overdue", "escalated", "missed",
    "closed", "superseded", "assigned", "sms_sent",
)


# --- window groups: which acts open together, and which wait for which -----------------------------------


def window_groups(actions: Iterable[schema.Action]) -> list[list[schema.Action]]:
    """The acts in order, gathered by anchor and window: a group opens in one statement per scan.

    Stage 1 has eight acts due from activation day 0 to 3: looking up the journeys of those four days
    once instead of eight times is most of the opening's cost on a large province. A group takes the
    place of its first act, so "system acts first" (see `cycle_run`) still holds.
    """
    groups: dict[tuple, list[schema.Action]] = {}
    for action in actions:
        w = action.window
        groups.setdefault((w.anchor, w.start, w.end, w.latest_day), []).append(action)
    return list(groups.values())


def waits(groups: Sequence[list[schema.Action]]) -> list[int | None]:
    """For each window group (system acts first, see `cycle_run`), the earlier group it must wait for when
    the groups run side by side (on workers: `stages`), or None.

    Groups write different acts and read only customers, journeys and their own acts, so any two are
    independent, except around VIP manager assignment (a system act): it writes the customers' managers
    and the assignees of the account-manager team's tasks. The groups that read those (`_reads_assignment`)
    wait for it; the others run beside it.
    """
    systems = [i for i, g in enumerate(groups) if any(action.system for action in g)]
    assert systems == list(range(len(systems))), "system acts come first"
    last = systems[-1] if systems else None
    return [
        (i - 1 if i else None) if i in systems else (last if _reads_assignment(group) else None)
        for i, group in enumerate(groups)
    ]


def _reads_assignment(group: Sequence[schema.Action]) -> bool:
    """Anchored on the manager's assignment, or a task on the account-manager team's desk (its assignee is
    the customer's manager, and an assignment gives the team's unassigned tasks to the new manager)."""
    return any(
        action.window.anchor == "manager_assigned"
        or (action.task is not None and CHANNEL_UNIT_KIND.get(action.task.channel) == UnitKind.ACCOUNT_MANAGER_TEAM)
        for action in group
    )


def stages(after: Sequence[int | None]) -> list[int]:
    """The stage each group runs in on workers, from `waits`: a group waiting for none runs in the first,
    one waiting for another in the stage after that one's. The groups of a stage run side by side."""
    stage: list[int] = []
    for i, a in enumerate(after):
        assert a is None or a < i, after
        stage.append(0 if a is None else stage[a] + 1)
    return stage
