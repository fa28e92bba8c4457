"""The page walker on crafted tables, every mode: pages of every size, permissions and NX
along the walk, faults of every kind, reads across pages, mappings(), translate_many(),
self-referencing and looping tables."""
import pickle

import numpy as np
import pytest

import ntinspect
from ntinspect import memory as mem
from ntinspect.memory import AddressNotInImage, NonCanonicalAddress, PageNotPresent, TranslateStatus

from crafted_tables import A, D, G, NX, P, PCD, RW, US, VBITS, Memory, Tables

MODES = ["x86", "pae", "x64", "la57"]
LARGE = {"x86": [1 << 22], "pae": [1 << 21], "x64": [1 << 21, 1 << 30], "la57": [1 << 21, 1 << 30]}


def high(mode: str) -> int:
    """A kernel-half address of the mode (sign-extended where the mode is canonical)."""
    return {"x86": 0x80000000, "pae": 0xC0000000, "x64": 0xFFFF800000000000,
            "la57": 0xFF00000000000000}[mode]


def space_of(tables: Tables, tmp_path, name="image.raw"):
    return mem.open(tables.write(tmp_path / name), dtb=tables.dtb, mode=tables.mode)


@pytest.mark.parametrize("mode", MODES)
def test_small_pages_and_entries(mode, tmp_path):
    t = Tables(mode)
    low_pte = t.map(0x1000, 0x5000, flags=P | RW | US | A | D)
    t.memory.data[0x5123:0x5127] = b"seed"
    kernel = high(mode) + 0x3000
    t.map(kernel, 0x7000, flags=P | G)
    with space_of(t, tmp_path) as space:
        tr = space.translate(0x1123)
        assert (tr.physical, tr.page_size, tr.in_image) == (0x5123, 4096, True)
        levels = [e.level for e in tr.entries]
        assert levels == {"x86": ["PDE", "PTE"], "pae": ["PDPTE", "PDE", "PTE"],
                          "x64": ["PML4E", "PDPTE", "PDE", "PTE"],
                          "la57": ["PML5E", "PML4E", "PDPTE", "PDE", "PTE"]}[mode]
        leaf = tr.entries[-1]
        assert leaf.address == low_pte and leaf.value & ~0xFFF == 0x5000
        assert leaf.fields["Present"] and leaf.fields["Dirty"] and leaf.fields["PageFrameNumber"] == 5
        assert tr.entries[0].address & ~0xFFF == t.dtb & ~0xFFF
        assert tr.writable and tr.user and not tr.nx
        assert space.read(0x1123, 4) == b"seed"
        k = space.translate(kernel + 8)
        assert k.physical == 0x7008 and not k.writable and not k.user
        assert k.flags == "-G-------"
        assert tr.flags == "---DA--UW"


@pytest.mark.parametrize("mode", MODES)
def test_large_pages(mode, tmp_path):
    t = Tables(mode, Memory(size=1 << 23))
    for n, size in enumerate(LARGE[mode]):
        vaddr = high(mode) + size * (4 + n * 2)
        target = size * (3 + n)  # beyond the 8 MiB image for the bigger pages: mapped, not in the image
        t.map(vaddr, target, size, P | RW | G)
        with space_of(t, tmp_path, f"{n}.raw") as space:
            offset = size // 2 + 0x123
            tr = space.translate(vaddr + offset)
            assert tr.physical == target + offset and tr.page_size == size
            assert tr.entries[-1].layout in ("PDE_4M", "PDE_2M", "PDPTE_1G")
            assert tr.entries[-1].fields["PageSize"]
            assert tr.in_image == (target + offset < len(t.memory.data))
            pages = [m for m in space.mappings(merge=False) if m.page_size == size]
            assert [(m.virtual, m.physical, m.flags[:3]) for m in pages] == [(vaddr, target, "-GP")]


