"""Run calls that may block forever (NtQueryObject on a synchronous pipe) within a time bound.

Jobs are taken in order by ``workers`` helper threads. A job that has run for ``stall``
seconds no longer holds up the others: its thread stops counting as a worker and a fresh
thread takes the next jobs, so jobs that hang at once wait out their timeouts together,
not one after another. A job that outlives ``timeout`` is abandoned: its pending
synchronous I/O is cancelled with CancelSynchronousIo and whatever it returns later is
dropped. So the caller's wall time is the ordinary work plus about one ``timeout``, however
many jobs hang (up to ``MAX_STALLED`` stalled jobs are waited out at once; more wait their
turn). A thread whose call ignores the cancel stays blocked, abandoned, until it returns.

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
        self.cancel_handle: Any = None  # a handle to this thread, to cancel its I/O (Windows)

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
        handle = _own_thread_handle()
        with self.pool.lock:
            self.cancel_handle = handle
        try:
            self._work()
        finally:
            with self.pool.lock:  # the caller cancels only under the lock: never a closed handle
                handle, self.cancel_handle = self.cancel_handle, None
            _close_thread_handle(handle)

    def _work(self) -> None:
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


def _own_thread_handle() -> Any:
    """A real handle to the calling thread (Windows), for CancelSynchronousIo; else None.

    Opened by the thread itself while it runs, so its id cannot belong to another thread,
    and kept until it ends: a cancel never reaches a thread that reused the id."""
    import sys

    if sys.platform != "win32":
        return None
    from . import dlls

    return dlls().kernel32.OpenThread(THREAD_TERMINATE, 0, threading.get_native_id()) or None


def _close_thread_handle(handle: Any) -> None:
    if handle is not None:
        from . import dlls

        dlls().kernel32.CloseHandle(handle)


def _cancel_io(runner: "_Runner") -> None:
    """Cancel the abandoned runner's pending synchronous I/O (called with the pool's lock)."""
    if runner.cancel_handle is not None:
        from . import dlls

        dlls().kernel32.CancelSynchronousIo(runner.cancel_handle)


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
                _cancel_io(runner)  # now: its thread is released while the others go on
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
            first = min(stall, timeout)
            deadlines = [now + first if r.index is None else
                         r.started_at + (first if not r.stalled and now - r.started_at < first else timeout)
                         for r in pool.runners]
            if deadlines:
                pool.lock.wait(max(min(deadlines) - now, 0.001))
    return pool.results
