"""The daily cycle fanned out over real Celery workers on the local RabbitMQ ends where one process ends, row for
row — and so it does when a worker is SIGKILLed in the middle of a piece, when the broker is restarted in the
middle of the cycle, and when the database server crashes and restarts in the middle of a piece.

How. A small province is prepared with the real commands (the crash-safety test's `prepare`, smaller): init,
staff, three earlier days with their cycles, then day D's VIP ratings and activations. The prepared database
is copied: one copy runs day D in one process (`onboard90 run`), the others fan it out
(`onboard90 run --on-workers`: planned there, its stages' pieces run one stage after another by `onboard90 worker`
processes). Each test has its own queue on the broker (ONBOARD90_QUEUE), so other runs on the same broker never
take its work. The copies are dumped by natural key (crashkit) and compared; so are the cycles' recorded counts.

The kill. One worker (one process) takes the pieces; once the plan is on file and a piece is unfinished, the
worker is frozen (SIGSTOP) and the database is asked whether a transaction is open (SQLite: its write lock is
held; PostgreSQL: a backend is idle in a transaction) — the frozen worker is in the middle of a piece — and the
worker's whole process group is killed (SIGKILL). Its message was not acknowledged (acks late), so the broker
hands it to the second worker started then; the piece's transaction was rolled back, and it runs again.

The restarts. The broker and the database server restarted are a RabbitMQ node and a PostgreSQL server of the
test's own (`restartable`), so that the other test pass's connections to the machine's own are not cut; the
module's PostgreSQL tests all use the one server, and its province, prepared once. The broker is stopped and
started again on its data once some pieces are done and others not: the workers reconnect, the pieces they were
running are cancelled and handed out again, and the stages still follow one another once
(`cycle.stage_advance`). The database server is restarted `immediate` (a crash) while a piece is in its
transaction: the piece fails on its lost connection and is retried alone, and the waiting `run` asks again. The
workers are frozen (SIGSTOP) while either restarts, so that it falls mid-cycle on any machine. In both, the
cycle finishes by itself and equals the clean run.

Runs without the Django test database: everything happens in subprocesses against scratch databases.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from onboard90.journeys.tests import crashkit, restartable
from onboard90.journeys.tests import test_crash_safety as kit

pytestmark = pytest.mark.celery

DAY = kit.DAY
PRIOR_PER_DAY = 60
DAY_CUSTOMERS = 600
DEADLINE = 60.0  # a kill point not reached in this long fails the test


def prepare(dbs, root: Path) -> kit.Province:
    env = kit._env(dbs.url("base"), root / "var-base", root / "var-base" / "sent.jsonl", on=DAY - dt.timedelta(days=1))
    if isinstance(dbs, kit.PostgresScratch):
        dbs.create("base")
    kit.onboard90(env, "init", "--scratch")
    for username, role, city, name, phone in crashkit.STAFF:
        kit.onboard90(env, "staff", "add", username, "--role", role, "--city", city, "--name", name, "--phone", phone)
    rateable: list[str] = []
    for i, day in enumerate(kit.PRIOR_DAYS):
        path = root / f"customers-{day}.csv"
        rateable += crashkit.write_customers(path, day=day, count=PRIOR_PER_DAY, seed=i, first_serial=i * 100_000)
        kit.onboard90(env, "import", "customers", str(path))
    kit.onboard90(env, "run", "--date", kit.PRIOR_DAYS[0].isoformat(), "--until", (DAY - dt.timedelta(days=1)).isoformat())
    env = {**env, "ONBOARD90_CLOCK": kit.clock_on(DAY)}
    crashkit.write_vip_ratings(root / "vip.csv", rateable[::6], at=dt.datetime(DAY.year, DAY.month, DAY.day, 8))
    kit.onboard90(env, "import", "vip", str(root / "vip.csv"))
    big = root / f"customers-{DAY}.csv"
    crashkit.write_customers(big, day=DAY, count=DAY_CUSTOMERS, seed=99, first_serial=900_000)
    kit.onboard90(env, "import", "customers", str(big))

    province = kit.Province(dbs=dbs, root=root)
    dbs.copy("base", "clean")
    env_a = kit._env(dbs.url("clean"), root / "var-clean", root / "var-clean" / "sent.jsonl")
    kit.onboard90(env_a, "run", "--date", DAY.isoformat())
    province.clean = kit.dump(env_a, root / "clean.json")
    assert len(province.clean["actions"]) > 4000 and province.clean["escalations"], "day D should be a real day"
    assert any(row[1] == "finished" for row in province.clean["cycle_runs"])
    return province


@pytest.fixture(scope="module")
def sqlite_province(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers-sqlite")
    yield prepare(kit.SqliteFiles(root), root)


def _servers_of_our_own(**needs: bool) -> None:
    """Restarting the machine's own broker or server would cut the other test pass's connections: the restart
    tests restart servers of their own (`restartable`). Where their programs are missing the tests skip with
    the reason, and under CI=true a skip fails the run (conftest)."""
    missing = restartable.missing(**needs)
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL server of this module's own. The PostgreSQL tests here share one province prepared on it (one
    preparation for the module), and the last of them crashes it."""
    url = os.environ.get("DATABASE_URL", "")
    assert url.startswith(("postgres://", "postgresql://")), "the postgres marker runs only on PostgreSQL"
    _servers_of_our_own(broker=False)
    server = restartable.Postgres()
    try:
        server.start()
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def postgres_province(tmp_path_factory, own_postgres):
    root = tmp_path_factory.mktemp("workers-postgres")
    dbs = kit.PostgresScratch(own_postgres.url)
    try:
        yield prepare(dbs, root)
    finally:
        with contextlib.suppress(Exception):  # after the crash, through the connection made since
            dbs.drop_all()