def test_x86_pse36_high_address_bits(tmp_path):
    t = Tables("x86")
    t.map(0xC0000000, 0x1_0040_0000 & ~0x3FFFFF, 1 << 22)  # 4 MiB page at 4 GiB + 4 MiB (PSE-36)
    with space_of(t, tmp_path) as space:
        tr = space.translate(0xC0000010)
        assert tr.physical == 0x1_0040_0010 and not tr.in_image
        assert tr.entries[0].fields["PageFrameNumberHigh"] == 1


def test_x86_without_pse_reads_ps_as_a_table(tmp_path):
    t = Tables("x86")
    t.map(0xC0000000, 0, 1 << 22)
    image = t.write(tmp_path / "i.raw")
    with mem.AddressSpace(mem.RawImage(image), t.dtb, "x86", pse=False) as space:
        # PS ignored: the PDE's frame (0) is read as a page table, of zeros
        with pytest.raises(PageNotPresent) as fault:
            space.translate(0xC0000000 + 5 * 4096)
        assert fault.value.level == "PTE" and fault.value.entry_address == 5 * 4


@pytest.mark.parametrize("mode", ["pae", "x64", "la57"])
def test_nx_along_the_walk(mode, tmp_path):
    t = Tables(mode)
    t.map(0x1000, 0x5000, flags=P | RW | NX)
    t.map(0x400000, 0x6000, flags=P | RW)
    with space_of(t, tmp_path) as space:
        assert space.translate(0x1000).nx and space.translate(0x1000).flags[0] == "X"
        assert not space.translate(0x400000).nx
        # NX on an upper level covers everything beneath it, whatever the leaf says
        top = space.translate(0x400000).entries[1]
        t.memory.put(top.address, top.value | NX, 8)
    with space_of(t, tmp_path, "nx.raw") as space:
        tr = space.translate(0x400000)
        assert tr.nx and tr.flags[0] == "-"
        assert [m.nx for m in space.mappings()] == [True, True]


@pytest.mark.parametrize("mode", ["x86", "x64"])
def test_upper_level_read_only_wins(mode, tmp_path):
    t = Tables(mode)
    t.map(0x1000, 0x5000, flags=P | RW | US)
    top = t.dtb
    t.memory.put(top, t.memory.get(top, t.esize) & ~(RW | US), t.esize)
    with space_of(t, tmp_path) as space:
        tr = space.translate(0x1000)
        assert not tr.writable and not tr.user and tr.flags.endswith("UW")


@pytest.mark.parametrize("mode,address", [
    ("x64", 0x0000800000000000), ("x64", 0xFFFF7FFFFFFFFFFF), ("x64", 1 << 64), ("x64", -1),
    ("la57", 0x0100000000000000), ("la57", 0xFEFFFFFFFFFFFFFF),
    ("x86", 1 << 32), ("pae", 1 << 32), ("x86", -4096),
])
def test_non_canonical(mode, address, tmp_path):
    t = Tables(mode)
    with space_of(t, tmp_path) as space:
        with pytest.raises(NonCanonicalAddress) as fault:
            space.translate(address)
        assert fault.value.address == address and fault.value.bits == VBITS[mode]
        assert isinstance(fault.value, ntinspect.InvalidAddress)
        if address >= 0:
            result = space.translate_many(np.array([address % (1 << 64)], dtype=np.uint64))
            assert result.status[0] == TranslateStatus.NON_CANONICAL or address >= 1 << 64


@pytest.mark.parametrize("mode", MODES)
def test_not_present_names_level_and_entry(mode, tmp_path):
    t = Tables(mode)
    t.map(0x1000, 0x5000)
    with space_of(t, tmp_path) as space:
        with pytest.raises(PageNotPresent) as fault:
            space.translate(0x2000)
        leaf = space.translate(0x1000).entries[-1]
        assert fault.value.level == "PTE" and fault.value.entry == 0
        assert fault.value.entry_address == leaf.address + t.esize
        assert fault.value.software is None
        far = high(mode) + (1 << 40 if VBITS[mode] > 32 else 0x1000000)
        with pytest.raises(PageNotPresent) as top:
            space.translate(far)
        assert top.value.level == space.mode.levels[0].name


