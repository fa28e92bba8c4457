"""Run calls that may block forever (NtQueryObject on a synchronous pipe) within a time bound.

Jobs are taken in order by up to ``workers`` helper threads. When a job outlives
``timeout``, the caller stops waiting for it: its thread is abandoned (its pending
synchronous I/O is cancelled with CancelSynchronousIo, and whatever it returns later is
dropped) and a fresh thread takes the remaining jobs. So each unresponsive job costs the
caller at most ``timeout``, and the others still run.

The caller sleeps until the oldest running job could time out, not once per job: a job
costs its thread one uncontended lock, which keeps thousands of short native calls cheap.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, List, Optional, Sequence, Tuple

TIMED_OUT = object()
"""Result marker for a job abandoned after its timeout."""

THREAD_TERMINATE = 0x0001


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
        self.abandoned = False
        self.thread_id = 0

    def claim(self) -> bool:
        """Take the next job (called with the pool's lock held)."""
        pool = self.pool
        if self.abandoned or pool.next >= len(pool.jobs):
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
                workers: int = 1) -> List[Tuple[bool, Any]]:
    """``[(ok, result_or_exception)]`` for each job, in the jobs' order, or
    ``(False, TIMED_OUT)`` where a job did not return within ``timeout`` seconds.

    ``workers`` threads run the jobs at once (1: strictly one after the other).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    pool = _Pool(fn, jobs)
    abandoned: List[_Runner] = []
    with pool.lock:
        for _ in range(min(workers, len(jobs))):
            runner = _Runner(pool)
            pool.runners.append(runner)
            runner.start()
        while pool.runners:
            now = time.monotonic()
            running = [r for r in pool.runners if r.index is not None]
            late = [r for r in running if now - r.started_at >= timeout]
            for runner in late:
                runner.abandoned = True
                pool.runners.remove(runner)
                abandoned.append(runner)
                if pool.next < len(jobs):
                    fresh = _Runner(pool)
                    pool.runners.append(fresh)
                    fresh.start()
            if late:
                continue
            oldest = min((r.started_at for r in running), default=now)
            pool.lock.wait(max(oldest + timeout - now, 0.001))
    for runner in abandoned:
        _cancel_io(runner.thread_id)
    return pool.results
