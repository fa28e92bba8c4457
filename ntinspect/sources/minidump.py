r"""Windows user-mode minidumps (``.dmp``) as a source: one process's handles, modules and identity.

Read with ntinspect's own construct layouts (:mod:`ntinspect.layouts.minidump`), not the
PyPI ``minidump`` package: that package loops over the count fields it reads (streams,
modules, handle descriptors) without checking them against the stream's size, so a
corrupt count means a long loop of short reads and raw ``struct``/``IndexError``
exceptions; here every count is checked against the bytes that hold it before anything
is read, and the handle descriptors (v1, 32 bytes, and v2, 40 bytes, or any larger
size a later writer uses) are one numpy view over the checked range.

The file is memory-mapped, not read: a full-memory dump can be gigabytes, and only the
header, the directory and the few streams used are copied out (each range checked
first, so no count in the file sizes an allocation beyond the bytes that are there). Any inconsistency is a
:class:`~ntinspect.errors.MinidumpError` naming the stream and the file offset.

What a minidump holds, and so what :class:`MinidumpSource` answers:

- ``handles()``: the HandleData stream (MiniDumpWithHandleData): handle value, type name,
  object name where the writer recorded one, attributes, granted access (with access
  names per type), and the extra columns ``handle_count`` and ``pointer_count``. Object
  addresses are not recorded (``object`` is 0). Type indices are assigned by the reader:
  1, 2, ... in the order of the type names' sorted spelling; rows whose descriptor has no
  type name (TypeNameRva 0) get index 0 and show as ``#0``, like live handles whose type
  has no name. Names: with ``names=True``, ``name_status`` is ``ok`` where a name was
  recorded and ``not_recorded`` elsewhere.
- ``processes()``: the one process: pid (MiscInfo; 0 if not recorded), image name (the
  module list's first module, the executable), handle count (the handle stream's
  descriptors), thread count (ThreadList). ppid and session are not recorded: 0.
- ``system_info()``: the SystemInfo stream (version, build, product type, architecture,
  CSD string and the UBR a writer stored in it) and the module list's ntdll version.
- Everything else (ports, namespace, object types...) raises SourceUnsupported.
"""
from __future__ import annotations

import mmap
import ntpath
import os
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
from construct import Construct

from ..errors import LayoutError, MinidumpError
from ..layouts.bulk import numpy_dtype
from ..layouts.minidump import (
    COUNT,
    MINIDUMP_DIRECTORY,
    MINIDUMP_HANDLE_DATA_STREAM,
    MINIDUMP_HANDLE_DESCRIPTOR,
    MINIDUMP_HANDLE_DESCRIPTOR_2,
    MINIDUMP_HEADER,
    MINIDUMP_MISC1_PROCESS_ID,
    MINIDUMP_MISC_INFO,
    MINIDUMP_MODULE,
    MINIDUMP_SIGNATURE,
    MINIDUMP_STREAM_TYPE,
    MINIDUMP_SYSTEM_INFO,
    MINIDUMP_THREAD_SIZE,
    MINIDUMP_VERSION,
    VS_FFI_SIGNATURE,
)
from ..layouts.parsing import parse
from ..models import HandleTable, NameStatus, Process
from ..recordlist import RecordList
from ..system.info import InfoStatus, SystemInfo, machine_name, module_version, ubr_from_csd
from .base import RecordedSource

__all__ = ["MinidumpFile", "MinidumpSource", "Module", "MAX_STRING_BYTES"]

MAX_STRING_BYTES = 0x10000
"""Longest MINIDUMP_STRING accepted (bytes): a 32,767-character path is 65,534."""

MAX_DESCRIPTOR_SIZE = 0x1000
"""Largest handle descriptor accepted (v2 is 40 bytes; room for later versions)."""

Module = Tuple[str, int, Tuple[int, int, int, int]]
"""(path, base address, version as corrected by :func:`~ntinspect.system.info.module_version`)."""


def _stream_name(kind: int) -> str:
    try:
        return MINIDUMP_STREAM_TYPE(kind).name
    except ValueError:
        return f"stream type {kind}"