@pytest.mark.parametrize("mode", MODES)
def test_target_and_table_not_in_image(mode, tmp_path):
    t = Tables(mode)
    t.map(0x1000, 0x7FFF000)  # beyond the 4 MiB image: mapped, but the bytes are absent
    leaf_address = t.set_leaf(0x800000, 0x5000 | P)
    with space_of(t, tmp_path) as space:
        tr = space.translate(0x1010)
        assert tr.physical == 0x7FFF010 and not tr.in_image
        with pytest.raises(AddressNotInImage) as fault:
            space.read(0x1010, 4)
        assert fault.value.address == 0x1010 and fault.value.physical == 0x7FFF010
        assert fault.value.level == "physical"
        # a walk whose page table is missing raises it too, naming the level and the entry
        pde = space.translate(0x800000).entries[-2]
        t.memory.put(pde.address, 0x40000000 | P | RW, t.esize)
    with space_of(t, tmp_path, "table.raw") as space:
        with pytest.raises(AddressNotInImage) as fault:
            space.translate(0x800000)
        assert fault.value.level == "PTE" and fault.value.physical == 0x40000000
        status = space.translate_many(np.array([0x800000, 0x1000], dtype=np.uint64)).status
        assert list(status) == [TranslateStatus.TABLE_NOT_IN_IMAGE, TranslateStatus.NOT_IN_IMAGE]
        problems = [m for m in space.mappings(problems=True) if m.status != "ok"]
        assert [(m.status, m.physical) for m in problems] == [("table_not_in_image", 0x40000000)]
        assert all(m.status == "ok" for m in space.mappings())
    assert leaf_address


@pytest.mark.parametrize("mode", MODES)
def test_read_across_pages_and_zero_fill(mode, tmp_path):
    t = Tables(mode)
    t.map(0x10000, 0x20000)
    t.map(0x11000, 0x9000)  # physically discontiguous neighbour
    t.map(0x13000, 0x21000)  # 0x12000 is not mapped
    t.memory.data[0x20FF0:0x21000] = b"A" * 16
    t.memory.data[0x9000:0x9010] = b"B" * 16
    t.memory.data[0x21000:0x21010] = b"C" * 16
    with space_of(t, tmp_path) as space:
        assert space.read(0x10FF0, 32) == b"A" * 16 + b"B" * 16
        with pytest.raises(PageNotPresent) as fault:
            space.read(0x10FF0, 0x3000)
        assert fault.value.address == 0x12000
        data = space.read(0x11FF0, 0x1020, zero_fill=True)
        assert data == bytes(16) + bytes(0x1000) + b"C" * 16 or data[:16] == bytes(16)
        assert data[16:16 + 0x1000] == bytes(0x1000) and data[-16:] == b"C" * 16
        assert space.read(0x10000, 0) == b""
        with pytest.raises(ValueError):
            space.read(0x10000, -1)


@pytest.mark.parametrize("mode", MODES)
def test_mappings_merge_rule(mode, tmp_path):
    t = Tables(mode)
    for n in range(4):
        t.map(0x100000 + n * 0x1000, 0x300000 + n * 0x1000, flags=P | RW)
    t.map(0x104000, 0x380000, flags=P | RW)            # physically discontiguous: new range
    t.map(0x105000, 0x381000, flags=P)                 # read-only: new range
    t.map(0x106000, 0x8000000, flags=P)                # not in the image: new range
    t.map(0x107000, 0x8001000, flags=P)
    with space_of(t, tmp_path) as space:
        pages = list(space.mappings(merge=False))
        assert len(pages) == 8 and all(p.size == p.page_size == 4096 for p in pages)
        ranges = [(m.virtual, m.physical, m.size, m.writable, m.in_image) for m in space.mappings()]
        assert ranges == [(0x100000, 0x300000, 0x4000, True, True), (0x104000, 0x380000, 0x1000, True, True),
                          (0x105000, 0x381000, 0x1000, False, True), (0x106000, 0x8000000, 0x2000, False, False)]
        assert sum(m.pages for m in space.mappings()) == 8


