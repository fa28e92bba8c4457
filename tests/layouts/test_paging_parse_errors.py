"""Page-table entries behave like every other layout: bad input to their own parse() is a
LayoutError, and they are reachable by name from the width namespaces."""
import pytest

from ntinspect.errors import LayoutError
from ntinspect.layouts import paging, x64, x86


@pytest.mark.parametrize("mode", ("x86", "pae", "x64"))
def test_truncated_page_table_entries_raise_layout_error(mode):
    for name, entry in vars(getattr(paging, mode)).items():
        with pytest.raises(LayoutError, match=name):
            entry.parse(b"\x01")


def test_entries_by_name_on_the_width_namespaces():
    assert x64.PML4E is paging.x64.PML4E and x64.PTE is paging.x64.PTE
    assert x64.MMPTE_TRANSITION is paging.x64.MMPTE_TRANSITION
    assert x86.PTE is paging.x86.PTE and x86.PDE_4M is paging.x86.PDE_4M
    assert x86.pae.PDPTE is paging.pae.PDPTE and x86.pae.PDE_2M is paging.pae.PDE_2M
    assert not hasattr(x64, "pae")  # PAE is a 32-bit mode
    entry = x64.PTE.parse((0x8000_0001_2345_6067).to_bytes(8, "little"))
    assert (entry.Present, entry.Dirty, entry.ExecuteDisable, entry.PageFrameNumber) == (True, True, True, 0x123456)
