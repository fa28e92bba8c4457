"""cffi builder: out-of-line ABI mode, run by setup.py (``cffi_modules``).

``set_source(name, None)`` makes cffi emit a pure-Python module that holds the parsed
declarations, so nothing is compiled and the wheel is ``py3-none-any``.
"""
from pathlib import Path

import cffi

MODULE_NAME = "ntinspect._native._ntcffi"
CDEF_PATH = Path(__file__).with_name("cdef.h")


def make_builder() -> cffi.FFI:
    """The FFI builder for the declarations in ``cdef.h``."""
    builder = cffi.FFI()
    builder.cdef(CDEF_PATH.read_text(encoding="utf-8"))
    builder.set_source(MODULE_NAME, None)
    return builder


ffibuilder = make_builder()

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=str(Path(__file__).resolve().parents[2]), verbose=True)
