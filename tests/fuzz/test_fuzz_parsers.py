"""Hypothesis fuzzing of every parser that reads untrusted bytes: the layouts (plain,
compiled, bulk numpy views), the process list and handle snapshots as the live backend
reads them, AFD and TDI replies, IP Helper tables and page-table entries.

Each parser, fed random or mutated bytes, either returns or raises a
:class:`~ntinspect.errors.LayoutError` whose offset lies inside the buffer: no other
exception, no hang (every walk is bounded by the buffer), and no allocation driven by a
count field (``test_counts_of_2_32_allocate_nothing`` measures it). The number of cases
follows the hypothesis profile of tests/profiles.py: bounded in CI, 5,000 per test with
``NTINSPECT_PROFILE=full`` (over 100,000 in all).
"""
from __future__ import annotations

import struct
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ntinspect.errors import LayoutError
from ntinspect.layouts import (handle_table, layouts, object_name, object_type_name, offset_of, paging, parse,
                               table_array, table_plan, walk_directory, walk_object_types, walk_processes)
from ntinspect.layouts.base import unwrap

from fedsource import FedSource

WIDTHS = (4, 8)


def library_error_only(parser, data: bytes):
    """Run ``parser(data)``; a failure must be a LayoutError with an offset inside ``data``."""
    try:
        return parser(data)
    except LayoutError as error:
        assert isinstance(error.offset, int) and 0 <= error.offset <= max(len(data), 1), (error, len(data))
        assert error.structure and error.reason
        return error


def mutated(valid: bytes):
    """Bytes near a valid buffer: cut, with bytes overwritten, or with a count-like word set high."""
    return st.one_of(
        st.integers(0, len(valid)).map(lambda cut: valid[:cut]),
        st.tuples(st.integers(0, max(len(valid) - 1, 0)), st.binary(min_size=1, max_size=8)).map(
            lambda p: (valid[:p[0]] + p[1] + valid[p[0] + len(p[1]):])[:len(valid)]),
        st.tuples(st.integers(0, max(len(valid) - 4, 0)), st.sampled_from([0xFFFFFFFF, 0x7FFFFFFF, 0x80000000,
                                                                          0x10000, 1 << 31 | 1])).map(
            lambda p: valid[:p[0]] + struct.pack("<I", p[1]) + valid[p[0] + 4:] if len(valid) >= 4 else valid),
    )


# --- the layouts: every structure, both widths ---------------------------------------------

STRUCTS = [(width, name) for width in WIDTHS for name in sorted(layouts(width).structs)]


@pytest.mark.parametrize("width", WIDTHS)
@given(data=st.data())
def test_every_layout_on_random_bytes(width, data):
    name = data.draw(st.sampled_from(sorted(layouts(width).structs)))
    compiled = data.draw(st.booleans())
    struct_ = layouts(width).compiled(name) if compiled else layouts(width)[name]
    library_error_only(lambda raw: parse(struct_, raw, aligned=False), data.draw(st.binary(max_size=512)))


# --- bulk handle tables (numpy views) and the live backend's readers ----------------------

HANDLE_CLASSES = [(width, info_class) for width in WIDTHS for info_class in (16, 51, 64)]


@pytest.mark.parametrize("width, info_class", HANDLE_CLASSES)
@given(data=st.data())
def test_handle_tables_bulk_view(width, info_class, data):
    from ntinspect.layouts.handles import TABLES

    plan = table_plan(layouts(width).structs[TABLES[info_class]])
    count = data.draw(st.integers(0, 6))
    header = bytearray(plan.entries_offset)
    plan.count_format.pack_into(header, plan.count_offset, count)
    valid = bytes(header) + data.draw(st.binary(min_size=plan.itemsize * count, max_size=plan.itemsize * count))
    raw = data.draw(st.one_of(st.binary(max_size=300), mutated(valid)))
    result = library_error_only(lambda b: handle_table(b, width, info_class), raw)
    if not isinstance(result, LayoutError):
        assert result.nbytes <= len(raw)  # a view of the buffer, never more


@pytest.mark.parametrize("width", WIDTHS)
@given(data=st.data())
def test_live_process_list_reader(width, data):
    """live.process_entries (what processes() and every handles() call read) over hostile
    class 5 buffers: a valid two-entry list, mutated, or random bytes."""
    entry = layouts(width).SYSTEM_PROCESS_INFORMATION.sizeof()
    base = data.draw(st.sampled_from([0, 0x10000, 0xFFFFFFFF - 0x100]))
    name = "x.exe".encode("utf-16-le")
    first = bytearray(entry)
    struct.pack_into("<I", first, 0, entry)
    second = bytearray(entry)
    struct.pack_into("<H", second, offset_of(layouts(width).SYSTEM_PROCESS_INFORMATION, "ImageName.Length"), len(name))
    valid = bytes(first + second) + name
    raw = data.draw(st.one_of(st.binary(max_size=2 * entry + 40), mutated(valid)))
    from ntinspect.backends import live

    source = FedSource(raw, width, base)
    library_error_only(lambda b: list(live.process_entries(source)), raw)
    library_error_only(lambda b: live.system_handle_columns(source), raw)


