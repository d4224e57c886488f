"""One of a kind at a time (the daily cycle, the outbox dispatcher), with a lock the operating system or the
database drops when its holder dies.

Being the only live one is what lets a job read what a predecessor left half-done (a CycleRun still
`running`, a message still `sending`) as the mark of a crash rather than of work in flight.
PostgreSQL: a session advisory lock, per database (released when the connection ends).
SQLite: `flock` on a file beside the database (released when the process ends).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

# Advisory-lock keys: "ob90" and the job's number, so they are recognisable in pg_locks.
ADVISORY_KEYS = {"dispatch": 0x6F623930, "cycle": 0x6F623931, "webhooks": 0x6F623932}


def lock_path(name: str) -> Path:
    database = str(connection.settings_dict.get("NAME") or "")
    if database and not database.startswith("file:") and database != ":memory:":
        return Path(f"{database}.{name}.lock")
    return Path(settings.VAR_DIR) / f"{name}.lock"


def dispatcher_lock() -> contextlib.AbstractContextManager[bool]:
    return singleton_lock("dispatch")


@contextlib.contextmanager
def singleton_lock(name: str) -> Iterator[bool]:
    """Yields True while this process is the only holder of `name`; False (without waiting) if another is."""
    key = ADVISORY_KEYS[name]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            held = cursor.fetchone()[0]
        try:
            yield bool(held)
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    path = lock_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
