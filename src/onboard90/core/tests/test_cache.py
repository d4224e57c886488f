"""A costly reading asked for by many at the same moment is computed once, and the others get its result."""

from __future__ import annotations

import threading

from django.core.cache import cache

from onboard90.core.cache import cached_once


def test_ten_requests_at_once_compute_the_reading_once_and_all_get_it():
    cache.delete("test:ops")
    computed = []
    started = threading.Event()
    release = threading.Event()

    def compute():
        computed.append(1)
        started.set()
        release.wait(10)  # hold the lock until every other caller is waiting on it
        return {"figures": 42}

    results = []
    first = threading.Thread(target=lambda: results.append(cached_once("test:ops", seconds=60, compute=compute)))
    first.start()
    assert started.wait(10)
    others = [
        threading.Thread(target=lambda: results.append(cached_once("test:ops", seconds=60, compute=compute)))
        for _ in range(9)
    ]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert computed == [1]
    assert results == [{"figures": 42}] * 10


def test_a_reading_in_the_cache_is_not_computed_again_and_another_key_is():
    cache.delete_many(["test:a", "test:b"])
    calls = []
    assert cached_once("test:a", seconds=60, compute=lambda: calls.append("a") or "A") == "A"
    assert cached_once("test:a", seconds=60, compute=lambda: calls.append("a") or "again") == "A"
    assert cached_once("test:b", seconds=60, compute=lambda: calls.append("b") or "B") == "B"
    assert calls == ["a", "b"]
