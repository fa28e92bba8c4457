"""Class 51 buffers become the same columns as the system table (Wine refuses the class,
so this conversion is proven on buffers built by the layout, for both widths)."""
import numpy as np
import pytest

from ntinspect.backends.live import process_snapshot_columns
from ntinspect.layouts import layouts


@pytest.mark.parametrize("width", [4, 8])
def test_snapshot_columns(width):
    entries = [dict(HandleValue=4 * (i + 1), HandleCount=1, PointerCount=2, GrantedAccess=0x1F0003 + i,
                    ObjectTypeIndex=10 + i, HandleAttributes=i % 3, Reserved=0) for i in range(5)]
    data = layouts(width).PROCESS_HANDLE_SNAPSHOT_INFORMATION.build(
        dict(NumberOfHandles=len(entries), Reserved=0, Handles=entries))
    columns = process_snapshot_columns(data, 1234, width)
    assert columns["pid"].tolist() == [1234] * 5
    assert columns["value"].tolist() == [4, 8, 12, 16, 20]
    assert columns["type_index"].tolist() == [10, 11, 12, 13, 14]
    assert columns["access"].tolist() == [0x1F0003 + i for i in range(5)]
    assert columns["attributes"].tolist() == [0, 1, 2, 0, 1]
    assert not np.any(columns["object"])  # class 51 gives no kernel addresses


@pytest.mark.parametrize("column", [[], [7], [4, 4, 4, 8, 8, 612], [612, 4, 612, 4, 8, 8, 4],  # grouped, interleaved
                                    list(np.random.default_rng(5).integers(0, 50, 1000))])
def test_distinct_pids_are_np_unique_of_the_column(column):
    """The owners of a table's rows, from the heads of its runs: the same as sorting every
    row, however the table interleaves its processes."""
    from ntinspect.backends.live import distinct_pids

    array = np.asarray(column, dtype=np.uint64)
    assert distinct_pids(array) == np.unique(array).tolist()
    assert all(isinstance(pid, int) for pid in distinct_pids(array))
