"""HandleTable: filters, indexing and grouping run on columns."""
import pickle

import numpy as np
import pytest

from ntinspect.models import Handle, HandleTable, NameStatus


def make_table():
    columns = {
        "pid": np.array([4, 4, 8, 8, 12], dtype=np.uint64),
        "value": np.array([0x4, 0x8, 0x4, 0xC, 0x10], dtype=np.uint64),
        "type_index": np.array([8, 17, 8, 5, 17], dtype=np.uint16),
        "access": np.array([0x1F0003, 0x12019F, 0x100002, 0x1FFFFF, 0x120089], dtype=np.uint32),
        "object": np.array([0xA0, 0xB0, 0xA0, 0xC0, 0], dtype=np.uint64),
        "attributes": np.array([0, 2, 0, 0, 1], dtype=np.uint32),
    }
    names = np.array(["\\BaseNamedObjects\\x", "\\Device\\Afd", None, "python.exe(8)", "\\??\\C:\\a.txt"], dtype=object)
    status = np.array(["ok", "ok", "access_denied", "ok", "ok"], dtype=object)
    return HandleTable(columns, {8: "Event", 17: "File", 5: "Process"}, {4: "System", 8: "a.exe"},
                       names, status, access_namer=lambda t, a: (t, hex(a)))


def test_rows_are_records():
    table = make_table()
    assert len(table) == 5
    first = table[0]
    assert isinstance(first, Handle)
    assert (first.pid, first.process, first.type, first.access_names) == (4, "System", "Event", ("Event", "0x1f0003"))
    assert table[-1].process == ""  # pid 12 not in the process list: empty, not an error
    assert [h.value for h in table] == [4, 8, 4, 12, 16]
    assert pickle.loads(pickle.dumps(first)) == first


def test_index_out_of_range_is_clear():
    with pytest.raises(IndexError, match="out of range for 5 rows"):
        make_table()[5]


def test_filters_combine_on_columns():
    table = make_table()
    assert len(table.filter(pid=8)) == 2
    assert len(table.filter(pid=[4, 12])) == 3
    assert len(table.filter(type="file")) == 2
    assert len(table.filter(type=["EVENT", "Process"])) == 3
    with pytest.raises(LookupError, match="no object type is named NoSuchType"):
        table.filter(type="NoSuchType")  # a misspelt type is an error, not an empty table
    assert len(table.filter(type=17, pid=4)) == 1
    assert len(table.filter(access=0x100000)) == 5  # SYNCHRONIZE granted everywhere
    assert [h.value for h in table.filter(access=0x2)] == [4, 8, 4, 12]  # 0x120089 lacks bit 1
    assert [h.value for h in table.filter(name="afd")] == [8]
    assert len(table.filter(object=0xA0)) == 2


def test_slices_and_masks_keep_names():
    table = make_table()
    sub = table[np.array([False, True, False, True, False])]
    assert [h.name for h in sub] == ["\\Device\\Afd", "python.exe(8)"]
    assert sub.name_status.tolist() == ["ok", "ok"]
    assert len(table[1:3]) == 2


def test_group_by_object_skips_hidden_addresses():
    groups = make_table().by_object()
    assert set(groups) == {0xA0, 0xB0, 0xC0}
    shared = groups[0xA0]
    assert sorted(shared.columns["pid"].tolist()) == [4, 8]
    assert sorted(shared.columns["access"].tolist()) == [0x100002, 0x1F0003]


def test_type_column_and_unknown_index():
    table = make_table()
    assert table.type.tolist() == ["Event", "File", "Event", "Process", "File"]
    bare = HandleTable(table.columns, {}, {})
    assert bare.type.tolist()[0] == "#8"
    assert bare[0].name_status == NameStatus.NOT_REQUESTED


def test_to_pandas():
    # in tools/requirements-test.txt, so the bench runs this; optional for users
    pandas = pytest.importorskip("pandas", reason="to_pandas() needs pandas (pip install pandas)")
    frame = make_table().to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert frame["type"].tolist()[1] == "File" and frame["process"].tolist()[2] == "a.exe"


@pytest.mark.parametrize("key, error, text", [
    ("x", TypeError, "rows are selected by"),
    (2.5, TypeError, "rows are selected by"),
    (None, TypeError, "rows are selected by"),
    (np.array([True, False]), IndexError, "boolean mask of shape"),
    (np.array([5]), IndexError, "out of range for 5 rows"),
    ([[0, 1]], TypeError, "rows are selected by"),
])
def test_bad_row_keys_are_clear(key, error, text):
    with pytest.raises(error, match=text):
        make_table()[key]


def test_empty_and_position_selections():
    table = make_table()
    assert len(table[[]]) == 0
    assert [h.value for h in table[[4, 0]]] == [16, 4]


@pytest.mark.parametrize("criteria, error, text", [
    (dict(pid="abc"), LookupError, "no running process is named abc"),
    (dict(pid=[4, b"x"]), TypeError, "pid takes a process id"),
    (dict(pid=-4), ValueError, "pid must not be negative"),
    (dict(access=-1), ValueError, "access values must be in"),
    (dict(access=1 << 32), ValueError, "access values must be in"),
    (dict(type=3.5), TypeError, "not 3.5"),
    (dict(type=[True]), TypeError, "type takes an object type name or index"),
    (dict(object="0xA0"), TypeError, "object takes an int"),
])
def test_bad_filter_arguments_are_clear(criteria, error, text):
    with pytest.raises(error, match=text):
        make_table().filter(**criteria)


def test_group_by_identity_where_addresses_are_hidden():
    table = make_table()
    hidden = HandleTable({**table.columns, "object": np.zeros(5, dtype=np.uint64)}, table.type_names,
                         table.process_names, identifier=lambda t: [-1, -2, -1, None, -2])
    groups = hidden.by_object()
    assert sorted(groups) == [-2, -1]
    assert groups[-1].columns["value"].tolist() == [4, 4] and groups[-1].columns["pid"].tolist() == [4, 8]
    assert groups[-2].columns["value"].tolist() == [8, 16]
    assert HandleTable(hidden.columns, {}, {}).by_object() == {}  # no identifier: hidden rows left out


def test_name_filter_needs_text_and_never_matches_unnamed_rows():
    table = make_table()
    assert len(table.filter(name="none")) == 0  # the unnamed row is not the text "None"
    with pytest.raises(TypeError, match="substring"):
        table.filter(name=3)
    assert len(HandleTable(table.columns, {}, {}).filter(name="x")) == 0  # names not resolved
