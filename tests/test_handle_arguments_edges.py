"""Edge arguments of handles() and HandleTable.filter(): the library's own errors or the
documented result, never a raw IndexError; collections mean what they say."""
import numpy as np
import pytest

from ntinspect import api
from ntinspect.models import HandleTable


def make_table():
    columns = {
        "pid": np.array([10, 10, 20], dtype=np.uint64),
        "value": np.array([4, 8, 12], dtype=np.uint64),
        "type_index": np.array([7, 7, 8], dtype=np.uint16),
        "access": np.array([0x1, 0x100001, 0x100000], dtype=np.uint32),
        "object": np.array([0, 0, 0], dtype=np.uint64),
        "attributes": np.array([0, 0, 0], dtype=np.uint32),
    }
    return HandleTable(columns, {7: "Event", 8: "File"}, {10: "a.exe", 20: "b.exe"})


def test_access_collection_means_all_of_these_bits():
    table = make_table()
    both = table.filter(access=0x100001)
    assert both.columns["value"].tolist() == [8]
    # a collection of bits must not silently keep only its first element
    assert table.filter(access=[0x1, 0x100000]).columns["value"].tolist() == [8]


def test_empty_access_collection_is_a_clear_error():
    with pytest.raises(ValueError, match="access"):
        make_table().filter(access=[])


def test_unnamed_types_filter_as_they_are_shown():
    table = HandleTable(make_table().columns, {8: "File"}, {})
    assert table.type.tolist() == ["#7", "#7", "File"]
    assert table.filter(type="#7").columns["value"].tolist() == [4, 8]
    assert table.filter(type=["#7", "file"]).columns["value"].tolist() == [4, 8, 12]


class FakeLive:
    """The per-process (class 51) path as on Windows 8+: one snapshot per pid."""

    def __init__(self, table):
        self.table = table

    def process_handle_columns(self, pid, source=None, created=None):
        keep = self.table.columns["pid"] == pid
        return {key: value[keep] for key, value in self.table.columns.items()}


def test_per_process_path_does_not_duplicate_rows_for_a_repeated_pid():
    live = FakeLive(make_table())
    columns = api._per_process_columns(live, api._pid_list([10, 10], {10: "a.exe", 20: "b.exe"}), None, {})
    assert columns["value"].tolist() == [4, 8]


def test_per_process_path_with_no_pids_is_not_an_index_error():
    live = FakeLive(make_table())
    assert api._per_process_columns(live, api._pid_list([], {}), None, {}) is None  # the system table, filtered to nothing
    assert api._pid_list(set(), {}) == [] and api._pid_list(range(0), {}) == []


def test_cli_bad_timeout_is_a_usage_error(capsys):
    """Checked before any native call, so this runs on any OS."""
    from ntinspect.cli import main

    for bad in ("0", "-1", "nan"):
        try:
            code = main(["handles", "--names", "--timeout", bad])
        except SystemExit as stop:  # argparse's own usage error
            code = stop.code
        assert code == 2
        assert "timeout" in capsys.readouterr().err


def test_digits_int_cannot_read_are_not_numbers():
    from ntinspect.models import is_decimal
    from ntinspect.errors import ProcessNotFound, TypeNotFound
    from ntinspect.portmap import _resolve_pids

    assert is_decimal("12") and not is_decimal("²") and not is_decimal("١٢") and not is_decimal("")
    with pytest.raises(TypeNotFound):
        make_table().filter(type="#²")  # a name no type has
    with pytest.raises(ProcessNotFound, match="no running process is named"):
        _resolve_pids("²", {})
