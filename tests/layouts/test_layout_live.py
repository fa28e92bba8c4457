"""The x64 layouts against the live system: cffi's C layout of the same declarations, and the
buffers real calls return (handle tables, process list, object types and names, TCP/UDP tables).

Runs natively on Windows or in the Wine bench (x64 CPython); the objects looked for are
created here and released at the end of each test.
"""
import ctypes
import ipaddress
import os
import socket
import sys
import tempfile
from pathlib import Path

import pytest
from layout_tables import OFFSETS

from ntinspect.layouts import (handle_table, ipv4, ipv6, object_name, object_type_name, parse, port,
                               table_array, walk_object_types, walk_processes, x64)
from ntinspect.layouts.base import static_size
from ntinspect.layouts.enums import MIB_TCP_STATE, SPECIFIC_RIGHTS, access_names

pytestmark = pytest.mark.windows

HERE = Path(__file__).parent
EVENT_ALL_ACCESS = 0x001F0003


@pytest.fixture(scope="module")
def c_layouts():
    """cffi's view of windows_layouts.h (and its byte-packed part)."""
    import cffi

    natural, packed = cffi.FFI(), cffi.FFI()
    natural.cdef((HERE / "windows_layouts.h").read_text())
    packed.cdef((HERE / "windows_layouts_packed.h").read_text(), packed=True)
    return {name: (packed if name in ("TDI_ADDRESS_IP", "TDI_ADDRESS_IP6") else natural) for name in x64.structs}


@pytest.fixture
def events():
    """Three unnamed events of this process (their handle values)."""
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateEventW.restype = ctypes.c_void_p
    kernel32.CloseHandle.argtypes = [ctypes.c_void_p]
    made = [kernel32.CreateEventW(None, True, False, None) for _ in range(3)]
    assert all(made), ctypes.get_last_error()
    yield made
    for handle in made:
        kernel32.CloseHandle(handle)


@pytest.fixture
def open_file():
    """A file of ours, open: (path, raw handle as a cffi pointer)."""
    import msvcrt

    from ntinspect._native import ffi

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ntinspect-layouts-probe.txt"
        with open(path, "w+b") as file:
            yield path, ffi().cast("void *", msvcrt.get_osfhandle(file.fileno()))


def base_address(data) -> int:
    """The address a native call's buffer has (its UNICODE_STRINGs point into it)."""
    from ntinspect._native import ffi

    return int(ffi().cast("uintptr_t", ffi().from_buffer(data)))


def test_x64_sizes_match_cffi(c_layouts):
    for name, struct in x64.structs.items():
        if static_size(struct) is not None:
            assert c_layouts[name].sizeof(f"struct {name}") == struct.sizeof(), name


def test_x64_offsets_match_cffi(c_layouts):
    from ntinspect.layouts import offset_of

    for name, field, _, offset64, _, size64 in OFFSETS:
        ffi = c_layouts[name]
        assert ffi.offsetof(f"struct {name}", *field.split(".")) == offset_of(x64[name], field) == offset64
        member = ffi.typeof(f"struct {name}")
        for part in field.split("."):
            member = dict(member.fields)[part].type
        assert ffi.sizeof(member) == size64, (name, field)


