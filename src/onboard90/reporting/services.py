"""Writes of the dashboard's figures: the count of the cells, the cycle's advance and the exact moves of staff work.

When the cells change (统计更新时机):

- the first cycle counts every cell (`figures_rebuild`; also `onboard90 figures rebuild`, any time);
- every later cycle, at its end, recounts the cells its work touched (`figures_advance`, on
  `journeys.signals.cycle_finishing`, see `receivers`): those of the acts opened since the last count, of the
  acts that stopped running by other means than those below (superseded, missed unseen, done by SMS, closed
  at a cancellation), and of the customers who moved to another city or store. A day's work, not the file,
  sets its cost;
- a completion, a bulk completion and a supervisor's correction (`journeys.services.task_complete`,
  `tasks_complete_bulk`, `task_correct`) move their acts from one count to another in their own
  transaction (`figure_cells_apply`, on `journeys.signals.acts_moved`), so the dashboard shows staff work at
  once — except for an act opened since the last count, which the next cycle counts as it then stands;
- so do the engine's two bulk flips, an act gone overdue with its task and a running act missed at its
  journey's end (`journeys.signals.acts_flipped`): counted by recount, a closing cohort's groups would read
  all ninety days of its acts back, which at a national size are on disk, to move a few of them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Case, Count, F, FilteredRelation, Max, Q, Sum, When

from onboard90.core import clock
from onboard90.core.bulk import chunks, insert_select, insert_values
from onboard90.core.partitions import customers_between
from onboard90.core.planner import among, narrow
from onboard90.core.session import pg_settings
from onboard90.journeys.enums import RUNNING, ActionStatus
from onboard90.journeys.models import Journey, JourneyAction
from onboard90.journeys.selectors import COUNTED, closed_counts
from onboard90.reporting.models import CustomerMove, FigureCell, FigureRefresh
from onboard90.reporting.operations import operations_refresh

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
    """One act moved by staff work or flipped by the engine: its status (and the task's backdated mark) before
    and after; its customer when the mover knows it (the engine's flips), which lets PostgreSQL read the act in
    its customer's partition only."""

    action_id: int
    status_before: str
    status_after: str
    backdated_before: bool = False
    backdated_after: bool = False
    customer_id: int | None = None


# A cell's key read off an act (its customer's city and store; its window's end only when it has no due time).
_CELL_KEY = (
    F("customer__city_id"), F("customer__store_id"), "action_code", "stage", "due_at",
    Case(When(due_at__isnull=True, then=F("window_end"))),
)


def _cell_rows(as_of: dt.datetime):
    """The cells, as a query over the acts: the compliance report's rows and counts, grouped by cell.

    The customer is read from the act's own copy of it, and its task by act and customer: on PostgreSQL the
    customer names the one partition of the task table to look in (`core.partitions`)."""
    return (
        JourneyAction.objects.filter(status__in=COUNTED, opened_at__lte=as_of)
        .annotate(own_task=FilteredRelation("task", condition=Q(task__customer_id=F("customer_id"))))
        .values_list(*_CELL_KEY)
        .annotate(
            **closed_counts(task="own_task"),
            open=Count("id", filter=Q(status=ActionStatus.OPEN)),
            overdue=Count("id", filter=Q(status=ActionStatus.OVERDUE)),
        )
        .order_by()
    )


def _lock_cells() -> None:
    """PostgreSQL: hold the acts still and keep completions off the cells while they are counted.

    The acts first (SHARE: writers of acts wait, and the ones under way are waited for), so that the highest
    act id read is the last act counted — a later commit cannot bring a lower id — and a completion that has
    already moved its act and is about to move its cell finishes first, rather than deadlocking on the cells.
    (SQLite has one writer at a time anyway.)"""
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {quote(JourneyAction._meta.db_table)} IN SHARE MODE")
            cursor.execute(f"LOCK TABLE {quote(FigureCell._meta.db_table)} IN EXCLUSIVE MODE")
            # The grouping of many acts is one big hash or sort: at the server's default 4 MB it spills to
            # disk. This transaction only (SET LOCAL) may use more.
            cursor.execute("SET LOCAL work_mem = '256MB'")


def _last_act() -> int:
    return JourneyAction.objects.aggregate(top=Max("pk"))["top"] or 0


def figures_rebuild(*, as_of: dt.datetime) -> FigureRefresh:
    """统计重算: replace every cell by a count of the acts opened by `as_of`, in one transaction.

    One DELETE and one INSERT … SELECT … GROUP BY over the acts (one pass, joined to their customers), on
    SQLite and PostgreSQL alike; the dashboard then reads a few thousand cells instead of every act. It reads
    every act on file: the cycle runs it only when there is no count to advance (`figures_advance`).
    """
    started, clock_start = clock.now(), time.perf_counter()
    with transaction.atomic():
        _lock_cells()
        upto = _last_act()
        FigureCell.objects.all()._raw_delete(FigureCell.objects.db)  # no signals, no per-row collection
        CustomerMove.objects.all()._raw_delete(CustomerMove.objects.db)
        written = insert_select(FigureCell, [*KEY, *COUNTS], _cell_rows(as_of).filter(pk__lte=upto))
        return FigureRefresh.objects.create(
            as_of=as_of, started_at=started, seconds=round(time.perf_counter() - clock_start, 3), cells=written,
            full=True, acts_upto=upto,
        )


# The key of a group of acts: the act and its due time (or its window's end, for the few without one).
Group = tuple[str, dt.datetime | None, dt.date | None]


def _group_of(code: str, due_at, window_end) -> Group:
    return (code, due_at, None if due_at is not None else window_end)


def _touched_groups(*, last: FigureRefresh, upto: int) -> tuple[set[Group], int]:
    """The (act, due time) groups whose cells the work since `last` can have changed, and how many groups the
    cells hold (read on the way: `_probing` weighs the one against the other). The groups come from three sources:

    - the acts opened since (ids above `last.acts_upto`);
    - the acts that stopped running or changed between open and overdue: the running acts the cells count
      for each group against those on file now. Nothing else makes an act leave those counts but staff
      work and the engine's overdue and journey-end flips, which have moved their cells already (so count
      them the same on both sides), and nothing but a correction brings one back;
    - the customers who moved to another city or store (`CustomerMove`): all their acts.
    """
    counted = JourneyAction.objects.filter(status__in=COUNTED)
    groups: set[Group] = set()
    since = counted.filter(*narrow(pk__gt=last.acts_upto), pk__lte=upto)
    for row in since.values_list("action_code", "due_at", "window_end").distinct():
        groups.add(_group_of(*row))
    moved = list(CustomerMove.objects.values_list("customer_id", flat=True).distinct())
    for chunk in chunks(moved):
        # Through their journeys (an act is found by its journey's index), not a scan of every act.
        journeys = Journey.objects.filter(customer_id__in=chunk).values("pk")
        for row in counted.filter(journey_id__in=journeys).values_list("action_code", "due_at", "window_end").distinct():
            groups.add(_group_of(*row))
    # Running counts per group, the cells' against the acts' (every code the cells know, each of its two
    # running statuses: ranges of the (code, status, id, due time) index).
    in_cells: dict[Group, tuple[int, int]] = {}
    held = 0
    for code, due_at, window_end, n_open, n_overdue in (
        FigureCell.objects.values_list("action_code", "due_at", "window_end")
        .annotate(Sum("open"), Sum("overdue")).order_by()
    ):
        held += 1
        if n_open or n_overdue:
            key = _group_of(code, due_at, window_end)
            before = in_cells.get(key, (0, 0))
            in_cells[key] = (before[0] + n_open, before[1] + n_overdue)
    codes = list(FigureCell.objects.values_list("action_code", flat=True).distinct().order_by())
    # (narrow: the running statuses pick a few hundred thousand of ten million acts, which SQLite cannot know)
    running = JourneyAction.objects.filter(*narrow(status__in=RUNNING), action_code__in=codes, pk__lte=last.acts_upto)
    counts = {"n_open": Count("id", filter=Q(status=ActionStatus.OPEN)), "n_overdue": Count("id", filter=Q(status=ActionStatus.OVERDUE))}
    on_file: dict[Group, tuple[int, int]] = {}
    # Grouped by due time from the (code, status, id, due time) index alone (no condition on the due time,
    # which would lead SQLite to the (code, due time) index and every act of each code); the rare running acts
    # without one, grouped by their window's end from the rows.
    for code, due_at, n_open, n_overdue in running.values_list("action_code", "due_at").annotate(**counts).order_by():
        if due_at is not None:
            on_file[(code, due_at, None)] = (n_open, n_overdue)
    for code, window_end, n_open, n_overdue in (
        running.filter(due_at__isnull=True).values_list("action_code", "window_end").annotate(**counts).order_by()
    ):
        on_file[(code, None, window_end)] = (n_open, n_overdue)
    groups.update(key for key in in_cells.keys() | on_file.keys() if in_cells.get(key, (0, 0)) != on_file.get(key, (0, 0)))
    return groups, held


def _in_groups(groups: Iterable[Group]) -> Q:
    """The acts (or cells) of these groups: one term per act code, its due times as one IN list."""
    dues: dict[str, set] = defaultdict(set)
    ends: dict[str, set] = defaultdict(set)
    for code, due_at, window_end in groups:
        if due_at is not None:
            dues[code].add(due_at)
        else:
            ends[code].add(window_end)
    q = Q(pk__in=[])
    for code, values in dues.items():
        for chunk in chunks(sorted(values), 500):
            q |= Q(action_code=code, due_at__in=chunk)
    for code, values in ends.items():
        dated = sorted(v for v in values if v is not None)
        term = Q(window_end__in=dated) if dated else Q(pk__in=[])
        if None in values:
            term |= Q(window_end__isnull=True)
        q |= Q(action_code=code, due_at__isnull=True) & term
    return q


# A recount of at most 1/FEW_GROUPS of the groups counted reads its acts' tasks and customers by index; a larger
# one (a catch-up over many days) reads them whole, as the rebuild does.
FEW_GROUPS = 4


def _probing(*, few: bool):
    """PostgreSQL prices a hash of every task and customer on file below an index probe for each of a
    few groups' acts (a day's groups are some hundred thousand acts of ten million at 1M journeys): with few
    groups the recount takes the probes (0.5 s there, against 1.8 s for the hashes, which grow with the file,
    not with the day)."""
    return pg_settings(enable_hashjoin="off", enable_mergejoin="off") if few else contextlib.nullcontext()


def figures_advance(*, as_of: dt.datetime) -> FigureRefresh:
    """统计更新: bring the cells up to the acts on file by recounting only the groups the work since the last
    count touched (`_touched_groups`), in one transaction — each such group's cells deleted and counted again
    from its acts (by the (act code, due time) index), every other cell kept as it is.

    With nothing counted yet (or a count of an earlier business time than `as_of`'s last, as in a replay),
    it is the whole rebuild. Equal to `figures_rebuild` at any point: a property test walks both.
    """
    last = FigureRefresh.objects.order_by("-id").first()
    if last is None or last.acts_upto is None or as_of < last.as_of:
        return figures_rebuild(as_of=as_of)
    started, clock_start = clock.now(), time.perf_counter()
    with transaction.atomic():
        _lock_cells()
        upto = _last_act()
        last_move = CustomerMove.objects.aggregate(top=Max("pk"))["top"]
        groups, held = _touched_groups(last=last, upto=upto)
        written = 0
        if groups:
            # The cells' side of the key: a cell of an act with a due time has no window end.
            FigureCell.objects.filter(_in_groups(groups))._raw_delete(FigureCell.objects.db)
            rows = _cell_rows(as_of).filter(_in_groups(groups), pk__lte=upto)
            with _probing(few=len(groups) * FEW_GROUPS <= held):
                written = insert_select(FigureCell, [*KEY, *COUNTS], rows)
        if last_move is not None:
            CustomerMove.objects.filter(pk__lte=last_move)._raw_delete(CustomerMove.objects.db)
        return FigureRefresh.objects.create(
            as_of=as_of, started_at=started, seconds=round(time.perf_counter() - clock_start, 3), cells=written,
            full=False, acts_upto=upto,
        )


def figure_cells_apply(*, changes: Iterable[CellChange | tuple]) -> int:
    """Move each changed act from its old count to its new one in its cell, in the caller's transaction.

    An act the last count did not reach (opened since it) is left to the next cycle's advance, which counts
    it as it then stands: moving it now would count it twice. Before the first count there is nothing to
    keep exact: the rebuild will count everything. Returns how many cells were written.
    """
    moves = [CellChange(*change) for change in changes]
    moves = [m for m in moves if bucket(m.status_before, m.backdated_before) != bucket(m.status_after, m.backdated_after)]
    if not moves:
        return 0
    last = FigureRefresh.objects.order_by("-id").values_list("as_of", "acts_upto").first()
    if last is None:
        return 0
    last_as_of, upto = last
    counted = Q(pk__lte=upto) if upto is not None else Q(opened_at__lte=last_as_of)
    # The moves by the counts they leave and join, each kind's acts counted per cell by the database: a day's
    # overdue flips are thousands of acts in a few hundred cells. In customer order where the customers are
    # known, so each chunk's range names a partition or two.
    kinds: dict[tuple[str | None, str | None], list[tuple[int, int | None]]] = defaultdict(list)
    for m in moves:
        kind = (bucket(m.status_before, m.backdated_before), bucket(m.status_after, m.backdated_after))
        kinds[kind].append((m.action_id, m.customer_id))
    deltas: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for (before, after), acts in kinds.items():
        placed = sorted((act for act in acts if act[1] is not None), key=lambda act: act[1])
        unplaced = [act for act in acts if act[1] is None]
        for chunk in (*chunks(placed, 5000), *chunks(unplaced, 5000)):
            between = customers_between(chunk) if chunk[0][1] is not None else Q()
            cells = (
                JourneyAction.objects.filter(between, counted, among("pk", [pk for pk, _ in chunk]))
                .values_list(*_CELL_KEY).annotate(n=Count("pk")).order_by()
            )
            for *key, n in cells:
                if before:
                    deltas[tuple(key)][before] -= n
                if after:
                    deltas[tuple(key)][after] += n
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
        updates.sort(key=lambda row: row[-1])  # one order of the cells for every writer: no deadlock between two
        with connection.cursor() as cursor:
            cursor.executemany(f"UPDATE {table} SET {sets} WHERE id = %s", updates)
    if inserts:
        insert_values(FigureCell, ["city", "store", "action_code", "stage", "due_at", "window_end", *COUNTS], inserts)
    return len(updates) + len(inserts)


class DashboardsRefresh(NamedTuple):
    today: dt.date
    scopes: list[str]
    seconds: float


def dashboards_refresh(*, today: dt.date) -> DashboardsRefresh:
    """看板预计算: the operations figures the province's and each city's dashboard open with on `today` (the
    default range), read ahead of the first look — the daily job runs it after the cycle, so the morning's first
    supervisor does not wait seconds for them (`operations.operations_refresh`). Writes the shared cache only."""
    from onboard90.reporting.selectors import date_range  # selectors import this module

    start = time.perf_counter()
    date_from, date_to, _errors = date_range(today=today, due_from=None, due_to=None)
    scopes = operations_refresh(today=today, date_from=date_from, date_to=date_to)
    return DashboardsRefresh(today=today, scopes=scopes, seconds=time.perf_counter() - start)
