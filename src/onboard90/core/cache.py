"""A costly reading shared through Django's cache, computed once however many ask for it at the same moment.

Without this, the first look at a supervisor's dashboard after the cache expired is paid by every request that
arrives while it is being computed: ten people opening the dashboard at nine o'clock each run the same
second-long statements side by side, and every other page waits behind them for the database. Here the first
request computes and the others wait for its result (a blocking `flock` on a file beside the file cache: across
the threads and worker processes of one server; servers on other machines compute their own).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")


def cached_once(key: str, *, seconds: int, compute: Callable[[], T]) -> T:
    """The value cached under `key`, or `compute()` — run by one caller at a time per key — stored for `seconds`."""
    value = cache.get(key)
    if value is not None:
        return value
    with _one_at_a_time(key):
        value = cache.get(key)  # computed by the caller that held the lock before us
        if value is None:
            value = compute()
            cache.set(key, value, seconds)
    return value


@contextlib.contextmanager
def _one_at_a_time(key: str) -> Iterator[None]:
    folder = Path(settings.VAR_DIR) / "cache-locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # released when the descriptor closes, also if this process dies
        yield
    finally:
        os.close(fd)
