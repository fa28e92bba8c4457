"""Hypothesis settings shared by the file fuzzers.

CI runs a bounded profile (``NTINSPECT_FUZZ_EXAMPLES``, default 300 per test); a local
run asks for more, e.g. ``NTINSPECT_FUZZ_EXAMPLES=10000`` (the issue's bar, per fuzzer).
"""
import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("NTINSPECT_FUZZ_EXAMPLES", "300"))

FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def overwrite(draw, st, data, hot, values):
    """Overwrite 0-12 little-endian words of ``data`` in place, half of them at ``hot``
    offsets, with one of ``values`` or any 32-bit number."""
    for _ in range(draw(st.integers(0, 12))):
        where = draw(st.sampled_from(hot)) if draw(st.booleans()) else draw(st.integers(0, len(data) - 1))
        width = draw(st.sampled_from([1, 2, 4]))
        value = draw(st.one_of(st.sampled_from(values), st.integers(0, 0xFFFFFFFF)))
        data[where:where + width] = (value & ((1 << 8 * width) - 1)).to_bytes(width, "little")[:len(data) - where]
