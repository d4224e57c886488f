"""`onboard90 import usage`: daily rows in, one row per customer and day, month sums that are always the sum
of their days (a re-imported day replaces, never doubles), rejects with reasons, the same files and exit
codes as the other imports; the `usage_daily` event through the same path; what is kept and pruned."""

from __future__ import annotations

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onboard90 import testing as builders
from onboard90.core import clock
from onboard90.customers.tests.files import NOW, read_errors, write_csv, write_xlsx
from onboard90.customers.validation import RowError
from onboard90.usage import services
from onboard90.usage.models import UsageDay, UsageLoad, UsageMonth
from onboard90.usage.services import usage_import, usage_prune, usage_record

pytestmark = pytest.mark.django_db
HEADER = ["msisdn", "date", "voice_min", "data_mb", "sms"]
TODAY = NOW.date()  # 2012-05-20: the days held begin on 2012-04-01 (35 days back is 04-15, its month's first)
A, B = "18600000001", "18600000002"


@pytest.fixture
def customers():
    jinan = builders.city("jinan")
    builders.package("A66", monthly_fee=Decimal("66"))
    return {
        A: builders.customer(city_obj=jinan, msisdn=A, activated_on=dt.date(2012, 3, 1), start_journey=False),
        B: builders.customer(
            city_obj=jinan, msisdn=B, activated_on=dt.date(2012, 4, 10), start_journey=False
        ),
    }


def rows(*items):
    return [dict(zip(HEADER, item, strict=True)) for item in items]


def days():
    return {(d.customer.msisdn, d.day.isoformat()): (d.voice_min, d.data_mb, d.sms)
            for d in UsageDay.objects.select_related("customer")}  # fmt: skip


def months():
    return {(m.customer.msisdn, m.month): (m.voice_min, m.data_mb, m.sms, m.days)
            for m in UsageMonth.objects.select_related("customer")}  # fmt: skip


def load(path):
    return usage_import(path=path, now=NOW)


def test_daily_rows_make_day_rows_and_month_sums(tmp_path, customers):
    path = write_csv(tmp_path / "usage.csv", rows(
        (A, "2012-04-30", 10, 100, 3), (A, "2012-05-01", 20, 50, 0), (A, "2012-05-02", 5, 25, 1),
        (B, "2012-05-01", 0, 300, 0),
    ), header=HEADER)  # fmt: skip

    result = load(path)

    assert (result.total, result.created, result.updated, result.rejected, result.exit_code) == (
        4,
        4,
        0,
        0,
        0,
    )
    assert days() == {
        (A, "2012-04-30"): (10, 100, 3), (A, "2012-05-01"): (20, 50, 0), (A, "2012-05-02"): (5, 25, 1),
        (B, "2012-05-01"): (0, 300, 0),
    }  # fmt: skip
    assert months() == {
        (A, "2012-04"): (10, 100, 3, 1), (A, "2012-05"): (25, 75, 1, 2), (B, "2012-05"): (0, 300, 0, 1),
    }  # fmt: skip
    assert result.error_path is None


def test_a_reimported_day_replaces_the_day_and_corrects_the_month_never_doubling_it(tmp_path, customers):
    load(write_csv(tmp_path / "first.csv", rows((A, "2012-05-01", 20, 50, 0), (A, "2012-05-02", 5, 25, 1)),
                   header=HEADER))  # fmt: skip
    first_load = UsageDay.objects.get(day=dt.date(2012, 5, 2)).load_id

    again = load(write_csv(tmp_path / "again.csv", rows((A, "2012-05-01", 30, 60, 2), (A, "2012-05-02", 5, 25, 1)),
                           header=HEADER))  # fmt: skip

    assert (again.created, again.updated, again.unchanged) == (0, 1, 1)
    assert days() == {(A, "2012-05-01"): (30, 60, 2), (A, "2012-05-02"): (5, 25, 1)}
    assert months() == {(A, "2012-05"): (35, 85, 3, 2)}
    # The replaced day and its month carry the new load; the unchanged day keeps its own.
    changed = UsageDay.objects.get(day=dt.date(2012, 5, 1)).load_id
    assert changed != first_load
    assert UsageDay.objects.get(day=dt.date(2012, 5, 2)).load_id == first_load
    assert UsageMonth.objects.get().load_id == changed