# --- workers ------------------------------------------------------------------------------------------


class Workers:
    """`onboard90 worker` processes on a queue of this test's own, each in a process group of its own."""

    def __init__(self, env: dict[str, str], var: Path):
        self.env = {**env, "ONBOARD90_QUEUE": f"onboard90-test-{uuid.uuid4().hex[:12]}"}
        self.var = var
        self.procs: list[subprocess.Popen] = []

    def start(self, *, concurrency: int) -> subprocess.Popen:
        log = (self.var / f"worker-{len(self.procs)}.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "onboard90", "worker", "--concurrency", str(concurrency), "--loglevel", "INFO",
             "--hostname", f"w{len(self.procs)}-{uuid.uuid4().hex[:6]}@%h"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def freeze(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGCONT)

    def logs(self) -> str:
        """What failed, whole (a job's failure for good, a run recorded failed), then each log's tail."""
        texts = [p.read_text() for p in sorted(self.var.glob("worker-*.log"))]
        failures = [line for text in texts for line in text.splitlines() if "raised unexpected" in line
                    or "failed in onboard90." in line]  # fmt: skip
        return "\n".join(["failures:", *failures, "tails:", *(text[-3000:] for text in texts)])

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._drop_queue()

    def _drop_queue(self) -> None:
        from kombu import Connection

        url = self.env.get("ONBOARD90_BROKER_URL", "").strip() or "amqp://guest:guest@127.0.0.1:5672//"
        with contextlib.suppress(Exception), Connection(url, connect_timeout=5) as conn:
            conn.default_channel.queue_delete(self.env["ONBOARD90_QUEUE"])


def on_workers(env: dict[str, str], var: Path) -> subprocess.Popen:
    out = (var / "run.out").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "onboard90", "run", "--date", DAY.isoformat(), "--on-workers", "--timeout", "120"],
        env=env, stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip


def finished(proc: subprocess.Popen, var: Path, workers: Workers) -> None:
    try:
        code = proc.wait(timeout=150)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    assert code == 0, f"run --on-workers exited {code}:\n{(var / 'run.out').read_text()}\n{workers.logs()}"


def counts_of(url: str) -> list[str]:
    """The recorded counts of the cycles on file, in order (each piece's are recorded with its writes)."""
    probe = crashkit.Probe(url)
    try:
        return [row[0] for row in probe.conn.execute("SELECT counts FROM journeys_cyclerun ORDER BY as_of").fetchall()]
    finally:
        probe.close()


def compare(clean: dict, state: dict) -> None:
    problems = kit.compare_tables(clean, state)
    assert not problems, "the cycle on workers does not equal the one in one process:\n" + "\n".join(problems)


def fan_out(p: kit.Province, name: str) -> tuple[dict[str, str], Path]:
    p.dbs.copy("base", name)
    var = p.root / f"var-{name}"
    var.mkdir()
    return kit._env(p.dbs.url(name), var, var / "sent.jsonl"), var


