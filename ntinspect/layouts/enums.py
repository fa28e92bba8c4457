"""Information classes, access rights, attributes and IP Helper enumerations.

Access-right flags hold single bits only; the composite masks (``FILE_ALL_ACCESS`` ...)
are plain constants in :data:`COMPOSITES`, so decomposing a mask never counts a bit twice.
:func:`access_names` turns a granted-access mask into names for a given object type.
"""
from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import Dict, List, Optional, Tuple, Type

__all__ = [
    "SYSTEM_INFORMATION_CLASS", "OBJECT_INFORMATION_CLASS", "PROCESSINFOCLASS",
    "StandardRights", "GenericRights", "FileAccess", "ProcessAccess", "ThreadAccess",
    "EventAccess", "MutantAccess", "SemaphoreAccess", "SectionAccess", "KeyAccess",
    "TokenAccess", "DirectoryAccess", "SymbolicLinkAccess", "JobObjectAccess", "TimerAccess",
    "IoCompletionAccess", "DesktopAccess", "WindowStationAccess", "DebugObjectAccess",
    "KeyedEventAccess", "ObjectTypeAccess", "WorkerFactoryAccess", "AlpcPortAccess",
    "WaitCompletionPacketAccess", "HandleAttributes", "ObjectAttributes",
    "MIB_TCP_STATE", "TCP_TABLE_CLASS", "UDP_TABLE_CLASS", "SOCKET_STATE", "SockSharedFlags",
    "SPECIFIC_RIGHTS", "COMPOSITES", "TYPE_COMPOSITES", "access_names", "access_summary", "specific_rights",
]


class SYSTEM_INFORMATION_CLASS(IntEnum):
    """NtQuerySystemInformation classes (the ones ntinspect uses, and their neighbours)."""

    SystemBasicInformation = 0
    SystemProcessorInformation = 1
    SystemPerformanceInformation = 2
    SystemTimeOfDayInformation = 3
    SystemProcessInformation = 5
    SystemProcessorPerformanceInformation = 8
    SystemModuleInformation = 11
    SystemHandleInformation = 16
    SystemObjectInformation = 17
    SystemPageFileInformation = 18
    SystemKernelDebuggerInformation = 35
    SystemSessionProcessInformation = 53
    SystemExtendedProcessInformation = 57
    SystemExtendedHandleInformation = 64
    SystemBigPoolInformation = 66
    SystemModuleInformationEx = 77
    SystemProcessIdInformation = 88
    SystemFullProcessInformation = 148


class OBJECT_INFORMATION_CLASS(IntEnum):
    """NtQueryObject classes."""

    ObjectBasicInformation = 0
    ObjectNameInformation = 1
    ObjectTypeInformation = 2
    ObjectTypesInformation = 3
    ObjectHandleFlagInformation = 4
    ObjectSessionInformation = 5
    ObjectSessionObjectInformation = 6


class PROCESSINFOCLASS(IntEnum):
    """NtQueryInformationProcess classes (a useful subset)."""

    ProcessBasicInformation = 0
    ProcessIoCounters = 2
    ProcessVmCounters = 3
    ProcessTimes = 4
    ProcessHandleCount = 20
    ProcessSessionInformation = 24
    ProcessWow64Information = 26
    ProcessImageFileName = 27
    ProcessImageFileNameWin32 = 43
    ProcessHandleInformation = 51
    ProcessHandleTable = 58
    ProcessCommandLineInformation = 60
    ProcessProtectionInformation = 61


class StandardRights(IntFlag):
    """The standard rights (bits 16-20) and the special bits 24-25 of an access mask."""

    DELETE = 0x00010000
    READ_CONTROL = 0x00020000
    WRITE_DAC = 0x00040000
    WRITE_OWNER = 0x00080000
    SYNCHRONIZE = 0x00100000
    ACCESS_SYSTEM_SECURITY = 0x01000000
    MAXIMUM_ALLOWED = 0x02000000