def test_extended_handle_table(events):
    from ntinspect._native.calls import SystemExtendedHandleInformation, query_system_information

    data = query_system_information(SystemExtendedHandleInformation)
    entries = handle_table(data, 8, 64)
    parsed = parse(x64.SYSTEM_HANDLE_INFORMATION_EX, data)
    assert len(entries) == parsed.NumberOfHandles == len(parsed.Handles)
    assert 16 + 40 * len(entries) <= len(data)
    ours = entries[entries["UniqueProcessId"] == os.getpid()]
    values = {int(v) for v in ours["HandleValue"]}
    assert set(events) <= values and len(values) > len(events)
    for event in events:
        access = int(ours[ours["HandleValue"] == event]["GrantedAccess"][0])
        assert access == EVENT_ALL_ACCESS
        assert "EVENT_MODIFY_STATE" in access_names("Event", access)
    for index in (0, len(entries) // 2, len(entries) - 1):
        assert {f: int(entries[index][f]) for f in entries.dtype.names} == \
            {f: parsed.Handles[index][f] for f in entries.dtype.names}


def test_handle_table_class_16(events):
    from ntinspect._native.calls import SystemHandleInformation, query_system_information

    data = query_system_information(SystemHandleInformation)
    entries = handle_table(data, 8, 16)
    parsed = parse(x64.SYSTEM_HANDLE_INFORMATION, data)
    assert len(entries) == parsed.NumberOfHandles and 8 + 24 * len(entries) <= len(data)
    ours = entries[entries["UniqueProcessId"] == os.getpid() & 0xFFFF]
    assert set(events) <= {int(v) for v in ours["HandleValue"]}
    assert {int(v) for v in entries["HandleValue"]} >= {int(v) for v in ours["HandleValue"]}


def test_process_list():
    from ntinspect._native.calls import SystemProcessInformation, query_system_information

    data = query_system_information(SystemProcessInformation, initial=0x40000)
    found = list(walk_processes(data, 8, base_address(data), threads=True))
    assert len({p.info.UniqueProcessId for p in found}) == len(found) > 1
    me = [p for p in found if p.info.UniqueProcessId == os.getpid()]
    assert len(me) == 1
    assert me[0].image_name.lower() == Path(sys.executable).name.lower() == "python.exe"
    assert me[0].info.NumberOfThreads == len(me[0].threads) >= 1
    assert {t.ClientId.UniqueProcess for t in me[0].threads} == {os.getpid()}


def test_object_types():
    from ntinspect._native import wine_version
    from ntinspect._native.calls import ObjectTypesInformation, query_object

    data = query_object(None, ObjectTypesInformation)
    types = list(walk_object_types(data, 8))
    names = [t.name for t in types]
    assert len(types) == parse(x64.OBJECT_TYPES_INFORMATION, data).NumberOfTypes
    assert {"Event", "File", "Process"} <= set(names)
    assert [t.name for t in walk_object_types(data, 8, base_address(data))] == names
    assert [t.info.TypeIndex for t in types] == list(range(2, 2 + len(types)))
    assert all(t.info.ValidAccessMask & t.info.GenericMapping.GenericAll == t.info.GenericMapping.GenericAll
               for t in types if t.info.ValidAccessMask)
    if wine_version():  # every type Wine has gets symbolic access names
        assert set(names) <= set(SPECIFIC_RIGHTS)
    if (wine_version() or "").startswith("8."):  # measured: Wine 8.0 has 20 types
        assert len(types) == 20


def test_object_name_type_and_basics_of_a_file(open_file):
    from ntinspect._native.calls import (ObjectBasicInformation, ObjectNameInformation,
                                         ObjectTypeInformation, query_object)

    path, handle = open_file
    data = query_object(handle, ObjectNameInformation)
    name = object_name(data, 8)
    assert name.lower().endswith(path.name.lower()) and name.startswith("\\")
    assert object_name(data, 8, base_address(data)) == name
    data = query_object(handle, ObjectTypeInformation)
    assert object_type_name(data, 8) == object_type_name(data, 8, base_address(data)) == "File"
    basic = parse(x64.OBJECT_BASIC_INFORMATION, query_object(handle, ObjectBasicInformation))
    assert basic.HandleCount >= 1 and basic.GrantedAccess & 0x1  # opened for reading


def _listening_tcp(family, host):
    server = socket.socket(family, socket.SOCK_STREAM)
    server.bind((host, 0))
    server.listen()
    return server


def test_tcp_and_udp_tables_ipv4():
    from ntinspect._native.calls import AF_INET, extended_tcp_table, extended_udp_table

    with _listening_tcp(socket.AF_INET, "127.0.0.1") as tcp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        tcp_data, udp_data = extended_tcp_table(AF_INET), extended_udp_table(AF_INET)
        tcp_port, udp_port = tcp.getsockname()[1], udp.getsockname()[1]
    rows = parse(x64.MIB_TCPTABLE_OWNER_PID, tcp_data).table
    assert len(table_array(x64.MIB_TCPTABLE_OWNER_PID, tcp_data)) == len(rows)
    assert any(port(r.dwLocalPort) == tcp_port and ipv4(r.dwLocalAddr) == ipaddress.IPv4Address("127.0.0.1")
               and r.dwState == MIB_TCP_STATE.MIB_TCP_STATE_LISTEN for r in rows)
    rows = parse(x64.MIB_UDPTABLE_OWNER_PID, udp_data).table
    assert any(port(r.dwLocalPort) == udp_port and ipv4(r.dwLocalAddr) == ipaddress.IPv4Address("127.0.0.1")
               for r in rows)
    entries = table_array(x64.MIB_UDPTABLE_OWNER_PID, udp_data)
    assert udp_port in {port(int(v)) for v in entries["dwLocalPort"]}


def test_tcp_and_udp_tables_ipv6():
    from ntinspect._native.calls import AF_INET6, extended_tcp_table, extended_udp_table

    try:
        tcp = _listening_tcp(socket.AF_INET6, "::1")
    except OSError as error:
        pytest.skip(f"no IPv6 loopback here: {error}")
    with tcp, socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp:
        udp.bind(("::1", 0))
        tcp_data, udp_data = extended_tcp_table(AF_INET6), extended_udp_table(AF_INET6)
        tcp_port, udp_port = tcp.getsockname()[1], udp.getsockname()[1]
    loopback = ipaddress.IPv6Address("::1")
    assert any(port(r.dwLocalPort) == tcp_port and ipv6(r.ucLocalAddr) == loopback
               and r.dwState == MIB_TCP_STATE.MIB_TCP_STATE_LISTEN
               for r in parse(x64.MIB_TCP6TABLE_OWNER_PID, tcp_data).table)
    assert any(port(r.dwLocalPort) == udp_port and ipv6(r.ucLocalAddr) == loopback
               for r in parse(x64.MIB_UDP6TABLE_OWNER_PID, udp_data).table)
