"""The exception tree. Every error ntinspect raises derives from :class:`NtInspectError`.

Status codes become exceptions in one place, :func:`error_from_status` (NTSTATUS) and
:func:`error_from_win32` (Win32 error codes), so names and subclasses stay consistent.
All exceptions pickle (their constructor arguments are kept in ``args``).
"""
from __future__ import annotations

import errno
from typing import Optional, Sequence

__all__ = [
    "NtInspectError",
    "OsCallError",
    "NtStatusError",
    "Win32Error",
    "AccessDenied",
    "Win32AccessDenied",
    "UnsupportedPlatform",
    "LayoutError",
    "InvalidAddress",
    "PageNotPresent",
    "NonCanonicalAddress",
    "AddressNotInImage",
    "MemoryImageError",
    "InvalidPath",
    "SymbolicLinkLoop",
    "SourceUnsupported",
    "SourceFormatError",
    "MinidumpError",
    "SnapshotError",
    "ExportError",
    "ProcessNotFound",
    "ProcessReused",
    "TypeNotFound",
    "InvalidSelector",
    "status_name",
    "win32_name",
    "error_from_status",
    "error_from_win32",
    "STATUS_ACCESS_DENIED",
    "ERROR_ACCESS_DENIED",
]

STATUS_ACCESS_DENIED = 0xC0000022
ERROR_ACCESS_DENIED = 5


def _lookup(table_name: str, code: int, prefix: str) -> tuple:
    from . import _status_table

    entry = getattr(_status_table, table_name).get(code)
    if entry is None:
        return (f"{prefix}0x{code:08X}", "Unknown status")
    return entry


def status_name(code: int) -> str:
    """Symbolic name of an NTSTATUS (``0xC0000022`` -> ``STATUS_ACCESS_DENIED``)."""
    return _lookup("NTSTATUS", code & 0xFFFFFFFF, "NTSTATUS_")[0]


def win32_name(code: int) -> str:
    """Symbolic name of a Win32 error code (``122`` -> ``ERROR_INSUFFICIENT_BUFFER``)."""
    return _lookup("WIN32_ERRORS", code & 0xFFFFFFFF, "WIN32_ERROR_")[0]


class NtInspectError(Exception):
    """Root of every error ntinspect raises."""


class OsCallError(NtInspectError):
    """A Windows call failed: ``code``, its symbolic ``name``, ``message`` and ``operation``."""

    _table = "NTSTATUS"
    _prefix = "NTSTATUS_"

    def __init__(self, code: int, operation: str = "") -> None:
        code &= 0xFFFFFFFF
        self.code = code
        self.operation = operation
        self.name, self.message = _lookup(self._table, code, self._prefix)
        super().__init__(code, operation)

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        return f"{where}{self.name} (0x{self.code:08X}): {self.message}"


class NtStatusError(OsCallError):
    """A native call returned a failing NTSTATUS."""


class Win32Error(OsCallError):
    """A Win32 call returned (or left in GetLastError) a failing error code."""

    _table = "WIN32_ERRORS"
    _prefix = "WIN32_ERROR_"

    def __str__(self) -> str:
        where = f"{self.operation}: " if self.operation else ""
        return f"{where}{self.name} ({self.code}): {self.message}"


class AccessDenied(NtStatusError, PermissionError):
    """The caller lacks the rights for the object (STATUS_ACCESS_DENIED). Also a
    PermissionError with ``errno`` EACCES, ``strerror`` the message and ``winerror`` 5."""

    def __init__(self, code: int = STATUS_ACCESS_DENIED, operation: str = "") -> None:
        super().__init__(code, operation)
        self.errno, self.strerror, self.winerror = errno.EACCES, str(self), ERROR_ACCESS_DENIED


class Win32AccessDenied(Win32Error, AccessDenied):
    """ERROR_ACCESS_DENIED from a Win32 call: its code and name stay the Win32 ones, and
    ``except AccessDenied`` (or PermissionError) catches it with the native kind."""

    def __init__(self, code: int = ERROR_ACCESS_DENIED, operation: str = "") -> None:
        super().__init__(code, operation)


class UnsupportedPlatform(NtInspectError):
    """A live Windows call was made where no Windows API is available."""

    def __init__(self, what: str = "this call", platform: Optional[str] = None) -> None:
        import sys

        self.what = what
        self.platform = platform or sys.platform
        super().__init__(what, self.platform)

    def __str__(self) -> str:
        return (
            f"{self.what} needs the Windows API, which platform {self.platform!r} does not have: run it "
            "on Windows, or on Linux inside the Wine bench (in a source checkout: `tools/bench demo`, "
            "`tools/bench test`). The layouts and parsing of recorded buffers work on any OS."
        )


