"""Crafted captures: the OS's buffers built from the layouts at either pointer width, written
with the capture writer itself, so replay can be tested on any host (a 32-bit system's
capture on a 64-bit Linux host) without Windows. Also the canonical JSON form the
live-vs-replay comparison uses (every field of every record)."""
from __future__ import annotations

import dataclasses
import datetime
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

import ntinspect.layouts as L
from ntinspect.layouts.bulk import table_plan
from ntinspect.sources.snapshot import write_capture
from ntinspect.system import SystemInfo

FILETIME_2026 = 134_100_000_000_000_000  # 100 ns since 1601: a date in 2025/2026


def _align(n: int, width: int) -> int:
    return (n + width - 1) // width * width


def process_list(width: int, base: int, procs: Sequence[Tuple[int, int, str, int]]) -> bytes:
    """A SystemProcessInformation buffer: (pid, ppid, image name, threads) per process, each
    name right after its entry, ImageName.Buffer pointing at ``base`` + its offset."""
    dtype = L.numpy_dtype(L.layouts(width).SYSTEM_PROCESS_INFORMATION)
    out = bytearray()
    for i, (pid, ppid, name, threads) in enumerate(procs):
        entry = np.zeros(1, dtype=dtype)
        text = name.encode("utf-16-le")
        at = len(out)
        size = _align(dtype.itemsize + len(text) + 2, 8)
        entry["NextEntryOffset"] = size if i + 1 < len(procs) else 0
        entry["NumberOfThreads"] = threads
        entry["UniqueProcessId"] = pid
        entry["InheritedFromUniqueProcessId"] = ppid
        entry["HandleCount"] = 16
        entry["SessionId"] = 1
        entry["CreateTime"] = FILETIME_2026 + pid
        entry["ImageName"]["Length"] = len(text)
        entry["ImageName"]["MaximumLength"] = len(text) + 2
        entry["ImageName"]["Buffer"] = base + at + dtype.itemsize if text else 0
        out += entry.tobytes() + text + b"\0" * (size - dtype.itemsize - len(text))
    return bytes(out)


def handle_table(width: int, rows: Sequence[Tuple[int, int, int, int, int]]) -> bytes:
    """A class 64 table: (pid, value, type index, access, object) per handle."""
    plan = table_plan(L.layouts(width).structs["SYSTEM_HANDLE_INFORMATION_EX"])
    header = bytearray(plan.entries_offset)
    plan.count_format.pack_into(header, plan.count_offset, len(rows))
    entries = np.zeros(len(rows), dtype=plan.dtype)
    for i, (pid, value, index, access, obj) in enumerate(rows):
        entries[i]["UniqueProcessId"] = pid
        entries[i]["HandleValue"] = value
        entries[i]["ObjectTypeIndex"] = index
        entries[i]["GrantedAccess"] = access
        entries[i]["Object"] = obj
    return bytes(header) + entries.tobytes()


def object_types(width: int, base: int, types: Sequence[Tuple[int, str]]) -> bytes:
    """An ObjectTypesInformation buffer: (TypeIndex, name) per type, names after entries."""
    dtype = L.numpy_dtype(L.layouts(width).OBJECT_TYPE_INFORMATION)
    out = bytearray(_align(L.layouts(width).OBJECT_TYPES_INFORMATION.sizeof(), width))
    out[0:4] = len(types).to_bytes(4, "little")
    for index, name in types:
        text = name.encode("utf-16-le")
        entry = np.zeros(1, dtype=dtype)
        entry["TypeName"]["Length"] = len(text)
        entry["TypeName"]["MaximumLength"] = len(text) + 2
        entry["TypeName"]["Buffer"] = base + len(out) + dtype.itemsize
        entry["TypeIndex"] = index
        entry["TotalNumberOfObjects"] = 10 + index
        entry["TotalNumberOfHandles"] = 20 + index
        entry["ValidAccessMask"] = 0x1F0003
        out += entry.tobytes() + text + b"\0" * (_align(len(text) + 2, width) - len(text))
    return bytes(out)


