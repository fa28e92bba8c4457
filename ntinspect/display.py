"""How records and tables show themselves: a short ``repr()`` with what an analyst reads first,
full detail in IPython (``_repr_pretty_``) and Jupyter (``_repr_html_``).

Values are formatted as the ``ntinspect`` tables print them, by the CLI's own helpers
(``ntinspect.cli.handle_rows``, ``ntinspect.cli.ports.view_rows``, ...): handle
values, objects and masks in hex, access symbolically where it is short. Names come from
the inspected system and may hold anything (``<script>``, control characters): HTML output
escapes every value, and text output escapes control characters.
"""
from __future__ import annotations

import dataclasses
import html
from collections import Counter
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from .rows import record_row

__all__ = ["Record", "Table", "DISPLAY_ROWS", "TOP_GROUPS", "plural", "table_text", "table_html", "counts_text"]

DISPLAY_ROWS = 20
"""A table shows this many rows in IPython and Jupyter (slice it to see others)."""
TOP_GROUPS = 8
"""Totals list this many groups, the largest first; the rest are counted together."""
SUMMARY_WIDTH = 60
"""A name or detail in a short repr is shortened to this many characters."""
LIST_SEPARATOR = "|"  # the CLI's (ntinspect.cli.render.LIST_SEPARATOR); this module loads without the CLI
CONTROL = {code: f"\\x{code:02x}" for code in range(32)} | {9: "\\t", 10: "\\n", 13: "\\r", 127: "\\x7f"}


def plural(count: int, noun: str, nouns: Optional[str] = None) -> str:
    """``1 handle``, ``2 handles``; ``nouns`` for an irregular plural (``processes``)."""
    return f"{count} {noun if count == 1 else (nouns or noun + 's')}"


def printable(text: Any, width: Optional[int] = None) -> str:
    """``text`` on one line (control characters as escapes), shortened to ``width``."""
    from .cli.render import shorten

    text = "None" if text is None else str(text).translate(CONTROL)
    return text if width is None else shorten(text, width)


# --- one kind of record: how it shows ----------------------------------------------------

class Kind(NamedTuple):
    """How records of one type show: ``noun``/``nouns`` for counts, ``summary`` (the short
    repr's text), ``table`` (records -> (rows, columns) as the CLI's table prints them),
    ``groups`` (fields whose totals a table shows) and ``hex`` (fields shown in hex)."""

    noun: str
    nouns: str
    summary: Callable[[Any], str]
    table: Callable[[Sequence[Any]], Tuple[List[Dict[str, Any]], List[str]]]
    groups: Tuple[str, ...] = ()
    hex: Tuple[str, ...] = ()


def _handle_table(records: Sequence[Any]) -> Tuple[List[Dict[str, Any]], List[str]]:
    from .cli import HANDLE_COLUMNS, handle_rows

    users = any(r.user_status != "not_requested" for r in records)
    named = any(r.name_status != "not_requested" for r in records)
    rows = handle_rows([record_row(r) for r in records], "table", wide=False, user=users)
    columns = HANDLE_COLUMNS[:-1] + (["name_status"] if named else []) + ["name"]
    if users:
        columns.insert(2, "user")
    return rows, columns


def _handle_summary(h: Any) -> str:
    row = _handle_table([h])[0][0]
    text = f"pid={h.pid}{' ' + printable(h.process) if h.process else ''} {row['value']} {h.type} {row['access']}"
    if h.name:
        return f"{text} {printable(h.name, SUMMARY_WIDTH)}"
    return text if h.name_status in ("ok", "not_requested") else f"{text} <{h.name_status}>"


def _port_table(records: Sequence[Any]) -> Tuple[List[Dict[str, Any]], List[str]]:
    from .cli.ports import VIEW_COLUMNS, _no_owner, view_rows

    return _no_owner(view_rows(records), "table"), list(VIEW_COLUMNS)


def _port_summary(p: Any) -> str:
    rows = _port_table([p])[0]
    first = rows[0]
    owners = ", ".join(f"{r['pid']}{' ' + printable(r['process']) if r['process'] else ''}" for r in rows)
    state = f" {first['state']}" if first["state"] else ""
    status = "" if p.owner_status == "ok" else f" ({p.owner_status})"
    return f"{first['proto']} {first['local']} {first['remote']}{state} pid={owners}{status}"