class LayoutError(NtInspectError):
    """A buffer does not hold the structure it should: ``structure``, ``offset``, ``reason``."""

    def __init__(self, structure: str, offset: int, reason: str) -> None:
        self.structure = structure
        self.offset = offset
        self.reason = reason
        super().__init__(structure, offset, reason)

    def __str__(self) -> str:
        return f"{self.structure} at offset {self.offset:#x}: {self.reason}"


class InvalidAddress(NtInspectError):
    """A virtual address does not translate: the ``address``, the paging ``level`` and ``entry``."""

    def __init__(self, address: int, level: str, entry: Optional[int], reason: str) -> None:
        self.address = address
        self.level = level
        self.entry = entry
        self.reason = reason
        super().__init__(address, level, entry, reason)

    def __str__(self) -> str:
        entry = "" if self.entry is None else f" (entry {self.entry:#x})"
        return f"address {self.address:#x}: {self.reason} at {self.level}{entry}"


class PageNotPresent(InvalidAddress):
    """The walk met an entry whose Present bit is clear: ``level`` (``PTE``, ``PDE``...),
    ``entry`` (its raw value), ``entry_address`` (its physical address) and, where the value
    is one of Windows' software formats, ``software`` (a ``ntinspect.memory`` record:
    transition, prototype, page file or demand zero; ``None`` for an empty entry)."""

    def __init__(self, address: int, level: str, entry: Optional[int], entry_address: Optional[int] = None,
                 software: object = None) -> None:
        kind = f" ({software.kind} PTE)" if software is not None else ""
        super().__init__(address, level, entry, f"page not present{kind}")
        self.entry_address = entry_address
        self.software = software
        self.args = (address, level, entry, entry_address, software)

    def __str__(self) -> str:
        where = "" if self.entry_address is None else f" at physical {self.entry_address:#x}"
        entry = "" if self.entry is None else f" (entry {self.entry:#x}{where})"
        return f"address {self.address:#x}: {self.reason} at {self.level}{entry}"


class NonCanonicalAddress(InvalidAddress):
    """An address outside the mode's ``bits``-bit virtual space: not sign-extended from bit
    ``bits - 1`` (x64: 48, LA57: 57), or beyond 4 GiB in a 32-bit mode (Intel SDM vol. 1, 3.3.7.1)."""

    def __init__(self, address: int, bits: int) -> None:
        super().__init__(address, "virtual", None, f"not a canonical {bits}-bit address")
        self.bits = bits
        self.args = (address, bits)

    def __str__(self) -> str:
        return f"address {self.address:#x}: {self.reason}"


class AddressNotInImage(InvalidAddress):
    """The page tables (or the caller) name a ``physical`` address the image holds no bytes
    for: not the same as "not mapped". ``level`` is ``physical`` for the bytes of a page, or
    the level whose table the walk could not read (``PTE`` table at ``physical``...)."""

    def __init__(self, address: int, physical: int, level: str = "physical", entry: Optional[int] = None) -> None:
        what = "bytes" if level == "physical" else f"{level} table"
        super().__init__(address, level, entry, f"{what} at physical {physical:#x} not in the image")
        self.physical = physical
        self.args = (address, physical, level, entry)

    def __str__(self) -> str:
        entry = "" if self.entry is None else f" (entry {self.entry:#x})"
        return f"address {self.address:#x}: {self.reason}{entry}"


class MemoryImageError(NtInspectError, ValueError):
    """A memory image that cannot be read as its format says: ``path``, ``offset`` in the
    file (``None`` when the fault is not at one place) and ``reason``. Also a ValueError."""

    def __init__(self, path: object, offset: Optional[int], reason: str) -> None:
        self.path = path
        self.offset = offset
        self.reason = reason
        super().__init__(path, offset, reason)

    def __str__(self) -> str:
        where = "" if self.offset is None else f" at offset {self.offset:#x}"
        return f"{self.path}{where}: {self.reason}"


class InvalidPath(NtInspectError, ValueError):
    """A path that is not what the call takes (``reason`` says why); also a ValueError."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(path, reason)

    def __str__(self) -> str:
        return f"{self.path!r}: {self.reason}"


class SymbolicLinkLoop(NtInspectError):
    """Symbolic links that do not end: ``path`` and the ``chain`` of paths they led to."""

    def __init__(self, path: str, chain: Sequence[str]) -> None:
        self.path = path
        self.chain = tuple(chain)
        super().__init__(path, self.chain)

    def __str__(self) -> str:
        return f"{self.path!r}: symbolic links that do not end: " + " -> ".join(self.chain)


class SourceUnsupported(NtInspectError):
    """A recorded source cannot answer this function: ``function``, the source ``kind``
    and ``path``, and what the source ``holds``."""

    def __init__(self, function: str, kind: str, path: str, holds: str) -> None:
        self.function = function
        self.kind = kind
        self.path = path
        self.holds = holds
        super().__init__(function, kind, path, holds)

    def __str__(self) -> str:
        call = self.function if self.function.endswith(")") else f"{self.function}()"  # handles(names=True)
        return (f"{call} cannot be answered from the {self.kind} {self.path!r}: "
                f"it holds {self.holds}")


class SourceFormatError(NtInspectError):
    """A file is not a source ntinspect reads (``path``, ``reason``: what it looks like)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(path, reason)

    def __str__(self) -> str:
        return f"{self.path!r}: {self.reason}"


