"""The one selection language of the API and the CLI: which processes (``pid=``, ``-p``) and
which object types (``type=``, ``-t``).

Processes: a pid (``int``, a numpy integer, or a decimal string such as ``"1234"``), an
image name (case-insensitive, with or without ``.exe``: ``"python"`` selects every
``python.exe``), or a collection of them. With ``partial=True`` (the CLI's ``-p``, as
handle.exe does) a name that matches no image exactly selects every image whose name
contains it. A selector that matches no running process raises :class:`~ntinspect.errors.ProcessNotFound`
(a LookupError); one that is not a selector at all (``True``, ``1.5``, ``-5``, ``b"x"``,
``""``) raises :class:`~ntinspect.errors.InvalidSelector` (a TypeError and a ValueError).

Types: a name (case-insensitive), an index as the handle table reports it (``int``, a
decimal string ``"17"``, or ``"#17"`` as the table shows an index the OS gives no name),
or a collection of them. An unknown name raises :class:`~ntinspect.errors.TypeNotFound`; an index is taken
as given (a snapshot may hold indices no listed type has, such as Wine's ``#0``).

Everything here is pure (the live process list and type names are arguments), so it runs,
and is tested, on any OS.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, Union

from .errors import InvalidSelector, ProcessNotFound, TypeNotFound

__all__ = ["is_decimal", "Selection", "process_selectors", "select_processes", "type_selectors", "type_indices", "PidSelector", "TypeSelector"]

Selector = Union[int, str]
PidSelector = Union[None, int, str, Any]  # one selector or an iterable of them
TypeSelector = Union[None, int, str, Any]
EXE = ".exe"
# The largest pid or type index taken: the tables filter through int64 arrays (np.isin), and
# no Windows pid (a ULONG_PTR the OS keeps far lower) or type index (a USHORT) comes near it.
MAX_INDEX = 2 ** 63 - 1


def is_decimal(text: str) -> bool:
    """Whether ``text`` is a plain decimal number ``int()`` reads ("12"; not "²" or "١٢")."""
    return text.isascii() and text.isdigit()


def _items(value: Any, what: str) -> List[Any]:
    """``value`` as a list of selectors: one, or the members of a collection."""
    if isinstance(value, (str, numbers.Integral)) or not hasattr(value, "__iter__"):
        return [value]
    if isinstance(value, (bytes, bytearray, memoryview, dict)):
        raise InvalidSelector(value, f"{what} takes {_WHAT[what]}, or a collection of them, not {value!r}")
    try:
        return list(value)
    except TypeError:
        raise InvalidSelector(value, f"{what} takes {_WHAT[what]}, or a collection of them, not {value!r}") from None


_WHAT = {"pid": "a process id (int >= 0) or an image name", "type": "an object type name or index"}


def _one(item: Any, what: str) -> Selector:
    """One selector checked: a non-negative int (numpy ints and decimal strings included) or
    a non-empty name."""
    if isinstance(item, bool) or not isinstance(item, (numbers.Integral, str)):
        raise InvalidSelector(item, f"{what} takes {_WHAT[what]}, not {item!r}")
    if isinstance(item, str):
        text = item.strip()
        if not text:
            raise InvalidSelector(item, f"{what} takes {_WHAT[what]}, not an empty string")
        if text.startswith("-") and is_decimal(text[1:]):
            raise InvalidSelector(item, f"{what} must not be negative: {item}")
        if not is_decimal(text):
            return text
        item = int(text)
    if int(item) < 0:
        raise InvalidSelector(item, f"{what} must not be negative: {int(item)}")
    if int(item) > MAX_INDEX:
        raise InvalidSelector(item, f"{what} out of range: {int(item)} (at most 2**63 - 1)")
    return int(item)


def process_selectors(pid: PidSelector) -> Optional[List[Selector]]:
    """``pid`` checked and flattened (ints and names, each once, in the order given), or
    None for no filter. No OS call: bad input fails before any work."""
    if pid is None:
        return None
    return list(dict.fromkeys(_one(item, "pid") for item in _items(pid, "pid")))


@dataclass(frozen=True)
class Selection:
    """What a process selector selected: ``pids`` (sorted, each once), and per selector the
    pids it matched (``matches``); ``partial`` lists the names that matched by substring."""

    pids: Tuple[int, ...]
    matches: Dict[Selector, Tuple[int, ...]] = field(default_factory=dict)
    partial: Tuple[str, ...] = ()

    def describe(self, names: Mapping[int, str]) -> str:
        """One line naming the selected processes, ``python.exe (12, 40); cmd.exe (7)``."""
        by_name: Dict[str, List[int]] = {}
        for pid in self.pids:
            by_name.setdefault(names.get(pid, "?"), []).append(pid)
        return "; ".join(f"{name} ({', '.join(map(str, pids))})" for name, pids in by_name.items())


def _base(name: str) -> str:
    folded = name.casefold()
    return folded[:-len(EXE)] if folded.endswith(EXE) else folded


def select_processes(pid: PidSelector, names: Mapping[int, str], *, partial: bool = False,
                     check_ids: bool = True) -> Optional[Selection]:
    """The processes ``pid`` selects among ``names`` (``{pid: image name}``, the live list),
    or None for no filter. ``check_ids=False`` takes pids as given (filtering a snapshot,
    where a pid that has since exited still names rows).

    Raises :class:`~ntinspect.errors.InvalidSelector` for a value that is no selector, and
    :class:`~ntinspect.errors.ProcessNotFound` naming every selector that matched no running process (an
    empty collection selects nothing, without error).
    """
    selectors = process_selectors(pid)
    if selectors is None:
        return None
    by_base: Dict[str, List[int]] = {}
    for one, name in names.items():
        by_base.setdefault(_base(name), []).append(int(one))
    matches: Dict[Selector, Tuple[int, ...]] = {}
    substring: List[str] = []
    missing: List[Selector] = []
    for selector in selectors:
        if isinstance(selector, int):
            found = (selector,) if selector in names or not check_ids else ()
        else:
            found = tuple(by_base.get(_base(selector), ()))
            if not found and partial:
                needle = selector.casefold()
                found = tuple(int(p) for p, n in names.items() if needle in n.casefold())
                if found:
                    substring.append(selector)
        if found:
            matches[selector] = tuple(sorted(set(found)))
        else:
            missing.append(selector)
    if missing:
        raise ProcessNotFound(missing)
    pids = tuple(sorted({p for found in matches.values() for p in found}))
    return Selection(pids, matches, tuple(substring))


def type_selectors(type: TypeSelector) -> Optional[List[Selector]]:
    """``type`` checked and flattened (indices and names), or None for no filter. No OS call:
    names are checked against the live types by :func:`type_indices`."""
    if type is None:
        return None
    return list(dict.fromkeys(_type_one(item) for item in _items(type, "type")))


def _type_one(item: Any) -> Selector:
    if isinstance(item, str) and item.startswith("#") and is_decimal(item[1:]):
        item = item[1:]
    return _one(item, "type")


def type_indices(type: TypeSelector, type_names: Mapping[int, str]) -> Optional[Set[int]]:
    """The table indices ``type`` selects (``type_names`` is ``{index: name}``), or None for
    no filter. Raises :class:`~ntinspect.errors.TypeNotFound` for names no type has, :class:`~ntinspect.errors.InvalidSelector`
    for values that are no selector."""
    if type is None:
        return None
    by_name: Dict[str, int] = {name.casefold(): int(index) for index, name in type_names.items()}
    wanted: Set[int] = set()
    unknown: List[str] = []
    for selector in type_selectors(type):
        if isinstance(selector, int):
            wanted.add(selector)
        elif selector.casefold() in by_name:
            wanted.add(by_name[selector.casefold()])
        else:
            unknown.append(selector)
    if unknown:
        raise TypeNotFound(unknown, sorted(type_names.values()))
    return wanted
