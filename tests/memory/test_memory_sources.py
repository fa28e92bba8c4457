"""Physical sources: raw (sparse), LiME, ELF cores as QEMU and VirtualBox write them, and
open(): the mode and CR3 from the core's CPU note, clear errors for bad or truncated files."""
import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ntinspect import memory as mem
from ntinspect.errors import AddressNotInImage, MemoryImageError, NtInspectError

from crafted_cores import elf_core, qemu_note, vbox_note
from crafted_tables import P, RW, Tables, lime_bytes

CR0_PG = 1 << 31


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_raw_image_reads_and_holes(tmp_path):
    data = bytes(range(256)) * 64
    with mem.RawImage(write(tmp_path, "r.raw", data)) as raw:
        assert raw.read(0x10, 4) == bytes([0x10, 0x11, 0x12, 0x13])
        assert raw.ranges == (mem.PhysicalRange(0, len(data)),) and raw.holes() == []
        assert raw.contains(len(data) - 1) and not raw.contains(len(data) - 1, 2)
        with pytest.raises(AddressNotInImage) as fault:
            raw.read(len(data) - 2, 4)
        assert fault.value.physical == len(data)


def test_raw_sparse_file_holes_are_not_in_the_image(tmp_path):
    path = tmp_path / "sparse.raw"
    with open(path, "wb") as f:
        f.write(b"A" * 4096)
        f.seek(16 << 20)
        f.write(b"B" * 4096)
    with mem.RawImage(str(path), sparse=True) as raw:
        starts = [r.start for r in raw.ranges]
        if len(raw.ranges) == 1:
            pytest.skip("this file system does not report holes (SEEK_HOLE): nothing to tell apart")
        assert starts[0] == 0 and raw.read(16 << 20, 2) == b"BB"
        with pytest.raises(AddressNotInImage):
            raw.read(8 << 20, 1)
    with mem.RawImage(str(path)) as dense:  # default: the whole file, holes read as zeros
        assert dense.read(8 << 20, 2) == b"\0\0"


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(MemoryImageError, match="empty"):
        mem.RawImage(write(tmp_path, "e.raw", b""))
    with pytest.raises(MemoryImageError, match="cannot open"):
        mem.open(str(tmp_path / "missing.raw"), dtb=0, mode="x86")


def test_lime_ranges_and_holes(tmp_path):
    path = write(tmp_path, "m.lime", lime_bytes([(0x1000, b"a" * 0x1000), (0x3000, b"b" * 0x2000)]))
    with mem.open_physical(path) as lime:
        assert isinstance(lime, mem.LimeImage)
        assert [(r.start, r.end) for r in lime.ranges] == [(0x1000, 0x2000), (0x3000, 0x5000)]
        assert [(h.start, h.end) for h in lime.holes()] == [(0, 0x1000), (0x2000, 0x3000)]
        assert lime.read(0x1FFE, 2) == b"aa" and lime.read(0x4FFF, 1) == b"b"
        with pytest.raises(AddressNotInImage) as fault:
            lime.read(0x1FFF, 2)
        assert fault.value.physical == 0x2000


@pytest.mark.parametrize("mutate,message", [
    (lambda b: b"XXXX" + b[4:], "bad LiME magic"),
    (lambda b: b[:4] + struct.pack("<I", 2) + b[8:], "version 2"),
    (lambda b: b[:8] + struct.pack("<QQ", 0x2000, 0x1000) + b[24:], "before it starts"),
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\0" * 10, "truncated"),
    (lambda b: b + b[:32] + b"x" * 0x1000, "overlaps"),
])
def test_bad_lime_files(tmp_path, mutate, message):
    good = lime_bytes([(0x1000, b"a" * 0x1000)])
    with pytest.raises(MemoryImageError, match=message) as error:
        mem.LimeImage(write(tmp_path, "bad.lime", mutate(good)))
    assert error.value.offset is not None


@pytest.mark.parametrize("mode,elf64,cr4", [("x86", False, 0x10), ("pae", False, 0x20), ("x64", True, 0x20),
                                            ("la57", True, 0x1020)])
