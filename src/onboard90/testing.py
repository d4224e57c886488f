"""Builders for tests: small, explicit objects instead of fixture files.

    city = builders.city()                       # 济南, with its four units
    customer = builders.customer(city=city, activated_on=date(2012, 3, 1))
"""

from __future__ import annotations

import datetime as dt
import fcntl
import itertools
import os
from decimal import Decimal
from typing import Any

import psycopg
from django.contrib.auth import get_user_model
from django.db import connection

from onboard90.catalog.models import Package, VipTier
from onboard90.core import clock, locks
from onboard90.core.services import scratch_mark
from onboard90.customers.models import Customer
from onboard90.journeys import cycle, engine
from onboard90.journeys.services import journeys_start
from onboard90.org.enums import ROLE_UNIT_KIND, UnitKind
from onboard90.org.models import City, StaffProfile, Unit
from onboard90.playbook import schema
from onboard90.playbook.models import PlaybookVersion
from onboard90.playbook.services import default_document, document_checksum

_seq = itertools.count(1)

CITY_NAMES = {
    "jinan": ("济南", "Jinan", "0531"),
    "qingdao": ("青岛", "Qingdao", "0532"),
    "zibo": ("淄博", "Zibo", "0533"),
}


def city(code: str = "jinan", **fields: Any):
    """A city branch with a main store, a club, an account-manager team and a call centre."""
    name, name_en, area = CITY_NAMES.get(code, (f"城{code}", code.title(), f"09{next(_seq):02d}"))
    obj, created = City.objects.get_or_create(
        code=code, defaults={"name": name, "name_en": name_en, "area_code": area, **fields}
    )
    if created:
        for kind, suffix, label in [
            (UnitKind.STORE, "store-1", "营业厅"),
            (UnitKind.CLUB, "club", "3G客户俱乐部"),
            (UnitKind.ACCOUNT_MANAGER_TEAM, "am", "客户经理团队"),
            (UnitKind.CALL_CENTRE, "cc", "10010客服中心"),
        ]:
            Unit.objects.create(
                code=f"{code}-{suffix}", city=obj, kind=kind, name=f"{obj.name}{label}", is_main=suffix == "store-1"
            )
    return obj


def unit(city_obj, kind: str):
    return city_obj.units.filter(kind=kind).order_by("-is_main", "id").first()


def package(code: str = "A66", **fields: Any):
    defaults = dict(
        name=f"沃3G基本套餐{code}",
        family=code[0] if code[0] in "ABC" else "prepaid",
        product="prepaid" if code.startswith("P") else "postpaid",
        monthly_fee=Decimal("66"),
        voice_min=50,
        data_mb=300,
        sms=240,
        voice_rate=Decimal("0.20"),
        data_rate=Decimal("0.30"),
        sms_rate=Decimal("0.10"),
    )
    defaults.update(fields)
    obj, _ = Package.objects.get_or_create(code=code, defaults=defaults)
    return obj


def vip_tier(code: str = "gold"):
    tiers = {"diamond": ("钻石卡", 1), "platinum": ("白金卡", 2), "gold": ("金卡", 3), "silver": ("银卡", 4)}
    name, rank = tiers[code]
    obj, _ = VipTier.objects.get_or_create(code=code, defaults={"name": name, "rank": rank, "enabled": code != "platinum"})
    return obj


def staff(
    username: str | None = None, *, role: str, city_obj=None, unit_obj=None, display_name: str = "", phone: str = ""
):
    """A user with a staff profile, written directly (staff_add's rules, such as an account manager's name
    and work phone, are not applied: pass `display_name` and `phone` where a test needs them)."""
    username = username or f"{role}{next(_seq)}"
    user = get_user_model().objects.create_user(username=username)
    if unit_obj is None and city_obj is not None and role in ROLE_UNIT_KIND:
        unit_obj = unit(city_obj, ROLE_UNIT_KIND[role])
    StaffProfile.objects.create(
        user=user, role=role, city=city_obj, unit=unit_obj, display_name=display_name, phone=phone
    )
    return user


def scratch_database(purpose: str = "tests") -> None:
    """Mark the test database scratch, so that a simulated clock (`clock.simulated`) is accepted on it."""
    scratch_mark(purpose=purpose)


def msisdn() -> str:
    return f"186{next(_seq):08d}"


def playbook_version(document: dict | None = None):
    """Publish a playbook (the shipped default unless a document is given) and return the version."""
    document = document or default_document()
    validated = schema.validate(document).model_dump(mode="json")
    number = (PlaybookVersion.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    return PlaybookVersion.objects.create(
        number=number,
        name=validated["name"],
        document=validated,
        checksum=document_checksum(validated),
        published_at=clock.now(),
    )


def customer(
    *,
    city_obj=None,
    activated_on: dt.date = dt.date(2012, 3, 1),
    product: str = "postpaid",
    package_code: str = "A66",
    start_journey: bool = True,
    **fields: Any,
):
    """A customer activated at 10:00 local on `activated_on`, with a journey on the current playbook."""
    city_obj = city_obj or city()
    activated_at = clock.at_local(activated_on, 10)
    obj = Customer.objects.create(
        msisdn=fields.pop("msisdn", None) or msisdn(),
        city=city_obj,
        store=fields.pop("store", None) or unit(city_obj, "store"),
        activated_at=activated_at,
        activated_on=activated_on,
        product=product,
        package=package(package_code),
        **fields,
    )
    if start_journey:
        journeys_start(customer_ids=[obj.pk], at=activated_at)
    return obj


class held_elsewhere:
    """A `core.locks` lock held the way another process would hold it (its own file handle / its own session).

        with builders.held_elsewhere("cycle"):
            ...  # cycle_run now refuses
    """

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self.postgres = connection.vendor == "postgresql"
        if self.postgres:
            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self.other = psycopg.connect(**params, autocommit=True)
            self.other.execute("SELECT pg_advisory_lock(%s)", [locks.ADVISORY_KEYS[self.name]])
        else:
            path = locks.lock_path(self.name)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.postgres:
            # Unlock before closing: a closed session's locks are freed by the server a moment later, and a
            # test that takes the lock right after would find it still held.
            self.other.execute("SELECT pg_advisory_unlock(%s)", [locks.ADVISORY_KEYS[self.name]])
            self.other.close()
        else:
            os.close(self.fd)


def cycle_looks(monkeypatch) -> list:
    """The `since` every `engine.open_due_actions` call is given from now on, in order (None: the cycle
    looked at every journey; otherwise only at what changed since the previous one)."""
    looked: list = []
    real = engine.open_due_actions

    def spy(**kwargs):
        looked.append(kwargs["since"])
        return real(**kwargs)

    monkeypatch.setattr(engine, "open_due_actions", spy)
    return looked


def dispatch_at_the_cycles_instant(monkeypatch) -> None:
    """From now on the cycle dispatches the outbox as if the wall clock stood at the cycle's own instant, as a
    scheduler running on that day would (the days of 2012 walked through by a test); the dispatcher's own
    reading of the clock is tested in messaging."""
    real = cycle.outbox_dispatch_due
    monkeypatch.setattr(cycle, "outbox_dispatch_due", lambda **kw: real(now=lambda: kw["as_of"], **kw))
