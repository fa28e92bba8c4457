"""User-mode minidump structures (``MDMP`` files: Task Manager, procdump, WER, Crashpad).

Declared from the SDK's ``minidumpapiset.h`` (dbghelp), whose structures are
``#pragma pack(4)``: ``MINIDUMP_MODULE.Reserved0`` is a ULONG64 at offset 92, so these are
declared packed and their sizes checked against the header's (32, 12, 56, 108, 52, 16, 32,
40, 24) by the tests. The file format is the same for 32- and 64-bit processes: every
address is a ULONG64 and every file offset (RVA) a ULONG.

Only the streams ntinspect reads are declared: the header and directory, SystemInfo,
ModuleList, ThreadList (its count), MiscInfo (the process id), HandleData (descriptor
versions 1 and 2) and MINIDUMP_STRING.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Dict

from construct import Construct

from .base import UCHAR, ULONG, ULONGLONG, USHORT, c_struct

__all__ = ["MINIDUMP_SIGNATURE", "MINIDUMP_VERSION", "VS_FFI_SIGNATURE", "MINIDUMP_STREAM_TYPE",
           "PROCESSOR_ARCHITECTURE", "MINIDUMP_MISC1_PROCESS_ID", "STRUCTURES"]

MINIDUMP_SIGNATURE = 0x504D444D  # 'MDMP' little-endian
MINIDUMP_VERSION = 0xA793  # low word of Version; the high word is the writer's build
VS_FFI_SIGNATURE = 0xFEEF04BD  # VS_FIXEDFILEINFO.dwSignature
MINIDUMP_MISC1_PROCESS_ID = 0x1  # MINIDUMP_MISC_INFO.Flags1: ProcessId is valid


class MINIDUMP_STREAM_TYPE(IntEnum):
    """Stream types (minidumpapiset.h) that ntinspect reads or names in its errors."""

    ThreadListStream = 3
    ModuleListStream = 4
    MemoryListStream = 5
    ExceptionStream = 6
    SystemInfoStream = 7
    Memory64ListStream = 9
    HandleDataStream = 12
    MiscInfoStream = 15
    ThreadInfoListStream = 17


class PROCESSOR_ARCHITECTURE(IntEnum):
    """``wProcessorArchitecture`` values (winnt.h)."""

    INTEL = 0
    ARM = 5
    IA64 = 6
    AMD64 = 9
    ARM64 = 12
    UNKNOWN = 0xFFFF


MINIDUMP_HEADER = c_struct(
    "MINIDUMP_HEADER",
    "Signature" / ULONG,
    "Version" / ULONG,
    "NumberOfStreams" / ULONG,
    "StreamDirectoryRva" / ULONG,
    "CheckSum" / ULONG,
    "TimeDateStamp" / ULONG,
    "Flags" / ULONGLONG,
    packed=True,
)

MINIDUMP_DIRECTORY = c_struct(
    "MINIDUMP_DIRECTORY",
    "StreamType" / ULONG,
    "DataSize" / ULONG,
    "Rva" / ULONG,
    packed=True,
)

MINIDUMP_SYSTEM_INFO = c_struct(
    "MINIDUMP_SYSTEM_INFO",
    "ProcessorArchitecture" / USHORT,
    "ProcessorLevel" / USHORT,
    "ProcessorRevision" / USHORT,
    "NumberOfProcessors" / UCHAR,
    "ProductType" / UCHAR,
    "MajorVersion" / ULONG,
    "MinorVersion" / ULONG,
    "BuildNumber" / ULONG,
    "PlatformId" / ULONG,
    "CSDVersionRva" / ULONG,
    "SuiteMask" / USHORT,
    "Reserved2" / USHORT,
    "Cpu" / c_struct("CPU_INFORMATION", *(f"Word{i}" / ULONG for i in range(6)), packed=True),
    packed=True,
)

VS_FIXEDFILEINFO = c_struct(
    "VS_FIXEDFILEINFO",
    "dwSignature" / ULONG,
    "dwStrucVersion" / ULONG,
    "dwFileVersionMS" / ULONG,
    "dwFileVersionLS" / ULONG,
    "dwProductVersionMS" / ULONG,
    "dwProductVersionLS" / ULONG,
    "dwFileFlagsMask" / ULONG,
    "dwFileFlags" / ULONG,
    "dwFileOS" / ULONG,
    "dwFileType" / ULONG,
    "dwFileSubtype" / ULONG,
    "dwFileDateMS" / ULONG,
    "dwFileDateLS" / ULONG,
    packed=True,
)

MINIDUMP_LOCATION_DESCRIPTOR = c_struct(
    "MINIDUMP_LOCATION_DESCRIPTOR", "DataSize" / ULONG, "Rva" / ULONG, packed=True)

MINIDUMP_MODULE = c_struct(
    "MINIDUMP_MODULE",
    "BaseOfImage" / ULONGLONG,
    "SizeOfImage" / ULONG,
    "CheckSum" / ULONG,
    "TimeDateStamp" / ULONG,
    "ModuleNameRva" / ULONG,
    "VersionInfo" / VS_FIXEDFILEINFO,
    "CvRecord" / MINIDUMP_LOCATION_DESCRIPTOR,
    "MiscRecord" / MINIDUMP_LOCATION_DESCRIPTOR,
    "Reserved0" / ULONGLONG,
    "Reserved1" / ULONGLONG,
    packed=True,
)

MINIDUMP_HANDLE_DATA_STREAM = c_struct(
    "MINIDUMP_HANDLE_DATA_STREAM",
    "SizeOfHeader" / ULONG,
    "SizeOfDescriptor" / ULONG,
    "NumberOfDescriptors" / ULONG,
    "Reserved" / ULONG,
    packed=True,
)

_DESCRIPTOR_FIELDS = (
    "Handle" / ULONGLONG,
    "TypeNameRva" / ULONG,
    "ObjectNameRva" / ULONG,
    "Attributes" / ULONG,
    "GrantedAccess" / ULONG,
    "HandleCount" / ULONG,
    "PointerCount" / ULONG,
)
MINIDUMP_HANDLE_DESCRIPTOR = c_struct("MINIDUMP_HANDLE_DESCRIPTOR", *_DESCRIPTOR_FIELDS, packed=True)
MINIDUMP_HANDLE_DESCRIPTOR_2 = c_struct(
    "MINIDUMP_HANDLE_DESCRIPTOR_2", *_DESCRIPTOR_FIELDS, "ObjectInfoRva" / ULONG, "Reserved0" / ULONG,
    packed=True)

MINIDUMP_MISC_INFO = c_struct(
    "MINIDUMP_MISC_INFO",
    "SizeOfInfo" / ULONG,
    "Flags1" / ULONG,
    "ProcessId" / ULONG,
    "ProcessCreateTime" / ULONG,
    "ProcessUserTime" / ULONG,
    "ProcessKernelTime" / ULONG,
    packed=True,
)

COUNT = c_struct("ULONG_COUNT", "Count" / ULONG, packed=True)
"""The leading ULONG of MINIDUMP_STRING (Length), MINIDUMP_MODULE_LIST and
MINIDUMP_THREAD_LIST (the number of entries)."""

MINIDUMP_THREAD_SIZE = 48  # sizeof(MINIDUMP_THREAD): only the count is read, the size bounds it

STRUCTURES: Dict[str, Construct] = {
    "MINIDUMP_HEADER": MINIDUMP_HEADER,
    "MINIDUMP_DIRECTORY": MINIDUMP_DIRECTORY,
    "MINIDUMP_SYSTEM_INFO": MINIDUMP_SYSTEM_INFO,
    "VS_FIXEDFILEINFO": VS_FIXEDFILEINFO,
    "MINIDUMP_MODULE": MINIDUMP_MODULE,
    "MINIDUMP_HANDLE_DATA_STREAM": MINIDUMP_HANDLE_DATA_STREAM,
    "MINIDUMP_HANDLE_DESCRIPTOR": MINIDUMP_HANDLE_DESCRIPTOR,
    "MINIDUMP_HANDLE_DESCRIPTOR_2": MINIDUMP_HANDLE_DESCRIPTOR_2,
    "MINIDUMP_MISC_INFO": MINIDUMP_MISC_INFO,
}
