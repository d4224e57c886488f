"""Writes of the dashboard's figures: the daily rebuild of the cells and the exact moves of staff work.

When the cells change (统计更新时机):

- the daily cycle rebuilds every cell at its end (`figures_rebuild`, on `journeys.signals.cycle_finishing`,
  see `receivers`; also `onboard90 figures rebuild`): the acts it opened, marked overdue, superseded or closed;
- a completion, a bulk completion and a supervisor's correction (`journeys.services.task_complete`,
  `tasks_complete_bulk`, `task_correct`) move their acts from one count to another in their own
  transaction (`figure_cells_apply`, on `journeys.signals.acts_moved`), so the dashboard shows staff work at once;
- anything else between two cycles (a cancellation imported at noon, a customer moved to another store
  in the admin) shows at the next cycle's rebuild.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Case, Count, F, Q, When

from onboard90.core import clock
from onboard90.core.bulk import chunks, insert_select, insert_values
from onboard90.journeys.engine import cycle_session
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import JourneyAction
from onboard90.journeys.selectors import COUNTED, closed_counts
from onboard90.reporting.models import FigureCell, FigureRefresh

COUNTS = ("done", "done_late", "backdated", "missed", "open", "overdue")
KEY = ("city_id", "store_id", "action_code", "stage", "due_at", "window_end")


def bucket(status: str, backdated: bool = False) -> str | None:
    """The count an act of this status falls in (None: never owed, counted nowhere) — the cells' side of
    `journeys.selectors.figures`: a completion entered late (backdated) is counted apart from on-time and
    late work; running acts by their recorded status (the reader re-reads `open` past its due time)."""
    if status in (ActionStatus.DONE, ActionStatus.DONE_LATE):
        return "backdated" if backdated else str(status)
    if status in (ActionStatus.MISSED, ActionStatus.OPEN, ActionStatus.OVERDUE):
        return str(status)
    return None


class CellChange(NamedTuple):
    """One act moved by staff work: its status (and the task's backdated mark) before and after."""

    action_id: int
    status_before: str
    status_after: str
    backdated_before: bool = False
    backdated_after: bool = False


def _cell_rows(as_of: dt.datetime):
    """The cells, as a query over the acts: the compliance report's rows and counts, grouped by cell."""
    return (
        JourneyAction.objects.filter(status__in=COUNTED, opened_at__lte=as_of)
        .values_list(
            F("journey__customer__city_id"), F("journey__customer__store_id"), "action_code", "stage", "due_at",
            Case(When(due_at__isnull=True, then=F("window_end"))),
        )
        .annotate(
            **closed_counts(),
            open=Count("id", filter=Q(status=ActionStatus.OPEN)),
            overdue=Count("id", filter=Q(status=ActionStatus.OVERDUE)),
        )
        .order_by()
    )


def _lock_cells() -> None:
    """PostgreSQL: keep completions off the cells while they are rebuilt. A completion that has already
    moved a cell is waited for (and so is in the rebuild's reading of the acts); one that comes later
    waits, then moves the new cell. Without it a move made to a cell being deleted would be lost until
    the next day. (SQLite has one writer at a time anyway.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {connection.ops.quote_name(FigureCell._meta.db_table)} IN EXCLUSIVE MODE")
            # The grouping of every act is one big hash or sort: at the server's default 4 MB it spills to
            # disk. This transaction only (SET LOCAL) may use more.
            cursor.execute("SET LOCAL work_mem = '256MB'")


def figures_rebuild(*, as_of: dt.datetime) -> FigureRefresh:
    """统计重算: replace every cell by a count of the acts opened by `as_of`, in one transaction.

    One DELETE and one INSERT … SELECT … GROUP BY over the acts (one pass, joined to their customers), on
    SQLite and PostgreSQL alike; the dashboard then reads a few thousand cells instead of every act.
    """
    started, clock_start = clock.now(), time.perf_counter()
    with transaction.atomic(), cycle_session():
        _lock_cells()
        FigureCell.objects.all()._raw_delete(FigureCell.objects.db)  # no signals, no per-row collection
        written = insert_select(FigureCell, [*KEY, *COUNTS], _cell_rows(as_of))
        return FigureRefresh.objects.create(
            as_of=as_of, started_at=started, seconds=round(time.perf_counter() - clock_start, 3), cells=written
        )


def figure_cells_apply(*, changes: Iterable[CellChange | tuple]) -> int:
    """Move each changed act from its old count to its new one in its cell, in the caller's transaction.

    An act the last rebuild had not counted (opened after it, by a cycle that then failed) only adds to its
    new count. Before the first rebuild there is nothing to keep exact: the rebuild will count everything.
    Returns how many cells were written.
    """
    moves = [CellChange(*change) for change in changes]
    moves = [m for m in moves if bucket(m.status_before, m.backdated_before) != bucket(m.status_after, m.backdated_after)]
    if not moves:
        return 0
    last = FigureRefresh.objects.order_by("-id").values_list("as_of", flat=True).first()
    if last is None:
        return 0
    acts = {}
    for chunk in chunks([m.action_id for m in moves]):
        for pk, *key, opened_at in JourneyAction.objects.filter(pk__in=chunk).values_list(
            "pk", "journey__customer__city_id", "journey__customer__store_id", "action_code", "stage", "due_at",
            "window_end", "opened_at",
        ):
            if key[4] is not None:
                key[5] = None  # window_end is part of the key only for acts without a due time
            acts[pk] = (tuple(key), opened_at <= last)
    deltas: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for move in moves:
        if move.action_id not in acts:
            continue
        key, counted = acts[move.action_id]
        before, after = bucket(move.status_before, move.backdated_before), bucket(move.status_after, move.backdated_after)
        if before and counted:
            deltas[key][before] -= 1
        if after:
            deltas[key][after] += 1
    if not deltas:
        return 0
    # The cells of these keys, in one read: by the cities and due times involved, then matched exactly.
    cities = {key[0] for key in deltas}
    dues = {key[4] for key in deltas if key[4] is not None}
    near = FigureCell.objects.filter(Q(due_at__in=dues) | Q(due_at__isnull=True), city_id__in=cities)
    found: dict[tuple, int] = {}
    for pk, *key in near.order_by("pk").values_list("pk", *KEY):
        found.setdefault(tuple(key), pk)
    updates, inserts = [], []
    for key, delta in deltas.items():
        if key in found:
            updates.append([*(delta[name] for name in COUNTS), found[key]])
        else:
            inserts.append([*key, *(delta[name] for name in COUNTS)])
    table = connection.ops.quote_name(FigureCell._meta.db_table)
    sets = ", ".join(f"{connection.ops.quote_name(name)} = {connection.ops.quote_name(name)} + %s" for name in COUNTS)
    if updates:
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", updates)
    if inserts:
        insert_values(FigureCell, ["city", "store", "action_code", "stage", "due_at", "window_end", *COUNTS], inserts)
    return len(updates) + len(inserts)
