"""handles() against the bare syscall and PythonForWindows, one run, 100,000 extra handles.

Run inside the Wine bench (or on Windows):
    python3 tools/winebench.py --python 3.13 setup
    python3 tools/winebench.py --python 3.13 benchmark bench_handles
"""
from __future__ import annotations

from benchmarks.timing import best

import gc
import subprocess
import sys
import tracemalloc

CHILD_HANDLES = 100_000
REPEATS = 7

CHILD_TEMPLATE = r"""
import ctypes, sys
k32 = ctypes.WinDLL("kernel32")
k32.CreateEventW.restype = ctypes.c_void_p
events = [k32.CreateEventW(None, True, False, None) for _ in range(%d)]
print(len([e for e in events if e]), flush=True)
sys.stdin.read()
"""
"""A child creating %d events, printing how many it made, holding them until stdin closes."""
CHILD = CHILD_TEMPLATE % CHILD_HANDLES




def bare_syscall(size: int = 64 << 20):
    """One NtQuerySystemInformation(64) into a ``size``-byte buffer already big enough: the floor."""
    from ntinspect._native import dlls, ffi

    ntdll = dlls().ntdll
    returned = ffi().new("uint32_t *")
    buffer = ffi().new_allocator(should_clear_after_alloc=False)("char[]", size)

    def call():
        status = ntdll.NtQuerySystemInformation(64, buffer, size, returned)
        assert status == 0, hex(status & 0xFFFFFFFF)

    return call


def main() -> int:
    import ntinspect

    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        made = int(child.stdout.readline())
        table = ntinspect.handles()
        total = len(table)
        print(f"handles in the system: {total} (child made {made})")
        rows = {}
        rows["bare NtQuerySystemInformation(64)"] = best(bare_syscall(), REPEATS)
        rows["ntinspect.handles() (types + process names)"] = best(lambda: ntinspect.handles(), REPEATS)
        rows["ntinspect.handles(pid=child)"] = best(lambda: ntinspect.handles(pid=child.pid), REPEATS)
        try:
            import windows

            rows["PythonForWindows windows.system.handles (no types)"] = best(lambda: windows.system.handles, 3)
            sample = [h for h in windows.system.handles if h.dwProcessId == child.pid][:1000]
            per_type = best(lambda: [h.type for h in sample], 1) / max(len(sample), 1)
        except Exception as error:  # a peer that fails is reported, not hidden
            print(f"PythonForWindows unavailable: {error!r}")
            per_type = None
        floor = rows["bare NtQuerySystemInformation(64)"]
        print(f"\n{'what':55} {'seconds':>9} {'x bare':>8}")
        for what, seconds in rows.items():
            print(f"{what:55} {seconds:9.4f} {seconds / floor:8.2f}")
        pfw = rows.get("PythonForWindows windows.system.handles (no types)")
        if pfw:
            ours = rows["ntinspect.handles() (types + process names)"]
            print(f"\nntinspect.handles() is {pfw / ours:.1f}x faster than PythonForWindows' list (which has no types)")
        if per_type is not None:
            print(f"PythonForWindows per-handle .type: {per_type * 1e6:.0f} us a handle "
                  f"(x{total} handles = {per_type * total:.1f} s for a typed list)")
        gc.collect()
        import psutil

        me = psutil.Process()
        before = me.memory_info().rss
        tracemalloc.start()
        kept = ntinspect.handles()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        grown = me.memory_info().rss - before
        raw = 16 + len(kept) * 40
        # cffi allocates the raw buffer outside tracemalloc: the traced peak is what
        # handles() adds above it (numpy columns, lookups, records)
        print(f"\nraw buffer: {raw} bytes ({raw / len(kept):.0f} a handle)")
        print(f"peak traced allocations above the raw buffer: {peak} bytes, {peak / len(kept):.1f} bytes a handle")
        print(f"working set growth while the table is held: {grown} bytes, {grown / len(kept):.1f} bytes a handle "
              f"(raw buffer included)")
    finally:
        try:
            child.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # closing 100,000 handles is slow under Wine
            child.kill()
            child.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
