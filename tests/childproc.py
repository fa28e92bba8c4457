"""Child processes that hold real objects for live tests, made with ctypes (independent of
the library under test). Each child prints one JSON line once ready and exits when its
stdin closes."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from typing import Iterator, Tuple

PRELUDE = textwrap.dedent(r'''
    import ctypes, json, os, socket, sys, tempfile, threading
    from ctypes import wintypes
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    adv = ctypes.WinDLL("advapi32", use_last_error=True)
    for fn in ("CreateEventW", "CreateMutexW", "CreateSemaphoreW", "CreateFileMappingW", "OpenProcess",
               "OpenThread", "CreateNamedPipeW", "GetCurrentThread"):
        getattr(k32, fn).restype = ctypes.c_void_p
    k32.CreateFileMappingW.argtypes = [ctypes.c_void_p, ctypes.c_void_p, wintypes.DWORD, wintypes.DWORD,
                                       wintypes.DWORD, wintypes.LPCWSTR]
    k32.CreateNamedPipeW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, wintypes.DWORD,
                                     wintypes.DWORD, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p]
    k32.ConnectNamedPipe.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    def check(h, what):
        if not h:
            raise SystemExit(f"{what} failed: {ctypes.get_last_error()}")
        return h
    def ready(**info):
        print(json.dumps(dict(pid=os.getpid(), **info)), flush=True)
        sys.stdin.read()
''')

DENY_ALL = r'''
acl = ctypes.create_string_buffer(64)
adv.InitializeAcl(acl, 64, 2)
k32.GetCurrentProcess.restype = ctypes.c_void_p
# an empty, protected DACL on our own process object: nobody may open it (SE_KERNEL_OBJECT)
if adv.SetSecurityInfo(ctypes.c_void_p(k32.GetCurrentProcess()), 6, 0x80000004, None, None, acl, None):
    raise SystemExit("SetSecurityInfo failed")
event = check(k32.CreateEventW(None, True, False, None), "CreateEvent")
ready(event=event)
'''
"""A child body that refuses every open of its process (and reports one event it holds)."""


@contextmanager
def child(body: str, timeout: float = 60) -> Iterator[Tuple[subprocess.Popen, dict]]:
    """Start a child running PRELUDE + ``body`` (which must call ``ready(...)``)."""
    process = subprocess.Popen([sys.executable, "-c", PRELUDE + textwrap.dedent(body)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        if not line:
            process.wait(timeout)
            raise RuntimeError(f"child exited with {process.returncode} before it was ready")
        yield process, json.loads(line)
    finally:
        try:
            process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


class Child:
    """A child process started with ``code`` (and ``args``); its first stdout line (JSON) is
    ``info``. ``stop()`` sends a line to its stdin, waits, and kills it if it does not end;
    a grandchild it reported as ``info["grandchild"]`` is terminated too."""

    def __init__(self, code: str, *args: str) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.process.stdout.readline())
        self.pid = self.process.pid

    def stop(self) -> None:
        import os
        import signal

        if self.process.poll() is None:
            try:
                self.process.communicate("\n", timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.communicate()
        stray = self.info.get("grandchild")
        if stray:
            try:
                os.kill(stray, signal.SIGTERM)
            except OSError:
                pass  # already gone: the normal case
