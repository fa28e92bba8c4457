"""A layout's own .parse() gives the same guarantee as ntinspect.layouts.parse(): bad bytes
become a LayoutError with an offset, for every structure of both widths."""
import os

import pytest

from ntinspect.errors import LayoutError
from ntinspect.layouts import layouts
from ntinspect.layouts.base import static_size

STRUCTS = [(width, name) for width in (4, 8) for name in sorted(layouts(width).structs)]


@pytest.mark.parametrize("width, name", STRUCTS)
def test_truncated_bytes(width, name):
    struct = layouts(width).structs[name]
    size = static_size(struct)
    data = b"\xff" * (size - 1 if size else 3)  # one byte short, or a header cut in the middle
    with pytest.raises(LayoutError) as caught:
        struct.parse(data)
    assert caught.value.structure == name and caught.value.offset >= 0


@pytest.mark.parametrize("width, name", STRUCTS)
def test_random_bytes_parse_or_fail_clearly(width, name):
    struct = layouts(width).structs[name]
    for length in (0, 7, 64, 300):
        try:
            struct.parse(os.urandom(length))
        except LayoutError:
            pass  # the only failure allowed
