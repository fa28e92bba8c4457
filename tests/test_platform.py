"""Off Windows, every live public function (and the CLI) fails with the one clear error."""
import sys
import tempfile
from pathlib import Path

import pytest

import ntinspect

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="checks behaviour where Windows is absent")

MINIDUMP = str(Path(__file__).parent / "data" / "minidumps" / "breakpad__tiny-exe-with-cet-xsave.dmp")
NEVER_MADE = str(Path(tempfile.gettempdir()) / "ntinspect-export-never-made")
"""export() makes its folder only when the first tables are written: never here."""
NEVER_CAPTURED = str(Path(tempfile.gettempdir()) / "ntinspect-capture-never-made.ntcap")
"""capture() asks the live system before it writes: no file, not even a partial one."""

LIVE_CALLS = {
    "handles": lambda: ntinspect.handles(),
    "processes": ntinspect.processes,
    "object_types": ntinspect.object_types,
    "enable_debug_privilege": ntinspect.enable_debug_privilege,
    "debug_privilege": lambda: ntinspect.debug_privilege().__enter__(),
    "ports": lambda: ntinspect.ports(),
    "crossview": lambda: ntinspect.crossview(),
    "scan": lambda: ntinspect.scan(),
    "namespace": lambda: ntinspect.namespace("\\"),
    "resolve": lambda: ntinspect.resolve("\\??\\C:"),
    "dos_path": lambda: ntinspect.dos_path("\\Device\\HarddiskVolume1\\x"),
    "nt_path": lambda: ntinspect.nt_path("C:\\x"),
    "refresh_dos_devices": ntinspect.refresh_dos_devices,
    "system_info": ntinspect.system_info,
    # the functions over sources, given the live system
    "read_state": lambda: ntinspect.read_state("live"),
    "diff": lambda: ntinspect.diff("live", MINIDUMP),
    "export": lambda: ntinspect.export(["live"], NEVER_MADE),
    "capture": lambda: ntinspect.capture(NEVER_CAPTURED),
}


def test_every_public_function_is_covered():
    live = {"handles", "processes", "object_types", "enable_debug_privilege", "debug_privilege", "ports", "crossview",
            "scan", "namespace", "resolve", "dos_path", "nt_path", "refresh_dos_devices", "system_info",
            "read_state", "diff", "export", "capture"}
    public_functions = {name for name in ntinspect.__all__ if callable(getattr(ntinspect, name))
                        and not isinstance(getattr(ntinspect, name), type)}
    assert public_functions == live == set(LIVE_CALLS)


@pytest.mark.parametrize("name", sorted(LIVE_CALLS))
def test_live_function_raises_unsupported_platform(name):
    with pytest.raises(ntinspect.UnsupportedPlatform) as caught:
        LIVE_CALLS[name]()
    assert sys.platform in str(caught.value) and "Wine bench" in str(caught.value)
    assert not Path(NEVER_MADE).exists() and not Path(NEVER_CAPTURED).exists()


@pytest.mark.parametrize("argv", [["summary"], ["handles"], ["types"], ["processes"], ["ports"], ["ns"], ["info"],
                                  ["diff", "live", MINIDUMP], ["export", "live", "--to", NEVER_MADE],
                                  ["capture", NEVER_CAPTURED]])
def test_cli_says_why_and_exits_1(argv, capsys):
    from ntinspect.cli import main

    assert main(argv) == 1
    error = capsys.readouterr().err
    assert error.startswith("ntinspect: ") and "this live call needs the Windows API" in error
