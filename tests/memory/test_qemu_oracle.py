"""ntinspect.memory against QEMU's own page walker, on real Linux page tables (issue #14).

Four images that ``tools/qemu_fixtures.py`` makes by booting Debian's kernels to their
panic under QEMU: 32-bit non-PAE (4 KiB and 4 MiB pages), PAE (4 KiB, 2 MiB, NX), x64
4-level and x64 5-level (LA57). For each, QEMU's ``info tlb`` (every present leaf),
``gva2gpa`` (its walker, per address) and ``dump-guest-memory`` (the core) are the
oracle; nothing here derives an expected value from ntinspect itself.
"""
from __future__ import annotations

import random

import numpy as np
import pytest

import ntinspect
import ntinspect.memory as memory
from qemu_oracle import IMAGES, canonical, merge, oracle

# QEMU's info tlb letters -> bit of the leaf entry (target/i386/monitor.c, print_pte)
LETTER_BITS = {"X": 63, "G": 8, "P": 7, "D": 6, "A": 5, "C": 4, "T": 3, "U": 2, "W": 1}
LEVELS = {"x86": ("PDE", "PTE"), "pae": ("PDPTE", "PDE", "PTE"), "x64": ("PML4E", "PDPTE", "PDE", "PTE"),
          "la57": ("PML5E", "PML4E", "PDPTE", "PDE", "PTE")}
# the leaf level by page size
LEAF = {4096: "PTE", 2 << 20: "PDE", 4 << 20: "PDE", 1 << 30: "PDPTE"}
RANDOM_OFFSETS = 4  # per listed page


@pytest.fixture(scope="module", params=IMAGES)
def image(request):
    return oracle(request.param)


@pytest.fixture(scope="module")
def space(image):
    am = memory.open(image.core)
    yield am
    am.close()


def test_open_takes_dtb_and_mode_from_the_core(image, space):
    assert space.mode.name == image.name
    assert space.dtb == image.cr3
    assert space.physical is not None


def test_explicit_dtb_and_mode_give_the_same_space(image, space):
    with memory.open(image.core, dtb=image.cr3, mode=image.name) as explicit:
        assert explicit.mode.name == image.name
        assert explicit.dtb == image.cr3
        assert list(explicit.mappings(merge=False)) == list(space.mappings(merge=False))


def test_the_cr4_bits_qemu_reported(image):
    # the builder's check, restated: PAE (bit 5) outside x86, LA57 (bit 12) exactly in la57
    assert bool(image.cr4 & (1 << 5)) == (image.name != "x86")
    assert bool(image.cr4 & (1 << 12)) == (image.name == "la57")


def test_every_page_equals_info_tlb(image, space):
    """One record per page (merge=False) is QEMU's list line for line: virtual address,
    physical address on the 52 address bits, page size and the leaf's flags."""
    ours = [(m.virtual, m.physical, m.page_size, m.flags) for m in space.mappings(merge=False)]
    qemu = [(p.virtual, p.physical, p.size, p.flags) for p in image.pages]
    assert len(ours) == len(qemu)
    assert ours == qemu
    # every kind of page this mode has is among them
    sizes = {p.size for p in image.pages}
    assert 4096 in sizes
    assert sizes - {4096}, f"{image.name}: no large page in info tlb"


def test_mappings_equal_info_tlb_merged(image, space):
    """mappings() equals QEMU's list merged by the same rule, each range saying whether the
    core holds its bytes (from the core's LOAD segments, read here with pyelftools)."""
    expected = merge([(p.virtual, p.physical, p.size, p.flags, image.holds(p.physical, p.size))
                      for p in image.pages])
    ours = list(space.mappings())
    assert [(m.virtual, m.physical, m.size, m.page_size, m.flags, m.in_image) for m in ours] == expected
    assert [m.virtual for m in ours] == sorted(m.virtual for m in ours)
    assert any(not m.in_image for m in ours), "no mapped hole in this image"
    for m in ours:
        # effective permissions can only narrow the leaf's
        assert not m.writable or "W" in m.flags
        assert not m.user or "U" in m.flags
        assert m.nx or "X" not in m.flags


