"""`onboard90 bench web`: signed-in staff on the real web server, on a province-sized database.

    prepare(customers=…)     build the bench's province (services.build_state) and run the day's cycle on it,
                             or reuse a database the bench built before
    accounts_prepare(…)      sign-in accounts of several roles (the clerks of the stores with the most open
                             work, supervisors of the biggest cities, the province administrator), each with
                             the customer numbers it may open (drawn from its own scope)
    serving(…)               the real `onboard90 serve` (gunicorn) in a child process on a free loopback port
    drive(…)                 N virtual users, each signed in through the login form (CSRF) on its own
                             keep-alive connection, over the workbench, customer pages and the dashboard,
                             bounded by a request count and a time limit
    summary(…)               p50/p95/p99 per page, throughput, errors; CPU of the server, the database and
                             the load generator, which share this machine

The load generator is plain threads over `http.client`, not locust: the pages are few and fixed, every
figure wanted is a percentile of a list of numbers, and gevent's monkey-patching would be a second I/O
model in a process that also talks to Django's ORM. Each virtual user holds one HTTP/1.1 connection, as
a browser tab does, and its own session and CSRF cookies.

See docs/PERFORMANCE.md for the command and the figures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import math
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Max, Min

from onboard90.bench import services
from onboard90.core import clock
from onboard90.core.management.commands.serve import default_workers
from onboard90.customers.models import Customer
from onboard90.journeys.cycle import cycle_run
from onboard90.journeys.enums import ActionStatus, CycleStatus
from onboard90.journeys.models import CycleRun, Task
from onboard90.journeys.scoping import customer_filter, task_filter
from onboard90.org.models import City, StaffProfile, Unit
from onboard90.org.scoping import scope_of
from onboard90.org.services import staff_add
from onboard90.reporting.services import dashboards_refresh

# The pages measured, by the path the issue names them with. `healthz` answers after one `SELECT 1`: the
# floor of the stack (gunicorn, WSGI, Django's middleware, a database round trip) in the same run.
PAGES = {
    "workbench": "/",
    "customer": "/customers/{msisdn}/",
    "dashboard": "/dashboard/",
    "healthz": "/healthz",
}
LOGIN_PATH = "/login/"
# What each role opens, in order, round after round (each user starts at its own point of the round).
ROUNDS = {
    "store_clerk": ("workbench", "customer", "healthz"),
    "supervisor": ("dashboard", "workbench", "customer", "healthz"),
    "province_admin": ("dashboard", "workbench", "customer", "healthz"),
}
TARGET_P95_MS = 200
ACCOUNT_PREFIX = "bench-web-"
CLERK_STORES = 10  # the stores with the most open work each get a clerk account
SUPERVISED_CITIES = 2  # the cities with the most customers each get a supervisor account
POOL_SIZE = 300  # customer numbers per account
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


# --- the database ---------------------------------------------------------------------------------------


def measured_day(now: dt.datetime | None = None) -> dt.date:
    """The day of the latest daily cycle the wall clock has passed: the state the staff find at `now`."""
    now = now or clock.now()
    day = clock.local_date(now)
    return day if now >= clock.cycle_instant(day) else day - dt.timedelta(days=1)


def bench_built() -> bool:
    with connection.cursor() as cursor:
        return services.MARKER_TABLE in set(connection.introspection.table_names(cursor))


def prepare(
    *,
    customers: int | None,
    day: dt.date,
    seed: int = 2012,
    force: bool = False,
    progress: services.Progress = services._no_progress,
    fork: bool = True,
) -> dict[str, Any]:
    """Build `customers` open journeys as the cycles up to yesterday left them and run `day`'s cycle (no
    dispatch: the day's SMS stay queued), or, without `customers`, reuse the database the bench built."""
    if customers is None:
        if not bench_built():
            raise services.BenchRefused(
                f"数据库 {services.database_label()} 不是基准测试建立的 / the database was not built by the bench: "
                "pass --customers N to build one (DATABASE_URL names a scratch database, which is emptied)"
            )

        call_command("migrate", interactive=False, verbosity=0)  # serve refuses a database that needs it
        runs = CycleRun.objects.filter(status=CycleStatus.FINISHED).order_by("-as_of")
        last = runs.values_list("as_of", flat=True).first()
        return {
            "built": False,
            "customers": Customer.objects.count(),
            "date": clock.local_date(last).isoformat() if last else None,
            **_dashboards_ahead(),
        }
    if customers < 1:
        raise ValueError("--customers 必须为正数 / must be at least 1")
    services.prepare_database(reset=True, force=force)
    started = time.perf_counter()
    build = dict(
        journeys=customers, daily=None, today=day, seed=seed, horizon=1, fast=True, progress=progress
    )
    if fork and hasattr(os, "fork"):
        services._build_in_child(build)
    else:
        services.build_state(**build)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    with clock.simulated(clock.cycle_instant(day)):
        run = cycle_run(as_of=clock.cycle_instant(day), dispatch=False)
    return {
        "built": True,
        "customers": customers,
        "date": day.isoformat(),
        "build_s": round(build_s, 1),
        "cycle_s": round(time.perf_counter() - started, 1),
        "cycle_counts": run.counts,
        **_dashboards_ahead(),
    }