def _process_table(records: Sequence[Any]) -> Tuple[List[Dict[str, Any]], List[str]]:
    from .cli import PROCESS_COLUMNS, process_table_rows

    return process_table_rows([record_row(r) for r in records]), list(PROCESS_COLUMNS)


def _process_summary(p: Any) -> str:
    row = _process_table([p])[0][0]
    text = f"pid={p.pid} {printable(p.name)} ppid={p.ppid}"
    if p.user_status != "not_requested":
        text += f" user={printable(row['user'])}"
    return f"{text} handles={p.handle_count}"


def _type_table(records: Sequence[Any]) -> Tuple[List[Dict[str, Any]], List[str]]:
    from .cli import TYPE_COLUMNS, type_table_rows

    return type_table_rows([record_row(r) for r in records]), list(TYPE_COLUMNS)


def _type_summary(t: Any) -> str:
    row = _type_table([t])[0][0]
    return (f"{t.index} {printable(t.name)} objects={t.object_count} handles={t.handle_count} "
            f"valid_access={row['valid_access']}")


def _entry_table(records: Sequence[Any]) -> Tuple[List[Dict[str, Any]], List[str]]:
    from .cli.ns import COLUMNS

    return [record_row(r) for r in records], list(COLUMNS)


def _entry_summary(e: Any) -> str:
    text = f"{printable(e.type)} {printable(e.path)}"
    if e.target is not None:
        text += f" -> {printable(e.target)}"
    return text if e.status == "ok" else f"{text} [{e.status}]"


def _finding_table(records: Sequence[Any]) -> Tuple[List[Dict[str, Any]], List[str]]:
    from .cli.ports import _crossview_rows

    return _crossview_rows(records, netstat=False)


def _finding_summary(d: Any) -> str:
    return f"{d.reason}: {printable(d.detail, SUMMARY_WIDTH)}"


def _scan_summary(s: Any) -> str:
    paths = ", ".join(f"{path}={status}" for path, status in s.paths.items())
    text = f"{plural(len(s.ports), 'port')}; paths {paths}"
    unreadable = len(s.unreadable)
    return f"{text}; {plural(unreadable, 'unreadable process', 'unreadable processes')}" if unreadable else text


def _info_summary(i: Any) -> str:
    version = ".".join(str(v) for v in i.version if v is not None) if i.version else "unknown version"
    parts = [f"Windows {version}"] + [v for v in (i.product, i.native_machine) if v]
    if i.wine:
        parts.append(f"Wine {i.wine_version}")
    return f"{' '.join(parts)} ({i.origin})"


def _endpoint_summary(e: Any) -> str:
    from .cli.ports import _address, _foreign, _proto

    state = f" {e.state}" if e.state else ""
    handle = f" handle={e.handle:#x}" if e.handle is not None else ""
    pid = "-" if e.pid is None else e.pid
    return f"{e.source}: {_proto(e)} {_address(e.local_addr, e.local_port, e.family)} {_foreign(e)}{state} pid={pid}{handle}"


def _mapping_summary(m: Any) -> str:
    from .cli.render import hex_fields

    row = hex_fields([record_row(m)], "virtual", "physical", "size", "page_size")[0]
    status = "" if m.status == "ok" else f" [{m.status}]"
    return (f"{row['virtual']}-{m.virtual + m.size:#x} -> {row['physical']} pages={row['page_size']} "
            f"flags={m.flags}{status}")


def _table_entry_summary(e: Any) -> str:
    from .cli.render import hex_fields

    row = hex_fields([record_row(e)], "address", "value")[0]
    return f"{e.level} at {row['address']} = {row['value']} ({e.layout}, {e.mode})"


def _no_table(records: Sequence[Any]) -> Tuple[List[Dict[str, Any]], List[str]]:
    rows = [record_row(r) for r in records]
    return rows, list(rows[0]) if rows else []


