"""`onboard90 bench web`: signed-in users on the real server report every page's percentiles, and a page
that fails is counted as an error. Tiny databases, a few users, a few requests; no timing is asserted."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading

import pytest
from django.urls import include, path

from onboard90.bench import services, web
from onboard90.core import clock
from onboard90.journeys.cycle import cycle_run

DAY = dt.date(2026, 6, 15)


def _broken_dashboard(request):
    raise RuntimeError("the dashboard fails")


# The site with a dashboard that fails (500), for the error-counting test.
urlpatterns = [path("dashboard/", _broken_dashboard), path("", include("onboard90.urls"))]


@pytest.mark.sqlite
def test_the_command_signs_in_users_of_each_role_and_reports_every_page(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("ONBOARD90_DEBUG", "ONBOARD90_CLOCK")}
    env.update(ONBOARD90_VAR=str(tmp_path / "var"), DATABASE_URL=f"sqlite:///{tmp_path / 'web.sqlite3'}")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "onboard90",
            "bench",
            "web",
            "--customers",
            "600",
            "--users",
            "4",
            "--requests",
            "40",
            "--seconds",
            "120",
            "--think",
            "0",
            "--workers",
            "2",
            "--threads",
            "2",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # the whole of stdout is one JSON document

    assert report["built"] is True and report["customers"] == 600 and report["database"].startswith("sqlite:")
    assert report["roles"] == {"store_clerk": 2, "supervisor": 1, "province_admin": 1}
    assert report["login"]["requests"] == 4 and report["login"]["errors"] == 0
    assert report["requests"] == 40  # the request budget, spent exactly
    assert set(report["pages"]) == {"workbench", "customer", "dashboard", "healthz"}
    for page, figures in report["pages"].items():
        assert figures["requests"] > 0, page
        assert figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"], page
    assert sum(f["requests"] for f in report["pages"].values()) == 40
    assert report["errors"] == 0, report["error_samples"]
    assert report["error_samples"] == []
    roles = {a["role"] for a in report["accounts"]}
    assert roles == {"store_clerk", "supervisor", "province_admin"}
    assert all(a["numbers"] > 0 for a in report["accounts"])  # each has customers of its own scope to open


@pytest.fixture
def bench_province(transactional_db):
    services.prepare_database(reset=False)
    services.build_state(journeys=400, daily=None, today=DAY, seed=5)
    cycle_run(as_of=clock.cycle_instant(DAY), dispatch=False)


@pytest.fixture
def broken_site(bench_province, settings):
    """This test database's site, its dashboard failing, on a loopback port: one request at a time (a
    test database on SQLite is one in-memory database that concurrent requests would trip over)."""
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

    settings.ROOT_URLCONF = __name__
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # quick sign-ins
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_a_page_that_fails_is_counted_as_an_error_and_the_others_are_not(broken_site):
    first = web.accounts_prepare(seed=1)
    accounts = web.accounts_prepare(seed=1)  # a second run reuses the accounts with new passwords
    assert [a.username for a in accounts] == [a.username for a in first]
    assert all(a.password != b.password for a, b in zip(accounts, first, strict=True))
    users = web.assign_users(accounts, 4)
    assert sorted(a.role for a in users) == ["province_admin", "store_clerk", "store_clerk", "supervisor"]

    host, port = broken_site
    outcome = web.drive(host=host, port=port, users=users, requests=48, seconds=120, think=0)
    report = web.summary(outcome)

    assert report["login"]["requests"] == 4 and report["login"]["errors"] == 0  # signed in with the new ones
    pages = report["pages"]
    assert pages["dashboard"]["requests"] > 0
    assert pages["dashboard"]["errors"] == pages["dashboard"]["requests"]  # every 500 counted
    assert all(pages[p]["errors"] == 0 for p in ("workbench", "customer", "healthz"))
    assert report["errors"] == pages["dashboard"]["errors"]
    assert report["error_samples"][0] == "dashboard: HTTP 500 /dashboard/"
    assert report["target"]["met"] is False
    for figures in pages.values():
        assert figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"]


def test_percentiles_are_nearest_rank_and_redirects_to_sign_in_are_errors():
    ms = [float(i) for i in range(1, 101)]
    assert [web.percentile(ms, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert web.percentile([7.0], 99) == 7.0 and web.percentile([], 50) is None
    assert web._judge(200, {}) == "" and web._judge(302, {"Location": "/customers/1/"}) == ""
    assert web._judge(302, {"Location": "/login/?next=/"}) == "signed out"
    assert web._judge(404, {}) == "HTTP 404" and web._judge(None, {}) == "no answer"


def test_the_measured_day_is_the_latest_cycle_the_clock_has_passed():
    assert web.measured_day(clock.cycle_instant(DAY)) == DAY
    assert web.measured_day(clock.cycle_instant(DAY) - dt.timedelta(seconds=1)) == DAY - dt.timedelta(days=1)
