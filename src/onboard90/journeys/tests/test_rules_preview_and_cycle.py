"""The cycle writes what the preview and the rules say: for random windows, anchors, days and city units,
the acts' window dates and due instants, and the unit each task is on (runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import contextlib
import datetime as dt
import typing
from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.journeys import cycle, selectors
from onboard90.journeys.audience_sql import facts_of
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import JourneyAction, Task
from onboard90.journeys.rules import assignment, windows
from onboard90.journeys.rules import audience as audience_rules
from onboard90.org.enums import UnitKind
from onboard90.org.models import City, Unit
from onboard90.playbook import schema

pytestmark = pytest.mark.django_db

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Drawn from with repeats where a value should come up more often (anchors every customer has, audiences
# every customer is in), so that most acts of an example open, are missed or are pending.
ANCHORS = ("activation", "activation", "vip_rated", "manager_assigned", "bill_issued", "data_surge")
AUDIENCES = ("true", "true", "true", "vip", "not vip", 'product == "postpaid"')
CHANNELS = typing.get_args(schema.Channel)


@dataclass(frozen=True)
class Act:
    anchor: str
    start: int
    end: int
    latest_day: int | None
    audience: str
    channel: str | None  # None: an SMS, no task
    task_audience: str


@dataclass(frozen=True)
class World:
    acts: list[Act]
    units: list[tuple[str, bool]]  # (kind, is_main) in the order they are created (ids ascending)
    store_at: int  # which of them is the customer's store (a store)
    activated_on: dt.date
    vip_rated: int | None  # days after activation
    manager_assigned: int | None
    first_bill: int | None
    today: int  # the cycle's journey day


@st.composite
def acts(draw, today: int) -> Act:
    # Now and then a window (of an act on the activation) or a cut-off on the edge of the cycle's day.
    edge = st.integers(max(0, today - 1), today + 1)
    start = draw(st.integers(0, 30) | edge)
    return Act(
        anchor=draw(st.sampled_from(ANCHORS)),
        start=start,
        end=draw(st.integers(start, start + 60) | st.integers(max(start, today - 1), max(start, today + 1))),
        latest_day=draw(st.none() | st.integers(0, 89) | edge),
        audience=draw(st.sampled_from(AUDIENCES)),
        channel=draw(st.sampled_from((*CHANNELS, None))),
        task_audience=draw(st.sampled_from(AUDIENCES[:5])),
    )


@st.composite
def worlds(draw) -> World:
    # Several units of a kind, main or not, in any order of creation (ids): the owner rule picks among them.
    units = draw(st.lists(st.tuples(st.sampled_from(UnitKind.values), st.booleans()), min_size=2, max_size=8))
    store_at = draw(st.integers(0, len(units)))
    units.insert(store_at, ("store", draw(st.booleans())))
    vip = draw(st.booleans())
    days = st.integers(0, 60)
    today = draw(st.integers(0, 89))
    return World(
        acts=draw(st.lists(acts(today), min_size=2, max_size=6)),
        units=units,
        store_at=store_at,
        activated_on=dt.date(2012, 3, 1) + dt.timedelta(days=draw(st.integers(0, 400))),
        vip_rated=draw(days) if vip else None,
        manager_assigned=draw(st.none() | days) if vip else None,
        first_bill=draw(st.none() | days),
        today=today,
    )


def document(world: World) -> dict:
    actions = []
    for i, act in enumerate(world.acts):
        action = {
            "code": f"act_{i}", "name": f"动作{i}", "name_en": f"act {i}", "kind": "callback", "source": "plan",
            "audience": act.audience,
            "window": {"anchor": act.anchor, "start": act.start, "end": act.end, "latest_day": act.latest_day},
        }
        if act.channel is None:
            action.update(deliveries=["sms"], sms={"template": "您好"})
        else:
            action.update(
                deliveries=["call"],
                task={"channel": act.channel, "title": "回访", "script": "您好", "audience": act.task_audience},
            )
        actions.append(action)
    stage = {"number": 1, "code": "all", "name": "全程", "name_en": "all", "source": "plan", "days": [0, 89]}
    return {"name": "规则一致性", "stages": [{**stage, "actions": actions}]}


def build(world: World):
    """The world's city, units, playbook and customer (with its journey); the customer and its units."""
    city = City.objects.create(code="rules", name="规则市", name_en="Rules", area_code="0999")
    made = [
        Unit.objects.create(code=f"rules-{i}", city=city, kind=kind, name=f"单位{i}", is_main=is_main)
        for i, (kind, is_main) in enumerate(world.units)
    ]
    builders.playbook_version(document(world))

    def after(days: int | None) -> dt.date | None:
        return None if days is None else world.activated_on + dt.timedelta(days=days)

    customer = builders.customer(
        city_obj=city, store=made[world.store_at], activated_on=world.activated_on,
        vip_tier=builders.vip_tier("gold") if world.vip_rated is not None else None,
        vip_rated_on=after(world.vip_rated), manager_assigned_on=after(world.manager_assigned),
        first_bill_on=after(world.first_bill),
    )
    return customer, made


