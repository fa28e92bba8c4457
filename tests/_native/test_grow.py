"""The query-and-grow loop on scripted answers: every growth rule and every way out."""
import pytest

from ntinspect._native import grow
from ntinspect.errors import NtStatusError, Win32Error

MISMATCH, OVERFLOW, TOO_SMALL = grow.STATUS_INFO_LENGTH_MISMATCH, grow.STATUS_BUFFER_OVERFLOW, grow.STATUS_BUFFER_TOO_SMALL


def scripted(answers, sizes):
    """A call that records the sizes it was offered and answers from ``answers``."""
    def call(buffer, size):
        sizes.append(size)
        status, reported = answers.pop(0)
        if status == 0 and reported:
            buffer[0:reported] = b"\xab" * reported
        return status, reported
    return call


def test_grows_to_the_reported_size_with_slack():
    sizes = []
    data = grow.query_grow(scripted([(MISMATCH, 10000), (0, 10000)], sizes), "op", initial=4096)
    assert sizes[0] == 4096 and sizes[1] >= 10000 + 10000 // 8
    assert bytes(data) == b"\xab" * 10000  # exactly the filled bytes


@pytest.mark.parametrize("status", [MISMATCH, OVERFLOW, TOO_SMALL])
def test_never_trusts_a_zero_report(status):
    sizes = []
    grow.query_grow(scripted([(status, 0), (status, 0), (0, 16)], sizes), "op", initial=4096)
    assert sizes == [4096, 8192, 16384]


def test_a_smaller_report_is_tried_exactly():
    sizes = []
    grow.query_grow(scripted([(MISMATCH, 48), (0, 48)], sizes), "op", initial=4096)
    assert sizes == [4096, 48]


def test_other_failures_raise_with_the_status_name():
    with pytest.raises(NtStatusError) as caught:
        grow.query_grow(scripted([(0xC0000003, 0)], []), "NtQueryX(51)")
    assert caught.value.name == "STATUS_INVALID_INFO_CLASS" and "NtQueryX(51)" in str(caught.value)


def test_attempts_are_capped():
    with pytest.raises(NtStatusError, match="after 3 attempts"):
        grow.query_grow(scripted([(MISMATCH, 0)] * 3, []), "op", attempts=3)


def test_size_is_capped():
    with pytest.raises(NtStatusError, match="past 65536 bytes"):
        grow.query_grow(scripted([(MISMATCH, 1 << 40)], []), "op", max_bytes=65536)


def test_win32_codes():
    sizes = []
    grow.query_grow(scripted([(grow.ERROR_INSUFFICIENT_BUFFER, 9000), (0, 0)], sizes), "GetExtendedTcpTable",
                    win32=True, initial=100)
    assert sizes[1] >= 9000
    with pytest.raises(Win32Error) as caught:
        grow.query_grow(scripted([(87, 0)], []), "GetExtendedTcpTable", win32=True)
    assert caught.value.name == "ERROR_INVALID_PARAMETER"


def test_a_start_size_past_the_cap_starts_at_the_cap():
    sizes = []
    grow.query_grow(scripted([(0, 16)], sizes), "op", initial=1 << 40, max_bytes=1 << 20)
    assert sizes == [1 << 20]


def test_data_growing_faster_than_the_buffer_is_a_clear_error_naming_every_size_tried():
    """Each answer asks for more than the buffer just offered (a table growing between
    calls): bounded attempts, then an error with the sizes tried and the last need."""
    sizes = []

    def growing(buffer, size):
        sizes.append(size)
        return MISMATCH, size * 3  # always larger than what was offered

    with pytest.raises(NtStatusError) as caught:
        grow.query_grow(growing, "NtQuerySystemInformation(64)", initial=4096, attempts=5)
    error = caught.value
    assert error.name == "STATUS_INFO_LENGTH_MISMATCH"
    assert len(sizes) <= 5
    assert "sizes tried: " + ", ".join(map(str, sizes)) in str(error)
    assert f"last asked for: {sizes[-1] * 3}" in str(error)
