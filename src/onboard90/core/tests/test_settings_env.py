"""Deployment settings read from the environment: a bad value is refused by name, never with a traceback."""

import os
import subprocess
import sys

import pytest


def _onboard90(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "onboard90", *args], env={**os.environ, **env}, capture_output=True, text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("ONBOARD90_CYCLE_WORKERS", "two"), ("ONBOARD90_CYCLE_WORKERS", "0"), ("ONBOARD90_CYCLE_HOUR", "25"),
     ("ONBOARD90_CYCLE_SHARDS", "0")],
)
def test_a_bad_whole_number_setting_is_refused_by_name_without_a_traceback(name, value):
    done = _onboard90("runs", **{name: value})
    assert done.returncode == 1
    assert name in done.stderr and repr(value) in done.stderr
    assert "Traceback" not in done.stderr


def test_a_good_whole_number_setting_is_taken():
    done = _onboard90("shell", "--no-imports", "-c", "from django.conf import settings; print(settings.ONBOARD90['CYCLE_HOUR'])",
                      ONBOARD90_CYCLE_HOUR=" 7 ")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "7"


def test_an_uninitialised_database_is_met_with_the_init_hint(tmp_path):
    done = _onboard90("runs", DATABASE_URL=f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    assert done.returncode == 1
    assert "onboard90 init" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_server_is_met_with_a_connection_hint_not_the_init_hint():
    done = _onboard90("runs", DATABASE_URL="postgres://postgres@127.0.0.1:1/onboard90")
    assert done.returncode == 1
    assert "DATABASE_URL" in done.stderr and "onboard90 init" not in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_met_with_a_createdb_hint():
    from django.db import connection

    server = connection.settings_dict
    url = f"postgres://{server['USER']}@{server['HOST'] or '127.0.0.1'}:{server['PORT'] or 5432}/onboard90_no_such_database"
    done = _onboard90("runs", DATABASE_URL=url)
    assert done.returncode == 1
    assert "createdb" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("ONBOARD90_LOG_FORMAT", "xml"), ("ONBOARD90_METRICS_ALLOW", "10.0.0.0/33"),
     ("ONBOARD90_METRICS_ALLOW", "127.0.0.1,intranet")],
)  # fmt: skip
def test_a_bad_log_format_or_metrics_address_is_refused_by_name_without_a_traceback(name, value):
    done = _onboard90("runs", **{name: value})
    assert done.returncode == 1
    assert name in done.stderr and repr(value.split(",")[-1]) in done.stderr
    assert "Traceback" not in done.stderr


def test_the_log_format_and_the_metrics_addresses_are_taken():
    done = _onboard90(
        "shell", "--no-imports", "-c",
        "from django.conf import settings; print(settings.LOG_FORMAT, *settings.ONBOARD90['METRICS_ALLOW'])",
        ONBOARD90_LOG_FORMAT=" JSON ", ONBOARD90_METRICS_ALLOW=" 10.0.0.0/8, 192.168.1.7 ,",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["json", "10.0.0.0/8", "192.168.1.7/32"]


def test_a_bad_jit_choice_is_refused_by_name_without_a_traceback():
    done = _onboard90("runs", DATABASE_URL="postgres://postgres@127.0.0.1:5432/onboard90", ONBOARD90_PG_JIT="no")
    assert done.returncode == 1
    assert "ONBOARD90_PG_JIT" in done.stderr and "'no'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.postgres
def test_behind_a_pooler_the_connection_sends_no_startup_option_and_keeps_the_servers_jit():
    """ONBOARD90_PG_JIT=server: the database's own default decides (the server's here: on)."""
    from django.db import connection

    server = connection.settings_dict
    url = f"postgres://{server['USER']}@{server['HOST'] or '127.0.0.1'}:{server['PORT'] or 5432}/{server['NAME']}"
    show = "from django.db import connection; c = connection.cursor(); c.execute('SHOW jit'); print(c.fetchone()[0])"
    pooled = _onboard90("shell", "--no-imports", "-c", show, DATABASE_URL=url, ONBOARD90_PG_JIT="server")
    direct = _onboard90("shell", "--no-imports", "-c", show, DATABASE_URL=url)
    assert (pooled.returncode, direct.returncode) == (0, 0), pooled.stderr + direct.stderr
    assert (pooled.stdout.strip(), direct.stdout.strip()) == ("on", "off")
