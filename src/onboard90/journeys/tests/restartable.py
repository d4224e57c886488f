"""A RabbitMQ node and a PostgreSQL server of a test's own, on free ports in a scratch directory, which the test
stops and starts again in the middle of a cycle.

The machine's own broker and server are not restarted: the other test pass, and anything else on the machine,
is using them. These are the same programs (Debian's rabbitmq-server and PostgreSQL), started from their own
binaries with every path and port pointed at the scratch directory; the broker keeps its durable queues on
disk across the restart, as the machine's does, and the database server's restart is a crash (`immediate`:
open transactions are lost and the server recovers from its WAL).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from onboard90.messaging.kannel_local import free_port

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def missing(*, broker: bool = True, postgres: bool = True) -> str | None:
    """Why a broker or a database server of the test's own cannot be started here, or None."""
    if broker and not (RABBITMQ_BIN / "rabbitmq-server").exists():
        return f"needs RabbitMQ's server programs in {RABBITMQ_BIN} (Debian package rabbitmq-server)"
    if postgres and _postgres_bin() is None:
        return "needs PostgreSQL's server programs in /usr/lib/postgresql/*/bin (Debian package postgresql)"
    if postgres and os.geteuid() == 0 and shutil.which("runuser") is None:
        return "needs runuser to start PostgreSQL as its own user"
    return None


def _scratch(prefix: str) -> Path:
    # Not under pytest's tmp_path: its base is private to this user, and the database server runs as postgres.
    return Path(tempfile.mkdtemp(prefix=prefix))


class Broker:
    """A RabbitMQ node of the test's own (its own node name, ports, data and Erlang cookie)."""

    def __init__(self) -> None:
        self.root = _scratch("onboard90-rabbitmq-")
        self.port = free_port()
        self.node = f"onboard90-{uuid.uuid4().hex[:8]}@localhost"
        (self.root / "plugins").write_text("[].\n")  # no plugins: the management UI is not needed
        self.env = {
            **os.environ, "HOME": str(self.root), "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"), "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"), "RABBITMQ_PID_FILE": str(self.root / "pid"),
        }  # fmt: skip
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _ctl(self, *args: str, timeout: float = 90) -> None:
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.node, *args], env=self.env, capture_output=True,
            text=True, timeout=timeout,
        )  # fmt: skip
        if done.returncode != 0:
            raise AssertionError(f"rabbitmqctl {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        log = (self.root / "server.out").open("a")
        self.proc = subprocess.Popen(
            [str(RABBITMQ_BIN / "rabbitmq-server")], env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self._ctl("wait", str(self.root / "pid"), "--timeout", "60")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self._ctl("stop", str(self.root / "pid"))
        self.proc.wait(timeout=30)

    def restart(self) -> None:
        """Stopped and started again on its data: the connections drop, the durable queues come back."""
        self.stop()
        self.start()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
        subprocess.run(["pkill", "-9", "-f", self.node], check=False)  # epmd keeps nothing of a dead node
        shutil.rmtree(self.root, ignore_errors=True)


class Postgres:
    """A PostgreSQL server of the test's own: a fresh cluster (trust auth) on a free port."""

    def __init__(self) -> None:
        self.bin = _postgres_bin()
        self.root = _scratch("onboard90-postgres-")
        self.port = free_port()
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:  # the server refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"{program} {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")

    def _ctl(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-o", options, action, *args)

    def start(self) -> None:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        self._ctl("start")

    def restart(self) -> None:
        """A crash and a recovery: every connection is cut, transactions in flight are lost."""
        self._ctl("restart", "-m", "immediate")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def wait_for(condition, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {seconds}s")
        time.sleep(0.005)
