"""``ntinspect bench``: measure handle enumeration here, or compare two saved reports.

    ntinspect bench                              every strategy, table on stdout
    ntinspect bench --handles 100000 -o a.json   with 100,000 extra handles, report saved
    ntinspect bench --compare a.json b.json      side by side, B's time / A's time
"""
from __future__ import annotations

import argparse
import json
import sys

from ..benchmark import MAX_EXTRA_HANDLES, STRATEGIES, compare_rows, load, run as run_benchmark, select
from .render import render

RESULT_COLUMNS = ["strategy", "status", "runs", "min", "median", "max", "handles", "handles/s", "peak MB"]
COMPARE_COLUMNS = ["strategy", "A median", "B median", "B/A", "A handles/s", "B handles/s"]


def _count(low: int, high: int):
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number from {low} to {high}, not {value!r}")
        return number

    return parse


def _seconds(value: str) -> float:
    from . import _seconds as seconds  # the one positive-seconds check of the CLI

    return seconds(value)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``bench`` subcommand to ``subparsers``."""
    names = ", ".join(s.name for s in STRATEGIES)
    parser = subparsers.add_parser(
        "bench", help="benchmark handle enumeration (or --compare two saved reports)",
        description="Time every way of enumerating handles on this system (warm-up, then repeated runs: "
                    "min, median, max, handles per second, peak traced memory), with peers where installed. "
                    f"Strategies: {names}.")
    parser.add_argument("--strategy", "-s", action="append", metavar="NAME",
                        help="measure only this strategy (repeatable; default: all)")
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="leave psutil and PythonForWindows out")
    parser.add_argument("--warmup", type=_count(0, 100), default=1, help="untimed runs first (default 1)")
    parser.add_argument("--repeats", "-r", type=_count(1, 1000), default=5,
                        help="most timed runs per strategy (default 5)")
    parser.add_argument("--budget", type=_seconds, default=10.0,
                        help="seconds after which a strategy stops repeating (default 10; one timed run at least)")
    parser.add_argument("--handles", type=_count(0, MAX_EXTRA_HANDLES), default=0, metavar="N",
                        help="first create N extra handles in a child process, removed afterwards")
    parser.add_argument("--timeout", type=_seconds, default=1.0, help="seconds a name query may take (default 1)")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the extra traced run that measures peak memory")
    parser.add_argument("--format", "-f", choices=("table", "json"), default="table",
                        help="table, or the JSON report (schema: ntinspect/benchmark/schema.json)")
    parser.add_argument("--output", "-o", metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"),
                        help="compare two saved reports instead of measuring")
    return parser


def _number(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _rate(value) -> str:
    return "" if value is None else f"{value:,.0f}"


def result_rows(report: dict) -> list:
    """A report's results as table rows (seconds with 4 decimals, rates with separators)."""
    rows = []
    for r in report["results"]:
        seconds = r["seconds"] or {}
        peak = r["peak_memory_bytes"]
        rows.append({"strategy": r["strategy"], "status": r["status"], "runs": r["runs"], "min": _number(seconds.get("min")),
                     "median": _number(seconds.get("median")), "max": _number(seconds.get("max")),
                     "handles": r["handles"], "handles/s": _rate(r["handles_per_second"]),
                     "peak MB": "" if peak is None else f"{peak / 1e6:.1f}"})
    return rows


def compare_text(a: dict, b: dict, fmt: str) -> str:
    """Two reports side by side: the systems, then one row per strategy with B/A ratios."""
    rows = compare_rows(a, b)
    if fmt == "json":
        return json.dumps({"a": a["system"], "b": b["system"], "rows": rows}, indent=2)
    lines = [f"A: {a['system']['description']}: {a['system']['handles']} handles, {a['system']['processes']} "
             f"processes, created {a.get('created', '?')}",
             f"B: {b['system']['description']}: {b['system']['handles']} handles, {b['system']['processes']} "
             f"processes, created {b.get('created', '?')}", ""]
    table = []
    for row in rows:
        table.append({"strategy": row["strategy"],
                      "A median": _number(row["a_median"]) if row["a_status"] == "ok" else row["a_status"],
                      "B median": _number(row["b_median"]) if row["b_status"] == "ok" else row["b_status"],
                      "B/A": "" if row["ratio"] is None else f"{row['ratio']:.2f}x",
                      "A handles/s": _rate(row["a_handles_per_second"]),
                      "B handles/s": _rate(row["b_handles_per_second"])})
    lines.append(render(table, COMPARE_COLUMNS, "table"))
    lines.append("\nB/A is B's median time over A's: below 1 B was faster. Ratios under about 1.2x are "
                 "within run-to-run noise on a busy machine (see the benchmark page of the docs).")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Measure (or compare) and print in ``args.format``."""
    from . import CliError

    if args.compare:
        print(compare_text(load(args.compare[0]), load(args.compare[1]), args.format))
        return 0
    from ..sources.current import _CURRENT

    if _CURRENT.get() is not None:
        raise CliError("bench measures this system: it takes no --source")
    try:
        select(args.strategy, args.peers)
    except ValueError as error:  # an unknown strategy name
        raise CliError(str(error)) from None
    report = run_benchmark(args.strategy, peers=args.peers, warmup=args.warmup, repeats=args.repeats,
                           budget=args.budget, extra=args.handles, name_timeout=args.timeout,
                           memory=args.memory, progress=lambda line: print(line, file=sys.stderr, flush=True))
    text = json.dumps(report, indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    if args.format == "json":
        print(text)
    else:
        system, made = report["system"], report["settings"]["extra_handles_made"]
        extra = f" ({args.handles} extra asked, {made} made)" if args.handles else ""
        print(f"{system['description']}\n{system['handles']} handles, {system['processes']} processes{extra}\n")
        print(render(result_rows(report), RESULT_COLUMNS, "table"))
        notes = [f"{r['strategy']}: {r['reason']}" for r in report["results"] if r["reason"]]
        if notes:
            print("\n" + "\n".join(notes))
    return 0
