"""How hard the hardening tests push: the bounded CI profile (default) or the long local one.

``NTINSPECT_PROFILE=full`` selects the long profile: live hardening tests repeat their scans
100 times instead of a few, and hypothesis runs its ``full`` profile (5,000 cases a fuzz
test, over 100,000 in all) instead of ``ci`` (60, derandomized: the same cases every run).
``pytest --hypothesis-profile=full`` picks the hypothesis profile alone.
"""
import os

FULL = os.environ.get("NTINSPECT_PROFILE", "ci") == "full"
"""The long local profile (``NTINSPECT_PROFILE=full``): hardening tests repeat 100 times
instead of a few, and hypothesis runs its ``full`` profile."""


def repeats(ci: int, full: int) -> int:
    """How many times a hardening test repeats: ``ci`` by default, ``full`` in the long profile."""
    return full if FULL else ci


def _hypothesis_profiles() -> None:
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # hypothesis is a test extra; the fuzz tests skip without it
        return
    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    # ci: bounded and reproducible (the same cases every run); full: >= 100,000 cases in all
    settings.register_profile("ci", max_examples=60, derandomize=True, database=None, **common)
    settings.register_profile("full", max_examples=5000, **common)
    settings.load_profile("full" if FULL else "ci")


_hypothesis_profiles()

