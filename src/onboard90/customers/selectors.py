"""Reads of customers: lookups an import loads once, customers and bills fetched by number in bulk."""

from __future__ import annotations

from collections.abc import Iterable

from onboard90.catalog.models import Package, VipTier
from onboard90.core.bulk import chunks
from onboard90.customers.models import Bill, Customer, CustomerEvent
from onboard90.customers.validation import CityRef, Lookups, PackageRef, StoreRef, TierRef
from onboard90.org.enums import UnitKind
from onboard90.org.models import City, Unit


def import_lookups() -> Lookups:
    """Cities, stores, packages and VIP tiers by every spelling an import may use (a few hundred rows)."""
    stores = list(
        Unit.objects.filter(kind=UnitKind.STORE).order_by("-is_main", "code").values_list("id", "code", "city_id")
    )
    main_store: dict[int, int] = {}
    for store_id, _code, city_id in stores:  # ordered main-first, so the first per city is its default
        main_store.setdefault(city_id, store_id)
    return Lookups.build(
        cities=[
            (CityRef(pk, code, name, main_store.get(pk)), name_en, area_code)
            for pk, code, name, name_en, area_code in City.objects.values_list(
                "id", "code", "name", "name_en", "area_code"
            )
        ],
        stores=[StoreRef(pk, code, city_id) for pk, code, city_id in stores],
        packages=[PackageRef(*row) for row in Package.objects.values_list("id", "code", "product")],
        tiers=[TierRef(*row) for row in VipTier.objects.values_list("id", "code", "name", "rank", "enabled")],
    )


def customers_by_msisdn(msisdns: Iterable[str]) -> dict[str, Customer]:
    numbers = list(dict.fromkeys(msisdns))
    found: dict[str, Customer] = {}
    for chunk in chunks(numbers):
        for customer in Customer.objects.filter(msisdn__in=chunk):
            found[customer.msisdn] = customer
    return found


def known_event_keys(keys: Iterable[str]) -> set[str]:
    wanted = [key for key in dict.fromkeys(keys) if key]
    known: set[str] = set()
    for chunk in chunks(wanted):
        known.update(CustomerEvent.objects.filter(idempotency_key__in=chunk).values_list("idempotency_key", flat=True))
    return known


def bills_of(*, customer_ids: Iterable[int], months: Iterable[str]) -> dict[tuple[int, str], Bill]:
    ids, wanted = list(set(customer_ids)), list(set(months))
    if not ids or not wanted:
        return {}
    bills = Bill.objects.filter(customer_id__in=ids, bill_month__in=wanted)
    return {(bill.customer_id, bill.bill_month): bill for bill in bills}


def customer_get(*, msisdn: str) -> Customer | None:
    return Customer.objects.select_related("city", "store", "package", "vip_tier").filter(msisdn=msisdn).first()
