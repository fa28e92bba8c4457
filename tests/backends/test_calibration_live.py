"""Calibration on a live system where handles come and go meanwhile: a handle closed between
the snapshot and its type query, its value reused for an object of another type, must not
make calibration fail or map an index to the wrong name."""
import socket
import tempfile
import threading

import pytest

pytestmark = pytest.mark.windows


def churn(stop: threading.Event) -> None:
    """Open and close handles of several types as fast as possible, so values get reused."""
    import _winapi

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}\\churn.txt"
        while not stop.is_set():
            with open(path, "w"):
                pass
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM):
                pass
            _winapi.CloseHandle(_winapi.CreateFile(path, 0x80000000, 7, 0, 3, 0, 0))
            reader, writer = _winapi.CreatePipe(None, 0)
            _winapi.CloseHandle(reader)
            _winapi.CloseHandle(writer)


def test_calibration_holds_while_other_threads_open_and_close_handles():
    from ntinspect.backends.live import TYPES, TypeResolver, system_handle_columns

    expected = {index: t.name for index, t in TYPES.resolve(system_handle_columns()).items()}
    stop = threading.Event()
    workers = [threading.Thread(target=churn, args=(stop,), daemon=True) for _ in range(2)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(80):
            fresh = TypeResolver()  # calibrates from scratch, as the first call of a process does
            mapping = {index: t.name for index, t in fresh.resolve(system_handle_columns()).items()}
            assert {i: n for i, n in mapping.items() if i in expected} == \
                {i: n for i, n in expected.items() if i in mapping}
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
