"""The one selection language (ntinspect.selection): pure, so every rule runs on any OS."""
import numpy as np
import pytest

from ntinspect.models import HandleTable
from ntinspect.errors import InvalidSelector, NtInspectError, ProcessNotFound, TypeNotFound
from ntinspect.selection import process_selectors, select_processes, type_indices, type_selectors

NAMES = {0: "System Idle Process", 4: "System", 100: "svchost.exe", 101: "SvcHost.EXE", 7: "python.exe",
         8: "pythonw.exe", 9: "notepad.exe"}


def pids(selector, **kwargs):
    return list(select_processes(selector, NAMES, **kwargs).pids)


@pytest.mark.parametrize("selector, expected", [
    (7, [7]), (np.uint64(7), [7]), (np.int32(4), [4]), ("7", [7]), (" 7 ", [7]),
    ("python", [7]), ("PYTHON.EXE", [7]), ("python.exe", [7]), ("svchost", [100, 101]),
    ("System", [4]), ("system idle process", [0]),
    ([7, "notepad", "7"], [7, 9]), ((p for p in (4, "svchost")), [4, 100, 101]),
    (np.array([4, 7], dtype=np.uint32), [4, 7]), (range(7, 10), [7, 8, 9]), ([], []), (set(), []),
])
def test_pids_names_and_collections(selector, expected):
    assert pids(selector) == expected


def test_no_filter_is_none():
    assert select_processes(None, NAMES) is None and process_selectors(None) is None


@pytest.mark.parametrize("selector, missing", [
    (99999, "no running process has pid 99999"), ("nosuch", "no running process is named nosuch"),
    (["python", "nosuch", 5], "no running process has pid 5; no running process is named nosuch"),
    ("pyth", "no running process is named pyth"),  # partial names are the CLI's fallback only
])
def test_unknown_processes_are_one_lookup_error(selector, missing):
    with pytest.raises(ProcessNotFound) as caught:
        pids(selector)
    assert str(caught.value) == missing
    assert isinstance(caught.value, LookupError) and isinstance(caught.value, NtInspectError)


@pytest.mark.parametrize("selector, reason", [
    (True, "not True"), (np.bool_(True), "pid takes"), (1.5, "not 1.5"), (b"python", "not b'python'"),
    (-5, "must not be negative: -5"), ("-5", "must not be negative: -5"), (np.int64(-1), "negative"),
    ("", "not an empty string"), ("  ", "not an empty string"), ([4, None], "not None"),
    ({4: "x"}, "collection"), (object(), "pid takes"),
    (2 ** 64, "out of range"), ("18446744073709551616", "out of range"),
])
def test_selectors_that_are_no_selector(selector, reason):
    with pytest.raises(InvalidSelector, match=reason) as caught:
        process_selectors(selector)
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, ValueError)


def test_partial_names_only_when_nothing_matches_exactly():
    selection = select_processes("pyth", NAMES, partial=True)
    assert selection.pids == (7, 8) and selection.partial == ("pyth",)
    assert selection.describe(NAMES) == "python.exe (7); pythonw.exe (8)"
    exact = select_processes("python", NAMES, partial=True)  # python.exe exactly: not pythonw
    assert exact.pids == (7,) and exact.partial == ()
    with pytest.raises(ProcessNotFound, match="is named zzz"):
        select_processes("zzz", NAMES, partial=True)


def test_snapshot_filters_take_pids_as_given():
    assert select_processes([55, "python"], NAMES, check_ids=False).pids == (7, 55)


TYPES = {17: "File", 8: "Event", 5: "Process"}


@pytest.mark.parametrize("selector, expected", [
    ("file", {17}), ("EVENT", {8}), (17, {17}), ("17", {17}), ("#17", {17}), ("#0", {0}), (0, {0}),
    (np.uint16(5), {5}), (["file", 8, "#5"], {17, 8, 5}), (99, {99}), ([], set()),
])
def test_types_by_name_or_index(selector, expected):
    assert type_indices(selector, TYPES) == expected


def test_unknown_type_names_raise():
    with pytest.raises(TypeNotFound) as caught:
        type_indices(["file", "Nosuch", "#x"], TYPES)
    assert caught.value.selectors == ("Nosuch", "#x") and isinstance(caught.value, LookupError)
    assert str(caught.value) == "no object type is named Nosuch, #x (see: ntinspect types)"


@pytest.mark.parametrize("selector", [True, 2.0, b"File", "", -1, "-1", [None], 2 ** 64, "#18446744073709551616"])
def test_type_selectors_that_are_no_selector(selector):
    with pytest.raises(InvalidSelector):
        type_selectors(selector)


@pytest.mark.parametrize("keyword", ["pid", "type"])
def test_an_index_past_int64_is_a_selector_error_not_an_overflow(keyword):
    """A pid or type of 2**64 (typed at the CLI's -t) used to reach np.fromiter(int64) in
    HandleTable.filter and escape as a raw OverflowError (a traceback from the CLI)."""
    table = HandleTable({"pid": np.array([4], dtype=np.uint64), "value": np.array([4], dtype=np.uint64),
                         "type_index": np.array([7], dtype=np.uint16), "access": np.array([1], dtype=np.uint32),
                         "object": np.array([0], dtype=np.uint64), "attributes": np.array([0], dtype=np.uint32)},
                        {7: "Event"}, {4: "a.exe"})
    with pytest.raises(InvalidSelector, match="out of range"):
        table.filter(**{keyword: 2 ** 64})
