"""core.planner's reading helpers give what the ORM's own lookups give, on SQLite and PostgreSQL: `among` is
`__in` (the ids as one array parameter on PostgreSQL), `EpochDay` a date's day number, and `core.bulk.raw_rows`
the rows of a values_list without Django's converters."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onboard90 import testing as builders
from onboard90.core.bulk import raw_rows
from onboard90.core.planner import EpochDay, among
from onboard90.customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(db):
    city = builders.city("jinan")
    return [
        builders.customer(city_obj=city, activated_on=day, start_journey=False)
        for day in (dt.date(1970, 1, 1), dt.date(2012, 2, 29), dt.date(2012, 3, 1), dt.date(2038, 1, 19))
    ]


def test_among_picks_the_same_customers_as_in(customers):
    wanted = [customers[1].pk, customers[3].pk, 10**9]
    picked = Customer.objects.filter(among("id", wanted)).order_by("pk").values_list("pk", flat=True)
    assert list(picked) == list(Customer.objects.filter(pk__in=wanted).order_by("pk").values_list("pk", flat=True))
    assert list(picked) == [customers[1].pk, customers[3].pk]


def test_among_no_ids_picks_no_one(customers):
    assert not Customer.objects.filter(among("id", [])).exists()
    assert Customer.objects.exclude(among("id", [])).count() == len(customers)


def test_epoch_day_is_the_days_since_1970_read_as_integers(customers):
    rows = raw_rows(Customer.objects.order_by("pk").values_list("pk", EpochDay("activated_on")))
    assert rows == [(c.pk, (c.activated_on - dt.date(1970, 1, 1)).days) for c in customers]
    assert all(type(day) is int for _pk, day in rows)


def test_raw_rows_of_a_query_that_cannot_match_is_empty(customers):
    assert raw_rows(Customer.objects.filter(pk__in=[]).values_list("pk")) == []


# The fixture's customer is only read and its date overwritten: sharing it between examples is safe.
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)))
def test_epoch_day_of_any_date_matches_python(customers, day):
    Customer.objects.filter(pk=customers[0].pk).update(activated_on=day)
    [(number,)] = raw_rows(Customer.objects.filter(pk=customers[0].pk).values_list(EpochDay("activated_on")))
    assert number == (day - dt.date(1970, 1, 1)).days
