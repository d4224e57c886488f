"""Crash safety at scale: SIGKILL the real `onboard90 run --date D` in the middle of a large cycle, rerun it,
and the end state equals a clean run's, row for row — on a SQLite file and on PostgreSQL.

How. A province is prepared up to day D-1 with the real commands (init, staff, imports, cycles on D-5…D-1),
then day D is made large: a VIP-rating file for earlier customers (supersede, VIP assignment, manual
assignment where a city has no account manager) and ~1 000 activations on D (≈7 500 acts, 4 000 tasks,
4 000 SMS) on top of the overdue/escalation work the earlier days left. The prepared database is copied
(SQLite backup API / `CREATE DATABASE … TEMPLATE`); copy A runs the cycle cleanly, each copy B runs it as a
subprocess, is frozen (SIGSTOP) once a kill point is reached — read from the database and the gateway,
never a sleep —, the point is re-checked on the frozen state, then the process is killed with SIGKILL and
the same command is run again. A and B are dumped by natural key (crashkit.dump: msisdn, act code,
occurrence, unit code, user name — no surrogate ids, no wall-clock columns) and compared: Journey,
Customer (VIP manager assignment), JourneyAction, Task, OutboxMessage (sent ones too), Escalation.

Kill points:
- `opening`: some of day D's acts are committed, not all (opening commits per act);
- `rendering`: all acts, tasks and SMS rows of day D exist and the dispatcher has rendered some of the
  messages, not all;
- `gateway_first_batch`: the file gateway has taken messages of the first dispatch batch and the
  dispatcher has recorded none of them (the gateway file is a FIFO this test reads: the process cannot get
  more than one pipe page ahead of the reader, so the point is exact, not a race);
- `gateway_later_batch`: the first batch is recorded sent, the gateway is in the middle of the next one.

What the design guarantees, and what it does not:
- Database state: exactly once. No act, task, escalation or outbox row is lost or doubled, and every
  column of them equals the clean run's (the unique (journey, act, occurrence) key, one task/SMS per act,
  and each step re-selecting only what is still missing make the rerun finish exactly the remainder).
- SMS at the gateway: EXACTLY ONCE with the file gateway. The dispatcher claims a batch as `sending` and
  commits that before the first send (`messaging.services._dispatch`); the rerun finds the claimed rows and
  asks the gateway which it accepted (`FileGateway.accepted`, reading its own file): those are recorded
  sent without a second send, the others are sent now. The killed run's gateway is a FIFO the test reads;
  after the kill, what it took is written to the file the rerun's gateway appends to — the gateway's one
  record, as a real file would be — and that record must hold each of the day's messages exactly once.
  (A gateway that cannot tell what it took gets the interrupted batch again: at least once for one batch;
  see messaging/tests/test_dispatch.py.)
- The killed run's CycleRun row is left `running` by the kill; the rerun, holding the cycle lock (so no
  other cycle can be alive), records it `failed` (interrupted) and adds its own `finished` row.

Runs without the Django test database: everything happens in subprocesses against scratch databases.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from onboard90.core import clock
from onboard90.journeys.tests import crashkit

DAY = dt.date(2012, 3, 10)
PRIOR_DAYS = [DAY - dt.timedelta(days=5), DAY - dt.timedelta(days=4), DAY - dt.timedelta(days=1)]
PRIOR_PER_DAY = 200
DAY_CUSTOMERS = 1000
POLL = 0.005  # seconds between two looks at the database while waiting for a kill point
DEADLINE = 300.0  # a kill point not reached in this long fails the test (the cycle itself takes seconds)
GATEWAY_LEAD = 20  # lines read from the gateway FIFO before the process is stopped at a gateway kill point
TABLES = ("journeys", "customers", "actions", "tasks", "escalations", "outbox")
KILL_POINTS = ["opening", "rendering", "gateway_first_batch", "gateway_later_batch"]


# --- the two databases --------------------------------------------------------------------------------


class SqliteFiles:
    vendor = "sqlite"

    def __init__(self, root: Path):
        self.root = root

    def url(self, name: str) -> str:
        return f"sqlite:///{self.root / f'{name}.sqlite3'}"

    def copy(self, source: str, target: str) -> None:
        src = sqlite3.connect(self.root / f"{source}.sqlite3")
        dst = sqlite3.connect(self.root / f"{target}.sqlite3")
        with src, dst:
            src.backup(dst)  # a consistent copy, WAL included
        src.close()
        dst.close()

    def settle(self, name: str) -> None:
        """Nothing to wait for: a killed SQLite writer's open transaction is rolled back by the next opener."""

    def backend_busy(self, name: str) -> bool:
        return False

    def drop_all(self) -> None:
        """tmp_path is cleaned by pytest."""


