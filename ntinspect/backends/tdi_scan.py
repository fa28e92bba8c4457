"""The TDI path (NT4 to XP, fport's method): File handles named \\Device\\Tcp or \\Device\\Udp,
duplicated and asked for their address. Reported ``unsupported`` where the devices do not
exist (Vista and later, Wine). Name checks and queries run on the bounded worker.
"""
from __future__ import annotations

import ipaddress
import struct
from contextlib import ExitStack
from typing import List, Tuple

from .. import layouts as L
from .._native import process as native_process
from .._native import tdi
from .._native.tdi import TDI_QUERY_ADDRESS_INFO
from .._native.worker import run_bounded
from ..errors import LayoutError
from .afd_replies import SockAddr, first_ip_address
from .endpoints import TDI, Endpoint
from ..sources.live import host_width
from .live_names import object_name
from .sockets import file_handles, open_processes

__all__ = ["live_tdi_scan", "query_request", "parse_request", "build_address_info", "parse_address_info"]

TDI_ADDRESS_TYPES = {4: 2, 6: 23}  # family -> TDI_ADDRESS_TYPE_IP / TDI_ADDRESS_TYPE_IP6


def query_request(width: int, query_type: int = TDI_QUERY_ADDRESS_INFO) -> bytes:
    """The input buffer of IOCTL_TDI_QUERY_INFORMATION (TDI_REQUEST_QUERY_INFORMATION) for a
    ``width``-byte pointer system."""
    return L.layouts(width).TDI_REQUEST_QUERY_INFORMATION.build({
        "Request": {"Handle": {"ControlChannel": 0}, "RequestNotifyObject": 0, "RequestContext": 0,
                    "TdiStatus": 0},
        "QueryType": query_type, "RequestConnectionInformation": 0})


def parse_request(data: bytes, width: int) -> int:
    """The QueryType of a built request (the round trip of :func:`query_request`)."""
    layout = L.layouts(width).TDI_REQUEST_QUERY_INFORMATION
    if len(data) != layout.sizeof():
        raise LayoutError("TDI_REQUEST_QUERY_INFORMATION", 0, f"{len(data)} bytes, expected {layout.sizeof()}")
    return layout.parse(data).QueryType


def build_address_info(address: SockAddr, activity: int = 1) -> bytes:
    """A TDI_ADDRESS_INFO holding one IP/IP6 TA_ADDRESS (for tests and recorded data)."""
    raw = ipaddress.ip_address(address.addr).packed
    body = struct.pack(">H", address.port) + (raw + bytes(8) if address.family == 4 else bytes(4) + raw + bytes(4))
    return L.x64.TDI_ADDRESS_INFO.build({
        "ActivityCount": activity,
        "Address": {"TAAddressCount": 1, "Address": [
            {"AddressLength": len(body), "AddressType": TDI_ADDRESS_TYPES[address.family], "Address": body}]}})


def parse_address_info(data: bytes) -> Tuple[int, SockAddr]:
    """(ActivityCount, first IP or IP6 address) of a TDI_ADDRESS_INFO (same on both widths)."""
    layout = L.x64.TDI_ADDRESS_INFO
    info = L.parse(layout, bytes(data))
    return info.ActivityCount, first_ip_address(info.Address, "TDI_ADDRESS_INFO", L.offset_of(layout, "Address"))


def live_tdi_scan(timeout: float = 2.0, source=None) -> Tuple[str, List[Endpoint]]:
    """("unsupported", []) where \\Device\\Tcp and \\Device\\Udp do not exist; else ("ok", the
    address objects behind every \\Device\\Tcp and \\Device\\Udp handle)."""
    ok, status = tdi.available()
    if not ok:
        tdi.check_open(status, "NtOpenFile(\\Device\\Tcp)")
        return "unsupported", []
    return "ok", _tdi_rows(timeout, source)


def _tdi_rows(timeout: float, source=None) -> List[Endpoint]:
    devices = {path.lower(): proto for proto, path in tdi.DEVICES.items()}
    owners, values, created = file_handles(source=source)

    def probe(job):
        pid, value = job
        status, owned = native_process.try_duplicate(processes[pid].value, value)
        if owned is None:
            return None
        with owned:
            proto = devices.get(object_name(owned.value).lower())
            if proto is None:
                return None
            status, data = tdi.query_information(owned.value, query_request(host_width()))
        if status >= 0x80000000:
            return None
        try:
            address = parse_address_info(data)[1]
        except LayoutError:
            return None
        return Endpoint(proto, address.family, address.addr, address.port, None, None, None, pid, TDI, value)

    with ExitStack() as stack:
        processes, _ = open_processes(owners, stack, created)
        jobs = [(pid, value) for pid, value in zip(owners, values) if pid in processes]
        return [r for ok, r in run_bounded(probe, jobs, timeout) if ok and isinstance(r, Endpoint)]
