"""Hostile buffers: truncated, oversized counts, misaligned, random. Every failure must be a
LayoutError with an offset inside the buffer, plain or compiled, and come quickly."""
import random
from struct import Struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from layout_samples import sample

from ntinspect.errors import LayoutError
from ntinspect.layouts import (layouts, offset_of, parse, table_array, walk_directory, walk_object_types,
                               walk_processes)
from ntinspect.layouts.base import alignment_of, static_size, unwrap

WIDTHS = (4, 8)
CASES = [(width, name) for width in WIDTHS for name in sorted(layouts(width).structs)]
TABLES = [(width, name) for width, name in CASES
          if type(unwrap(unwrap(layouts(width)[name]).subcons[-1])).__name__ == "CountedArray"]
ALIGNED = [(width, name) for width, name in CASES if alignment_of(layouts(width)[name]) > 1]
FAST = settings(max_examples=1000, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def layout(case, compiled):
    width, name = case
    return layouts(width).compiled(name) if compiled else layouts(width)[name]


def valid_bytes(case, seed):
    struct = layouts(case[0])[case[1]]
    return struct.build(sample(struct, random.Random(seed), max_count=4))


@FAST
@given(st.sampled_from(CASES), st.integers(0, 50), st.booleans(), st.data())
def test_truncated_buffers(case, seed, compiled, data):
    whole = valid_bytes(case, seed)
    cut = data.draw(st.integers(0, len(whole) - 1))
    with pytest.raises(LayoutError) as error:
        parse(layout(case, compiled), whole[:cut])
    assert error.value.structure == case[1]
    assert 0 <= error.value.offset <= cut


@FAST
@given(st.sampled_from(CASES), st.binary(max_size=400), st.booleans())
def test_random_buffers_parse_or_raise_layout_error(case, data, compiled):
    try:
        parse(layout(case, compiled), data)
    except LayoutError as error:
        assert 0 <= error.offset <= len(data)


def counted(struct):
    """(count field offset, its struct format, entries offset, minimum entry size)."""
    fields = unwrap(struct).subcons
    array = unwrap(fields[-1])
    count = unwrap(next(f for f in fields if f.name == array.count_field))
    return (offset_of(struct, array.count_field), Struct(count.fmtstr),
            offset_of(struct, fields[-1].name), array.min_size)


@FAST
@given(st.sampled_from(TABLES), st.data(), st.booleans())
def test_oversized_counts_are_rejected_before_parsing(case, data, compiled):
    struct = layouts(case[0])[case[1]]
    count_offset, count_format, entries_offset, min_size = counted(struct)
    body = data.draw(st.binary(max_size=300))
    signed = count_format.format[-1].islower()
    limit = (1 << (8 * count_format.size - signed)) - 1
    count = data.draw(st.integers(len(body) // min_size + 1, limit))
    header = bytearray(entries_offset)
    count_format.pack_into(header, count_offset, count)
    raw = bytes(header) + body
    with pytest.raises(LayoutError) as error:
        parse(layout(case, compiled), raw)
    assert error.value.offset <= len(raw)
    if static_size(unwrap(unwrap(struct).subcons[-1]).subcon):  # a numpy view is possible
        with pytest.raises(LayoutError):
            table_array(struct, raw)


@settings(max_examples=300, deadline=None, database=None)
@given(st.sampled_from(ALIGNED), st.data())
def test_misaligned_offsets(case, data):
    struct = layouts(case[0])[case[1]]
    alignment = alignment_of(struct)
    offset = data.draw(st.integers(0, 64).filter(lambda n: n % alignment))
    raw = bytes(offset) + valid_bytes(case, offset)
    with pytest.raises(LayoutError, match="misaligned") as error:
        parse(struct, raw, offset)
    assert error.value.offset == offset
    assert parse(struct, raw, offset, aligned=False) == struct.parse(raw[offset:])


@pytest.mark.parametrize("offset", [-1, 10**6])
def test_offsets_outside_the_buffer(offset):
    with pytest.raises(LayoutError):
        parse(layouts(8).CLIENT_ID, bytes(16), offset)


WALKERS = [
    lambda data, width, base: list(walk_processes(data, width, base, threads=True)),
    lambda data, width, base: list(walk_object_types(data, width)),
    lambda data, width, base: list(walk_object_types(data, width, base)),
    lambda data, width, base: list(walk_directory(data, width, base)),
]


@FAST
@given(st.sampled_from(WALKERS), st.sampled_from(WIDTHS), st.binary(max_size=600),
       st.integers(0, 0xFFFFFFFF))
def test_walkers_on_random_buffers(walker, width, data, base):
    try:
        walker(data, width, base)
    except LayoutError as error:
        assert 0 <= error.offset <= len(data)


@settings(max_examples=200, deadline=None, database=None)
@given(st.sampled_from([n for n in sorted(layouts(8).structs) if static_size(layouts(8)[n])]),
       st.binary(min_size=1, max_size=64))
def test_memoryview_and_bytearray_inputs(name, data):
    struct = layouts(8)[name]
    outcomes = []
    for buffer in (bytes(data), bytearray(data), memoryview(data)):
        try:
            outcomes.append(parse(struct, buffer))
        except LayoutError as error:
            outcomes.append((error.offset, error.reason))
    assert outcomes[0] == outcomes[1] == outcomes[2]
