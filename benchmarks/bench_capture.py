"""capture() and replay against a plain handles() call, one run, 100,000 extra handles, names off.

Run inside the Wine bench (or on Windows), then (optional) the host replay of the same file:
    python3 tools/winebench.py --python 3.13 setup
    python3 tools/winebench.py --python 3.13 benchmark bench_capture
    python3 tools/winebench.py host-benchmark bench_capture

Rows (interleaved rounds, best of REPEATS, so every row sees the same drift of the CPUs):
- ``handles()``: the live call (process names, handle table, calibrated types).
- ``capture(names=False, ports=False, details=False)``: the answers ``handles()`` reads
  (process list, handle table, object types and the calibration's observations) with the
  drive map and the OS identity, recorded and written: compressed, SHA-256 per part. Goal:
  at most 1.5x ``handles()``.
- ``capture(names=False, ports=False)``: the same and each process's details (user, image
  path, command line, WoW64: 13 native calls a process, which ``handles()`` does not make),
  what the default capture adds.
- ``open(capture).handles()``: the file opened, checked and parsed into the same
  HandleTable. Goal: at most 1.5x ``handles()``.
- bytes per handle in the file.

On the host (no Windows), the script replays the capture the Wine run left in the
checkout's ``.cache/bench/bench_capture/`` and compares with the live time recorded there.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script (host-benchmark): the checkout on sys.path
    sys.path.append(str(Path(__file__).resolve().parent.parent))  # after site-packages: the installed ntinspect
from benchmarks.bench_handles import CHILD  # noqa: E402  a child holding CHILD_HANDLES (100,000) events
from benchmarks.timing import best, best_interleaved  # noqa: E402

REPEATS = 11
"""Rounds: with 5, a row's best still moved by 15% between runs on the 2-core bench."""
KEEP = Path(__file__).resolve().parent.parent / ".cache" / "bench" / "bench_capture"


def same_table(a, b) -> bool:
    """Every column and every type name of two HandleTables are equal."""
    import numpy as np

    return len(a) == len(b) and all(np.array_equal(a.columns[k], b.columns[k]) for k in a.columns) \
        and a.type.tolist() == b.type.tolist() and dict(a.process_names) == dict(b.process_names)


def live() -> int:
    import ntinspect
    from ntinspect.sources.live import RecordingSource
    from ntinspect.sources.snapshot import write_capture

    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    work = Path(tempfile.mkdtemp(prefix="ntinspect-bench-capture-"))
    try:
        made = int(child.stdout.readline())
        path = work / "bench.ntcap"
        recorder = RecordingSource()  # the live table of the capture's instant, to compare the replay with
        at_capture = recorder.handles()
        recorder.processes(details=True)
        write_capture(recorder, path, {"names": False, "ports": False, "namespace": False, "details": True})
        counter = iter(range(1_000_000))

        def capture():
            ntinspect.capture(work / f"c{next(counter)}.ntcap", names=False, ports=False)

        def capture_without_details():
            ntinspect.capture(work / f"c{next(counter)}.ntcap", names=False, ports=False, details=False)

        def replay():
            with ntinspect.open(path) as source:
                return source.handles()

        ntinspect.handles()  # warm: imports, the type calibration of the live source
        rows = best_interleaved({"handles()": ntinspect.handles,
                                 "capture(names=False, ports=False, details=False)": capture_without_details,
                                 "capture(names=False, ports=False)": capture,
                                 "open(capture).handles()": replay}, REPEATS)
        recorded = replay()
        total = len(recorded)
        size = path.stat().st_size
        print(f"handles in the capture: {total} (child made {made})")
        print(f"replay gives the live table of the capture's instant: {same_table(recorded, at_capture)}")
        report(rows, "handles()")
        print(f"\nfile: {size} bytes, {size / total:.2f} bytes a handle "
              f"(raw class 64 table: {16 + total * 40 if sys.maxsize > 2 ** 32 else 8 + total * 28} bytes)")
        KEEP.mkdir(parents=True, exist_ok=True)
        os.replace(path, KEEP / "bench.ntcap")
        (KEEP / "live.json").write_text(json.dumps({"handles_seconds": rows["handles()"], "handles": total}))
    finally:
        for leftover in work.glob("*"):
            leftover.unlink()
        work.rmdir()
        try:
            child.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # closing 100,000 handles is slow under Wine
            child.kill()
            child.wait(30)
    return 0


def report(rows, base: str) -> None:
    print(f"\n{'what':50} {'seconds':>9} {'x ' + base:>12}")
    for what, seconds in rows.items():
        print(f"{what:50} {seconds:9.4f} {seconds / rows[base]:12.2f}")


def host() -> int:
    import ntinspect

    capture, recorded = KEEP / "bench.ntcap", KEEP / "live.json"
    if not capture.exists():
        print(f"no capture in {KEEP}: run the benchmark in the Wine bench first")
        return 1
    live_seconds = json.loads(recorded.read_text())["handles_seconds"]

    def replay():
        with ntinspect.open(capture) as source:
            return source.handles()

    seconds = best(replay, REPEATS)
    print(f"host replay of the Wine capture ({len(replay())} handles): {seconds:.4f} s, "
          f"{seconds / live_seconds:.2f}x the live handles() under Wine ({live_seconds:.4f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(live() if sys.platform == "win32" else host())
