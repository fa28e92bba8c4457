"""Every public function, called live, returns the types it declares (psutil's habit)."""
import dataclasses
import typing

import pytest

import ntinspect
from ntinspect import models

pytestmark = pytest.mark.windows


def check_record(record, cls):
    """Each field of a dataclass record has the type its annotation names."""
    assert isinstance(record, cls)
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        value = getattr(record, field.name)
        expected = hints[field.name]
        origin = typing.get_origin(expected)
        if origin is typing.Union:
            allowed = tuple(typing.get_origin(a) or a for a in typing.get_args(expected))
        else:
            allowed = (origin or expected,)
        assert isinstance(value, allowed), f"{cls.__name__}.{field.name} = {value!r}, expected {expected}"


def test_processes():
    result = ntinspect.processes()
    assert isinstance(result, list) and result
    for record in result:
        check_record(record, models.Process)


def test_object_types():
    result = ntinspect.object_types()
    assert isinstance(result, list) and result
    for record in result:
        check_record(record, models.ObjectType)


def test_handles_rows_and_columns():
    table = ntinspect.handles(names=True, pid=__import__("os").getpid())
    assert isinstance(table, models.HandleTable) and len(table)
    for row in table:
        check_record(row, models.Handle)
        assert row.name_status in models.NameStatus.ALL
    assert set(table.columns) == set(models.COLUMNS)


def test_ports_and_crossview():
    for record in ntinspect.ports():
        check_record(record, models.Port)
    for finding in ntinspect.crossview():
        assert isinstance(finding, ntinspect.Discrepancy)


def test_namespace_functions():
    entries = ntinspect.namespace("\\")
    assert entries
    for record in entries:
        check_record(record, models.NamespaceEntry)
    assert isinstance(ntinspect.resolve("\\??\\C:"), str)
    mapped = ntinspect.dos_path("\\??\\C:\\windows")
    assert mapped is None or isinstance(mapped, str)
