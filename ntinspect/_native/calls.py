"""Thin wrappers over single native calls. Each returns raw bytes or an owned handle."""
from __future__ import annotations

from . import dlls, ffi
from .grow import query_grow
from .owned import raw_handle

SystemProcessInformation = 5
SystemHandleInformation = 16
SystemExtendedHandleInformation = 64


_LAST_SIZE: dict = {}
"""info class -> bytes the last call needed: the next call starts there (plus slack) instead
of paying a failing call to learn the size again."""


def query_system_information(info_class: int, initial: int = 0x10000) -> memoryview:
    """NtQuerySystemInformation(info_class) with the grow loop: the filled bytes."""
    ntdll = dlls().ntdll
    returned = ffi().new("uint32_t *")

    def call(buffer, size):
        returned[0] = 0
        return ntdll.NtQuerySystemInformation(info_class, buffer, size, returned), returned[0]

    last = _LAST_SIZE.get(info_class, 0)
    start = max(initial, last + last // 8 + 0x1000) if last else initial
    data = query_grow(call, f"NtQuerySystemInformation({info_class})", initial=start)
    _LAST_SIZE[info_class] = len(data)
    return data


NtQuerySystemInformation = ZwQuerySystemInformation = query_system_information


ObjectBasicInformation = 0
ObjectNameInformation = 1
ObjectTypeInformation = 2
ObjectTypesInformation = 3


def query_by_handle(function_name: str, handle, info_class: int, initial: int) -> memoryview:
    """``function_name(handle, info_class, buffer, size, &returned)`` (NtQueryObject,
    NtQueryInformationProcess, NtQueryInformationToken...) with the grow loop: the filled bytes."""
    function = getattr(dlls().ntdll, function_name)
    returned = ffi().new("uint32_t *")

    def call(buffer, size):
        returned[0] = 0
        return function(handle, info_class, buffer, size, returned), returned[0]

    return query_grow(call, f"{function_name}({info_class})", initial=initial)


def query_object(handle, info_class: int, initial: int = 0x200) -> memoryview:
    """NtQueryObject(handle, info_class) with the grow loop (``handle`` may be NULL for class 3)."""
    return query_by_handle("NtQueryObject", ffi().NULL if handle is None else raw_handle(handle), info_class, initial)


NtQueryObject = ZwQueryObject = query_object

AF_INET = 2
AF_INET6 = 23
TCP_TABLE_BASIC_ALL = 2
TCP_TABLE_OWNER_PID_ALL = 5
UDP_TABLE_BASIC = 0
UDP_TABLE_OWNER_PID = 1


def _ip_table(function_name: str, family: int, table_class: int) -> memoryview:
    """One IP Helper table. Starts from the largest size a call for it has asked for (under
    Wine every call that comes back too small costs a full scan of the host's tables). A
    success reports no length, so only the sizes asked for are remembered, never the
    capacity of a buffer that worked (that would grow the start size on every call)."""
    function = getattr(dlls().iphlpapi, function_name)
    size = ffi().new("uint32_t *")
    key = (function_name, family, table_class)
    asked = _LAST_SIZE.get(key, 0)

    def call(buffer, capacity):
        nonlocal asked
        size[0] = capacity
        status = function(buffer, size, 0, family, table_class, 0)
        if status:
            asked = max(asked, size[0])
        return status, size[0] if status else 0

    start = asked + asked // 4 + 0x1000 if asked else 0x4000
    data = query_grow(call, f"{function_name}(family={family}, class={table_class})", initial=start, win32=True)
    _LAST_SIZE[key] = asked
    return data


def extended_tcp_table(family: int = AF_INET, table_class: int = TCP_TABLE_OWNER_PID_ALL) -> memoryview:
    """GetExtendedTcpTable: the raw MIB table (dwNumEntries, then rows)."""
    return _ip_table("GetExtendedTcpTable", family, table_class)


def extended_udp_table(family: int = AF_INET, table_class: int = UDP_TABLE_OWNER_PID) -> memoryview:
    """GetExtendedUdpTable: the raw MIB table (dwNumEntries, then rows)."""
    return _ip_table("GetExtendedUdpTable", family, table_class)


def nt_status_to_dos_error(status: int) -> int:
    """RtlNtStatusToDosError: the Win32 error code an NTSTATUS maps to."""
    return int(dlls().ntdll.RtlNtStatusToDosError(ffi().cast("int32_t", status & 0xFFFFFFFF)))


def query_information_process(process, info_class: int, initial: int = 0x100) -> memoryview:
    """NtQueryInformationProcess(process, info_class) with the grow loop."""
    return query_by_handle("NtQueryInformationProcess", raw_handle(process), info_class, initial)


NtQueryInformationProcess = ZwQueryInformationProcess = query_information_process
RtlNtStatusToDosError = nt_status_to_dos_error