def test_qemu_core_gives_mode_and_cr3(tmp_path, mode, elf64, cr4):
    t = Tables(mode)
    t.map(0x1000, 0x5000, flags=P | RW)
    t.memory.data[0x5000:0x5004] = b"QEMU"
    ram = bytes(t.memory.data)
    # RAM in two segments around a hole, as QEMU leaves the VGA window out
    core = elf_core([(0, ram[:0xA0000]), (0xC0000, ram[0xC0000:])], [qemu_note(CR0_PG | 1, t.dtb, cr4)],
                    elf64=elf64, machine=62 if mode in ("x64", "la57") else 3)
    with mem.open(write(tmp_path, "core.elf", core)) as space:
        assert space.mode.name == mode and space.dtb == t.dtb
        assert space.physical.format == "elf" and space.physical.cpu_state["cr3"] == t.dtb
        assert space.read(0x1000, 4) == b"QEMU"
        assert [(h.start, h.end) for h in space.physical.holes()] == [(0xA0000, 0xC0000)]
        with pytest.raises(AddressNotInImage):
            space.physical.read(0xA0000, 1)
    with mem.open(write(tmp_path, "core2.elf", core), dtb=t.dtb, mode=mode) as given:
        assert given.translate(0x1000).physical == 0x5000


def test_virtualbox_core_uses_efer(tmp_path):
    t = Tables("x64")
    t.map(0x1000, 0x5000)
    note = vbox_note(CR0_PG | 1, t.dtb | 0x18, 0x20, 1 << 10 | 1 << 8)
    core = elf_core([(0, bytes(t.memory.data))], [note], elf64=True)
    with mem.open(write(tmp_path, "vbox.elf", core)) as space:
        assert space.mode.name == "x64" and space.physical.cpu_state["source"] == "VBCPU"
        assert space.table == t.dtb and space.translate(0x1000).physical == 0x5000  # CR3's PWT/PCD bits dropped


def test_core_without_cpu_state_needs_dtb_and_mode(tmp_path):
    path = write(tmp_path, "plain.elf", elf_core([(0, bytes(0x2000))]))
    with pytest.raises(MemoryImageError, match="dtb or mode"):
        mem.open(path)
    with pytest.raises(MemoryImageError, match="mode"):
        mem.open(path, dtb=0x1000)
    with pytest.raises(ValueError, match="unknown paging mode"):
        mem.open(path, dtb=0x1000, mode="arm")
    with mem.open(path, dtb=0x1000, mode="x64") as space:
        assert space.physical.cpu_state == {}


def test_paging_off_gives_no_mode(tmp_path):
    path = write(tmp_path, "real.elf", elf_core([(0, bytes(0x2000))], [qemu_note(1, 0x1000, 0x20)]))
    with pytest.raises(MemoryImageError, match="mode"):
        mem.open(path)


@pytest.mark.parametrize("damage,message", [
    (lambda b: b[:40], "ELF"),
    (lambda b: b[:0x200], "truncated"),
    (lambda b: b"\x7fELF" + b"\xff" * 60, "ELF"),
])
def test_bad_elf_files(tmp_path, damage, message):
    core = elf_core([(0, bytes(0x3000))], [qemu_note(CR0_PG, 0x1000, 0x20)])
    with pytest.raises(MemoryImageError, match=message):
        mem.open(write(tmp_path, "bad.elf", damage(core)))


@pytest.mark.parametrize("e_type,name", [(1, "ET_REL"), (2, "ET_EXEC"), (3, "ET_DYN")])
def test_an_elf_that_is_not_a_core_is_refused(tmp_path, e_type, name):
    # an executable's LOAD segments are not physical memory, even with a CPU note and a dtb
    core = bytearray(elf_core([(0, bytes(0x3000))], [qemu_note(CR0_PG, 0x1000, 0x20)]))
    struct.pack_into("<H", core, 16, e_type)
    path = write(tmp_path, "program.elf", bytes(core))
    for call in (lambda: mem.open(path), lambda: mem.open(path, dtb=0x1000, mode="x64")):
        with pytest.raises(MemoryImageError, match=f"{name}.*not a core") as error:
            call()
        assert error.value.offset == 16


def test_elf_note_too_short(tmp_path):
    core = elf_core([(0, bytes(0x1000))], [("QEMU", 0, b"\0" * 100)])
    with pytest.raises(MemoryImageError, match="QEMU note of 100 bytes") as error:
        mem.ElfCore(write(tmp_path, "short.elf", core))
    assert error.value.offset is not None


def test_elf_overlapping_segments(tmp_path):
    core = elf_core([(0, bytes(0x2000)), (0x1000, bytes(0x1000))])
    with pytest.raises(MemoryImageError, match="overlaps"):
        mem.ElfCore(write(tmp_path, "overlap.elf", core))


