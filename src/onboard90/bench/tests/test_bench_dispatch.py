"""`onboard90 bench dispatch`: N messages rendered and sent through the file gateway, some of them through a
real Kannel beside Kannel's own ceiling, one JSON document out. Small N; no timing is ever asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from onboard90.messaging.kannel_local import kannel_missing

DAY = "2026-06-15"


def _bench(tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ONBOARD90_VAR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite3'}"}
    return subprocess.run(
        [sys.executable, "-m", "onboard90", "bench", "dispatch", *args], env=env, capture_output=True, text=True,
        timeout=300,
    )


@pytest.mark.sqlite
def test_the_file_gateway_renders_and_sends_every_message_and_kannel_can_be_left_out(tmp_path):
    done = _bench(tmp_path, "--messages", "600", "--kannel-messages", "0", "--date", DAY, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert document["messages"] == 600 and document["database"] == "sqlite"
    file = document["file"]
    assert (file["messages"], file["rendered"]) == (600, 600)
    assert file["per_s"] > 0 and file["total_s"] >= file["render_s"] >= 0
    assert document["kannel"] == {"skipped": "--kannel-messages 0"}


@pytest.mark.kannel
def test_through_kannel_the_gateway_and_the_plain_loop_send_the_same_messages(tmp_path):
    if kannel_missing():
        pytest.skip(kannel_missing())
    done = _bench(tmp_path, "--messages", "400", "--kannel-messages", "60", "--date", DAY, "--json")
    assert done.returncode == 0, done.stderr
    kannel = json.loads(done.stdout)["kannel"]
    assert (kannel["messages"], kannel["rendered"], kannel["ceiling"]["messages"]) == (60, 60, 60)
    assert kannel["ceiling"]["refused"] == 0 and kannel["ceiling"]["per_s"] > 0
    assert kannel["ratio"] == round(kannel["per_s"] / kannel["ceiling"]["per_s"], 2)
    assert "sent 120" in kannel["kannel_status"]  # 60 by the gateway, 60 by the loop, each handed over once


@pytest.mark.sqlite
def test_bad_sizes_are_one_line_errors(tmp_path):
    done = _bench(tmp_path, "--messages", "0")
    assert done.returncode == 1 and "Traceback" not in done.stderr and "--messages" in done.stderr
