"""What the command line refuses, as a user types it: Django's destructive commands, a simulated clock on a
database of real data, a cycle ahead of today, a completion that names no one, serving with the built-in key;
and that every command finds the same data from any working directory."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from onboard90.core import clock

pytestmark = pytest.mark.sqlite  # SQLite files of its own, whatever DATABASE_URL says: the SQLite pass only


def onboard90(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "onboard90", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """An initialised database of real data (not scratch), its folder chosen by ONBOARD90_HOME."""
    root = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if k not in ("ONBOARD90_VAR", "DATABASE_URL", "ONBOARD90_DEBUG",
                                                            "ONBOARD90_SECRET_KEY", "ONBOARD90_CLOCK")}
    env["ONBOARD90_HOME"] = str(root)
    done = onboard90("init", env=env, cwd=root)
    assert done.returncode == 0, done.stderr
    return root, env


def test_help_lists_onboard90s_commands_not_djangos(home):
    root, env = home
    done = onboard90("--help", env=env, cwd=root)
    assert done.returncode == 0
    commands = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ")}
    assert {"run", "complete", "correct", "report", "tasks", "import", "init"} <= commands
    assert not commands & {"flush", "sqlflush", "migrate", "shell", "loaddata"}


def test_flush_is_not_one_typo_away(home):
    root, env = home
    done = onboard90("flush", "--no-input", env=env, cwd=root)
    assert done.returncode == 2 and "onboard90 django flush" in done.stderr and "Traceback" not in done.stderr
    assert onboard90("tasks", "--status", "all", env=env, cwd=root).returncode == 0  # the database is untouched


def test_every_command_finds_the_same_database_from_any_working_directory(home, tmp_path):
    root, env = home
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    done = onboard90("init", "--json", env=env, cwd=elsewhere)
    assert done.returncode == 0
    assert str(root / "var" / "onboard90.sqlite3") in done.stdout and '"migrations_applied": 0' in done.stdout
    assert not (elsewhere / "var").exists()


def test_init_generates_a_secret_key_of_the_installations_own(home):
    root, _env = home
    key = root / "var" / "secret.key"
    assert key.is_file() and len(key.read_text().strip()) >= 50
    assert key.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_serve_refuses_the_built_in_development_key_outside_debug(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ONBOARD90_SECRET_KEY", "ONBOARD90_DEBUG")}
    env.update(ONBOARD90_HOME=str(tmp_path), ONBOARD90_VAR=str(tmp_path / "nokey"))
    done = onboard90("serve", "--port", "0", env=env, cwd=tmp_path)
    assert done.returncode != 0 and "ONBOARD90_SECRET_KEY" in done.stderr and "Traceback" not in done.stderr


def test_a_simulated_clock_is_refused_by_a_database_of_real_data(home):
    root, env = home
    done = onboard90("run", "--date", "2012-03-01", env={**env, "ONBOARD90_CLOCK": "2012-03-01 09:00"}, cwd=root)
    assert done.returncode != 0 and "scratch" in done.stderr and "Traceback" not in done.stderr


def test_a_cycle_for_tomorrow_is_refused_and_nothing_runs(home):
    root, env = home
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    for args in (("run", "--date", tomorrow), ("run", "--date", clock.today().isoformat(), "--until", tomorrow),
                 ("run", "--date", "2099-01-01")):
        done = onboard90(*args, env=env, cwd=root)
        assert done.returncode != 0 and "ahead of time" in done.stderr and "Traceback" not in done.stderr, args
    runs = onboard90("runs", "--json", env=env, cwd=root)
    assert runs.returncode == 0 and runs.stdout.strip() == "[]"


def test_complete_without_as_is_refused(home):
    root, env = home
    done = onboard90("complete", "1", "--outcome", "no_answer", env=env, cwd=root)
    assert done.returncode != 0 and "--as" in done.stderr and "Traceback" not in done.stderr


def test_todays_run_reads_the_dashboards_ahead_of_the_first_look(home, tmp_path):
    _root, shared = home
    env = {**shared, "ONBOARD90_HOME": str(tmp_path)}  # an installation of its own: the others expect no cycle
    assert onboard90("init", env=env, cwd=tmp_path).returncode == 0
    done = onboard90("run", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "看板 dashboards=" in done.stdout  # the province and each city with units, counted in the line