class GenericRights(IntFlag):
    """The generic rights (bits 28-31), mapped per type by its GENERIC_MAPPING."""

    GENERIC_ALL = 0x10000000
    GENERIC_EXECUTE = 0x20000000
    GENERIC_WRITE = 0x40000000
    GENERIC_READ = 0x80000000


class FileAccess(IntFlag):
    """File (and device, pipe, socket) specific rights."""

    FILE_READ_DATA = 0x0001  # FILE_LIST_DIRECTORY on directories
    FILE_WRITE_DATA = 0x0002  # FILE_ADD_FILE
    FILE_APPEND_DATA = 0x0004  # FILE_ADD_SUBDIRECTORY, FILE_CREATE_PIPE_INSTANCE
    FILE_READ_EA = 0x0008
    FILE_WRITE_EA = 0x0010
    FILE_EXECUTE = 0x0020  # FILE_TRAVERSE
    FILE_DELETE_CHILD = 0x0040
    FILE_READ_ATTRIBUTES = 0x0080
    FILE_WRITE_ATTRIBUTES = 0x0100


class ProcessAccess(IntFlag):
    PROCESS_TERMINATE = 0x0001
    PROCESS_CREATE_THREAD = 0x0002
    PROCESS_SET_SESSIONID = 0x0004
    PROCESS_VM_OPERATION = 0x0008
    PROCESS_VM_READ = 0x0010
    PROCESS_VM_WRITE = 0x0020
    PROCESS_DUP_HANDLE = 0x0040
    PROCESS_CREATE_PROCESS = 0x0080
    PROCESS_SET_QUOTA = 0x0100
    PROCESS_SET_INFORMATION = 0x0200
    PROCESS_QUERY_INFORMATION = 0x0400
    PROCESS_SUSPEND_RESUME = 0x0800
    PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
    PROCESS_SET_LIMITED_INFORMATION = 0x2000


class ThreadAccess(IntFlag):
    THREAD_TERMINATE = 0x0001
    THREAD_SUSPEND_RESUME = 0x0002
    THREAD_ALERT = 0x0004
    THREAD_GET_CONTEXT = 0x0008
    THREAD_SET_CONTEXT = 0x0010
    THREAD_SET_INFORMATION = 0x0020
    THREAD_QUERY_INFORMATION = 0x0040
    THREAD_SET_THREAD_TOKEN = 0x0080
    THREAD_IMPERSONATE = 0x0100
    THREAD_DIRECT_IMPERSONATION = 0x0200
    THREAD_SET_LIMITED_INFORMATION = 0x0400
    THREAD_QUERY_LIMITED_INFORMATION = 0x0800
    THREAD_RESUME = 0x1000


class EventAccess(IntFlag):
    EVENT_QUERY_STATE = 0x0001
    EVENT_MODIFY_STATE = 0x0002


class MutantAccess(IntFlag):
    MUTANT_QUERY_STATE = 0x0001


class SemaphoreAccess(IntFlag):
    SEMAPHORE_QUERY_STATE = 0x0001
    SEMAPHORE_MODIFY_STATE = 0x0002


class SectionAccess(IntFlag):
    SECTION_QUERY = 0x0001
    SECTION_MAP_WRITE = 0x0002
    SECTION_MAP_READ = 0x0004
    SECTION_MAP_EXECUTE = 0x0008
    SECTION_EXTEND_SIZE = 0x0010
    SECTION_MAP_EXECUTE_EXPLICIT = 0x0020


class KeyAccess(IntFlag):
    KEY_QUERY_VALUE = 0x0001
    KEY_SET_VALUE = 0x0002
    KEY_CREATE_SUB_KEY = 0x0004
    KEY_ENUMERATE_SUB_KEYS = 0x0008
    KEY_NOTIFY = 0x0010
    KEY_CREATE_LINK = 0x0020
    KEY_WOW64_64KEY = 0x0100
    KEY_WOW64_32KEY = 0x0200