class PostgresScratch:
    """Scratch databases `ck_<random>_<name>` on the server of DATABASE_URL, dropped at the end."""

    vendor = "postgresql"

    def __init__(self, server_url: str):
        import psycopg

        self.server_url = server_url
        self.prefix = f"ck_{uuid.uuid4().hex[:8]}"
        self.admin = psycopg.connect(server_url, dbname="postgres", autocommit=True)
        self.created: list[str] = []

    def _db(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def url(self, name: str) -> str:
        parts = urlsplit(self.server_url)
        return urlunsplit(parts._replace(path=f"/{self._db(name)}"))

    def create(self, name: str) -> None:
        self.admin.execute(f'CREATE DATABASE "{self._db(name)}"')
        self.created.append(self._db(name))

    def copy(self, source: str, target: str) -> None:
        self.settle(source)
        self.admin.execute(f'CREATE DATABASE "{self._db(target)}" TEMPLATE "{self._db(source)}"')
        self.created.append(self._db(target))

    def _others(self, name: str, state: str | None = None) -> int:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
        params: tuple = (self._db(name),)
        if state:
            sql += " AND state = %s"
            params += (state,)
        return self.admin.execute(sql, params).fetchone()[0]

    def backend_busy(self, name: str) -> bool:
        """A statement of the (stopped) client still executing on the server: its commit may yet land."""
        return self._others(name, "active") > 0

    def settle(self, name: str, *, keep: int = 0) -> None:
        """Wait until the backend of a killed client has gone (it aborts its transaction when it sees EOF)."""
        deadline = time.monotonic() + 60
        while self._others(name) > keep:
            if time.monotonic() > deadline:
                raise AssertionError(f"the killed client's backend on {self._db(name)} did not go away")
            time.sleep(0.05)

    def drop_all(self) -> None:
        for db in reversed(self.created):
            self.admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        self.admin.close()


# --- running the real command -------------------------------------------------------------------------


def clock_on(day: dt.date) -> str:
    """The simulated wall clock of a day's commands: after its last activation (19:59), before quiet hours (21:00),
    so that its SMS leave when the cycle dispatches them."""
    return f"{day.isoformat()} 20:30"


def _env(database_url: str, var: Path, sms_file: Path, *, on: dt.date = DAY) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "ONBOARD90_VAR": str(var),
           "ONBOARD90_SMS_FILE": str(sms_file), "ONBOARD90_SMS_GATEWAY": "file",
           "ONBOARD90_CLOCK": clock_on(on)}  # fmt: skip
    for noisy in ("ONBOARD90_DEBUG", "ONBOARD90_LOG_LEVEL"):
        env.pop(noisy, None)
    return env


