"""Memory images and page tables, generated: only library errors escape, each saying where
(an offset in the file, or the virtual address and table level of a walk); every walk
ends (the page-table walk over random, self-referencing and looping tables included); no
size or count field drives an allocation.

- Images: an ELF core (QEMU note, ELF64; VirtualBox note, ELF32), a LiME file and a raw
  image, each damaged where its sizes, offsets and counts are (the ELF header and program
  headers, the LiME headers), cut or extended; then opened, translated, read and walked.
- Page tables: a small physical memory of random words, half of them entries pointing at
  the image's own frames (present, large-page and self-referencing ones), walked in every
  mode: :meth:`AddressSpace.mappings` (with ``problems``), :meth:`translate_many`,
  :meth:`translate` and :meth:`read` at random addresses.
"""
import itertools
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "memory"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources"))

import ntinspect.memory as mem  # noqa: E402
from ntinspect.errors import InvalidAddress, MemoryImageError, NtInspectError  # noqa: E402

from crafted_cores import elf_core, qemu_note, vbox_note  # noqa: E402
from crafted_tables import P, PS, RW, US, Memory, Tables, lime_bytes  # noqa: E402
from fuzzkit import FUZZ, allocation_bound, overwrite, work  # noqa: E402,F401 (work: a fixture)

FRAMES = 8  # a walk over 8 frames of random tables: at most 8 x levels x 64 x 512 entries
MODES = ("x86", "pae", "x64", "la57")


def _image_seeds():
    x64 = Tables("x64", Memory(size=0x10000, first_free=0x1000))
    x64.map(0x1000, 0x8000)
    x64.map(0xFFFF800000000000, 0x9000)
    x86 = Tables("x86", Memory(size=0x10000, first_free=0x1000))
    x86.map(0x400000, 0x8000)
    elf64 = elf_core([(0, bytes(x64.memory.data[:0x8000])), (0x8000, bytes(0x8000))],
                     [qemu_note(0x80000001, x64.dtb, 0x20)])
    elf32 = elf_core([(0, bytes(x86.memory.data))], [vbox_note(0x80000001, x86.dtb, 0x10, 0)], elf64=False)
    lime = lime_bytes([(0, bytes(x64.memory.data[:0x8000])), (0x9000, bytes(0x1000))])
    return [("elf", elf64, None, None), ("elf", elf32, None, None), ("lime", lime, x64.dtb, "x64"),
            ("raw", bytes(x64.memory.data), x64.dtb, "x64")]


SEEDS = _image_seeds()


def _hot(kind, data):
    if kind == "elf":
        wide = data[4] == 2
        phoff, count, size = (struct.unpack_from("<Q", data, 32)[0], data[56], 56) if wide else \
            (struct.unpack_from("<I", data, 28)[0], data[44], 32)
        return list(range(0, 64)) + list(range(phoff, min(len(data), phoff + count * size)))
    if kind == "lime":
        spots, at = [], 0
        while at + 32 <= len(data):
            first, last = struct.unpack_from("<QQ", data, at + 8)
            spots += range(at, at + 32)
            at += 32 + last - first + 1
        return spots
    return list(range(0, 0x1000))  # raw: the top table


@st.composite
def damaged_image(draw):
    which = draw(st.integers(0, len(SEEDS) - 1))
    kind, seed, dtb, mode = SEEDS[which]
    data = bytearray(seed)
    overwrite(draw, st, data, _hot(kind, data),
              [0, 1, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 32, 56, 0x4C694D45])
    cut = draw(st.integers(0, 5))
    if cut == 0:
        del data[draw(st.integers(0, len(data))):]
    elif cut == 1:
        data += draw(st.binary(max_size=96))
    return which, bytes(data), dtb, mode


def _where(error) -> bool:
    """A library error that says where: an offset in the file (or, for a judgement about the
    whole image, none needed: no dtb recorded, an empty file), an address for a walk."""
    if isinstance(error, InvalidAddress):
        return error.address is not None
    if isinstance(error, MemoryImageError):
        return error.offset is not None or error.reason.startswith(("the image records no", "the file is empty"))
    return False


