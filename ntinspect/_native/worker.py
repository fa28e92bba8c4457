"""Run calls that may block forever (NtQueryObject on a synchronous pipe) within a time bound.

Jobs are taken in order by ``workers`` helper threads. A job that has run for ``stall``
seconds no longer holds up the others: its thread stops counting as a worker and a fresh
thread takes the next jobs, so jobs that hang at once wait out their timeouts together,
not one after another. A job that outlives ``timeout`` is abandoned: its pending
synchronous I/O is cancelled with CancelSynchronousIo and whatever it returns later is
dropped. So the caller's wall time is the ordinary work plus about one ``timeout``, however
many jobs hang (up to ``MAX_STALLED`` threads wait at once; more wait their turn).

The caller sleeps until the next job could stall or time out, not once per job: a job
costs its thread one uncontended lock, which keeps thousands of short native calls cheap.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

TIMED_OUT = object()
"""Result marker for a job abandoned after its timeout."""

THREAD_TERMINATE = 0x0001
MAX_STALLED = 64
"""At most this many threads wait on stalled jobs at once."""


class _Pool:
    """Shared state: the next job to hand out, the results, the live threads."""

    def __init__(self, fn: Callable, jobs: Sequence) -> None:
        self.fn, self.jobs = fn, jobs
        self.results: List[Tuple[bool, Any]] = [(False, TIMED_OUT)] * len(jobs)
        self.next = 0
        self.lock = threading.Condition()
        self.runners: List[_Runner] = []


class _Runner(threading.Thread):
    def __init__(self, pool: _Pool) -> None:
        super().__init__(name="ntinspect-bounded", daemon=True)
        self.pool = pool
        self.index: Optional[int] = None  # the job running now
        self.started_at = 0.0
        self.stalled = False  # its job ran past the stall time: it takes no further jobs
        self.abandoned = False
        self.thread_id = 0

    def claim(self) -> bool:
        """Take the next job (called with the pool's lock held)."""
        pool = self.pool
        if self.abandoned or self.stalled or pool.next >= len(pool.jobs):
            self.index = None
            pool.runners.remove(self)
            pool.lock.notify_all()
            return False
        self.index, pool.next = pool.next, pool.next + 1
        self.started_at = time.monotonic()
        return True

    def run(self) -> None:
        self.thread_id = threading.get_native_id()  # GetCurrentThreadId() on Windows
        pool = self.pool
        with pool.lock:
            if not self.claim():
                return
        while True:
            try:
                outcome: Tuple[bool, Any] = (True, pool.fn(pool.jobs[self.index]))
            except Exception as error:  # the caller decides what a failure means
                outcome = (False, error)
            with pool.lock:
                if self.abandoned:
                    return
                pool.results[self.index] = outcome
                if not self.claim():
                    return


def _cancel_io(thread_id: int) -> None:
    import sys

    from . import dlls

    if not thread_id or sys.platform != "win32":
        return
    kernel32 = dlls().kernel32
    thread = kernel32.OpenThread(THREAD_TERMINATE, 0, thread_id)
    if thread:
        try:
            kernel32.CancelSynchronousIo(thread)
        finally:
            kernel32.CloseHandle(thread)


def run_bounded(fn: Callable[[Any], Any], jobs: Sequence, timeout: float,
                workers: int = 1, stall: Optional[float] = None) -> List[Tuple[bool, Any]]:
    """``[(ok, result_or_exception)]`` for each job, in the jobs' order, or
    ``(False, TIMED_OUT)`` where a job did not return within ``timeout`` seconds.

    ``workers`` threads run the jobs at once (1: one after the other while none stalls).
    ``stall`` (default: a tenth of the timeout, at most 0.05 s) is when a running job
    stops holding up the next ones.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    stall = min(timeout / 10, 0.05) if stall is None else stall
    pool = _Pool(fn, jobs)
    abandoned: List[_Runner] = []

    def spawn() -> None:
        runner = _Runner(pool)
        pool.runners.append(runner)
        runner.start()

    with pool.lock:
        for _ in range(min(workers, len(jobs))):
            spawn()
        while pool.runners:
            now = time.monotonic()
            for runner in [r for r in pool.runners if r.index is not None and now - r.started_at >= timeout]:
                runner.abandoned = True
                pool.runners.remove(runner)
                abandoned.append(runner)
            stalled = [r for r in pool.runners if r.stalled]
            for runner in pool.runners:
                if (runner.index is not None and not runner.stalled and now - runner.started_at >= stall
                        and len(stalled) < MAX_STALLED):
                    runner.stalled = True
                    stalled.append(runner)
            active = [r for r in pool.runners if not r.stalled]
            for _ in range(min(workers - len(active), len(jobs) - pool.next)):
                spawn()
            # a fresh thread has not taken its job yet: look again after a stall's time
            deadlines = [now + stall if r.index is None else
                         r.started_at + (stall if not r.stalled and now - r.started_at < stall else timeout)
                         for r in pool.runners]
            if deadlines:
                pool.lock.wait(max(min(deadlines) - now, 0.001))
    for runner in abandoned:
        _cancel_io(runner.thread_id)
    return pool.results
