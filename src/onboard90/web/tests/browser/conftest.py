"""The browser tests' machinery: one headless Chromium for the package, one browser context per person
signed in, the live server with the scenario province (see `scenario.py`), screenshots of every main page.

Chromium is Debian's (`apt-get install chromium`, ONBOARD90_CHROMIUM to point elsewhere); Playwright only
drives it (never `playwright install`). Without it, the tests marked `browser` skip with the reason outside
CI and fail under CI (the rule is in the root conftest.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from onboard90.web.tests.browser import scenario

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
TABLET = {"width": 1024, "height": 768}
# Long enough for a page on a busy 2-core machine, short enough that a missing label fails in seconds.
TIMEOUT_MS = 10_000


def chromium_path() -> str:
    return os.environ.get("ONBOARD90_CHROMIUM") or "/usr/bin/chromium"


@pytest.fixture(scope="package")
def browser(django_db_setup, django_db_blocker) -> Iterator:
    """One Chromium for all the browser tests (starting it costs a second or two).

    Playwright's sync API keeps an asyncio event loop running in this thread while it is started, and
    Django then refuses every ORM call made from this thread (SynchronousOnlyOperation) — the scenario's
    build, the tests' own checks, the database flush between tests. Nothing here is async: the ORM calls
    and the browser take turns in one thread. So DJANGO_ALLOW_ASYNC_UNSAFE is set while the browser runs,
    and only then (it is restored when the package's tests are done; the test database was created before,
    by `django_db_setup`).
    """
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def province(browser, live_server, transactional_db, settings) -> Iterator[dict]:
    """The scenario province, with the clock standing at scenario.NOW for the live server and the test.

    transactional_db: the live server answers from its own thread, so the data must be committed. A fast
    password hasher: the eight accounts would otherwise cost seconds of PBKDF2 per test.
    """
    from onboard90 import testing as builders
    from onboard90.core import clock

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    builders.scratch_database("browser tests")
    with clock.simulated(clock.at_local(scenario.FIRST_DAY, 8)) as sim:
        users = scenario.build(sim)
        yield {"users": users, "clock": sim}


def _test_slug(request: pytest.FixtureRequest) -> str:
    name = request.node.name.removeprefix("test_")
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:80]


@pytest.fixture
def screenshots(request, pytestconfig) -> Callable:
    """`shot(page, "workbench")` saves test-artifacts/screenshots/<test>-workbench.png at the repository root:
    what the screen shows (the viewport), or with `full=True` the whole length of the page."""
    folder = Path(pytestconfig.rootpath) / "test-artifacts" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    slug = _test_slug(request)

    def shot(page, name: str, *, full: bool = False) -> Path:
        path = folder / f"{slug}-{name}.png"
        page.screenshot(path=str(path), full_page=full)
        return path

    return shot


class Person:
    """One person at their own browser (a context of their own: their cookies, their language)."""

    def __init__(self, page, base_url: str, shot: Callable):
        self.page = page
        self.base_url = base_url
        self._shot = shot
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(f"script error: {exc}"))
        page.on("console", self._check_console)
        page.on("response", self._check_asset)

    def _check_console(self, message) -> None:
        # A 404 page (asked for on purpose) is logged as a failed load; assets are checked by their own
        # responses below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {message.text}")

    def _check_asset(self, response) -> None:
        # A missing stylesheet or script (htmx, ECharts) leaves a page that only looks right in a test.
        if "/static/" in response.url and response.status >= 400:
            self.errors.append(f"{response.status} {response.url}")

    def open(self, path: str):
        response = self.page.goto(self.base_url + path)
        return response

    def sign_in(self, username: str, password: str = scenario.PASSWORD) -> None:
        page = self.page
        page.goto(self.base_url + "/login/")
        page.get_by_label("用户名").fill(username)
        page.get_by_label("密码").fill(password)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()

    def shot(self, name: str, *, tablet: bool = False, full: bool = False) -> None:
        """The screen as it is (1280×900); with `tablet`, again at 1024×768 (then back); with `full`, the
        whole length of the page as well (`<name>-full`)."""
        if self.page.evaluate("typeof window.echarts === 'object'"):
            # ECharts grows its bars for a second after drawing; a picture taken before shows them short.
            self.page.wait_for_timeout(1200)
        self._shot(self.page, name)
        if full:
            self._shot(self.page, f"{name}-full", full=True)
        if tablet:
            self.page.set_viewport_size(TABLET)
            self._shot(self.page, f"{name}-tablet")
            self.page.set_viewport_size(DESKTOP)


@pytest.fixture
def people(browser, live_server, screenshots) -> Iterator[Callable[..., Person]]:
    """`people("clerk")`: a new browser context signed in as that account (or not signed in: None).

    Every page's script errors, console errors and failed static files fail the test at its end."""
    contexts = []
    persons: list[Person] = []

    def person(username: str | None = None, *, lang: str = "zh-CN") -> Person:
        context = browser.new_context(viewport=DESKTOP, locale=lang, timezone_id="Asia/Shanghai")
        context.set_default_timeout(TIMEOUT_MS)
        # The pages name no icon, so Chromium asks for /favicon.ico after each load; answered here, that
        # stray request never reaches the live server while the test reads the database.
        context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
        contexts.append(context)
        who = Person(context.new_page(), live_server.url, screenshots)
        persons.append(who)
        if username:
            who.sign_in(username)
        return who

    yield person
    for context in contexts:
        context.close()
    errors = [error for who in persons for error in who.errors]
    assert not errors, "the pages reported errors:\n" + "\n".join(errors)
