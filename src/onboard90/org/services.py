"""Writes for the organisation: installing the shipped city branches and units, adding staff."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import yaml
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from onboard90.core.services import audit_record
from onboard90.org.enums import ROLE_UNIT_KIND, Role, UnitKind
from onboard90.org.models import City, StaffProfile, Unit
from onboard90.org.selectors import city_lookup, staff_as_dict, unit_lookup, units_of

DATA = resources.files("onboard90.org") / "data"


def _load_yaml(name: str) -> Any:
    path = DATA / name
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"参考数据文件有误 / bad reference data file {name}: {exc}") from exc


def _same(current: Any, shipped: Any) -> bool:
    if current is None or shipped is None:
        return current is None and shipped is None
    if isinstance(current, bool):
        return current == bool(shipped)
    if isinstance(current, (int, Decimal)):
        try:
            return Decimal(str(current)) == Decimal(str(shipped))
        except InvalidOperation:
            return False
    return str(current) == str(shipped)


def install_rows(model: type[models.Model], rows: list[dict[str, Any]], *, key: tuple[str, ...]) -> dict[str, int]:
    """Create the rows whose natural `key` is missing; leave every existing row exactly as it is.

    An operator may have edited a shipped row in the admin; their edit wins, so existing rows are only
    compared, never written. Returns {"created", "unchanged", "edited"} where "edited" counts the
    existing rows (included in "unchanged") that differ from the shipped data.
    """
    counts = {"created": 0, "unchanged": 0, "edited": 0}
    existing = {tuple(getattr(obj, f) for f in key): obj for obj in model.objects.all()}
    for row in rows:
        obj = existing.get(tuple(row[f] for f in key))
        if obj is None:
            try:
                with transaction.atomic():
                    model.objects.create(**row)
            except IntegrityError as exc:
                # Typically an operator renamed another row to this row's name or area code.
                label = ", ".join(f"{f}={row[f]}" for f in key)
                raise ValueError(
                    f"无法新建{model._meta.verbose_name} {label}: 与已有数据冲突 / "
                    f"cannot create {model._meta.model_name} {label}: clashes with an existing row ({exc})"
                ) from exc
            counts["created"] += 1
        else:
            counts["unchanged"] += 1
            if not all(_same(getattr(obj, field), value) for field, value in row.items()):
                counts["edited"] += 1
    return counts


def _city_rows() -> list[dict[str, Any]]:
    rows = []
    for order, item in enumerate(_load_yaml("cities.yaml"), start=1):
        try:
            rows.append(
                {
                    "code": str(item["code"]),
                    "name": str(item["name"]),
                    "name_en": str(item["name_en"]),
                    "area_code": str(item["area_code"]),
                    "weight": int(item.get("weight", 1)),
                    "sort_order": order,
                }
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"cities.yaml 第{order}项有误 / item {order} is invalid: {item!r} ({exc})") from exc
    return rows


def _unit_rows(cities: dict[str, City]) -> list[dict[str, Any]]:
    rows = []
    for city_code, units in (_load_yaml("units.yaml") or {}).items():
        city = cities.get(city_code)
        if city is None:
            # The operator removed or recoded the city; its shipped units have nowhere to go.
            continue
        for item in units:
            if item.get("kind") not in UnitKind.values:
                raise ValueError(f"units.yaml: {item!r} 类型无效 / has an invalid kind ({', '.join(UnitKind.values)})")
            rows.append(
                {
                    "code": str(item["code"]),
                    "city_id": city.pk,
                    "kind": item["kind"],
                    "name": str(item["name"]),
                    "is_main": bool(item.get("is_main", False)),
                }
            )
    return rows


def reference_data_install(*, installed_by: Any = None) -> dict[str, dict[str, int]]:
    """Install the shipped city branches and their units (org/data/*.yaml); idempotent.

    Creates what is missing (by code) and never overwrites a row an operator edited. Returns
    {"cities": counts, "units": counts} with counts as in `install_rows`.
    """
    with transaction.atomic():
        result = {"cities": install_rows(City, _city_rows(), key=("code",))}
        cities = {c.code: c for c in City.objects.all()}
        result["units"] = install_rows(Unit, _unit_rows(cities), key=("code",))
        if any(counts["created"] for counts in result.values()):
            audit_record(
                actor=installed_by, verb="org.install", object_type="org.city", after=result
            )
    return result


def _default_unit(city: City, role: str) -> Unit:
    kind = ROLE_UNIT_KIND[role]
    unit = units_of(city, kind).first()
    if unit is None:
        raise ValueError(
            f"{city.name}没有{UnitKind(kind).label} / {city.name_en} has no unit of kind {kind}; "
            "请先在管理后台添加 / add one in the admin first"
        )
    return unit


def staff_placement_check(*, role: str, city: City | None, unit: Unit) -> None:
    """ValueError unless `unit` is a place a staff member of `role` in `city` may work (see staff_add)."""
    role_label = Role(role).label
    if role == Role.PROVINCE_ADMIN or city is None:
        raise ValueError(
            f"{role_label}不隶属于任何单位 / a province administrator belongs to no unit (got {unit.code})"
        )
    if unit.city_id != city.pk:
        raise ValueError(
            f"单位 {unit.code} 属于{unit.city.name}，不属于{city.name} / "
            f"unit {unit.code} belongs to {unit.city.name_en}, not {city.name_en}"
        )
    kind = ROLE_UNIT_KIND.get(Role(role))
    if kind is not None and unit.kind != kind:
        raise ValueError(
            f"{role_label}应属于{UnitKind(kind).label}，而 {unit.code} 是{unit.get_kind_display()} / "
            f"a {role} works in a unit of kind {kind}, but {unit.code} is a {unit.kind}"
        )


# A mobile number (18653112345) or a landline, optionally with its area code and one dash (0531-88881234).
_PHONE = re.compile(r"(?:0[0-9]{2,3}-)?[0-9]+")


def staff_phone_normalise(phone: str | None) -> str:
    """A work phone as it is stored: stripped, "" when none. ValueError unless it is 7–12 digits, optionally
    split once by a dash after the area code (18653112345, 0531-88881234, 053188881234)."""
    phone = (phone or "").strip()
    if not phone:
        return ""
    if not _PHONE.fullmatch(phone) or not 7 <= len(phone.replace("-", "")) <= 12:
        raise ValueError(
            f"工作电话格式不对 / bad work phone {phone!r}: 应为7至12位数字，区号后可加一个“-” / "
            "7 to 12 digits, optionally an area code and a dash (e.g. 18653112345, 0531-88881234)"
        )
    return phone


def staff_contact_check(*, role: str, display_name: str | None, phone: str | None) -> None:
    """ValueError if `phone` is malformed, or if an account manager lacks a display name or a work phone:
    the VIP tier notice tells the customer their manager's name and number. Shared by staff_add and the
    admin's staff form."""
    staff_phone_normalise(phone)
    if role == Role.ACCOUNT_MANAGER and not ((display_name or "").strip() and (phone or "").strip()):
        raise ValueError(
            "客户经理须填写姓名和工作电话 / an account manager needs a display name and a work phone (--name, --phone)"
        )


def staff_add(
    *,
    username: str,
    role: str,
    city: City | str | None,
    unit: Unit | str | None = None,
    password: str | None = None,
    display_name: str = "",
    phone: str = "",
    added_by: Any = None,
):
    """Add a staff member: a Django user plus their place in the organisation. Returns the user.

    `city` is a City or what a person types (code, Chinese name, area code); only a province
    administrator may have none. `unit` defaults by role: store clerk → the city's main store, club
    staff → its club, call-centre agent → its 10010 centre, account manager → its account-manager team;
    a supervisor may be attached to any unit of their city (else none); a province administrator has
    none. Without a password the user cannot log in until one is set. `phone` is the work phone; an
    account manager needs it and a `display_name` (see staff_contact_check). Invalid input raises
    ValueError.
    """
    user_model = get_user_model()
    username = (username or "").strip()
    if role not in Role.values:
        raise ValueError(f"未知角色 / unknown role: {role!r} (可选 / one of: {', '.join(Role.values)})")
    if not username:
        raise ValueError("用户名不能为空 / username is required")
    try:
        user_model._meta.get_field(user_model.USERNAME_FIELD).run_validators(username)
    except ValidationError as exc:
        raise ValueError(f"用户名无效 / invalid username {username!r}: {' '.join(exc.messages)}") from exc

    if city is None or city == "":
        if role != Role.PROVINCE_ADMIN:
            raise ValueError(f"{Role(role).label}必须指定地市 / a {role} needs a city (--city)")
        city_obj = None
    else:
        city_obj = city_lookup(city)

    unit_obj: Unit | None = None
    if unit not in (None, ""):
        unit_obj = unit_lookup(unit)
        staff_placement_check(role=role, city=city_obj, unit=unit_obj)
    elif city_obj is not None and role in ROLE_UNIT_KIND:
        unit_obj = _default_unit(city_obj, role)

    display_name = (display_name or "").strip()
    phone = staff_phone_normalise(phone)
    staff_contact_check(role=role, display_name=display_name, phone=phone)

    if password is not None:
        try:
            validate_password(password, user=user_model(username=username))
        except ValidationError as exc:
            raise ValueError(f"密码不符合要求 / password rejected: {' '.join(exc.messages)}") from exc

    with transaction.atomic():
        if user_model.objects.filter(**{f"{user_model.USERNAME_FIELD}__iexact": username}).exists():
            raise ValueError(f"用户名已存在 / username already exists: {username}")
        user = user_model(**{user_model.USERNAME_FIELD: username})
        if password is not None:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.is_staff = role in (Role.SUPERVISOR, Role.PROVINCE_ADMIN)
        user.is_superuser = role == Role.PROVINCE_ADMIN
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError as exc:  # a concurrent add of the same name won the race
            raise ValueError(f"用户名已存在 / username already exists: {username}") from exc
        profile = StaffProfile.objects.create(
            user=user, role=role, city=city_obj, unit=unit_obj, display_name=display_name, phone=phone
        )
        after = {**staff_as_dict(profile), "phone": profile.phone}
        audit_record(actor=added_by, verb="staff.add", obj=profile, after=after)
    return user
