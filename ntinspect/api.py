"""The flat public functions, answered from the current source (:mod:`ntinspect.sources.current`):
the live Windows API (natively or under Wine) unless a recorded source was chosen."""
from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, List, Mapping, Optional

from .progress import ProgressCallback
from .selection import PidSelector, TypeSelector, process_selectors, select_processes, type_selectors

from .privilege import debug_privilege as _debug_privilege_scope, enable_debug_privilege
from .sources.current import current as _current, routed

if TYPE_CHECKING:
    from .models import HandleTable
    from .recordlist import RecordList

__all__ = ["processes", "object_types", "handles", "enable_debug_privilege"]

PER_PROCESS_LIMIT = 16
"""Up to this many pids, ``handles(pid=...)`` tries the per-process query (class 51) first."""

def _live():
    from .backends import live

    return live


@routed
def processes(details: bool = True, pid: Any = None) -> "RecordList":
    """Every process (or those ``pid`` selects, as :func:`handles` takes it: pids, numpy
    integers, image names, or a collection of them; an unknown one raises
    ProcessNotFound): pid, ppid, image name, session, thread count, creation time (UTC),
    ``handle_count`` (its rows in the handle table, so it matches :func:`handles`) and
    ``os_handle_count`` (the count the process list reports; a power of two under Wine).

    With ``details`` (the default) also the owning user (SID and ``DOMAIN\\user``), the image
    path (NT and DOS forms), the command line and WoW64, each with a ``*_status``
    (:class:`~ntinspect.models.ProcessStatus`: ``access_denied`` for a process that refuses
    to be opened, ``gone``, ``unsupported``, ``timeout``, ``error:<NAME>``): a process that
    cannot be read never makes the call fail. ``details=False`` skips the per-process
    queries (their fields are ``not_requested``): one process list and one handle table.
    From a source that did not record them (a capture taken with ``details=False``, a
    minidump) the detail fields are ``not_recorded``; the creation time of a capture's
    processes is there. Account names are looked up on a bounded worker (at most ``LOOKUP_TIMEOUT`` seconds a
    SID, ``timeout`` past it) and cached.

    Returns a :class:`~ntinspect.recordlist.RecordList` of
    :class:`~ntinspect.models.Process` (a list, with ``filter()``, ``to_pandas()`` and a
    table display in IPython and Jupyter).
    """
    from .models import Process
    from .recordlist import RecordList

    pids = _pid_list(pid)
    return RecordList(_live().processes(details, _current(), None if pids is None else set(pids)), Process)


@routed
def object_types() -> "RecordList":
    """Every object type, with the index the handle table reports for it (calibrated), by
    index: a :class:`~ntinspect.recordlist.RecordList` of :class:`~ntinspect.models.ObjectType`."""
    from .models import ObjectType
    from .recordlist import RecordList

    return RecordList(_live().object_types(_current()), ObjectType)


def check_name_timeout(name_timeout: Any) -> None:
    """``name_timeout`` must be seconds (a real number, numpy's included; not a bool), more
    than 0 and at most 3600 (else ValueError)."""
    if isinstance(name_timeout, bool) or not isinstance(name_timeout, numbers.Real) \
            or not 0 < name_timeout <= 3600:
        raise ValueError(f"name_timeout is seconds, more than 0 and at most 3600, not {name_timeout!r}")


def _pid_list(pid: Any, names: Optional[Mapping[int, str]] = None) -> Optional[List[int]]:
    """The pids ``pid`` selects (see :mod:`ntinspect.selection`), or None for every process;
    ``names`` is the source's ``{pid: image name}`` (read here when not given)."""
    if process_selectors(pid) is None:  # checked before any OS call
        return None
    return list(select_processes(pid, _live().process_names(_current()) if names is None else names).pids)