@pytest.mark.parametrize("chunk", [None, 7])
@pytest.mark.parametrize("mode", MODES)
def test_translate_many_agrees_with_translate(mode, chunk, tmp_path, monkeypatch):
    if chunk:  # arrays longer than one chunk of the array walk
        monkeypatch.setattr("ntinspect.memory.space.MANY_CHUNK", chunk)
    t = Tables(mode, Memory(size=1 << 23))
    rng = np.random.default_rng(7)
    for n in range(64):
        t.map(0x400000 + n * 0x1000 * 3, 0x200000 + n * 0x1000, flags=P | RW)
    t.map(high(mode) + (LARGE[mode][0] * 2), LARGE[mode][0], LARGE[mode][0])
    t.map(0x1000, 0x7000000)
    with space_of(t, tmp_path) as space:
        mapped = [m.virtual for m in space.mappings(merge=False)]
        addresses = [a + int(o) for a in mapped for o in rng.integers(0, 4096, 3)]
        addresses += [int(a) for a in rng.integers(0, 1 << 32, 200)] + [high(mode) + 0x123, 0x1004]
        if VBITS[mode] > 32:
            addresses += [0x0000900000000000, 1 << 63]
        result = space.translate_many(np.array(addresses, dtype=np.uint64))
        for k, a in enumerate(addresses):
            try:
                tr = space.translate(a)
            except NonCanonicalAddress:
                assert result.status[k] == TranslateStatus.NON_CANONICAL
                continue
            except PageNotPresent:
                assert result.status[k] == TranslateStatus.NOT_PRESENT
                continue
            assert int(result.physical[k]) == tr.physical and int(result.page_size[k]) == tr.page_size
            assert result.status[k] == (TranslateStatus.OK if tr.in_image else TranslateStatus.NOT_IN_IMAGE)
        assert result.ok.sum() > len(mapped)


def test_x64_self_referencing_pml4(tmp_path):
    """Windows' self-map: one PML4 entry points to the PML4 itself. mappings() stays finite
    and lists what the processor would map there (every table as a page)."""
    t = Tables("x64")
    t.map(0x1000, 0x5000)
    t.map(0xFFFFF80000000000, 0x6000)
    self_index = 0x1ED
    t.memory.put(t.dtb + self_index * 8, t.dtb | P | RW, 8)
    with space_of(t, tmp_path) as space:
        pages = list(space.mappings(merge=False))
        base = 0xFFFF000000000000 | self_index << 39
        self_map = [p for p in pages if p.virtual >> 39 & 0x1FF == self_index and p.virtual >= base]
        ordinary = [p for p in pages if p not in self_map]
        assert [(p.virtual, p.physical) for p in ordinary] == [(0x1000, 0x5000), (0xFFFFF80000000000, 0x6000)]
        tables = {e.value & ~0xFFF for a in (0x1000, 0xFFFFF80000000000) for e in space.translate(a).entries[:-1]}
        # the PTE self-map shows every page table as a 4 KiB page; the PML4 shows up at every depth
        assert {p.physical for p in self_map} >= tables | {t.dtb}
        pml4_self = base | self_index << 30 | self_index << 21 | self_index << 12
        assert space.translate(pml4_self).physical == t.dtb
        assert pages == sorted(pages, key=lambda p: p.virtual)


def test_x86_self_map_page_directory(tmp_path):
    t = Tables("x86")
    t.map(0x80001000, 0x5000)
    t.memory.put(t.dtb + 0x300 * 4, t.dtb | P | RW, 4)  # PDE 0x300: the PD at 0xC0300000
    with space_of(t, tmp_path) as space:
        assert space.translate(0xC0300000).physical == t.dtb
        assert space.translate(0xC0300000 + 0x200 * 4 * 0).physical == t.dtb
        pages = list(space.mappings(merge=False))
        assert len(pages) == 1 + 2  # the page, the PT and the PD seen through PDE 0x300