@contextlib.contextmanager
def rolled_back():
    """Each example on a clean database: everything it wrote goes with its savepoint."""
    point = transaction.savepoint()
    try:
        yield
    finally:
        transaction.savepoint_rollback(point)


def local(instant: dt.datetime) -> str:
    return instant.astimezone(clock.OPERATOR_TZ).isoformat()


def check(world: World) -> None:
    customer, units = build(world)
    today = world.activated_on + dt.timedelta(days=world.today)
    as_of = clock.cycle_instant(today)
    facts = facts_of(customer)
    anchors = {
        "activation": customer.activated_on, "vip_rated": customer.vip_rated_on,
        "manager_assigned": customer.manager_assigned_on, "bill_issued": customer.first_bill_on, "data_surge": None,
    }
    city_units = [(unit.pk, unit.kind, unit.is_main) for unit in units]
    codes = {unit.pk: unit.code for unit in units}

    preview = {a["code"]: a for a in selectors.journey_document(msisdn=customer.msisdn, as_of=as_of)["actions"]}
    cycle.cycle_run(as_of=as_of, dispatch=False, figures=False)
    rows = {row.action_code: row for row in JourneyAction.objects.filter(journey__customer=customer)}
    tasks = {t.action.action_code: t for t in Task.objects.filter(journey__customer=customer).select_related("action")}
    after = {a["code"]: a for a in selectors.journey_document(msisdn=customer.msisdn, as_of=as_of)["actions"]}

    for i, act in enumerate(world.acts):
        code = f"act_{i}"
        where, span = windows.phase(
            anchors=anchors, anchor=act.anchor, start=act.start, end=act.end, latest_day=act.latest_day, today=today
        )
        if not audience_rules.evaluate(audience_rules.parse(act.audience), facts):
            where = "not for this customer"
        with_task = act.channel is not None and audience_rules.evaluate(audience_rules.parse(act.task_audience), facts)
        owner = (
            codes[assignment.owner_unit(act.channel, store_id=customer.store_id, city_units=city_units)]
            if with_task else None
        )
        shown = preview.get(code)
        row = rows.get(code)
        context = f"{code} {act} {where} today={today}"
        event(f"{where}, {'a task' if with_task else 'no task'}")
        if where in ("due", "not_yet"):
            assert shown is not None, context
            assert (shown["window_start"], shown["window_end"], shown["due_at"]) == (
                span.start.isoformat(), span.end.isoformat(), local(windows.due_at(span))
            ), context
            assert shown["owner_unit"] == owner, context
        else:
            assert shown is None, context
        if where in ("due", "passed"):
            assert row is not None, context
            assert row.status == (ActionStatus.OPEN if where == "due" else ActionStatus.MISSED), context
            assert (row.window_start, row.window_end, row.due_at) == (span.start, span.end, windows.due_at(span)), context
        else:
            assert row is None, context
        if where == "due":
            # The preview of the day, before the cycle, is what the cycle wrote (as the journey now shows it).
            opened = after[code]
            for field in ("window_start", "window_end", "due_at", "owner_unit"):
                assert opened[field] == shown[field], (field, context)
            assert (tasks[code].owner_unit.code if code in tasks else None) == owner, context
        else:
            assert code not in tasks, context


def test_the_cycle_writes_the_windows_and_owners_the_preview_and_the_rules_give():
    builders.package("A66")

    @SETTINGS
    @given(worlds())
    def agree(world: World) -> None:
        with rolled_back():
            check(world)

    agree()


def test_every_task_channel_of_the_playbook_has_an_owner_rule():
    for channel in CHANNELS:
        kind = assignment.unit_kind(channel)
        assert kind is None if channel == "store" else kind in UnitKind.values


def test_the_preview_gives_each_tasks_owner_reading_the_city_units_once():
    world = World(
        acts=[Act("activation", 1, 3, None, "true", channel, "true") for channel in CHANNELS],
        units=[("store", True), ("club", False), ("club", True), ("call_centre", False)],
        store_at=0, activated_on=dt.date(2012, 3, 1), vip_rated=None, manager_assigned=None, first_bill=None, today=0,
    )
    customer, _ = build(world)
    with CaptureQueriesContext(connection) as queries:
        doc = selectors.journey_document(msisdn=customer.msisdn, as_of=clock.cycle_instant(world.activated_on))
    owners = {a["code"]: a["owner_unit"] for a in doc["actions"]}
    assert sum(q["sql"].startswith('SELECT') and 'FROM "org_unit"' in q["sql"] for q in queries.captured_queries) == 1
    # store → the store; club → the main club; call centre → the only one; no account-manager team: the store.
    assert owners == {"act_0": "rules-0", "act_1": "rules-2", "act_2": "rules-3", "act_3": "rules-0", "act_4": "rules-0"}
