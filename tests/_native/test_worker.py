"""The bounded worker: a job that never returns costs its timeout once, the rest still run."""
import threading
import time

from ntinspect._native.worker import TIMED_OUT, run_bounded


def test_results_in_order_with_exceptions_kept():
    def job(x):
        if x == 3:
            raise ValueError("three")
        return x * 2

    results = run_bounded(job, list(range(6)), timeout=5)
    assert [r for ok, r in results if ok] == [0, 2, 4, 8, 10]
    assert isinstance(results[3][1], ValueError) and results[3][0] is False


def test_hung_jobs_are_abandoned_and_the_rest_complete():
    release = threading.Event()

    def job(x):
        if x in (1, 4):
            release.wait(30)  # stands in for a pipe that never answers
        return x

    started = time.monotonic()
    results = run_bounded(job, list(range(6)), timeout=0.2)
    elapsed = time.monotonic() - started
    release.set()
    assert results[1] == (False, TIMED_OUT) and results[4] == (False, TIMED_OUT)
    assert [r for ok, r in results if ok] == [0, 2, 3, 5]
    assert elapsed < 10  # two timeouts of 0.2 s, not the 30 s the jobs would take


def test_empty():
    assert run_bounded(lambda x: x, [], timeout=1) == []


def test_several_workers_keep_the_jobs_order():
    seen = set()

    def job(x):
        seen.add(threading.get_ident())
        time.sleep(0.001)
        return x * 3

    results = run_bounded(job, list(range(200)), timeout=5, workers=4)
    assert results == [(True, x * 3) for x in range(200)]
    assert len(seen) > 1  # the jobs really were shared out


def test_a_blocked_job_holds_up_one_worker_only():
    others_done = threading.Event()

    def job(x):
        if x == 0:
            return others_done.wait(30)  # blocked until the last job has run
        if x == 49:
            others_done.set()
        return x

    # no stall relief (stall past the timeout): only the second worker can run the others
    results = run_bounded(job, list(range(50)), timeout=5, workers=2, stall=10)
    assert results == [(True, True)] + [(True, x) for x in range(1, 50)]
    others_done.clear()
    alone = run_bounded(job, list(range(50)), timeout=0.3, workers=1, stall=10)
    assert alone[0] == (False, TIMED_OUT)  # one worker: job 0 waits out its timeout first


def test_workers_must_be_positive():
    import pytest

    with pytest.raises(ValueError, match="workers"):
        run_bounded(lambda x: x, [1], timeout=1, workers=0)


def test_jobs_that_hang_together_cost_one_timeout_not_one_each():
    release = threading.Event()
    hung = {2, 5, 7, 11, 13, 17}

    def job(x):
        if x in hung:
            release.wait(30)  # six pipes that never answer
        return x

    started = time.monotonic()
    try:
        results = run_bounded(job, list(range(20)), timeout=1.0)
    finally:
        release.set()
    elapsed = time.monotonic() - started
    assert [i for i, (ok, r) in enumerate(results) if r is TIMED_OUT] == sorted(hung)
    assert [r for ok, r in results if ok] == [x for x in range(20) if x not in hung]
    assert elapsed < 3.0  # one after the other they would take 6 s


def test_a_slow_job_does_not_hold_up_the_next_ones():
    release = threading.Event()
    order = []

    def job(x):
        if x == 0:
            release.wait(2)  # slow, but within the timeout
        order.append(x)
        if x == 3:
            release.set()
        return x

    results = run_bounded(job, list(range(4)), timeout=5, stall=0.05)
    assert results == [(True, x) for x in range(4)]
    assert order[-1] == 0  # the others ran while job 0 was stalled, and let it finish
