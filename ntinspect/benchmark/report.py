"""Benchmark reports: the JSON document, its schema, loading and comparing two of them.

The schema (``schema.json`` in this package, JSON Schema draft 2020-12) is the contract of
``ntinspect bench --format json``. :func:`validate` checks a report against it with the
``jsonschema`` package when that is installed (``pip install ntinspect[bench]``); without
it, only what :func:`compare_rows` reads is checked, field by field.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..errors import NtInspectError

FORMAT = "ntinspect-bench/1"
"""The ``format`` value of reports this version writes and reads."""


class ReportError(NtInspectError, ValueError):
    """A benchmark report that cannot be read: not JSON, or not what the schema describes.
    ``source`` is the file (or ``"<report>"``), ``where`` the JSON path of the problem
    (``results/2/seconds``, empty for the whole document)."""

    def __init__(self, source: str, where: str, reason: str) -> None:
        super().__init__(source, where, reason)
        self.source, self.where, self.reason = source, where, reason

    def __str__(self) -> str:
        return f"{self.source}: {self.where + ': ' if self.where else ''}{self.reason}"


@lru_cache(maxsize=None)
def schema() -> Dict[str, Any]:
    """The report's JSON Schema, as shipped in the package."""
    return json.loads(resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))


def validate(report: Any, source: str = "<report>") -> Dict[str, Any]:
    """``report`` itself if it is a valid report, else :class:`ReportError` at the first
    problem (the deepest one jsonschema finds, or the first field :func:`compare_rows` needs)."""
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    if jsonschema is not None:
        validator = jsonschema.Draft202012Validator(schema())
        error = jsonschema.exceptions.best_match(validator.iter_errors(report))
        if error is not None:
            raise ReportError(source, "/".join(map(str, error.absolute_path)), error.message)
        return report
    _need(report, dict, source, "")
    if _field(report, "format", str, source, "") != FORMAT:
        raise ReportError(source, "format", f"{report['format']!r} is not {FORMAT!r}")
    system = _field(report, "system", dict, source, "")
    _field(system, "description", str, source, "system")
    for key in ("handles", "processes"):
        _field(system, key, int, source, "system")
    for i, result in enumerate(_field(report, "results", list, source, "")):
        _need(result, dict, source, f"results/{i}")
        _field(result, "strategy", str, source, f"results/{i}")
        if _field(result, "status", str, source, f"results/{i}") == "ok":
            seconds = _field(result, "seconds", dict, source, f"results/{i}")
            for key in ("min", "median", "max"):
                _field(seconds, key, (int, float), source, f"results/{i}/seconds")
    return report


def _field(parent: dict, key: str, kind, source: str, where: str) -> Any:
    """``parent[key]`` when it is of ``kind``; else the error at ``where`` (missing) or at
    ``where/key`` (wrong kind), as jsonschema would place it."""
    if key not in parent:
        raise ReportError(source, where, f"{key!r} is a required property")
    _need(parent[key], kind, source, f"{where}/{key}" if where else key)
    return parent[key]


def _need(value: Any, kind, source: str, where: str) -> None:
    if not isinstance(value, kind) or isinstance(value, bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ReportError(source, where, f"expected {names}, found {type(value).__name__} {value!r:.60}")


# The most bytes a report is read up to: a report is some kilobytes (tests/benchmark/data);
# anything larger (or endless, like /dev/zero) is refused rather than read whole.
MAX_REPORT_BYTES = 64 << 20


def load(path: Union[str, Path]) -> Dict[str, Any]:
    """Read and :func:`validate` the report at ``path``; :class:`ReportError` (with the line
    and column for bad JSON) when it is unreadable, over ``MAX_REPORT_BYTES`` (64 MiB), nested
    too deep for the JSON parser, or invalid."""
    source = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_REPORT_BYTES + 1)
        if len(data) > MAX_REPORT_BYTES:
            raise ReportError(source, "", f"over the limit of {MAX_REPORT_BYTES} bytes: not a benchmark report")
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ReportError(source, "", f"cannot read it: {error}") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as error:
        raise ReportError(source, "", f"not JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except RecursionError:
        raise ReportError(source, "", "not JSON this reader takes: nested too deep") from None
    return validate(report, source)


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    """``b / a``: above 1 means B took longer than A; None when either is missing or A is 0."""
    if a is None or b is None or a <= 0:
        return None
    return b / a


def _median(result: Optional[dict]) -> Optional[float]:
    if not result or result.get("status") != "ok":
        return None
    return result["seconds"]["median"]


def compare_rows(a: Dict[str, Any], b: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per strategy in either report (A's order, then B's new ones): each side's
    status, median seconds and handles per second, and ``ratio`` = B's median / A's median.
    Both reports must be valid (see :func:`load`)."""
    left = {r["strategy"]: r for r in a["results"]}
    right = {r["strategy"]: r for r in b["results"]}
    rows = []
    for name in dict.fromkeys([*left, *right]):
        one, two = left.get(name), right.get(name)
        rows.append({
            "strategy": name,
            "a_status": one["status"] if one else "absent",
            "a_median": _median(one),
            "a_handles_per_second": one.get("handles_per_second") if one else None,
            "b_status": two["status"] if two else "absent",
            "b_median": _median(two),
            "b_handles_per_second": two.get("handles_per_second") if two else None,
            "ratio": ratio(_median(one), _median(two)),
        })
    return rows
