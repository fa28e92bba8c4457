"""Walkers over variable buffers (process list, object types, names, directories), on
buffers laid out as the kernel lays them out, and on corrupted ones."""
import pytest

from ntinspect.errors import LayoutError
from ntinspect.layouts import (align_up, layouts, object_name, object_type_name, walk_directory,
                               walk_object_types, walk_processes)

WIDTHS = (4, 8)
BASE = 0x7FF6_1000  # where the "kernel" filled the buffer (fits 32-bit pointers)


def zeros(struct):
    """A buildable all-zero value of a static layout."""
    return struct.parse(bytes(struct.sizeof()))


def process_buffer(width, processes, base=BASE, align=8):
    """A class 5 buffer: each entry, its threads, its NUL-terminated name; entries start at
    multiples of ``align`` (8 on Windows; Wine 8 packs them: 1)."""
    ns = layouts(width)
    entry, thread = ns.SYSTEM_PROCESS_INFORMATION, ns.SYSTEM_THREAD_INFORMATION
    out = bytearray()
    for index, (pid, name, threads) in enumerate(processes):
        text = name.encode("utf-16-le")
        used = entry.sizeof() + threads * thread.sizeof()
        size = align_up(used + len(text) + 2, align)
        info = zeros(entry)
        info.NextEntryOffset = size if index < len(processes) - 1 else 0
        info.NumberOfThreads = threads
        info.UniqueProcessId, info.HandleCount = pid, 10 + index
        if name:
            info.ImageName.update(dict(Length=len(text), MaximumLength=len(text) + 2,
                                       Buffer=base + len(out) + used))
        chunk = bytearray(entry.build(info))
        for number in range(threads):
            row = zeros(thread)
            row.ClientId.UniqueProcess, row.ClientId.UniqueThread = pid, pid + 4 * (number + 1)
            chunk += thread.build(row)
        chunk += text + b"\0\0"
        out += chunk.ljust(size, b"\0")
    return out


def types_buffer(width, names, base=BASE):
    """A class 3 buffer: the count, then each entry followed by its name, pointer-aligned."""
    ns = layouts(width)
    entry = ns.OBJECT_TYPE_INFORMATION
    out = bytearray(ns.OBJECT_TYPES_INFORMATION.build({"NumberOfTypes": len(names)}).ljust(width, b"\0"))
    for index, name in enumerate(names):
        text = name.encode("utf-16-le")
        info = zeros(entry)
        info.TypeName.update(dict(Length=len(text), MaximumLength=len(text) + 2,
                                  Buffer=base + len(out) + entry.sizeof()))
        info.TypeIndex, info.TotalNumberOfObjects = index + 2, 100 + index
        out += entry.build(info) + (text + b"\0\0").ljust(align_up(len(text) + 2, width), b"\0")
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_walk_processes(width):
    data = process_buffer(width, [(0, "", 1), (4, "System", 2), (1234, "python.exe", 3)])
    found = list(walk_processes(data, width, BASE, threads=True))
    assert [(p.info.UniqueProcessId, p.image_name) for p in found] == \
        [(0, ""), (4, "System"), (1234, "python.exe")]
    assert [[t.ClientId.UniqueThread for t in p.threads] for p in found][2] == [1238, 1242, 1246]
    assert found[1].offset == found[0].info.NextEntryOffset
    assert [p.threads for p in walk_processes(data, width, BASE)] == [[], [], []]


@pytest.mark.parametrize("width", WIDTHS)
def test_walk_processes_accepts_packed_entries(width):
    """Wine 8 does not round NextEntryOffset up (0x206 was seen): entries may be unaligned."""
    data = process_buffer(width, [(4, "System", 1), (8, "odd.exe", 2), (12, "b.exe", 0)], align=1)
    found = list(walk_processes(data, width, BASE, threads=True))
    assert any(p.offset % 8 for p in found)
    assert [(p.info.UniqueProcessId, p.image_name, len(p.threads)) for p in found] == \
        [(4, "System", 1), (8, "odd.exe", 2), (12, "b.exe", 0)]


def _corrupt(width, field, value):
    """The first entry of a good two-entry buffer with ``field`` set to ``value(buffer)``."""
    entry = layouts(width).SYSTEM_PROCESS_INFORMATION
    data = bytearray(process_buffer(width, [(8, "a.exe", 1), (12, "b.exe", 1)]))
    info = entry.parse(data)
    info[field] = value(data)
    data[:entry.sizeof()] = entry.build(info)
    return data


