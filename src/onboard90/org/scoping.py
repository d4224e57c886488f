"""Who sees what (数据权限): each user's scope, and the filters that keep every page, search, export and
chart inside it.

The rule itself (`scope_for`) is plain Python; the filters turn a scope into `Q` objects for the
querysets of tasks, customers and escalations. A record outside the scope is simply not in the
queryset, so a view that looks it up through these filters answers 404 — the same answer as for a
record that does not exist, never a 403 that would confirm it does.

| role | tasks | customers |
|---|---|---|
| province administrator (or superuser) | all | all |
| branch supervisor | owned by any unit of their city | of their city |
| store clerk, club staff, call-centre agent | owned by their unit, or assigned to them | with a task of their unit, or (clerk) activated at their store |
| account manager | assigned to them, or their own VIP customers' account-manager work | their own VIP customers |
| anyone else (no staff profile, inactive) | none | none |

One reach is added for staff whose unit may take (领取) work of another unit: the running tasks of their city
whose act the playbook lets their unit take (`TaskSpec.takeable_by`, e.g. the club takes the store's hands-on
coaching), and those tasks' customers (`takeable_filter`, `takeable_customer_filter`). Only to look at them
and take them: working on one still needs it on their own desk (`journeys.rules.tasks.may_act`), and the
worklists stay `task_filter`'s.
"""

from __future__ import annotations

import dataclasses

from django.db.models import Exists, OuterRef, Q

PROVINCE, CITY, UNIT, MANAGER, NOTHING = "province", "city", "unit", "manager", "nothing"


@dataclasses.dataclass(frozen=True)
class Scope:
    kind: str
    user_id: int | None = None
    city_id: int | None = None
    unit_id: int | None = None
    role: str | None = None

    @property
    def is_province(self) -> bool:
        return self.kind == PROVINCE

    @property
    def is_supervising(self) -> bool:
        """Supervisors and the province: they watch figures, handle escalations and reassign work."""
        return self.kind in (PROVINCE, CITY)


def scope_for(
    *, role: str | None, active: bool, superuser: bool, user_id: int | None, city_id: int | None,
    unit_id: int | None,
) -> Scope:
    """The scope of a user described by their staff profile (plain values, no database)."""
    if superuser or (active and role == "province_admin"):
        return Scope(PROVINCE, user_id=user_id, role=role or "province_admin")
    if not active or role is None:
        return Scope(NOTHING, user_id=user_id)
    if role == "supervisor":
        return Scope(CITY, user_id=user_id, city_id=city_id, role=role) if city_id is not None else Scope(NOTHING)
    if role == "account_manager":
        return Scope(MANAGER, user_id=user_id, city_id=city_id, unit_id=unit_id, role=role)
    if unit_id is not None:
        return Scope(UNIT, user_id=user_id, city_id=city_id, unit_id=unit_id, role=role)
    return Scope(NOTHING, user_id=user_id)


def scope_of(user) -> Scope:
    """The scope of a Django user (anonymous: nothing). Reads the profile the request already loaded."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Scope(NOTHING)
    profile = getattr(user, "staff", None) if hasattr(user, "staff") else None
    return scope_for(
        role=profile.role if profile else None, active=bool(profile and profile.active and user.is_active),
        superuser=user.is_superuser and user.is_active, user_id=user.pk,
        city_id=profile.city_id if profile else None, unit_id=profile.unit_id if profile else None,
    )


_NONE = Q(pk__in=[])


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
    return _NONE


def customer_filter(scope: Scope) -> Q:
    """Q over Customer."""
    from onboard90.journeys.models import Task

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
        own = Q(store_id=scope.unit_id) if scope.role == "store_clerk" else _NONE
        return own | Q(worked)
    return _NONE


def escalation_filter(scope: Scope) -> Q:
    """Q over Escalation: a supervisor's city, the province; no one else handles escalations."""
    if scope.kind == PROVINCE:
        return Q()
    if scope.kind == CITY:
        return Q(unit__city_id=scope.city_id)
    return _NONE


def city_filter(scope: Scope, field: str = "city_id") -> Q:
    """Q over any model with a city: the supervisor's city, the province, nothing for the others (their
    figures are their own unit's, not a city's)."""
    if scope.kind == PROVINCE:
        return Q()
    if scope.kind == CITY:
        return Q(**{field: scope.city_id})
    return _NONE


def takeable_filter(*, unit_id: int, city_id: int, codes: dict[int, set[str]], prefix: str = "") -> Q:
    """Q over Task (or, with `prefix="task__"`, over a model that reaches a task by that path): the running act
    tasks a unit may take onto its own desk — owned by another unit of its city, of an act the unit's kind may
    take in the playbook version of the task's journey. `codes` is {playbook version id: those act codes}
    (`journeys.selectors.takeable_codes`); empty, nothing."""
    from onboard90.journeys.enums import RUNNING, TaskKind

    p = prefix
    acts = Q()
    for version_id, version_codes in sorted(codes.items()):
        if version_codes:
            acts |= Q(**{f"{p}journey__playbook_version_id": version_id,
                         f"{p}action__action_code__in": sorted(version_codes)})
    if not acts:
        return _NONE
    return (
        Q(**{f"{p}status__in": list(RUNNING), f"{p}kind": TaskKind.ACT, f"{p}owner_unit__city_id": city_id})
        & ~Q(**{f"{p}owner_unit_id": unit_id})
        & acts
    )


def takeable_customer_filter(*, unit_id: int, city_id: int, codes: dict[int, set[str]]) -> Q:
    """Q over Customer: the customers of the tasks `takeable_filter` finds."""
    from onboard90.journeys.models import Task

    if not any(codes.values()):
        return _NONE
    taken = takeable_filter(unit_id=unit_id, city_id=city_id, codes=codes)
    return Q(Exists(Task.objects.filter(taken, journey__customer_id=OuterRef("pk"))))