def _per_process_columns(live, pids: Optional[List[int]], source: Any = None,
                         created: Optional[Mapping[int, int]] = None):
    """Columns from the per-process query (class 51) for a few pids, or None where the
    system-wide table is the way (no pids, many pids, the OS refuses the class, or a pid
    now belongs to a process created after ``created`` recorded it)."""
    if not pids or len(pids) > PER_PROCESS_LIMIT:
        return None  # no pids: the system-wide table, filtered to nothing
    import numpy as np

    parts = []
    for one in pids:
        part = live.process_handle_columns(one, source, None if created is None else created.get(one, 0))
        if part is None:
            return None
        parts.append(part)
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


@routed
def handles(
    pid: PidSelector = None,
    type: TypeSelector = None,
    names: bool = False,
    name_timeout: float = 1.0,
    debug_privilege: bool = False,
    users: bool = False,
    progress: Optional[ProgressCallback] = None,
) -> "HandleTable":
    """Every handle in the system, or of ``pid``, of ``type``.

    ``pid``: pids (int, numpy integer), image names (case-insensitive, with or without
    ``.exe``), or a collection of them; ``type``: type names (case-insensitive) or indices
    (``17``, ``"#17"``), one or many (:mod:`ntinspect.selection`). A pid or image name no
    running process has raises :class:`~ntinspect.errors.ProcessNotFound`, a type name no
    type has :class:`~ntinspect.errors.TypeNotFound` (both LookupErrors), a value that is no
    selector :class:`~ntinspect.errors.InvalidSelector`.

    With ``names=True`` each handle gets a name and a ``name_status`` (ok, timeout,
    access_denied, gone, skipped, unsupported); a File name query that does not answer
    within ``name_timeout`` seconds is abandoned (status timeout), so a hung pipe costs the
    caller at most ``name_timeout``. ``progress(done, total)`` is called as names are
    resolved (from the calling thread and the bounded worker; never concurrently).

    With ``users=True`` each handle also gets its owner process's user (``DOMAIN\\user``, as
    handle.exe ``-u`` shows it) and a ``user_status`` (a
    :class:`~ntinspect.models.ProcessStatus` value), read once per process
    (``not_recorded`` from a capture taken with ``details=False``).

    ``debug_privilege=True`` enables SeDebugPrivilege for this call only: its previous state
    is restored before the call returns (:func:`ntinspect.debug_privilege`).
    """
    check_name_timeout(name_timeout)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress takes a callable(done, total), not {progress!r}")
    process_selectors(pid)  # bad selectors fail before any OS call
    type_selectors(type)
    if debug_privilege and not getattr(_current(), "recorded", False):  # a recording keeps the capture's
        with _debug_privilege_scope():
            return handles(pid, type, names, name_timeout, debug_privilege=False, users=users,
                           progress=progress)
    import numpy as np

    live = _live()
    source = _current()
    process_names, created = live.process_list(source)  # read before the table: see create_times_for
    if not live.opens_processes(source):
        created = None  # a recorded source opens nothing: no creation time to check
    pids = _pid_list(pid, process_names)
    columns = _per_process_columns(live, pids, source, created)
    system_wide = columns is None
    if system_wide:
        columns = live.system_handle_columns(source)
    types = source.types.resolve(columns)  # calibrated on the unfiltered snapshot
    if system_wide and pids is not None:
        keep = np.isin(columns["pid"], np.asarray(pids, dtype=np.uint64))
        columns = {key: value[keep] for key, value in columns.items()}
    from .layouts.enums import access_names
    from .models import HandleTable

    table = HandleTable(columns, {i: t.name for i, t in types.items()}, process_names,
                        access_namer=access_names, dos_namer=lambda path: source.drive_map().dos_path(path),
                        identifier=source.object_keys,
                        create_times=None if created is None else
                        live.create_times_for(live.distinct_pids(columns["pid"]), created, source))
    if type is not None:
        table = table.filter(type=type)
    if users:
        found = source.process_details(live.distinct_pids(table.columns["pid"]), everything=False,
                                       created=table.create_times)
        table.process_users = {pid: record["user"] for pid, record in found.items()}
    if names:
        table.names, table.name_status = source.handle_names(table, name_timeout, progress)
    return table