class TokenAccess(IntFlag):
    TOKEN_ASSIGN_PRIMARY = 0x0001
    TOKEN_DUPLICATE = 0x0002
    TOKEN_IMPERSONATE = 0x0004
    TOKEN_QUERY = 0x0008
    TOKEN_QUERY_SOURCE = 0x0010
    TOKEN_ADJUST_PRIVILEGES = 0x0020
    TOKEN_ADJUST_GROUPS = 0x0040
    TOKEN_ADJUST_DEFAULT = 0x0080
    TOKEN_ADJUST_SESSIONID = 0x0100


class DirectoryAccess(IntFlag):
    DIRECTORY_QUERY = 0x0001
    DIRECTORY_TRAVERSE = 0x0002
    DIRECTORY_CREATE_OBJECT = 0x0004
    DIRECTORY_CREATE_SUBDIRECTORY = 0x0008


class SymbolicLinkAccess(IntFlag):
    SYMBOLIC_LINK_QUERY = 0x0001
    SYMBOLIC_LINK_SET = 0x0002


class JobObjectAccess(IntFlag):
    JOB_OBJECT_ASSIGN_PROCESS = 0x0001
    JOB_OBJECT_SET_ATTRIBUTES = 0x0002
    JOB_OBJECT_QUERY = 0x0004
    JOB_OBJECT_TERMINATE = 0x0008
    JOB_OBJECT_SET_SECURITY_ATTRIBUTES = 0x0010
    JOB_OBJECT_IMPERSONATE = 0x0020


class TimerAccess(IntFlag):
    TIMER_QUERY_STATE = 0x0001
    TIMER_MODIFY_STATE = 0x0002


class IoCompletionAccess(IntFlag):
    IO_COMPLETION_QUERY_STATE = 0x0001
    IO_COMPLETION_MODIFY_STATE = 0x0002


class DesktopAccess(IntFlag):
    DESKTOP_READOBJECTS = 0x0001
    DESKTOP_CREATEWINDOW = 0x0002
    DESKTOP_CREATEMENU = 0x0004
    DESKTOP_HOOKCONTROL = 0x0008
    DESKTOP_JOURNALRECORD = 0x0010
    DESKTOP_JOURNALPLAYBACK = 0x0020
    DESKTOP_ENUMERATE = 0x0040
    DESKTOP_WRITEOBJECTS = 0x0080
    DESKTOP_SWITCHDESKTOP = 0x0100


class WindowStationAccess(IntFlag):
    WINSTA_ENUMDESKTOPS = 0x0001
    WINSTA_READATTRIBUTES = 0x0002
    WINSTA_ACCESSCLIPBOARD = 0x0004
    WINSTA_CREATEDESKTOP = 0x0008
    WINSTA_WRITEATTRIBUTES = 0x0010
    WINSTA_ACCESSGLOBALATOMS = 0x0020
    WINSTA_EXITWINDOWS = 0x0040
    WINSTA_ENUMERATE = 0x0100
    WINSTA_READSCREEN = 0x0200


class DebugObjectAccess(IntFlag):
    DEBUG_READ_EVENT = 0x0001
    DEBUG_PROCESS_ASSIGN = 0x0002
    DEBUG_SET_INFORMATION = 0x0004
    DEBUG_QUERY_INFORMATION = 0x0008


class KeyedEventAccess(IntFlag):
    KEYEDEVENT_WAIT = 0x0001
    KEYEDEVENT_WAKE = 0x0002


class ObjectTypeAccess(IntFlag):
    OBJECT_TYPE_CREATE = 0x0001