def check_chain(image, translation, virtual):
    """The walk's entries: one per level down to the leaf, each read from the table the one
    above names (the first from CR3), holding the bytes the core has there; the leaf's bits
    are QEMU's letters."""
    entries = translation.entries
    levels = LEVELS[image.name]
    assert tuple(e.level for e in entries) == levels[:levels.index(LEAF[translation.page_size]) + 1]
    esize = 4 if image.name == "x86" else 8
    if image.name == "x86":
        table = image.cr3 & 0xFFFFF000
    elif image.name == "pae":
        table = image.cr3 & 0xFFFFFFE0
    else:
        table = image.cr3 & ((1 << 52) - 1) & ~0xFFF
    bits = image.virtual_bits
    shifts = {"x86": (22, 12), "pae": (30, 21, 12), "x64": (39, 30, 21, 12), "la57": (48, 39, 30, 21, 12)}
    for entry, shift in zip(entries, shifts[image.name]):
        width = 2 if shift == 30 and image.name == "pae" else (10 if esize == 4 else 9)
        index = (virtual & ((1 << bits) - 1)) >> shift & ((1 << width) - 1)
        assert entry.address == table + index * esize
        assert entry.value == int.from_bytes(image.read(entry.address, esize), "little")
        assert entry.value & 1
        table = entry.value & (0xFFFFF000 if esize == 4 else ((1 << 52) - 1) & ~0xFFF)
    return entries[-1].value


def test_translate_every_listed_page(image, space):
    rng = random.Random(14)
    for page in image.pages:
        for offset in [0, page.size - 1] + [rng.randrange(page.size) for _ in range(RANDOM_OFFSETS)]:
            t = space.translate(page.virtual + offset)
            assert (t.physical, t.page_size) == (page.physical + offset, page.size), hex(page.virtual + offset)
        leaf = check_chain(image, t, page.virtual)
        letters = "".join(letter if leaf >> LETTER_BITS[letter] & 1 else "-" for letter in "XGPDACTUW")
        if page.size == 4096:
            letters = letters[:2] + "-" + letters[3:]  # bit 7 of a PTE is PAT: QEMU prints '-'
        assert letters == page.flags, hex(page.virtual)


def test_translate_agrees_with_gva2gpa(image, space):
    mapped = unmapped = 0
    for address, answer in image.answers:
        if answer is None:
            with pytest.raises(memory.PageNotPresent) as fault:
                space.translate(address)
            unmapped += 1
            f = fault.value
            assert isinstance(f, ntinspect.InvalidAddress)
            assert f.level in LEVELS[image.name]
            assert f.entry is not None and not f.entry & 1
            size = 4 if image.name == "x86" else 8
            assert int.from_bytes(image.read(f.entry_address, size), "little") == f.entry
        else:
            assert space.translate(address).physical == answer, hex(address)
            mapped += 1
    assert mapped >= 100 and unmapped >= 10  # the sample has both kinds


def test_non_canonical_addresses(image, space):
    bits = image.virtual_bits
    if bits == 32:
        bad = [1 << 32, (1 << 64) - 1]
    else:
        bad = [1 << (bits - 1), (1 << 64) - (1 << (bits - 1)) - 1, 1 << 63, (1 << 64) - (1 << bits)]
    if image.name == "x64":
        bad.append(0x00FF800000000000)  # canonical with 57 bits, not with 48
    for address in bad:
        with pytest.raises(memory.NonCanonicalAddress):
            space.translate(address)
        with pytest.raises(ntinspect.InvalidAddress):
            space.read(address, 1)


