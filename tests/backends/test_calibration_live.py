"""Calibration on a live system where handles come and go meanwhile: a handle closed between
the snapshot and its type query, its value reused for an object of another type, must not
make calibration fail or map an index to the wrong name."""
import ctypes
import os
import socket
import tempfile
import threading

import pytest

pytestmark = pytest.mark.windows


def open_and_close(kernel32, path: str, tag: str) -> None:
    """One handle each of File, Event, socket, Section, Process and pipes, closed at once,
    so their values are reused by objects of other types."""
    import _winapi

    with open(path, "w"):
        pass
    kernel32.CloseHandle(kernel32.CreateEventW(None, True, False, None))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM):
        pass
    _winapi.CloseHandle(_winapi.CreateFileMapping(_winapi.INVALID_HANDLE_VALUE, 0, 0x04, 0, 4096, tag))
    _winapi.CloseHandle(_winapi.OpenProcess(0x1000, False, os.getpid()))
    _winapi.CloseHandle(_winapi.CreateFile(path, 0x80000000, 7, 0, 3, 0, 0))
    reader, writer = _winapi.CreatePipe(None, 0)
    _winapi.CloseHandle(reader)
    _winapi.CloseHandle(writer)


def churn(number: int, stop: threading.Event, rounds: list, errors: list) -> None:
    kernel32 = ctypes.WinDLL("kernel32")
    kernel32.CreateEventW.restype = ctypes.c_void_p
    kernel32.CloseHandle.argtypes = [ctypes.c_void_p]
    with tempfile.TemporaryDirectory() as folder:
        try:
            while not stop.is_set():
                open_and_close(kernel32, f"{folder}\\churn.txt", f"Local\\nti-churn-{os.getpid()}-{number}")
                rounds[number] += 1
        except Exception as error:  # reported by the test: a dead churn would prove nothing
            errors.append(error)


def test_calibration_holds_while_other_threads_open_and_close_handles():
    from ntinspect.backends.live import TYPES, TypeResolver, system_handle_columns

    expected = {index: t.name for index, t in TYPES.resolve(system_handle_columns()).items()}
    stop, rounds, errors = threading.Event(), [0, 0], []
    workers = [threading.Thread(target=churn, args=(n, stop, rounds, errors), daemon=True) for n in range(2)]
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
    assert not errors and min(rounds) > 10  # the handles really did come and go meanwhile
