"""``ntinspect.diff(a, b)``: the handles, processes and ports that appeared, vanished or
changed between two sources (live, a minidump, a snapshot) or two states read earlier.

Records are matched by an identity that survives what changes and does not survive reuse:

- a process is ``(pid, create_time)``: a pid Windows handed to a new process after the
  old one exited is a new process (one vanished, one appeared), not a change;
- a handle is ``(its process's identity, handle value)``: a value reused by a new
  process is a new handle;
- a port is ``(proto, local address, local port, remote address, remote port)``.

Where one side does not know a process's creation time (a minidump records none; a
process that started between the process list and the handle table), records whose
other parts match are paired on those parts alone. Records with the same identity on
one side (two UDP sockets sharing an address) are paired with their equals first.

What counts as a change (each field old -> new), per kind (:data:`COMPARED`):

- handles: ``type``, ``access``, ``attributes``; ``object`` where both sides show an
  address (0 where the OS hides them); ``name`` where both sides read one (status ``ok``);
- processes: ``name``, ``ppid``, ``session_id``; ``user``, ``image_path`` and
  ``command_line`` where both sides read them (counts of handles and threads move all the
  time and are not compared);
- ports: ``state``, ``pid``, ``process``, ``owners``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .sources.state import SourceIdentity, SourceState, check_kinds, read_state

__all__ = ["Change", "KindDiff", "Diff", "diff", "COMPARED", "identity_key"]

Fields = Mapping[str, Tuple[Any, Any]]

COMPARED: Mapping[str, Tuple[str, ...]] = {
    "handles": ("type", "access", "attributes", "object", "name"),
    "processes": ("name", "ppid", "session_id", "user", "image_path", "command_line"),
    "ports": ("state", "pid", "process", "owners"),
}
"""The fields compared per kind (each under the condition in the module docstring)."""

STATUS_OF = {"name": "name_status", "user": "user_status", "image_path": "image_path_status",
             "command_line": "command_line_status"}
"""A field compared only where both records' status field says ``ok``."""
ADDRESSES = ("object",)
"""Fields compared only where both sides are non-zero (0: the OS hides kernel addresses)."""


@dataclass(frozen=True)
class Change:
    """One record in both sources with different ``fields`` (``{field: (old, new)}``):
    ``old`` is the record in A, ``new`` in B."""

    old: Any
    new: Any
    fields: Fields


@dataclass(frozen=True)
class KindDiff:
    """One kind's differences: ``appeared`` (records in B only), ``vanished`` (in A only),
    ``changed`` (:class:`Change`), ``unchanged`` (how many matched with no change). Where
    a source does not hold the kind, nothing was compared and ``missing`` says which
    source and what it holds (the empty tuples then mean nothing)."""

    kind: str
    appeared: Tuple[Any, ...] = ()
    vanished: Tuple[Any, ...] = ()
    changed: Tuple[Change, ...] = ()
    unchanged: int = 0
    missing: Optional[str] = None

    @property
    def compared(self) -> bool:
        """Both sources hold this kind, so the lists are the answer."""
        return self.missing is None

    def __len__(self) -> int:
        """How many records differ."""
        return len(self.appeared) + len(self.vanished) + len(self.changed)


@dataclass(frozen=True)
class Diff:
    """What differs from source ``a`` to source ``b`` (their
    :class:`~ntinspect.sources.state.SourceIdentity`), per
    kind: ``diff["ports"]`` or ``diff.ports`` is a :class:`KindDiff`; only the kinds asked
    for are present."""

    a: SourceIdentity
    b: SourceIdentity
    kinds: Mapping[str, KindDiff] = field(default_factory=dict)

    def __getitem__(self, kind: str) -> KindDiff:
        if kind not in self.kinds:
            raise KeyError(f"{kind!r} was not compared; this diff has {', '.join(self.kinds) or 'no kinds'}")
        return self.kinds[kind]

    @property
    def handles(self) -> KindDiff:
        return self["handles"]

    @property
    def processes(self) -> KindDiff:
        return self["processes"]

    @property
    def ports(self) -> KindDiff:
        return self["ports"]

    @property
    def complete(self) -> bool:
        """Every kind asked for was compared (both sources hold it)."""
        return all(k.compared for k in self.kinds.values())


# --- identities -----------------------------------------------------------------------

UNKNOWN = None
"""A creation time a source does not know: such records pair on the rest of their identity."""


def identity_key(kind: str, record: Any, create_times: Mapping[int, Optional[datetime]]) -> Tuple:
    """The identity of ``record`` of ``kind`` (see the module docstring); a handle's process
    creation time comes from ``create_times`` (``{pid: datetime or None}``)."""
    if kind == "processes":
        return (record.pid, record.create_time)
    if kind == "handles":
        return (record.pid, create_times.get(record.pid), record.value)
    return (record.proto, record.local_addr, record.local_port, record.remote_addr, record.remote_port)


TIMED = ("processes", "handles")
"""The kinds whose identity holds a process creation time (its second part)."""


def _loose(key: Tuple) -> Tuple:
    """A TIMED kind's ``key`` without its creation time."""
    return key[:1] + key[2:]


def changed_fields(kind: str, old: Any, new: Any) -> Dict[str, Tuple[Any, Any]]:
    """``{field: (old, new)}`` for the :data:`COMPARED` fields of ``kind`` that differ."""
    found = {}
    for name in COMPARED[kind]:
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        status = STATUS_OF.get(name)
        if status and (getattr(old, status, "ok") != "ok" or getattr(new, status, "ok") != "ok"):
            continue
        if name in ADDRESSES and not (before and after):
            continue
        found[name] = (before, after)
    return found


