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
    first = threading.Thread(target=lambda: results.append(cached_once("test:ops", fresh=60, compute=compute)))
    first.start()
    assert started.wait(10)
    others = [
        threading.Thread(target=lambda: results.append(cached_once("test:ops", fresh=60, compute=compute)))
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
    assert cached_once("test:a", fresh=60, compute=lambda: calls.append("a") or "A") == "A"
    assert cached_once("test:a", fresh=60, compute=lambda: calls.append("a") or "again") == "A"
    assert cached_once("test:b", fresh=60, compute=lambda: calls.append("b") or "B") == "B"
    assert calls == ["a", "b"]


def test_an_old_reading_is_replaced_by_the_next_caller_while_one_being_replaced_is_shown_as_it_is(monkeypatch):
    from onboard90.core import cache as module

    cache.delete("test:stale")
    clock = [1000.0]
    monkeypatch.setattr(module.time, "time", lambda: clock[0])
    assert cached_once("test:stale", fresh=60, keep=3600, compute=lambda: "first") == "first"
    clock[0] += 61  # older than fresh: the next caller computes the next reading
    assert cached_once("test:stale", fresh=60, keep=3600, compute=lambda: "second") == "second"
    clock[0] += 61
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)
        return "third"

    results = []
    replacing = threading.Thread(target=lambda: results.append(cached_once("test:stale", fresh=60, keep=3600, compute=slow)))
    replacing.start()
    assert started.wait(10)
    # While it is being replaced, another caller does not wait: it is shown the reading on file.
    assert cached_once("test:stale", fresh=60, keep=3600, compute=lambda: "never") == "second"
    release.set()
    replacing.join(10)
    assert results == ["third"]
    assert cached_once("test:stale", fresh=60, keep=3600, compute=lambda: "never") == "third"


def test_a_reading_put_ahead_is_shown_to_the_first_caller_without_computing():
    from onboard90.core.cache import cache_put

    cache.delete("test:ahead")
    cache_put("test:ahead", {"made": "by the daily job"}, keep=3600)
    assert cached_once("test:ahead", fresh=60, compute=lambda: {"made": "by a request"}) == {"made": "by the daily job"}
