"""Kept worker threads: one process-wide pool per job, started on first use and kept.

Starting a thread costs about 1 ms under Wine 8 (start and join, measured), as long as the
work it would do (a capture's writing, a handful of processes' details), so the library's
background work runs on threads made once per process. They wait idle between uses; the
interpreter joins them at exit.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Tuple

__all__ = ["kept_pool"]

_POOLS: Dict[Tuple[str, int], ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def kept_pool(job: str, workers: int = 1) -> ThreadPoolExecutor:
    """The process-wide pool of ``workers`` threads for ``job`` (its threads are named
    ``ntinspect-<job>``), made on first use. ValueError for fewer than one worker."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    with _LOCK:
        pool = _POOLS.get((job, workers))
        if pool is None:
            pool = _POOLS[(job, workers)] = ThreadPoolExecutor(workers, thread_name_prefix=f"ntinspect-{job}")
        return pool
