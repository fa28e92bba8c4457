"""Page-table entries: known values decode to the fields the Intel SDM and the Windows
symbols give, and every declared field maps to exactly its bits, little-endian."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ntinspect.errors import LayoutError
from ntinspect.layouts import paging
from ntinspect.layouts.paging import FIELDS, decode, encode

ENTRIES = [(mode, entry) for mode, table in FIELDS.items() for entry in table]


def entry_of(mode, entry):
    return getattr(getattr(paging, mode), entry)


def test_x64_pte_example():
    pte = decode(paging.x64.PTE, 0x8000000012345867)
    assert pte.Present and pte.ReadWrite and pte.UserSupervisor and pte.Accessed and pte.Dirty
    assert pte.ExecuteDisable and pte.PageFrameNumber == 0x12345
    assert not (pte.PageWriteThrough or pte.PageCacheDisable or pte.PAT or pte.Global)
    assert pte.Available == 0b100  # bit 11: Windows' software Write bit
    assert pte.ProtectionKey == 0 and pte.Ignored52 == 0


def test_x86_entries():
    pte = decode(paging.x86.PTE, 0x12345067)
    assert (pte.Present, pte.ReadWrite, pte.UserSupervisor, pte.Accessed, pte.Dirty) == (True,) * 5
    assert pte.PageFrameNumber == 0x12345
    large = decode(paging.x86.PDE_4M, 0x00C000E3)  # 4 MiB page at 0x00C00000
    assert large.PageSize and large.Dirty and large.PageFrameNumber == 3
    assert large.PageFrameNumberHigh == 0 and not large.UserSupervisor
    table = decode(paging.x86.PDE, 0x00ABC027)
    assert not table.PageSize and table.Accessed and table.PageFrameNumber == 0xABC


def test_pae_entries():
    pdpte = decode(paging.pae.PDPTE, 0x0000000123456001)
    assert pdpte.Present and pdpte.PageFrameNumber == 0x123456
    large = decode(paging.pae.PDE_2M, 0x800000003FE000E7)  # 2 MiB page at 0x3FE00000, NX
    assert large.PageSize and large.ExecuteDisable and large.PageFrameNumber == 0x1FF
    assert large.UserSupervisor and large.Dirty


def test_x64_large_and_table_entries():
    huge = decode(paging.x64.PDPTE_1G, 0x400001E3)  # 1 GiB page at 0x40000000, global
    assert huge.PageSize and huge.Global and huge.PageFrameNumber == 1
    assert not huge.ExecuteDisable
    large = decode(paging.x64.PDE_2M, 0x0000000001E000E7)
    assert large.PageSize and large.PageFrameNumber == 15
    top = decode(paging.x64.PML4E, 0x0000000012345023)
    assert top.Present and top.ReadWrite and top.Accessed and not top.UserSupervisor
    assert top.PageFrameNumber == 0x12345


def test_windows_software_ptes():
    soft = decode(paging.x64.MMPTE_SOFTWARE, 0x0000000100000080)
    assert not soft.Valid and soft.Protection == 4 and soft.PageFileHigh == 1
    assert not soft.Prototype and not soft.Transition
    trans = decode(paging.x64.MMPTE_TRANSITION, 0x12345884)
    assert trans.Transition and trans.Owner and trans.Protection == 4
    assert trans.PageFrameNumber == 0x12345 and not trans.Valid
    address = 0xFFFF8A0001234560
    proto = decode(paging.x64.MMPTE_PROTOTYPE, ((address & (1 << 48) - 1) << 16) | 1 << 10)
    assert proto.Prototype and proto.ProtoAddress < 0
    assert proto.ProtoAddress & (1 << 64) - 1 == address  # sign-extended kernel address
    soft32 = decode(paging.x86.MMPTE_SOFTWARE, 0x00001080)
    assert soft32.PageFileHigh == 1 and soft32.Protection == 4 and soft32.PageFileLow == 0
    proto32 = decode(paging.x86.MMPTE_PROTOTYPE, (0x12345 << 11) | 1 << 10 | 1 << 9 | 0xAB << 1)
    assert proto32.Prototype and proto32.ReadOnly
    assert (proto32.ProtoAddressHigh, proto32.ProtoAddressLow) == (0x12345, 0xAB)


@pytest.mark.parametrize("mode,entry", ENTRIES)
def test_each_field_owns_exactly_its_bits(mode, entry):
    """Setting only one field's bits (as an integer) decodes to that field alone."""
    struct = entry_of(mode, entry)
    bits, fields = FIELDS[mode][entry]
    assert struct.sizeof() * 8 == bits
    for name, low, width, *signed in fields:
        decoded = decode(struct, ((1 << width) - 1) << low)
        for other, _, other_width, *_ in fields:
            value = decoded[other]
            if other == name:
                assert value == (-1 if signed else True if width == 1 else (1 << width) - 1)
            else:
                assert not value


@settings(max_examples=300, deadline=None, database=None)
@given(st.sampled_from(ENTRIES), st.data())
def test_decode_encode_roundtrip(mode_entry, data):
    struct = entry_of(*mode_entry)
    value = data.draw(st.integers(0, (1 << (8 * struct.sizeof())) - 1))
    fields = {name: field for name, field in decode(struct, value).items() if not name.startswith("_")}
    assert encode(struct, **fields) == value


@pytest.mark.parametrize("value", [-1, 1 << 64])
def test_decode_rejects_values_that_do_not_fit(value):
    with pytest.raises(LayoutError):
        decode(paging.x64.PTE, value)


def test_declarations_must_tile_the_integer():
    with pytest.raises(ValueError):
        paging.bit_struct("GAP", 8, [("Low", 0, 4)])
    with pytest.raises(ValueError):
        paging.bit_struct("OVERLAP", 8, [("Low", 0, 5), ("High", 4, 4)])