def test_the_same_file_twice_writes_nothing_the_second_time(tmp_path, customers):
    path = write_csv(tmp_path / "usage.csv", rows((A, "2012-05-01", 20, 50, 0), (B, "2012-05-01", 1, 2, 3)),
                     header=HEADER)  # fmt: skip
    load(path)
    loads = UsageLoad.objects.count()

    again = load(path)

    assert (again.created, again.updated, again.unchanged, again.exit_code) == (0, 0, 2, 0)
    assert UsageLoad.objects.count() == loads
    assert months() == {(A, "2012-05"): (20, 50, 0, 1), (B, "2012-05"): (1, 2, 3, 1)}


def test_within_one_file_the_last_row_of_a_customer_day_wins(tmp_path, customers):
    result = load(write_csv(tmp_path / "usage.csv", rows((A, "2012-05-01", 20, 50, 0), (A, "2012-05-01", 7, 8, 9)),
                            header=HEADER))  # fmt: skip

    assert (result.total, result.created, result.duplicates) == (2, 1, 1)
    assert days() == {(A, "2012-05-01"): (7, 8, 9)}
    assert months() == {(A, "2012-05"): (7, 8, 9, 1)}


def test_rows_that_cannot_be_taken_are_rejected_with_their_reason_in_the_error_file(tmp_path, customers):
    path = write_csv(tmp_path / "usage.csv", rows(
        (A, "2012-05-01", 20, 50, 0),
        ("13800138000", "2012-05-01", 1, 1, 1),   # not a Unicom number
        ("18699999999", "2012-05-01", 1, 1, 1),   # nobody on file
        (A, "2012-13-01", 1, 1, 1),               # no such date
        (A, "yesterday", 1, 1, 1),
        (A, "2012-05-21", 1, 1, 1),               # tomorrow
        (A, "2012-03-31", 1, 1, 1),               # before the days still held
        (B, "2012-04-09", 1, 1, 1),               # before B's activation
        (A, "2012-05-03", -1, 1, 1),
        (A, "2012-05-03", "abc", 1, 1),
        (A, "2012-05-03", "2.5", 1, 1),           # part minutes
        (A, "2012-05-03", 1, 1, ""),
        (A, "2012-05-03", 1441, 1, 1),            # more minutes than a day has
        (A, "2012-05-04", 1, "12.5", 1),          # taken: data rounds half up to 13 MB
    ), header=HEADER)  # fmt: skip

    result = load(path)

    assert (result.total, result.created, result.rejected, result.exit_code) == (14, 2, 12, 3)
    assert days() == {(A, "2012-05-01"): (20, 50, 0), (A, "2012-05-04"): (1, 13, 1)}
    errors = read_errors(tmp_path / "usage.errors.csv")
    assert [e["line"] for e in errors] == [str(n) for n in range(3, 14)] + ["14"]
    reasons = [e["reason"] for e in errors]
    assert "not an 11-digit Unicom mobile number" in reasons[0]
    assert "unknown customer: 18699999999" in reasons[1]
    assert "date is not a real date: 2012-13-01" in reasons[2]
    assert "date is not a date: yesterday" in reasons[3]
    assert "date is in the future: 2012-05-21" in reasons[4]
    assert "the earliest is 2012-04-01" in reasons[5]
    assert "before the activation on 2012-04-10" in reasons[6]
    assert "voice_min cannot be negative: -1" in reasons[7]
    assert "voice_min is not a number: abc" in reasons[8]
    assert "voice_min must be a whole number: 2.5" in reasons[9]
    assert "sms is empty" in reasons[10]
    assert "more than a day can hold (1440): 1441" in reasons[11]
    # The error file has the input's columns plus line and reason, so it can be corrected and re-imported.
    assert list(errors[0]) == [*HEADER, "line", "reason"]


