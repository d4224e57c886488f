"""领取: the plan's hands-on coaching happens at the store or at the city's 3G club (营业厅或俱乐部). The task sits
with the store; the club's staff take it onto their own desk when the customer comes to the club — only
the acts the playbook lets the club take, only in their own city, only while the task runs; each take
audited."""

from __future__ import annotations

import datetime as dt

import pytest

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.core.models import AuditEntry
from onboard90.journeys import cycle, selectors, services
from onboard90.journeys.enums import ActionStatus
from onboard90.journeys.models import Task
from onboard90.org.enums import Role, UnitKind
from onboard90.org.models import Unit
from onboard90.org.scoping import scope_of

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
NOW = clock.at_local(DAY0, 15)  # the activation day, in the afternoon


@pytest.fixture
def walk_in(province):
    """A 济南 customer (and a 青岛 one) who changed number, activated on DAY0, with the activation day's store
    acts open; the club's staff of 济南 and of 青岛, and a clerk of a second 济南 store."""
    builders.scratch_database()
    jinan = province["city"]
    qingdao = builders.city("qingdao")
    customer = builders.customer(city_obj=jinan, activated_on=DAY0, number_changed=True)
    builders.customer(city_obj=qingdao, activated_on=DAY0, number_changed=True)  # 青岛's coaching, out of reach
    cycle.cycle_run(as_of=clock.cycle_instant(DAY0), gateway=province["gateway"], dispatch=False)
    second_store = Unit.objects.create(code="jinan-store-2", city=jinan, kind=UnitKind.STORE, name="济南经十路营业厅")
    return {
        **province,
        "customer": customer,
        "club": builders.staff("club", role=Role.CLUB_STAFF, city_obj=jinan),
        "club_qd": builders.staff("club_qd", role=Role.CLUB_STAFF, city_obj=qingdao),
        "clerk_2": builders.staff("clerk_2", role=Role.STORE_CLERK, city_obj=jinan, unit_obj=second_store),
    }


def task(customer, code: str) -> Task:
    return Task.objects.select_related("owner_unit").get(journey__customer=customer, action__action_code=code)


def test_club_staff_take_internet_coaching_from_a_store_of_their_city(walk_in):
    coaching = task(walk_in["customer"], "internet_coaching")
    assert coaching.owner_unit.kind == UnitKind.STORE and coaching.assignee is None

    taken = services.task_take(task=coaching, taken_by=walk_in["club"], now=NOW)

    club = builders.unit(walk_in["city"], UnitKind.CLUB)
    coaching.refresh_from_db()
    assert taken.owner_unit == club == coaching.owner_unit and coaching.assignee == walk_in["club"]
    assert coaching.status == ActionStatus.OPEN  # taken, not done: the club records the coaching itself
    assert selectors.can_act_on(user=walk_in["club"], task=coaching)
    assert not selectors.can_act_on(user=walk_in["clerk"], task=coaching)


def test_the_take_is_audited_with_the_owner_and_assignee_before_and_after(walk_in):
    coaching = task(walk_in["customer"], "number_change_coaching")

    services.task_take(task=coaching, taken_by=walk_in["club"], now=NOW)

    row = AuditEntry.objects.get(verb="task.take")
    assert row.actor == walk_in["club"] and row.object_id == str(coaching.pk)
    assert row.before == {"owner_unit": "jinan-store-1", "assignee": None}
    assert row.after["owner_unit"] == "jinan-club" and row.after["assignee"] == "club"
    assert row.after["at"] == NOW.astimezone(clock.OPERATOR_TZ).isoformat()


def test_a_clerk_of_another_store_cannot_take_the_coaching(walk_in):
    coaching = task(walk_in["customer"], "internet_coaching")

    with pytest.raises(services.TaskRefused, match="may not take"):
        services.task_take(task=coaching, taken_by=walk_in["clerk_2"], now=NOW)

    assert task(walk_in["customer"], "internet_coaching").owner_unit.code == "jinan-store-1"
    assert not AuditEntry.objects.filter(verb="task.take").exists()


def test_the_club_of_another_city_cannot_take_the_coaching(walk_in):
    coaching = task(walk_in["customer"], "internet_coaching")

    with pytest.raises(services.TaskRefused, match="not a unit of the task's city"):
        services.task_take(task=coaching, taken_by=walk_in["club_qd"], now=NOW)


def test_an_act_the_playbook_does_not_let_the_club_take_is_refused(walk_in):
    terms = task(walk_in["customer"], "contract_terms_notice")

    with pytest.raises(services.TaskRefused, match="does not let a club take it"):
        services.task_take(task=terms, taken_by=walk_in["club"], now=NOW)


def test_a_closed_task_cannot_be_taken(walk_in):
    coaching = task(walk_in["customer"], "internet_coaching")
    services.task_complete(task=coaching, outcome="reached", completed_by=walk_in["clerk"], at=NOW, now=NOW)

    with pytest.raises(services.TaskNotOpen, match="is closed"):
        services.task_take(task=coaching, taken_by=walk_in["club"], now=NOW)


def test_a_task_already_with_the_club_and_a_taker_without_a_unit_are_refused(walk_in):
    coaching = task(walk_in["customer"], "internet_coaching")
    services.task_take(task=coaching, taken_by=walk_in["club"], now=NOW)
    colleague = builders.staff("club_2", role=Role.CLUB_STAFF, city_obj=walk_in["city"])

    with pytest.raises(services.TaskRefused, match="already on jinan-club's desk"):
        services.task_take(task=coaching, taken_by=colleague, now=NOW)
    with pytest.raises(services.TaskRefused, match="belongs to no unit"):
        services.task_take(task=task(walk_in["customer"], "number_change_coaching"),
                           taken_by=walk_in["supervisor"], now=NOW)
    with pytest.raises(services.TaskRefused, match="must name who takes it"):
        services.task_take(task=coaching, taken_by=None, now=NOW)
    assert AuditEntry.objects.filter(verb="task.take").count() == 1


def test_an_inactive_club_member_cannot_take(walk_in):
    club = walk_in["club"]
    club.staff.active = False
    club.staff.save(update_fields=["active"])

    with pytest.raises(services.TaskRefused, match="not active staff"):
        services.task_take(task=task(walk_in["customer"], "internet_coaching"), taken_by=club, now=NOW)


def test_the_club_sees_as_takeable_exactly_the_open_coaching_of_its_citys_stores(walk_in):
    customer = walk_in["customer"]
    coaching = {task(customer, "internet_coaching").pk, task(customer, "number_change_coaching").pk}
    assert Task.objects.filter(owner_unit__code="qingdao-store-1", action__action_code="internet_coaching").exists()

    assert set(selectors.takeable_tasks(walk_in["club"]).values_list("pk", flat=True)) == coaching
    assert set(selectors.takeable_tasks(scope_of(walk_in["club"])).values_list("pk", flat=True)) == coaching
    for nobody in ("clerk", "clerk_2", "agent", "manager", "supervisor"):
        assert not selectors.takeable_tasks(walk_in[nobody]).exists(), nobody

    services.task_take(task=task(customer, "internet_coaching"), taken_by=walk_in["club"], now=NOW)
    left = set(selectors.takeable_tasks(walk_in["club"]).values_list("pk", flat=True))
    assert left == {task(customer, "number_change_coaching").pk}  # the taken one is the club's own work now
