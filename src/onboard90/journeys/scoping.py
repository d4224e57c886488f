"""Who sees which work (数据权限 over tasks and customers): a user's scope (`org.scoping`) turned into the `Q`
filters of the querysets of tasks and of the customers reached through them.

The scopes themselves, and the filters over what only the organisation decides (escalations by city, any
model with a city), are `org.scoping`'s; these need the tasks, so they sit with the engine that makes them.
A record outside the scope is not in the queryset, so a view that looks it up through these answers 404.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from onboard90.journeys.enums import RUNNING, TaskKind
from onboard90.journeys.models import Task
from onboard90.org.scoping import CITY, MANAGER, NO_ROWS, PROVINCE, UNIT, Scope


def task_filter(scope: Scope, prefix: str = "") -> Q:
    """Q over Task (or, with `prefix="task__"`, over a model that reaches a task by that path)."""
    p = prefix
    if scope.kind == PROVINCE:
        return Q()
    if scope.kind == CITY:
        return Q(**{f"{p}owner_unit__city_id": scope.city_id})
    if scope.kind == UNIT:
        return Q(**{f"{p}owner_unit_id": scope.unit_id}) | Q(**{f"{p}assignee_id": scope.user_id})
    if scope.kind == MANAGER:
        # Their own VIPs' account-manager work (a store's task for the same customer is the store's).
        return Q(**{f"{p}assignee_id": scope.user_id}) | Q(
            **{f"{p}journey__customer__account_manager_id": scope.user_id,
               f"{p}owner_unit__kind": "account_manager_team"}
        )
    return NO_ROWS


def customer_filter(scope: Scope) -> Q:
    """Q over Customer."""
    if scope.kind == PROVINCE:
        return Q()
    if scope.kind == CITY:
        return Q(city_id=scope.city_id)
    if scope.kind == MANAGER:
        return Q(account_manager_id=scope.user_id)
    if scope.kind == UNIT:
        worked = Exists(
            Task.objects.filter(journey__customer_id=OuterRef("pk")).filter(
                Q(owner_unit_id=scope.unit_id) | Q(assignee_id=scope.user_id)
            )
        )
        own = Q(store_id=scope.unit_id) if scope.role == "store_clerk" else NO_ROWS
        return own | Q(worked)
    return NO_ROWS


def takeable_filter(*, unit_id: int, city_id: int, codes: dict[int, set[str]], prefix: str = "") -> Q:
    """Q over Task (or, with `prefix="task__"`, over a model that reaches a task by that path): the running act
    tasks a unit may take onto its own desk — owned by another unit of its city, of an act the unit's kind may
    take in the playbook version of the task's journey. `codes` is {playbook version id: those act codes}
    (`journeys.selectors.takeable_codes`); empty, nothing."""
    p = prefix
    acts = Q()
    for version_id, version_codes in sorted(codes.items()):
        if version_codes:
            acts |= Q(**{f"{p}journey__playbook_version_id": version_id,
                         f"{p}action__action_code__in": sorted(version_codes)})
    if not acts:
        return NO_ROWS
    return (
        Q(**{f"{p}status__in": list(RUNNING), f"{p}kind": TaskKind.ACT, f"{p}owner_unit__city_id": city_id})
        & ~Q(**{f"{p}owner_unit_id": unit_id})
        & acts
    )


def takeable_customer_filter(*, unit_id: int, city_id: int, codes: dict[int, set[str]]) -> Q:
    """Q over Customer: the customers of the tasks `takeable_filter` finds."""
    if not any(codes.values()):
        return NO_ROWS
    taken = takeable_filter(unit_id=unit_id, city_id=city_id, codes=codes)
    return Q(Exists(Task.objects.filter(taken, journey__customer_id=OuterRef("pk"))))