def test_holes_translate_but_do_not_read(image, space):
    """Pages the tables map to physical addresses the core lacks (VGA 0xa0000-0xbffff, and
    the APIC pages where mapped): translate() answers; reading raises AddressNotInImage."""
    holes = [p for p in image.pages if not image.holds(p.physical, p.size)]
    assert holes, f"{image.name}: no mapped page outside the core"
    assert any(0xA0000 <= p.physical < 0xC0000 for p in holes), "the VGA hole is mapped"
    for page in holes:
        t = space.translate(page.virtual)
        assert t.physical == page.physical
        if not image.holds(page.physical, 1):
            assert t.in_image is False
            with pytest.raises(memory.AddressNotInImage) as fault:
                space.read(page.virtual, 1)
            assert isinstance(fault.value, ntinspect.InvalidAddress)
            assert space.read(page.virtual, 16, zero_fill=True) == bytes(16)


def test_translate_many_agrees(image, space):
    rng = random.Random(41)
    Status = memory.TranslateStatus
    addresses, expected = [], []
    for page in image.pages:
        offset = rng.randrange(page.size)
        addresses.append(page.virtual + offset)
        held = image.holds(page.physical + offset)
        expected.append((page.physical + offset, Status.OK if held else Status.NOT_IN_IMAGE))
    for address, answer in image.answers:
        addresses.append(address)
        if answer is None:
            expected.append((0, Status.NOT_PRESENT))
        else:
            expected.append((answer, Status.OK if image.holds(answer) else Status.NOT_IN_IMAGE))
    if image.virtual_bits > 32:
        addresses.append(1 << 63)
        expected.append((0, Status.NON_CANONICAL))
    result = space.translate_many(np.array(addresses, dtype=np.uint64))
    assert len(result) == len(addresses)
    got = list(zip(result.physical.tolist(), result.status.tolist()))
    want = [(p if s in (Status.OK, Status.NOT_IN_IMAGE) else 0, int(s)) for p, s in expected]
    mismatches = [(hex(a), g, w) for a, g, w in zip(addresses, got, want) if g[1] != w[1] or (
        w[1] in (Status.OK, Status.NOT_IN_IMAGE) and g[0] != w[0])]
    assert not mismatches, mismatches[:5]


def test_read_equals_the_core_bytes(image, space):
    rng = random.Random(7)
    held = [p for p in image.pages if image.holds(p.physical, p.size)]
    for page in held:
        start = page.virtual + (rng.randrange(page.size // 4096) * 4096 if page.size > 4096 else 0)
        physical = page.physical + (start - page.virtual)
        assert space.read(start, 4096) == image.read(physical, 4096), hex(start)
    page = held[len(held) // 2]
    assert space.physical.read(page.physical, 64) == image.read(page.physical, 64)
    # across a page boundary where the next virtual page is elsewhere physically
    pairs = [(a, b) for a, b in zip(image.pages, image.pages[1:])
             if a.size == b.size == 4096 and b.virtual == a.virtual + 4096 and b.physical != a.physical + 4096
             and image.holds(a.physical, 4096) and image.holds(b.physical, 4096)]
    assert pairs, "no discontiguous neighbours"
    for a, b in pairs[:50]:
        data = space.read(a.virtual + 4000, 200)
        assert data == image.read(a.physical + 4000, 96) + image.read(b.physical, 104)


def test_pae_physical_addresses_on_52_bits():
    """PAE: QEMU prints leaf entries with NX (bit 63) still in the address; the oracle masks
    it, so the comparisons above are on the address bits (x64 prints it masked already)."""
    image = oracle("pae")
    assert any(p.printed >> 63 for p in image.pages)
    assert all(p.physical < (1 << 52) for p in image.pages)


def test_la57_addresses_use_57_bits():
    image = oracle("la57")
    kernel = [p.virtual for p in image.pages if p.virtual >> 63]
    assert kernel and all(canonical(v & ((1 << 57) - 1), 57) == v for v in kernel)
    # kernel addresses below the 48-bit half: only 5-level tables can map them
    assert any(v < (1 << 64) - (1 << 47) for v in kernel)
    with memory.open(image.core) as space:
        assert space.translate(kernel[0]).entries[0].level == "PML5E"