class MinidumpFile:
    """The checked structure of one minidump: header, directory, and readers per stream.

    Opening checks the signature, the version and that the directory and every stream it
    lists lie inside the file. Raises MinidumpError (with stream and offset) on any
    inconsistency and ``OSError`` where the file cannot be opened.
    """

    def __init__(self, path: Any) -> None:
        self.path = os.fspath(path)
        self._file = open(self.path, "rb")
        try:
            self.size = os.fstat(self._file.fileno()).st_size
            if self.size < MINIDUMP_HEADER.sizeof():
                raise MinidumpError(self.path, "header", 0,
                                    f"the file has {self.size} bytes, a MINIDUMP_HEADER needs 32")
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except BaseException:
            self._file.close()
            raise
        try:
            self.header = self._struct(MINIDUMP_HEADER, 0, "header")
            if self.header.Signature != MINIDUMP_SIGNATURE:
                raise MinidumpError(self.path, "header", 0,
                                    f"signature {self.header.Signature:#010x} is not 'MDMP'")
            if self.header.Version & 0xFFFF != MINIDUMP_VERSION:
                raise MinidumpError(self.path, "header", 4,
                                    f"version {self.header.Version & 0xFFFF:#06x} is not {MINIDUMP_VERSION:#06x}")
            self.streams = self._directory()
        except BaseException:
            self.close()
            raise

    # --- bounded reading ----------------------------------------------------------------
    def _check(self, offset: int, size: int, stream: str, what: str) -> None:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise MinidumpError(self.path, stream, offset,
                                f"{what} ({size} bytes) ends past the end of the {self.size}-byte file")

    def _struct(self, layout: Construct, offset: int, stream: str) -> Any:
        size = layout.sizeof()
        self._check(offset, size, stream, layout.name)
        try:
            return parse(layout, self._map[offset:offset + size], aligned=False)
        except LayoutError as error:  # a static layout over checked bytes: not expected
            raise MinidumpError(self.path, stream, offset + error.offset, error.reason) from None

    def string(self, rva: int, stream: str) -> str:
        """The MINIDUMP_STRING at ``rva`` (its Length is bytes, UTF-16-LE, not counting a NUL)."""
        length = self._struct(COUNT, rva, stream).Count
        if length % 2 or length > MAX_STRING_BYTES:
            raise MinidumpError(self.path, stream, rva, f"MINIDUMP_STRING Length {length} is odd or over "
                                                         f"{MAX_STRING_BYTES}")
        self._check(rva + 4, length, stream, "MINIDUMP_STRING text")
        return self._map[rva + 4:rva + 4 + length].decode("utf-16-le", "surrogatepass")

    def _directory(self) -> Dict[int, Tuple[int, int]]:
        """``{stream type: (rva, size)}``, the first of each type; each checked to lie in the file."""
        count, rva = self.header.NumberOfStreams, self.header.StreamDirectoryRva
        entry = MINIDUMP_DIRECTORY.sizeof()
        self._check(rva, count * entry, "directory", f"{count} MINIDUMP_DIRECTORY entries")
        rows = np.frombuffer(self._map[rva:rva + count * entry], numpy_dtype(MINIDUMP_DIRECTORY))
        streams: Dict[int, Tuple[int, int]] = {}
        for index, row in enumerate(rows):
            kind, size, where = int(row["StreamType"]), int(row["DataSize"]), int(row["Rva"])
            if kind == 0 or kind in streams:  # UnusedStream, or a second copy
                continue
            self._check(where, size, _stream_name(kind), f"the stream (directory entry {index})")
            streams[kind] = (where, size)
        return streams

    def stream(self, kind: int) -> Optional[Tuple[int, int]]:
        """``(rva, size)`` of a stream, or None where the dump has none."""
        return self.streams.get(int(kind))

    def _need(self, kind: int, size: int) -> Optional[Tuple[int, int]]:
        """The stream, checked to hold ``size`` bytes, or None where absent."""
        found = self.stream(kind)
        if found is not None and found[1] < size:
            raise MinidumpError(self.path, _stream_name(kind), found[0],
                                f"the stream has {found[1]} bytes, its header needs {size}")
        return found

    # --- streams --------------------------------------------------------------------------
    def system_info(self) -> Optional[Any]:
        """The parsed MINIDUMP_SYSTEM_INFO and its CSD string, or None where absent."""
        found = self._need(MINIDUMP_STREAM_TYPE.SystemInfoStream, MINIDUMP_SYSTEM_INFO.sizeof())
        if found is None:
            return None
        info = self._struct(MINIDUMP_SYSTEM_INFO, found[0], "SystemInfoStream")
        csd = self.string(info.CSDVersionRva, "SystemInfoStream CSDVersion") if info.CSDVersionRva else None
        return info, csd

    def _counted(self, kind: int, entry: int) -> Tuple[int, int]:
        """(first entry's offset, count) of a list stream (ULONG count, then entries),
        the count checked against the stream's size; (0, 0) where absent."""
        found = self._need(kind, 4)
        if found is None:
            return 0, 0
        rva, size = found
        count = self._struct(COUNT, rva, _stream_name(kind)).Count
        if count > (size - 4) // entry:
            raise MinidumpError(self.path, _stream_name(kind), rva,
                                f"{count} entries of {entry} bytes do not fit the stream's {size} bytes")
        return rva + 4, count

    def modules(self) -> List[Module]:
        """The module list: (path, base, corrected version) per module, the executable first."""
        start, count = self._counted(MINIDUMP_STREAM_TYPE.ModuleListStream, MINIDUMP_MODULE.sizeof())
        out = []
        for index in range(count):
            module = self._struct(MINIDUMP_MODULE, start + index * MINIDUMP_MODULE.sizeof(), "ModuleListStream")
            path = self.string(module.ModuleNameRva, f"ModuleListStream module {index} name")
            info = module.VersionInfo
            version = (module_version(info.dwFileVersionMS, info.dwFileVersionLS, info.dwProductVersionMS,
                                      info.dwProductVersionLS) if info.dwSignature == VS_FFI_SIGNATURE else None)
            out.append((path, module.BaseOfImage, version))
        return out

    def thread_count(self) -> Optional[int]:
        """The ThreadList's count, or None where the dump has no thread list."""
        if self.stream(MINIDUMP_STREAM_TYPE.ThreadListStream) is None:
            return None
        return self._counted(MINIDUMP_STREAM_TYPE.ThreadListStream, MINIDUMP_THREAD_SIZE)[1]

    def process_id(self) -> Optional[int]:
        """MiscInfo's ProcessId where the writer marked it valid, else None."""
        found = self._need(MINIDUMP_STREAM_TYPE.MiscInfoStream, MINIDUMP_MISC_INFO.sizeof())
        if found is None:
            return None
        misc = self._struct(MINIDUMP_MISC_INFO, found[0], "MiscInfoStream")
        return misc.ProcessId if misc.Flags1 & MINIDUMP_MISC1_PROCESS_ID else None

    def handle_descriptors(self) -> Optional[np.ndarray]:
        """The HandleData stream's descriptors as a structured array (fields of
        MINIDUMP_HANDLE_DESCRIPTOR, plus ObjectInfoRva for v2), or None where absent."""
        stream = "HandleDataStream"
        found = self._need(MINIDUMP_STREAM_TYPE.HandleDataStream, MINIDUMP_HANDLE_DATA_STREAM.sizeof())
        if found is None:
            return None
        rva, size = found
        head = self._struct(MINIDUMP_HANDLE_DATA_STREAM, rva, stream)
        v1, v2 = MINIDUMP_HANDLE_DESCRIPTOR.sizeof(), MINIDUMP_HANDLE_DESCRIPTOR_2.sizeof()
        if not MINIDUMP_HANDLE_DATA_STREAM.sizeof() <= head.SizeOfHeader <= size:
            raise MinidumpError(self.path, stream, rva, f"SizeOfHeader {head.SizeOfHeader} outside "
                                                         f"16..{size} (the stream's size)")
        if not v1 <= head.SizeOfDescriptor <= MAX_DESCRIPTOR_SIZE:
            raise MinidumpError(self.path, stream, rva + 4, f"SizeOfDescriptor {head.SizeOfDescriptor} is "
                                                             f"not a descriptor size ({v1} v1, {v2} v2)")
        room = size - head.SizeOfHeader
        if head.NumberOfDescriptors > room // head.SizeOfDescriptor:
            raise MinidumpError(self.path, stream, rva + 8,
                                f"{head.NumberOfDescriptors} descriptors of {head.SizeOfDescriptor} bytes "
                                f"do not fit the {room} bytes after the header")
        base = numpy_dtype(MINIDUMP_HANDLE_DESCRIPTOR_2 if head.SizeOfDescriptor >= v2 else MINIDUMP_HANDLE_DESCRIPTOR)
        dtype = np.dtype({"names": base.names, "formats": [base.fields[n][0] for n in base.names],
                          "offsets": [base.fields[n][1] for n in base.names], "itemsize": head.SizeOfDescriptor})
        start = rva + head.SizeOfHeader  # a copy of the checked range: nothing keeps the map exported
        return np.frombuffer(self._map[start:start + head.NumberOfDescriptors * head.SizeOfDescriptor], dtype)

    def strings(self, rvas: Iterable[int], stream: str) -> Dict[int, str]:
        """``{rva: text}`` for each distinct non-zero RVA (each string read once)."""
        return {int(rva): self.string(int(rva), stream) for rva in np.unique(np.asarray(rvas, dtype=np.uint64)) if rva}

    def close(self) -> None:
        """Unmap and close the file (idempotent)."""
        mapped = getattr(self, "_map", None)
        if mapped is not None:
            mapped.close()
            self._map = None
        self._file.close()