class WorkerFactoryAccess(IntFlag):
    """TpWorkerFactory (phnt ntexapi.h). Windows grants 0xF00FF to the thread pool's own
    handles (seen in a Windows 11 minidump): bits 0x40 and 0x80 have no public name."""

    WORKER_FACTORY_RELEASE_WORKER = 0x0001
    WORKER_FACTORY_WAIT = 0x0002
    WORKER_FACTORY_SET_INFORMATION = 0x0004
    WORKER_FACTORY_QUERY_INFORMATION = 0x0008
    WORKER_FACTORY_READY_WORKER = 0x0010
    WORKER_FACTORY_SHUTDOWN = 0x0020


class AlpcPortAccess(IntFlag):
    """ALPC Port (phnt ntlpcapi.h: PORT_ALL_ACCESS = STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0x1)."""

    PORT_CONNECT = 0x0001


class WaitCompletionPacketAccess(IntFlag):
    """WaitCompletionPacket (Windows 8+): one specific right, needed to associate and cancel
    the packet; the thread pool opens its packets with exactly it (0x1 in real dumps).
    No SDK header names it; the name follows Microsoft's LiteBox NT model (SET_STATE)."""

    WAIT_COMPLETION_PACKET_SET_STATE = 0x0001


class HandleAttributes(IntFlag):
    """HandleAttributes of handle-table entries."""

    OBJ_PROTECT_CLOSE = 0x00000001
    OBJ_INHERIT = 0x00000002
    OBJ_AUDIT_OBJECT_CLOSE = 0x00000004


class ObjectAttributes(IntFlag):
    """OBJECT_ATTRIBUTES.Attributes flags."""

    OBJ_PROTECT_CLOSE = 0x00000001
    OBJ_INHERIT = 0x00000002
    OBJ_AUDIT_OBJECT_CLOSE = 0x00000004
    OBJ_PERMANENT = 0x00000010
    OBJ_EXCLUSIVE = 0x00000020
    OBJ_CASE_INSENSITIVE = 0x00000040
    OBJ_OPENIF = 0x00000080
    OBJ_OPENLINK = 0x00000100
    OBJ_KERNEL_HANDLE = 0x00000200
    OBJ_FORCE_ACCESS_CHECK = 0x00000400
    OBJ_IGNORE_IMPERSONATED_DEVICEMAP = 0x00000800
    OBJ_DONT_REPARSE = 0x00001000


class MIB_TCP_STATE(IntEnum):
    MIB_TCP_STATE_CLOSED = 1
    MIB_TCP_STATE_LISTEN = 2
    MIB_TCP_STATE_SYN_SENT = 3
    MIB_TCP_STATE_SYN_RCVD = 4
    MIB_TCP_STATE_ESTAB = 5
    MIB_TCP_STATE_FIN_WAIT1 = 6
    MIB_TCP_STATE_FIN_WAIT2 = 7
    MIB_TCP_STATE_CLOSE_WAIT = 8
    MIB_TCP_STATE_CLOSING = 9
    MIB_TCP_STATE_LAST_ACK = 10
    MIB_TCP_STATE_TIME_WAIT = 11
    MIB_TCP_STATE_DELETE_TCB = 12


class TCP_TABLE_CLASS(IntEnum):
    TCP_TABLE_BASIC_LISTENER = 0
    TCP_TABLE_BASIC_CONNECTIONS = 1
    TCP_TABLE_BASIC_ALL = 2
    TCP_TABLE_OWNER_PID_LISTENER = 3
    TCP_TABLE_OWNER_PID_CONNECTIONS = 4
    TCP_TABLE_OWNER_PID_ALL = 5
    TCP_TABLE_OWNER_MODULE_LISTENER = 6
    TCP_TABLE_OWNER_MODULE_CONNECTIONS = 7
    TCP_TABLE_OWNER_MODULE_ALL = 8


class UDP_TABLE_CLASS(IntEnum):
    UDP_TABLE_BASIC = 0
    UDP_TABLE_OWNER_PID = 1
    UDP_TABLE_OWNER_MODULE = 2


