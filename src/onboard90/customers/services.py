"""Writes of customers: the bulk imports (customers, VIP ratings, bills, events) and the single acts
(rate VIP, record a bill, change number, cancel, apply a pushed event) that the imports and the API share."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from django.db import transaction

from onboard90.core import clock
from onboard90.core.bulk import chunks, insert_objects, update_rows
from onboard90.core.services import audit_record
from onboard90.customers import importing, selectors, validation
from onboard90.customers.enums import CustomerStatus, EventType, Product
from onboard90.customers.importing import UnusableFile
from onboard90.customers.keys import (
    activation_key,
    bill_issued_key,
    cancellation_key,
    number_changed_key,
    port_out_key,
    vip_rated_key,
)
from onboard90.customers.models import Bill, Customer, CustomerEvent
from onboard90.customers.signals import customers_joined, customers_left
from onboard90.customers.validation import Lookups, RowError, TierRef
from onboard90.playbook.selectors import current_version, playbook_of

__all__ = [
    "CHUNK", "IMPORTERS", "IMPORT_KINDS", "CustomerWrite", "ImportResult", "RowError", "UnusableFile", "bills_import",
    "EventOutcome", "customer_cancel", "customer_change_number", "customer_event_apply", "customer_events_apply",
    "customer_opt_out", "customer_rate_vip", "customer_record_bill", "customer_write", "customer_write_prepare",
    "customers_import", "events_import", "onboarding_days", "vip_import",
]

CHUNK = 2000
CREATED, UPDATED, UNCHANGED, DUPLICATE = "created", "updated", "unchanged", "duplicate"
IMPORT_KINDS = ("customers", "vip", "bills", "events")

Progress = Callable[[int, int | None], None]
T = TypeVar("T")


@dataclasses.dataclass
class ImportResult:
    """What one import run did. `duplicates` counts rows whose idempotency key was already known, and rows
    repeated within the file (the same customer with the same values, the same rating, bill or event key)."""

    kind: str
    path: str
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: int = 0
    error_path: str | None = None

    @property
    def exit_code(self) -> int:
        return 3 if self.rejected else 0

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "exit_code": self.exit_code}


# --- the shared write path -----------------------------------------------------------------------------

# Model attribute -> the name the change payload and reasons use.
_SHOWN = {"city_id": "city", "store_id": "store", "package_id": "package", "vip_tier_id": "vip_tier"}
# Fields a customers row may change directly; store and VIP have rules of their own (see _diff).
_PLAIN_FIELDS = (
    "name", "city_id", "activated_at", "product", "package_id", "contract_plan", "previous_msisdn",
    "handset_os", "first_month", "marketing_opt_out",
)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(clock.OPERATOR_TZ).isoformat()


def onboarding_days() -> int:
    """The length of the onboarding period a new customer starts: the current playbook's `journey_days`
    (its last day; see validation.earliest_activation). Raises LookupError when no playbook is published."""
    return playbook_of(current_version()).journey_days


class _Batch:
    """Facts for a set of customers applied in memory, in order, then written in bulk in one transaction.

    One batch holds a chunk of an import (or a single act); it prefetches everything it may need, so
    applying a row costs no query, and `flush` writes with a handful of bulk statements.
    """

    def __init__(
        self,
        *,
        now: dt.datetime,
        source: str,
        msisdns: Iterable[str] = (),
        keys: Iterable[str] = (),
        bill_months: Iterable[str] = (),
        customers: Iterable[Customer] | None = None,
        lookups: Lookups | None = None,
        journey_days: int | None = None,
    ):
        self.now = now
        self._journey_days = journey_days
        self.source = source[:64]
        if customers is not None:
            self.customers = {customer.msisdn: customer for customer in customers}
        else:
            self.customers = selectors.customers_by_msisdn(msisdns)
        self.known_keys = selectors.known_event_keys(keys)
        number_of = {customer.pk: msisdn for msisdn, customer in self.customers.items() if customer.pk}
        self.bills = {
            (number_of[customer_id], month): bill
            for (customer_id, month), bill in selectors.bills_of(customer_ids=number_of, months=bill_months).items()
        }
        self._lookups = lookups
        self.created: list[Customer] = []
        self.dirty: dict[str, Customer] = {}
        self.dirty_fields: set[str] = set()
        self.new_bills: list[Bill] = []
        self.dirty_bills: dict[int, Bill] = {}
        self.events: list[CustomerEvent] = []
        self.exits: list[tuple[Customer, dt.datetime]] = []

    @property
    def lookups(self) -> Lookups:
        if self._lookups is None:
            self._lookups = selectors.import_lookups()
        return self._lookups

    @property
    def journey_days(self) -> int:
        if self._journey_days is None:  # only a row that creates a customer or moves an activation needs it
            self._journey_days = onboarding_days()
        return self._journey_days

    # -- helpers

    def _customer(self, msisdn: str) -> Customer:
        customer = self.customers.get(msisdn)
        if customer is None:
            raise RowError(f"未知号码(客户不存在) / unknown customer: {msisdn}")
        return customer

    def _seen(self, key: str, explicit: bool) -> str | None:
        # A key the sender chose is a duplicate delivery; one we derived just means "already imported".
        if key in self.known_keys:
            return DUPLICATE if explicit else UNCHANGED
        return None

    def _record(
        self, customer: Customer, kind: str, at: dt.datetime, key: str, payload: dict, extra: dict | None = None
    ) -> None:
        self.known_keys.add(key)
        self.events.append(
            CustomerEvent(
                customer=customer, msisdn=customer.msisdn, type=kind, at=at, idempotency_key=key,
                payload={**(extra or {}), **payload}, source=self.source,
            )
        )

    def _changed(self, customer: Customer, fields: Iterable[str]) -> None:
        if customer.pk is not None:  # a customer created in this batch is inserted whole
            self.dirty[customer.msisdn] = customer
            self.dirty_fields.update(fields)

    def _show(self, attname: str, value: Any) -> Any:
        if value is None:
            return None
        lookups = self.lookups
        by_id: dict[str, dict[int, Any]] = {
            "city_id": lookups.city_by_id, "store_id": lookups.store_by_id,
            "package_id": lookups.package_by_id, "vip_tier_id": lookups.tier_by_id,
        }
        if attname in by_id:
            ref = by_id[attname].get(value)
            return ref.code if ref else value
        if isinstance(value, dt.datetime):
            return _iso(value)
        if isinstance(value, (dt.date, Decimal)):
            return str(value)
        return value

    # -- the acts

    def activate(
        self, clean: dict[str, Any], *, key: str | None = None, at: dt.datetime | None = None, extra: dict | None = None
    ) -> str:
        """A customers row or activation event: create the customer, or bring it up to date."""
        explicit = key is not None
        msisdn = clean["msisdn"]
        if explicit and key in self.known_keys:
            return DUPLICATE
        customer = self.customers.get(msisdn)
        if customer is None:
            validation.check_activation_period(clean["activated_at"], now=self.now, journey_days=self.journey_days)
            fields = {name: value for name, value in clean.items() if name != "given"}
            customer = Customer(**fields, status=CustomerStatus.ACTIVE)
            self.customers[msisdn] = customer
            self.created.append(customer)
            key = key or activation_key(msisdn)
            if key not in self.known_keys:
                shown = {_SHOWN.get(name, name): self._show(name, clean[name]) for name in sorted(clean["given"])}
                self._record(customer, EventType.ACTIVATION, clean["activated_at"], key, shown, extra)
            if clean["vip_tier_id"] is not None:
                vip_key = vip_rated_key(msisdn, clean["vip_rated_at"])
                if vip_key not in self.known_keys:
                    payload = {"vip_level": self._show("vip_tier_id", clean["vip_tier_id"])}
                    self._record(customer, EventType.VIP_RATED, clean["vip_rated_at"], vip_key, payload)
            return CREATED

        changes = self._diff(customer, clean)
        if not changes:
            return UNCHANGED
        if "activated_at" in changes:
            # A customer already on file keeps its other updates after its period (the plan is over, the
            # facts still change); moving its activation is a new start and must lie in the period.
            validation.check_activation_period(clean["activated_at"], now=self.now, journey_days=self.journey_days)
        newly_rated = "vip_rated_at" in changes
        if key is None:
            basis = [msisdn, customer.updated_at.isoformat() if customer.updated_at else "",
                     sorted((name, self._show(name, new)) for name, (_old, new) in changes.items())]
            digest = hashlib.sha256(json.dumps(basis, ensure_ascii=False, default=str).encode()).hexdigest()
            key = f"customer_updated:{msisdn}:{digest[:32]}"
        payload = {
            _SHOWN.get(name, name): [self._show(name, old), self._show(name, new)] for name, (old, new) in changes.items()
        }
        for name, (_old, new) in changes.items():
            setattr(customer, name, new)
        self._changed(customer, changes)
        self._record(customer, EventType.CUSTOMER_UPDATED, at or self.now, key, payload, extra)
        if newly_rated:
            vip_key = vip_rated_key(msisdn, customer.vip_rated_at)
            if vip_key not in self.known_keys:
                payload = {"vip_level": self._show("vip_tier_id", customer.vip_tier_id)}
                self._record(customer, EventType.VIP_RATED, customer.vip_rated_at, vip_key, payload)
        return UPDATED

    def _diff(self, customer: Customer, clean: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
        """Model attribute -> (old, new) for what a row changes. An empty optional cell changes nothing."""
        given = clean["given"]
        changes: dict[str, tuple[Any, Any]] = {}
        for name in _PLAIN_FIELDS:
            if name in given and getattr(customer, name) != clean[name]:
                changes[name] = (getattr(customer, name), clean[name])
        if "activated_at" in changes and customer.activated_on != clean["activated_on"]:
            changes["activated_on"] = (customer.activated_on, clean["activated_on"])
        if "number_changed" in given and not customer.number_changed:
            changes["number_changed"] = (False, True)
        store_id = clean["store_id"]
        if "store_id" not in given:
            # A defaulted store does not move a customer already at another store of the same city.
            current = self.lookups.store_by_id.get(customer.store_id)
            if current is not None and current.city_id == clean["city_id"]:
                store_id = customer.store_id
        if store_id != customer.store_id:
            changes["store_id"] = (customer.store_id, store_id)
        tier_id = customer.vip_tier_id
        if "vip_tier_id" in given:
            tier_id = clean["vip_tier_id"]
            if customer.vip_tier_id != tier_id:
                changes["vip_tier_id"] = (customer.vip_tier_id, tier_id)
            if customer.vip_rated_at is None:  # the first rating is the anchor; later ones keep it
                changes["vip_rated_at"] = (None, clean["vip_rated_at"])
                changes["vip_rated_on"] = (None, clean["vip_rated_on"])
        if clean["product"] == Product.PREPAID and tier_id is not None:
            raise RowError("预付费客户不参与VIP评级 / prepaid customers are not VIP-rated (the customer is VIP)")
        return changes

    def rate_vip(
        self, msisdn: str, tier: TierRef, rated_at: dt.datetime, *, key: str | None = None, extra: dict | None = None
    ) -> str:
        explicit = key is not None
        key = key or vip_rated_key(msisdn, rated_at)
        if seen := self._seen(key, explicit):
            return seen
        customer = self._customer(msisdn)
        if customer.product == Product.PREPAID:
            raise RowError("预付费客户不参与VIP评级 / prepaid customers are not VIP-rated")
        if validation.local_date(rated_at) < customer.activated_on:
            raise RowError(f"VIP评级早于入网 / rated_at is before activation: {_iso(rated_at)}")
        previous = self._show("vip_tier_id", customer.vip_tier_id)
        fields = []
        if customer.vip_tier_id is None:
            status = CREATED
            customer.vip_rated_at, customer.vip_rated_on = rated_at, validation.local_date(rated_at)
            fields += ["vip_tier_id", "vip_rated_at", "vip_rated_on"]
        else:
            status = UPDATED if customer.vip_tier_id != tier.id else UNCHANGED
            fields.append("vip_tier_id")
            if customer.vip_rated_at is None:
                status = UPDATED
                customer.vip_rated_at, customer.vip_rated_on = rated_at, validation.local_date(rated_at)
                fields += ["vip_rated_at", "vip_rated_on"]
        if status == UNCHANGED and not explicit:
            return UNCHANGED
        customer.vip_tier_id = tier.id
        if status != UNCHANGED:
            self._changed(customer, fields)
        self._record(customer, EventType.VIP_RATED, rated_at, key, {"vip_level": tier.code, "previous": previous}, extra)
        return status

    def record_bill(
        self, msisdn: str, month: str, issued_at: dt.datetime, amount: Decimal, *, key: str | None = None,
        extra: dict | None = None,
    ) -> str:
        explicit = key is not None
        key = key or bill_issued_key(msisdn, month, issued_at, amount)
        if seen := self._seen(key, explicit):
            return seen
        customer = self._customer(msisdn)
        if customer.product == Product.PREPAID:
            raise RowError("预付费客户没有账单 / prepaid customers have no bills")
        bill = self.bills.get((msisdn, month))
        previous = None
        if bill is None:
            status = CREATED
            bill = Bill(customer=customer, bill_month=month, issued_at=issued_at, amount=amount)
            self.bills[(msisdn, month)] = bill
            self.new_bills.append(bill)
        elif bill.amount != amount:
            status, previous = UPDATED, str(bill.amount)
            bill.amount, bill.issued_at = amount, issued_at
            if bill.pk is not None:
                self.dirty_bills[bill.pk] = bill
        else:
            status = UNCHANGED
        if status == UNCHANGED and not explicit:
            return UNCHANGED
        if customer.first_bill_at is None or issued_at < customer.first_bill_at:
            customer.first_bill_at, customer.first_bill_on = issued_at, validation.local_date(issued_at)
            self._changed(customer, ["first_bill_at", "first_bill_on"])
        payload: dict[str, Any] = {"bill_month": month, "amount": str(amount)}
        if previous is not None:
            payload["previous_amount"] = previous
        self._record(customer, EventType.BILL_ISSUED, issued_at, key, payload, extra)
        return status

    def change_number(
        self, msisdn: str, previous_msisdn: str, at: dt.datetime, *, key: str | None = None, extra: dict | None = None
    ) -> str:
        explicit = key is not None
        key = key or number_changed_key(msisdn, previous_msisdn)
        if seen := self._seen(key, explicit):
            return seen
        customer = self._customer(msisdn)
        if customer.number_changed and customer.previous_msisdn == previous_msisdn:
            if not explicit:
                return UNCHANGED
            status = UNCHANGED
        else:
            status = UPDATED
            old = customer.previous_msisdn
            customer.previous_msisdn, customer.number_changed = previous_msisdn, True
            self._changed(customer, ["previous_msisdn", "number_changed"])
            extra = {**(extra or {}), "replaced": old} if old and old != previous_msisdn else extra
        self._record(customer, EventType.NUMBER_CHANGED, at, key, {"previous_msisdn": previous_msisdn}, extra)
        return status

    def cancel(
        self, msisdn: str, at: dt.datetime, *, key: str | None = None, extra: dict | None = None,
        kind: str = EventType.CANCELLATION,
    ) -> str:
        """The customer left: cancelled (离网), or `kind` port_out (携号转出) — the same departure for the plan,
        recorded as what it was. A customer already gone stays as they are (the first departure counts)."""
        explicit = key is not None
        key = key or (port_out_key(msisdn) if kind == EventType.PORT_OUT else cancellation_key(msisdn))
        if seen := self._seen(key, explicit):
            return seen
        customer = self._customer(msisdn)
        if customer.status == CustomerStatus.CANCELLED:
            if not explicit:
                return UNCHANGED
            status = UNCHANGED
        else:
            status = UPDATED
            customer.status, customer.cancelled_at = CustomerStatus.CANCELLED, at
            self._changed(customer, ["status", "cancelled_at"])
            self.exits.append((customer, at))
        self._record(customer, kind, at, key, {}, extra)
        return status

    def opt_out(self, msisdn: str, at: dt.datetime, *, key: str | None = None, extra: dict | None = None) -> str:
        """退订: no more marketing SMS for the customer (see customer_opt_out)."""
        explicit = key is not None
        key = key or _opt_out_key(msisdn, at)
        if seen := self._seen(key, explicit):
            return seen
        customer = self._customer(msisdn)
        if customer.marketing_opt_out:
            if not explicit:
                return UNCHANGED
            status = UNCHANGED
        else:
            status = UPDATED
            customer.marketing_opt_out = True
            self._changed(customer, ["marketing_opt_out"])
        self._record(
            customer, EventType.MARKETING_OPT_OUT, at, key, {"marketing_opt_out": [status == UNCHANGED, True]}, extra
        )
        return status

    def apply_event(self, event: dict[str, Any]) -> str:
        """A clean event (see validation.clean_event) through the act of its type."""
        kind, key, at, extra = event["type"], event["idempotency_key"], event["at"], event["payload"]
        if kind == EventType.ACTIVATION:
            return self.activate(event["customer"], key=key, at=at, extra=extra)
        if kind == EventType.VIP_RATED:
            return self.rate_vip(event["msisdn"], event["tier"], at, key=key, extra=extra)
        if kind == EventType.BILL_ISSUED:
            return self.record_bill(event["msisdn"], event["bill_month"], at, event["amount"], key=key, extra=extra)
        if kind == EventType.NUMBER_CHANGED:
            return self.change_number(event["msisdn"], event["previous_msisdn"], at, key=key, extra=extra)
        if kind == validation.OPT_OUT:
            return self.opt_out(event["msisdn"], at, key=key, extra=extra)
        if kind == EventType.PORT_OUT:
            return self.cancel(event["msisdn"], at, key=key, extra=extra, kind=EventType.PORT_OUT)
        return self.cancel(event["msisdn"], at, key=key, extra=extra)

    # -- writing

    def flush(self) -> None:
        with transaction.atomic():
            if self.created:
                Customer.objects.bulk_create(self.created, batch_size=CHUNK)
                unnumbered = [customer for customer in self.created if customer.pk is None]
                if unnumbered:  # backends that cannot return ids from a bulk insert
                    ids = dict(
                        Customer.objects.filter(msisdn__in=[c.msisdn for c in unnumbered]).values_list("msisdn", "id")
                    )
                    for customer in unnumbered:
                        customer.pk = ids[customer.msisdn]
                        customer._state.adding = False
            if self.dirty:
                stamp = clock.now()
                for customer in self.dirty.values():
                    customer.updated_at = stamp
                fields = sorted({_SHOWN.get(name, name) for name in self.dirty_fields} | {"updated_at"})
                _update(Customer, list(self.dirty.values()), fields)
            if self.new_bills:  # a batch is flushed once: nothing needs their ids after this
                insert_objects(Bill, self.new_bills)
            if self.dirty_bills:
                _update(Bill, list(self.dirty_bills.values()), ["amount", "issued_at"])
            if self.events:
                # A concurrent run may have stored the same fact a moment ago; its key then wins.
                insert_objects(CustomerEvent, self.events, ignore_conflicts=True)
            # The engine follows in this transaction: journeys start and exit (journeys.flows).
            if self.created:
                customers_joined.send(sender=Customer, customer_ids=[c.pk for c in self.created], at=self.now)
            if self.exits:
                customers_left.send(sender=Customer, exits=list(self.exits))
        self.created, self.dirty, self.new_bills, self.dirty_bills, self.events, self.exits = [], {}, [], {}, [], []
        self.dirty_fields = set()


def _update(model, objects: list, fields: list[str]) -> None:
    """Write these fields of already-loaded rows back, one prepared UPDATE per row (see core.bulk)."""
    attnames = [model._meta.get_field(name).attname for name in fields]
    update_rows(model, fields, ((obj.pk, *(getattr(obj, a) for a in attnames)) for obj in objects))


# --- import runs ---------------------------------------------------------------------------------------


class _Run:
    """Counting, error file and progress of one import run."""

    def __init__(self, kind: str, path: Path, writer: Any, on_progress: Progress | None, estimate: int | None):
        self.result = ImportResult(kind=kind, path=str(path))
        self.writer = writer
        self.on_progress = on_progress
        self.estimate = estimate
        self.done = 0

    def process(
        self,
        items: Iterable[Any],
        *,
        clean: Callable[[Any], dict[str, Any]],
        batch_for: Callable[[list[dict[str, Any]]], _Batch],
        apply: Callable[[_Batch, dict[str, Any], Any], str],
    ) -> None:
        for chunk in chunks(items, CHUNK):
            self.result.total += len(chunk)
            outcomes = _apply_chunk(chunk, clean=clean, batch_for=batch_for, apply=apply)
            for status, _reason in outcomes:
                if status is not None:
                    self.count(status)
            for item, (status, reason) in zip(chunk, outcomes, strict=True):  # in file order
                if status is None:
                    self.reject(item, reason)
            self.done += len(chunk)
            if self.on_progress is not None:
                self.on_progress(self.done, self.estimate)

    def reject(self, item: Any, reason: str) -> None:
        self.writer.write(item, reason)
        self.result.rejected += 1

    def count(self, status: str) -> None:
        field = "duplicates" if status == DUPLICATE else status
        setattr(self.result, field, getattr(self.result, field) + 1)

    def finish(self, *, actor: Any, now: dt.datetime) -> ImportResult:
        error_path = self.writer.close()
        self.result.error_path = str(error_path) if error_path else None
        audit_record(
            actor=actor,
            verb=f"import.{self.result.kind}",
            object_type="customers.import",
            object_id=Path(self.result.path).name[:64],
            after=self.result.as_dict(),
        )
        return self.result


def _apply_chunk(
    chunk: list[Any],
    *,
    clean: Callable[[Any], dict[str, Any]],
    batch_for: Callable[[list[dict[str, Any]]], _Batch],
    apply: Callable[[_Batch, dict[str, Any], Any], str],
) -> list[tuple[str | None, str]]:
    """(status, "") or (None, reason) for each item of a chunk, in order: every item cleaned, the clean ones
    applied in order to one batch, the batch written at once. An item refused (on cleaning or applying)
    changes nothing; the others are written. The one path of a file's chunk and of an API batch."""
    outcomes: list[tuple[str | None, str]] = [(None, "")] * len(chunk)
    good = []
    for position, item in enumerate(chunk):
        try:
            good.append((position, item, clean(item)))
        except RowError as exc:
            outcomes[position] = (None, exc.reason)
    if good:
        batch = batch_for([values for _position, _item, values in good])
        for position, item, values in good:
            try:
                outcomes[position] = (apply(batch, values, item), "")
            except RowError as exc:
                outcomes[position] = (None, exc.reason)
        batch.flush()
    return outcomes


