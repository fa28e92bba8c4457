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
