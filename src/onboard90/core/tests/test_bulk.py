"""core.bulk writes rows exactly as the ORM would: the same values land as the same stored text, the
plain-type fast path changes nothing, conflicting keys can be skipped, and `insert_objects` fills and checks
model instances as `bulk_create` does (runs on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy
import pytest
from django.db import IntegrityError, connection, transaction

from onboard90 import testing as builders
from onboard90.catalog.models import Package
from onboard90.core import clock
from onboard90.core.bulk import chunks, insert_objects, insert_values, update_rows
from onboard90.customers.enums import CustomerStatus, EventType, FirstMonth, Product
from onboard90.customers.models import Bill, Customer, CustomerEvent
from onboard90.org.enums import Role

pytestmark = pytest.mark.django_db

DAY0 = dt.date(2012, 3, 1)
# The wall clock while rows are written, so `auto_now` stamps are known instants.
STAMP = clock.at_local(dt.date(2012, 6, 1), 12, 30, 15)
NEW_YORK = ZoneInfo("America/New_York")

EVENT_FIELDS = ["customer", "msisdn", "type", "at", "idempotency_key", "payload", "source", "received_at"]
BILL_FIELDS = ["customer", "bill_month", "issued_at", "amount"]
PAYLOAD = {"amount": "58.50", "items": [1, 2.5, None, True], "备注": "首月半价", "nested": {"a": {"b": []}}}


@pytest.fixture
def wall(db):
    from onboard90 import testing as builders

    builders.scratch_database()
    with clock.simulated(STAMP) as sim:
        yield sim


def stored(model, pk, fields) -> tuple:
    """The stored text of these columns of one row, read past the ORM (what another reader of the database
    sees: a datetime written in another format or zone would differ here even where the ORM reads it back)."""
    meta = model._meta
    quote = connection.ops.quote_name
    columns = ", ".join(f"CAST({quote(meta.get_field(name).column)} AS TEXT)" for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s", [pk])
        return cursor.fetchone()


def unsaved_customer(**fields) -> Customer:
    city = builders.city()
    values = dict(
        msisdn=builders.msisdn(), city=city, store=builders.unit(city, "store"),
        activated_at=clock.at_local(DAY0, 10), activated_on=DAY0, product=Product.POSTPAID, package=builders.package(),
    )
    values.update(fields)
    return Customer(**values)


# --- values are adapted as the ORM adapts them -----------------------------------------------------------


def test_an_inserted_event_reads_back_as_written_and_is_stored_as_the_orm_stores_it(wall):
    customer = builders.customer(start_journey=False)
    at = dt.datetime(2012, 3, 5, 7, 45, 30, 123456, tzinfo=NEW_YORK)  # aware, in neither UTC nor local time
    values = [customer.pk, customer.msisdn, "bill_issued", at, "bulk-1", PAYLOAD, "bss", STAMP]

    assert insert_values(CustomerEvent, EVENT_FIELDS, [values]) == 1

    bulk = CustomerEvent.objects.get(idempotency_key="bulk-1")
    assert [bulk.customer_id, bulk.msisdn, bulk.type, bulk.at, bulk.idempotency_key, bulk.payload, bulk.source,
            bulk.received_at] == values
    orm = CustomerEvent.objects.create(**dict(zip(EVENT_FIELDS, values, strict=True)) | {
        "customer": customer, "idempotency_key": "orm-1",
    })
    same = [name for name in EVENT_FIELDS if name != "idempotency_key"]
    assert stored(CustomerEvent, bulk.pk, same) == stored(CustomerEvent, orm.pk, same)


def test_an_inserted_bill_keeps_its_decimal_amount_and_issue_time_as_the_orm_does():
    customer = builders.customer(start_journey=False)
    issued = clock.at_local(dt.date(2012, 4, 3), 7)
    rows = [
        (customer.pk, "2012-03", issued, Decimal("58.50")),
        (customer.pk, "2012-04", issued + dt.timedelta(days=30), Decimal("0.01")),
        (customer.pk, "2012-05", issued + dt.timedelta(days=61), Decimal("12345678.90")),
    ]

    insert_values(Bill, BILL_FIELDS, rows)

    assert list(Bill.objects.order_by("bill_month").values_list("customer_id", "bill_month", "issued_at", "amount")) == rows
    twin = builders.customer(start_journey=False)
    for _, month, at, amount in rows:
        orm = Bill.objects.create(customer=twin, bill_month=month, issued_at=at, amount=amount)
        bulk = Bill.objects.get(customer=customer, bill_month=month)
        assert stored(Bill, bulk.pk, BILL_FIELDS[1:]) == stored(Bill, orm.pk, BILL_FIELDS[1:])


def test_values_of_other_types_are_converted_by_the_field_as_the_orm_converts_them():
    customer = builders.customer(start_journey=False)
    issued = dt.datetime(2012, 4, 3, 7, 0, tzinfo=dt.UTC)

    # a numeric string for the key, a string for the amount, a date-time in another zone
    insert_values(Bill, BILL_FIELDS, [(str(customer.pk), "2012-03", issued.astimezone(NEW_YORK), "58.5")])
    orm = Bill.objects.create(customer_id=str(customer.pk), bill_month="2012-04", issued_at=issued, amount="58.5")

    bulk = Bill.objects.get(bill_month="2012-03")
    assert (bulk.customer_id, bulk.issued_at, bulk.amount) == (customer.pk, issued, Decimal("58.50"))
    columns = ["customer", "issued_at", "amount"]
    assert stored(Bill, bulk.pk, columns) == stored(Bill, orm.pk, columns)


def test_an_inserted_customer_keeps_its_dates_keys_flags_and_text(wall):
    manager = builders.staff(role=Role.ACCOUNT_MANAGER, city_obj=builders.city())
    gold = builders.vip_tier("gold")
    fields = dict(
        name="张三", vip_tier=gold, vip_rated_at=dt.datetime(2012, 3, 4, 23, 30, tzinfo=dt.UTC),
        vip_rated_on=dt.date(2012, 3, 5), first_month=FirstMonth.HALF, marketing_opt_out=True,
        account_manager=manager, number_changed=False, contract_plan="存费送机",
    )
    bulk_built, orm_built = unsaved_customer(**fields), unsaved_customer(**fields)

    insert_objects(Customer, [bulk_built])
    Customer.objects.bulk_create([orm_built])

    bulk = Customer.objects.get(msisdn=bulk_built.msisdn)
    orm = Customer.objects.get(msisdn=orm_built.msisdn)
    assert (bulk.name, bulk.vip_tier_id, bulk.vip_rated_at, bulk.vip_rated_on, bulk.activated_on) == (
        "张三", gold.pk, fields["vip_rated_at"], dt.date(2012, 3, 5), DAY0
    )
    assert (bulk.first_month, bulk.marketing_opt_out, bulk.number_changed, bulk.account_manager_id) == (
        "half", True, False, manager.pk
    )
    every = [f.name for f in Customer._meta.concrete_fields if f.name not in ("id", "msisdn")]
    assert stored(Customer, bulk.pk, every) == stored(Customer, orm.pk, every)


def test_updated_rows_read_back_as_written_and_are_stored_as_an_orm_update_stores_them():
    manager = builders.staff(role=Role.ACCOUNT_MANAGER, city_obj=builders.city())
    bulk, orm = builders.customer(start_journey=False), builders.customer(start_journey=False)
    rated = dt.datetime(2012, 3, 5, 8, 0, tzinfo=NEW_YORK)
    values = {
        "vip_rated_at": rated, "vip_rated_on": dt.date(2012, 3, 5), "status": CustomerStatus.CANCELLED,
        "marketing_opt_out": True, "account_manager": manager.pk, "name": "李四",
    }

    assert update_rows(Customer, list(values), [(bulk.pk, *values.values())]) == 1
    Customer.objects.filter(pk=orm.pk).update(**values | {"account_manager": manager})

    bulk.refresh_from_db()
    assert (bulk.vip_rated_at, bulk.vip_rated_on, bulk.status, bulk.marketing_opt_out) == (
        rated, dt.date(2012, 3, 5), "cancelled", True
    )
    assert (bulk.account_manager_id, bulk.name) == (manager.pk, "李四")
    assert stored(Customer, bulk.pk, list(values)) == stored(Customer, orm.pk, list(values))


def test_update_rows_touches_only_the_rows_it_is_given_and_takes_a_key_by_its_column_name():
    first, second, untouched = (builders.customer(start_journey=False) for _ in range(3))
    before = stored(Customer, untouched.pk, ["name", "vip_tier"])
    gold, silver = builders.vip_tier("gold"), builders.vip_tier("silver")

    update_rows(Customer, ["name", "vip_tier_id"], [(first.pk, "一", gold.pk), (second.pk, "二", silver.pk)])

    assert dict(Customer.objects.filter(pk__in=[first.pk, second.pk]).values_list("name", "vip_tier_id")) == {
        "一": gold.pk, "二": silver.pk
    }
    assert stored(Customer, untouched.pk, ["name", "vip_tier"]) == before


def test_a_null_is_written_as_null():
    customer = builders.customer(start_journey=False, vip_tier=builders.vip_tier("gold"), name="王五")

    update_rows(Customer, ["vip_tier", "vip_rated_at", "vip_rated_on"], [(customer.pk, None, None, None)])

    customer.refresh_from_db()
    assert (customer.vip_tier_id, customer.vip_rated_at, customer.vip_rated_on, customer.name) == (
        None, None, None, "王五"
    )


# --- the as-is fast path --------------------------------------------------------------------------------


def test_a_choices_member_and_its_plain_text_land_as_the_same_text():
    customer = builders.customer(start_journey=False)
    at = clock.at_local(DAY0, 12)
    rows = [
        (customer.pk, customer.msisdn, EventType.BILL_ISSUED, at, "member", {}, "bss", at),
        (customer.pk, customer.msisdn, "bill_issued", at, "text", {}, "bss", at),
    ]

    insert_values(CustomerEvent, EVENT_FIELDS, rows)

    member, text = (CustomerEvent.objects.get(idempotency_key=key) for key in ("member", "text"))
    assert stored(CustomerEvent, member.pk, ["type"]) == stored(CustomerEvent, text.pk, ["type"]) == ("bill_issued",)
    assert CustomerEvent.objects.filter(type=EventType.BILL_ISSUED).count() == 2
    update_rows(Customer, ["status"], [(customer.pk, CustomerStatus.CANCELLED)])
    assert stored(Customer, customer.pk, ["status"]) == ("cancelled",)


def test_a_bool_lands_in_a_boolean_field_as_the_orm_writes_it():
    yes, no = builders.customer(start_journey=False), builders.customer(start_journey=False)
    orm_yes, orm_no = builders.customer(start_journey=False), builders.customer(start_journey=False)

    update_rows(Customer, ["marketing_opt_out", "number_changed"], [(yes.pk, True, True), (no.pk, False, False)])
    Customer.objects.filter(pk=orm_yes.pk).update(marketing_opt_out=True, number_changed=True)
    Customer.objects.filter(pk=orm_no.pk).update(marketing_opt_out=False, number_changed=False)

    assert set(Customer.objects.filter(marketing_opt_out=True).values_list("pk", flat=True)) == {yes.pk, orm_yes.pk}
    assert set(Customer.objects.filter(number_changed=False).values_list("pk", flat=True)) == {no.pk, orm_no.pk}
    flags = ["marketing_opt_out", "number_changed"]
    assert stored(Customer, yes.pk, flags) == stored(Customer, orm_yes.pk, flags)
    assert stored(Customer, no.pk, flags) == stored(Customer, orm_no.pk, flags)


def test_a_bool_in_an_integer_field_is_converted_not_passed_through():
    # only the exact types skip their field's adaptation: a bool is an int, but not for an integer column
    package, twin = builders.package("A66"), builders.package("A96")

    update_rows(Package, ["voice_min", "sms"], [(package.pk, True, False)])
    Package.objects.filter(pk=twin.pk).update(voice_min=True, sms=False)

    package.refresh_from_db()
    assert (package.voice_min, package.sms) == (1, 0) and type(package.voice_min) is int
    assert stored(Package, package.pk, ["voice_min", "sms"]) == stored(Package, twin.pk, ["voice_min", "sms"]) == (
        "1", "0"
    )


def test_numpy_integers_and_flags_are_converted_by_their_fields_as_the_orm_converts_them():
    # numpy is how the bench builds its columns; its scalars are not the driver's plain types
    tier = builders.vip_tier("gold")
    customer, twin = builders.customer(start_journey=False), builders.customer(start_journey=False)
    values = {"vip_tier": numpy.int64(tier.pk), "marketing_opt_out": numpy.bool_(True), "name": numpy.str_("赵六")}

    update_rows(Customer, list(values), [(numpy.int64(customer.pk), *values.values())])
    Customer.objects.filter(pk=twin.pk).update(**values)

    customer.refresh_from_db()
    assert (customer.vip_tier_id, customer.marketing_opt_out, customer.name) == (tier.pk, True, "赵六")
    assert stored(Customer, customer.pk, list(values)) == stored(Customer, twin.pk, list(values))


# --- conflicts ------------------------------------------------------------------------------------------


def test_ignore_conflicts_skips_an_event_whose_idempotency_key_is_known_and_keeps_the_others():
    customer = builders.customer(start_journey=False)
    at = clock.at_local(DAY0, 12)
    CustomerEvent.objects.create(
        customer=customer, msisdn=customer.msisdn, type="activation", at=at, idempotency_key="known", payload={"v": 1}
    )
    rows = [
        (customer.pk, customer.msisdn, "bill_issued", at, key, {"v": n}, "bss", at)
        for n, key in enumerate(["new-1", "known", "new-2"], start=2)
    ]

    assert insert_values(CustomerEvent, EVENT_FIELDS, rows, ignore_conflicts=True) == 3  # the rows handed over

    assert dict(CustomerEvent.objects.values_list("idempotency_key", "payload")) == {
        "known": {"v": 1}, "new-1": {"v": 2}, "new-2": {"v": 4}
    }
    assert CustomerEvent.objects.get(idempotency_key="known").type == "activation"


def test_without_ignore_conflicts_a_known_key_refuses_the_insert():
    customer = builders.customer(start_journey=False)
    at = clock.at_local(DAY0, 12)
    CustomerEvent.objects.create(customer=customer, msisdn=customer.msisdn, type="activation", at=at, idempotency_key="k")
    row = (customer.pk, customer.msisdn, "bill_issued", at, "k", {}, "bss", at)

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_values(CustomerEvent, EVENT_FIELDS, [row])

    assert CustomerEvent.objects.get().type == "activation"


def test_ignore_conflicts_skips_a_second_bill_for_the_same_month_and_keeps_the_others():
    customer, other = builders.customer(start_journey=False), builders.customer(start_journey=False)
    issued = clock.at_local(dt.date(2012, 4, 3), 7)
    Bill.objects.create(customer=customer, bill_month="2012-03", issued_at=issued, amount=Decimal("58.50"))
    bills = [
        Bill(customer=customer, bill_month="2012-03", issued_at=issued, amount=Decimal("99.00")),  # the clash
        Bill(customer=customer, bill_month="2012-04", issued_at=issued, amount=Decimal("60.00")),
        Bill(customer=other, bill_month="2012-03", issued_at=issued, amount=Decimal("12.00")),  # another customer
    ]

    insert_objects(Bill, bills, ignore_conflicts=True)

    assert sorted(Bill.objects.values_list("customer_id", "bill_month", "amount")) == sorted([
        (customer.pk, "2012-03", Decimal("58.50")),
        (customer.pk, "2012-04", Decimal("60.00")),
        (other.pk, "2012-03", Decimal("12.00")),
    ])


def test_ignore_conflicts_skips_a_key_repeated_within_the_same_batch():
    customer = builders.customer(start_journey=False)
    at = clock.at_local(DAY0, 12)
    events = [
        CustomerEvent(customer=customer, msisdn=customer.msisdn, type="bill_issued", at=at, idempotency_key=key,
                      payload={"n": n})
        for n, key in enumerate(["a", "b", "a"])
    ]

    insert_objects(CustomerEvent, events, ignore_conflicts=True)

    assert dict(CustomerEvent.objects.values_list("idempotency_key", "payload")) == {"a": {"n": 0}, "b": {"n": 1}}


# --- insert_objects as bulk_create ----------------------------------------------------------------------


def test_insert_objects_stamps_auto_now_fields_as_bulk_create_does(wall):
    bulk_built, orm_built = unsaved_customer(), unsaved_customer()
    event = CustomerEvent(msisdn="18600000000", type="activation", at=clock.at_local(DAY0, 10), idempotency_key="e")

    insert_objects(Customer, [bulk_built])
    insert_objects(CustomerEvent, [event])
    Customer.objects.bulk_create([orm_built])

    bulk = Customer.objects.get(msisdn=bulk_built.msisdn)
    assert bulk.created_at == bulk.updated_at == STAMP
    assert CustomerEvent.objects.get(idempotency_key="e").received_at == STAMP
    stamps = ["created_at", "updated_at"]
    assert stored(Customer, bulk.pk, stamps) == stored(Customer, Customer.objects.get(msisdn=orm_built.msisdn).pk, stamps)


def test_insert_objects_writes_the_defaults_the_instance_was_made_with():
    built = unsaved_customer()
    event = CustomerEvent(msisdn="18600000000", type="activation", at=clock.at_local(DAY0, 10), idempotency_key="e")

    insert_objects(Customer, [built])
    insert_objects(CustomerEvent, [event])

    customer = Customer.objects.get(msisdn=built.msisdn)
    assert (customer.status, customer.first_month, customer.marketing_opt_out, customer.name) == (
        "active", "full", False, ""
    )
    assert customer.vip_tier_id is None and customer.account_manager_id is None
    stored_event = CustomerEvent.objects.get(idempotency_key="e")
    assert stored_event.payload == {} and stored_event.customer_id is None and stored_event.source == ""


def test_insert_objects_takes_the_id_of_a_customer_saved_after_the_event_was_built():
    customer = unsaved_customer()
    event = CustomerEvent(
        customer=customer, msisdn=customer.msisdn, type="activation", at=customer.activated_at, idempotency_key="act"
    )
    customer.save()

    insert_objects(CustomerEvent, [event])

    assert CustomerEvent.objects.get(idempotency_key="act").customer_id == customer.pk
    assert list(customer.events.values_list("idempotency_key", flat=True)) == ["act"]


def test_insert_objects_takes_the_ids_of_customers_bulk_created_in_the_same_batch():
    customers = [unsaved_customer() for _ in range(3)]
    events = [
        CustomerEvent(customer=c, msisdn=c.msisdn, type="activation", at=c.activated_at, idempotency_key=c.msisdn)
        for c in customers
    ]
    Customer.objects.bulk_create(customers)  # SQLite and PostgreSQL both give the ids back

    insert_objects(CustomerEvent, events)

    assert dict(CustomerEvent.objects.values_list("idempotency_key", "customer__msisdn")) == {
        c.msisdn: c.msisdn for c in customers
    }


def test_insert_objects_refuses_an_event_whose_customer_is_still_unsaved():
    customer = unsaved_customer()
    event = CustomerEvent(
        customer=customer, msisdn=customer.msisdn, type="activation", at=customer.activated_at, idempotency_key="act"
    )

    with pytest.raises(ValueError, match="unsaved related object 'customer'"):
        insert_objects(CustomerEvent, [event])

    assert not CustomerEvent.objects.exists()


def test_insert_objects_refuses_a_bill_whose_customer_is_still_unsaved():
    bill = Bill(customer=unsaved_customer(), bill_month="2012-03", issued_at=clock.at_local(DAY0, 7), amount=1)

    with pytest.raises(ValueError, match="insert_objects"):
        insert_objects(Bill, [bill])

    assert not Bill.objects.exists()


# --- batches --------------------------------------------------------------------------------------------


def test_rows_beyond_one_batch_are_all_written():
    customer = builders.customer(start_journey=False)
    at = clock.at_local(DAY0, 12)
    rows = [(customer.pk, customer.msisdn, "bill_issued", at, f"k{n}", {"n": n}, "bss", at) for n in range(7)]

    assert insert_values(CustomerEvent, EVENT_FIELDS, rows, batch=3) == 7
    assert sorted(CustomerEvent.objects.values_list("payload__n", flat=True)) == list(range(7))

    pks = list(CustomerEvent.objects.order_by("pk").values_list("pk", flat=True))
    assert update_rows(CustomerEvent, ["source"], ((pk, f"s{pk}") for pk in pks), batch=2) == 7
    assert all(source == f"s{pk}" for pk, source in CustomerEvent.objects.values_list("pk", "source"))


def test_nothing_to_write_writes_nothing():
    assert insert_values(CustomerEvent, EVENT_FIELDS, []) == 0
    assert insert_objects(Bill, []) == 0
    assert update_rows(Customer, ["name"], iter(())) == 0
    assert not CustomerEvent.objects.exists() and not Bill.objects.exists()


def test_chunks_slices_a_key_list_in_order_without_losing_any():
    keys = list(range(7))
    assert list(chunks(keys, 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks(keys, 7)) == [keys]
    assert list(chunks([], 3)) == []