def _dashboards_ahead() -> dict[str, float]:
    """The dashboards read ahead for today, as the daily job does after the cycle (`onboard90 run`), so that the
    measured pages find what a morning's supervisors find; its time is reported, not measured with the pages."""
    done = dashboards_refresh(today=clock.today())
    return {"dashboards_s": round(done.seconds, 1)}


# --- the accounts --------------------------------------------------------------------------------------


@dataclass
class Account:
    username: str
    password: str
    role: str
    place: str  # the unit or city it works in, for the report
    numbers: list[str] = field(default_factory=list)  # customer numbers inside its scope


def _account(*, username: str, role: str, city, unit=None, password: str):
    """The bench's own sign-in account: created the first time, its password renewed every run."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        phone = services.staff_phone(username) if role == "account_manager" else ""
        return staff_add(
            username=username,
            role=role,
            city=city,
            unit=unit,
            password=password,
            display_name=username,
            phone=phone,
        )
    user.set_password(password)
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    StaffProfile.objects.filter(user=user).update(role=role, city=city, unit=unit, active=True)
    return user


def _open_task_numbers(*, scope, limit: int) -> list[str]:
    """What a clerk clicks: customers of the unit's open work, soonest due first (the workbench's order)."""
    rows = (
        Task.objects.filter(task_filter(scope), status__in=[ActionStatus.OPEN, ActionStatus.OVERDUE])
        .order_by("due_at")
        .values_list("journey__customer__msisdn", flat=True)[: limit * 3]
    )
    return list(dict.fromkeys(rows))[:limit]


def _sampled_numbers(*, scope, limit: int, rng: random.Random) -> list[str]:
    """What a supervisor or the province looks up: customers anywhere in the scope, drawn by id."""
    bounds = Customer.objects.aggregate(lo=Min("id"), hi=Max("id"))
    if bounds["lo"] is None:
        return []
    found: list[str] = []
    for _attempt in range(8):
        ids = {rng.randint(bounds["lo"], bounds["hi"]) for _ in range(limit * 20)}
        found += Customer.objects.filter(customer_filter(scope), id__in=ids).values_list("msisdn", flat=True)
        found = list(dict.fromkeys(found))
        if len(found) >= limit:
            break
    return found[:limit]


def accounts_prepare(
    *, seed: int = 2012, clerk_stores: int = CLERK_STORES, supervised_cities: int = SUPERVISED_CITIES
) -> list[Account]:
    """Clerks of the stores with the most open work, supervisors of the biggest cities, the province
    administrator; each with a fresh random password and the customer numbers it may open."""
    rng = random.Random(seed)
    busiest = (
        Task.objects.filter(status__in=[ActionStatus.OPEN, ActionStatus.OVERDUE], owner_unit__kind="store")
        .values("owner_unit_id")
        .annotate(n=Count("id"))
        .order_by("-n")[:clerk_stores]
    )
    stores = Unit.objects.in_bulk([row["owner_unit_id"] for row in busiest])
    biggest = Customer.objects.values("city_id").annotate(n=Count("id")).order_by("-n")[:supervised_cities]
    cities = City.objects.in_bulk([row["city_id"] for row in biggest])
    wanted: list[tuple[str, str, Any, Any, str]] = []
    for row in busiest:
        unit = stores[row["owner_unit_id"]]
        wanted.append((f"{ACCOUNT_PREFIX}clerk-{unit.code}", "store_clerk", unit.city, unit, unit.code))
    for row in biggest:
        city = cities[row["city_id"]]
        wanted.append((f"{ACCOUNT_PREFIX}supervisor-{city.code}", "supervisor", city, None, city.code))
    wanted.append((f"{ACCOUNT_PREFIX}admin", "province_admin", None, None, "province"))

    accounts = []
    for username, role, city, unit, place in wanted:
        password = secrets.token_urlsafe(18)
        user = _account(username=username, role=role, city=city, unit=unit, password=password)
        user = type(user).objects.select_related("staff").get(pk=user.pk)
        scope = scope_of(user)
        if role == "store_clerk":
            numbers = _open_task_numbers(scope=scope, limit=POOL_SIZE)
        else:
            numbers = _sampled_numbers(scope=scope, limit=POOL_SIZE, rng=rng)
        accounts.append(
            Account(username=username, password=password, role=role, place=place, numbers=numbers)
        )
    return accounts


def assign_users(accounts: list[Account], users: int) -> list[Account]:
    """The virtual users' accounts: a tenth the province administrator, a tenth supervisors, the rest
    clerks (at least one of each role there is an account for), round-robin within a role."""
    by_role: dict[str, list[Account]] = {}
    for account in accounts:
        by_role.setdefault(account.role, []).append(account)
    share = {"province_admin": max(1, round(users * 0.1)), "supervisor": max(1, round(users * 0.1))}
    share = {role: n for role, n in share.items() if role in by_role}
    share["store_clerk"] = max(0, users - sum(share.values())) if "store_clerk" in by_role else 0
    while sum(share.values()) > users:  # very few users: one of each role, as far as they go
        role = max(share, key=lambda r: share[r])
        share[role] -= 1
    out: list[Account] = []
    for role in ("store_clerk", "supervisor", "province_admin"):
        pool = by_role.get(role, [])
        out += [pool[i % len(pool)] for i in range(share.get(role, 0))]
    return out


# --- the server ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    base: str
    host: str
    port: int
    process: subprocess.Popen
    log: Path
    workers: int
    threads: int

    def log_tail(self, lines: int = 20) -> list[str]:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace").splitlines()[-lines:]
        return []


@contextlib.contextmanager
def serving(
    *, workers: int | None, threads: int, env: dict[str, str] | None = None, start_timeout: float = 120
) -> Iterator[Server]:
    """`onboard90 serve` in its own process group on a free loopback port, stopped (SIGTERM, then SIGKILL)
    when the block ends. The child gets this process's environment (DATABASE_URL, ONBOARD90_VAR), DEBUG
    off, and a throwaway secret key when the data folder has none (serve refuses the built-in one)."""
    workers = workers or default_workers()
    child_env = {
        k: v for k, v in (env or os.environ).items() if k not in ("ONBOARD90_DEBUG", "ONBOARD90_CLOCK")
    }
    if not child_env.get("DATABASE_URL"):
        child_env["DATABASE_URL"] = _database_url()
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY and "ONBOARD90_SECRET_KEY" not in child_env:
        child_env["ONBOARD90_SECRET_KEY"] = secrets.token_urlsafe(50)
    host, port = "127.0.0.1", free_port()
    with tempfile.TemporaryDirectory(prefix="onboard90-bench-web-") as tmp:
        log = Path(tmp) / "serve.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "onboard90",
                    "serve",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                    "--threads",
                    str(threads),
                ],
                env=child_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        server = Server(
            base=f"http://{host}:{port}",
            host=host,
            port=port,
            process=process,
            log=log,
            workers=workers,
            threads=threads,
        )
        try:
            _wait_healthy(server, start_timeout)
            yield server
        finally:
            _stop(process)


def _database_url() -> str:
    config = settings.DATABASES["default"]
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    raise RuntimeError("DATABASE_URL must be set for a PostgreSQL bench")


def _wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
            try:
                conn.request("GET", PAGES["healthz"])
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        time.sleep(0.2)
    tail = "\n".join(server.log_tail())
    raise RuntimeError(f"onboard90 serve did not answer /healthz on {server.base}:\n{tail}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --- CPU accounting (Linux /proc; None elsewhere) ---------------------------------------------------------


def _ticks(pid: int) -> int:
    """CPU of a process and of its children that have ended (utime, stime, cutime, cstime), in clock ticks
    (0 if it is gone). The children matter for PostgreSQL: a backend per connection, and onboard90 opens
    a connection per request, so most backends have ended by the time they are looked for; their time is
    then their postmaster's."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = text[text.rindex(")") + 2 :].split()
    return sum(int(v) for v in fields[11:15])


