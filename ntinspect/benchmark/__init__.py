"""``ntinspect bench``: how fast this system enumerates handles, by every strategy.

:func:`run` measures each strategy of :mod:`ntinspect.benchmark.strategies` (warm-up,
then repeated timed runs within a budget, then the peak memory of one more run) on the
live system, optionally with extra handles held by a child process, and returns a report
(a dict that :func:`~ntinspect.benchmark.report.validate` accepts; its JSON Schema is ``schema.json`` in this
package). :func:`~ntinspect.benchmark.report.compare_rows` puts two reports side by side with ratios. How to read the
numbers: the "Benchmarking handle enumeration" page of the documentation.
"""
from __future__ import annotations

import json
import platform
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional

from .. import __version__
from ..errors import NtInspectError
from .timing import Timing, measure
from .report import FORMAT, ReportError, compare_rows, load, ratio, schema, validate
from .scale import MAX_EXTRA_HANDLES, ScaleError, extra_handles
from .strategies import STRATEGIES, NotInstalled, Strategy, Unsupported, select

__all__ = ["run", "describe_system", "system_info_mapping", "compare_rows", "load", "validate", "schema", "ratio",
           "FORMAT", "ReportError", "ScaleError", "STRATEGIES", "Strategy", "select", "measure", "Timing",
           "extra_handles", "MAX_EXTRA_HANDLES"]

Progress = Callable[[str], None]


def system_info_mapping() -> Optional[Dict[str, Any]]:
    """The hook for ``ntinspect.system_info()``: its record as a JSON-ready mapping where
    this version of ntinspect has it, else None (the report's ``system.info``)."""
    try:
        from .. import system_info  # type: ignore[attr-defined]
    except ImportError:
        return None
    import dataclasses

    record = system_info()
    mapping = dataclasses.asdict(record) if dataclasses.is_dataclass(record) else dict(record)
    return json.loads(json.dumps(mapping, default=str))


def describe_system() -> Dict[str, Any]:
    """The report's ``system``: a one-line description (platform module, Wine's version),
    this Python, the pointer width, and the handle and process counts (class 64 rows,
    class 5 entries) at this moment. Needs the live API."""
    from .._native import wine_version
    from ..backends import live

    wine = wine_version()
    bits = live.WIDTH * 8
    python = f"{platform.python_implementation()} {platform.python_version()}"
    description = (f"{platform.system()} {platform.release()} {platform.version()}"
                   f"{f', Wine {wine}' if wine else ''}, {python} {bits}-bit, {platform.machine() or 'unknown machine'}")
    return {
        "description": " ".join(description.split()),
        "python": python,
        "pointer_width": live.WIDTH,
        "wine": wine,
        "handles": int(len(live.system_handle_columns()["pid"])),
        "processes": sum(1 for _ in live.process_entries()),
        "info": system_info_mapping(),
    }


def _result(strategy: Strategy, status: str, reason: Optional[str] = None, timing: Optional[Timing] = None,
            warmup: int = 0) -> Dict[str, Any]:
    return {
        "strategy": strategy.name, "description": strategy.description, "table": strategy.table,
        "types": strategy.types, "names": strategy.names, "parse": strategy.parse, "peer": strategy.peer,
        "status": status, "reason": reason,
        "warmup": timing.warmup if timing else warmup,
        "runs": len(timing.seconds) if timing else 0,
        "seconds": timing.summary if timing else None,
        "handles": timing.handles if timing else None,
        "handles_per_second": timing.handles_per_second if timing else None,
        "peak_memory_bytes": timing.peak_memory_bytes if timing else None,
    }


def measure_strategy(strategy: Strategy, *, warmup: int, repeats: int, budget: float, name_timeout: float,
                     memory: bool = True) -> Dict[str, Any]:
    """One report result for ``strategy``: ``ok`` with its timing, or ``unsupported``,
    ``not_installed`` or ``error`` with the reason. ntinspect's own strategies turn only
    :class:`~ntinspect.errors.NtInspectError` into ``error`` (anything else is a bug and
    propagates); a peer's failure of any kind is reported, not hidden."""
    options: Dict[str, Any] = {"name_timeout": name_timeout}
    caught = Exception if strategy.peer else NtInspectError
    try:
        run_once = strategy.prepare(options)
        timing = measure(run_once, warmup=warmup, repeats=repeats, budget=budget, memory=memory)
    except Unsupported as error:
        return _result(strategy, "unsupported", str(error))
    except NotInstalled as error:
        return _result(strategy, "not_installed", str(error))
    except caught as error:
        return _result(strategy, "error", f"{type(error).__name__}: {error}")
    skipped = options.get("skipped", {}).get("processes")
    note = f"{skipped} processes could not be asked (gone or access denied)" if skipped else None
    return _result(strategy, "ok", note, timing)


def run(strategies: Optional[List[str]] = None, *, peers: bool = True, warmup: int = 1, repeats: int = 5,
        budget: float = 10.0, extra: int = 0, name_timeout: float = 1.0, memory: bool = True,
        progress: Optional[Progress] = None) -> Dict[str, Any]:
    """Measure the named strategies (all when None; peers left out when ``peers`` is False)
    on the live system and return the report (``format`` :data:`~ntinspect.benchmark.report.FORMAT`).

    ``warmup`` untimed runs, then up to ``repeats`` timed runs per strategy, fewer once a
    strategy has taken ``budget`` seconds (so a run lasts about strategies x budget plus
    one run each); ``extra`` handles are held by a child process during the runs (see
    :func:`~ntinspect.benchmark.scale.extra_handles`); ``name_timeout`` bounds each name
    query of ``handles.names``. ``progress`` receives one line per strategy.
    Raises ValueError for bad settings, :class:`~ntinspect.errors.UnsupportedPlatform` off
    Windows, :class:`~ntinspect.benchmark.scale.ScaleError` if the child fails.
    """
    chosen = select(strategies, peers)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup is a count >= 0, not {warmup!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats is a count >= 1, not {repeats!r}")
    if not isinstance(budget, (int, float)) or not 0 < budget < float("inf"):
        raise ValueError(f"budget is a positive number of seconds, not {budget!r}")
    if not isinstance(name_timeout, (int, float)) or not 0 < name_timeout <= 3600:
        raise ValueError(f"name_timeout is seconds, more than 0 and at most 3600, not {name_timeout!r}")
    with extra_handles(extra) as (_, made):
        system = describe_system()
        results = []
        for strategy in chosen:
            result = measure_strategy(strategy, warmup=warmup, repeats=repeats, budget=budget,
                                      name_timeout=name_timeout, memory=memory)
            results.append(result)
            if progress:
                median = f"{result['seconds']['median']:.4f} s median of {result['runs']}" \
                    if result["status"] == "ok" else result["reason"]
                progress(f"{strategy.name}: {result['status']}: {median}")
    settings = {"warmup": warmup, "repeats": repeats, "budget_seconds": float(budget), "extra_handles": extra,
                "extra_handles_made": made, "name_timeout": float(name_timeout)}
    return {"format": FORMAT, "ntinspect": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "settings": settings, "system": system, "results": results}
