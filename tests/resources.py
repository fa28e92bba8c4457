"""What this process holds, read independently of ntinspect (ctypes and psutil): its rows in
the raw system handle table, its threads and its memory. Leak tests and
benchmarks/bench_leaks.py sample these before and after many calls."""
from __future__ import annotations

import ctypes
import gc
import os
import struct
import threading
from typing import NamedTuple

STATUS_INFO_LENGTH_MISMATCH = 0xC0000004


def own_handle_count() -> int:
    """Our rows in the class-64 handle table (x64 entries of 40 bytes, UniqueProcessId at 8),
    read with ctypes: Wine's GetProcessHandleCount always answers 0."""
    ntdll = ctypes.WinDLL("ntdll")
    ntdll.NtQuerySystemInformation.argtypes = [ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                                               ctypes.POINTER(ctypes.c_ulong)]
    size = 1 << 20
    for _ in range(16):
        buffer = ctypes.create_string_buffer(size)
        status = ntdll.NtQuerySystemInformation(64, buffer, size, None) & 0xFFFFFFFF
        if status != STATUS_INFO_LENGTH_MISMATCH:
            break
        size *= 2
    assert status == 0, hex(status)
    count = struct.unpack_from("<Q", buffer.raw)[0]
    pids = struct.unpack_from(f"<{count * 5}Q", buffer.raw, 16)[1::5]
    return sum(1 for pid in pids if pid == os.getpid())


class Sample(NamedTuple):
    handles: int  # our rows in the raw handle table
    threads: int  # OS threads of this process (psutil)
    python_threads: int  # threading.active_count()
    rss: int  # working set, bytes (psutil; its "private" overflows under Wine 8)
    traced: int  # bytes Python holds, when tracemalloc is tracing (else 0)


def sample() -> Sample:
    import tracemalloc

    import psutil

    gc.collect()
    me = psutil.Process()
    return Sample(own_handle_count(), me.num_threads(), threading.active_count(), me.memory_info().rss,
                  tracemalloc.get_traced_memory()[0] if tracemalloc.is_tracing() else 0)
