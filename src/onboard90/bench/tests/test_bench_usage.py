"""`onboard90 bench usage`: the import of a generated file on a SQLite file — where the chunks are written by a
thread and connection of their own — against a raw write, one JSON document out. Small N; no timing is ever
asserted."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest

pytestmark = pytest.mark.sqlite  # SQLite files of its own, whatever DATABASE_URL says: the SQLite pass only


def _bench(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ONBOARD90_VAR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path / 'u.sqlite3'}"}
    return subprocess.run(
        [sys.executable, "-m", "onboard90", "bench", "usage", *args], env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def test_a_week_of_rows_is_imported_whole_and_every_month_is_the_sum_of_its_days(tmp_path):
    done = _bench(tmp_path, "--rows", "2100", "--days", "7", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert (document["rows"], document["customers"], document["day_rows"]) == (2100, 300, 2100)
    assert document["database"] == "sqlite" and document["ratio"] > 0

    db = sqlite3.connect(tmp_path / "u.sqlite3")
    months = db.execute(
        "SELECT customer_id, month, voice_min, data_mb, sms, days FROM usage_usagemonth ORDER BY 1, 2"
    ).fetchall()
    sums = db.execute(
        "SELECT customer_id, substr(day, 1, 7), SUM(voice_min), SUM(data_mb), SUM(sms), COUNT(*) "
        "FROM usage_usageday GROUP BY 1, 2 ORDER BY 1, 2"
    ).fetchall()
    assert months == sums and len({row[0] for row in months}) == 300
    assert sum(row[5] for row in months) == 2100


def test_bad_sizes_are_one_line_errors(tmp_path):
    done = _bench(tmp_path, "--rows", "0")
    assert done.returncode != 0
    assert "--rows" in done.stderr and "Traceback" not in done.stderr