def exercise(space, addresses, repeats=64):
    """Everything an analyst does with a space; library errors per call are collected.
    ``repeats``: the walks' ``table_repeats`` (how often one table is walked at one level)."""
    escaped = []
    for call in (lambda: sum(1 for _ in space.mappings(problems=True, table_repeats=repeats)),  # counted, not
                 lambda: sum(1 for _ in space.mappings(merge=False, table_repeats=repeats)),  # kept: the walk's
                 # own allocation is what is bounded
                 lambda: space.translate_many(addresses)):
        try:
            call()
        except NtInspectError as error:
            escaped.append(error)
    for address in addresses[:16]:
        for call in (space.translate, lambda a: space.read(a, 64), space.pte):
            try:
                call(address)
            except NtInspectError as error:
                escaped.append(error)
    return escaped


ADDRESSES = st.lists(st.one_of(st.integers(0, (1 << 64) - 1), st.integers(0, 1 << 32),
                               st.sampled_from([0x1000, 0x400000, 0xFFFF800000000000])), min_size=1, max_size=40)


@FUZZ
@given(image=damaged_image(), addresses=ADDRESSES)
def test_damaged_memory_images(work, image, addresses):
    which, data, dtb, mode = image
    path = work / f"fuzz-{which}.img"
    path.write_bytes(data)
    escaped = []
    with allocation_bound(16 << 20):  # the seeds are 64 KiB; a size of 2^32 would ask for GiBs
        try:
            with mem.open(path, dtb=dtb, mode=mode) as space:
                escaped += exercise(space, addresses)
        except NtInspectError as error:
            escaped.append(error)
    for error in escaped:
        assert _where(error), repr(error)


@st.composite
def random_tables(draw, mode):
    """FRAMES frames of words, many of them entries naming the image's own frames."""
    esize = 4 if mode == "x86" else 8
    words = []
    for _ in range(FRAMES * 4096 // esize // 64):  # 64 words at a time (generation stays fast)
        kind = draw(st.integers(0, 3))
        if kind == 0:
            words += [0] * 64
        elif kind == 1:
            words += [draw(st.integers(0, (1 << 8 * esize) - 1))] * 64
        else:  # entries naming a frame of the image (or just past it): loops, self-references
            frame = draw(st.integers(0, FRAMES + 1)) << 12
            flags = draw(st.sampled_from([P, P | RW | US, P | PS, P | RW | US | PS]))
            high = draw(st.integers(0, (1 << 12) - 1)) << 52 if esize == 8 else 0  # NX and software bits
            entry = frame | flags | high
            words += [entry] * 64 if kind == 2 else [entry] + [0] * 63
    fmt = "<" + ("I" if esize == 4 else "Q") * len(words)
    data = struct.pack(fmt, *words)
    dtb = draw(st.integers(0, FRAMES - 1)) << 12 | (draw(st.integers(0, 127)) << 5 if mode == "pae" else 0)
    return data, dtb


@pytest.mark.parametrize("mode", MODES)
@FUZZ
@given(data=st.data(), addresses=ADDRESSES)
def test_page_table_walks_over_corrupt_and_looping_tables(work, mode, data, addresses):
    image, dtb = data.draw(random_tables(mode))
    path = work / f"tables-{mode}.raw"
    path.write_bytes(image)
    with allocation_bound(16 << 20):
        with mem.open(path, dtb=dtb, mode=mode) as space:
            # 2 walks of a table per level, not the default 64: the same repeat check (its
            # default bound is the self-referencing test's below), 32 times fewer pages a
            # walk of looping tables (up to ~300,000 at 64: ~2.5 s an example on x64)
            escaped = exercise(space, addresses, repeats=2)
    for error in escaped:
        assert isinstance(error, InvalidAddress) and _where(error), repr(error)


def test_a_table_whose_entries_all_name_itself_is_walked_in_linear_time(tmp_path):
    """The worst loop: every entry of the top table names the top table (x64: 512**4 pages
    if followed). The walk reports the repeats and ends; the count is the bound's."""
    path = tmp_path / "self.raw"
    path.write_bytes(struct.pack("<512Q", *([0 | P | RW | US] * 512)) + bytes(0x1000))
    with mem.open(path, dtb=0, mode="x64") as space:
        problems = [m for m in itertools.islice(space.mappings(problems=True, merge=False), 10 ** 7)
                    if m.status == "table_repeated"]
        assert problems and len(problems) < 10 ** 7