class SOCKET_STATE(IntEnum):
    """SOCK_SHARED_INFO.State."""

    SocketStateInitializing = -1
    SocketStateOpen = 0
    SocketStateBound = 1
    SocketStateBoundSpecific = 2
    SocketStateConnected = 3
    SocketStateClosing = 4


class SockSharedFlags(IntFlag):
    """SOCK_SHARED_INFO.Flags bits."""

    Listening = 0x0001
    Broadcast = 0x0002
    Debug = 0x0004
    OobInline = 0x0008
    ReuseAddresses = 0x0010
    ExclusiveAddressUse = 0x0020
    NonBlocking = 0x0040
    DontUseWildcard = 0x0080
    ReceiveShutdown = 0x0100
    SendShutdown = 0x0200
    ConditionalAccept = 0x0400
    IsSANSocket = 0x0800
    IsTLI = 0x1000
    Rio = 0x2000
    ReceiveBufferSizeSet = 0x4000
    SendBufferSizeSet = 0x8000


SPECIFIC_RIGHTS: Dict[str, Type[IntFlag]] = {
    "File": FileAccess,
    "Device": FileAccess,
    "Process": ProcessAccess,
    "Thread": ThreadAccess,
    "Event": EventAccess,
    "Mutant": MutantAccess,
    "Semaphore": SemaphoreAccess,
    "Section": SectionAccess,
    "Key": KeyAccess,
    "Token": TokenAccess,
    "Directory": DirectoryAccess,
    "SymbolicLink": SymbolicLinkAccess,
    "Job": JobObjectAccess,
    "Timer": TimerAccess,
    "IoCompletion": IoCompletionAccess,
    "Desktop": DesktopAccess,
    "WindowStation": WindowStationAccess,
    "DebugObject": DebugObjectAccess,
    "KeyedEvent": KeyedEventAccess,
    "Type": ObjectTypeAccess,
    "IRTimer": TimerAccess,  # NtCreateIRTimer: a timer's rights (0x100002 in real dumps)
    "TpWorkerFactory": WorkerFactoryAccess,
    "ALPC Port": AlpcPortAccess,
    "WaitCompletionPacket": WaitCompletionPacketAccess,
}
"""Object type name (as NtQueryObject reports it) -> its specific-rights flags."""

_STANDARD_REQUIRED = 0x000F0000
COMPOSITES: Dict[str, int] = {
    "STANDARD_RIGHTS_REQUIRED": _STANDARD_REQUIRED,
    "STANDARD_RIGHTS_ALL": 0x001F0000,
    "SPECIFIC_RIGHTS_ALL": 0x0000FFFF,
    "FILE_ALL_ACCESS": _STANDARD_REQUIRED | 0x00100000 | 0x1FF,
    "FILE_GENERIC_READ": 0x00120089,
    "FILE_GENERIC_WRITE": 0x00120116,
    "FILE_GENERIC_EXECUTE": 0x001200A0,
    "PROCESS_ALL_ACCESS": _STANDARD_REQUIRED | 0x00100000 | 0xFFFF,
    "THREAD_ALL_ACCESS": _STANDARD_REQUIRED | 0x00100000 | 0xFFFF,
    "EVENT_ALL_ACCESS": _STANDARD_REQUIRED | 0x00100000 | 0x3,
    "MUTANT_ALL_ACCESS": _STANDARD_REQUIRED | 0x00100000 | 0x1,
    "SEMAPHORE_ALL_ACCESS": _STANDARD_REQUIRED | 0x00100000 | 0x3,
    "SECTION_ALL_ACCESS": _STANDARD_REQUIRED | 0x1F,
    "KEY_ALL_ACCESS": 0x000F003F,
    "KEY_READ": 0x00020019,
    "TOKEN_ALL_ACCESS": _STANDARD_REQUIRED | 0x1FF,
    "DIRECTORY_ALL_ACCESS": _STANDARD_REQUIRED | 0xF,
    "SYMBOLIC_LINK_ALL_ACCESS": _STANDARD_REQUIRED | 0x1,
    "JOB_OBJECT_ALL_ACCESS": _STANDARD_REQUIRED | 0x00100000 | 0x3F,
    "TIMER_ALL_ACCESS": _STANDARD_REQUIRED | 0x00100000 | 0x3,
    "IO_COMPLETION_ALL_ACCESS": _STANDARD_REQUIRED | 0x00100000 | 0x3,
}
"""Composite masks from the SDK headers, kept out of the flags on purpose."""


