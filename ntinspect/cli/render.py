"""Rendering rows (dicts) as a text table, JSON, JSON lines or CSV. No data gathering here.

One rule for values in every machine format: integers are written as numbers in decimal
(JSON, JSONL and CSV alike; hex is for tables only), None is JSON ``null`` and an empty
CSV cell, and a list is a JSON array and, in CSV, its items joined with ``|``
(``FILE_READ_DATA|SYNCHRONIZE``). Tables may shorten cells to fit a width (an ellipsis
marks each shortened cell); machine formats never shorten anything.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Dict, List, Optional, Sequence

FORMATS = ("table", "json", "jsonl", "csv")
LIST_SEPARATOR = "|"
GAP = "  "
MIN_WIDTH = 6  # a shortened column keeps at least this many characters (or its header)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return LIST_SEPARATOR.join(_cell(v) for v in value)
    return str(value)


def fit(widths: Sequence[int], floors: Sequence[int], width: int) -> List[int]:
    """Column widths whose total (with the gaps) is at most ``width``: the widest column is
    narrowed first (the last of equals), none below its floor. Returns the widths as they
    are when they already fit, and the narrowest possible ones when nothing fits."""
    widths = list(widths)
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
    while excess > 0:
        candidates = [i for i, w in enumerate(widths) if w > floors[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: (widths[i], i))
        others = [widths[i] for i in candidates if i != widest]
        step = max(1, min(excess, widths[widest] - max(floors[widest], max(others, default=0))))
        widths[widest] -= step
        excess -= step
    return widths


def shorten(text: str, width: int, ellipsis: str = "\u2026") -> str:
    """``text`` cut to ``width`` characters, the last ones replaced by ``ellipsis``."""
    if len(text) <= width:
        return text
    return text[:max(width - len(ellipsis), 0)] + ellipsis[:width]


def table(rows: Sequence[Dict[str, Any]], columns: Sequence[str], width: Optional[int] = None,
          ellipsis: str = "\u2026") -> str:
    """Aligned columns under upper-case headers; lines end without padding. With ``width``,
    cells are shortened (with ``ellipsis``) so that every line fits it."""
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    if width is not None:
        widths = fit(widths, [max(len(c), MIN_WIDTH) for c in columns], width)
    lines = [GAP.join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += [GAP.join(shorten(v, w, ellipsis).ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def render(rows: Sequence[Dict[str, Any]], columns: Sequence[str], fmt: str = "table",
           width: Optional[int] = None, ellipsis: str = "\u2026") -> str:
    """``rows`` in ``fmt``: JSON and JSONL write each row whole; ``columns`` picks and orders
    the fields of tables and CSV. ``width`` and ``ellipsis`` apply to tables only."""
    if fmt == "json":
        return json.dumps(list(rows), indent=2, default=str)
    if fmt == "jsonl":
        return "\n".join(json.dumps(row, default=str) for row in rows)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({c: _cell(row.get(c)) for c in columns} for row in rows)
        return out.getvalue().rstrip("\n")
    if fmt == "table":
        return table(rows, columns, width, ellipsis)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def add_format_option(parser) -> None:
    """The output options every command takes (see :mod:`ntinspect.cli.output`)."""
    from .output import add_output_options

    add_output_options(parser)


def hex_fields(rows: List[Dict[str, Any]], *fields: str) -> List[Dict[str, Any]]:
    """Rows with the named integer fields shown as hex strings (for tables)."""
    return [{k: (f"{v:#x}" if k in fields and isinstance(v, int) else v) for k, v in row.items()} for row in rows]