def _source(kind: str, path: Path) -> str:
    return f"import:{kind}:{path.name}"[:64]


def _readable(row: importing.Row) -> importing.Row:
    """The row, unless the file could not be read into its columns (more cells than the header)."""
    if row.error:
        raise RowError(row.error)
    return row


def _once_per_key(
    key_of: Callable[[dict[str, Any]], str], apply: Callable[[_Batch, dict[str, Any]], str]
) -> Callable[[_Batch, dict[str, Any], Any], str]:
    """`apply`, except that a key already applied earlier in this file is a duplicate (as the same key is
    in a later run), whatever the batch would say of it. A row rejected on applying is not remembered, so
    its repeat is judged again (and rejected with the same reason)."""
    applied: set[str] = set()

    def once(batch: _Batch, item: dict[str, Any], _source_item: Any) -> str:
        key = key_of(item)
        if key in applied:
            return DUPLICATE
        status = apply(batch, item)
        applied.add(key)
        return status

    return once


def _fingerprint(values: dict[str, Any]) -> int:
    """A customers row's clean values, to tell an exact repeat from a contradicting one without keeping
    every row of a million-row file (clean values are all hashable)."""
    return hash(tuple(sorted(values.items(), key=lambda item: item[0])))


def customers_import(
    *, path: str | Path, imported_by: Any = None, now: dt.datetime | None = None, on_progress: Progress | None = None
) -> ImportResult:
    """Import a customers file (CSV/XLSX): new customers get their journey; changed rows update the customer.

    Raises UnusableFile (the file as a whole) and LookupError (no playbook published yet).
    """
    now = now or clock.now()
    table = importing.open_table(path, required=validation.CUSTOMER_REQUIRED)
    current_version()  # fail before writing anything: new customers need a playbook to start on
    journey_days = onboarding_days()
    lookups = selectors.import_lookups()
    source = _source("customers", table.path)
    # msisdn -> (line, fingerprint) of the row of this file that imported it.
    imported: dict[str, tuple[int, int]] = {}

    def clean(row: importing.Row) -> dict[str, Any]:
        return validation.clean_customer(_readable(row).values, lookups, now=now)

    def batch_for(items: list[dict[str, Any]]) -> _Batch:
        numbers = [item["msisdn"] for item in items]
        keys = [activation_key(number) for number in numbers]
        return _Batch(now=now, source=source, msisdns=numbers, keys=keys, lookups=lookups, journey_days=journey_days)

    def apply(batch: _Batch, item: dict[str, Any], row: importing.Row) -> str:
        msisdn, fingerprint = item["msisdn"], _fingerprint(item)
        if (first := imported.get(msisdn)) is not None:
            line, seen = first
            if seen == fingerprint:  # the same row twice (files concatenated, an export run twice)
                return DUPLICATE
            raise RowError(
                f"文件中号码重复且内容不同(首次在第{line}行) / msisdn repeated in this file with other values "
                f"(first on line {line})"
            )
        status = batch.activate(item)
        imported[msisdn] = (row.line, fingerprint)
        return status

    run = _Run("customers", table.path, importing.CsvErrorWriter(table), on_progress, table.estimated_rows)
    run.process(table.rows(), clean=clean, batch_for=batch_for, apply=apply)
    return run.finish(actor=imported_by, now=now)


