"""The one timer every benchmark uses: best of several runs, after a garbage collection."""
from __future__ import annotations

import gc
import time
from typing import Callable


def best(function: Callable[[], object], repeats: int) -> float:
    """The shortest wall time of ``repeats`` calls, each after ``gc.collect()``."""
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)
