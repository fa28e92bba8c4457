"""The timers every benchmark uses: best of several runs, each after a garbage collection."""
from __future__ import annotations

import gc
import time
from typing import Callable, Dict, List


def best(function: Callable[[], object], repeats: int) -> float:
    """The shortest wall time of ``repeats`` calls, each after ``gc.collect()``."""
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def best_interleaved(functions: Dict[str, Callable[[], object]], rounds: int) -> Dict[str, float]:
    """The shortest wall time of each function over ``rounds`` rounds, each round calling every
    function once in turn: on a machine whose speed drifts (shared or virtual CPUs), each
    function sees the same drift, so their ratios hold better than with back-to-back runs."""
    times: Dict[str, List[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            gc.collect()
            started = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - started)
    return {name: min(values) for name, values in times.items()}
