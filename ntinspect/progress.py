"""Progress reports for long work (name resolution, socket scans).

The API takes an optional ``progress(done, total)`` callable; :class:`Ticker` calls it
from whichever thread finishes a step, one call at a time. The CLI passes
:func:`terminal_bar`: a tqdm bar on stderr when stderr is a terminal and tqdm is installed
(the ``progress`` extra), nothing otherwise.
"""
from __future__ import annotations

import threading
from typing import Callable, Optional

__all__ = ["ProgressCallback", "Ticker", "terminal_bar"]

ProgressCallback = Callable[[int, int], None]


class Ticker:
    """Counts finished steps of ``total`` and reports each to ``callback`` (if any): once
    at the start (0 of total), once per ``tick()``, and once at ``finish()`` (total of
    total, also when some steps were abandoned, e.g. timed-out queries; their late ticks
    are ignored)."""

    def __init__(self, callback: Optional[ProgressCallback], total: int) -> None:
        self.callback = callback
        self.total = total
        self.done = 0
        self.finished = False
        self._lock = threading.Lock()
        self._report(0)

    def _report(self, done: int) -> None:
        if self.callback is not None:
            self.callback(done, self.total)

    def tick(self, steps: int = 1) -> None:
        with self._lock:
            if self.finished:
                return  # a step abandoned at finish() that ended later
            self.done = min(self.done + steps, self.total)
            self._report(self.done)

    def finish(self) -> None:
        with self._lock:
            self.finished = True
            if self.done < self.total:
                self.done = self.total
                self._report(self.done)


def terminal_bar(description: str, stream=None) -> Optional[ProgressCallback]:
    """A ``progress(done, total)`` that draws a tqdm bar on ``stream`` (stderr), or None when
    the stream is not a terminal or tqdm is not installed (so nothing is drawn)."""
    import sys

    stream = sys.stderr if stream is None else stream
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    state = {}

    def report(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=description, file=stream, leave=False,
                                      unit="handle", dynamic_ncols=True)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report