def test_gbk_bom_and_xlsx_files_are_read_as_the_other_imports_read_them(tmp_path, customers):
    gbk = write_csv(tmp_path / "gbk.csv", rows((A, "2012年5月1日", 1, 2, 3)), header=HEADER, encoding="gbk")
    bom = write_csv(
        tmp_path / "bom.csv", rows((A, "2012/05/02", 4, 5, 6)), header=HEADER, encoding="utf-8-sig"
    )
    xlsx = write_xlsx(tmp_path / "usage.xlsx", [[int(A), dt.date(2012, 5, 3), 7, 8.0, 9]], header=HEADER)

    assert [load(p).created for p in (gbk, bom, xlsx)] == [1, 1, 1]

    assert months() == {(A, "2012-05"): (12, 15, 18, 3)}


def test_a_file_without_the_usage_columns_is_unusable(tmp_path, customers):
    path = write_csv(tmp_path / "usage.csv", [{"msisdn": A, "date": "2012-05-01"}], header=["msisdn", "date"])

    with pytest.raises(services.UnusableFile, match="voice_min, data_mb, sms"):
        load(path)


def test_the_usage_daily_event_goes_through_the_same_path(customers):
    assert usage_record(msisdn=A, day="2012-05-01", voice_min=20, data_mb=50, sms=0, now=NOW) == "created"
    assert (
        usage_record(msisdn=A, day=dt.date(2012, 5, 2), voice_min=5, data_mb=25.0, sms=1, now=NOW)
        == "created"
    )
    assert usage_record(msisdn=A, day="2012-05-01", voice_min=30, data_mb=50, sms=0, now=NOW) == "updated"
    assert usage_record(msisdn=A, day="2012-05-01", voice_min=30, data_mb=50, sms=0, now=NOW) == "unchanged"

    assert months() == {(A, "2012-05"): (35, 75, 1, 2)}
    for bad, reason in [
        ({"voice_min": -5}, "cannot be negative"),
        ({"voice_min": True}, "not a number"),
        ({"day": "2012-06-01"}, "in the future"),
        ({"msisdn": "18699999999"}, "unknown customer"),
    ]:
        event = {"msisdn": A, "day": "2012-05-03", "voice_min": 1, "data_mb": 1, "sms": 1, **bad}
        with pytest.raises(RowError, match=reason):
            usage_record(**event, now=NOW)
    assert months() == {(A, "2012-05"): (35, 75, 1, 2)}


def test_prune_keeps_the_surge_window_s_months_of_days_and_the_journey_s_months(customers):
    # On 2012-06-10 the surge window begins on 05-06: the days of May on are kept, April's go; month rows
    # are kept from 2012-03 (92 days before 06-10 is 03-10).
    later = clock.at_local(dt.date(2012, 6, 10), 12)
    for day in ("2012-04-30", "2012-05-01", "2012-06-09"):
        usage_record(msisdn=A, day=day, voice_min=1, data_mb=1, sms=1, now=later if day > "2012-05" else NOW)
    UsageMonth.objects.create(
        customer=customers[A], month="2012-02", load_id=0
    )  # an old month, kept too long

    assert services.day_horizon(dt.date(2012, 6, 10)) == dt.date(2012, 5, 1)
    assert services.month_horizon(dt.date(2012, 6, 10)) == "2012-03"
    assert usage_prune(today=dt.date(2012, 6, 10))["days"] == 1

    assert sorted(day for _m, day in days()) == ["2012-05-01", "2012-06-09"]
    # April's month stays as it was (settled), the February row is gone.
    assert months() == {
        (A, "2012-04"): (1, 1, 1, 1),
        (A, "2012-05"): (1, 1, 1, 1),
        (A, "2012-06"): (1, 1, 1, 1),
    }