def cycle_on_two_workers_equals_one_process(p: kit.Province) -> None:
    env, var = fan_out(p, "workers")
    workers = Workers(env, var)
    try:
        workers.start(concurrency=2)
        finished(on_workers(workers.env, var), var, workers)
    finally:
        workers.stop()
    state = kit.dump(env, p.root / "workers.json")
    compare(p.clean, state)
    assert state["cycle_runs"] == p.clean["cycle_runs"]
    assert counts_of(p.dbs.url("workers")) == counts_of(p.dbs.url("clean"))
    pieces = crashkit.Probe(p.dbs.url("workers"))
    assert pieces.scalar("SELECT count(*) FROM journeys_cyclerun WHERE on_workers") == 1
    assert pieces.scalar("SELECT count(*) FROM journeys_cyclepiece WHERE finished_at IS NULL") == 0
    pieces.close()


# --- the kill -----------------------------------------------------------------------------------------


def in_transaction(dbs, name: str, *, settled: bool = False) -> bool:
    """A writer's transaction is open on the copy `name` (the frozen worker's piece); `settled`: and no statement
    of it is executing (PostgreSQL: idle in its transaction)."""
    if isinstance(dbs, kit.SqliteFiles):
        conn = sqlite3.connect(dbs.root / f"{name}.sqlite3", timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    states = ("idle in transaction",) if settled else ("idle in transaction", "active")
    sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = ANY(%s) AND pid <> pg_backend_pid()"
    return dbs.admin.execute(sql, (dbs._db(name), list(states))).fetchone()[0] > 0


def kill_mid_piece_then_redeliver(p: kit.Province) -> None:
    dbs = p.dbs
    env, var = fan_out(p, "killed")
    workers = Workers(env, var)
    probe = crashkit.Probe(dbs.url("killed"))
    try:
        first = workers.start(concurrency=1)
        runner = on_workers(workers.env, var)
        deadline = time.monotonic() + DEADLINE
        while True:
            assert runner.poll() is None, f"the cycle ended before the kill:\n{(var / 'run.out').read_text()}"
            assert time.monotonic() < deadline, f"no piece caught mid-way in {DEADLINE}s:\n{workers.logs()}"
            unfinished = probe.scalar(
                "SELECT count(*) FROM journeys_cyclepiece WHERE finished_at IS NULL AND name <> 'plan'"
            )
            if unfinished and in_transaction(dbs, "killed"):
                os.killpg(first.pid, signal.SIGSTOP)
                while dbs.backend_busy("killed"):
                    time.sleep(0.005)
                if in_transaction(dbs, "killed", settled=True) and probe.scalar(
                    "SELECT count(*) FROM journeys_cyclepiece WHERE finished_at IS NULL AND name <> 'plan'"
                ):
                    break
                os.killpg(first.pid, signal.SIGCONT)
            time.sleep(0.005)
        done_before = probe.scalar("SELECT count(*) FROM journeys_cyclepiece WHERE finished_at IS NOT NULL")
        os.killpg(first.pid, signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        if isinstance(dbs, kit.PostgresScratch):
            dbs.settle("killed", keep=2)  # the probe's and the waiting `run`'s connections stay
        assert probe.scalar("SELECT count(*) FROM journeys_cyclerun WHERE status = 'running' AND on_workers") == 1
        workers.start(concurrency=2)  # the piece's message goes back on the queue, and to this one
        finished(runner, var, workers)
        assert probe.scalar("SELECT count(*) FROM journeys_cyclepiece WHERE finished_at IS NOT NULL") > done_before
    finally:
        probe.close()
        workers.stop()
    state = kit.dump(env, p.root / "killed.json")
    compare(p.clean, state)
    assert state["cycle_runs"] == p.clean["cycle_runs"], "the killed worker's cycle is the one that finished"
    # Its counts too: the killed piece's work was rolled back and counted once, by its second delivery.
    assert counts_of(dbs.url("killed")) == counts_of(dbs.url("clean"))


@pytest.mark.sqlite
def test_a_cycle_on_two_worker_processes_ends_where_one_process_does_on_sqlite(sqlite_province):
    cycle_on_two_workers_equals_one_process(sqlite_province)


@pytest.mark.sqlite
def test_a_worker_killed_mid_piece_loses_and_doubles_nothing_on_sqlite(sqlite_province):
    kill_mid_piece_then_redeliver(sqlite_province)


@pytest.mark.postgres
def test_a_cycle_on_two_worker_processes_ends_where_one_process_does_on_postgresql(postgres_province):
    cycle_on_two_workers_equals_one_process(postgres_province)


@pytest.mark.postgres
def test_a_worker_killed_mid_piece_loses_and_doubles_nothing_on_postgresql(postgres_province):
    kill_mid_piece_then_redeliver(postgres_province)


# --- the broker and the database restarted mid-cycle --------------------------------------------------------


@pytest.fixture(scope="module")
def own_broker():
    _servers_of_our_own(postgres=False)


def mid_cycle(probe: crashkit.Probe) -> bool:
    """The plan is on file, some of its pieces are done and some are not."""
    done = probe.scalar("SELECT count(*) FROM journeys_cyclepiece WHERE finished_at IS NOT NULL AND name <> 'plan'")
    waiting = probe.scalar("SELECT count(*) FROM journeys_cyclepiece WHERE finished_at IS NULL AND name <> 'plan'")
    return done > 0 and waiting > 0


def ends_as_in_one_process(p: kit.Province, name: str, env: dict[str, str]) -> None:
    state = kit.dump(env, p.root / f"{name}.json")
    compare(p.clean, state)
    assert state["cycle_runs"] == p.clean["cycle_runs"]
    assert counts_of(p.dbs.url(name)) == counts_of(p.dbs.url("clean"))


def broker_restarted_mid_cycle(p: kit.Province) -> None:
    env, var = fan_out(p, "broker")
    broker = restartable.Broker()
    probe = crashkit.Probe(p.dbs.url("broker"))
    workers = Workers({**env, "ONBOARD90_BROKER_URL": broker.url}, var)
    try:
        broker.start()
        workers.start(concurrency=2)
        runner = on_workers(workers.env, var)
        restartable.wait_for(lambda: mid_cycle(probe), seconds=DEADLINE, what="a cycle half done")
        # Frozen while the broker restarts (which takes seconds), the workers cannot finish the cycle meanwhile:
        # the restart falls in its middle on any machine.
        workers.freeze()
        assert mid_cycle(probe), "the cycle went past its middle before the workers were frozen"
        broker.restart()
        workers.thaw()
        # The workers find their connection gone: the pieces they were running are cancelled, and every message
        # not acknowledged comes back from the queue once they reconnect.
        finished(runner, var, workers)
    finally:
        probe.close()
        workers.stop()
        broker.close()
    ends_as_in_one_process(p, "broker", env)


def database_restarted_mid_piece(p: kit.Province, server: restartable.Postgres) -> None:
    import psycopg

    dbs = p.dbs
    env, var = fan_out(p, "restarted")
    workers = Workers(env, var)
    probe = crashkit.Probe(dbs.url("restarted"))
    try:
        workers.start(concurrency=2)
        runner = on_workers(workers.env, var)
        restartable.wait_for(
            lambda: mid_cycle(probe) and in_transaction(dbs, "restarted"), seconds=DEADLINE,
            what="a piece in its transaction",
        )  # fmt: skip
        workers.freeze()  # the piece stays in its transaction until the server is gone
        assert mid_cycle(probe), "the cycle went past its middle before the workers were frozen"
        probe.close()
        server.restart()  # the piece's transaction is lost with the server
        workers.thaw()
        dbs.admin = psycopg.connect(server.url, autocommit=True)
        # The piece fails on its lost connection and is retried alone; the waiting `run` asks again.
        finished(runner, var, workers)
    finally:
        probe.close()
        workers.stop()
    ends_as_in_one_process(p, "restarted", env)


# Once, on SQLite: what a broker restart tests is the workers' side (cancel, redeliver, advance once), the same
# code on either database; the PostgreSQL pass restarts the database server instead.
@pytest.mark.sqlite
def test_a_broker_restarted_mid_cycle_loses_and_doubles_nothing(sqlite_province, own_broker):
    broker_restarted_mid_cycle(sqlite_province)


# Last of the module's PostgreSQL tests: it crashes the server their province is on.
@pytest.mark.postgres
def test_a_database_restarted_mid_piece_loses_and_doubles_nothing(postgres_province, own_postgres):
    database_restarted_mid_piece(postgres_province, own_postgres)
