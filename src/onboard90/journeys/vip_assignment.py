"""客户经理分配: which account manager each new VIP gets, by the cycle (the least loaded of the city's managers,
first rated first served) or by a supervisor, and the supervisor's task when a city has none.

The choice itself is a rule (`journeys.rules.assignment.pick_least_loaded`); this module reads the loads,
writes the picks and moves the customers' open account-manager tasks to them.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, OuterRef, Subquery

from onboard90.core import clock
from onboard90.core.bulk import chunks, update_rows
from onboard90.core.planner import broad
from onboard90.core.services import audit_record
from onboard90.core.session import pg_settings
from onboard90.customers.models import Customer
from onboard90.journeys import engine
from onboard90.journeys.enums import RUNNING, ActionStatus, JourneyStatus, TaskKind
from onboard90.journeys.models import Journey, JourneyAction, Task
from onboard90.journeys.rules.assignment import pick_least_loaded
from onboard90.journeys.signals import tasks_created
from onboard90.org.enums import Role, UnitKind
from onboard90.org.models import StaffProfile, Unit


def assign_due_account_managers(*, version, action, as_of: dt.datetime) -> dict[str, int]:
    """客户经理分配: give each newly rated VIP the city's account manager with the fewest open VIP customers.

    Runs over the VIPs whose assignment is open (a handful a day), not over all customers. With no
    manager in the city, the act becomes a task on the supervisor's desk, escalated at once; the next
    cycle retries, so adding a manager (`onboard90 staff add`) resolves it automatically.
    """
    due = list(
        JourneyAction.objects.filter(
            action_code=action.code, status__in=RUNNING, journey__playbook_version=version
        ).select_related("journey__customer")
        # First rated, first served: the picks depend on the order, which must not be the scan's that opened them.
        .order_by("journey__customer__vip_rated_at", "journey__customer_id")
    )
    if not due:
        return {"assigned": 0, "escalated": 0}
    city_ids = {row.journey.customer.city_id for row in due}
    loads = account_manager_loads(city_ids=city_ids)
    assigned = escalated = 0
    # The picks are sequential (each one changes the loads), the writes are not: a few statements for all
    # the picks and per outcome instead of four per VIP (as account_manager_assign would do one by one).
    picks: list[tuple[int, int, int]] = []
    finished: dict[str, list[int]] = {}
    for row in due:
        customer = row.journey.customer
        if customer.account_manager_id is None:
            manager_id = pick_least_loaded(loads.get(customer.city_id, {}))
            if manager_id is None:
                escalated += _raise_assignment_task(row=row, as_of=as_of)
                continue
            loads[customer.city_id][manager_id] += 1
            picks.append((customer.pk, row.journey_id, manager_id))
        status = ActionStatus.DONE if row.due_at is None or as_of <= row.due_at else ActionStatus.DONE_LATE
        finished.setdefault(status, []).append(row.pk)
        assigned += 1
    if picks:
        _assign_managers(picks=picks, at=as_of)
    for status, action_ids in finished.items():
        for chunk in chunks(action_ids):
            JourneyAction.objects.filter(*broad(status__in=RUNNING), pk__in=chunk).update(
                status=status, closed_at=as_of
            )
            Task.objects.filter(*broad(status__in=RUNNING), action_id__in=chunk).update(
                status=status, completed_at=as_of, completed_by=None
            )
    return {"assigned": assigned, "escalated": escalated}


def _assign_managers(*, picks: list[tuple[int, int, int]], at: dt.datetime) -> None:
    """account_manager_assign for many (customer, journey, manager) at once (by the cycle: no audit row): the
    customers in one prepared UPDATE, their tasks in one statement per chunk, however many managers."""
    stamp, day = clock.now(), clock.local_date(at)
    update_rows(
        Customer, ["account_manager", "manager_assigned_at", "manager_assigned_on", "updated_at"],
        ((customer, manager, at, day, stamp) for customer, _, manager in picks),
    )
    teams = Unit.objects.filter(kind="account_manager_team").values("pk")
    manager = Journey.objects.filter(pk=OuterRef("journey_id")).values("customer__account_manager_id")[:1]
    for chunk in chunks([journey for _, journey, _ in picks]):
        # The customers' own tasks, found by journey id (not by every unassigned running task).
        Task.objects.filter(
            *broad(status__in=RUNNING, assignee__isnull=True, owner_unit__in=teams), journey_id__in=chunk
        ).exclude(kind=TaskKind.MANUAL_ASSIGNMENT).update(assignee_id=Subquery(manager))


def account_manager_loads(*, city_ids) -> dict[int, dict[int, int]]:
    """{city: {manager user id: open VIP customers}} for the active account managers of those cities."""
    loads: dict[int, dict[int, int]] = {}
    managers = StaffProfile.objects.filter(role=Role.ACCOUNT_MANAGER, active=True, city_id__in=city_ids)
    city_of = dict(managers.values_list("user_id", "city_id"))
    for user_id, city_id in city_of.items():
        loads.setdefault(city_id, {})[user_id] = 0
    # Counted from the managers' customers (their index), not by walking every manager's relations; each
    # customer's journey probed by its key rather than all million journeys hashed (or, on SQLite, walked
    # by the status index: nearly every journey is active).
    counted = (
        Customer.objects.filter(*broad(journey__status=JourneyStatus.ACTIVE), account_manager_id__in=list(city_of))
        .values_list("account_manager_id")
        .annotate(load=Count("pk"))
    )
    with pg_settings(enable_hashjoin="off", enable_mergejoin="off"):
        for user_id, load in list(counted):
            loads[city_of[user_id]][user_id] = load
    return loads


def account_manager_assign(*, customer, manager_id: int, at: dt.datetime, assigned_by=None) -> None:
    """One-to-one: the customer gets this account manager; their open VIP tasks follow."""
    Customer.objects.filter(pk=customer.pk).update(
        account_manager_id=manager_id, manager_assigned_at=at, manager_assigned_on=clock.local_date(at),
        updated_at=clock.now(),  # a record of the write; the cycle learns of it from the change log
    )
    customer.account_manager_id = manager_id
    customer.manager_assigned_at = at
    customer.manager_assigned_on = clock.local_date(at)
    Task.objects.filter(
        journey__customer=customer, status__in=RUNNING, assignee__isnull=True, owner_unit__kind="account_manager_team"
    ).exclude(kind=TaskKind.MANUAL_ASSIGNMENT).update(assignee_id=manager_id)
    if assigned_by is not None:
        audit_record(actor=assigned_by, verb="customer.assign_account_manager", obj=customer, after={"manager": manager_id})


def _raise_assignment_task(*, row, as_of) -> int:
    """No manager in the city: put the assignment on the supervisor's desk (once) and escalate it."""
    if Task.objects.filter(action=row).exists():
        return 0
    customer = row.journey.customer
    unit = (
        Unit.objects.filter(city_id=customer.city_id, kind=UnitKind.ACCOUNT_MANAGER_TEAM).order_by("id").first()
        or customer.store
    )
    task = Task.objects.create(
        action=row, journey_id=row.journey_id, customer_id=row.customer_id, kind=TaskKind.MANUAL_ASSIGNMENT, owner_unit=unit,
        status=ActionStatus.OPEN, due_at=row.due_at, created_at=as_of, max_attempts=1,
    )
    tasks_created.send(sender=Task, tasks=Task.objects.filter(pk=task.pk), at=as_of)
    return engine.escalate(Task.objects.filter(pk=task.pk), reason="no_account_manager", at=as_of)