def vip_import(
    *, path: str | Path, imported_by: Any = None, now: dt.datetime | None = None, on_progress: Progress | None = None
) -> ImportResult:
    """Import VIP ratings (msisdn, vip_level, rated_at): the first rating anchors the VIP clocks."""
    now = now or clock.now()
    table = importing.open_table(path, required=validation.VIP_REQUIRED)
    lookups = selectors.import_lookups()
    source = _source("vip", table.path)

    def key_of(item: dict[str, Any]) -> str:
        return item["idempotency_key"] or vip_rated_key(item["msisdn"], item["rated_at"])

    def batch_for(items: list[dict[str, Any]]) -> _Batch:
        numbers = [item["msisdn"] for item in items]
        return _Batch(now=now, source=source, msisdns=numbers, keys=map(key_of, items), lookups=lookups)

    def apply(batch: _Batch, item: dict[str, Any]) -> str:
        return batch.rate_vip(item["msisdn"], item["tier"], item["rated_at"], key=item["idempotency_key"])

    run = _Run("vip", table.path, importing.CsvErrorWriter(table), on_progress, table.estimated_rows)
    run.process(
        table.rows(), clean=lambda row: validation.clean_vip(_readable(row).values, lookups, now=now),
        batch_for=batch_for, apply=_once_per_key(key_of, apply),
    )
    return run.finish(actor=imported_by, now=now)


