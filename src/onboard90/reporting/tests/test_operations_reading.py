"""The operations figures are read once per scope, range and day, then reused for a few minutes: a
supervisor's second look (or an export of the same table) costs no query, and another city's supervisor
never gets the first city's reading."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from onboard90 import testing as builders
from onboard90.org.enums import Role
from onboard90.org.scoping import scope_of
from onboard90.reporting.operations import operations_overview, operations_overview_now

pytestmark = pytest.mark.django_db
TODAY = dt.date(2012, 6, 1)
RANGE = {"date_from": TODAY - dt.timedelta(days=30), "date_to": TODAY, "today": TODAY}


@pytest.fixture
def supervisors():
    builders.package("A66")
    builders.playbook_version()
    out = {}
    for code in ("jinan", "qingdao"):
        city = builders.city(code)
        builders.customer(city_obj=city, activated_on=TODAY - dt.timedelta(days=5))
        out[code] = builders.staff(f"boss_{code}", role=Role.SUPERVISOR, city_obj=city)
    return out


def test_a_second_look_within_minutes_costs_no_query(supervisors, django_assert_num_queries):
    scope = scope_of(supervisors["jinan"])
    first = operations_overview(scope=scope, **RANGE)
    with django_assert_num_queries(0):
        again = operations_overview(scope=scope, **RANGE)
        one_table = operations_overview(scope=scope, only="forecast", **RANGE)
    assert again == first
    assert one_table["forecast"] == first["forecast"]


def test_each_city_has_its_own_reading(supervisors):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    operations_overview(scope=scope_of(supervisors["jinan"]), **RANGE)
    with CaptureQueriesContext(connection) as qingdao_reading:
        operations_overview(scope=scope_of(supervisors["qingdao"]), **RANGE)
    cities_read = [q["sql"] for q in qingdao_reading.captured_queries if "org_unit" in q["sql"]]
    assert cities_read, "青岛's figures must be read for 青岛, not taken from 济南's reading"
    with CaptureQueriesContext(connection) as later_day:
        operations_overview(scope=scope_of(supervisors["jinan"]), **{**RANGE, "today": TODAY + dt.timedelta(days=1)})
    assert later_day.captured_queries, "the next day is a new reading"
    cache.clear()
    with CaptureQueriesContext(connection) as after_clear:
        operations_overview(scope=scope_of(supervisors["jinan"]), **RANGE)
    assert after_clear.captured_queries


def test_after_the_daily_job_reads_the_dashboards_ahead_the_first_supervisor_waits_for_no_query(
    supervisors, django_assert_num_queries
):
    from django.core.management import call_command

    from onboard90.reporting.selectors import date_range
    from onboard90.reporting.services import dashboards_refresh

    cache.clear()
    done = dashboards_refresh(today=TODAY)
    assert done.scopes == ["全省", "济南", "青岛"]
    date_from, date_to, _ = date_range(today=TODAY, due_from=None, due_to=None)
    for boss in supervisors.values():
        with django_assert_num_queries(0):
            ahead = operations_overview(scope=scope_of(boss), date_from=date_from, date_to=date_to, today=TODAY)
        # …and it is the reading a look would have computed.
        look = operations_overview_now(scope=scope_of(boss), date_from=date_from, date_to=date_to, today=TODAY)
        assert {**ahead, "reading": None} == {**look, "reading": None}
    # The command the operator runs by hand does the same for today.
    from io import StringIO

    out = StringIO()
    call_command("figures", "dashboards", stdout=out)
    assert "3" in out.getvalue() and "dashboards" in out.getvalue()
