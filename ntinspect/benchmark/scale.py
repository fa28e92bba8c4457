"""``--handles N``: a child process that holds N extra handles while the benchmark runs."""
from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Tuple

from ..errors import NtInspectError

MAX_EXTRA_HANDLES = 16_000_000
"""A process's handle table holds at most 2**24 handles (Windows Internals, 7th ed., ch. 8)."""

# ctypes only (no ntinspect in the child): unnamed manual-reset events, the cheapest kernel
# object to create; the child reports how many it made, then holds them until stdin closes.
CHILD = r"""
import ctypes, sys
k32 = ctypes.WinDLL("kernel32")
k32.CreateEventW.restype = ctypes.c_void_p
made = 0
for _ in range(int(sys.argv[1])):
    if not k32.CreateEventW(None, True, False, None):
        break
    made += 1
print(made, flush=True)
sys.stdin.read()
"""


class ScaleError(NtInspectError):
    """The child that should hold the extra handles failed to start or to report."""


def ready_timeout(count: int) -> float:
    """Seconds allowed to create ``count`` events: 60 s plus 1 ms a handle (Wine creates
    about 20,000 a second on a 2-vCPU VM, Windows far more)."""
    return 60.0 + count / 1000


def exit_timeout(count: int) -> float:
    """Seconds allowed to close them: 30 s plus 1 ms a handle (closing 100,000 handles
    takes Wine more than 10 s, docs/wine.md); then the child is killed."""
    return 30.0 + count / 1000


@contextmanager
def extra_handles(count: int) -> Iterator[Tuple[int, int]]:
    """A child process holding ``count`` event handles: yields ``(pid, made)`` (``made`` may
    be less than ``count`` where the system ran out); the child closes them and exits on
    leaving the block, or is killed after :func:`~ntinspect.benchmark.scale.exit_timeout`. ``count`` 0 starts nothing
    and yields ``(0, 0)``. Raises :class:`ScaleError` if the child does not report in time."""
    if not isinstance(count, int) or not 0 <= count <= MAX_EXTRA_HANDLES:
        raise ValueError(f"extra handles: an int from 0 to {MAX_EXTRA_HANDLES}, not {count!r}")
    if count == 0:
        yield 0, 0
        return
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(count)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        line: list = []
        reader = threading.Thread(target=lambda: line.append(child.stdout.readline()), daemon=True)
        reader.start()
        reader.join(ready_timeout(count))
        if not line or not line[0].strip().isdigit():
            raise ScaleError(f"the child holding {count} extra handles did not report within "
                             f"{ready_timeout(count):.0f} s (exit status {child.poll()})")
        yield child.pid, int(line[0])
    finally:
        if not line:  # never reported: its reader may still wait on stdout
            child.kill()
        try:
            child.communicate(timeout=exit_timeout(count))
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