TYPE_COMPOSITES: Dict[str, Tuple[str, ...]] = {
    "File": ("FILE_ALL_ACCESS", "FILE_GENERIC_READ", "FILE_GENERIC_WRITE", "FILE_GENERIC_EXECUTE"),
    "Device": ("FILE_ALL_ACCESS", "FILE_GENERIC_READ", "FILE_GENERIC_WRITE", "FILE_GENERIC_EXECUTE"),
    "Process": ("PROCESS_ALL_ACCESS",),
    "Thread": ("THREAD_ALL_ACCESS",),
    "Event": ("EVENT_ALL_ACCESS",),
    "Mutant": ("MUTANT_ALL_ACCESS",),
    "Semaphore": ("SEMAPHORE_ALL_ACCESS",),
    "Section": ("SECTION_ALL_ACCESS",),
    "Key": ("KEY_ALL_ACCESS", "KEY_READ"),
    "Token": ("TOKEN_ALL_ACCESS",),
    "Directory": ("DIRECTORY_ALL_ACCESS",),
    "SymbolicLink": ("SYMBOLIC_LINK_ALL_ACCESS",),
    "Job": ("JOB_OBJECT_ALL_ACCESS",),
    "Timer": ("TIMER_ALL_ACCESS",),
    "IoCompletion": ("IO_COMPLETION_ALL_ACCESS",),
}
"""Object type name -> the composite masks of :data:`COMPOSITES` that belong to it."""


def access_summary(type_name: str, mask: int) -> str:
    """``mask`` in short symbolic form for a table: the type's composite masks it holds
    whole (in :data:`TYPE_COMPOSITES` order; ``FILE_GENERIC_READ|FILE_GENERIC_WRITE``), then the names of the
    bits left (:func:`access_names`), joined with ``|``; ``0`` for no rights."""
    mask &= 0xFFFFFFFF
    parts: List[str] = []
    covered = 0
    for name in TYPE_COMPOSITES.get(type_name, ()):  # each type's tuple lists the largest first
        bits = COMPOSITES[name]
        if mask & bits == bits and bits & ~covered:
            parts.append(name)
            covered |= bits
    parts += access_names(type_name, mask & ~covered)
    return "|".join(parts) or "0"


def specific_rights(type_name: str) -> Optional[Type[IntFlag]]:
    """The specific-rights flags of an object type, or None for a type without a table."""
    return SPECIFIC_RIGHTS.get(type_name)


def access_names(type_name: str, mask: int) -> List[str]:
    """The names of the bits set in ``mask``, for an object of type ``type_name``.

    Specific bits (0-15) use the type's own names, then the standard, special and generic
    bits; any bit without a name (including every specific bit of an unknown type) is
    reported once, as a hex string of the leftover bits. Every set bit is counted once.
    """
    mask &= 0xFFFFFFFF
    known: Dict[int, str] = {}
    for table in (specific_rights(type_name), StandardRights, GenericRights):
        if table is not None:
            known.update((member.value, name) for name, member in table.__members__.items())
    names: List[str] = []
    leftover = 0
    for position in range(32):
        bit = 1 << position
        if mask & bit:
            if bit in known:
                names.append(known[bit])
            else:
                leftover |= bit
    if leftover:
        names.append(f"{leftover:#x}")
    return names
