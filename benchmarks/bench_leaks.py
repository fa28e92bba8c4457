"""1,000 calls of handles(names=True) and of ports(): this process's handle count (its rows in
the raw handle table), thread count and memory, sampled every 100 calls, must stay flat.

Run inside the Wine bench (or on Windows):
    python3 tools/winebench.py --python 3.13 setup
    python3 tools/winebench.py --python 3.13 benchmark bench_leaks
``NTINSPECT_LEAK_CALLS`` changes the count (default 1,000). Exit status 1 if a resource grew
(handles by more than 2, threads by more than 1, traced Python memory by more than 1 MiB
between the sample after the first tenth of the calls and the last one, not counting what
imports allocate: a module the library imports on first need is loaded once). tests/api/test_leaks_live.py runs the bounded version.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from resources import sample  # noqa: E402  (the tests' own sampler: handles, threads, memory)

CALLS = int(os.environ.get("NTINSPECT_LEAK_CALLS", "1000"))
EVERY = max(CALLS // 10, 1)

HOLDER = r"""
import ctypes, socket, sys
k32 = ctypes.WinDLL("kernel32")
k32.CreateEventW.restype = ctypes.c_void_p
events = [k32.CreateEventW(None, True, False, None) for _ in range(200)]
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
client = socket.create_connection(listener.getsockname()); server, _ = listener.accept()
print("ready", flush=True)
sys.stdin.read()
"""


def growth(later: tracemalloc.Snapshot, earlier: tracemalloc.Snapshot) -> int:
    """Bytes traced in ``later`` minus those in ``earlier``."""
    return sum(stat.size_diff for stat in later.compare_to(earlier, "filename"))


def main() -> int:
    import ntinspect

    child = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    try:
        child.stdout.readline()
        for _ in range(3):  # warm-up: caches, the drive map, the DLLs' own handles
            ntinspect.handles(names=True)
            ntinspect.ports()
        tracemalloc.start(8)
        samples = [(0, sample(), 0.0)]
        snapshots = [tracemalloc.take_snapshot()]
        started = time.perf_counter()
        for call in range(1, CALLS + 1):
            rows = len(ntinspect.handles(names=True))  # no result is kept across a sample
            endpoints = len(ntinspect.ports())
            if call % EVERY == 0:
                samples.append((call, sample(), time.perf_counter() - started))
                if call == EVERY:
                    snapshots.append(tracemalloc.take_snapshot())
        snapshots.append(tracemalloc.take_snapshot())
        tracemalloc.stop()
        print(f"{CALLS} calls each of handles(names=True) ({rows} rows) and ports() ({endpoints} endpoints)")
        print(f"\n{'calls':>6} {'handles':>8} {'threads':>8} {'py threads':>11} {'rss MiB':>8} "
              f"{'traced KiB':>11} {'seconds':>8}")
        for call, s, seconds in samples:
            print(f"{call:6} {s.handles:8} {s.threads:8} {s.python_threads:11} {s.rss / 2**20:8.1f} "
                  f"{s.traced / 1024:11.1f} {seconds:8.1f}")
        # the first interval fills bounded caches and high-water marks (lru caches, the
        # held-duplicates table); a leak keeps growing after it
        first, last = samples[1 if len(samples) > 2 else 0][1], samples[-1][1]
        print(f"\nfirst {EVERY} calls (warm-up of bounded caches): traced memory "
              f"{(samples[1][1].traced - samples[0][1].traced) / 1024:+.1f} KiB, handles "
              f"{samples[1][1].handles - samples[0][1].handles:+d}")
        # memory allocated while a module was imported is code and constants loaded once (the
        # library imports some modules on first need: the NTSTATUS name table when an error
        # is first named, at a call no one can foresee); it is reported, not counted as growth
        imports = [tracemalloc.Filter(False, "<frozen importlib._bootstrap>", all_frames=True)]
        base = snapshots[min(1, len(snapshots) - 2)]
        other = growth(snapshots[-1].filter_traces(imports), base.filter_traces(imports))
        loaded = growth(snapshots[-1], base) - other
        print(f"after the first tenth: traced memory {other / 1024:+.1f} KiB outside imports, "
              f"{loaded / 1024:+.1f} KiB in modules imported on first need")
        grew = {"handles": last.handles - first.handles > 2, "threads": last.threads - first.threads > 1,
                "python threads": last.python_threads != first.python_threads,
                "traced memory": other > 1 << 20}
        from ntinspect._native import files

        print(f"AFD requests abandoned while pending (their buffers kept for the driver): {len(files._ABANDONED)}")
        print("\nwhere traced memory grew after the first tenth (top 3):")
        for stat in snapshots[-1].compare_to(base, "traceback")[:3]:
            print(f"  {stat.size_diff:+} B in {stat.count_diff:+} blocks at", " <- ".join(
                f"{frame.filename.rsplit(chr(92), 1)[-1]}:{frame.lineno}" for frame in list(stat.traceback)[::-1][:4]))
        print("\nflat:", "yes" if not any(grew.values()) else f"no: {[k for k, v in grew.items() if v]}")
        return 1 if any(grew.values()) else 0
    finally:
        child.communicate(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
