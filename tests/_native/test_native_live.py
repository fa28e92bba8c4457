"""The native wrappers against the live API: files, volumes, sections, device controls,
status mapping, process information, and the Zw spellings."""
import ctypes
import os
import socket
import struct
import uuid

import pytest

import ntinspect

pytestmark = pytest.mark.windows


def nt_path(path):
    return "\\??\\" + os.path.abspath(path)


def test_open_file_and_query_file_and_volume_information(tmp_path):
    from ntinspect._native import files

    target = tmp_path / "sized.bin"
    target.write_bytes(b"x" * 12345)
    with files.open_file(nt_path(target)) as handle:
        standard = files.query_information_file(handle.value, 5)  # FileStandardInformation
        allocation, end_of_file, links, delete_pending, directory = struct.unpack_from("<qqIBB", standard)
        assert end_of_file == 12345 and directory == 0 and links >= 1
        device = files.query_volume_information(handle.value, 4)  # FileFsDeviceInformation
        device_type, _ = struct.unpack_from("<II", device)
        assert device_type in (0x07, 0x08, 0x14)  # disk, disk file system, network file system
    assert handle.closed


def test_open_file_missing_names_the_status(tmp_path):
    from ntinspect._native import files

    with pytest.raises(ntinspect.NtStatusError) as caught:
        files.open_file(nt_path(tmp_path / "absent" / "x.txt"))
    assert caught.value.name in ("STATUS_OBJECT_PATH_NOT_FOUND", "STATUS_OBJECT_NAME_NOT_FOUND")
    assert "NtOpenFile" in str(caught.value)


def session_objects_path():
    session = ctypes.c_ulong()
    ctypes.windll.kernel32.ProcessIdToSessionId(os.getpid(), ctypes.byref(session))
    return "\\BaseNamedObjects" if session.value == 0 else f"\\Sessions\\{session.value}\\BaseNamedObjects"


def test_open_section_and_map_a_view_of_it():
    from ntinspect._native import sections

    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    k32.CreateFileMappingW.restype = ctypes.c_void_p
    k32.CreateFileMappingW.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong,
                                       ctypes.c_ulong, ctypes.c_wchar_p]
    k32.MapViewOfFile.restype = ctypes.c_void_p
    k32.MapViewOfFile.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_size_t]
    k32.UnmapViewOfFile.argtypes = [ctypes.c_void_p]
    k32.CloseHandle.argtypes = [ctypes.c_void_p]
    name = f"ntinspect-section-{uuid.uuid4().hex[:8]}"
    mapping = k32.CreateFileMappingW(ctypes.c_void_p(-1), None, 0x04, 0, 8192, "Local\\" + name)
    assert mapping, ctypes.get_last_error()
    view = k32.MapViewOfFile(mapping, 0x2, 0, 0, 8192)
    try:
        payload = b"ntinspect maps this " + name.encode()
        ctypes.memmove(view, payload, len(payload))
        with sections.open_section(f"{session_objects_path()}\\{name}") as section:
            with sections.map_view(section.value) as mapped:
                assert mapped.size >= 8192
                assert bytes(mapped.memory[:len(payload)]) == payload
            assert mapped.base is None
    finally:
        k32.UnmapViewOfFile(view)
        k32.CloseHandle(mapping)


def test_physical_memory_is_refused_with_a_named_status():
    from ntinspect._native import sections

    with pytest.raises(ntinspect.NtStatusError) as caught:
        sections.open_section("\\Device\\PhysicalMemory")
    # Wine has no such object; Windows refuses it to user mode since Server 2003 SP1
    assert caught.value.name in ("STATUS_OBJECT_NAME_NOT_FOUND", "STATUS_ACCESS_DENIED")


def test_device_io_control_both_spellings_on_a_socket():
    from ntinspect._native import files
    from ntinspect._native.process import current_process, duplicate

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with duplicate(current_process(), sock.fileno()) as handle:
            status, reply = files.device_io_control(handle.value, 0x1202F, 128)  # IOCTL_AFD_GET_ADDRESS
            assert status == 0
            assert struct.unpack_from(">H", reply, 2)[0] == port
            reply32 = files.device_io_control_win32(handle.value, 0x1202F, b"", 128)
            assert struct.unpack_from(">H", reply32, 2)[0] == port


def test_device_io_control_on_a_plain_file_fails_at_once(tmp_path):
    from ntinspect._native import files

    target = tmp_path / "plain.txt"
    target.write_text("no socket here")
    with files.open_file(nt_path(target)) as handle:
        status, reply = files.device_io_control(handle.value, 0x1202F, 128)
    assert status >= 0x80000000 and reply == b""
    with files.open_file(nt_path(target)) as handle, pytest.raises(ntinspect.NtInspectError):
        files.device_io_control_win32(handle.value, 0x1202F, b"", 128)


def test_status_to_dos_error():
    from ntinspect._native.calls import nt_status_to_dos_error

    assert nt_status_to_dos_error(0xC0000022) == 5  # ERROR_ACCESS_DENIED
    assert nt_status_to_dos_error(0xC0000034) == 2  # ERROR_FILE_NOT_FOUND
    assert nt_status_to_dos_error(0) == 0


def test_query_information_process_basic():
    from ntinspect._native import calls, ffi
    from ntinspect._native.process import current_process

    data = calls.query_information_process(current_process(), 0)  # ProcessBasicInformation
    info = ffi().cast("struct PROCESS_BASIC_INFORMATION *", ffi().from_buffer(data))
    assert info.UniqueProcessId == os.getpid()
    # os.getppid() calls PssCaptureSnapshot, which Wine 8.0 lacks: compare with the process list
    listed = {p.pid: p.ppid for p in ntinspect.processes()}
    assert info.InheritedFromUniqueProcessId == listed[os.getpid()]


def test_process_handle_information_refused_or_parsed():
    from ntinspect._native import calls
    from ntinspect._native.process import current_process
    from ntinspect.backends import live

    try:
        data = calls.query_information_process(current_process(), 51)
    except ntinspect.NtStatusError as error:
        assert ntinspect._native.wine_version(), "only Wine (and Windows before 8) refuse class 51"
        assert error.name == "STATUS_INVALID_INFO_CLASS"
        return
    columns = live.process_snapshot_columns(data, os.getpid(), live.WIDTH)
    assert len(columns["value"]) > 0


def test_zw_spellings_are_the_same_entry_points():
    from ntinspect._native import calls, files, process, sections

    assert calls.ZwQuerySystemInformation is calls.query_system_information
    assert calls.ZwQueryObject is calls.query_object
    assert process.ZwOpenProcess is process.open_process
    assert files.ZwOpenFile is files.open_file
    assert sections.ZwOpenSection is sections.open_section
