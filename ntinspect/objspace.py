r"""The object manager namespace: list it, follow its symbolic links, turn NT paths into DOS
paths and back.

    >>> namespace(r"\Sessions\1\BaseNamedObjects")[0]        # doctest: +SKIP
    <NamespaceEntry SymbolicLink \Sessions\1\BaseNamedObjects\Global -> \BaseNamedObjects>
    >>> print(resolve(r"\??\C:\Users"))                       # doctest: +SKIP
    \Device\HarddiskVolume3\Users
    >>> print(dos_path(r"\Device\HarddiskVolume3\Users\x.txt"))  # doctest: +SKIP
    C:\Users\x.txt

Entry statuses are the strings of :class:`EntryStatus`. These functions read the current
source (the live system, Windows or Wine, unless a capture was chosen: ``ntinspect.open()``);
:class:`DriveMap` converts with a drive map of your own, on any OS.
"""
from __future__ import annotations

from typing import Optional

from .backends import namespace as _backend
from .backends.namespace import DEFAULT_MAX_DEPTH, DriveMap
from .errors import InvalidPath, SymbolicLinkLoop
from .models import EntryStatus, NamespaceEntry
from .sources.current import current, routed
from .recordlist import RecordList

__all__ = [
    "namespace",
    "resolve",
    "dos_path",
    "nt_path",
    "refresh_dos_devices",
    "NamespaceEntry",
    "EntryStatus",
    "DriveMap",
    "InvalidPath",
    "SymbolicLinkLoop",
]


@routed
def namespace(path: str = "\\", recursive: bool = False, *, max_depth: int = DEFAULT_MAX_DEPTH,
              follow: bool = False) -> RecordList:
    """The objects in the directory ``path`` (and below it with ``recursive``), by name.

    Raises if ``path`` itself cannot be listed; entries below it that cannot be opened carry
    a status instead (``access_denied``, ``gone``, ...). Links are listed with their target,
    not followed; ``max_depth`` bounds the recursion. When ``path`` is itself a symbolic
    link (``\\??\\C:``) or another object that is not a directory, the result is that one
    entry (a link with its target); with ``follow=True`` the links in ``path`` are
    followed first (:func:`resolve`) and what they lead to is listed.

    Returns a :class:`~ntinspect.recordlist.RecordList` of :class:`NamespaceEntry` (a list,
    with ``filter()``, ``to_pandas()`` and a table display in IPython and Jupyter).
    """
    source = current().namespace_source()
    if follow:
        path = _backend.resolve(source, path)
    return RecordList(_backend.walk(source, path, recursive=recursive, max_depth=max_depth), NamespaceEntry)


@routed
def resolve(path: str) -> str:
    """``path`` with its symbolic links followed (``\\??\\C:\\x`` -> ``\\Device\\HarddiskVolume1\\x``).

    Raises :class:`SymbolicLinkLoop` for links that do not end, NtStatusError for names that
    do not exist.
    """
    return _backend.resolve(current().namespace_source(), path)


@routed
def dos_path(nt_path: str) -> Optional[str]:
    """The DOS path for an NT path (``C:\\x``, ``\\\\server\\share\\x``), or None if no drive maps it.

    Uses the drive map read on first use; :func:`refresh_dos_devices` reads it again.
    """
    return current().drive_map().dos_path(nt_path)


@routed
def nt_path(dos_path: str) -> Optional[str]:
    """The NT path for an absolute DOS path, or None for a drive that does not exist."""
    return current().drive_map().nt_path(dos_path)


@routed
def refresh_dos_devices() -> DriveMap:
    """Read the drive links of ``\\GLOBAL??`` and ``\\??`` again; return the new map."""
    return current().drive_map(refresh=True)
