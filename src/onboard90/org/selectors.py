"""Reads over the organisation: finding a city from what a person types, units of a kind, staff lists."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Case, F, IntegerField, QuerySet, Value, When

from onboard90.org.enums import Role, UnitKind
from onboard90.org.models import City, StaffProfile, Unit


def _normalise(text: str) -> str:
    return text.strip().lower().replace("'", "").replace("’", "").replace(" ", "").replace("-", "")


def city_lookup(text: str | City) -> City:
    """The city a person means by `text`: its code (jinan), Chinese name with or without 市 (济南 / 济南市),
    English name (Tai'an) or area code (0531, also 531).

    >>> city_lookup("济南市").code
    'jinan'

    Raises ValueError (Chinese and English) naming the known cities when nothing matches.
    """
    if isinstance(text, City):
        return text
    raw = str(text or "").strip()
    if not raw:
        raise ValueError("未指定地市 / no city given")
    name = raw.removesuffix("市")
    key = _normalise(raw)
    digits = raw if raw.isdigit() else ""
    if digits and not digits.startswith("0"):
        digits = "0" + digits
    for city in City.objects.all():
        if (
            city.name == name
            or city.code == key
            or _normalise(city.name_en) == key
            or (digits and city.area_code == digits)
        ):
            return city
    known = ", ".join(f"{c.name}({c.code}, {c.area_code})" for c in City.objects.all())
    hint = known or "尚无地市数据，请先运行 onboard90 init / no cities yet: run `onboard90 init` first"
    raise ValueError(f"未知地市 / unknown city: {raw!r}. 可用 / known: {hint}")


def city_list() -> QuerySet[City]:
    return City.objects.all()


def unit_lookup(code: str | Unit) -> Unit:
    """A unit by its code (jinan-store-2); ValueError if there is none."""
    if isinstance(code, Unit):
        return code
    unit = Unit.objects.select_related("city").filter(code=str(code).strip().lower()).first()
    if unit is None:
        codes = list(Unit.objects.order_by("code").values_list("code", flat=True)[:21])
        shown = ", ".join(codes[:20]) + (", …" if len(codes) > 20 else "")
        raise ValueError(
            f"未知单位 / unknown unit: {code!r}. 可用 / known: {shown or '-'} "
            "(全部单位见管理后台 /admin/org/unit/ / every unit: the admin's unit list at /admin/org/unit/)"
        )
    return unit


def units_of(city: City | str, kind: str | None = None) -> QuerySet[Unit]:
    """The units of a city, optionally of one kind; the main store comes first among stores."""
    city = city_lookup(city)
    units = Unit.objects.filter(city=city).select_related("city")
    if kind is not None:
        if kind not in UnitKind.values:
            raise ValueError(f"未知单位类型 / unknown unit kind: {kind!r} ({', '.join(UnitKind.values)})")
        units = units.filter(kind=kind)
    return units.order_by("-is_main", "code")


def staff_list(*, city: City | str | None = None, role: str | None = None) -> QuerySet[StaffProfile]:
    """Staff profiles (with user, city and unit loaded), province-wide staff first, then by city and role."""
    profiles = StaffProfile.objects.select_related("user", "city", "unit")
    if city is not None:
        profiles = profiles.filter(city=city_lookup(city))
    if role is not None:
        if role not in Role.values:
            raise ValueError(f"未知角色 / unknown role: {role!r} ({', '.join(Role.values)})")
        profiles = profiles.filter(role=role)
    return profiles.order_by(F("city__sort_order").asc(nulls_first=True), "role", "user__username")


def supervisors_of(unit: Unit) -> QuerySet:
    """Active users who supervise `unit`: supervisors of its city, one attached to that very unit first."""
    user_model = get_user_model()
    return (
        user_model.objects.filter(
            is_active=True, staff__active=True, staff__role=Role.SUPERVISOR, staff__city_id=unit.city_id
        )
        .annotate(
            _elsewhere=Case(When(staff__unit_id=unit.pk, then=Value(0)), default=Value(1), output_field=IntegerField())
        )
        .order_by("_elsewhere", "username")
    )


def staff_as_dict(profile: StaffProfile) -> dict[str, Any]:
    """One staff member as plain data (the `staff list --json` row)."""
    user = profile.user
    return {
        "username": user.get_username(),
        "display_name": profile.display_name,
        "role": profile.role,
        "role_name": str(profile.get_role_display()),
        "city": profile.city.code if profile.city else None,
        "city_name": profile.city.name if profile.city else None,
        "unit": profile.unit.code if profile.unit else None,
        "unit_name": profile.unit.name if profile.unit else None,
        "active": profile.active and user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "can_log_in": user.has_usable_password(),
    }
