"""Hypothesis settings and helpers shared by the file fuzzers.

How many cases run comes from the profile (tests/profiles.py): bounded and derandomized in
CI, 5,000 a test with ``NTINSPECT_PROFILE=full``. ``FUZZ`` only adds what these tests need
(no deadline, function-scoped fixtures allowed) and leaves the count to the profile.
"""
import tracemalloc
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, settings

FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder for one fuzz module's files (pytest's temporary tree, not a folder of its
    own under /tmp that nothing removes); a module uses it with ``from fuzzkit import work``."""
    return tmp_path_factory.mktemp("fuzz")


def overwrite(draw, st, data, hot, values):
    """Overwrite 0-12 little-endian words of ``data`` in place, half of them at ``hot``
    offsets, with one of ``values`` or any 32-bit number."""
    for _ in range(draw(st.integers(0, 12))):
        where = draw(st.sampled_from(hot)) if draw(st.booleans()) else draw(st.integers(0, len(data) - 1))
        width = draw(st.sampled_from([1, 2, 4]))
        value = draw(st.one_of(st.sampled_from(values), st.integers(0, 0xFFFFFFFF)))
        data[where:where + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")[:len(data) - where]


@contextmanager
def allocation_bound(limit: int):
    """Fail if the block allocates more than ``limit`` bytes at its peak (tracemalloc): a
    count field of 2^32 must not allocate 2^32 of anything."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        yield
    finally:
        peak = tracemalloc.get_traced_memory()[1] - before
        if started:
            tracemalloc.stop()
    assert peak <= limit, f"{peak} bytes allocated at the peak, over the bound of {limit}"


def located(error) -> bool:
    """Does a library error say where the input is bad (an offset, address, part or stream)?"""
    return any(getattr(error, field, None) is not None for field in ("offset", "address", "part", "stream"))
