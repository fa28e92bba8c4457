"""The numpy fast path: dtypes derived from the construct definitions, and table views
that match construct's parse without copying."""
import random

import numpy as np
import pytest
from layout_samples import sample

from ntinspect.errors import LayoutError
from ntinspect.layouts import handle_table, layouts, numpy_dtype, offset_of, table_array, table_plan
from ntinspect.layouts.base import static_size, unwrap
from ntinspect.layouts.handles import TABLES as HANDLE_TABLES
from ntinspect.layouts.iphlp import TABLES as IP_TABLES

WIDTHS = (4, 8)
TABLE_NAMES = sorted([*HANDLE_TABLES.values(), *IP_TABLES.values()])


def _static(width):
    return [name for name, struct in layouts(width).structs.items() if static_size(struct) is not None]


@pytest.mark.parametrize("width", WIDTHS)
def test_dtype_offsets_come_from_the_layout(width):
    """Every static layout has a dtype with its size and its fields at its offsets."""
    for name in _static(width):
        struct = layouts(width)[name]
        dtype = numpy_dtype(struct)
        assert dtype.itemsize == struct.sizeof()
        for field, (_, offset, *_) in dtype.fields.items():
            assert offset == offset_of(struct, field)


def test_dtype_types_and_byte_order():
    dtype = numpy_dtype(layouts(8).sockaddr_in6)
    assert dtype["sin6_family"] == np.dtype("<u2") and dtype["sin6_port"] == np.dtype(">u2")
    assert dtype["sin6_addr"].shape == (16,)
    assert numpy_dtype(layouts(4).SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX)["Object"] == np.dtype("<u4")
    assert numpy_dtype(layouts(8).SYSTEM_PROCESS_INFORMATION)["CreateTime"] == np.dtype("<i8")
    union = numpy_dtype(layouts(8).IO_STATUS_BLOCK)
    assert union.fields["Status"][1] == union.fields["Pointer"][1] == 0


def test_unsupported_fields_are_refused_clearly():
    with pytest.raises(TypeError, match="TA_ADDRESS.Address"):
        numpy_dtype(layouts(8).TA_ADDRESS)
    with pytest.raises(TypeError, match="counted array"):
        table_plan(layouts(8).UNICODE_STRING)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", TABLE_NAMES)
def test_table_array_matches_construct(name, width):
    struct = layouts(width)[name]
    rng = random.Random(name)
    value = sample(struct, rng, max_count=6)
    data = struct.build(value) + b"\0" * rng.randint(0, 3)  # slack after the table is allowed
    entries = table_array(struct, data)
    parsed = struct.parse(data)
    array_field = unwrap(struct).subcons[-1].name
    assert len(entries) == len(parsed[array_field])
    for row, expected in zip(entries, parsed[array_field]):
        for field in entries.dtype.names:
            got = row[field]
            assert (bytes(got) if getattr(got, "shape", ()) else int(got)) == expected[field]
    assert np.shares_memory(entries, np.frombuffer(data, np.uint8)) or len(entries) == 0


@pytest.mark.parametrize("info_class", sorted(HANDLE_TABLES))
@pytest.mark.parametrize("width", WIDTHS)
def test_handle_table_is_a_view_of_the_buffer(info_class, width):
    struct = layouts(width)[HANDLE_TABLES[info_class]]
    entry = unwrap(unwrap(struct).subcons[-1]).subcon
    value = sample(struct, random.Random(info_class), max_count=5)
    value.Handles.append(sample(entry, random.Random(width)))
    value.NumberOfHandles = len(value.Handles)
    data = bytearray(struct.build(value))
    entries = handle_table(data, width, info_class)
    assert [int(v) for v in entries["GrantedAccess"]] == [h.GrantedAccess for h in value.Handles]
    data[table_plan(struct).entries_offset + offset_of(entry, "GrantedAccess")] ^= 0xFF
    assert int(entries["GrantedAccess"][0]) == value.Handles[0].GrantedAccess ^ 0xFF


def test_handle_table_errors():
    with pytest.raises(ValueError):
        handle_table(b"\0" * 64, 8, 5)
    with pytest.raises(LayoutError) as error:
        handle_table(b"\0" * 8, 8, 64)
    assert error.value.structure == "SYSTEM_HANDLE_INFORMATION_EX"
    header = (2).to_bytes(8, "little") + bytes(8)
    with pytest.raises(LayoutError) as error:
        handle_table(header + bytes(40 + 39), 8, 64)  # two entries claimed, 1.97 present
    assert error.value.offset == 0
    assert len(handle_table(header + bytes(80), 8, 64)) == 2
    with pytest.raises(LayoutError):
        handle_table((0xFFFFFFFF).to_bytes(4, "little") + bytes(60), 4, 16)
