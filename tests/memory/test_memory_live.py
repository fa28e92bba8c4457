r"""The live \Device\PhysicalMemory source: where the OS refuses it (Wine, Windows since
Server 2003 SP1) a clear NtStatusError naming the status and why; off Windows UnsupportedPlatform."""
import sys

import pytest

from ntinspect import memory as mem
from ntinspect.errors import NtStatusError, UnsupportedPlatform


@pytest.mark.skipif(sys.platform == "win32", reason="checks the refusal off Windows; on Windows the live test runs")
def test_off_windows_is_unsupported_platform():
    with pytest.raises(UnsupportedPlatform):
        mem.LivePhysicalMemory()
    with pytest.raises(UnsupportedPlatform):
        mem.open(r"\Device\PhysicalMemory", dtb=0x30000, mode="x86")


@pytest.mark.windows
def test_live_section_refused_with_status_and_reason():
    from ntinspect._native import wine_version

    try:
        source = mem.LivePhysicalMemory()
    except NtStatusError as error:
        if wine_version():  # measured: Wine has no \Device\PhysicalMemory object
            assert error.name == "STATUS_OBJECT_NAME_NOT_FOUND"
        else:  # Windows since Server 2003 SP1 denies user mode
            assert error.name in ("STATUS_ACCESS_DENIED", "STATUS_OBJECT_NAME_NOT_FOUND")
        text = str(error)
        assert "NtOpenSection" in text and "PhysicalMemory" in text and "XP" in text and error.name in text
        with pytest.raises(NtStatusError) as again:
            mem.open(r"\Device\PhysicalMemory", dtb=0x30000, mode="x86")
        assert again.value.name == error.name
        return
    with source:  # NT 4.0 to XP: the section opens; the first page of RAM reads
        assert len(source.read(0x1000, 16)) == 16
