"""The package imports anywhere and ships the generated cffi module in a pure-Python wheel."""
import importlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_generated_module_is_importable_and_matches_cdef():
    from ntinspect import _native

    ffi = _native.ffi()
    # the declarations from cdef.h are in the generated module
    assert ffi.sizeof("struct CLIENT_ID") == 2 * ffi.sizeof("void *")
    module = importlib.import_module("ntinspect._native._ntcffi")
    assert "NtQuerySystemInformation" in Path(module.__file__).read_text()


@pytest.mark.skipif(sys.platform == "win32", reason="builds the wheel with the host's pip (Linux bench)")
def test_wheel_is_pure_python_and_holds_the_generated_module(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    wheels = list(tmp_path.glob("ntinspect-*.whl"))
    assert [w.name.endswith("-py3-none-any.whl") for w in wheels] == [True]
    with zipfile.ZipFile(wheels[0]) as archive:
        names = set(archive.namelist())
        assert "ntinspect/_native/_ntcffi.py" in names
        assert not [n for n in names if n.endswith((".so", ".pyd"))]