def bills_import(
    *, path: str | Path, imported_by: Any = None, now: dt.datetime | None = None, on_progress: Progress | None = None
) -> ImportResult:
    """Import bills (msisdn, bill_month, issued_at, amount): one per customer and month; the earliest
    sets the first-bill anchor."""
    now = now or clock.now()
    table = importing.open_table(path, required=validation.BILL_REQUIRED)
    source = _source("bills", table.path)

    def key_of(item: dict[str, Any]) -> str:
        return item["idempotency_key"] or (
            bill_issued_key(item["msisdn"], item["bill_month"], item["issued_at"], item["amount"])
        )

    def batch_for(items: list[dict[str, Any]]) -> _Batch:
        return _Batch(
            now=now, source=source, msisdns=[item["msisdn"] for item in items], keys=map(key_of, items),
            bill_months=[item["bill_month"] for item in items],
        )

    def apply(batch: _Batch, item: dict[str, Any]) -> str:
        return batch.record_bill(
            item["msisdn"], item["bill_month"], item["issued_at"], item["amount"], key=item["idempotency_key"]
        )

    run = _Run("bills", table.path, importing.CsvErrorWriter(table), on_progress, table.estimated_rows)
    run.process(
        table.rows(), clean=lambda row: validation.clean_bill(_readable(row).values, now=now), batch_for=batch_for,
        apply=_once_per_key(key_of, apply),
    )
    return run.finish(actor=imported_by, now=now)