class MinidumpError(NtInspectError):
    """A minidump that is not what it should be: ``path``, the ``stream`` (or ``header``,
    ``directory``), the file ``offset`` and the ``reason``."""

    def __init__(self, path: str, stream: str, offset: int, reason: str) -> None:
        self.path = path
        self.stream = stream
        self.offset = offset
        self.reason = reason
        super().__init__(path, stream, offset, reason)

    def __str__(self) -> str:
        return f"minidump {self.path!r}, {self.stream} at offset {self.offset:#x}: {self.reason}"


class SnapshotError(NtInspectError):
    """A snapshot file that cannot be read: ``path``, the ``part`` (a member name, or
    ``container``/``manifest``) and the ``problem``."""

    def __init__(self, path: str, part: str, problem: str) -> None:
        self.path = path
        self.part = part
        self.problem = problem
        super().__init__(path, part, problem)

    def __str__(self) -> str:
        return f"snapshot {self.path!r}, part {self.part!r}: {self.problem}"
class ExportError(NtInspectError):
    """Tables could not be exported: ``path`` (the file or folder concerned) and ``reason``
    (a missing pyarrow, a file in the way that ntinspect did not write, a folder that
    cannot be written)."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(path, reason)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class InvalidSelector(NtInspectError, TypeError, ValueError):
    """A process or type selector that is not one (``True``, ``1.5``, ``-5``, ``b"x"``, ``""``):
    ``selector`` and ``reason``. Also a TypeError and a ValueError, so either ``except`` works."""

    def __init__(self, selector: object, reason: str) -> None:
        self.selector = selector
        self.reason = reason
        super().__init__(selector, reason)

    def __str__(self) -> str:
        return self.reason


class ProcessNotFound(NtInspectError, LookupError):
    """No running process has this pid or image name: ``selectors``, the ones that matched
    nothing. Raised the same way by every function and command that takes ``pid``."""

    def __init__(self, selectors: Sequence[object]) -> None:
        self.selectors = tuple(selectors)
        super().__init__(self.selectors)

    def __str__(self) -> str:
        ids = [str(s) for s in self.selectors if not isinstance(s, str)]
        names = [s for s in self.selectors if isinstance(s, str)]
        parts = ([f"no running process has pid {', '.join(ids)}"] if ids else []) + \
                ([f"no running process is named {', '.join(names)}"] if names else [])
        return "; ".join(parts)


class ProcessReused(NtInspectError):
    """The pid of a snapshot now belongs to another process: the process opened by ``pid``
    was created at ``found`` (100 ns units since 1601-01-01 UTC, from ProcessTimes), not at
    ``expected``, the creation time the snapshot's process list recorded (0: the snapshot
    saw no process with that pid). Nothing of the new process may be attributed to the
    snapshot's rows; callers report those rows ``gone`` (the process they belong to ended)."""

    def __init__(self, pid: int, expected: int, found: int) -> None:
        self.pid = pid
        self.expected = expected
        self.found = found
        super().__init__(pid, expected, found)

    def __str__(self) -> str:
        return (f"pid {self.pid} was reused: the process now holding it was created at {self.found}, "
                f"the snapshot's at {self.expected} (100 ns units since 1601)")


class TypeNotFound(NtInspectError, LookupError):
    """No object type has this name: ``selectors``, and the ``known`` type names."""

    def __init__(self, selectors: Sequence[str], known: Sequence[str] = ()) -> None:
        self.selectors = tuple(selectors)
        self.known = tuple(known)
        super().__init__(self.selectors, self.known)

    def __str__(self) -> str:
        return f"no object type is named {', '.join(self.selectors)} (see: ntinspect types)"


def error_from_status(status: int, operation: str = "") -> NtStatusError:
    """The exception for a failing NTSTATUS: the one place statuses become exceptions."""
    status &= 0xFFFFFFFF
    if status == STATUS_ACCESS_DENIED:
        return AccessDenied(status, operation)
    return NtStatusError(status, operation)


def error_from_win32(code: int, operation: str = "") -> Win32Error:
    """The exception for a failing Win32 error code; access denied becomes
    :class:`Win32AccessDenied` (an :class:`AccessDenied` that keeps the Win32 code)."""
    code &= 0xFFFFFFFF
    if code == ERROR_ACCESS_DENIED:
        return Win32AccessDenied(code, operation)
    return Win32Error(code, operation)
