"""Suite-wide test rules: what the `postgres`, `browser` and `kannel` markers mean, and that nothing may skip
in CI (CI=true).

A test marked `postgres` runs only when the default database is PostgreSQL and skips with a visible
reason otherwise. A test marked `celery` needs a broker (RabbitMQ at ONBOARD90_BROKER_URL, by default on
127.0.0.1:5672) and skips without one, failing under CI like the two below. A test marked `browser` needs Playwright and Chromium (ONBOARD90_CHROMIUM, default
/usr/bin/chromium), one marked `kannel` a real Kannel (bearerbox, smsbox and fakesmsc from Debian's kannel
and kannel-extras): without them it skips with the reason, and under CI fails with it at once. Under CI
every skipped test fails the session, so a silently skipped pass can never look green.
"""

from __future__ import annotations

import os

import pytest

POSTGRES_REASON = "needs PostgreSQL (DATABASE_URL=postgres://…)"

pytest_plugins = ["pytester"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    import importlib.util

    chromium = os.environ.get("ONBOARD90_CHROMIUM") or "/usr/bin/chromium"
    if importlib.util.find_spec("playwright") is None:
        return "needs Playwright for Python (pip install -e '.[dev]')"
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        return f"needs Chromium at {chromium} (apt-get install chromium, or ONBOARD90_CHROMIUM=…)"
    return None


def _kannel_missing() -> str | None:
    """Why the Kannel tests cannot run here, or None."""
    from onboard90.messaging.kannel_local import kannel_missing

    return kannel_missing()


def _broker_missing() -> str | None:
    """Why the Celery tests cannot run here (no broker answering at ONBOARD90_BROKER_URL), or None."""
    import socket
    from urllib.parse import urlsplit

    url = os.environ.get("ONBOARD90_BROKER_URL", "").strip() or "amqp://guest:guest@127.0.0.1:5672//"
    parts = urlsplit(url)
    port = parts.port or (6379 if parts.scheme.startswith("redis") else 5672)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=3).close()
    except OSError as exc:
        return f"needs a broker at {parts.hostname}:{port} (RabbitMQ: rabbitmq-server -detached): {exc}"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, missing_for in (("browser", _browser_missing), ("kannel", _kannel_missing), ("celery", _broker_missing)):
        if item.get_closest_marker(marker) is None:
            continue
        missing = missing_for()
        if missing and _in_ci():
            pytest.fail(f"{marker} test in CI: {missing}", pytrace=False)
        if missing:
            pytest.skip(missing)
    if item.get_closest_marker("postgres") is None:
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip(POSTGRES_REASON)


# (node id, reason) of every test or module skipped in this session.
_skipped: list[tuple[str, str]] = []


def _note_skip(report: pytest.CollectReport | pytest.TestReport) -> None:
    if not report.skipped or hasattr(report, "wasxfail"):  # an xfail is reported as skipped but is not one
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    _skipped.append((report.nodeid, reason))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _note_skip(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _note_skip(report)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _in_ci() and _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    skipped = _skipped
    if not (_in_ci() and skipped):
        return
    terminalreporter.section("CI: skipped tests fail the run", sep="=", red=True, bold=True)
    for nodeid, reason in skipped:
        terminalreporter.line(f"SKIPPED (not allowed in CI): {nodeid} — {reason}", red=True)
    terminalreporter.line(f"{len(skipped)} test(s) skipped; in CI nothing may skip.", red=True, bold=True)


@pytest.fixture(autouse=True)
def _chinese_first():
    """Each test starts in the product's language, with an empty cache: a request that switched to English
    (LocaleMiddleware activates the language for its thread and leaves it there) must not change the next
    test's texts, nor a reading cached by one test answer the next."""
    from django.apps import apps
    from django.conf import settings
    from django.utils import translation

    if not apps.ready:  # a nested pytest run (pytester) without Django
        yield
        return
    from django.core.cache import cache

    translation.activate(settings.LANGUAGE_CODE)
    cache.clear()  # figures a page read a few minutes ago belong to the test that read them
    yield
    translation.activate(settings.LANGUAGE_CODE)
