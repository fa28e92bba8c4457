"""The first live call: our own handles, found in the system handle table through cffi."""
import os
import struct
import tempfile

import pytest

pytestmark = pytest.mark.windows

# SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX on x64: Object, UniqueProcessId, HandleValue (pointer
# sized), GrantedAccess, CreatorBackTraceIndex, ObjectTypeIndex, HandleAttributes, Reserved.
ENTRY_X64 = struct.Struct("<QQQIHHII")
HEADER_X64 = struct.Struct("<QQ")


def test_extended_handle_table_lists_our_events_and_file():
    import ctypes
    import msvcrt

    from ntinspect._native.calls import SystemExtendedHandleInformation, query_system_information

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.CreateEventW.restype = ctypes.c_void_p
    kernel32.CloseHandle.argtypes = [ctypes.c_void_p]
    events = [kernel32.CreateEventW(None, True, False, None) for _ in range(3)]
    assert all(events), ctypes.get_last_error()
    with tempfile.TemporaryFile() as file:
        ours = set(events) | {msvcrt.get_osfhandle(file.fileno())}
        try:
            data = query_system_information(SystemExtendedHandleInformation)
        finally:
            for event in events:
                kernel32.CloseHandle(event)
    count, _ = HEADER_X64.unpack_from(data)
    assert HEADER_X64.size + count * ENTRY_X64.size <= len(data)
    mine = {entry[2] for entry in ENTRY_X64.iter_unpack(data[HEADER_X64.size:HEADER_X64.size + count * ENTRY_X64.size])
            if entry[1] == os.getpid()}
    assert ours <= mine
    assert len(mine) > len(ours)  # a process holds more than the handles we just made
