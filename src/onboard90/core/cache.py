"""A costly reading shared through Django's cache, computed once however many ask for it at the same moment, and
never waited for again once there is one to show.

Without this, the first look at a supervisor's dashboard after the cache expired is paid by every request that
arrives while it is being computed: ten people opening the dashboard at nine o'clock each run the same
second-long statements side by side, and every other page waits behind them for the database. Here:

* with no reading on file, the first request computes and the others wait for its result (a blocking `flock` on
  a file beside the file cache: across the threads and worker processes of one server; servers on other machines
  compute their own);
* with a reading older than `fresh` seconds, the one request that takes the lock without waiting computes the
  next reading, and everyone else is shown the one on file meanwhile (stale-while-revalidate): a page is never
  held up by a recomputation another request is already making;
* `cache_put` stores a reading computed ahead of the first request (the dashboards after the daily cycle).

The freshness is the wall clock's: it says how old a *reading* is, which is about the cache, not the plan.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache

T = TypeVar("T")
# Entries are (computed at, reading): kept apart from anything stored under the same key in another shape.
_KEY = "reading:"


def cached_once(key: str, *, fresh: int, keep: int | None = None, compute: Callable[[], T]) -> T:
    """The reading cached under `key`; `compute()` — run by one caller at a time per key — when there is none,
    or, by the one caller that finds it older than `fresh` seconds and the lock free, to replace it (the others
    get the older reading meanwhile). A reading is kept `keep` seconds (default: `fresh`, so that an old one is
    never shown)."""
    keep = fresh if keep is None else keep
    key = _KEY + key
    entry = cache.get(key)
    if entry is not None:
        at, value = entry
        if time.time() - at <= fresh:
            return value
        with _one_at_a_time(key, wait=False) as mine:
            if mine:
                entry = cache.get(key)  # replaced by the caller that held the lock just before us?
                if entry is not None and time.time() - entry[0] <= fresh:
                    return entry[1]
                return _compute_and_put(key, compute, keep)
        return value
    with _one_at_a_time(key, wait=True):
        entry = cache.get(key)  # computed by the caller that held the lock before us
        if entry is not None:
            return entry[1]
        return _compute_and_put(key, compute, keep)


def cache_put(key: str, value: T, *, keep: int) -> T:
    """Store a reading computed ahead of the first request for it (as fresh as now)."""
    cache.set(_KEY + key, (time.time(), value), keep)
    return value


def _compute_and_put(key: str, compute: Callable[[], T], keep: int) -> T:
    value = compute()
    cache.set(key, (time.time(), value), keep)
    return value


@contextlib.contextmanager
def _one_at_a_time(key: str, *, wait: bool) -> Iterator[bool]:
    """Hold the key's lock for the block; True if held. Without `wait`, False at once when another holds it."""
    folder = Path(settings.VAR_DIR) / "cache-locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            # Released when the descriptor closes, also if this process dies.
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
