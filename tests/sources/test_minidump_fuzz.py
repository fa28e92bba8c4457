"""Damaged minidumps, generated: only library errors (NtInspectError) may escape, and no
call allocates more than the file could hold.

Seeds: a real Windows 11 dump with 147 handles and a built one with v2 descriptors and
object names. Each example overwrites bytes (biased towards the header, the directory
and the streams' headers, where the counts and offsets are), and may truncate.
"""
from pathlib import Path

from hypothesis import given, strategies as st

import ntinspect
from ntinspect.errors import NtInspectError, SourceFormatError, SourceUnsupported, TypeNotFound

from dumpkit import DATA, build, raw_streams
from fuzzkit import FUZZ, allocation_bound, located, overwrite, work  # noqa: F401 (work: a fixture)

SEEDS = [
    (DATA / "breakpad__tiny-exe-with-cet-xsave.dmp").read_bytes(),
    build(handles=[(4, "File", "\\Device\\X", 0, 0x12019F), (8, None, None, 2, 1), (12, "ALPC Port", "p", 0, 1)],
          descriptor_size=40, modules=[("C:\\a.exe", (1, 0, 0, 0), (1, 0, 0, 0)),
                                       ("C:\\Windows\\SysWOW64\\ntdll.dll", (6, 2, 19041, 1), (10, 0, 19041, 1))]),
]


def _hot(data):
    """Offsets where a changed byte changes a count, a size or an offset."""
    spots = list(range(0, 32))
    count_rva = int.from_bytes(data[12:16], "little")
    spots += range(count_rva, min(len(data), count_rva + 12 * 16))
    for rva, _ in raw_streams(data).values():
        spots += range(rva, min(len(data), rva + 64))
    return sorted(set(spots))


HOT = [_hot(seed) for seed in SEEDS]


@st.composite
def damaged(draw):
    which = draw(st.integers(0, len(SEEDS) - 1))
    data = bytearray(SEEDS[which])
    overwrite(draw, st, data, HOT[which], [0, 0xFF, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 32, 40])
    if draw(st.integers(0, 4)) == 0:
        del data[draw(st.integers(0, len(data))):]
    return bytes(data)


@FUZZ
@given(data=damaged())
def test_damaged_dumps_raise_only_library_errors(work, data):
    path = work / "fuzz.dmp"
    path.write_bytes(data)
    escaped = []
    with allocation_bound(32 << 20):  # the seeds are a few KiB; a count of 2^32 would ask for GiBs
        try:
            with ntinspect.open(path) as source:
                for call in (source.system_info, source.processes, lambda: source.handles(names=True),
                             lambda: source.handles(type="File"), source.modules):
                    try:
                        call()
                    except NtInspectError as error:
                        escaped.append(error)
        except NtInspectError as error:
            escaped.append(error)
    for error in escaped:
        # a stream or offset; else the file is no minidump at all, the damage removed the stream a
        # call reads (SourceUnsupported names what the dump still holds), or no type the dump has
        assert located(error) or isinstance(error, (SourceFormatError, SourceUnsupported, TypeNotFound)), repr(error)