def test_the_import_command_exits_0_3_or_2(tmp_path, customers, capsys):
    builders.scratch_database()
    ok = write_csv(tmp_path / "ok.csv", rows((A, "2012-05-01", 1, 2, 3)), header=HEADER)
    some = write_csv(
        tmp_path / "some.csv", rows((A, "2012-05-01", 1, 2, 3), (A, "x", 1, 2, 3)), header=HEADER
    )
    bad = write_csv(tmp_path / "bad.csv", [{"msisdn": A}], header=["msisdn"])

    def run(*args):
        with pytest.raises(SystemExit) as exit_info:
            call_command("import", *args)
        return exit_info.value.code

    with clock.simulated(NOW):
        assert run("usage", str(ok)) == 0
        assert "导入用量 / import usage" in capsys.readouterr().out
        assert run("usage", str(some), "--json") == 3
        document = json.loads(capsys.readouterr().out)
        assert (document["kind"], document["unchanged"], document["rejected"]) == ("usage", 1, 1)
        assert document["error_path"].endswith("some.errors.csv")
        assert run("usage", str(bad)) == 2
        assert "missing required columns" in capsys.readouterr().err


def test_lines_the_quick_checks_cannot_read_take_the_full_checks_and_keep_their_line(tmp_path, customers):
    # Spaces round a cell, a +86 number, a decimal MB, a blank line and a line with one cell too many: the
    # quick column checks pass none of them; the full row checks take or refuse each with its reason.
    text = (
        "msisdn,date,voice_min,data_mb,sms\n"
        f"{A},2012-05-01,1,2,3\n"
        f" +86{B} , 2012-05-01 , 4 ,5.5, 6\n"
        "\n"
        ",,,,\n"
        f"{A},2012-05-02,1,2,3,extra\n"
        f"{A},2012/05/03,7,8,9\n"
    )
    path = tmp_path / "usage.csv"
    path.write_text(text, encoding="utf-8")

    result = load(path)

    assert (result.total, result.created, result.rejected) == (4, 3, 1)
    assert days() == {
        (A, "2012-05-01"): (1, 2, 3), (B, "2012-05-01"): (4, 6, 6), (A, "2012-05-03"): (7, 8, 9),
    }  # fmt: skip
    [error] = read_errors(tmp_path / "usage.errors.csv")
    assert (error["line"], error["msisdn"]) == ("6", A)
    assert "more columns than the header" in error["reason"]


def test_a_file_with_quoted_cells_is_read_by_the_imports_reader(tmp_path, customers):
    path = tmp_path / "usage.csv"
    path.write_text(
        f'msisdn,date,voice_min,data_mb,sms\n"{A}","2012-05-01",1,2,3\n"{A}","2012-05-01","1,000",2,3\n',
        encoding="utf-8",
    )

    result = load(path)

    assert (result.total, result.created, result.duplicates, result.rejected) == (2, 1, 1, 0)
    assert days() == {(A, "2012-05-01"): (1000, 2, 3)}  # "1,000" minutes read as the full checks read it


def test_a_chunk_mixing_new_and_replaced_days_moves_each_month_by_its_difference(tmp_path, customers):
    load(write_csv(tmp_path / "first.csv", rows((A, "2012-04-30", 10, 100, 1), (A, "2012-05-01", 20, 50, 0)),
                   header=HEADER))  # fmt: skip

    again = load(write_csv(tmp_path / "again.csv", rows(
        (A, "2012-04-30", 4, 100, 1),   # April: 10 → 4 minutes
        (A, "2012-05-01", 20, 50, 0),   # unchanged
        (A, "2012-05-02", 1, 1, 1),     # new in May
        (B, "2012-05-02", 0, 7, 0),     # B's first day
    ), header=HEADER))  # fmt: skip

    assert (again.created, again.updated, again.unchanged) == (2, 1, 1)
    assert months() == {
        (A, "2012-04"): (4, 100, 1, 1), (A, "2012-05"): (21, 51, 1, 2), (B, "2012-05"): (0, 7, 0, 1),
    }  # fmt: skip


_day = st.sampled_from(["2012-04-30", "2012-05-01", "2012-05-02", "2012-05-19"])
_amount = st.integers(0, 3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.lists(st.tuples(st.sampled_from([A, B]), _day, _amount, _amount, _amount),
                               min_size=1, max_size=6), min_size=1, max_size=4))  # fmt: skip
