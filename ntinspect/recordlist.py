"""The table of records that :func:`~ntinspect.portmap.ports`, :func:`ntinspect.processes`,
:func:`ntinspect.object_types`, :func:`~ntinspect.portmap.crossview` and
:func:`~ntinspect.objspace.namespace` return: a list, with columns, filters, totals, ``to_pandas()`` and a display of its own.

It subclasses :class:`list` (rather than implementing ``collections.abc.Sequence``) so
that every use of the plain lists these functions returned before keeps working
unchanged: ``isinstance(x, list)``, ``json.dumps``, ``==`` with a list of the same records
(either side), ``+``, ``sort()``, ``append()``, pickling, ``pandas.DataFrame(x)``. What it
adds is read-only; slicing, ``+`` and :meth:`RecordList.filter` give a RecordList again.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, SupportsIndex, Tuple, Union, overload

from .display import DISPLAY_ROWS, Table, kind_of, most_common, plural
from .rows import record_row, row_columns

__all__ = ["RecordList"]


class RecordList(Table, list):
    """A list of records of one type (:class:`~ntinspect.models.Port`,
    :class:`~ntinspect.models.Process`, :class:`~ntinspect.models.ObjectType`,
    :class:`~ntinspect.portmap.Discrepancy`, :class:`~ntinspect.models.NamespaceEntry`), with:

    - ``table["field"]`` and ``table.field``: that field of every record, as a list (a
      field named like a list method, such as ObjectType's ``index``, only as
      ``table["index"]``); :attr:`columns` names them, in the order of the CLI's JSON;
    - :meth:`filter` (field values and/or a predicate), :meth:`count_by` (totals);
    - :meth:`to_pandas`: a DataFrame with the columns of ``ntinspect ... --format json``;
    - display: ``repr()`` gives the count, IPython and Jupyter show the first
      :data:`~ntinspect.display.DISPLAY_ROWS` rows as the ``ntinspect`` table prints them
      and the totals by the fields that matter for the kind (ports: protocol, owner
      status, process).

    ``record_type`` is the records' class (given by the functions, so an empty result still
    has its columns); None when unknown (an empty table built by hand).
    """

    def __init__(self, records: Iterable[Any] = (), record_type: Optional[type] = None) -> None:
        super().__init__(records)
        if record_type is None and len(self):
            record_type = type(list.__getitem__(self, 0))
        self.record_type = record_type

    def _like(self, records: Iterable[Any]) -> "RecordList":
        return RecordList(records, self.record_type)

    # --- list behaviour that keeps the type ------------------------------------------------
    @overload
    def __getitem__(self, key: SupportsIndex) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> "RecordList": ...

    @overload
    def __getitem__(self, key: str) -> List[Any]: ...

    def __getitem__(self, key: Union[SupportsIndex, slice, str]) -> Any:
        """A record by position, a RecordList by slice, a column (list) by field name
        (TypeError for a name that is no field, as a list answers any other str)."""
        if isinstance(key, str):
            if key not in self.columns:
                raise TypeError(f"records are selected by int or slice, columns by field name; "
                                f"{self._type_name()} records have no field {key!r} (fields: {', '.join(self.columns)})")
            return self.column(key)
        if isinstance(key, slice):
            return self._like(list.__getitem__(self, key))
        return list.__getitem__(self, key)

    def __add__(self, other: Any) -> "RecordList":
        if not isinstance(other, list):
            return NotImplemented
        same = getattr(other, "record_type", self.record_type) == self.record_type
        return RecordList(list.__add__(self, other), self.record_type if same else None)

    def __radd__(self, other: Any) -> "RecordList":
        if not isinstance(other, list):
            return NotImplemented
        return RecordList(list(other) + list(self), self.record_type)

    def __mul__(self, count: SupportsIndex) -> "RecordList":
        return self._like(list.__mul__(self, count))

    __rmul__ = __mul__

    def copy(self) -> "RecordList":
        """A shallow copy (a RecordList)."""
        return self._like(self)

    # --- columns -------------------------------------------------------------------------
    @property
    def columns(self) -> List[str]:
        """The fields of the records, in the order of the CLI's JSON rows and of
        :meth:`to_pandas` (``[]`` when the record type is unknown)."""
        record_type = self.__dict__.get("record_type")  # absent while unpickling
        return row_columns(record_type) if record_type is not None else []

    def column(self, name: str) -> List[Any]:
        """Field ``name`` of every record, in order. KeyError names the known fields."""
        if name not in self.columns:
            raise KeyError(f"{self._type_name()} records have no field {name!r}; fields: {', '.join(self.columns)}")
        return [getattr(r, name) for r in self]

    def __getattr__(self, name: str) -> List[Any]:
        if name.startswith("_") or name in ("record_type", "columns"):  # pickle, copy and IPython probe these
            raise AttributeError(name)
        if name in self.columns:
            return self.column(name)
        raise AttributeError(f"{type(self).__name__} of {self._type_name()} has no attribute or field {name!r}")

    def __dir__(self) -> List[str]:
        return sorted(set(object.__dir__(self)) | set(self.columns))

    def _ipython_key_completions_(self) -> List[str]:
        """IPython completes ``table["`` with the field names."""
        return self.columns

    def _type_name(self) -> str:
        record_type = self.__dict__.get("record_type")
        return record_type.__name__ if record_type is not None else "unknown"

    # --- selections and totals -----------------------------------------------------------
    def filter(self, predicate: Optional[Callable[[Any], bool]] = None, /, **fields: Any) -> "RecordList":
        """The records for which ``predicate(record)`` is true (when given) and every
        ``field=value`` holds: the field equals ``value``, or, where ``value`` is a set or
        frozenset, is one of its members (``state={"LISTENING", "BOUND"}``), or, where
        ``value`` is callable, ``value(field)`` is true (``local_port=lambda p: p < 1024``).
        ``ports().filter(proto="tcp", pid=880)``. An unknown field name raises TypeError
        naming the known ones; ``predicate`` must be callable (TypeError)."""
        if predicate is not None and not callable(predicate):
            raise TypeError(f"filter takes a callable(record) -> bool first, not {predicate!r}")
        unknown = [name for name in fields if name not in self.columns]
        if unknown:
            raise TypeError(f"{self._type_name()} records have no field {', '.join(map(repr, unknown))}; "
                            f"fields: {', '.join(self.columns)}")
        tests = [(name, _matcher(value)) for name, value in fields.items()]
        return self._like(r for r in self if (predicate is None or predicate(r))
                          and all(test(getattr(r, name)) for name, test in tests))

    def count_by(self, field: str) -> Dict[Any, int]:
        """``{value: records}`` for field ``field``, the most common first (KeyError for an
        unknown field)."""
        return dict(most_common(self.column(field)))

    # --- pandas --------------------------------------------------------------------------
    def to_pandas(self):
        """A pandas DataFrame, one row per record, with the columns (names and order) the
        CLI's ``--format json`` writes for this kind (:func:`ntinspect.rows.record_row`):
        integers stay integers, tuples stay tuples, a missing value is None. pandas must
        be installed (ImportError otherwise)."""
        import pandas

        return pandas.DataFrame([record_row(r) for r in self], columns=self.columns or None)

    # --- display -------------------------------------------------------------------------
    def _header(self) -> str:
        kind = kind_of(self.record_type)
        return plural(len(self), kind.noun, kind.nouns) if kind else plural(len(self), "record")

    def _display(self) -> Tuple[str, List[Dict[str, Any]], List[str], List[Tuple[str, List[Tuple[Any, int]]]]]:
        kind = kind_of(self.record_type)
        shown = list.__getitem__(self, slice(0, DISPLAY_ROWS))
        if kind is None:
            rows = [record_row(r) for r in shown]
            return self._header(), rows, list(rows[0]) if rows else [], []
        rows, columns = kind.table(shown)
        totals = [(g, most_common(self.column(g))) for g in kind.groups if g in self.columns]
        return self._header(), rows, columns, totals


def _matcher(value: Any) -> Callable[[Any], bool]:
    if isinstance(value, (set, frozenset)):
        return lambda field: field in value
    if callable(value):
        return lambda field: bool(value(field))
    return lambda field: field == value