def events_import(
    *, path: str | Path, imported_by: Any = None, now: dt.datetime | None = None, on_progress: Progress | None = None
) -> ImportResult:
    """Import JSON-lines events `{type, msisdn, at, idempotency_key, …}`, applied in file order; a known
    idempotency key is ignored (counted as a duplicate)."""
    now = now or clock.now()
    estimate, lines = importing.open_json_lines(path)
    lookups = selectors.import_lookups()
    clean_event, batch_for, apply = _event_steps(lookups=lookups, now=now, source=_source("events", Path(path)))

    def clean(item: importing.JsonLine) -> dict[str, Any]:
        if item.error:
            raise RowError(f"不是有效的JSON / not valid JSON: {item.error}")
        return clean_event(item.obj)

    run = _Run("events", Path(path), importing.JsonErrorWriter(path), on_progress, estimate)
    run.process(lines, clean=clean, batch_for=batch_for, apply=apply)
    return run.finish(actor=imported_by, now=now)


AdmitCheck = Callable[[dict[str, Any], "Customer | None"], None]


def _event_steps(*, lookups: Lookups, now: dt.datetime, source: str, admit: AdmitCheck | None = None):
    """(clean, batch_for, apply) of pushed events, for a file and an API batch alike: each event cleaned by
    `validation.clean_event`, a chunk's customers, keys and bills read at once, each event applied by the
    act of its type, once per idempotency key. `admit(clean event, customer on file or None)` is the
    caller's own check before an event is applied (the API's scope); it raises RowError to refuse it."""

    def clean(obj: Any) -> dict[str, Any]:
        return validation.clean_event(obj, lookups, now=now)

    def batch_for(items: list[dict[str, Any]]) -> _Batch:
        return _Batch(
            now=now, source=source, msisdns=[item["msisdn"] for item in items],
            keys=[item["idempotency_key"] for item in items],
            bill_months=[item["bill_month"] for item in items if "bill_month" in item], lookups=lookups,
        )

    def act(batch: _Batch, item: dict[str, Any]) -> str:
        if admit is not None:
            admit(item, batch.customers.get(item["msisdn"]))
        return batch.apply_event(item)

    return clean, batch_for, _once_per_key(lambda item: item["idempotency_key"], act)


