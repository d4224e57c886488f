"""`tasks` and `report` refuse what they cannot answer — an unknown unit, city, act or status, a bad date, an
unwritable workbook — in one line that says what would be valid, instead of an empty answer or a traceback;
and their tables say what each column is."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from onboard90 import testing as builders
from onboard90.journeys import selectors
from onboard90.journeys.tests.test_plan_walkthrough import DAY0, day, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def day_4(province):
    """Two customers of 济南 on day 4: store work overdue, first callbacks open at the call centre."""
    for _ in range(2):
        builders.customer(city_obj=province["city"], activated_on=DAY0)
    run(province, 0, 4)
    return province


def refusal(*args: str) -> str:
    with pytest.raises(CommandError) as refused:
        call_command(*args, stdout=io.StringIO())
    message = str(refused.value)
    assert "\n" not in message
    return message


def tasks_json(capsys, *args: str) -> list[dict]:
    call_command("tasks", *args, "--json")
    return json.loads(capsys.readouterr().out)


def test_tasks_unknown_unit_lists_valid_units(day_4):
    message = refusal("tasks", "--unit", "nosuch")
    assert "nosuch" in message and "jinan-store-1" in message and "jinan-cc" in message


def test_an_unknown_unit_among_many_lists_the_first_twenty_and_says_there_are_more(day_4):
    for n in range(6):
        builders.city(f"c{n}")  # four units each: 28 units in all
    message = refusal("tasks", "--unit", "nosuch")
    assert "known (28)" in message and "/admin/org/unit/" in message
    assert "…" in message and message.count("-store-1") + message.count("-club") + message.count("-cc") + message.count(
        "-am"
    ) == 20


def test_an_unknown_unit_names_the_units_that_look_like_it(day_4):
    for n in range(6):
        builders.city(f"c{n}")
    for typed in ("jinan-store-2", "jinan", "JINAN-STORE"):  # the city's units, whatever was mistyped after it
        assert "did you mean: jinan-am, jinan-cc, jinan-club, jinan-store-1;" in refusal("tasks", "--unit", typed)
    assert "did you mean: jinan-club;" in refusal("tasks", "--unit", "jinna-club")  # a near code


def test_tasks_unknown_city_lists_the_known_cities(day_4):
    message = refusal("tasks", "--city", "atlantis")
    assert "atlantis" in message and "济南" in message and "jinan" in message


def test_tasks_unknown_action_lists_the_playbooks_acts(day_4):
    message = refusal("tasks", "--action", "teleport")
    assert "teleport" in message and "first_callback" in message and "tariff_notice" in message


def test_tasks_unknown_status_lists_the_statuses(day_4):
    message = refusal("tasks", "--status", "sleeping")
    assert "sleeping" in message and "overdue" in message and "running" in message and "all" in message


def test_tasks_filter_by_city_and_action(day_4, capsys):
    callbacks = tasks_json(capsys, "--city", "济南", "--action", "first_callback")
    assert len(callbacks) == 2 and {t["action"] for t in callbacks} == {"first_callback"}
    assert tasks_json(capsys, "--city", "0531") == tasks_json(capsys, "--city", "jinan")
    builders.city("qingdao")
    assert tasks_json(capsys, "--city", "青岛") == []  # a known city with nothing to do is an honest zero


def test_tasks_table_has_headers_and_prints_no_none(day_4):
    out = io.StringIO()
    call_command("tasks", "--unit", "jinan-store-1", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].split()[:3] == ["任务", "id", "/"] and "负责人 / staff" in lines[0] and "截止 / due" in lines[0]
    assert len(lines) > 2 and lines[-1].endswith("task(s)")
    assert "None" not in out.getvalue()
    assert all(line.rstrip().endswith(" -") for line in lines[1:-1])  # store work assigned to no one


def test_report_table_has_headers_a_province_total_and_no_none(day_4):
    out = io.StringIO()
    call_command("report", "compliance", "--by", "staff", "--date", day(4).isoformat(), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[1].split() == ["staff", *selectors.FIGURES_ZH]
    assert lines[2].split() == selectors.FIGURES
    assert lines[-1].startswith(selectors.PROVINCE)
    assert any(line.startswith(selectors.UNASSIGNED) for line in lines)
    assert "None" not in out.getvalue()


def test_report_refuses_a_bad_date_and_a_reversed_range(day_4):
    assert "--from" in refusal("report", "compliance", "--from", "2012-02-30")
    assert "--date" in refusal("report", "compliance", "--date", "yesterday")
    message = refusal("report", "compliance", "--from", day(5).isoformat(), "--to", day(1).isoformat())
    assert "2012-03-06" in message and "2012-03-02" in message


@pytest.mark.parametrize("where", ["missing_folder", "a_folder"])
def test_an_unwritable_workbook_is_a_one_line_error_and_nothing_is_half_written(day_4, tmp_path, where):
    # A folder without write permission is not among the cases: these tests run as root in CI, and root
    # writes anywhere; a write that fails half-way is the next test.
    target = {"missing_folder": tmp_path / "nonexistent" / "dir" / "x.xlsx", "a_folder": tmp_path}[where]
    message = refusal("report", "compliance", "--xlsx", str(target))
    assert "cannot write" in message and str(target) in message
    if where != "a_folder":
        assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_a_workbook_that_fails_half_way_leaves_the_previous_one_untouched(day_4, tmp_path, monkeypatch):
    import errno

    from openpyxl import Workbook

    target = tmp_path / "compliance.xlsx"
    target.write_bytes(b"yesterday's report")

    def disk_full(self, filename):
        with open(filename, "wb") as half:
            half.write(b"PK\x03\x04")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Workbook, "save", disk_full)
    message = refusal("report", "compliance", "--xlsx", str(target))
    assert "cannot write" in message and "No space left on device" in message
    assert target.read_bytes() == b"yesterday's report"
    assert [p.name for p in tmp_path.iterdir()] == ["compliance.xlsx"]


def test_the_workbook_holds_the_rows_and_the_province_total_last(day_4, tmp_path):
    target = tmp_path / "compliance.xlsx"
    call_command("report", "compliance", "--by", "store", "--date", day(4).isoformat(), "--xlsx", str(target),
                 stdout=io.StringIO())
    report = selectors.compliance_report(by="store", as_of=selectors.clock.cycle_instant(day(4)))
    rows = list(load_workbook(target).active.iter_rows(values_only=True))
    assert rows[0] == ("store", *selectors.FIGURES_ZH) and rows[1] == ("store", *selectors.FIGURES)
    assert rows[-1] == (selectors.PROVINCE, *(report["total"][h] for h in selectors.FIGURES))
    assert len(rows) == 2 + len(report["rows"]) + 1
    assert [p.name for p in tmp_path.iterdir()] == ["compliance.xlsx"]  # no partial file left beside it


@pytest.mark.sqlite
def test_a_refusal_reaches_the_terminal_as_one_line_with_a_non_zero_exit(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "ONBOARD90_VAR": str(tmp_path / "var")}
    env.pop("ONBOARD90_DEBUG", None)

    def onboard90(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "onboard90", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )

    assert onboard90("init").returncode == 0
    for args in (("tasks", "--unit", "nosuch"), ("tasks", "--action", "teleport"),
                 ("report", "compliance", "--xlsx", "/nonexistent/dir/x.xlsx")):
        done = onboard90(*args)
        assert done.returncode != 0 and done.stdout == "", args
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    near = onboard90("tasks", "--unit", "jinan-store-9").stderr
    assert "did you mean" in near and "jinan-store-1" in near and "…" in near