KINDS: Dict[str, Kind] = {
    "Handle": Kind("handle", "handles", _handle_summary, _handle_table, ("type", "process"),
                   ("value", "access", "object", "attributes")),
    "Port": Kind("port", "ports", _port_summary, _port_table, ("proto", "owner_status", "process")),
    "Process": Kind("process", "processes", _process_summary, _process_table, ("user", "session_id")),
    "ObjectType": Kind("object type", "object types", _type_summary, _type_table, (),
                       ("valid_access", "generic_mapping")),
    "NamespaceEntry": Kind("namespace entry", "namespace entries", _entry_summary, _entry_table,
                           ("type", "status")),
    "Discrepancy": Kind("discrepancy", "discrepancies", _finding_summary, _finding_table, ("reason",)),
    "Endpoint": Kind("endpoint row", "endpoint rows", _endpoint_summary, _no_table, ("source", "proto"), ("handle",)),
    "Mapping": Kind("mapping", "mappings", _mapping_summary, _no_table, ("page_size", "status"),
                    ("virtual", "physical", "size", "page_size")),
    "TableEntry": Kind("page-table entry", "page-table entries", _table_entry_summary, _no_table, ("level",),
                       ("address", "value")),
    "PortScan": Kind("port scan", "port scans", _scan_summary, _no_table),
    "SystemInfo": Kind("system", "systems", _info_summary, _no_table),
}
"""Each public record type, by class name (the records' modules import this one)."""


def kind_of(record_type: Optional[type]) -> Optional[Kind]:
    """The :class:`Kind` of ``record_type`` or of its nearest listed base class."""
    for cls in getattr(record_type, "__mro__", ()):
        if cls.__name__ in KINDS:
            return KINDS[cls.__name__]
    return None


# --- one record ----------------------------------------------------------------------------

def _value_text(value: Any, hexed: bool) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:#x}" if hexed else str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Record):
        return repr(value)
    if isinstance(value, dict):  # a PortScan's rows per path are counted, not listed
        return ", ".join(f"{k}={plural(len(v), 'row') if isinstance(v, (list, tuple)) else _value_text(v, hexed)}"
                         for k, v in value.items()) or "{}"
    if isinstance(value, (tuple, list)):
        if not value:
            return "()"
        if isinstance(value[0], (tuple, list)):  # (pid, handle) pairs and the like
            return ", ".join("(" + ", ".join(_value_text(v, hexed) for v in item) + ")" for item in value)
        return LIST_SEPARATOR.join(_value_text(v, hexed) for v in value)  # as CSV cells join lists
    return printable(value)


def detail(record: Any) -> List[Tuple[str, List[str]]]:
    """``(field, lines)`` for every field of ``record``: values as the CLI shows them
    (hex where the table has hex), a tuple of records one per line."""
    kind = kind_of(type(record))
    hexed = kind.hex if kind else ()
    out = []
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, (tuple, list)) and value and all(dataclasses.is_dataclass(v) for v in value):
            lines = [repr(v) for v in value[:DISPLAY_ROWS]]  # records, one per line
            if len(value) > DISPLAY_ROWS:
                lines.append(f"... {len(value) - DISPLAY_ROWS} more")
        else:
            lines = [_value_text(value, f.name in hexed)]
        out.append((f.name, lines))
    return out


def detail_text(record: Any) -> str:
    """Every field of ``record``, one per line (``field  value``), under its short repr."""
    rows = detail(record)
    width = max((len(name) for name, _ in rows), default=0)
    lines = [repr(record)]
    for name, values in rows:
        lines.append(f"  {name.ljust(width)}  {values[0]}")
        lines += [f"  {'':{width}}  {v}" for v in values[1:]]
    return "\n".join(lines)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def detail_html(record: Any) -> str:
    """Every field of ``record`` as an HTML table, every value escaped."""
    body = "".join(f"<tr><th style=\"text-align:left\">{_e(name)}</th>"
                   f"<td style=\"text-align:left\">{'<br>'.join(_e(v) for v in values)}</td></tr>"
                   for name, values in detail(record))
    return (f"<table class=\"ntinspect\"><caption style=\"text-align:left\">{_e(repr(record))}</caption>"
            f"<tbody>{body}</tbody></table>")


