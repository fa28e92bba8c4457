"""Minidumps built to order (dumpkit.build): the traps no real file here shows, descriptor
v2, object names, and every kind of damage, each a MinidumpError naming stream and offset."""
import struct
import tracemalloc

import pytest

import ntinspect
from ntinspect.errors import MinidumpError, SourceFormatError
from ntinspect.layouts.minidump import STRUCTURES
from ntinspect.models import NameStatus

from dumpkit import build, raw_streams

NTDLL = "C:\\Windows\\System32\\ntdll.dll"


def write(tmp_path, data, name="x.dmp"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_layout_sizes_are_the_headers():
    sizes = {name: layout.sizeof() for name, layout in STRUCTURES.items()}
    assert sizes == {"MINIDUMP_HEADER": 32, "MINIDUMP_DIRECTORY": 12, "MINIDUMP_SYSTEM_INFO": 56,
                     "VS_FIXEDFILEINFO": 52, "MINIDUMP_MODULE": 108, "MINIDUMP_HANDLE_DATA_STREAM": 16,
                     "MINIDUMP_HANDLE_DESCRIPTOR": 32, "MINIDUMP_HANDLE_DESCRIPTOR_2": 40, "MINIDUMP_MISC_INFO": 24}


def test_windows_11_23h2_enablement_package(tmp_path):
    data = build(version=(10, 0, 22631), modules=[("C:\\app.exe", (0, 0, 0, 0), (0, 0, 0, 0)),
                                                  (NTDLL, (10, 0, 22621, 2506), (10, 0, 22621, 2506))])
    with ntinspect.open(write(tmp_path, data)) as source:
        info = source.system_info()
    assert info.build == 22631 and info.ntdll_version == (10, 0, 22621, 2506) and info.enablement_package
    from ntinspect.system import dialect_of

    assert dialect_of(info).type_numbering == "type_index"


def test_6_2_file_version_without_a_10_product_version(tmp_path):
    data = build(modules=[("C:\\app.exe", (1, 0, 0, 0), (1, 0, 0, 0)),
                          (NTDLL, (6, 2, 19041, 3636), (6, 2, 19041, 3636))], version=(10, 0, 19045))
    with ntinspect.open(write(tmp_path, data)) as source:
        assert source.system_info().ntdll_version == (10, 0, 19041, 3636)


def test_real_windows_8_keeps_6_2(tmp_path):
    data = build(version=(6, 2, 9200), modules=[(NTDLL, (6, 2, 9200, 16384), (6, 2, 9200, 16384))])
    with ntinspect.open(write(tmp_path, data)) as source:
        info = source.system_info()
    assert info.ntdll_version == (6, 2, 9200, 16384) and info.enablement_package is False


@pytest.mark.parametrize("size", [32, 40, 48])
def test_descriptor_versions_and_object_names(tmp_path, size):
    rows = [(4, "File", "\\Device\\HarddiskVolume3\\x.txt", 0, 0x12019F), (8, "Event", None, 2, 0x1F0003),
            (12, None, None, 0, 0x804), (16, "Key", "\\REGISTRY\\MACHINE", 0, 0x20019)]
    data = build(handles=rows, descriptor_size=size, pid=4242)
    with ntinspect.open(write(tmp_path, data)) as source:
        table = source.handles(names=True)
        bare = source.handles()
    assert table.columns["value"].tolist() == [4, 8, 12, 16]
    assert table.type.tolist() == ["File", "Event", "#0", "Key"]
    assert list(table.names) == ["\\Device\\HarddiskVolume3\\x.txt", None, None, "\\REGISTRY\\MACHINE"]
    assert list(table.name_status) == [NameStatus.OK, NameStatus.NOT_RECORDED, NameStatus.NOT_RECORDED, NameStatus.OK]
    assert set(bare.name_status) == {NameStatus.NOT_REQUESTED}
    assert table[0].access_names[0] == "FILE_READ_DATA" and table[1].attributes == 2
    assert set(table.columns["pid"].tolist()) == {4242}
    assert table.filter(name="registry")[0].value == 16


def test_no_misc_info_means_pid_zero_and_no_thread_list(tmp_path):
    data = build(pid=None, threads=None, modules=[("C:\\a\\b.exe", (0,) * 4, (0,) * 4)])
    with ntinspect.open(write(tmp_path, data)) as source:
        (process,) = source.processes()
    assert (process.pid, process.name, process.thread_count) == (0, "b.exe", 0)


def _patch(data, offset, fmt, *values):
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, *values)
    return bytes(out)


