"""Timing one strategy: warm-up runs, then timed runs within a time budget, then one run
under tracemalloc for the peak memory."""
from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from dataclasses import dataclass
from typing import List, Optional

from .strategies import Run


@dataclass(frozen=True)
class Timing:
    """The outcome of :func:`measure`: every timed run's wall time (seconds, perf_counter),
    the handles the last run produced, and the peak of traced allocations during one extra
    run (bytes; Python and numpy allocations as tracemalloc sees them, None when not taken)."""

    seconds: List[float]
    warmup: int
    handles: int
    peak_memory_bytes: Optional[int]

    @property
    def summary(self) -> dict:
        """``{"min", "median", "max"}`` of the timed runs, in seconds."""
        return {"min": min(self.seconds), "median": statistics.median(self.seconds), "max": max(self.seconds)}

    @property
    def handles_per_second(self) -> Optional[float]:
        """Handles of one run divided by the median time; None when the median is 0."""
        median = statistics.median(self.seconds)
        return self.handles / median if median > 0 else None


def timed(run: Run) -> tuple:
    """One call of ``run`` after a garbage collection: (seconds, handles)."""
    gc.collect()
    started = time.perf_counter()
    handles = run()
    return time.perf_counter() - started, handles


def measure(run: Run, *, warmup: int = 1, repeats: int = 5, budget: float = 10.0, memory: bool = True) -> Timing:
    """Time ``run``: ``warmup`` untimed calls (caches, lazy imports, the grow loop's learned
    buffer size), then up to ``repeats`` timed calls, stopping early once warm-up and timed
    calls together have taken ``budget`` seconds (at least one timed call is always made).
    With ``memory``, one more call under tracemalloc gives the peak (tracing slows it; it is
    not among the timed calls), unless the fastest timed call alone took the whole budget
    (then the peak is None: the run time stays bounded)."""
    if warmup < 0 or repeats < 1 or not budget > 0:
        raise ValueError(f"warmup >= 0, repeats >= 1 and budget > 0 are needed, not {warmup}, {repeats}, {budget}")
    spent = 0.0
    for _ in range(warmup):
        seconds, _ = timed(run)
        spent += seconds
    times: List[float] = []
    handles = 0
    while len(times) < repeats and (not times or spent < budget):
        seconds, handles = timed(run)
        times.append(seconds)
        spent += seconds
    peak = None
    if memory and min(times) < budget:
        gc.collect()
        already = tracemalloc.is_tracing()
        if not already:
            tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        try:
            run()
            peak = max(0, tracemalloc.get_traced_memory()[1] - base)
        finally:
            if not already:
                tracemalloc.stop()
    return Timing(times, warmup, int(handles), peak)