@pytest.mark.parametrize("width", WIDTHS)
def test_live_process_list_reader_odd_name_length(width):
    """Found by the full profile: an odd ImageName.Length escaped as UnicodeDecodeError."""
    entry = bytearray(layouts(width).SYSTEM_PROCESS_INFORMATION.sizeof() + 8)
    struct.pack_into("<H", entry, offset_of(layouts(width).SYSTEM_PROCESS_INFORMATION, "ImageName.Length"), 1)
    from ntinspect.backends import live

    with pytest.raises(LayoutError, match="odd UTF-16 length") as caught:
        list(live.process_entries(FedSource(bytes(entry), width, 0)))
    assert caught.value.offset == 0


@pytest.mark.parametrize("width", WIDTHS)
@given(data=st.data())
def test_process_handle_snapshot(width, data):
    from ntinspect.backends.live import process_snapshot_columns

    raw = data.draw(st.binary(max_size=400))
    library_error_only(lambda b: process_snapshot_columns(b, 1234, width), raw)


# --- walkers and strings -------------------------------------------------------------------

WALKERS = {
    "walk_processes": lambda b, w, base: list(walk_processes(b, w, base, threads=True)),
    "walk_object_types": lambda b, w, base: list(walk_object_types(b, w)),
    "walk_object_types(base)": lambda b, w, base: list(walk_object_types(b, w, base)),
    "walk_directory": lambda b, w, base: list(walk_directory(b, w, base)),
    "object_name": lambda b, w, base: object_name(b, w),
    "object_name(base)": lambda b, w, base: object_name(b, w, base),
    "object_type_name": lambda b, w, base: object_type_name(b, w),
}


@pytest.mark.parametrize("walker", sorted(WALKERS))
@given(width=st.sampled_from(WIDTHS), raw=st.binary(max_size=700), base=st.integers(0, 0xFFFFFFFF))
def test_walkers_and_strings(walker, width, raw, base):
    library_error_only(lambda b: WALKERS[walker](b, width, base), raw)


# --- AFD and TDI replies -------------------------------------------------------------------

def _afd_parsers():
    from ntinspect.backends import afd_replies as A

    return {
        "parse_sockaddr": A.parse_sockaddr,
        "parse_socket_info(wine)": lambda b: A.parse_socket_info(b, True),
        "parse_socket_info(windows)": lambda b: A.parse_socket_info(b, False),
        "parse_accepting": A.parse_accepting,
        "parse_ta_address(ip)": lambda b: A.parse_ta_address(2, b),
        "parse_ta_address(ip6)": lambda b: A.parse_ta_address(23, b),
        "tdi_address_info": lambda b: A.first_ip_address(
            parse(layouts(8).TDI_ADDRESS_INFO, b, aligned=False).Address, "TDI_ADDRESS_INFO", 4),
    }


AFD_VALID = [
    struct.pack("<H", 2) + struct.pack(">H", 80) + bytes([127, 0, 0, 1]) + bytes(8),
    struct.pack("<H", 23) + struct.pack(">H", 443) + bytes(4) + bytes(15) + b"\x01" + bytes(4),
    struct.pack("<iHH", 1, 14, 2) + struct.pack(">HI", 8080, 0x7F000001) + bytes(8),  # TRANSPORT_ADDRESS
    struct.pack("<iii", 2, 1, 6),
]


@pytest.mark.parametrize("parser", sorted(_afd_parsers()))
@given(data=st.data())
def test_afd_and_tdi_replies(parser, data):
    raw = data.draw(st.one_of(st.binary(max_size=200), st.sampled_from(AFD_VALID).flatmap(mutated)))
    library_error_only(_afd_parsers()[parser], raw)


# --- IP Helper tables ----------------------------------------------------------------------

def _ip_tables():
    from ntinspect.backends.iptables import TABLE_LAYOUTS

    return sorted(TABLE_LAYOUTS)


