"""Independent pieces of one job run side by side, each thread on its own database connection.

The daily cycle is bound by the database server's work for each row it writes, one backend at a time;
on PostgreSQL a second connection puts the server's second core to work. SQLite has one writer, and rows
written inside a transaction are invisible to other connections: there the pieces run one after another.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from django.conf import settings
from django.db import connection, connections

T = TypeVar("T")


def workers_for_cycle() -> int:
    """Connections the cycle may use: `ONBOARD90_CYCLE_WORKERS` on PostgreSQL outside a transaction, else 1."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return 1
    return max(1, settings.ONBOARD90["CYCLE_WORKERS"])


def run_side_by_side(
    jobs: Sequence[Callable[[], T]],
    *,
    workers: int,
    session: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    after: Sequence[int | None] | None = None,
) -> list[T]:
    """Run `jobs` (each its own transactions) on up to `workers` threads; their results in the jobs' order.

    `after[i]`, if given, is the index of an earlier job that job i must wait for (it reads what that one
    writes); the others depend on none. Jobs start in order as soon as a thread is free and what they wait
    for has finished. The calling thread takes jobs too, on its own connection; each other thread opens
    one, enters `session()` on it (its session settings) and closes it at the end. After the first
    failure no job starts; the ones running finish, and the first error is raised here.
    """
    after = list(after) if after is not None else [None] * len(jobs)
    assert len(after) == len(jobs) and all(a is None or a < i for i, a in enumerate(after)), after
    if workers <= 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    results: list[T | None] = [None] * len(jobs)
    errors: list[BaseException] = []
    pending = list(range(len(jobs)))
    finished: set[int] = set()
    changed = threading.Condition()

    def take() -> int | None:
        with changed:
            while pending and not errors:
                ready = next((i for i in pending if after[i] is None or after[i] in finished), None)
                if ready is not None:
                    pending.remove(ready)
                    return ready
                changed.wait()  # what the next jobs wait for is running in another thread
            return None

    def work(own_connection: bool) -> None:
        try:
            with session() if own_connection else contextlib.nullcontext():
                while (index := take()) is not None:
                    results[index] = jobs[index]()
                    with changed:
                        finished.add(index)
                        changed.notify_all()
        except BaseException as exc:  # noqa: B036 — handed to the calling thread, which raises it
            with changed:
                errors.append(exc)
                changed.notify_all()
        finally:
            if own_connection:
                connections.close_all()  # this thread's connections only

    threads = [
        threading.Thread(target=work, args=(True,), name=f"onboard90-worker-{n}", daemon=True)
        for n in range(1, min(workers, len(jobs)))
    ]
    for thread in threads:
        thread.start()
    work(False)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results  # type: ignore[return-value]
