"""Field offsets and sizes of every layout, for both pointer widths, against the C headers
(the tables in layout_tables.py). The layouts must match the tables, not the other way round."""
import pytest
from construct import Array, Bytes, FormatField, SizeofError
from layout_tables import OFFSETS, SIZES

from ntinspect.layouts import CountedArray, c_sizeof, layouts, offset_of, parse
from ntinspect.layouts.base import static_size, unwrap

WIDTHS = (4, 8)


def _pick(row, width):
    """The 32-bit or 64-bit (offset, size) of a table row."""
    _, _, off32, off64, size32, size64 = row
    return (off32, size32) if width == 4 else (off64, size64)


def _field(struct, path):
    """The construct of a (dotted) field."""
    current = unwrap(struct)
    for part in path.split("."):
        current = unwrap(next(f for f in unwrap(current).subcons if f.name == part))
    return getattr(current, "subcon", current) if type(current).__name__ == "Peek" else current


def _field_size(struct, path):
    """The field's static size; for a counted array, its element's size; else None."""
    field = _field(struct, path)
    if isinstance(field, CountedArray):
        return static_size(field.subcon)
    return static_size(field)


def _row_id(row):
    return f"{row[0]}.{row[1]}"


def test_every_layout_has_table_entries():
    for width in WIDTHS:
        assert set(layouts(width).structs) == set(SIZES)
    assert {row[0] for row in OFFSETS} == set(SIZES)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_named_field_is_in_the_table(width):
    listed = {(row[0], row[1]) for row in OFFSETS}
    for name, struct in layouts(width).structs.items():
        for field in unwrap(struct).subcons:
            if field.name:
                assert (name, field.name) in listed


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(SIZES))
def test_structure_size(name, width):
    struct = layouts(width)[name]
    expected = SIZES[name][WIDTHS.index(width)]
    size = static_size(struct)
    if size is None:  # variable: construct has no size; C's counts one array element ([1])
        with pytest.raises(SizeofError):
            struct.sizeof()
        assert c_sizeof(struct) == expected
        last = unwrap(struct).subcons[-1].name
        assert offset_of(struct, last) < expected
    else:
        assert size == expected
        assert layouts(width).compiled(name).sizeof() == expected


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("row", OFFSETS, ids=_row_id)
def test_field_offset_and_size(row, width):
    struct = layouts(width)[row[0]]
    offset, size = _pick(row, width)
    assert offset_of(struct, row[1]) == offset
    measured = _field_size(struct, row[1])
    if measured is not None:  # None: variable-length bytes (TA_ADDRESS.Address)
        assert measured == size


def _leaves(name, width):
    """Rows of a structure without sub-rows whose bytes overlap no other leaf."""
    rows = [r for r in OFFSETS if r[0] == name]
    leaves = [r for r in rows if not any(o[1].startswith(r[1] + ".") for o in rows)]
    spans = {r[1]: range(_pick(r, width)[0], sum(_pick(r, width))) for r in leaves}
    return [r for r in leaves
            if not any(set(spans[r[1]]) & set(spans[o[1]]) for o in leaves if o is not r)]


def _expected(field, raw):
    if isinstance(field, FormatField):
        return int.from_bytes(raw, "big" if field.fmtstr[0] == ">" else "little")
    if isinstance(field, Bytes):
        return raw
    if isinstance(field, Array):
        step = len(raw) // field.count
        return [int.from_bytes(raw[i:i + step], "little") for i in range(0, len(raw), step)]
    return None


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", sorted(n for n in SIZES if static_size(layouts(8)[n]) is not None))
def test_fields_parse_from_the_table_offsets(name, width):
    """Distinct bytes written at each field's table offset come back in that field."""
    struct = layouts(width)[name]
    data = bytearray(SIZES[name][WIDTHS.index(width)])
    placed = {}
    for number, row in enumerate(_leaves(name, width)):
        offset, size = _pick(row, width)
        raw = bytes((number * 7 + j) % 0x7F + 1 for j in range(size))
        data[offset:offset + size] = raw
        placed[row[1]] = raw
    assert placed
    parsed = parse(struct, bytes(data))
    for path, raw in placed.items():
        value = parsed
        for part in path.split("."):
            value = value[part]
        field = _field(struct, path)
        expected = _expected(field, raw)
        if expected is None:  # a nested structure: the same as parsing its bytes alone
            assert value == field.parse(raw)
        else:
            assert value == expected
