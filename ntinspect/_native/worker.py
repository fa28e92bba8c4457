"""Run calls that may block forever (NtQueryObject on a synchronous pipe) within a time bound.

Jobs run in order on one helper thread. When a job outlives ``timeout``, the caller stops
waiting for it: the thread is abandoned (its pending synchronous I/O is cancelled with
CancelSynchronousIo, and whatever it returns later is dropped) and a fresh thread takes the
remaining jobs. So each unresponsive job costs the caller at most ``timeout``.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, List, Sequence, Tuple

TIMED_OUT = object()
"""Result marker for a job abandoned after its timeout."""

THREAD_TERMINATE = 0x0001


class _Runner(threading.Thread):
    def __init__(self, fn: Callable, jobs: Sequence, results: List, lock: threading.Condition, start: int) -> None:
        super().__init__(name="ntinspect-bounded", daemon=True)
        self.fn, self.jobs, self.results, self.lock = fn, jobs, results, lock
        self.index = start
        self.started_at = time.monotonic()
        self.abandoned = False
        self.thread_id = 0

    def run(self) -> None:
        self.thread_id = threading.get_native_id()  # GetCurrentThreadId() on Windows
        while True:
            with self.lock:
                if self.abandoned or self.index >= len(self.jobs):
                    self.lock.notify_all()
                    return
                index = self.index
                self.started_at = time.monotonic()
            try:
                outcome: Tuple[bool, Any] = (True, self.fn(self.jobs[index]))
            except Exception as error:  # the caller decides what a failure means
                outcome = (False, error)
            with self.lock:
                if self.abandoned:
                    return
                self.results[index] = outcome
                self.index += 1
                self.lock.notify_all()


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


def run_bounded(fn: Callable[[Any], Any], jobs: Sequence, timeout: float) -> List[Tuple[bool, Any]]:
    """``[(ok, result_or_exception)]`` for each job, or ``(False, TIMED_OUT)`` where a job
    did not return within ``timeout`` seconds."""
    results: List[Tuple[bool, Any]] = [(False, TIMED_OUT)] * len(jobs)
    lock = threading.Condition()
    index = 0
    while index < len(jobs):
        runner = _Runner(fn, jobs, results, lock, index)
        with lock:
            runner.start()
            while runner.index < len(jobs):
                remaining = runner.started_at + timeout - time.monotonic()
                if remaining <= 0:
                    runner.abandoned = True
                    break
                lock.wait(remaining)
            index = runner.index + 1 if runner.abandoned else runner.index
        if runner.abandoned:
            _cancel_io(runner.thread_id)
        else:
            runner.join(timeout)
    return results