def onboard90(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "onboard90", *args], env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise AssertionError(f"onboard90 {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def dump(env: dict[str, str], out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "onboard90.journeys.tests.crashkit", "dump", str(out)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    if done.returncode != 0:
        raise AssertionError(f"state dump failed:\n{done.stderr}")
    return json.loads(out.read_text(encoding="utf-8"))


@dataclass
class Province:
    """The prepared database (`base`), the clean run of day D on its copy A, and what both look like."""

    dbs: SqliteFiles | PostgresScratch
    root: Path
    base: dict[str, int] = field(default_factory=dict)  # counts before day D
    final: dict[str, int] = field(default_factory=dict)  # counts after the clean day D
    clean: dict = field(default_factory=dict)  # dump of A
    clean_lines: list[dict] = field(default_factory=list)  # A's gateway lines


def prepare(dbs, root: Path) -> Province:
    # The history of the days before D runs on the clock of D-1; day D's imports and cycles on D's.
    env = _env(dbs.url("base"), root / "var-base", root / "var-base" / "sent.jsonl", on=DAY - dt.timedelta(days=1))
    if isinstance(dbs, PostgresScratch):
        dbs.create("base")
    onboard90(env, "init", "--scratch")
    for username, role, city, name, phone in crashkit.STAFF:
        onboard90(env, "staff", "add", username, "--role", role, "--city", city, "--name", name, "--phone", phone)
    rateable: list[str] = []
    for i, day in enumerate(PRIOR_DAYS):
        path = root / f"customers-{day}.csv"
        rateable += crashkit.write_customers(path, day=day, count=PRIOR_PER_DAY, seed=i, first_serial=i * 100_000)
        onboard90(env, "import", "customers", str(path))
    onboard90(env, "run", "--date", PRIOR_DAYS[0].isoformat(), "--until", (DAY - dt.timedelta(days=1)).isoformat())
    env = {**env, "ONBOARD90_CLOCK": clock_on(DAY)}
    # Day D: VIP ratings of earlier customers (supersede, VIP clocks, assignment) and a big activation day.
    crashkit.write_vip_ratings(root / "vip.csv", rateable[::12], at=dt.datetime(DAY.year, DAY.month, DAY.day, 8))
    onboard90(env, "import", "vip", str(root / "vip.csv"))
    big = root / f"customers-{DAY}.csv"
    crashkit.write_customers(big, day=DAY, count=DAY_CUSTOMERS, seed=99, first_serial=900_000)
    onboard90(env, "import", "customers", str(big))

    province = Province(dbs=dbs, root=root)
    probe = crashkit.Probe(dbs.url("base"))
    province.base = probe.counts()
    probe.close()

    dbs.copy("base", "clean")
    env_a = _env(dbs.url("clean"), root / "var-clean", root / "var-clean" / "sent.jsonl")
    onboard90(env_a, "run", "--date", DAY.isoformat())
    probe = crashkit.Probe(dbs.url("clean"))
    province.final = probe.counts()
    probe.close()
    province.clean = dump(env_a, root / "clean.json")
    province.clean_lines = crashkit.gateway_lines(root / "var-clean" / "sent.jsonl")
    # The day must be big enough for every kill point to lie strictly inside it.
    grew = {k: province.final[k] - province.base[k] for k in ("actions", "tasks", "messages", "sent")}
    assert grew["actions"] > 5000 and grew["messages"] > 2000 and grew["sent"] > 1000, grew
    assert province.final["escalations"] > province.base["escalations"], "day D should escalate overdue work"
    return province


@pytest.fixture(scope="module")
def sqlite_province(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash-sqlite")
    dbs = SqliteFiles(root)
    yield prepare(dbs, root)
    dbs.drop_all()


@pytest.fixture(scope="module")
def postgres_province(tmp_path_factory):
    url = os.environ.get("DATABASE_URL", "")
    assert url.startswith(("postgres://", "postgresql://")), "the postgres marker runs only on PostgreSQL"
    root = tmp_path_factory.mktemp("crash-postgres")
    dbs = PostgresScratch(url)
    try:
        yield prepare(dbs, root)
    finally:
        dbs.drop_all()


# --- the gateway as a FIFO the test reads -------------------------------------------------------------


class GatewayFifo:
    """The file gateway's file as a named pipe: the cycle cannot write more than one pipe buffer (a page
    where the platform allows resizing) beyond what the test has read, so stopping reading holds the
    dispatcher in the middle of a batch, between gateway sends and the commit that records them."""

    def __init__(self, path: Path):
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        if hasattr(fcntl, "F_SETPIPE_SZ"):
            with contextlib.suppress(OSError):
                fcntl.fcntl(self.fd, fcntl.F_SETPIPE_SZ, 4096)
        self.data = b""

    def pump(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return  # no writer at the moment: the gateway opens the file per message
            self.data += chunk

    @property
    def lines(self) -> int:
        return self.data.count(b"\n")

    def drain(self) -> list[dict]:
        """After the writer is dead: everything the gateway accepted, as JSON lines (a torn line fails)."""
        self.pump()
        os.close(self.fd)
        assert self.data == b"" or self.data.endswith(b"\n"), "a torn line in the gateway file"
        return [json.loads(line) for line in self.data.decode("utf-8").splitlines() if line.strip()]


# --- kill points --------------------------------------------------------------------------------------


def _opening(c: dict, p: Province) -> bool:
    return c["running"] >= 1 and p.base["actions"] < c["actions"] < p.final["actions"]


def _rendering(c: dict, p: Province) -> bool:
    return (
        c["running"] >= 1 and c["actions"] == p.final["actions"] and c["messages"] == p.final["messages"]
        and p.base["rendered"] < c["rendered"] < p.final["rendered"] and c["sent"] == p.base["sent"]
    )  # fmt: skip


def _first_batch(c: dict, p: Province) -> bool:
    return c["running"] >= 1 and c["sent"] == p.base["sent"] and c["rendered"] == p.final["rendered"]


def _later_batch(c: dict, p: Province) -> bool:
    return c["running"] >= 1 and p.base["sent"] < c["sent"] < p.final["sent"]


STATE_AT = {"opening": _opening, "rendering": _rendering, "gateway_first_batch": _first_batch,
            "gateway_later_batch": _later_batch}  # fmt: skip


def run_and_kill(p: Province, kill_point: str, name: str) -> tuple[dict, list[dict], set[int]]:
    """Start day D on copy `name`, SIGKILL it at `kill_point`; (counts after the kill, lines the gateway took,
    ids of the messages recorded sent after the kill)."""
    dbs, root = p.dbs, p.root
    var = root / f"var-{name}"
    var.mkdir()
    fifo = None
    sms = var / "killed-run.jsonl"
    if kill_point.startswith("gateway"):
        fifo = GatewayFifo(sms)
    env = _env(dbs.url(name), var, sms)
    with (var / "killed-run.out").open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "onboard90", "run", "--date", DAY.isoformat()],
                                env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    probe = crashkit.Probe(dbs.url(name))
    deadline = time.monotonic() + DEADLINE
    seen_later = False
    try:
        while True:
            assert proc.poll() is None, (
                f"the cycle finished (exit {proc.returncode}) before the kill point {kill_point!r}: "
                f"{(var / 'killed-run.out').read_text()[-2000:]}"
            )
            assert time.monotonic() < deadline, f"kill point {kill_point!r} not reached in {DEADLINE}s"
            if fifo is not None:
                if kill_point == "gateway_first_batch":
                    if fifo.lines < GATEWAY_LEAD:
                        fifo.pump()
                    ready = fifo.lines >= GATEWAY_LEAD
                else:  # later batch: let the gateway run until a batch is recorded, then read a little more
                    if not seen_later:
                        fifo.pump()
                        seen_later = probe.counts()["sent"] > p.base["sent"]
                        mark = fifo.lines
                        ready = False
                    else:
                        if fifo.lines < mark + GATEWAY_LEAD:
                            fifo.pump()
                        ready = fifo.lines >= mark + GATEWAY_LEAD
            else:
                ready = STATE_AT[kill_point](probe.counts(), p)
            if ready:
                # Freeze, let a statement already on the server finish, look again at the frozen state.
                os.kill(proc.pid, signal.SIGSTOP)
                while dbs.backend_busy(name):
                    time.sleep(POLL)
                frozen = probe.counts()
                if STATE_AT[kill_point](frozen, p):
                    break
                os.kill(proc.pid, signal.SIGCONT)  # it moved on before the stop: keep watching
            time.sleep(POLL)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    probe.close()
    dbs.settle(name)
    taken = fifo.drain() if fifo is not None else crashkit.gateway_lines(sms)
    probe = crashkit.Probe(dbs.url(name))
    after = probe.counts()
    sent_ids = probe.sent_ids()
    probe.close()
    # Genuinely mid-way: the killed run is recorded running, not finished, and day D's work is incomplete.
    assert after["running"] == 1 and after["finished"] == p.base["finished"], after
    assert STATE_AT[kill_point](after, p), (kill_point, after, p.base, p.final)
    assert after != p.final
    return after, taken, sent_ids


def compare_tables(clean: dict, rerun: dict) -> list[str]:
    problems = []
    for table in TABLES:
        a, b = clean[table], rerun[table]
        lost = sorted(set(a) - set(b))
        extra = sorted(set(b) - set(a))
        differ = sorted(k for k in set(a) & set(b) if a[k] != b[k])
        if lost:
            problems.append(f"{table}: {len(lost)} rows lost after the crash, e.g. {lost[:3]}")
        if extra:
            problems.append(f"{table}: {len(extra)} rows only after the crash, e.g. {extra[:3]}")
        for key in differ[:5]:
            problems.append(f"{table} {key}: clean {a[key]} ≠ after crash {b[key]}")
        if len(differ) > 5:
            problems.append(f"{table}: {len(differ)} rows differ in all")
    return problems


def check_gateway(state: dict, lines: list[dict]) -> Counter:
    """Every line is a message this database records sent, with its number and text; a Counter by natural key."""
    outbox, ids = state["outbox"], state["outbox_ids"]
    keys: Counter = Counter()
    for line in lines:
        key = ids.get(str(line["id"]))
        assert key is not None, f"the gateway sent a message the outbox does not hold: {line}"
        row = outbox[key]
        assert row["status"] == "sent", f"the gateway sent {key} but the outbox says {row['status']}"
        assert (line["to"], line["text"]) == (row["msisdn"], row["text"]), f"gateway line for {key} ≠ its row"
        keys[key] += 1
    return keys


def crash_and_rerun(p: Province, kill_point: str) -> None:
    dbs, root = p.dbs, p.root
    name = f"kill_{kill_point}"
    dbs.copy("base", name)
    _, taken, sent_after_kill = run_and_kill(p, kill_point, name)

    # The gateway's record: what the killed run's gateway took, then whatever the rerun sends.
    rerun_file = root / f"var-{name}" / "gateway.jsonl"
    rerun_file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in taken), encoding="utf-8")
    env = _env(dbs.url(name), root / f"var-{name}", rerun_file)
    onboard90(env, "run", "--date", DAY.isoformat())
    state = dump(env, root / f"{name}.json")

    problems = compare_tables(p.clean, state)
    assert not problems, "the rerun after a crash does not equal the clean run:\n" + "\n".join(problems)

    # CycleRun: the clean run's rows, plus the killed run's, recorded failed by the rerun.
    day_as_of = p.clean["cycle_runs"][-1][0]
    killed = [run for run in state["cycle_runs"] if run not in p.clean["cycle_runs"]]
    assert killed == [[day_as_of, "failed"]], killed
    assert sorted(p.clean["cycle_runs"] + killed) == state["cycle_runs"]

    # The SMS gateway: the clean run sends each of the day's messages once, and so does the crashed one,
    # counting what its gateway took before the kill (some of it never recorded sent by the killed run).
    clean_sent = check_gateway(p.clean, p.clean_lines)
    # Sent at the real instant of the send: the day's commands run with the clock at D 20:30.
    sent_at = clock.parse_instant(clock_on(DAY)).astimezone(dt.UTC).isoformat()
    sent_today = {k for k, row in p.clean["outbox"].items() if row["status"] == "sent" and row["sent_at"] == sent_at}
    assert set(clean_sent) == sent_today and set(clean_sent.values()) == {1}
    ids = state["outbox_ids"]
    in_flight = {ids[str(line["id"])] for line in taken if line["id"] not in sent_after_kill}
    record = check_gateway(state, crashkit.gateway_lines(rerun_file))
    assert set(record) == sent_today, "a message of the day was not sent at all"
    doubled = sorted(k for k, n in record.items() if n > 1)
    assert not doubled, f"{len(doubled)} messages went out twice, e.g. {doubled[:3]}"
    if kill_point == "gateway_first_batch":
        # The window that matters, made to happen: the gateway took these, the killed run recorded none.
        assert len(taken) >= GATEWAY_LEAD and len(in_flight) == len(taken), (len(in_flight), len(taken))
    print(f"{kill_point}: the killed run's gateway took {len(taken)} messages, {len(in_flight)} unrecorded; none twice")


@pytest.mark.parametrize("kill_point", KILL_POINTS)
@pytest.mark.sqlite
def test_sigkill_mid_cycle_then_rerun_equals_a_clean_run_on_sqlite(sqlite_province, kill_point):
    crash_and_rerun(sqlite_province, kill_point)


@pytest.mark.postgres
@pytest.mark.parametrize("kill_point", KILL_POINTS)
def test_sigkill_mid_cycle_then_rerun_equals_a_clean_run_on_postgresql(postgres_province, kill_point):
    crash_and_rerun(postgres_province, kill_point)
