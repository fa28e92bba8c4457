"""Enumerations and access masks: values from the SDK headers, and access_names counting
every bit exactly once."""
from enum import IntFlag

import pytest

from ntinspect.layouts import enums
from ntinspect.layouts.enums import (COMPOSITES, MIB_TCP_STATE, OBJECT_INFORMATION_CLASS, PROCESSINFOCLASS,
                                     SPECIFIC_RIGHTS, SYSTEM_INFORMATION_CLASS, TCP_TABLE_CLASS,
                                     UDP_TABLE_CLASS, FileAccess, GenericRights, HandleAttributes,
                                     ObjectAttributes, StandardRights, access_names)

FLAG_CLASSES = [value for value in vars(enums).values()
                if isinstance(value, type) and issubclass(value, IntFlag) and value is not IntFlag]

# Object types Wine 8.0 reports (docs: shared notes, wine.md); each needs a rights table.
WINE_TYPES = ["Type", "Directory", "SymbolicLink", "Token", "Job", "Process", "Thread", "DebugObject",
              "Event", "Mutant", "Semaphore", "Timer", "KeyedEvent", "WindowStation", "Desktop",
              "Device", "IoCompletion", "File", "Section", "Key"]


def test_information_classes():
    assert SYSTEM_INFORMATION_CLASS.SystemProcessInformation == 5
    assert SYSTEM_INFORMATION_CLASS.SystemHandleInformation == 16
    assert SYSTEM_INFORMATION_CLASS.SystemExtendedHandleInformation == 64
    assert OBJECT_INFORMATION_CLASS.ObjectTypesInformation == 3
    assert PROCESSINFOCLASS.ProcessHandleInformation == 51


def test_ip_helper_enumerations():
    assert [s.value for s in MIB_TCP_STATE] == list(range(1, 13))
    assert MIB_TCP_STATE(2).name == "MIB_TCP_STATE_LISTEN"
    assert TCP_TABLE_CLASS.TCP_TABLE_OWNER_PID_ALL == 5 and TCP_TABLE_CLASS.TCP_TABLE_BASIC_ALL == 2
    assert UDP_TABLE_CLASS.UDP_TABLE_OWNER_PID == 1


def test_attribute_flags():
    assert (HandleAttributes.OBJ_PROTECT_CLOSE, HandleAttributes.OBJ_INHERIT,
            HandleAttributes.OBJ_AUDIT_OBJECT_CLOSE) == (1, 2, 4)
    assert ObjectAttributes.OBJ_INHERIT == 2 and ObjectAttributes.OBJ_CASE_INSENSITIVE == 0x40
    assert ObjectAttributes.OBJ_KERNEL_HANDLE == 0x200


@pytest.mark.parametrize("flags", FLAG_CLASSES, ids=lambda f: f.__name__)
def test_flags_hold_single_distinct_bits(flags):
    values = [member.value for member in flags.__members__.values()]
    assert all(value and value & (value - 1) == 0 for value in values)
    assert len(set(values)) == len(values)


def test_every_wine_type_has_a_rights_table():
    assert set(WINE_TYPES) <= set(SPECIFIC_RIGHTS)


def test_socket_mask_names():
    # the GrantedAccess Wine reports for socket handles
    assert access_names("File", 0x0012019F) == [
        "FILE_READ_DATA", "FILE_WRITE_DATA", "FILE_APPEND_DATA", "FILE_READ_EA", "FILE_WRITE_EA",
        "FILE_READ_ATTRIBUTES", "FILE_WRITE_ATTRIBUTES", "READ_CONTROL", "SYNCHRONIZE"]


@pytest.mark.parametrize("name,type_name", [("FILE_ALL_ACCESS", "File"), ("PROCESS_ALL_ACCESS", "Process"),
                                            ("KEY_ALL_ACCESS", "Key"), ("TOKEN_ALL_ACCESS", "Token"),
                                            ("EVENT_ALL_ACCESS", "Event")])
def test_composites_are_listed_bit_by_bit_once(name, type_name):
    """The names of a composite mask account for each of its bits exactly once."""
    mask = COMPOSITES[name]
    values = {member: int(flag) for table in (SPECIFIC_RIGHTS[type_name], StandardRights, GenericRights)
              for member, flag in table.__members__.items()}
    covered = 0
    for entry in access_names(type_name, mask):
        bits = values[entry] if entry in values else int(entry, 16)
        assert covered & bits == 0
        covered |= bits
    assert covered == mask


def test_file_all_access_value():
    assert COMPOSITES["FILE_ALL_ACCESS"] == 0x001F01FF
    assert len(access_names("File", COMPOSITES["FILE_ALL_ACCESS"])) == 9 + 5


def test_generic_standard_and_leftover_bits():
    assert access_names("Event", 0x80000004 | 0x00100000) == ["SYNCHRONIZE", "GENERIC_READ", "0x4"]
    assert access_names("NoSuchType", 0x3) == ["0x3"]
    assert access_names("Process", 0) == []
    assert access_names("Key", 0x02000000 | 0x01000000) == ["ACCESS_SYSTEM_SECURITY", "MAXIMUM_ALLOWED"]
    assert access_names("File", FileAccess.FILE_EXECUTE) == ["FILE_EXECUTE"]
