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
    [("ONBOARD90_CYCLE_WORKERS", "two"), ("ONBOARD90_CYCLE_WORKERS", "0"), ("ONBOARD90_CYCLE_HOUR", "25")],
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