def test_whatever_is_imported_in_whatever_order_each_month_is_the_sum_of_its_days(tmp_path, customers, files):
    UsageDay.objects.all().delete()
    UsageMonth.objects.all().delete()
    expected: dict[tuple[str, str], tuple[int, int, int]] = {}
    for n, items in enumerate(files):
        load(write_csv(tmp_path / f"{n}.csv", rows(*items), header=HEADER))
        for msisdn, day, *amounts in items:
            if not (msisdn == B and day < "2012-04-10"):  # B was activated on 04-10
                expected[msisdn, day] = tuple(amounts)

    assert days() == expected
    sums: dict[tuple[str, str], list[int]] = {}
    for (msisdn, day), (voice, data, sms) in expected.items():
        total = sums.setdefault((msisdn, day[:7]), [0, 0, 0, 0])
        for k, value in enumerate((voice, data, sms, 1)):
            total[k] += value
    assert months() == {key: tuple(total) for key, total in sums.items()}


def test_the_next_chunk_is_read_ahead_in_order_and_a_reading_error_surfaces_where_it_happened():
    from onboard90.usage.services import _read_ahead

    assert list(_read_ahead(iter([1, 2, 3]))) == [1, 2, 3]

    def failing():
        yield 1
        raise ValueError("line 50 001: the file ends mid-row")

    got = []
    with pytest.raises(ValueError, match="mid-row"):
        for chunk in _read_ahead(failing()):
            got.append(chunk)
    assert got == [1]

    # A caller that stops early (a write failed) leaves no reading thread behind.
    chunks = _read_ahead(iter(range(100)))
    assert next(chunks) == 0
    chunks.close()
    assert not [t for t in threading.enumerate() if t.name == "usage-import-read-ahead"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_chunks_are_written_by_a_thread_of_their_own_in_order_and_its_failure_surfaces(
    tmp_path, customers, monkeypatch
):
    """Outside a caller's transaction the writes run beside the reading (`_Writes`): the same rows as in line,
    and a write that fails stops the import with its error, the chunks before it kept."""
    monkeypatch.setattr(services, "CHUNK", 2)  # four chunks, each its own transaction on the writer's connection
    first = write_csv(tmp_path / "first.csv", rows(
        (A, "2012-05-01", 20, 50, 0), (A, "2012-05-02", 5, 25, 1), (B, "2012-05-01", 0, 300, 0),
        (B, "2012-05-02", 1, 1, 1), (A, "2012-05-03", 2, 2, 2), (B, "2012-05-03", 3, 3, 3), (A, "2012-05-04", 4, 4, 4),
    ), header=HEADER)  # fmt: skip
    threads = []
    real_write = services._write
    monkeypatch.setattr(
        services, "_write", lambda batch, **kw: threads.append(threading.current_thread().name) or real_write(batch, **kw)
    )

    result = load(first)

    assert (result.created, result.updated, result.rejected) == (7, 0, 0)
    assert set(threads) == {"usage-import-write"} and len(threads) == 4
    assert months() == {(A, "2012-05"): (31, 81, 7, 4), (B, "2012-05"): (4, 304, 4, 3)}
    # Again with one day changed: the staged way (the months are held), still on the writer's thread.
    changed = write_csv(tmp_path / "changed.csv", rows((A, "2012-05-04", 10, 10, 10)), header=HEADER)
    assert load(changed).updated == 1
    assert months()[(A, "2012-05")] == (37, 87, 13, 4)

    calls = []

    def failing(batch, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_write(batch, **kw)

    monkeypatch.setattr(services, "_write", failing)
    later = write_csv(tmp_path / "later.csv", rows(
        (A, "2012-05-05", 1, 1, 1), (B, "2012-05-05", 1, 1, 1), (A, "2012-05-06", 1, 1, 1), (B, "2012-05-06", 1, 1, 1),
        (A, "2012-05-07", 1, 1, 1),
    ), header=HEADER)  # fmt: skip
    with pytest.raises(RuntimeError, match="went away"):
        load(later)
    held = set(days())
    assert {(A, "2012-05-05"), (B, "2012-05-05")} <= held and (A, "2012-05-07") not in held
    assert not [t for t in threading.enumerate() if t.name == "usage-import-write"]
