"""Bulk parse of a SYSTEM_HANDLE_INFORMATION_EX buffer (x64, 1,000,000 entries), one run:
construct's compiled parse, ntinspect's bulk parser (``ntinspect.layouts.handle_table``) and
a bare ``numpy.frombuffer`` with a hand-written dtype. Best of several repeats (perf_counter).

Reproduce from the repository root:
    PYTHONPATH=. python3 -m benchmarks.bench_bulk_parse
or in the Wine bench (x64 CPython for Windows):
    python3 tools/winebench.py --python 3.13 setup
    python3 tools/winebench.py --python 3.13 benchmark bench_bulk_parse

Goals: ours <= 1/20 of construct compiled, and <= 2x bare frombuffer. Both numpy results are
zero-copy views; the bare baseline reads the header count too (it needs it to be correct).
"""
from __future__ import annotations

import argparse
import platform
import struct
import sys
from typing import Callable, List

import numpy as np

from benchmarks.timing import best
from ntinspect.layouts import handle_table, x64

ENTRIES = 1_000_000
SAMPLE = 100_000
"""Construct parses this many entries when the full table would take too long; the time is scaled."""
CONSTRUCT_BUDGET = 10.0
"""Seconds one full construct parse may take before the benchmark falls back to SAMPLE entries."""

# Written by hand from phnt's SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX, independent of the layouts.
HAND_DTYPE = np.dtype([
    ("Object", "<u8"), ("UniqueProcessId", "<u8"), ("HandleValue", "<u8"), ("GrantedAccess", "<u4"),
    ("CreatorBackTraceIndex", "<u2"), ("ObjectTypeIndex", "<u2"), ("HandleAttributes", "<u4"),
    ("Reserved", "<u4"),
])
HEADER = struct.Struct("<QQ")


def synthetic_buffer(count: int) -> bytes:
    """A class 64 buffer of ``count`` plausible entries (built with numpy, not with the layouts)."""
    index = np.arange(count, dtype=np.uint64)
    entries = np.zeros(count, HAND_DTYPE)
    entries["Object"] = 0xFFFF_8000_0000_0000 + index * 0x60
    entries["UniqueProcessId"] = 4 * (index % 500 + 1)
    entries["HandleValue"] = 4 * (index % 20_000 + 1)
    entries["GrantedAccess"] = np.where(index % 3 == 0, 0x0012019F, 0x001F0003)
    entries["ObjectTypeIndex"] = (index % 40 + 2).astype(np.uint16)
    entries["HandleAttributes"] = (index % 3).astype(np.uint32)
    return HEADER.pack(count, 0) + entries.tobytes()


def per_call(function: Callable[[], object], repeats: int, number: int = 1) -> float:
    """The best time of one call: ``number`` calls per timed run (microsecond-scale paths
    need many), best of ``repeats`` runs of the shared timer."""
    def run() -> None:
        for _ in range(number):
            function()

    return best(run, repeats) / number


def bare_frombuffer(data: bytes) -> np.ndarray:
    count = HEADER.unpack_from(data)[0]
    return np.frombuffer(data, HAND_DTYPE, count, HEADER.size)


def time_construct(data: bytes, repeats: int) -> tuple:
    """Construct's compiled parse time for the whole table, measured or scaled from SAMPLE."""
    compiled = x64.compiled("SYSTEM_HANDLE_INFORMATION_EX")
    sample = synthetic_buffer(SAMPLE)
    probe = best(lambda: compiled.parse(sample), 1)
    if probe * ENTRIES / SAMPLE <= CONSTRUCT_BUDGET:
        return best(lambda: compiled.parse(data), repeats), f"measured on {ENTRIES:,} entries"
    scaled = best(lambda: compiled.parse(sample), repeats) * ENTRIES / SAMPLE
    return scaled, f"measured on {SAMPLE:,} entries and scaled x{ENTRIES // SAMPLE}"


def check_results(data: bytes, ours: np.ndarray, bare: np.ndarray) -> None:
    """The three parsers agree (construct on a sample of entries)."""
    assert ours.dtype == bare.dtype and len(ours) == len(bare) == ENTRIES
    assert all(np.array_equal(ours[name], bare[name]) for name in HAND_DTYPE.names)
    sample = x64.compiled("SYSTEM_HANDLE_INFORMATION_EX").parse(
        HEADER.pack(3, 0) + data[HEADER.size + 40 * 12345: HEADER.size + 40 * 12348])
    for offset, entry in enumerate(sample.Handles):
        assert {name: int(ours[12345 + offset][name]) for name in HAND_DTYPE.names} == \
            {name: entry[name] for name in HAND_DTYPE.names}


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="repeats of each measurement")
    options = parser.parse_args(argv)
    data = synthetic_buffer(ENTRIES)
    ours_result, bare_result = handle_table(data, 8, 64), bare_frombuffer(data)
    check_results(data, ours_result, bare_result)

    inner = 2000  # the numpy paths take microseconds: many calls per timed run
    bare = per_call(lambda: bare_frombuffer(data), options.repeats * 4, inner)
    ours = per_call(lambda: handle_table(data, 8, 64), options.repeats * 4, inner)
    copied = best(lambda: handle_table(data, 8, 64).copy(), options.repeats)
    mine = int(ours_result["UniqueProcessId"][7])
    selected = best(lambda: handle_table(data, 8, 64)["HandleValue"][ours_result["UniqueProcessId"] == mine],
                    options.repeats)
    construct_time, how = time_construct(data, options.repeats)

    print(f"bulk parse of SYSTEM_HANDLE_INFORMATION_EX, x64, {ENTRIES:,} entries "
          f"({len(data) / 1e6:.0f} MB); best of {options.repeats}+ repeats")
    print(f"python {platform.python_version()} ({sys.platform}), numpy {np.__version__}")
    print(f"  construct compiled parse      {construct_time * 1e3:12.1f} ms   ({how})")
    print(f"  ntinspect handle_table        {ours * 1e6:12.2f} us")
    print(f"  bare numpy.frombuffer         {bare * 1e6:12.2f} us   (hand-written dtype, count read)")
    print(f"  for scale: ours + .copy()     {copied * 1e3:12.2f} ms   (an owned array)")
    print(f"  for scale: ours + one pid     {selected * 1e3:12.2f} ms   (HandleValue where pid matches)")
    speedup, overhead = construct_time / ours, ours / bare
    print(f"  ours vs construct compiled:   {speedup:,.0f}x faster   (goal >= 20x: "
          f"{'met' if speedup >= 20 else 'MISSED'})")
    print(f"  ours vs bare frombuffer:      {overhead:.2f}x the time   (goal <= 2x: "
          f"{'met' if overhead <= 2 else 'MISSED'})")
    print("reproduce: PYTHONPATH=. python3 -m benchmarks.bench_bulk_parse   (Wine bench: "
          "python3 tools/winebench.py --python 3.13 benchmark bench_bulk_parse)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