CORRUPTIONS = {
    "entries overlap": lambda width: _corrupt(width, "NextEntryOffset", lambda data: 8),
    "next entry past the end": lambda width: _corrupt(width, "NextEntryOffset", lambda data: 0x10000),
    "next entry runs off the end":
        lambda width: _corrupt(width, "NextEntryOffset", lambda data: len(data) - 8),
    "threads do not fit": lambda width: _corrupt(width, "NumberOfThreads", lambda data: 0xFFFFFFFF),
    "truncated entry": lambda width: process_buffer(width, [(8, "a.exe", 1)])[:100],
}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_walk_processes_rejects_corrupt_chains(corruption, width):
    with pytest.raises(LayoutError):
        list(walk_processes(CORRUPTIONS[corruption](width), width, BASE))


@pytest.mark.parametrize("width", WIDTHS)
def test_walk_processes_rejects_names_outside_the_buffer(width):
    data = process_buffer(width, [(8, "a.exe", 1)])
    with pytest.raises(LayoutError, match="outside"):
        list(walk_processes(data, width, BASE + 0x1000))


@pytest.mark.parametrize("width", WIDTHS)
def test_walk_processes_ends_on_a_chain_that_runs_off_the_buffer(width):
    entry = layouts(width).SYSTEM_PROCESS_INFORMATION
    info = zeros(entry)
    info.NextEntryOffset = entry.sizeof()
    data = entry.build(info) * 50
    with pytest.raises(LayoutError, match="past the buffer"):
        list(walk_processes(data, width, BASE))


NAMES = ["Type", "Directory", "Event", "File", "IoCompletion", "X"]


@pytest.mark.parametrize("width", WIDTHS)
def test_walk_object_types(width):
    data = types_buffer(width, NAMES)
    by_position = list(walk_object_types(data, width))
    assert [t.name for t in by_position] == NAMES
    assert [t.info.TypeIndex for t in by_position] == list(range(2, 2 + len(NAMES)))
    assert [t.name for t in walk_object_types(data, width, BASE)] == NAMES
    assert by_position[0].offset == width  # ULONG count, rounded up to pointer alignment


@pytest.mark.parametrize("width", WIDTHS)
def test_walk_object_types_rejects_corruption(width):
    data = types_buffer(width, NAMES)
    huge = (0xFFFF).to_bytes(4, "little") + data[4:]
    with pytest.raises(LayoutError, match="NumberOfTypes"):
        list(walk_object_types(huge, width))
    entry = layouts(width).OBJECT_TYPE_INFORMATION
    info = entry.parse(data[width:])
    info.TypeName.Length = info.TypeName.MaximumLength + 2
    bad = bytearray(data)
    bad[width:width + entry.sizeof()] = entry.build(info)
    with pytest.raises(LayoutError, match="MaximumLength"):
        list(walk_object_types(bad, width))
    info.TypeName.update(dict(Length=8, MaximumLength=0xFFFE))
    bad[width:width + entry.sizeof()] = entry.build(info)
    with pytest.raises(LayoutError):
        list(walk_object_types(bad, width))
    with pytest.raises(LayoutError):
        list(walk_object_types(data[:-1 - len(data) // 3], width))


@pytest.mark.parametrize("width", WIDTHS)
def test_object_name_and_type_name(width):
    ns = layouts(width)
    text = "\\Device\\HarddiskVolume1\\tmp\\x.txt".encode("utf-16-le")
    header = ns.OBJECT_NAME_INFORMATION.build(
        {"Name": {"Length": len(text), "MaximumLength": len(text) + 2,
                  "Buffer": BASE + ns.OBJECT_NAME_INFORMATION.sizeof()}})
    data = header + text + b"\0\0"
    expected = "\\Device\\HarddiskVolume1\\tmp\\x.txt"
    assert object_name(data, width) == object_name(data, width, BASE) == expected
    assert object_name(bytes(ns.OBJECT_NAME_INFORMATION.sizeof()), width) == ""
    with pytest.raises(LayoutError):
        object_name(data[:-6], width)
    types = types_buffer(width, ["File"])[width:]  # one OBJECT_TYPE_INFORMATION and its name
    assert object_type_name(types, width) == "File"


@pytest.mark.parametrize("width", WIDTHS)
def test_walk_directory(width):
    struct = layouts(width).OBJECT_DIRECTORY_INFORMATION
    entries = [("BaseNamedObjects", "Directory"), ("Device", "Directory"), ("DosDevices", "SymbolicLink")]
    strings = bytearray()
    table = bytearray()
    start = (len(entries) + 1) * struct.sizeof()
    for name, type_name in entries:
        pair = []
        for text in (name, type_name):
            raw = text.encode("utf-16-le")
            pair.append({"Length": len(raw), "MaximumLength": len(raw) + 2,
                         "Buffer": BASE + start + len(strings)})
            strings += raw + b"\0\0"
        table += struct.build({"Name": pair[0], "TypeName": pair[1]})
    data = table + bytes(struct.sizeof()) + strings
    assert [(e.name, e.type_name) for e in walk_directory(data, width, BASE)] == entries
