"""One outbox dispatcher at a time, with a lock the operating system or the database drops when its holder dies.

Being the only live dispatcher is what lets `outbox_recover` read a message left `sending` as a crashed
send rather than one in flight. PostgreSQL: a session advisory lock (released when the connection ends).
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

# Any constant works; this one spells "ob90" so it is recognisable in pg_locks.
ADVISORY_KEY = 0x6F623930


def _lock_path() -> Path:
    name = str(connection.settings_dict.get("NAME") or "")
    if name and not name.startswith("file:") and name != ":memory:":
        return Path(f"{name}.dispatch.lock")
    return Path(settings.VAR_DIR) / "dispatch.lock"


@contextlib.contextmanager
def dispatcher_lock() -> Iterator[bool]:
    """Yields True while this process is the only dispatcher; False (without waiting) if another is."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_KEY])
            held = cursor.fetchone()[0]
        try:
            yield bool(held)
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])
        return
    path = _lock_path()
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
