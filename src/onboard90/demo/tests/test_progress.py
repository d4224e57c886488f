"""Long jobs show a progress bar to a person at a terminal and stay quiet when piped (real processes)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.sqlite  # SQLite files of its own, whatever DATABASE_URL says: the SQLite pass only


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", ONBOARD90_VAR=str(tmp_path / "var"),
        COLUMNS="120", TERM="xterm",
    )
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "onboard90", *args]


def _run_with_stderr_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run with stdout piped and stderr on a pseudo-terminal; return (exit code, stdout, terminal text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    seen = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read().decode() if proc.stdout else ""
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, out, seen.decode("utf-8", "replace")


@pytest.fixture
def initialised(tmp_path):
    env = _env(tmp_path)
    subprocess.run(_cli("init"), env=env, check=True, capture_output=True, timeout=120)
    return env


def test_demo_and_run_until_draw_a_bar_on_a_terminal(initialised):
    code, out, terminal = _run_with_stderr_on_a_terminal(
        _cli("demo", "--customers", "60", "--days", "6", "--today", "2012-06-01"), initialised
    )
    assert code == 0, terminal
    assert "模拟历史 / simulating days" in terminal and "7/7" in terminal
    assert "demo province built" in out

    code, out, terminal = _run_with_stderr_on_a_terminal(
        _cli("run", "--date", "2012-06-02", "--until", "2012-06-04"), initialised
    )
    assert code == 0, terminal
    assert "日处理 / cycles" in terminal
    assert out.count("opened=") == 3  # one line of counts per cycle, on stdout


def test_demo_and_run_until_stay_quiet_when_piped(initialised):
    demo = subprocess.run(
        _cli("demo", "--customers", "60", "--days", "6", "--today", "2012-06-01"),
        env=initialised, capture_output=True, text=True, timeout=300,
    )
    assert demo.returncode == 0, demo.stderr
    assert demo.stderr == ""
    assert "\x1b[" not in demo.stdout

    run = subprocess.run(
        _cli("run", "--date", "2012-06-02", "--until", "2012-06-03"), env=initialised, capture_output=True, text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert run.stdout.count("opened=") == 2