class CraftedRecorder:
    """What :func:`ntinspect.sources.snapshot.write_capture` reads from a recorder, crafted."""

    def __init__(self, width: int, procs, rows, types, observations: Dict[int, str], own_pid: int,
                 info: SystemInfo, details=None, names=None, namespace=None, ports: bool = False) -> None:
        self.width = width
        self.own_pid = own_pid
        self.bases = (0x7FF0000 if width == 4 else 0x1_2345_0000, 0x7FE0000 if width == 4 else 0x1_2346_0000)
        self._buffers = (process_list(width, self.bases[0], procs), handle_table(width, rows),
                         object_types(width, self.bases[1], types))
        self._info = info
        ok = "ok"
        self.record = {"observations": dict(observations),
                       "details": details if details is not None else {
                           pid: {"user_sid": ("S-1-5-18", ok), "user": ("NT AUTHORITY\\SYSTEM", ok),
                                 "image_path": (f"\\Device\\HarddiskVolume1\\{name}", ok),
                                 "dos_image_path": (f"C:\\{name}", ok), "command_line": (name, ok),
                                 "wow64": (False, ok)} for pid, _, name, _ in procs},
                       "names": names, "tables": {}, "listening": {},
                       "namespace": namespace if namespace is not None else {
                           "list": {"\\global??": {"answer": [["C:", "SymbolicLink"]], "path": "\\GLOBAL??"},
                                    "\\??": {"answer": [], "path": "\\??"}},
                           "link": {"\\global??\\c:": {"answer": "\\Device\\HarddiskVolume1",
                                                       "path": "\\GLOBAL??\\C:"}},
                           "lookup": {}}}
        self._socket_scan = None
        self._tdi = None
        if ports:
            self._craft_ports()

    def _craft_ports(self) -> None:
        """svchost (612) listens on TCP 135 and 0.0.0.0:5355 UDP through handles; the tables
        list those and a TCP 445 listener of pid 4 that no handle accounts for."""
        from ntinspect.backends.endpoints import Endpoint
        from ntinspect.backends.iptables import build_table
        from ntinspect.backends.sockets import HandleScan

        tcp = Endpoint("tcp", 4, "0.0.0.0", 135, None, None, None, 612, "handle", 0x10)
        udp = Endpoint("udp", 4, "0.0.0.0", 5355, None, None, None, 612, "handle", 0x14)
        self._socket_scan = HandleScan([tcp, udp], {4: "access_denied"}, 0, 0)
        self._tdi = ("unsupported", [])
        listed = [Endpoint("tcp", 4, "0.0.0.0", 135, None, None, "LISTENING", 612, "table"),
                  Endpoint("tcp", 4, "0.0.0.0", 445, None, None, "LISTENING", 4, "table")]
        self.record["tables"] = {("tcp", 4, 5): build_table(listed, 5), ("tcp", 6, 5): bytes(4),
                                 ("udp", 4, 1): build_table([Endpoint("udp", 4, "0.0.0.0", 5355, None, None, None,
                                                                      612, "table")], 1),
                                 ("udp", 6, 1): bytes(4)}

    def process_list(self):
        return self._buffers[0], self.bases[0]

    def handle_table(self):
        return self._buffers[1], frozenset()

    def object_types_buffer(self):
        return self._buffers[2], self.bases[1]

    def identity(self) -> SystemInfo:
        return self._info


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data: dataclasses as dicts (every field), tuples as lists,
    datetimes as ISO text, numpy scalars as Python numbers."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def records(table) -> List[Any]:
    """Every Handle of a HandleTable, canonical."""
    return [canonical(handle) for handle in table]


def outcome(call) -> Any:
    """``call()``'s result, canonical, or the error it raised (type and message)."""
    try:
        return {"result": canonical(call())}
    except Exception as error:  # the comparison covers failures too: same type, same words
        return {"error": type(error).__name__, "message": str(error)}


def answers(source, pids: Sequence[int], socket_pid: int) -> Dict[str, Any]:
    """Every package function of ``source``, with the arguments a user passes, canonical:
    the same dict from the live (recording) source and from its replay means every field
    of every record is the same. ``pids``: children holding known objects; ``socket_pid``:
    the child holding sockets."""
    from ntinspect.portmap import KINDS

    found = {
        "handles(names, users)": outcome(lambda: records(source.handles(names=True, users=True))),
        "handles(pid=children)": outcome(lambda: records(source.handles(pid=list(pids)))),
        "handles(pid=children, names)": outcome(lambda: records(source.handles(pid=list(pids), names=True))),
        "handles(type=Event)": outcome(lambda: records(source.handles(type="Event"))),
        "handles(pid=python, type=[File, Key])": outcome(
            lambda: records(source.handles(pid="python", type=["File", "Key"]))),
        "processes()": outcome(lambda: source.processes()),
        "processes(details=False)": outcome(lambda: source.processes(details=False)),
        "object_types()": outcome(lambda: source.object_types()),
        "ports(pid=socket child)": outcome(lambda: source.ports(pid=socket_pid)),
        "scan()": outcome(lambda: source.scan()),
        "scan(full=True)": outcome(lambda: source.scan(full=True)),
        "crossview()": outcome(lambda: source.crossview()),
        "crossview(tcp)": outcome(lambda: source.crossview("tcp")),
        "namespace()": outcome(lambda: source.namespace()),
        "namespace(recursive)": outcome(lambda: source.namespace("\\", recursive=True)),
        "namespace(BaseNamedObjects)": outcome(lambda: source.namespace("\\BaseNamedObjects")),
        "namespace(C: link)": outcome(lambda: source.namespace("\\??\\C:")),
        "namespace(no such)": outcome(lambda: source.namespace("\\NoSuchDirectory")),
        "resolve(C:)": outcome(lambda: source.resolve("\\??\\C:\\Windows\\x.txt")),
        "dos_path": outcome(lambda: source.dos_path(source.resolve("\\??\\C:\\Windows\\x.txt"))),
        "nt_path": outcome(lambda: source.nt_path("C:\\Windows\\x.txt")),
        "system_info()": outcome(lambda: source.system_info()),
    }
    for kind in KINDS:
        found[f"ports({kind})"] = outcome(lambda kind=kind: source.ports(kind))
    return found


