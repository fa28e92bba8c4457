"""1,000,000 handles across several child processes: handles(), handles(names=True),
ports() and a capture (ntinspect.capture(), checked to replay the same handle count),
their time and memory, against the bare NtQuerySystemInformation(64) call.

Run inside the Wine bench (or on Windows):
    python3 tools/winebench.py --python 3.13 setup
    python3 tools/winebench.py --python 3.13 benchmark bench_scale
``NTINSPECT_SCALE_HANDLES`` changes the total (default 1,000,000, over 10 children).
"""
from __future__ import annotations

import collections
import gc
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from benchmarks.bench_handles import CHILD_TEMPLATE as CHILD, bare_syscall
from benchmarks.timing import best

TOTAL = int(os.environ.get("NTINSPECT_SCALE_HANDLES", "1000000"))
CHILDREN = 10
REPEATS = 3
NAME_TIMEOUT = 1.0


def peak_working_set() -> int:
    import psutil

    return psutil.Process().memory_info().peak_wset


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> int:
    import ntinspect

    per_child = TOTAL // CHILDREN
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, "-c", CHILD % per_child], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True) for _ in range(CHILDREN)]
    try:
        made = sum(int(child.stdout.readline()) for child in children)
        print(f"{CHILDREN} children made {made} events in {time.perf_counter() - started:.1f} s")
        peak_before = peak_working_set()
        seconds, table = timed(ntinspect.handles)
        total = len(table)
        print(f"handles in the system: {total}; first handles() call {seconds:.3f} s (calibration included)")
        del table
        raw = 16 + total * 40
        floor = best(bare_syscall(raw + (raw >> 2)), REPEATS)
        ours = best(ntinspect.handles, REPEATS)
        gc.collect()
        tracemalloc.start()
        kept = ntinspect.handles()
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del kept
        gc.collect()
        names_seconds, named = timed(lambda: ntinspect.handles(names=True, name_timeout=NAME_TIMEOUT))
        statuses = collections.Counter(named.name_status.tolist())
        named_rows = len(named)
        del named
        gc.collect()
        ports_seconds, found = timed(ntinspect.ports)
        with tempfile.TemporaryDirectory(prefix="ntinspect-bench-scale-") as folder:
            path = Path(folder) / "scale.ntcap"
            capture_seconds, _ = timed(lambda: ntinspect.capture(path, names=True, name_timeout=NAME_TIMEOUT))
            capture_bytes = path.stat().st_size
            live_count = len(ntinspect.handles(pid=[child.pid for child in children]))
            with ntinspect.open(path) as replay:
                replayed = len(replay.handles(pid=[child.pid for child in children]))
        if replayed != live_count:
            print(f"FAILED: the capture replays {replayed} handles of the children, the live table has {live_count}")
            return 1
        peak_after = peak_working_set()

        print(f"\n{'what':58} {'seconds':>9} {'x bare':>8}")
        print(f"{'bare NtQuerySystemInformation(64), warm pre-sized buffer':58} {floor:9.4f} {1:8.2f}")
        print(f"{'ntinspect.handles() (types + process names)':58} {ours:9.4f} {ours / floor:8.2f}")
        print(f"{'ntinspect.handles(names=True), once':58} {names_seconds:9.2f} {names_seconds / floor:8.0f}")
        print(f"{'ntinspect.ports(), once':58} {ports_seconds:9.3f}")
        print(f"{'ntinspect.capture() (names, ports), once':58} {capture_seconds:9.2f} {capture_seconds / floor:8.0f}")
        print(f"\nhandles(names=True): {named_rows} rows, statuses {dict(statuses)}")
        print(f"ports(): {len(found)} endpoints")
        print(f"capture: {capture_bytes / 2**20:.1f} MiB; replays {replayed} handles of the children "
              f"(live table: {live_count})")
        print(f"raw buffer: {raw} bytes ({raw / total:.0f} a handle)")
        print(f"handles(): peak traced allocations above the raw buffer {traced_peak} bytes, "
              f"{traced_peak / total:.1f} bytes a handle (goal <= 100)")
        print(f"handles() vs bare: {ours / floor:.2f}x (goal <= 2x)")
        print(f"peak working set of this process: {peak_before / 2**20:.0f} MiB before the calls, "
              f"{peak_after / 2**20:.0f} MiB after them")
    finally:
        for child in children:
            child.kill()  # closing 100,000 handles takes Wine over 10 s a process
        for child in children:
            child.wait(120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