def test_elf_filesz_short_of_memsz_is_not_in_the_image(tmp_path):
    core = elf_core([(0, b"x" * 0x2000)], filesz_cut={0: 0x1000})
    with mem.ElfCore(write(tmp_path, "cut.elf", core)) as elf:
        assert elf.read(0xFFF, 1) == b"x"
        with pytest.raises(AddressNotInImage):
            elf.read(0x1000, 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=600), prefix=st.sampled_from([b"", b"\x7fELF\x02\x01\x01",
                                                                      b"\x7fELF\x01\x01\x01", b"EMiL\x01\0\0\0"]))
def test_corrupt_files_raise_library_errors_only(tmp_path, data, prefix):
    path = write(tmp_path, "fuzz.bin", prefix + data)
    try:
        space = mem.open(path, dtb=0, mode="x64")
    except NtInspectError as error:
        assert str(error)
        return
    with space:
        try:
            list(space.mappings(problems=True))
            space.read(0, 16, zero_fill=True)
        except NtInspectError:
            pass


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["x86", "pae", "x64", "la57"]),
       st.lists(st.integers(0, (1 << 64) - 1) | st.integers(0, 0xFFFF).map(lambda v: v << 4 | 0x81),
                min_size=1, max_size=16),
       st.lists(st.integers(0, (1 << 64) - 1), min_size=1, max_size=20))
def test_random_tables_fault_only_with_invalid_address(tmp_path, mode, entries, addresses):
    """Garbage tables: every answer is a translation or an InvalidAddress, mappings() ends,
    and translate_many() agrees with translate()."""
    import numpy as np

    from ntinspect import InvalidAddress

    table = b"".join(e.to_bytes(8, "little") for e in entries) * (512 // len(entries) + 1)
    image = bytearray(1 << 16)
    for at in range(0, 1 << 16, 4096):
        image[at:at + 4096] = table[:4096]
    path = write(tmp_path, "garbage.raw", bytes(image))
    with mem.open(path, dtb=0x2000, mode=mode) as space:
        many = space.translate_many(np.array(addresses, dtype=np.uint64))
        for k, a in enumerate(addresses):
            try:
                tr = space.translate(a)
                assert int(many.physical[k]) == tr.physical
            except InvalidAddress:
                assert many.status[k] not in (mem.TranslateStatus.OK, mem.TranslateStatus.NOT_IN_IMAGE)
        count = sum(1 for _ in space.mappings(problems=True, table_repeats=2))
        assert count >= 0


def test_open_accepts_a_source_and_closes_what_it_opened(tmp_path):
    path = write(tmp_path, "r.raw", bytes(0x3000))
    raw = mem.RawImage(path)
    space = mem.open(raw, dtb=0x1000, mode="pae")
    assert space.physical is raw
    space.close()
    with pytest.raises(MemoryImageError, match="closed"):
        raw.read(0, 1)
    assert os.path.exists(path)


@pytest.mark.parametrize("cr4,large", [(0x10, True), (0, False)])
def test_x86_core_honours_cr4_pse(tmp_path, cr4, large):
    from ntinspect.memory import PageNotPresent

    t = Tables("x86")
    t.map(0xC0000000, 0, 1 << 22)
    core = elf_core([(0, bytes(t.memory.data))], [qemu_note(CR0_PG | 1, t.dtb, cr4)], elf64=False)
    with mem.open(write(tmp_path, "pse.elf", core)) as space:
        if large:
            assert space.translate(0xC0001234).page_size == 1 << 22
        else:  # PS ignored without CR4.PSE: the PDE names a page table (at 0, all zeros)
            with pytest.raises(PageNotPresent):
                space.translate(0xC0001234)


@pytest.mark.parametrize("mode, dtb", [("x64", 1 << 64), ("la57", 1 << 64), ("x86", 1 << 32), ("pae", 1 << 32)])
def test_a_dtb_wider_than_the_modes_cr3_is_refused_not_masked(tmp_path, capsys, mode, dtb):
    """A CR3 the mode's register cannot hold (2**64; over 32 bits for x86 and PAE) used to be
    masked down silently: --dtb 0x10000000000000000 walked the table at 0 and said 'ok'."""
    path = write(tmp_path, "r.raw", bytes(0x2000))
    with pytest.raises(ValueError, match="does not fit"):
        mem.open(path, dtb=dtb, mode=mode)
    with pytest.raises(ValueError, match="does not fit"):
        mem.open(path, dtb=dtb | 0x1000, mode=mode)
    with mem.open(path, dtb=dtb - 0x1000, mode=mode) as space:  # the widest value still opens
        assert space.dtb == dtb - 0x1000
    from ntinspect.cli import main

    assert main(["mem", "translate", path, "--dtb", hex(dtb), "--mode", mode, "0"]) == 2
    assert "does not fit" in capsys.readouterr().err
