"""The command-line contract as a script sees it: one JSON document on stdout, errors on stderr, exit codes.

These run the real `onboard90` console script in a subprocess against a throwaway SQLite file, so
they check what a user or a cron job gets, including that no traceback ever reaches the terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sqlite  # SQLite files of its own, whatever DATABASE_URL says: the SQLite pass only

CUSTOMERS = """msisdn,city,activated_at,product,package_code,name,vip_level
18612345678,济南,2012-03-01 10:00,postpaid,A66,张三,
18612345679,青岛,2012-03-01 11:00,postpaid,A96,李四,金卡
"""


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{home / 'db.sqlite3'}",
        "ONBOARD90_VAR": str(home / "var"),
        # The history of March 2012 runs on a simulated clock, which only a scratch database accepts.
        "ONBOARD90_CLOCK": "2012-03-05 16:00",
    }
    env.pop("ONBOARD90_DEBUG", None)

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-m", "onboard90", *args], env=env, cwd=home, capture_output=True, text=True, timeout=300
        )
        if check and done.returncode != 0:
            raise AssertionError(f"onboard90 {' '.join(args)} exited {done.returncode}: {done.stderr}")
        return done

    run("init", "--scratch")
    (home / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    run("import", "customers", str(home / "customers.csv"))
    run("staff", "add", "qd_am", "--role", "account_manager", "--city", "青岛", "--name", "王磊", "--phone", "18653212345")
    run("staff", "add", "jn_agent", "--role", "call_centre_agent", "--city", "济南")
    run("run", "--date", "2012-03-01")
    run("run", "--until", "2012-03-05")
    return run


def test_journey_json_is_one_document_with_the_contract_fields(cli):
    doc = json.loads(cli("journey", "18612345679", "--json").stdout)
    assert set(doc) == {
        "msisdn", "activated_on", "day", "stage", "status", "vip", "playbook_version", "package_fit", "actions"
    }
    assert doc["msisdn"] == "18612345679" and doc["activated_on"] == "2012-03-01"
    assert doc["day"] == 4 and doc["stage"] == 2 and doc["status"] == "active" and doc["vip"] is True
    action = next(a for a in doc["actions"] if a["code"] == "vip_first_callback")
    assert set(action) == {
        "code", "stage", "status", "window_start", "window_end", "due_at", "owner_unit", "assignee", "deliveries"
    }
    assert action["assignee"] == "qd_am" and action["owner_unit"] == "qingdao-am"
    assert action["deliveries"] == [{"kind": "task", "status": "open", "backdated": False}]


def test_tasks_json_lists_the_worklist_with_its_contract_fields(cli):
    tasks = json.loads(cli("tasks", "--msisdn", "18612345678", "--json").stdout)
    assert tasks and all(
        set(t) == {"id", "msisdn", "action", "status", "due_at", "owner_unit", "assignee", "backdated"} for t in tasks
    )
    callback = next(t for t in tasks if t["action"] == "first_callback")
    assert callback["owner_unit"] == "jinan-cc" and callback["status"] == "open"
    assert {t["status"] for t in tasks} <= {"open", "overdue"}


def test_complete_as_a_staff_member_then_the_report_counts_it(cli):
    tasks = json.loads(cli("tasks", "--msisdn", "18612345678", "--json").stdout)
    callback = next(t for t in tasks if t["action"] == "first_callback")
    done = cli("complete", str(callback["id"]), "--outcome", "reached", "--as", "jn_agent", "--at", "2012-03-05 15:00")
    assert "done" in done.stdout
    report = json.loads(cli("report", "compliance", "--by", "staff", "--json").stdout)
    assert report["by"] == "staff"
    row = next(r for r in report["rows"] if r["staff"] == "jn_agent")
    assert row == {
        "staff": "jn_agent", "unit": None, "due": 1, "done": 1, "done_late": 0, "backdated": 0, "missed": 0,
        "open": 0, "overdue": 0, "on_time_rate": 1.0,
    }
    assert report["total"]["due"] == sum(r["due"] for r in report["rows"])
    by_city = json.loads(cli("report", "compliance", "--by", "city", "--json").stdout)
    assert {r["city"] for r in by_city["rows"]} == {"济南", "青岛"}


def test_a_clerk_of_another_city_may_not_complete_the_task(cli):
    cli("staff", "add", "qd_clerk", "--role", "store_clerk", "--city", "青岛")
    tasks = json.loads(cli("tasks", "--msisdn", "18612345678", "--json").stdout)
    refused = cli("complete", str(tasks[0]["id"]), "--outcome", "reached", "--as", "qd_clerk", check=False)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr and "qd_clerk" in refused.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("journey", "18600000000", "--json"),
        ("complete", "999999", "--outcome", "reached"),
        ("complete", "1", "--outcome", "teleported"),
        ("run", "--date", "2012-02-30"),
        ("report", "compliance", "--by", "planet"),
        ("tasks", "--status", "sleeping", "--json"),
        ("tasks", "--unit", "nosuch"),
        ("tasks", "--city", "atlantis"),
        ("tasks", "--action", "teleport"),
        ("report", "compliance", "--xlsx", "/nonexistent/folder/report.xlsx"),
        ("report", "compliance", "--from", "2012-03-05", "--to", "2012-03-01"),
    ],
)
def test_bad_requests_get_a_clear_error_on_stderr_and_no_traceback(cli, args):
    done = cli(*args, check=False)
    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.strip() and "Traceback" not in done.stderr


def test_an_uninitialised_database_says_to_run_init(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}", "ONBOARD90_VAR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "onboard90", "tasks", "--json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "onboard90 init" in done.stderr and "Traceback" not in done.stderr
    assert Path(tmp_path / "empty.sqlite3").exists()