def _stream(data, kind):
    return raw_streams(data)[kind][0]


BASE = build(handles=[(4, "File", "n", 0, 1)], modules=[(NTDLL, (10, 0, 1, 2), (10, 0, 1, 2))])


@pytest.mark.parametrize("damage, stream, fragment", [
    (lambda d: d[:20], "header", "32"),
    (lambda d: _patch(d, 4, "<I", 0x1234), "header", "version"),
    (lambda d: _patch(d, 8, "<I", 0xFFFFFFFF), "directory", "MINIDUMP_DIRECTORY"),
    (lambda d: _patch(d, 12, "<I", 0xFFFFFFF0), "directory", "past the end"),
    (lambda d: _patch(d, _stream(d, 12) + 8, "<I", 0xFFFFFFFF), "HandleDataStream", "do not fit"),
    (lambda d: _patch(d, _stream(d, 12) + 4, "<I", 7), "HandleDataStream", "SizeOfDescriptor"),
    (lambda d: _patch(d, _stream(d, 12), "<I", 0x7FFFFFFF), "HandleDataStream", "SizeOfHeader"),
    (lambda d: _patch(d, _stream(d, 4), "<I", 0x10000000), "ModuleListStream", "do not fit"),
    (lambda d: _patch(d, _stream(d, 7) + 24, "<I", 0xFFFFFF00), "SystemInfoStream CSDVersion", "past the end"),
    (lambda d: _patch(d, _stream(d, 12) + 16 + 8, "<I", 0xFFFFFFF0), "HandleDataStream TypeName", "past the end"),
])
def test_damage_is_a_minidump_error_naming_stream_and_offset(tmp_path, damage, stream, fragment):
    path = write(tmp_path, damage(BASE))
    with pytest.raises(MinidumpError) as caught:
        with ntinspect.open(path) as source:
            source.system_info()
            source.processes()
            source.handles(names=True)
    error = caught.value
    assert error.stream == stream and fragment in str(error) and error.path == str(path)
    assert isinstance(error.offset, int) and f"{error.offset:#x}" in str(error)


def test_the_reader_itself_checks_the_signature(tmp_path):
    from ntinspect.sources.minidump import MinidumpSource

    with pytest.raises(MinidumpError, match="signature"):
        MinidumpSource(write(tmp_path, b"MDMX" + BASE[4:]))


def test_huge_counts_allocate_nothing(tmp_path):
    data = _patch(BASE, _stream(BASE, 12) + 8, "<I", 0xFFFFFFFF)
    data = _patch(data, _stream(data, 3), "<I", 0xFFFFFFFF)
    path = write(tmp_path, data)
    tracemalloc.start()
    try:
        for call in ("handles", "processes"):
            with pytest.raises(MinidumpError):
                with ntinspect.open(path) as source:
                    getattr(source, call)()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"{peak} bytes allocated for a corrupt count"


@pytest.mark.parametrize("content, fragment", [(b"", "empty"), (b"hello world", "68 65 6c"),
                                               (b"PAGEDU64" + b"\0" * 100, "kernel crash dump")])
def test_other_files_are_named(tmp_path, content, fragment):
    with pytest.raises(SourceFormatError, match=fragment):
        ntinspect.open(write(tmp_path, content))


def test_a_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        ntinspect.open(tmp_path / "none.dmp")
