"""The daily cycle (日处理) from end to end: `cycle_run` takes the lock, reads the change log, and runs each
step of `engine` once, in order, over one set of journeys to look at (all of them, or those changed plus those
whose windows open today: `changes.Since`).

The steps: usage's verdicts (package fit, the offer: `usage_acts`), supersede, then per window group (acts sharing an anchor and window, run side by side on
PostgreSQL) open the due acts, assign VIP managers, create tasks and queue SMS; then overdue and escalations,
the outbox's dispatch, the journeys that reached their last day, and the figures (`signals.cycle_finishing`).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable, Sequence

from django.db import transaction
from django.db.models import Max

from onboard90.core import clock
from onboard90.core.locks import singleton_lock
from onboard90.core.workers import run_side_by_side, workers_for_cycle
from onboard90.journeys import changes, engine, usage_acts, vip_assignment
from onboard90.journeys.enums import CycleStatus
from onboard90.journeys.models import CycleRun, JourneyAction
from onboard90.journeys.rules.assignment import CHANNEL_UNIT_KIND
from onboard90.journeys.selectors import versions_in_use
from onboard90.journeys.signals import cycle_finishing
from onboard90.messaging.policy import next_send_time
from onboard90.messaging.services import outbox_dispatch_due
from onboard90.org.enums import UnitKind
from onboard90.playbook import schema
from onboard90.playbook.selectors import playbook_of

log = logging.getLogger("onboard90.journeys")


def cycle_run(
    *, as_of: dt.datetime, gateway=None, dispatch: bool = True, rescan: bool = False, figures: bool = True
) -> CycleRun:
    """日处理: the daily cycle as of `as_of`. Idempotent: the same instant twice changes nothing.

    Order matters only within a day: supersede before opening (a fresh VIP never gets both calls),
    system acts (VIP manager assignment) before the acts anchored on them, deliveries after opening,
    then overdue/escalation, the outbox, and finally journeys that reached their last day.

    After a finished cycle only what changed since it is looked at (`engine.Since`, from the change log it
    consumes: `journeys.changes`); `rescan` looks at every journey, for a database someone has edited behind
    the application's back (with its triggers off).
    """
    today = clock.local_date(as_of)
    if today > clock.today():
        raise CycleRefused(
            f"不能提前运行日处理：{today} 晚于今天 {clock.today()} / the daily cycle cannot run ahead of time: "
            f"{today} is after today ({clock.today()}); simulated history belongs in a scratch database "
            "(`onboard90 demo`, `onboard90 bench`, or `init --scratch` with ONBOARD90_CLOCK)"
        )
    with singleton_lock("cycle") as alone:
        if not alone:
            raise CycleBusy("另一个日处理正在运行 / another daily cycle is running on this database; try again later")
        # Holding the lock, a run still marked running was cut off (the process died): say so.
        CycleRun.objects.filter(status=CycleStatus.RUNNING).update(
            status=CycleStatus.FAILED, finished_at=clock.now(), counts={"interrupted": True}
        )
        previous = (
            CycleRun.objects.filter(status=CycleStatus.FINISHED, as_of__lt=as_of).order_by("-as_of").first()
        )
        versions = versions_in_use()
        digest = changes.facts_digest(versions)
        # The run's own start and finish times are the only clock readings here: records, never inputs.
        run = CycleRun.objects.create(as_of=as_of, started_at=clock.now(), status=CycleStatus.RUNNING, digest=digest)
        # Usage's verdicts first: a verdict that moved is a change of its customer, claimed just below.
        usage_counts = usage_acts.usage_verdicts(run=run, versions=versions, today=today)
        touched = changes.changes_consume(run=run)
        since = None if rescan else changes.since_previous(previous, digest=digest, run=run, touched=touched)
        with engine.cycle_session():
            return _cycle(
                run=run, versions=versions, since=since, as_of=as_of, today=today, gateway=gateway, dispatch=dispatch,
                figures=figures, usage_counts=usage_counts,
            )


class CycleBusy(ValueError):
    """Another cycle holds the database (cron fired twice, or an operator ran one by hand)."""


class CycleRefused(ValueError):
    """A cycle asked for a day after today: it would escalate, miss and send work ahead of time."""


def _cycle(*, run, versions, since, as_of, today, gateway, dispatch, figures, usage_counts=None) -> CycleRun:
    counts = dict.fromkeys(COUNT_KEYS, 0)
    counts.update(usage_counts or {})
    workers = workers_for_cycle()
    try:
        # In a delta cycle (see engine.Since) the older acts that can need a supersede or a new delivery.
        changed = None
        if since is not None:
            before = JourneyAction.objects.aggregate(top=Max("pk"))["top"] or 0
            codes = {code for v in versions for code in changes.changeable(playbook_of(v).actions)}
            changed = changes.changed_running_acts(since=since, before=before, codes=codes)
        for version in versions:
            playbook = playbook_of(version)
            ordered = sorted(playbook.actions, key=lambda a: a.system is None)  # system acts first
            for action in ordered:
                candidates = None if changed is None else changed.get(action.code, [])
                counts["superseded"] += engine.supersede(version=version, action=action, as_of=as_of, candidates=candidates)
            send_from = next_send_time(as_of, playbook.quiet_hours.start, playbook.quiet_hours.end)
            groups = window_groups(ordered)
            jobs = [
                functools.partial(
                    _open_group, version=version, playbook=playbook, group=group, today=today, as_of=as_of,
                    since=since, changed=changed, send_from=send_from,
                )
                for group in groups
            ]
            done = run_side_by_side(jobs, workers=workers, session=engine.cycle_session, after=waits(groups))
            for opened in done:
                for key, value in opened.items():
                    counts[key] += value
        overdue = engine.mark_overdue(as_of=as_of, workers=workers)
        counts["overdue"] += overdue["overdue"]
        counts["escalated"] += overdue["escalated"]
        if dispatch:  # the outbox-dispatch job, run in line by default; at scale it runs on its own
            dispatched = outbox_dispatch_due(as_of=as_of, gateway=gateway)
            counts["sms_sent"] += dispatched["sms_sent"]
            counts["missed"] += dispatched["sms_missed"]
        for version in versions_in_use():
            counts["closed"] += engine.close_finished_journeys(
                version=version, playbook=playbook_of(version), today=today, as_of=as_of, workers=workers
            )
        # The dashboard's figures follow, once the day's work is on file (reporting listens).
        cycle_finishing.send(sender=CycleRun, run=run, as_of=as_of, last_day=figures)
        changes.changes_prune(as_of=as_of)
    except BaseException:
        run.status = CycleStatus.FAILED
        run.finished_at = clock.now()
        run.counts = counts
        run.save(update_fields=["status", "finished_at", "counts"])
        raise
    run.status = CycleStatus.FINISHED
    run.finished_at = clock.now()
    run.counts = counts
    run.save(update_fields=["status", "finished_at", "counts"])
    log.info(
        "cycle %s: " + " ".join(f"{key}=%d" for key in COUNT_KEYS), today.isoformat(), *(counts[k] for k in COUNT_KEYS)
    )
    return run


def _open_group(*, version, playbook, group, today, as_of, since, changed, send_from) -> dict[str, int]:
    """One window group of acts: open them, assign VIP managers if it is that act, create their tasks and
    queue their SMS, in one transaction (its own connection when the cycle runs side by side)."""
    counts = dict.fromkeys(("opened", "missed", "assigned", "escalated", "tasks_created", "sms_queued"), 0)
    with transaction.atomic():
        # The group's new acts have ids above this: their deliveries are looked for by id (and by code, so
        # the acts another connection opens meanwhile are not this group's).
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
            counts["tasks_created"] += engine.create_tasks(version=version, action=action, as_of=as_of, fresh=fresh)
            usage_acts.annotate_tasks(version=version, action=action, as_of=as_of)
            counts["sms_queued"] += engine.queue_messages(
                version=version, action=action, send_from=send_from, as_of=as_of, fresh=fresh,
                sending_hours=(playbook.quiet_hours.start, playbook.quiet_hours.end),
            )
            usage_acts.render_messages(version=version, playbook=playbook, action=action, as_of=as_of)
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
    the groups run side by side (`core.workers`), or None.

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
