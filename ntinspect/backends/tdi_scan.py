"""The TDI path (NT4 to XP, fport's method): File handles named \\Device\\Tcp or \\Device\\Udp,
duplicated and asked for their address. Reported ``unsupported`` where the devices do not
exist (Vista and later, Wine). Name checks and queries run on the bounded worker.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import List, Tuple

from .._native import process as native_process
from .._native import tdi
from .._native.worker import run_bounded
from .endpoints import TDI, Endpoint
from .live import WIDTH
from .live_names import object_name
from .sockets import file_handles, open_processes

__all__ = ["live_tdi_scan"]


def live_tdi_scan(timeout: float = 2.0) -> Tuple[str, List[Endpoint]]:
    """("unsupported", []) where \\Device\\Tcp and \\Device\\Udp do not exist; else ("ok", the
    address objects behind every \\Device\\Tcp and \\Device\\Udp handle)."""
    ok, status = tdi.available()
    if not ok:
        tdi.check_open(status, "NtOpenFile(\\Device\\Tcp)")
        return "unsupported", []
    return "ok", _tdi_rows(timeout)


def _tdi_rows(timeout: float) -> List[Endpoint]:
    devices = {path.lower(): proto for proto, path in tdi.DEVICES.items()}
    owners, values = file_handles()

    def probe(job):
        pid, value = job
        status, owned = native_process.try_duplicate(processes[pid].value, value)
        if owned is None:
            return None
        with owned:
            proto = devices.get(object_name(owned.value).lower())
            if proto is None:
                return None
            status, address = tdi.query_address(owned.value, WIDTH)
        if address is None:
            return None
        return Endpoint(proto, address.family, address.addr, address.port, None, None, None, pid, TDI, value)

    with ExitStack() as stack:
        processes, _ = open_processes(owners, stack)
        jobs = [(pid, value) for pid, value in zip(owners, values) if pid in processes]
        return [r for ok, r in run_bounded(probe, jobs, timeout) if ok and isinstance(r, Endpoint)]