@pytest.mark.parametrize("mode", ["x64", "la57", "pae"])
def test_corrupt_tables_pointing_everywhere_at_one_table(mode, tmp_path):
    """Every entry of every table names one table: 512**levels paths, walked in linear time."""
    t = Tables(mode)
    loop = t.memory.frame()
    entries = 512
    for i in range(entries):
        t.memory.put(loop + i * 8, loop | P | RW, 8)
    for i in range(4 if mode == "pae" else entries):
        t.memory.put((t.dtb if mode != "pae" else t.dtb) + i * 8, loop | P, 8)
    with space_of(t, tmp_path) as space:
        repeats = 3
        records = list(space.mappings(problems=True, table_repeats=repeats))
        assert any(r.status == "table_repeated" for r in records)
        ok = [r for r in records if r.status == "ok"]
        assert ok and all(r.physical == loop for r in ok)
        assert space.translate(0x1000).physical == loop


@pytest.mark.parametrize("mode", MODES)
def test_faults_and_translations_pickle(mode, tmp_path):
    t = Tables(mode)
    t.map(0x1000, 0x5000)
    with space_of(t, tmp_path) as space:
        faults = []
        for call in (lambda: space.translate(0x2000), lambda: space.translate(1 << 60),
                     lambda: space.read(0x1000, 1) and space.physical.read(0x9000000, 1)):
            try:
                call()
            except ntinspect.InvalidAddress as error:
                faults.append(error)
        assert {type(f) for f in faults} == {PageNotPresent, NonCanonicalAddress, AddressNotInImage}
        for fault in faults:
            copy = pickle.loads(pickle.dumps(fault))
            assert type(copy) is type(fault) and str(copy) == str(fault) and copy.args == fault.args
        tr = space.translate(0x1000)
        copy = pickle.loads(pickle.dumps(tr))
        assert copy == tr and copy.entries == tr.entries and copy.in_image


def test_software_ptes_decoded_never_read(tmp_path):
    t = Tables("x64")
    transition = 0x12345 << 12 | 1 << 11 | 4 << 5
    prototype = ((0xFFFFA00012345678 & ((1 << 48) - 1)) << 16) | 1 << 10
    pagefile = 0x77 << 32 | 2 << 1 | 4 << 5
    demand_zero = 4 << 5
    for n, value in enumerate((transition, prototype, pagefile, demand_zero)):
        t.set_leaf(0x1000 * (n + 1), value)
    with space_of(t, tmp_path) as space:
        found = []
        for n in range(4):
            with pytest.raises(PageNotPresent) as fault:
                space.read(0x1000 * (n + 1), 8)
            found.append(fault.value.software)
        assert isinstance(found[0], mem.TransitionPte) and found[0].physical == 0x12345000
        assert found[0].protection == 4
        assert isinstance(found[1], mem.PrototypePte) and found[1].address == 0xFFFFA00012345678
        assert isinstance(found[2], mem.PageFilePte) and (found[2].page_file, found[2].offset) == (2, 0x77)
        assert isinstance(found[3], mem.DemandZeroPte) and found[3].protection == 4
        assert "transition PTE" in str(pickle.loads(pickle.dumps(PageNotPresent(1, "PTE", transition, 8,
                                                                                  found[0]))))
        status = space.translate_many(np.array([0x1000, 0x2000, 0x3000, 0x4000], dtype=np.uint64)).status
        assert list(status) == [TranslateStatus.NOT_PRESENT] * 4


