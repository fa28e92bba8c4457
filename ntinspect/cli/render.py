"""Rendering rows (dicts) as a text table, JSON, JSON lines or CSV. No data gathering here."""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Dict, List, Sequence

FORMATS = ("table", "json", "jsonl", "csv")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value)
    return str(value)


def table(rows: Sequence[Dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def render(rows: Sequence[Dict[str, Any]], columns: Sequence[str], fmt: str = "table") -> str:
    """``rows`` in ``fmt``; ``columns`` picks and orders the fields of table and CSV output."""
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
        return table(rows, columns)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def add_format_option(parser) -> None:
    parser.add_argument("--format", "-f", choices=FORMATS, default="table", help="output format")
    parser.add_argument("--json", dest="format", action="store_const", const="json", help="same as --format json")


def hex_fields(rows: List[Dict[str, Any]], *fields: str) -> List[Dict[str, Any]]:
    """Rows with the named integer fields shown as hex strings (for tables)."""
    return [{k: (f"{v:#x}" if k in fields and isinstance(v, int) else v) for k, v in row.items()} for row in rows]