def _pair(kind: str, olds: List[Any], news: List[Any]) -> Tuple[List[Any], List[Any], List[Change], int]:
    """Records of one identity on each side paired: equal ones first, then in order.
    Returns (unpaired old, unpaired new, changes, unchanged count)."""
    changes: List[Change] = []
    unchanged = 0
    rest = []
    news = list(news)
    for old in olds:
        same = next((i for i, new in enumerate(news) if not changed_fields(kind, old, new)), None)
        if same is None:
            rest.append(old)
        else:
            news.pop(same)
            unchanged += 1
    paired = min(len(rest), len(news))
    for old, new in zip(rest[:paired], news[:paired]):
        changes.append(Change(old, new, changed_fields(kind, old, new)))
    return rest[paired:], news[paired:], changes, unchanged


def _group(kind: str, state: SourceState) -> Dict[Tuple, List[Any]]:
    groups: Dict[Tuple, List[Any]] = {}
    for record in state.records[kind]:
        groups.setdefault(identity_key(kind, record, state.create_times), []).append(record)
    return groups


def compare_kind(kind: str, a: SourceState, b: SourceState) -> KindDiff:
    """One kind's :class:`KindDiff` between two states (``missing`` where either does not hold it)."""
    why = [f"{side} ({state.identity.label}): {state.missing.get(kind, 'not read')}"
           for side, state in (("A", a), ("B", b)) if not state.holds(kind)]
    if why:
        return KindDiff(kind, missing="; ".join(why))
    old_groups, new_groups = _group(kind, a), _group(kind, b)
    vanished: List[Tuple[Tuple, Any]] = []
    appeared: List[Tuple[Tuple, Any]] = []
    changes: List[Change] = []
    unchanged = 0
    for key in old_groups.keys() | new_groups.keys():
        gone, new, found, same = _pair(kind, old_groups.get(key, []), new_groups.get(key, []))
        vanished += [(key, r) for r in gone]
        appeared += [(key, r) for r in new]
        changes += found
        unchanged += same
    if kind in TIMED:  # second pass: creation times one side does not know
        vanished, appeared, found, same = _pair_loose(kind, vanished, appeared)
        changes += found
        unchanged += same
    order = _order(kind)
    return KindDiff(kind, tuple(sorted((r for _, r in appeared), key=order)),
                    tuple(sorted((r for _, r in vanished), key=order)),
                    tuple(sorted(changes, key=lambda c: order(c.new))), unchanged)


def _pair_loose(kind: str, vanished: List[Tuple[Tuple, Any]], appeared: List[Tuple[Tuple, Any]]):
    """Leftovers paired on their identity without the creation time, where one side does not know it."""
    by_loose: Dict[Tuple, List[Tuple[Tuple, Any]]] = {}
    for key, record in appeared:
        by_loose.setdefault(_loose(key), []).append((key, record))
    still_vanished, changes, unchanged = [], [], 0
    for key, old in vanished:
        candidates = by_loose.get(_loose(key), [])
        match = next((i for i, (other, _) in enumerate(candidates)
                      if key[1] is UNKNOWN or other[1] is UNKNOWN), None)
        if match is None:
            still_vanished.append((key, old))
            continue
        _, new = candidates.pop(match)
        fields = changed_fields(kind, old, new)
        if fields:
            changes.append(Change(old, new, fields))
        else:
            unchanged += 1
    return still_vanished, [item for items in by_loose.values() for item in items], changes, unchanged


def _order(kind: str) -> Callable[[Any], Tuple]:
    """Output order: handles and processes by pid then value, ports by local then remote end."""
    if kind == "ports":
        return lambda p: (p.proto, p.local_addr, p.local_port, p.remote_addr or "", p.remote_port or 0,
                          p.pid if p.pid is not None else -1)
    if kind == "handles":
        return lambda h: (h.pid, h.value)
    return lambda p: (p.pid, p.create_time.timestamp() if p.create_time else 0.0)


def _state(side: Any, kinds: Sequence[str], names: bool) -> SourceState:
    return side if isinstance(side, SourceState) else read_state(side, kinds, names=names)


def diff(a: Any, b: Any, kinds: Optional[Iterable[str]] = None, names: bool = False) -> Diff:
    """What appeared, vanished or changed from ``a`` to ``b``, per kind.

    ``a`` and ``b``: ``"live"``, a path (a capture or a minidump), a source object, or a
    :class:`~ntinspect.sources.state.SourceState` read earlier (:func:`~ntinspect.sources.state.read_state`: two states of the live
    system a moment apart). ``kinds``: any of ``handles``, ``processes``, ``ports``
    (default all). ``names``: resolve the live system's handle names so that they are
    compared (recorded sources give theirs always).

    A kind that either source does not hold is not an error: its :class:`KindDiff` has
    ``missing`` saying which source and what it holds. Raises ValueError for an unknown
    kind, and what opening or reading a source raises (SourceFormatError, MinidumpError,
    OSError, an OS call's error on the live system).
    """
    wanted = check_kinds(kinds)
    first = _state(a, wanted, names)
    second = _state(b, wanted, names)
    return Diff(first.identity, second.identity, {kind: compare_kind(kind, first, second) for kind in wanted})

