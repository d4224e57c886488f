"""A customer is taken only inside the onboarding period: an activation more than the playbook's
`journey_days` (90) before the import's instant, or more than an hour after it, is refused with its reason —
in a customers file (CSV or XLSX), an activation event, a pushed event and a person's write — and the good
rows import. A customer already on file keeps taking updates after its period."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.customers import services, validation
from onboard90.customers.enums import EventType
from onboard90.customers.models import Customer, CustomerEvent
from onboard90.customers.tests.files import (
    NOW,
    customer_row,
    read_errors,
    world,
    write_csv,
    write_jsonl,
    write_xlsx,
)
from onboard90.journeys.models import Journey
from onboard90.playbook.services import default_document

pytestmark = pytest.mark.django_db

# NOW is 2012-05-20 12:00 local: the 90-day period then began on 2012-02-20 (day 90 of that activation).
FIRST_DAY = dt.date(2012, 2, 20)
REASON_1999 = (
    "入网时间早于90天服务期(最早2012-02-20) / activated before the 90-day onboarding period: 1999-01-01 10:00 "
    "(the earliest activation still in it is 2012-02-20)"
)


@pytest.fixture
def province():
    return world()


def import_customers(path, now=NOW):
    return services.customers_import(path=path, now=now)


def test_customer_activated_in_1999_is_rejected_with_its_reason_and_the_good_rows_import(province, tmp_path):
    path = write_csv(tmp_path / "bss.csv", [
        customer_row("18600000001"),
        customer_row("18600000002", activated_at="1999-01-01 10:00"),
        customer_row("18600000003", city="青岛"),
    ])

    result = import_customers(path)

    assert (result.total, result.created, result.rejected, result.exit_code) == (3, 2, 1, 3)
    assert set(Customer.objects.values_list("msisdn", flat=True)) == {"18600000001", "18600000003"}
    assert Journey.objects.count() == 2
    [error] = read_errors(tmp_path / "bss.errors.csv")
    assert (error["msisdn"], error["line"], error["reason"]) == ("18600000002", "3", REASON_1999)
    assert not CustomerEvent.objects.filter(msisdn="18600000002").exists()


def test_the_last_day_of_the_period_imports_and_the_day_before_is_rejected(province, tmp_path):
    path = write_csv(tmp_path / "edge.csv", [
        customer_row("18600000011", activated_at="2012-02-20 00:00"),  # day 90 at NOW: the plan's last day
        customer_row("18600000012", activated_at="2012-02-19 23:59"),  # day 91: its plan is over
    ])

    result = import_customers(path)

    assert (result.created, result.rejected) == (1, 1)
    assert Customer.objects.get().activated_on == FIRST_DAY
    assert validation.earliest_activation(now=NOW, journey_days=90) == FIRST_DAY
    assert "activated before the 90-day onboarding period: 2012-02-19 23:59" in read_errors(
        tmp_path / "edge.errors.csv"
    )[0]["reason"]


def test_an_activation_up_to_an_hour_ahead_is_clock_drift_and_imports_beyond_it_is_refused(province, tmp_path):
    path = write_csv(tmp_path / "ahead.csv", [
        customer_row("18600000021", activated_at="2012-05-20 12:59"),
        customer_row("18600000022", activated_at="2012-05-20 13:01"),
    ])

    result = import_customers(path)

    assert (result.created, result.rejected) == (1, 1)
    assert Customer.objects.get().msisdn == "18600000021"
    assert read_errors(tmp_path / "ahead.errors.csv")[0]["reason"] == (
        "入网时间晚于当前时间 / activated_at is in the future: 2012-05-20 13:01"
    )


def test_the_period_is_the_playbooks_journey_days(province, tmp_path):
    builders.playbook_version({**default_document(), "journey_days": 30})
    path = write_csv(tmp_path / "short.csv", [
        customer_row("18600000031", activated_at="2012-04-20 10:00"),
        customer_row("18600000032", activated_at="2012-04-19 10:00"),
    ])

    result = import_customers(path)

    assert (result.created, result.rejected) == (1, 1)
    assert "activated before the 30-day onboarding period: 2012-04-19 10:00" in read_errors(
        tmp_path / "short.errors.csv"
    )[0]["reason"]


def test_an_xlsx_row_activated_in_1999_is_rejected_and_the_others_import(province, tmp_path):
    header = ["msisdn", "city", "activated_at", "product", "package_code"]
    path = write_xlsx(tmp_path / "bss.xlsx", [
        [18600000041, "济南", dt.datetime(1999, 1, 1, 10, 0), "postpaid", "A66"],
        [18600000042, "济南", dt.datetime(2012, 5, 1, 10, 0), "postpaid", "A66"],
    ], header=header)

    result = import_customers(path)

    assert (result.created, result.rejected) == (1, 1)
    assert read_errors(tmp_path / "bss.errors.csv")[0]["reason"] == REASON_1999


def test_an_activation_event_from_1999_is_rejected_and_the_other_events_import(province, tmp_path):
    def activation(msisdn: str, key: str, at: str) -> dict:
        return {"type": "activation", "msisdn": msisdn, "at": at, "idempotency_key": key, "city": "济南",
                "product": "postpaid", "package_code": "A66"}

    path = write_jsonl(tmp_path / "events.jsonl", [
        activation("18600000051", "e-1", "1999-01-01 10:00"),
        activation("18600000052", "e-2", "2012-05-19 10:00"),
    ])

    result = services.events_import(path=path, now=NOW)

    assert (result.created, result.rejected, result.exit_code) == (1, 1, 3)
    assert Customer.objects.get().msisdn == "18600000052"
    lines = (tmp_path / "events.errors.jsonl").read_text(encoding="utf-8")
    assert REASON_1999 in lines and '"idempotency_key": "e-1"' in lines
    with pytest.raises(services.RowError) as refused:
        services.customer_event_apply(event=activation("18600000053", "api-1", "1999-01-01 10:00"), now=NOW)
    assert refused.value.reason == REASON_1999
    assert not Customer.objects.filter(msisdn="18600000053").exists()


def test_a_persons_write_is_refused_the_same_way(province):
    row = {"msisdn": "18600000061", "city": "济南", "activated_at": "1999-01-01 10:00", "product": "postpaid",
           "package_code": "A66"}

    with pytest.raises(services.RowError) as refused:
        services.customer_write(row=row, new=True, now=NOW)

    assert refused.value.reason == REASON_1999
    assert services.customer_write(row={**row, "activated_at": "2012-05-01"}, new=True, now=NOW) == "created"


def test_a_customer_on_file_keeps_its_updates_after_its_period_but_cannot_move_its_activation_before_it(
    province, tmp_path
):
    imported = write_csv(tmp_path / "march.csv", [customer_row("18600000071")])
    assert import_customers(imported).created == 1
    later = NOW + dt.timedelta(days=60)  # 2012-07-19: the March activation is past its 90 days

    again = import_customers(imported, now=later)
    changed = import_customers(
        write_csv(tmp_path / "july.csv", [customer_row("18600000071", package_code="A96")]), now=later
    )
    moved = import_customers(
        write_csv(tmp_path / "moved.csv", [customer_row("18600000071", package_code="A96",
                                                        activated_at="2012-01-05 10:00")]), now=NOW,
    )

    assert (again.unchanged, again.rejected) == (1, 0)
    assert (changed.updated, changed.rejected) == (1, 0)
    assert (moved.updated, moved.rejected) == (0, 1)
    assert "activated before the 90-day onboarding period: 2012-01-05 10:00" in read_errors(
        tmp_path / "moved.errors.csv"
    )[0]["reason"]
    customer = Customer.objects.get()
    assert customer.package.code == "A96" and customer.activated_on == dt.date(2012, 3, 1)
    assert CustomerEvent.objects.filter(type=EventType.CUSTOMER_UPDATED).count() == 1


def test_import_command_refuses_an_activation_from_1999_at_the_wall_clocks_instant(province, tmp_path, capsys):
    """As a user types it: `onboard90 import customers FILE` takes "now" from the wall clock (here set to NOW
    on a scratch database, as ONBOARD90_CLOCK does)."""
    builders.scratch_database()
    path = write_csv(tmp_path / "bss.csv", [
        customer_row("18600000081"), customer_row("18600000082", activated_at="1999-01-01 10:00"),
    ])

    with clock.simulated(NOW), pytest.raises(SystemExit) as exit_info:
        call_command("import", "customers", str(path))

    assert exit_info.value.code == 3
    out = capsys.readouterr().out
    assert "新增 / created: 1" in out and "拒绝 / rejected: 1" in out
    assert read_errors(tmp_path / "bss.errors.csv")[0]["reason"] == REASON_1999
    assert Customer.objects.get().msisdn == "18600000081"


def test_an_instant_before_1970_is_refused_without_reaching_the_time_zone_arithmetic():
    with pytest.raises(validation.RowError, match="at is before 1970: 0001-01-01 00:00"):
        validation.parse_instant("0001-01-01 00:00+08:00", "at")