@pytest.mark.parametrize("key", _ip_tables())
@given(data=st.data())
def test_ip_helper_tables(key, data):
    from ntinspect.backends.iptables import TABLE_LAYOUTS, parse_table

    row = table_array(TABLE_LAYOUTS[key], bytes(4)).dtype.itemsize
    count = data.draw(st.integers(0, 5))
    valid = struct.pack("<I", count) + data.draw(st.binary(min_size=row * count, max_size=row * count))
    raw = data.draw(st.one_of(st.just(valid), mutated(valid), st.binary(max_size=300)))
    result = library_error_only(lambda b: parse_table(b, *key), raw)
    if not isinstance(result, LayoutError):
        assert len(result) == struct.unpack_from("<I", raw)[0]


# --- page-table entries --------------------------------------------------------------------

ENTRIES = [(mode, name) for mode in ("x86", "pae", "x64") for name in paging.FIELDS[mode]]


@pytest.mark.parametrize("mode", ["x86", "pae", "x64"])
@given(data=st.data())
def test_page_table_entries(mode, data):
    name = data.draw(st.sampled_from(sorted(paging.FIELDS[mode])))
    entry = getattr(getattr(paging, mode), name)
    bits = paging.FIELDS[mode][name][0]
    value = data.draw(st.one_of(st.integers(0, (1 << bits) - 1), st.integers(-(1 << 70), 1 << 70)))
    decoded = library_error_only(lambda b: paging.decode(entry, value), b"")
    if not isinstance(decoded, LayoutError):
        assert paging.encode(entry, **{k: v for k, v in decoded.items() if not k.startswith("_")}) == value
    library_error_only(lambda b: parse(entry, b, aligned=False), data.draw(st.binary(max_size=12)))


# --- counts of 2^32: nothing is allocated for them -----------------------------------------

def _count_cases():
    """(what, parser, bytes) with a count field at its largest and almost nothing behind it."""
    from ntinspect.backends.iptables import TABLE_LAYOUTS, parse_table

    cases = []
    for width in WIDTHS:
        pointer = "<Q" if width == 8 else "<I"
        for info_class in (16, 51, 64):
            cases.append((f"handle_table({width}, {info_class})",
                          lambda b, w=width, c=info_class: handle_table(b, w, c),
                          struct.pack(pointer, (1 << (8 * width)) - 1) + bytes(64)))
        for name in sorted(layouts(width).structs):
            fields = unwrap(layouts(width)[name]).subcons
            last = unwrap(fields[-1]) if fields else None
            if type(last).__name__ == "CountedArray":
                size = layouts(width)[name]
                raw = bytearray(64)
                at = offset_of(size, last.count_field)
                fmt = unwrap(next(f for f in fields if f.name == last.count_field)).fmtstr
                struct.pack_into(fmt, raw, at, (1 << (8 * struct.calcsize(fmt) - fmt[-1].islower())) - 1)
                cases.append((f"parse({name}, {width})", lambda b, s=size: parse(s, b, aligned=False), bytes(raw)))
        cases.append((f"walk_object_types({width})", lambda b, w=width: list(walk_object_types(b, w)),
                      struct.pack("<I", 0xFFFFFFFF) + bytes(60)))
        threads = bytearray(layouts(width).SYSTEM_PROCESS_INFORMATION.sizeof() + 64)
        struct.pack_into("<I", threads, 4, 0xFFFFFFFF)  # NumberOfThreads
        cases.append((f"walk_processes({width})", lambda b, w=width: list(walk_processes(b, w, 0, threads=True)),
                      bytes(threads)))
    for key in sorted(TABLE_LAYOUTS):
        cases.append((f"parse_table{key}", lambda b, k=key: parse_table(b, *k), struct.pack("<I", 0xFFFFFFFF) + bytes(64)))
    cases.append(("TRANSPORT_ADDRESS", lambda b: parse(layouts(8).TRANSPORT_ADDRESS, b, aligned=False),
                  struct.pack("<i", 0x7FFFFFFF) + struct.pack("<HH", 0xFFFF, 2) + bytes(16)))
    return cases


@pytest.mark.parametrize("what, parser, raw", _count_cases(), ids=[c[0] for c in _count_cases()])
def test_counts_of_2_32_allocate_nothing(what, parser, raw):
    """A count field at its maximum (2^32 - 1, 2^64 - 1 for pointer-sized counts) over a
    buffer of a few dozen bytes: a LayoutError, and the parse allocates less than 64 KiB
    (were the count trusted, it would ask for gigabytes)."""
    with pytest.raises(LayoutError):
        parser(raw)  # once untraced: construct compiles a layout on its first use
    tracemalloc.start()
    try:
        with pytest.raises(LayoutError) as caught:
            parser(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 0 <= caught.value.offset <= len(raw)
    assert peak < 64 * 1024, f"{what}: {peak} bytes allocated"