@dataclasses.dataclass(frozen=True)
class EventOutcome:
    """What became of one pushed event: its status (created/updated/unchanged/duplicate), or None and the
    reason it was refused (the reason an events file's error line would give)."""

    status: str | None
    reason: str = ""


def customer_events_apply(
    *, events: list[Any], source: str, actor: Any = None, now: dt.datetime | None = None,
    admit: AdmitCheck | None = None,
) -> list[EventOutcome]:
    """Pushed events (one API request's batch, up to a file chunk's size) by the events file's own path:
    the same cleaning, the same acts in the given order, the same keys, once per key within the batch.
    Each event is refused on its own with the import's reason and changes nothing; the good ones are
    written together. Audited once per batch (as an import run is), with its counts.

    Raises LookupError when no playbook is published (nothing is written).
    """
    if len(events) > CHUNK:
        raise ValueError(f"一次最多 {CHUNK} 个事件 / at most {CHUNK} events at once")
    now = now or clock.now()
    current_version()
    clean, batch_for, apply = _event_steps(lookups=selectors.import_lookups(), now=now, source=source, admit=admit)
    outcomes = [
        EventOutcome(status, reason) for status, reason in _apply_chunk(events, clean=clean, batch_for=batch_for, apply=apply)
    ]
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.status or "rejected"] = counts.get(outcome.status or "rejected", 0) + 1
    audit_record(
        actor=actor, verb="customer.events", object_type="customers.events", object_id=source[:64],
        after={"total": len(events), **counts},
    )
    return outcomes


