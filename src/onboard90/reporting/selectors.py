"""Reads of the management dashboard's compliance figures (合规统计), inside the viewer's scope.

Three levels, each a few queries whatever the number of rows shown:

- the province (administrator): per act and per stage, and one row per city — from the cells;
- a city (its supervisor, or the administrator drilling down): the same, one row per store of the
  customers (the compliance report's "store") — from the cells;
- one unit (a store, the club, the call centre, the account-manager team): the work that unit owns,
  one row per staff member — counted live from the unit's tasks (a unit's tasks are few, and read by
  the (owner_unit, status) index), by the same definitions.

The figures are those of `journeys.selectors.compliance_report` (口径: `journeys.selectors.figures`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from onboard90.core import clock
from onboard90.core.language import pick
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import Task
from onboard90.journeys.selectors import COUNTED, figures
from onboard90.org import scoping
from onboard90.org.models import City, Unit
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.selectors import playbook_of
from onboard90.reporting.models import FigureCell, FigureRefresh
from onboard90.reporting.services import COUNTS

PROVINCE, CITY, UNIT = "province", "city", "unit"
DEFAULT_DAYS = 30
UNASSIGNED = "未分配"


class OutOfScope(LookupError):
    """A city or unit the viewer may not see, or that does not exist: the view answers 404."""


@dataclasses.dataclass(frozen=True)
class Target:
    """What the page shows: the province, one city, or one unit of a city."""

    level: str
    city: object | None = None
    unit: object | None = None

    def scope_for_others(self, scope: scoping.Scope) -> scoping.Scope:
        """The viewer's scope narrowed to the city shown (the administrator drilling into 济南 sees 济南's
        other sections too)."""
        if self.city is None or scope.kind == scoping.CITY:
            return scope
        return dataclasses.replace(scope, kind=scoping.CITY, city_id=self.city.pk)


def dashboard_target(*, scope: scoping.Scope, city: str | None = None, unit: str | None = None) -> Target:
    """The province, a city or a unit named by code, if the viewer may see it (else `OutOfScope`).

    A supervisor's page is their city; naming another city or another city's unit is out of scope, the
    same answer as a code that does not exist. Clerks, agents and managers have no dashboard.
    """
    if not scope.is_supervising:
        raise OutOfScope("no dashboard")
    city_obj = None
    if city:
        city_obj = City.objects.filter(scoping.city_filter(scope, "pk"), code=city).first()
        if city_obj is None:
            raise OutOfScope(city)
    elif scope.kind == scoping.CITY:
        city_obj = City.objects.get(pk=scope.city_id)
    if unit:
        found = Unit.objects.filter(scoping.city_filter(scope), code=unit).select_related("city").first()
        if found is None or (city_obj is not None and found.city_id != city_obj.pk):
            raise OutOfScope(unit)
        return Target(UNIT, city=found.city, unit=found)
    return Target(CITY if city_obj else PROVINCE, city=city_obj)


def date_range(*, today: dt.date, due_from: str | None, due_to: str | None) -> tuple[dt.date, dt.date, list[str]]:
    """The due-date range asked for (inclusive), the last 30 days to today by default, and the problems found
    with what was typed (each a message for the page; the default stands in for a value that cannot be read)."""
    errors = []

    def parse(text: str | None, default: dt.date, label: str) -> dt.date:
        text = (text or "").strip()
        if not text:
            return default
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            errors.append(
                _("%(label)s“%(text)s”不是有效日期（格式 2012-03-05），已改用 %(default)s")
                % {"label": label, "text": text[:20], "default": f"{default:%Y-%m-%d}"}
            )
            return default

    end = parse(due_to, today, _("结束日期"))
    start = parse(due_from, end - dt.timedelta(days=DEFAULT_DAYS - 1), _("开始日期"))
    if start > end:
        errors.append(
            _("开始日期 %(start)s 晚于结束日期 %(end)s，已改为同一天")
            % {"start": f"{start:%Y-%m-%d}", "end": f"{end:%Y-%m-%d}"}
        )
        start = end
    return start, end, errors


def _due_in(due_from: dt.date, due_to: dt.date, prefix: str = "") -> Q:
    """The compliance report's due-date filter: the local date of the due time, or the window's end."""
    p = prefix
    start, after = clock.at_local(due_from), clock.at_local(due_to + dt.timedelta(days=1))
    return (Q(**{f"{p}due_at__gte": start}) | Q(**{f"{p}due_at__isnull": True, f"{p}window_end__gte": due_from})) & (
        Q(**{f"{p}due_at__lt": after}) | Q(**{f"{p}due_at__isnull": True, f"{p}window_end__lte": due_to})
    )


def _cell_sums(as_of: dt.datetime) -> dict:
    """Sums over cells, with the running acts classified at `as_of` as the report does: an act still open
    whose due time has passed is overdue."""
    past = Q(due_at__lt=as_of)
    zero = Value(0)
    # Named n_… : an aggregate may not take the name of the column it sums.
    return {
        "n_done": Coalesce(Sum("done"), zero),
        "n_done_late": Coalesce(Sum("done_late"), zero),
        "n_backdated": Coalesce(Sum("backdated"), zero),
        "n_missed": Coalesce(Sum("missed"), zero),
        "n_open": Coalesce(Sum("open", filter=~past), zero),
        "n_overdue": Coalesce(Sum("overdue"), zero) + Coalesce(Sum("open", filter=past), zero),
    }


def cell_counts(row: dict | None) -> dict:
    """The six counts of a row summed by `_cell_sums` (zeros for a row that is not there)."""
    return {name: int(row[f"n_{name}"]) for name in COUNTS} if row else _zero()


def _act_counts(as_of: dt.datetime) -> dict:
    """The same counts straight from the acts (`compliance_report`'s aggregates), for the live unit level."""
    late_entry = Q(backdated=True)
    past_due = Q(action__due_at__lt=as_of)
    status = "action__status"
    return {
        "done": Count("id", filter=Q(**{status: ActionStatus.DONE}) & ~late_entry),
        "done_late": Count("id", filter=Q(**{status: ActionStatus.DONE_LATE}) & ~late_entry),
        "backdated": Count("id", filter=Q(**{f"{status}__in": [ActionStatus.DONE, ActionStatus.DONE_LATE]}) & late_entry),
        "missed": Count("id", filter=Q(**{status: ActionStatus.MISSED})),
        "open": Count("id", filter=Q(**{status: ActionStatus.OPEN}) & ~past_due),
        "overdue": Count("id", filter=Q(**{status: ActionStatus.OVERDUE}) | (Q(**{status: ActionStatus.OPEN}) & past_due)),
    }


def act_names() -> tuple[dict[str, dict], dict[int, str]]:
    """{act code: {name, stage, order}} and {stage number: name} from the playbook versions (newest first
    wins), so every act on file has its name (the playbook's English on an English page) and its place in the
    plan."""
    acts: dict[str, dict] = {}
    stages: dict[int, str] = {}
    for version in PlaybookVersion.objects.only("pk", "checksum").order_by("-number"):
        order = 0
        for stage in playbook_of(version).stages:
            stages.setdefault(stage.number, pick(stage.name, stage.name_en))
            for action in stage.actions:
                order += 1
                name = pick(action.name, action.name_en)
                acts.setdefault(action.code, {"name": name, "stage": stage.number, "order": order})
    return acts, stages


def _add(into: dict, counts: dict) -> None:
    for name in COUNTS:
        into[name] = into.get(name, 0) + int(counts[name] or 0)


def _zero() -> dict:
    return dict.fromkeys(COUNTS, 0)


def _by_act_and_stage(grouped: list[dict]) -> tuple[list[dict], list[dict], dict]:
    """Per act, per stage and the total, from rows grouped by (action_code, stage)."""
    names, stage_names = act_names()
    acts: dict[str, dict] = {}
    stages: dict[int, dict] = {}
    total = _zero()
    for row in grouped:
        _add(acts.setdefault(row["action_code"], {"stage": row["stage"]}), row)
        _add(stages.setdefault(row["stage"], {}), row)
        _add(total, row)
    act_rows = [
        {
            "code": code,
            "name": names.get(code, {}).get("name", code),
            "stage": counts["stage"],
            "stage_name": stage_names.get(counts["stage"], str(counts["stage"])),
            **figures(**{name: counts[name] for name in COUNTS}),
        }
        for code, counts in acts.items()
    ]
    act_rows.sort(key=lambda r: (r["stage"], names.get(r["code"], {}).get("order", 999), r["code"]))
    stage_rows = [
        {"stage": number, "name": stage_names.get(number, str(number)), **figures(**counts)}
        for number, counts in sorted(stages.items())
    ]
    return act_rows, stage_rows, figures(**total)


def compliance_overview(
    *, target: Target, due_from: dt.date, due_to: dt.date, as_of: dt.datetime
) -> dict:
    """The dashboard's compliance section for `target` (see the module): per act, per stage, the rows one
    level down (cities, stores or staff) and the total, each with the figures of `figures()`."""
    if target.level == UNIT:
        return _unit_overview(target=target, due_from=due_from, due_to=due_to, as_of=as_of)

    cells = FigureCell.objects.filter(_due_in(due_from, due_to))
    if target.level == CITY:
        cells = cells.filter(city_id=target.city.pk)
    sums = _cell_sums(as_of)
    by_act = [
        {"action_code": row["action_code"], "stage": row["stage"], **cell_counts(row)}
        for row in cells.values("action_code", "stage").annotate(**sums).order_by()
    ]
    acts, stages, total = _by_act_and_stage(by_act)
    if target.level == PROVINCE:
        grouped = {row["city_id"]: row for row in cells.values("city_id").annotate(**sums).order_by()}
        rows = [
            {"key": city.code, "label": pick(city.name, city.name_en), "city": city.code, **figures(**cell_counts(grouped.get(city.pk)))}
            for city in City.objects.order_by("sort_order", "code")
        ]
        others = []
    else:
        grouped = {row["store_id"]: row for row in cells.values("store_id").annotate(**sums).order_by()}
        units = list(Unit.objects.filter(city=target.city).order_by("kind", "-is_main", "code"))
        stores = [u for u in units if u.kind == "store"]
        rows = [
            {"key": u.code, "label": u.name, "city": target.city.code, "unit": u.code, **figures(**cell_counts(grouped.get(u.pk)))}
            for u in stores
        ]
        if grouped.get(None):
            rows.append({"key": "", "label": _("未登记营业厅"), **figures(**cell_counts(grouped[None]))})
        others = [{"code": u.code, "name": u.name, "kind": u.get_kind_display()} for u in units if u.kind != "store"]
    return {
        "level": target.level,
        "rows_kind": "city" if target.level == PROVINCE else "store",
        "acts": acts,
        "stages": stages,
        "rows": rows,
        "total": total,
        "other_units": others,
        "refreshed": FigureRefresh.objects.order_by("-id").first(),
        "live": False,
    }


def _unit_overview(*, target: Target, due_from: dt.date, due_to: dt.date, as_of: dt.datetime) -> dict:
    """One unit's own work, live from its tasks: per act, per stage and per staff member (the person who
    completed it or, while it runs, its assignee; the work assigned to no one on a row of its own) — the
    compliance report's "staff" view for this unit."""
    tasks = Task.objects.filter(
        _due_in(due_from, due_to, prefix="action__"), owner_unit_id=target.unit.pk, action__status__in=COUNTED,
        action__opened_at__lte=as_of,
    )
    grouped = list(
        tasks.values(
            action_code=F("action__action_code"), stage=F("action__stage"),
            person=Coalesce(F("completed_by_id"), F("assignee_id")),
        )
        .annotate(**_act_counts(as_of))
        .order_by()
    )
    acts, stages, total = _by_act_and_stage(grouped)
    people: dict = {}
    for row in grouped:
        _add(people.setdefault(row["person"], {}), row)
    users = {
        pk: name or username
        for pk, username, name in get_user_model()
        .objects.filter(pk__in=[p for p in people if p is not None])
        .values_list("pk", "username", "staff__display_name")
    }
    rows = [
        {"key": str(pk), "label": users.get(pk, str(pk)), **figures(**counts)}
        for pk, counts in people.items()
        if pk is not None
    ]
    rows.sort(key=lambda r: r["label"])
    if None in people:
        rows.append({"key": "", "label": UNASSIGNED, "unassigned": True, **figures(**people[None])})
    return {
        "level": UNIT,
        "rows_kind": "staff",
        "acts": acts,
        "stages": stages,
        "rows": rows,
        "total": total,
        "other_units": [],
        "refreshed": None,
        "live": True,
    }
