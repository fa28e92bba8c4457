"""The QEMU fixture builder's parsers (tools/qemu_fixtures.py), on monitor output recorded
from real runs (tests/memory/data/qemu_*.raw: QEMU 7.2, Debian 12's kernels 6.1 and
6.12) and on lines made to its format: the ``info tlb`` line filter, register parsing,
the mode, PAE's NX bit in printed physical addresses, page sizes, gva2gpa answers."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from qemu_oracle import fixtures, merge

DATA = Path(__file__).resolve().parent / "data"


def raw(name: str) -> str:
    return (DATA / name).read_bytes().decode()


def test_tlb_filter_keeps_the_mapping_lines_only():
    text = raw("qemu_pae_info_tlb.raw")
    assert "\x1b[K" in text and "\r\n" in text  # the monitor's echo, as recorded
    lines = fixtures.tlb_lines(text)
    assert lines == [
        "00000000c0000000: 8000000000000000 X--DA---W",
        "00000000c0001000: 8000000000001000 X--DA---W",
        "00000000c0002000: 8000000000002000 X--DA---W",
        "00000000c0200000: 8000000000200000 X-PDA---W",
        "00000000c0400000: 8000000000400000 X-PDA---W",
        "00000000c0600000: 8000000000600000 X-PDA---W",
        "00000000ff40b000: 8000000007e7c000 XG-DA---W",
        "00000000ffffb000: 80000000fec00000 X--DACT-W",
        "00000000ffffc000: 80000000fee00000 X--DACT-W",
    ]


def test_tlb_filter_drops_prompts_echo_and_blank_lines():
    text = "info tlb\r\n\r\n(qemu) \r\nCPU#0\r\n0000c000: 0000c000 --------W\r\n0000d000: 0000e000 ---DA---W\r\n"
    assert fixtures.tlb_lines(text) == ["0000c000: 0000c000 --------W", "0000d000: 0000e000 ---DA---W"]


def test_tlb_filter_rejects_a_damaged_mapping_line():
    with pytest.raises(fixtures.FixtureError, match="unexpected line"):
        fixtures.tlb_lines("00000000c0000000: 8000000000000000 X--DA-\r\n")


def test_pae_physical_addresses_compare_on_52_bits():
    pages = fixtures.tlb_pages(fixtures.tlb_lines(raw("qemu_pae_info_tlb.raw")), "pae")
    assert [p.physical for p in pages] == [0, 0x1000, 0x2000, 0x200000, 0x400000, 0x600000, 0x7E7C000,
                                           0xFEC00000, 0xFEE00000]
    assert all(p.printed >> 63 for p in pages)  # QEMU printed the NX bit with the address
    assert [p.size for p in pages] == [4096] * 3 + [2 << 20] * 3 + [4096] * 3
    assert all(p.flag("X") for p in pages)


def test_large_page_sizes_per_mode_and_the_pat_bit():
    # QEMU masks a PAE 2 MiB entry with ~0xfffff: the PAT bit (12) stays in what it prints
    line = "00000000c0200000: 8000000000201000 X-PDA---W"
    assert fixtures.tlb_pages([line], "pae")[0].physical == 0x200000
    assert fixtures.tlb_pages(["c0400000: 00400000 -GPDA---W"], "x86")[0].size == 4 << 20
    big = "ffff888000000000: 0000000000000000 XGPDA---W"
    assert fixtures.tlb_pages([big], "x64")[0].size == 2 << 20
    assert fixtures.tlb_pages([big], "x64", {0xFFFF888000000000})[0].size == 1 << 30
    assert fixtures.tlb_pages(["c0001000: 00001000 -G-DA---W"], "x86")[0].size == 4096


@pytest.mark.parametrize("name, mode, cr3, cr4", [
    ("x86", "x86", None, 0x6D0),
    ("pae", "pae", 0x4E98000, 0x6F0),
    ("x64", "x64", 0x2C22000, 0x6F0),
    ("la57", "la57", None, 0x16F0),
])
def test_registers_and_mode(name, mode, cr3, cr4):
    registers = fixtures.parse_registers(raw(f"qemu_{name}_info_registers.raw"))
    assert registers["CR4"] == cr4
    if cr3 is not None:
        assert registers["CR3"] == cr3
    assert registers["CR0"] & (1 << 31)
    assert fixtures.mode_of(registers) == mode


def test_registers_missing_raise():
    with pytest.raises(fixtures.FixtureError, match="CR3"):
        fixtures.parse_registers("CR0=80050033 CR2=0 CR4=000006f0")
    with pytest.raises(fixtures.FixtureError, match="paging is off"):
        fixtures.mode_of({"CR0": 0x11, "CR3": 0, "CR4": 0})


def test_kernel_package_names_of_one_flavour():
    import re

    pae = fixtures.flavour("686-pae")
    assert re.match(pae, "linux-image-6.1.0-50-686-pae-unsigned")
    assert not re.match(pae, "linux-image-6.1.0-50-rt-686-pae-unsigned")
    assert not re.match(fixtures.flavour("686"), "linux-image-6.1.0-50-686-pae-unsigned")
    cloud = fixtures.flavour("cloud-amd64")
    assert re.match(cloud, "linux-image-6.12.117+deb12-cloud-amd64-unsigned")
    assert not re.match(fixtures.flavour("amd64"), "linux-image-6.12.117+deb12-cloud-amd64-unsigned")
    assert not re.match(cloud, "linux-image-cloud-amd64-unsigned")  # the meta-package


def test_huge_pages_from_probes():
    lines = ["ffff888000000000: 0000000040000000 XGPDA---W", "ffff888040000000: 0000000080000000 XGPDA---W",
             "ffff888080000000: 00000000c0000000 XGPDA---W"]
    pages = fixtures.tlb_pages(lines, "x64")
    # 1st: QEMU answered 2 MiB further on in the same frame -> 1 GiB; 2nd: unmapped there -> 2 MiB;
    # 3rd: mapped elsewhere -> 2 MiB; a probe for an unlisted address is ignored
    probes = [[0xFFFF888000000000, 0x40200000], [0xFFFF888040000000, None],
              [0xFFFF888080000000, 0x1200000], [0x1000, 0x201000]]
    assert fixtures.huge_pages(pages, probes) == {0xFFFF888000000000}
    sizes = [p.size for p in fixtures.tlb_pages(lines, "x64", fixtures.huge_pages(pages, probes))]
    assert sizes == [1 << 30, 2 << 20, 2 << 20]


def test_gva2gpa_answers():
    assert fixtures.parse_gva2gpa("gva2gpa 0xc0001234\x1b[K\r\ngpa: 0x1234\r\n") == 0x1234
    assert fixtures.parse_gva2gpa("gva2gpa 0x0\r\nUnmapped\r\n") is None
    with pytest.raises(fixtures.FixtureError):
        fixtures.parse_gva2gpa("unknown command: 'gva2gpa'\r\n")


def test_canonical_and_the_sample():
    assert fixtures.canonical(0x0000800000000000, 48) == 0xFFFF800000000000
    assert fixtures.canonical(0x0000700000000000, 48) == 0x0000700000000000
    assert fixtures.canonical(0x0100000000000000, 57) == 0xFF00000000000000
    assert fixtures.canonical(0x80000000, 32) == 0x80000000
    pages = fixtures.tlb_pages(fixtures.tlb_lines(raw("qemu_pae_info_tlb.raw")), "pae")
    one = fixtures.sample_addresses(pages, 32, random.Random(1))
    assert one == fixtures.sample_addresses(pages, 32, random.Random(1))
    assert len(one) == len(set(one))
    assert all(0 <= a < 1 << 32 for a in one)
    inside = [a for a in one if any(p.virtual <= a < p.virtual + p.size for p in pages)]
    assert len(inside) >= len(pages)  # every listed page is asked about
    # a range ending at the top of the space, or at the end of the lower canonical half:
    # what follows is no address of the mode, so it is not asked about
    top = fixtures.tlb_pages(["fffff000: 00001000 -G-DA---W"], "x86")
    assert all(a < 1 << 32 for a in fixtures.sample_addresses(top, 32, random.Random(2)))
    low = fixtures.tlb_pages(["00007ffffffff000: 0000000000001000 ----A--UW"], "x64")
    assert 0x800000000000 not in fixtures.sample_addresses(low, 48, random.Random(3))


def test_merge_rule():
    pages = [(0x1000, 0x5000, 4096, "-G-DA---W", True), (0x2000, 0x6000, 4096, "-G-DA---W", True),
             (0x3000, 0x7000, 4096, "XG-DA---W", True), (0x4000, 0x9000, 4096, "XG-DA---W", True),
             (0x5000, 0xA000, 4096, "XG-DA---W", False)]
    assert merge(pages) == [(0x1000, 0x5000, 0x2000, 4096, "-G-DA---W", True),
                            (0x3000, 0x7000, 0x1000, 4096, "XG-DA---W", True),
                            (0x4000, 0x9000, 0x1000, 4096, "XG-DA---W", True),
                            (0x5000, 0xA000, 0x1000, 4096, "XG-DA---W", False)]


@pytest.fixture
def empty_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(fixtures, "CACHE", tmp_path / "qemu")
    return tmp_path / "qemu"


@pytest.mark.skipif(sys.platform == "win32", reason="the builder runs on the Linux host (apt, QEMU, fcntl)")
def test_build_is_instant_when_cached(empty_cache, monkeypatch):
    for target in fixtures.TARGETS:
        folder = empty_cache / target.name
        folder.mkdir(parents=True)
        for name in ("tlb.txt", "registers.txt", "gva2gpa.json"):
            (folder / name).write_text("x")
        (folder / "core.elf").write_bytes(b"\x7fELF" + bytes(12))
    manifest = {"format": fixtures.FORMAT, "images": {t.name: {"folder": t.name, "core_bytes": 16}
                                                       for t in fixtures.TARGETS}}
    (empty_cache / fixtures.MANIFEST_NAME).write_text(json.dumps(manifest))
    monkeypatch.setattr(fixtures, "ensure_qemu", lambda: pytest.fail("apt asked with everything cached"))
    monkeypatch.setattr(fixtures, "boot", lambda *a: pytest.fail("QEMU started with everything cached"))
    assert fixtures.build() == 0
    # a core of another size than recorded is rebuilt: here that reaches apt, which we refuse
    (empty_cache / "x64" / "core.elf").write_bytes(b"\x7fELF")
    monkeypatch.setattr(fixtures, "ensure_qemu", lambda: (_ for _ in ()).throw(fixtures.FixtureError("no apt here")))
    assert fixtures.build(["x64"]) == 1
    assert fixtures.read_manifest()["errors"] == {"x64": "no apt here"}


@pytest.mark.skipif(sys.platform == "win32", reason="the builder runs on the Linux host (apt, QEMU, fcntl)")
def test_a_cache_path_qemu_cannot_take_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(fixtures, "CACHE", tmp_path / "a b")
    monkeypatch.setattr(fixtures, "ensure_qemu", lambda: pytest.fail("went on with a path QEMU cannot take"))
    assert fixtures.build() == 1