IMPORTERS: dict[str, Callable[..., ImportResult]] = {
    "customers": customers_import,
    "vip": vip_import,
    "bills": bills_import,
    "events": events_import,
}


# --- single acts (the API calls these) -----------------------------------------------------------------


def _single(customer: Customer, *, source: str, key: str, bill_months: Iterable[str] = ()) -> _Batch:
    return _Batch(now=clock.now(), source=source, customers=[customer], keys=[key], bill_months=bill_months)


def _audit_act(actor: Any, verb: str, customer: Customer, status: str, after: dict[str, Any]) -> None:
    if status in (CREATED, UPDATED):
        audit_record(actor=actor, verb=verb, obj=customer, after={"status": status, **after})


def _tier_ref(tier: Any) -> TierRef:
    if isinstance(tier, TierRef):
        return tier
    return TierRef(tier.pk, tier.code, tier.name, tier.rank, tier.enabled)


def customer_rate_vip(
    *, customer: Customer, tier: Any, rated_at: dt.datetime, idempotency_key: str | None = None,
    source: str = "api", actor: Any = None,
) -> str:
    """The customer was rated VIP (or re-rated): the first rating anchors the VIP clocks, later ones only
    change the tier. Returns created/updated/unchanged/duplicate; raises RowError when not allowed."""
    ref = _tier_ref(tier)
    if not ref.enabled:
        raise RowError(f"VIP等级已停用 / VIP tier {ref.name} ({ref.code}) is disabled")
    batch = _single(customer, source=source, key=idempotency_key or vip_rated_key(customer.msisdn, rated_at))
    status = batch.rate_vip(customer.msisdn, ref, rated_at, key=idempotency_key)
    batch.flush()
    _audit_act(actor, "customer.rate_vip", customer, status, {"vip_level": ref.code, "rated_at": _iso(rated_at)})
    return status


def customer_record_bill(
    *, customer: Customer, bill_month: str, amount: Decimal | str, issued_at: dt.datetime,
    idempotency_key: str | None = None, source: str = "api", actor: Any = None,
) -> str:
    """A bill was issued (one per customer and month; a changed amount updates it). The earliest bill sets
    the first-bill anchor."""
    month = validation.parse_bill_month(str(bill_month))
    value = validation.parse_amount(str(amount))
    key = idempotency_key or bill_issued_key(customer.msisdn, month, issued_at, value)
    batch = _single(customer, source=source, key=key, bill_months=[month])
    status = batch.record_bill(customer.msisdn, month, issued_at, value, key=idempotency_key)
    batch.flush()
    _audit_act(actor, "customer.record_bill", customer, status, {"bill_month": month, "amount": str(value)})
    return status


def customer_change_number(
    *, customer: Customer, previous_msisdn: str, at: dt.datetime, idempotency_key: str | None = None,
    source: str = "api", actor: Any = None,
) -> str:
    """The customer came over from another number (换号入网): the number-change coaching applies."""
    previous = validation.parse_mobile(previous_msisdn)
    if previous == customer.msisdn:
        raise RowError("原号码与号码相同 / previous_msisdn equals msisdn")
    batch = _single(customer, source=source, key=idempotency_key or number_changed_key(customer.msisdn, previous))
    status = batch.change_number(customer.msisdn, previous, at, key=idempotency_key)
    batch.flush()
    _audit_act(actor, "customer.change_number", customer, status, {"previous_msisdn": previous})
    return status


def customer_cancel(
    *, customer: Customer, at: dt.datetime, idempotency_key: str | None = None, source: str = "api",
    actor: Any = None,
) -> str:
    """The customer left (离网): status cancelled, the journey exits and its open work is cancelled."""
    batch = _single(customer, source=source, key=idempotency_key or cancellation_key(customer.msisdn))
    status = batch.cancel(customer.msisdn, at, key=idempotency_key)
    batch.flush()
    _audit_act(actor, "customer.cancel", customer, status, {"cancelled_at": _iso(at)})
    return status