class MinidumpSource(RecordedSource):
    """A minidump as a source (see the module docstring for what each function gives).

    Use as a context manager or call :meth:`close`; the file stays mapped until then.
    Raises MinidumpError when the file is not a well-formed minidump.
    """

    kind = "minidump"

    def __init__(self, path: Any) -> None:
        super().__init__(path)
        self._dump = MinidumpFile(path)
        self.holds = self._describe()

    def _describe(self) -> str:
        has = [MINIDUMP_STREAM_TYPE.HandleDataStream in self._dump.streams and "one process's handles",
               MINIDUMP_STREAM_TYPE.ModuleListStream in self._dump.streams and "its modules",
               MINIDUMP_STREAM_TYPE.ThreadListStream in self._dump.streams and "its threads",
               MINIDUMP_STREAM_TYPE.SystemInfoStream in self._dump.streams and "the system identity"]
        held = [h for h in has if h] or ["no stream ntinspect reads"]
        lacks = "" if has[0] else "; no handles (written without MiniDumpWithHandleData)"
        return ("one process: " + ", ".join(held) + lacks +
                "; no ports, object types, namespace or other processes (a user-mode dump records none)")

    def close(self) -> None:
        self._dump.close()

    @property
    def capture_time(self) -> Optional[datetime]:  # type: ignore[override]
        """When the dump was written: the header's TimeDateStamp (time_t, UTC; MSDN
        MINIDUMP_HEADER), None where the writer left it 0. No minidump stream records the
        machine's name, so ``host`` stays None."""
        stamp = self._dump.header.TimeDateStamp
        return datetime.fromtimestamp(stamp, timezone.utc) if stamp else None

    # --- the process ----------------------------------------------------------------------
    def _pid(self) -> int:
        pid = self._dump.process_id()
        return 0 if pid is None else pid

    def _image(self) -> str:
        modules = self._dump.modules()
        return ntpath.basename(modules[0][0]) if modules else ""

    def processes(self, details: bool = True, pid: Any = None) -> RecordList:
        """The dumped process, as a :class:`~ntinspect.recordlist.RecordList` of one
        :class:`~ntinspect.models.Process` (arguments as :func:`ntinspect.processes` takes
        them: ``details`` changes nothing, a minidump records none of them either way: their
        statuses are ``not_recorded``; a
        ``pid`` selector that does not match the dumped process raises ProcessNotFound)."""
        from ..selection import select_processes

        chosen = select_processes(pid, {self._pid(): self._image()})  # raises for what the dump does not hold
        if chosen is not None and self._pid() not in chosen.pids:  # an empty collection selects nothing
            return RecordList([], Process)
        descriptors = self._dump.handle_descriptors()
        threads = self._dump.thread_count()
        unrecorded = {f"{field}_status": NameStatus.NOT_RECORDED
                      for field in ("create_time", "user", "image_path", "command_line", "wow64")}
        return RecordList([Process(pid=self._pid(), ppid=0, name=self._image(),
                                   handle_count=0 if descriptors is None else len(descriptors),
                                   thread_count=0 if threads is None else threads, session_id=0, **unrecorded)],
                          Process)

    def handles(self, pid: Any = None, type: Any = None, names: bool = False, name_timeout: float = 1.0,
                debug_privilege: bool = False, users: bool = False, progress: Any = None) -> HandleTable:
        """The dumped process's handles as a HandleTable (arguments as :func:`ntinspect.handles`;
        ``name_timeout`` and ``debug_privilege`` change nothing for a file; with ``users`` the
        user is None, ``not_recorded``: a minidump holds no token; ``progress(done, total)`` is
        called once the names are read). A dump written without MiniDumpWithHandleData raises
        SourceUnsupported."""
        from ..api import check_name_timeout
        from ..selection import process_selectors, select_processes

        check_name_timeout(name_timeout)
        if progress is not None and not callable(progress):
            raise TypeError(f"progress takes a callable(done, total), not {progress!r}")
        process_selectors(pid)  # bad selectors fail first, as for the live system
        rows = self._dump.handle_descriptors()
        if rows is None:
            raise self._refuse("handles")
        type_rva = rows["TypeNameRva"]
        by_rva = self._dump.strings(type_rva, "HandleDataStream TypeName")
        spelled = sorted(set(by_rva.values()) - {""})
        index_of = {name: position + 1 for position, name in enumerate(spelled)}
        lookup = {rva: index_of.get(name, 0) for rva, name in by_rva.items()}
        type_index = np.fromiter((lookup.get(int(rva), 0) for rva in type_rva), np.uint64, count=len(rows))
        own = self._pid()
        selection = select_processes(pid, {own: self._image()}, check_ids=False)  # the dumped process only
        pids = None if selection is None else list(selection.pids)
        columns = {
            "pid": np.full(len(rows), own, dtype=np.uint64),
            "value": rows["Handle"].astype(np.uint64),
            "type_index": type_index,
            "access": rows["GrantedAccess"].astype(np.uint32),
            "object": np.zeros(len(rows), dtype=np.uint64),
            "attributes": rows["Attributes"].astype(np.uint32),
            "handle_count": rows["HandleCount"].astype(np.uint32),
            "pointer_count": rows["PointerCount"].astype(np.uint32),
        }
        from ..layouts.enums import access_names

        table = HandleTable(columns, {index: name for name, index in index_of.items()}, {own: self._image()},
                            access_namer=access_names)
        if names:
            name_rva = rows["ObjectNameRva"]
            texts = self._dump.strings(name_rva, "HandleDataStream ObjectName")
            table.names = np.array([texts.get(int(rva)) for rva in name_rva] or [], dtype=object)
            table.name_status = np.array([NameStatus.OK if rva else NameStatus.NOT_RECORDED for rva in name_rva]
                                         or [], dtype=object)
            if progress is not None:
                progress(len(rows), len(rows))
        if users:
            table.process_users = {own: (None, NameStatus.NOT_RECORDED)}
        if pids is not None:
            table = table.filter(pid=pids) if pids else table[np.zeros(len(table), dtype=bool)]
        if type is not None:
            table = table.filter(type=type)
        return table

    # --- the system -----------------------------------------------------------------------
    def modules(self) -> List[Module]:
        """The module list (path, base, corrected version), the executable first."""
        return self._dump.modules()

    def system_info(self) -> SystemInfo:
        """The system the dump was written on: SystemInfo stream, CSD string, ntdll's version."""
        status: Dict[str, str] = {name: InfoStatus.NOT_RECORDED for name in
                                  ("ntoskrnl_version", "afd_version", "wine_version", "host_system",
                                   "host_release")}
        fields: Dict[str, Any] = {}
        found = self._dump.system_info()
        if found is None:
            for name in ("major", "minor", "build", "ubr", "csd_version", "product_type", "native_machine",
                         "process_machine"):
                status[name] = InfoStatus.NOT_RECORDED
        else:
            info, csd = found
            fields.update(major=info.MajorVersion, minor=info.MinorVersion, build=info.BuildNumber,
                          csd_version=csd, product_type=info.ProductType,
                          native_machine=machine_name(info.ProcessorArchitecture))
            fields["ubr"] = ubr_from_csd(csd)
            if fields["ubr"] is None:
                status["ubr"] = InfoStatus.NOT_RECORDED
        modules = self._dump.modules()
        ntdll = _ntdll(modules)
        if ntdll is None or ntdll[2] is None:
            status["ntdll_version"] = InfoStatus.NOT_RECORDED
        else:
            fields["ntdll_version"] = ntdll[2]
        if "native_machine" in fields:
            fields["process_machine"] = _process_machine(fields["native_machine"], modules)
        return SystemInfo(origin="minidump", status=status, **fields)


def _ntdll(modules: List[Module]) -> Optional[Module]:
    """The native ntdll.dll of the module list: the one in System32 where a WoW64 process
    also lists SysWOW64's, else the first ntdll.dll."""
    found = [m for m in modules if ntpath.basename(m[0]).lower() == "ntdll.dll"]
    native = [m for m in found if ntpath.basename(ntpath.dirname(m[0])).lower() == "system32"]
    return (native or found or [None])[0]


WOW64_DIRECTORIES = {"syswow64": "x86", "sysarm32": "ARM"}
"""A module loaded from one of these system folders marks a WoW64 process of that machine."""


def _process_machine(native: str, modules: List[Module]) -> str:
    """The process's machine: the WoW64 folder's when a module was loaded from one, else the OS's."""
    for path, _, _ in modules:
        folder = ntpath.basename(ntpath.dirname(path)).lower()
        if folder in WOW64_DIRECTORIES:
            return WOW64_DIRECTORIES[folder]
    return native
