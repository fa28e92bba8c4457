"""The process list (NtQuerySystemInformation class 5) and a bounded walker over it."""
from __future__ import annotations

from typing import Dict, Iterator, List, NamedTuple

from construct import Construct, Container

from ..errors import LayoutError
from .base import KPRIORITY, LARGE_INTEGER, ULONG, ULONGLONG, Primitives, c_struct
from .parsing import Buffer, as_view, parse, read_unicode_string, require

__all__ = ["define", "ProcessEntry", "walk_processes"]


def define(p: Primitives, known: Dict[str, Construct]) -> Dict[str, Construct]:
    """SYSTEM_THREAD_INFORMATION and SYSTEM_PROCESS_INFORMATION (through
    OtherTransferCount; the threads follow each entry) for one pointer width."""
    thread = c_struct(
        "SYSTEM_THREAD_INFORMATION",
        "KernelTime" / LARGE_INTEGER,
        "UserTime" / LARGE_INTEGER,
        "CreateTime" / LARGE_INTEGER,
        "WaitTime" / ULONG,
        p.pad(0, 4),
        "StartAddress" / p.PVOID,
        "ClientId" / known["CLIENT_ID"],
        "Priority" / KPRIORITY,
        "BasePriority" / KPRIORITY,
        "ContextSwitches" / ULONG,
        "ThreadState" / ULONG,
        "WaitReason" / ULONG,
        p.pad(4, 4),
    )
    process = c_struct(
        "SYSTEM_PROCESS_INFORMATION",
        "NextEntryOffset" / ULONG,
        "NumberOfThreads" / ULONG,
        "WorkingSetPrivateSize" / ULONGLONG,
        "HardFaultCount" / ULONG,
        "NumberOfThreadsHighWatermark" / ULONG,
        "CycleTime" / ULONGLONG,
        "CreateTime" / LARGE_INTEGER,
        "UserTime" / LARGE_INTEGER,
        "KernelTime" / LARGE_INTEGER,
        "ImageName" / known["UNICODE_STRING"],
        "BasePriority" / KPRIORITY,
        p.pad(0, 4),
        "UniqueProcessId" / p.HANDLE,
        "InheritedFromUniqueProcessId" / p.HANDLE,
        "HandleCount" / ULONG,
        "SessionId" / ULONG,
        "UniqueProcessKey" / p.ULONG_PTR,
        "PeakVirtualSize" / p.SIZE_T,
        "VirtualSize" / p.SIZE_T,
        "PageFaultCount" / ULONG,
        p.pad(0, 4),
        "PeakWorkingSetSize" / p.SIZE_T,
        "WorkingSetSize" / p.SIZE_T,
        "QuotaPeakPagedPoolUsage" / p.SIZE_T,
        "QuotaPagedPoolUsage" / p.SIZE_T,
        "QuotaPeakNonPagedPoolUsage" / p.SIZE_T,
        "QuotaNonPagedPoolUsage" / p.SIZE_T,
        "PagefileUsage" / p.SIZE_T,
        "PeakPagefileUsage" / p.SIZE_T,
        "PrivatePageCount" / p.SIZE_T,
        "ReadOperationCount" / LARGE_INTEGER,
        "WriteOperationCount" / LARGE_INTEGER,
        "OtherOperationCount" / LARGE_INTEGER,
        "ReadTransferCount" / LARGE_INTEGER,
        "WriteTransferCount" / LARGE_INTEGER,
        "OtherTransferCount" / LARGE_INTEGER,
    )
    return {"SYSTEM_THREAD_INFORMATION": thread, "SYSTEM_PROCESS_INFORMATION": process}


class ProcessEntry(NamedTuple):
    """One entry of the process list: where it starts, its fields, its decoded image name
    and (when asked for) its threads."""

    offset: int
    info: Container
    image_name: str
    threads: List[Container]


def walk_processes(data: Buffer, width: int, base_address: int, *,
                   threads: bool = False) -> Iterator[ProcessEntry]:
    """Follow ``NextEntryOffset`` through a class 5 buffer, safely.

    ``base_address`` is the address the buffer had when the kernel filled it (each
    ImageName.Buffer points inside it). Every entry, thread array and name is bounds-checked;
    offsets must move forward (alignment is not required: Wine packs entries), so a corrupt
    chain ends in a :class:`~ntinspect.errors.LayoutError`, never a loop.
    """
    from .factory import layouts

    ns = layouts(width)
    process, thread = ns.SYSTEM_PROCESS_INFORMATION, ns.SYSTEM_THREAD_INFORMATION
    name = "SYSTEM_PROCESS_INFORMATION"
    view = as_view(data)
    entry_size, thread_size = process.sizeof(), thread.sizeof()
    offset = 0
    for _ in range(len(view) // entry_size + 1):
        info = parse(process, view, offset, aligned=False)
        room = (info.NextEntryOffset or len(view) - offset) - entry_size
        require(info.NumberOfThreads * thread_size <= room, name, offset,
                f"{info.NumberOfThreads} threads do not fit in the entry")
        image = read_unicode_string(view, info.ImageName, base_address, name, offset)
        listed = [parse(thread, view, offset + entry_size + i * thread_size, aligned=False)
                  for i in range(info.NumberOfThreads)] if threads else []
        yield ProcessEntry(offset, info, image, listed)
        if info.NextEntryOffset == 0:
            return
        # Windows keeps entries pointer-aligned; Wine 8 packs them (NextEntryOffset 0x206 seen),
        # so only forward progress and bounds are required.
        require(offset + info.NextEntryOffset < len(view), name, offset,
                f"NextEntryOffset {info.NextEntryOffset:#x} points past the buffer ({len(view)} bytes)")
        offset += info.NextEntryOffset
    raise LayoutError(name, offset, "more entries than the buffer can hold")