def _processes() -> Iterator[tuple[int, int, str]]:
    """(pid, parent pid, command name) of every process visible in /proc."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        yield int(entry.name), int(text[text.rindex(")") + 2 :].split()[1]), name


def cpu_snapshot(server_pid: int) -> dict[str, float] | None:
    """CPU seconds so far: the server (gunicorn's arbiter and workers), the PostgreSQL server's processes
    (everyone's: the machine is shared), this process (the load generator), and the machine as a whole."""
    if not Path("/proc/stat").exists():
        return None
    hz = os.sysconf("SC_CLK_TCK")
    procs = list(_processes())
    server = _ticks(server_pid) + sum(_ticks(pid) for pid, ppid, _ in procs if ppid == server_pid)
    database = sum(_ticks(pid) for pid, _, name in procs if name.startswith("postgres"))
    own = os.times()
    line = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in line[:8]]
    idle = values[3] + values[4]
    return {
        "server_s": server / hz,
        "database_s": database / hz,
        "load_generator_s": own.user + own.system,
        "machine_busy_s": (sum(values) - idle) / hz,
        "machine_s": sum(values) / hz,
    }


def cpu_between(before: dict[str, float] | None, after: dict[str, float] | None) -> dict[str, Any] | None:
    if not before or not after:
        return None
    d = {k: after[k] - before[k] for k in before}
    out: dict[str, Any] = {k: round(v, 1) for k, v in d.items() if k != "machine_s"}
    out["cores"] = os.cpu_count()
    out["machine_busy_share"] = round(d["machine_busy_s"] / d["machine_s"], 3) if d["machine_s"] else None
    out["other_s"] = round(d["machine_busy_s"] - d["server_s"] - d["database_s"] - d["load_generator_s"], 1)
    out["load_generator_per_server"] = (
        round(d["load_generator_s"] / d["server_s"], 2) if d["server_s"] else None
    )
    return out


def cpu_per_request(cpu: dict[str, Any] | None, requests: int) -> dict[str, Any] | None:
    """The server's and the database's CPU per request answered: what a page costs whatever else runs on
    the machine (its latency, by contrast, includes waiting for a core)."""
    if not cpu or not requests:
        return None
    return {
        "server_ms": round(cpu["server_s"] * 1000 / requests, 1),
        "database_ms": round(cpu["database_s"] * 1000 / requests, 1),
    }


# --- the virtual users --------------------------------------------------------------------------------------


@dataclass
class Sample:
    page: str
    ms: float
    status: int | None  # None: no answer (an exception)
    error: str = ""


class Browser:
    """One signed-in user's HTTP/1.1 keep-alive connection with its own cookies, as a browser tab."""

    def __init__(self, host: str, port: int, timeout: float = 60):
        self.host, self.port, self.timeout = host, port, timeout
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        headers = {
            "Accept": "text/html,application/json",
            "Accept-Language": "zh-CN,zh;q=0.9",
            "User-Agent": "onboard90-bench-web",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://{self.host}:{self.port}"
        # A keep-alive connection the server has closed meanwhile fails on first use; a browser opens
        # a new one and sends again, and so does this (once, and only on a connection already used).
        for attempt in (0, 1):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt or not reused:
                    raise
                continue
            for header in response.msg.get_all("Set-Cookie") or []:
                jar = SimpleCookie()
                jar.load(header)
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, dict(response.getheaders()), payload
        raise AssertionError("unreachable")

    def sign_in(self, username: str, password: str) -> None:
        """The login form as a person uses it: GET it (CSRF cookie and field), POST it, land on `/`."""
        status, _, body = self.request("GET", LOGIN_PATH)
        match = CSRF_FIELD.search(body.decode("utf-8", "replace"))
        if status != 200 or not match:
            raise SignInFailed(f"GET {LOGIN_PATH}: {status}, {'no' if not match else 'a'} CSRF field")
        status, headers, _ = self.request(
            "POST",
            LOGIN_PATH,
            {"csrfmiddlewaretoken": match.group(1), "username": username, "password": password},
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise SignInFailed(f"POST {LOGIN_PATH} as {username}: {status} (no session)")
        landing = urllib.parse.urlsplit(headers.get("Location", "/")).path or "/"
        status, _, _ = self.request("GET", landing)  # where a person lands; also warms the worker
        if status != 200:
            raise SignInFailed(f"GET {landing} after signing in as {username}: {status}")


class SignInFailed(RuntimeError):
    pass


def percentile(sorted_ms: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_ms:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_ms)))
    return sorted_ms[rank - 1]


def page_figures(samples: list[Sample], seconds: float) -> dict[str, Any]:
    ms = sorted(s.ms for s in samples)
    errors = sum(1 for s in samples if s.error)

    def r(v):
        return None if v is None else round(v, 1)

    return {
        "requests": len(samples),
        "errors": errors,
        "p50_ms": r(percentile(ms, 50)),
        "p95_ms": r(percentile(ms, 95)),
        "p99_ms": r(percentile(ms, 99)),
        "mean_ms": r(sum(ms) / len(ms)) if ms else None,
        "max_ms": r(ms[-1]) if ms else None,
        "per_s": round(len(samples) / seconds, 1) if seconds else None,
    }


def _judge(status: int | None, headers: dict) -> str:
    """'' for an answer that counts as served; otherwise why it does not (any status but 2xx/3xx, or a
    redirect to the sign-in page: a signed-in user sent back to log in has not been served)."""
    if status is None:
        return "no answer"
    if not 200 <= status < 400:
        return f"HTTP {status}"
    if 300 <= status < 400 and urllib.parse.urlsplit(headers.get("Location", "")).path == LOGIN_PATH:
        return "signed out"
    return ""


def drive(
    *,
    host: str,
    port: int,
    users: list[Account],
    requests: int,
    seconds: float,
    think: float = 0.0,
    seed: int = 2012,
    timeout: float = 60,
    meter: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Sign in every virtual user through the login form, then let them work until `requests` pages have
    been asked for or `seconds` have passed, whichever comes first. Each user pauses an exponentially
    distributed `think` seconds (mean) between pages; 0 asks as fast as the server answers. `meter` is
    read when the measured part starts and when it ends (both readings are returned), so that what it
    measures leaves out the sign-ins."""
    lock = threading.Lock()
    samples: list[Sample] = []
    logins: list[Sample] = []
    failures: list[str] = []
    budget = [requests]
    # The users start working together once all have signed in; the sign-ins (a password hash each,
    # deliberately slow) are timed apart and kept out of the pages' figures.
    go = threading.Barrier(len(users) + 1)
    stop = threading.Event()

    def ticket() -> bool:
        with lock:
            if budget[0] <= 0 or stop.is_set():
                return False
            budget[0] -= 1
            return True

    def record(sample: Sample, into: list[Sample]) -> None:
        with lock:
            into.append(sample)
            if sample.error and len(failures) < 20:
                failures.append(f"{sample.page}: {sample.error}")

    def user(index: int, account: Account) -> None:
        rng = random.Random(seed * 1000 + index)
        browser = Browser(host, port, timeout=timeout)
        started = time.perf_counter()
        try:
            browser.sign_in(account.username, account.password)
            record(Sample("login", (time.perf_counter() - started) * 1000, 200), logins)
            signed_in = True
        except Exception as exc:  # counted, and this user asks for nothing more
            record(
                Sample("login", (time.perf_counter() - started) * 1000, None, f"{type(exc).__name__}: {exc}"),
                logins,
            )
            signed_in = False
        try:
            go.wait()
        except threading.BrokenBarrierError:
            return
        pages = [p for p in ROUNDS[account.role] if p != "customer" or account.numbers]
        step = rng.randrange(len(pages))
        while signed_in and ticket():
            page = pages[step % len(pages)]
            step += 1
            path = PAGES[page].format(msisdn=rng.choice(account.numbers) if page == "customer" else "")
            t0 = time.perf_counter()
            try:
                status, headers, _ = browser.request("GET", path)
                error = _judge(status, headers)
            except Exception as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
                browser.close()
            record(
                Sample(page, (time.perf_counter() - t0) * 1000, status, error and f"{error} {path}"), samples
            )
            if think and not stop.is_set():
                stop.wait(rng.expovariate(1 / think))
        browser.close()

    threads = [
        threading.Thread(target=user, args=(i, a), name=f"bench-web-{i}", daemon=True)
        for i, a in enumerate(users)
    ]
    login_started = time.perf_counter()
    for thread in threads:
        thread.start()
    try:  # every user signs in (or fails to) before any page is measured
        go.wait(timeout=max(300.0, 3 * timeout))
    except threading.BrokenBarrierError:
        stop.set()
        raise RuntimeError("the virtual users did not finish signing in") from None
    login_s = time.perf_counter() - login_started
    metered = [meter() if meter else None]
    started = time.perf_counter()
    deadline = started + seconds
    while any(t.is_alive() for t in threads) and time.perf_counter() < deadline:
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(timeout + 5)
    elapsed = time.perf_counter() - started
    metered.append(meter() if meter else None)
    return {
        "metered": metered,
        "samples": samples,
        "logins": logins,
        "failures": failures,
        "elapsed_s": elapsed,
        "login_s": login_s,
    }


def summary(outcome: dict[str, Any]) -> dict[str, Any]:
    samples: list[Sample] = outcome["samples"]
    elapsed = outcome["elapsed_s"]
    pages = {}
    for page in PAGES:
        mine = [s for s in samples if s.page == page]
        if mine:
            pages[page] = {"path": PAGES[page], **page_figures(mine, elapsed)}
    measured = [s for s in samples if s.page != "healthz"]
    worst = max((f["p95_ms"] for p, f in pages.items() if p != "healthz"), default=None)
    errors = sum(1 for s in samples if s.error) + sum(1 for s in outcome["logins"] if s.error)
    return {
        "seconds": round(elapsed, 1),
        "requests": len(samples),
        "errors": errors,
        "throughput_per_s": round(len(samples) / elapsed, 1) if elapsed else None,
        "pages_per_s": round(len(measured) / elapsed, 1) if elapsed else None,
        "pages": pages,
        "all_pages": page_figures(measured, elapsed),
        "login": {
            **page_figures(outcome["logins"], outcome["login_s"]),
            "seconds": round(outcome["login_s"], 1),
        },
        "error_samples": outcome["failures"],
        "target": {
            "p95_ms": TARGET_P95_MS,
            "errors": 0,
            "met": bool(worst is not None and worst <= TARGET_P95_MS and errors == 0),
        },
    }


# --- the whole bench -------------------------------------------------------------------------------------


def run(
    *,
    customers: int | None,
    users: int = 50,
    requests: int = 5000,
    seconds: float = 120,
    think: float = 1.0,
    workers: int | None = None,
    threads: int = 4,
    day: dt.date | None = None,
    seed: int = 2012,
    force: bool = False,
    progress: services.Progress = services._no_progress,
    fork: bool = True,
) -> dict[str, Any]:
    for name, value, least in (("--users", users, 1), ("--requests", requests, 1), ("--threads", threads, 1)):
        if value < least:
            raise ValueError(f"{name} 必须为正数 / must be at least {least}")
    if seconds <= 0 or think < 0:
        raise ValueError(
            "--seconds 须大于 0，--think 不能为负 / --seconds must be positive, --think not negative"
        )
    day = day or measured_day()
    built = prepare(customers=customers, day=day, seed=seed, force=force, progress=progress, fork=fork)
    accounts = accounts_prepare(seed=seed)
    virtual = assign_users(accounts, users)
    roles: dict[str, int] = {}
    for account in virtual:
        roles[account.role] = roles.get(account.role, 0) + 1
    database = services.database_label()
    connection.close()  # the server's workers and this process's threads each open their own
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with serving(workers=workers, threads=threads) as server:
        outcome = drive(
            host=server.host,
            port=server.port,
            users=virtual,
            requests=requests,
            seconds=seconds,
            think=think,
            seed=seed,
            meter=lambda: cpu_snapshot(server.process.pid),
        )
        tail = server.log_tail()
    result = summary(outcome)
    result.update(
        {
            "database": database,
            **built,
            "server": {
                "command": f"onboard90 serve --workers {server.workers} --threads {server.threads}",
                "workers": server.workers,
                "threads": server.threads,
            },
            "users": users,
            "roles": roles,
            "think_s": think,
            "limits": {"requests": requests, "seconds": seconds},
            "accounts": [
                {"username": a.username, "role": a.role, "place": a.place, "numbers": len(a.numbers)}
                for a in accounts
            ],
            "cpu": cpu_between(*outcome["metered"]),
            "load_average_before": load,
        }
    )
    result["cpu_per_request"] = cpu_per_request(result["cpu"], result["requests"])
    if result["errors"]:
        result["server_log_tail"] = tail
    return result