def customer_event_apply(
    *, event: dict[str, Any], source: str = "api", actor: Any = None, now: dt.datetime | None = None
) -> str:
    """One pushed event, as a line of an events file: validated, then applied through its act.

    Returns created/updated/unchanged/duplicate; raises RowError (a ValueError) with the reason.
    """
    now = now or clock.now()
    lookups = selectors.import_lookups()
    clean = validation.clean_event(event, lookups, now=now)
    batch = _Batch(
        now=now, source=source, msisdns=[clean["msisdn"]], keys=[clean["idempotency_key"]],
        bill_months=[clean["bill_month"]] if "bill_month" in clean else [], lookups=lookups,
    )
    status = batch.apply_event(clean)
    batch.flush()
    customer = batch.customers.get(clean["msisdn"])
    if customer is not None:
        _audit_act(actor, f"customer.event.{clean['type']}", customer, status, {"idempotency_key": clean["idempotency_key"]})
    return status


@dataclasses.dataclass
class CustomerWrite:
    """A customers row from a person, validated and applied in memory by the import's own code; `save`
    writes it (what the admin does once its form is valid, so that every refusal is a form error)."""

    status: str  # created / updated / unchanged
    customer: Customer
    changes: dict[str, Any]
    batch: _Batch = dataclasses.field(repr=False)

    def save(self, *, actor: Any) -> Customer:
        self.batch.flush()
        _audit_act(actor, "customer.write", self.customer, self.status, {"changes": self.changes})
        return self.customer


def customer_write_prepare(
    *, row: Mapping[str, str], new: bool, source: str = "admin", now: dt.datetime | None = None
) -> CustomerWrite:
    """Validate a customers-file row (column -> text) and apply it in memory, as `customers_import` does
    for one row: the same cleaning, the same onboarding-period and VIP rules, the same change record.

    `new`: the row must create the customer (True) or update the one on file (False). Raises RowError with
    the reason an import would give, and LookupError when no playbook is published. Nothing is written
    until `save`.
    """
    now = now or clock.now()
    lookups = selectors.import_lookups()
    clean = validation.clean_customer(row, lookups, now=now)
    msisdn = clean["msisdn"]
    batch = _Batch(now=now, source=source, msisdns=[msisdn], keys=[activation_key(msisdn)], lookups=lookups)
    if new and msisdn in batch.customers:
        raise RowError(f"号码已存在 / a customer with this msisdn already exists: {msisdn}")
    if not new and msisdn not in batch.customers:
        raise RowError(f"未知号码(客户不存在) / unknown customer: {msisdn}")
    status = batch.activate(clean)
    changes = batch.events[0].payload if batch.events else {}
    return CustomerWrite(status=status, customer=batch.customers[msisdn], changes=changes, batch=batch)


def customer_write(
    *, row: Mapping[str, str], new: bool, actor: Any = None, source: str = "admin", now: dt.datetime | None = None
) -> str:
    """A customers row from a person, validated and written at once (see customer_write_prepare); returns
    created/updated/unchanged and audits the change with its actor."""
    write = customer_write_prepare(row=row, new=new, source=source, now=now)
    write.save(actor=actor)
    return write.status


def customer_viewed(*, customer: Customer, viewed_by: Any) -> None:
    """查看完整号码: the customer page showed this person the full number; every such view is audited (who,
    when, from where — the channel and address come from the request being served)."""
    audit_record(actor=viewed_by, verb="customer.viewed", obj=customer, after={"msisdn": customer.masked_msisdn})


# --- opt-out (退订) --------------------------------------------------------------------------------------


def _opt_out_key(msisdn: str, at: dt.datetime) -> str:
    """One opt-out per number and instant (beside the keys of `customers.keys`): the same reply passed on
    twice by the gateway is stored once, and a customer who subscribed again can opt out again."""
    return f"marketing_opt_out:{msisdn}:{_iso(at)}"


def customer_opt_out(
    *, customer: Customer, at: dt.datetime, source: str, idempotency_key: str | None = None, actor: Any = None
) -> str:
    """退订: the customer asked for no more marketing SMS (replied TD/退订), at `at`; service notices still go.

    A fact like the others: `marketing_opt_out` set, a CustomerEvent under its idempotency key, audited, and
    the change log follows (the engine stops opening marketing acts for the customer, and the dispatcher
    suppresses their queued marketing messages). Returns updated, or unchanged when the customer had already
    opted out (then nothing is written unless the sender named its own key) — the caller confirms to the
    customer only on updated, so a second TD gets no second confirmation — or duplicate for a named key
    already stored.

    Pass a customer read under `select_for_update` inside the caller's transaction when replies can race
    (two TD at once): the flag is read from the object given.
    """
    key = idempotency_key or _opt_out_key(customer.msisdn, at)
    batch = _single(customer, source=source, key=key)
    status = batch.opt_out(customer.msisdn, at, key=idempotency_key)
    if not batch.events:  # already opted out, or a key already stored: nothing to write
        return status
    batch.flush()
    _audit_act(actor, "customer.opt_out", customer, status, {"at": _iso(at), "source": source[:64]})
    return status