def without_path(value: Any, path: Any) -> Any:
    """``value`` (plain JSON data) with the capture's path, where a message names it (as it
    is, or as its repr spells it: Windows backslashes doubled), written ``<capture>``: what
    a replay answers, comparable between two copies of one capture."""
    import json

    text = json.dumps(value)
    for spelled in (repr(str(path))[1:-1], str(path)):
        text = text.replace(json.dumps(spelled)[1:-1], "<capture>")
    return json.loads(text)


CLI_COMMANDS = (["handles", "--names", "--json"], ["handles", "-u", "--dos", "--format", "csv"], ["processes", "--json"],
                ["types", "--json"], ["summary", "--json"], ["ports", "--json"], ["ports", "--crossview", "--json"],
                ["ns", "-r", "--json"], ["info", "--json"])


def cli_outputs(path: str) -> Dict[str, Any]:
    """``ntinspect --source PATH <command>`` for each of CLI_COMMANDS: (exit status, stdout)."""
    import io
    from contextlib import redirect_stdout

    from ntinspect.cli import main

    found = {}
    for command in CLI_COMMANDS:
        out = io.StringIO()
        with redirect_stdout(out):
            status = main(["--source", path, *command])
        found[" ".join(command)] = [status, out.getvalue()]
    return found


# --- crafted captures of two systems ------------------------------------------------------
WIN10 = SystemInfo(major=10, minor=0, build=19045, ubr=3803, product_type=1, native_machine="AMD64",
                   process_machine="x86", ntdll_version=(10, 0, 19041, 3803), status={"afd_version": "not_found"})
WIN7 = SystemInfo(major=6, minor=1, build=7601, csd_version="Service Pack 1", product_type=1,
                  native_machine="x86", process_machine="x86")
PROCS = [(0, 0, "", 1), (4, 0, "System", 90), (612, 4, "svchost.exe", 12), (700, 612, "python.exe", 3)]
# Windows 10 numbers types by TypeIndex; Windows 7 by position + 2
TYPES_10 = [(2, "Type"), (3, "Directory"), (7, "Process"), (16, "Event"), (37, "File"), (44, "Key")]
TYPES_7 = [(0, "Type"), (0, "Directory"), (0, "Process"), (0, "Event"), (0, "File"), (0, "Key")]
ROWS_10 = [(612, 0x4, 16, 0x1F0003, 0x81000000), (612, 0x8, 37, 0x120089, 0x81000040),
           (700, 0x4, 44, 0x20019, 0x81000080), (700, 0x8, 7, 0x1FFFFF, 0x810000C0)]
ROWS_7 = [(612, 0x4, 5, 0x1F0003, 0x81000000), (612, 0x8, 6, 0x120089, 0x81000040),
          (700, 0x4, 7, 0x20019, 0x81000080), (700, 0x8, 4, 0x1FFFFF, 0x810000C0)]


def crafted(tmp_path, name: str, width, rows, types, observations, info, **options):
    """A capture file ``tmp_path/name`` of PROCS with ``rows`` (pid, value, type index,
    access, object) of ``types``, written by the capture writer; ``options``: the capture's
    switches, and ``names_record`` (the recorded names) where ``names`` is on."""
    recorder = CraftedRecorder(width, PROCS, rows, types, observations, 700, info,
                               names=options.pop("names_record", None), ports=options.get("ports", False))
    path = tmp_path / name
    write_capture(recorder, path, {"names": False, "ports": False, "namespace": False, **options})
    return path


def win32(tmp_path):
    """A 32-bit Windows 7 capture (position + 2 numbering)."""
    return crafted(tmp_path, "win7-x86.ntcap", 4, ROWS_7, TYPES_7, {5: "Event", 6: "File", 7: "Key", 4: "Process"},
                   WIN7)


def win64(tmp_path):
    """A 64-bit Windows 10 capture (numbered by TypeIndex)."""
    return crafted(tmp_path, "win10-x64.ntcap", 8, ROWS_10, TYPES_10,
                   {16: "Event", 37: "File", 44: "Key", 7: "Process"}, WIN10)
