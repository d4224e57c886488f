"""core.workers: independent jobs side by side, results in order, the first failure raised (no database)."""

from __future__ import annotations

import threading
import time

import pytest

from onboard90.core.workers import run_side_by_side


def test_results_come_back_in_the_jobs_order_and_two_threads_did_the_work():
    seen = set()

    def job(n):
        def run():
            seen.add(threading.current_thread().name)
            time.sleep(0.01 * (5 - n))  # the first jobs are the slowest: they finish last
            return n * n
        return run

    assert run_side_by_side([job(n) for n in range(5)], workers=2) == [0, 1, 4, 9, 16]
    assert len(seen) == 2 and threading.current_thread().name in seen


def test_one_worker_runs_the_jobs_one_after_another_in_the_calling_thread():
    order = []
    jobs = [lambda n=n: order.append((n, threading.current_thread().name)) or n for n in range(3)]
    assert run_side_by_side(jobs, workers=1) == [0, 1, 2]
    assert order == [(n, threading.current_thread().name) for n in range(3)]


def test_a_job_waits_for_the_one_it_reads_even_with_a_thread_free():
    log = []

    def job(name, seconds=0.0):
        def run():
            time.sleep(seconds)
            log.append(name)
            return name
        return run

    # 1 waits for 0 (slow); 2 and 3 depend on nothing and are done by the free thread meanwhile.
    jobs = [job("assign", 0.2), job("reads assign"), job("free a"), job("free b")]
    assert run_side_by_side(jobs, workers=2, after=[None, 0, None, None]) == ["assign", "reads assign", "free a", "free b"]
    assert log.index("reads assign") > log.index("assign")
    assert log.index("free a") < log.index("assign") and log.index("free b") < log.index("assign")


def test_after_a_failure_no_job_starts_and_the_error_is_raised_here():
    started = []
    gate = threading.Event()

    def failing():
        started.append("failing")
        gate.set()
        raise ValueError("bad row")

    def slow():
        started.append("slow")
        gate.wait(5)
        time.sleep(0.05)  # still running when the other fails; it finishes
        return "slow"

    def later(n):
        return lambda: started.append(n)

    with pytest.raises(ValueError, match="bad row"):
        run_side_by_side([slow, failing, *(later(n) for n in range(5))], workers=2)
    assert sorted(map(str, started)) == ["failing", "slow"]


def test_each_extra_thread_enters_the_session_once_and_leaves_it():
    entered, left = [], []

    class Session:
        def __enter__(self):
            entered.append(threading.current_thread().name)

        def __exit__(self, *exc):
            left.append(threading.current_thread().name)

    run_side_by_side([lambda: None] * 4, workers=3, session=Session)
    assert sorted(entered) == sorted(left) == ["onboard90-worker-1", "onboard90-worker-2"]