@pytest.mark.parametrize("layouts,value,kind,check", [
    ("x86", 0x12345 << 12 | 1 << 11 | 6 << 5, "transition", lambda r: r.page_frame_number == 0x12345),
    ("x86", 0x00ABC << 12 | 3 << 1, "pagefile", lambda r: (r.page_file, r.offset) == (3, 0xABC)),
    ("x86", 1 << 10 | 0x55 << 1, "prototype", lambda r: r.address is None),
    ("pae", 0x3_2345 << 12 | 1 << 11 | 1 << 5, "transition", lambda r: r.physical == 0x3_2345_000),
    ("pae", 0x9 << 32 | 1 << 1 | 4 << 5, "pagefile", lambda r: (r.page_file, r.offset, r.protection) == (1, 9, 4)),
    ("pae", 0xE1234560 << 32 | 1 << 10, "prototype", lambda r: r.address == 0xE1234560),
    ("pae", 5 << 5, "demand_zero", lambda r: r.protection == 5),
])
def test_software_formats_per_width(layouts, value, kind, check):
    record = mem.decode_software(layouts, value)
    assert record.kind == kind and check(record)


def test_software_decode_refuses_present_entries():
    assert mem.decode_software("x64", 0) is None
    with pytest.raises(ValueError):
        mem.decode_software("x64", 0x1001)


def test_seed_walk_fport_directory_at_0x30000(tmp_path):
    """fport's walk: the System page directory at physical 0x30000 (NT 4.0/2000, non-PAE),
    a kernel object's PDE and PTE with the bits it compared, and the object's bytes."""
    memory = Memory(size=1 << 22, first_free=0x30000)
    t = Tables("x86", memory)
    assert t.dtb == 0x30000
    obj = 0x8123_4567
    t.map(obj & ~0xFFF, 0x250000, flags=P | RW | PCD)
    memory.data[0x250567:0x25056F] = b"\x05\x00\x00\x00TCP\0"
    with space_of(t, tmp_path) as space:
        tr, data = space.pte(obj)
        pde, pte = tr.entries
        assert (pde.level, pde.address) == ("PDE", 0x30000 + (obj >> 22) * 4)
        assert (pte.level, pte.address) == ("PTE", (pde.value & 0xFFFFF000) + ((obj >> 12) & 0x3FF) * 4)
        assert pte.fields["ReadWrite"] and pte.fields["PageCacheDisable"]  # fport's WriteTable, NoCache
        assert tr.physical == 0x250567 and data[:8] == b"\x05\x00\x00\x00TCP\0"
        assert len(data) == 4096 - 0x567


def test_closed_space_and_bad_address_arrays(tmp_path):
    from ntinspect.errors import MemoryImageError

    t = Tables("x64")
    t.map(0x1000, 0x5000)
    space = space_of(t, tmp_path)
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        space.translate_many([-1])
    kernel = 0xFFFFF80000001234  # as float64 it is 0xfffff80000001000: another page, silently
    for floats in (np.array([float(kernel)]), [0x1000 + 0.5], np.array([True]), [1j]):
        with pytest.raises(TypeError, match="integers"):  # as translate(1.5) does
            space.translate_many(floats)
    with pytest.raises(TypeError):
        space.translate("0x1000")
    with pytest.raises(TypeError, match="str"):
        space.translate_many([0x1000, "0x2000"])
    # a plain list mixing a kernel address (>= 2**63) and a small one: numpy alone makes it float64
    mixed = space.translate_many([0x1004, kernel, np.uint64(0x1008)])
    assert mixed.physical.tolist()[::2] == [0x5004, 0x5008] and mixed.status.tolist() == [TranslateStatus.OK, TranslateStatus.NOT_PRESENT, TranslateStatus.OK]
    assert space.translate_many(iter([0x1004])).physical.tolist() == [0x5004]  # any iterable
    assert space.translate(np.uint64(0x1004)).physical == 0x5004  # numpy integers are addresses too
    assert space.read(np.int64(0x1000), 4) == bytes(4)
    space.close()
    with pytest.raises(MemoryImageError, match="closed"):
        space.translate(0x1000)
    with pytest.raises(MemoryImageError, match="closed"):
        space.translate_many(np.array([0x1000], dtype=np.uint64))