class Record:
    """What every public record shares: a short ``repr()``, full detail in IPython
    (``_repr_pretty_``) and Jupyter (``_repr_html_``), and its fields in ``dir()`` (tab
    completion). Record dataclasses declare ``repr=False`` so that this repr is theirs."""

    __slots__ = ()

    def __repr__(self) -> str:
        kind = kind_of(type(self))
        try:
            text = kind.summary(self) if kind else ""
        except Exception:  # a record built by hand with values of other types: repr never fails
            text = " ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)[:4])
        return f"<{type(self).__name__} {text}>" if text else f"<{type(self).__name__}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython's pretty printer: every field, one per line; inside a list or another
        record, the short repr (one line per record)."""
        nested = len(getattr(p, "stack", ())) > 1
        p.text(repr(self) if cycle or nested else detail_text(self))

    def _repr_html_(self) -> str:
        """Jupyter: every field in an HTML table (values escaped)."""
        return detail_html(self)

    def __dir__(self) -> List[str]:
        return sorted(set(object.__dir__(self)) | {f.name for f in dataclasses.fields(self)})


# --- tables ----------------------------------------------------------------------------------

class Table:
    """What every table object shares (HandleTable, RecordList): a one-line ``repr()`` of
    ``self._header()``; IPython and Jupyter show its first rows as the CLI prints them,
    then the totals, from ``self._display()`` (header, row dicts, columns, totals) and
    ``len(self)``. ``__repr__`` is defined here, beside ``_repr_pretty_``: IPython takes the
    first of the two it meets along the class's MRO."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._header()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """IPython: the first rows, then the totals (the short repr inside a cycle)."""
        if cycle:
            p.text(repr(self))
            return
        header, rows, columns, totals = self._display()
        p.text(table_text(header, rows, columns, len(self), totals, getattr(p, "max_width", None)))

    def _repr_html_(self) -> str:
        """Jupyter: the same as an HTML table (every value escaped: names come from the
        inspected system)."""
        header, rows, columns, totals = self._display()
        return table_html(header, rows, columns, len(self), totals)


def counts_text(counts: Sequence[Tuple[Any, int]], top: int = TOP_GROUPS) -> str:
    """``a 3, b 2, 4 others 5``: the largest ``top`` groups, then the rest together."""
    shown = [f"{'-' if key is None else printable(key)} {n}" for key, n in counts[:top]]  # None: the CLI's "-"
    rest = counts[top:]
    if rest:
        shown.append(f"{plural(len(rest), 'other')} {sum(n for _, n in rest)}")
    return ", ".join(shown)


def most_common(values: Iterable[Any]) -> List[Tuple[Any, int]]:
    """``(value, count)`` pairs, the most common first (ties in first-seen order)."""
    return Counter(values).most_common()


def table_text(header: str, rows: List[Dict[str, Any]], columns: Sequence[str], total: int,
               totals: Sequence[Tuple[str, Sequence[Tuple[Any, int]]]], width: Optional[int]) -> str:
    """A table for a terminal: ``header``, the CLI table of ``rows`` fitted to ``width``
    (cells with control characters escaped), how many rows are not shown of ``total``, and
    one line per ``(name, counts)`` of ``totals``."""
    from .cli.render import table

    lines = [header]
    if rows:
        cells = [{c: printable(row.get(c)) if row.get(c) is not None else None for c in columns} for row in rows]
        lines.append(table(cells, columns, width))
    if total > len(rows):
        lines.append(f"... {total - len(rows)} more (slice the table to see them)")
    lines += [f"by {name}: {counts_text(counts)}" for name, counts in totals if counts]
    return "\n".join(lines)


def table_html(header: str, rows: List[Dict[str, Any]], columns: Sequence[str], total: int,
               totals: Sequence[Tuple[str, Sequence[Tuple[Any, int]]]]) -> str:
    """The same as :func:`table_text`, as HTML (every value escaped)."""
    from .cli.render import _cell

    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td style=\"text-align:left\">{_e(_cell(row.get(c)))}</td>" for c in columns)
                   + "</tr>" for row in rows)
    parts = [f"<div class=\"ntinspect\"><p><b>{_e(header)}</b></p>"]
    if rows:
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    if total > len(rows):
        parts.append(f"<p>... {total - len(rows)} more (slice the table to see them)</p>")
    parts += [f"<p>by {_e(name)}: {_e(counts_text(counts))}</p>" for name, counts in totals if counts]
    parts.append("</div>")
    return "".join(parts)
