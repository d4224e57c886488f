"""`bench cycle --workers N`: each measured cycle fanned out over N real Celery worker processes, as production runs
it (`onboard90 run --on-workers`, beat's `cycle-daily`): planned in the bench's process, its stages' pieces run by
`onboard90 worker --concurrency 1` processes on the configured broker, its shared steps by whichever worker takes
the finish.

The workers take a queue of the bench's own (ONBOARD90_QUEUE), so nothing else on the broker takes its work, and
leave the outbox to its own job (ONBOARD90_CYCLE_DISPATCH=0), as the in-process bench times the cycle without the
dispatch. They are stopped, and their queue deleted, when the measuring is over, before the baseline.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

from django.conf import settings
from kombu import Connection

from onboard90.journeys import cycle
from onboard90.journeys.enums import CycleStatus
from onboard90.journeys.models import CycleRun

TIMEOUT = 3600.0  # a cycle not finished in this long fails the bench, with the workers' last lines
READY_TIMEOUT = 120.0


class CycleWorkers:
    """N `onboard90 worker` processes, one job at a time each, each in a process group of its own."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.queue = f"onboard90-bench-{uuid.uuid4().hex[:12]}"
        self.logs = Path(settings.VAR_DIR) / "bench"
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> CycleWorkers:
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "ONBOARD90_QUEUE": self.queue, "ONBOARD90_CYCLE_DISPATCH": "0"}
        names = [f"bench{i}-{self.queue[-6:]}@{socket.gethostname()}" for i in range(self.count)]
        for i, name in enumerate(names):
            log = (self.logs / f"worker-{i}.log").open("w")
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "onboard90", "worker", "--concurrency", "1", "--loglevel", "WARNING",
                     "--hostname", name],
                    env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            )
        try:
            self._wait_ready(names)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, names: list[str]) -> None:
        """Until every worker answers a ping: a cycle's time is not to include their start."""
        # The Celery app only once the bench runs on workers: the in-process bench imports this module too.
        from onboard90.core.celery_app import app

        deadline = time.monotonic() + READY_TIMEOUT
        while len(app.control.ping(destination=names, timeout=1.0)) < len(names):
            if time.monotonic() > deadline or any(proc.poll() is not None for proc in self.procs):
                raise RuntimeError(f"the bench's workers did not start:\n{self.tails()}")

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def cycle(self, *, as_of: dt.datetime) -> CycleRun:
        """One daily cycle on the workers, from its plan to its record: what `onboard90 run --on-workers` does."""
        from onboard90.journeys.tasks import cycle_stage  # makes the Celery app: see _wait_ready

        run = cycle.cycle_start(as_of=as_of)
        cycle_stage.apply_async(kwargs={"run_id": run.pk, "stage": 0}, queue=self.queue)
        deadline = time.monotonic() + TIMEOUT
        while run.status == CycleStatus.RUNNING:
            if time.monotonic() > deadline or any(proc.poll() is not None for proc in self.procs):
                raise RuntimeError(f"the cycle on the workers did not finish (run {run.pk}):\n{self.tails()}")
            time.sleep(0.05)
            run.refresh_from_db(fields=["status", "counts", "finished_at"])
        if run.status != CycleStatus.FINISHED:
            raise RuntimeError(f"the cycle on the workers failed (run {run.pk}):\n{self.tails()}")
        return run

    def peak_rss_mb(self) -> list[float]:
        """Each worker's peak resident memory: the largest of its process and the pool process that ran the jobs."""
        return [round(max(_peak_kb(pid) for pid in _family(proc.pid)) / 1024, 1) for proc in self.procs]

    def tails(self) -> str:
        return "\n".join(path.read_text()[-2000:] for path in sorted(self.logs.glob("worker-*.log")))

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # a bench's workers hold nothing worth a warm shutdown
        for proc in self.procs:
            proc.wait()

        from onboard90.core.celery_app import broker_url  # the Celery app: see _wait_ready

        with contextlib.suppress(Exception), Connection(broker_url(), connect_timeout=5) as conn:
            conn.default_channel.queue_delete(self.queue)


def _family(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc: each thread lists the children it started)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in children.read_text().split())
    return found


def _peak_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0
