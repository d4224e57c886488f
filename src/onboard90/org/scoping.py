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
coaching), and those tasks' customers (`journeys.scoping.takeable_filter`, `takeable_customer_filter`). Only to look at them
and take them: working on one still needs it on their own desk (`journeys.rules.tasks.may_act`), and the
worklists stay `journeys.scoping.task_filter`'s.

The filters over tasks and the customers reached through them are `journeys.scoping`'s (they need the task
table); here are the scopes and the filters only the organisation decides.
"""

from __future__ import annotations

import dataclasses

from django.db.models import Q

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


# The filter that matches no row: what a scope that reaches nothing sees.
NO_ROWS = Q(pk__in=[])


def escalation_filter(scope: Scope) -> Q:
    """Q over Escalation: a supervisor's city, the province; no one else handles escalations."""
    if scope.kind == PROVINCE:
        return Q()
    if scope.kind == CITY:
        return Q(unit__city_id=scope.city_id)
    return NO_ROWS


def city_filter(scope: Scope, field: str = "city_id") -> Q:
    """Q over any model with a city: the supervisor's city, the province, nothing for the others (their
    figures are their own unit's, not a city's)."""
    if scope.kind == PROVINCE:
        return Q()
    if scope.kind == CITY:
        return Q(**{field: scope.city_id})
    return NO_ROWS
