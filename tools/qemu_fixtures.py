#!/usr/bin/env python3
"""Real page tables from QEMU, the oracle for ``ntinspect.memory`` (issue #14).

Boots Debian's own kernels under QEMU (TCG, no disk: each panics for want of a root file
system, with paging fully set up), asks QEMU's monitor what it walked, and keeps the
answers and an ELF core of guest memory under ``.cache/qemu`` (git-ignored):

    python3 tools/qemu_fixtures.py build     # idempotent: only missing images are made
    python3 tools/qemu_fixtures.py status    # what the manifest holds

Four images: ``x86`` (686 kernel, ``-cpu pentium3``: 2-level paging, 4 MiB PSE pages),
``pae`` (686-pae kernel, ``-cpu pentium3,+pae,+nx``), ``x64`` (cloud-amd64 kernel,
``-cpu qemu64``: 4-level) and ``la57`` (the same x64 kernel, ``-cpu qemu64,+la57``:
5-level, CR4 bit 12 checked). For each, ``<cache>/<name>/`` holds ``core.elf``
(``dump-guest-memory``), ``registers.txt`` (``info registers``), ``tlb.txt`` (``info tlb``
lines), ``gva2gpa.json`` (QEMU's own answer for a sample of mapped and unmapped addresses)
and ``serial.log``; ``<cache>/manifest.json`` records the kernel package and version, the
QEMU version, the CPU flags, CR0/CR3/CR4/EFER, the mode and the seconds each step took.
Facts and quirks: ``info tlb`` prints the leaf entry of every present page, its flags
``XGPDACTUW`` from that entry alone; the physical address is the entry under QEMU's mask,
so in PAE mode it keeps the NX bit (63) and, for 2 MiB pages, the PAT bit (12): compare
on the 52 address bits, aligned to the page (QEMU 7.2, target/i386/monitor.c).

The tests (``tests/memory``) read the manifest; ``tools/winebench.py test`` runs
``build`` before the host tests, so CI builds the images once and every later run finds
them cached. A failure is recorded in the manifest (``error``) and the oracle tests skip
with that reason; the builder itself then exits 1.

Needs root (or sudo) for apt only when ``qemu-system-x86`` or the i386 architecture is
missing. Every step has a time limit, and QEMU is always killed.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("NTINSPECT_QEMU_CACHE") or ROOT / ".cache" / "qemu").resolve()
MANIFEST_NAME = "manifest.json"
# bump when what is recorded changes: older caches are rebuilt
FORMAT = 1
RAM = "128M"
APT_LOCK = ["-o", "DPkg::Lock::Timeout=300"]
PANIC_MARK = b"end Kernel panic"
BOOT_TIMEOUT = 420        # seconds from start to the panic line (measured 3-10 s idle)
MONITOR_TIMEOUT = 120     # one monitor command (info tlb: ~1 s)
DUMP_TIMEOUT = 600        # dump-guest-memory of 128 MiB (measured a few seconds)
APT_TIMEOUT = 1200
SAMPLE_MAPPED = 256       # gva2gpa questions per image, inside listed pages
SAMPLE_UNMAPPED = 64      # and outside them
SEED = 14

ADDRESS_BITS = (1 << 52) - 1  # the architectural maximum of physical address bits


@dataclass(frozen=True)
class Target:
    name: str            # the image, and ntinspect's mode name
    package: str         # regular expression over package names (apt-cache search)
    arch: str            # dpkg architecture of the package
    qemu: str            # the QEMU binary
    cpu: str             # -cpu
    virtual_bits: int    # width of the linear address
    cr4_bits: tuple      # CR4 bits that must be set (PAE 5, LA57 12)
    config: tuple = ()   # kernel config options the kernel must have (=y)


def flavour(name: str) -> str:
    """Names of Debian's kernel images of one flavour: ``linux-image-6.1.0-50-686-unsigned``,
    ``linux-image-6.12.117+deb12-cloud-amd64-unsigned`` (not the ``rt-`` ones, nor others).
    The same text is a regular expression for apt-cache (POSIX) and Python."""
    return rf"^linux-image-[0-9][0-9.]*(-[0-9]+|[+]deb[0-9]+)-{name}-unsigned$"


TARGETS = (
    Target("x86", flavour("686"), "i386", "qemu-system-i386", "pentium3", 32, ()),
    Target("pae", flavour("686-pae"), "i386", "qemu-system-i386",
           "pentium3,+pae,+nx", 32, (5,)),
    Target("x64", flavour("cloud-amd64"), "amd64", "qemu-system-x86_64", "qemu64",
           48, (5,)),
    Target("la57", flavour("cloud-amd64"), "amd64", "qemu-system-x86_64",
           "qemu64,+la57", 57, (5, 12), ("CONFIG_X86_5LEVEL",)),
)
# where the cloud kernel lacks 5-level paging, Debian's generic amd64 kernel is tried
LA57_FALLBACK = flavour("amd64")


class FixtureError(Exception):
    """A step that cannot go on; the message says which and why."""


def log(message: str) -> None:
    print(f"[qemu-fixtures] {message}", flush=True)


def run(cmd: list, timeout: int, check: bool = True, **kw) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run([str(c) for c in cmd], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise FixtureError(f"timed out after {timeout} s: {' '.join(map(str, cmd))}")
    except OSError as error:
        raise FixtureError(f"cannot start {cmd[0]}: {error}")
    if check and done.returncode != 0:
        tail = (done.stderr or done.stdout or b"").decode(errors="replace").strip()[-600:]
        raise FixtureError(f"failed ({done.returncode}): {' '.join(map(str, cmd))}: {tail}")
    return done


def root_prefix() -> list:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo", "-n"]
    raise FixtureError("apt needs root: run as root or with passwordless sudo")


def apt(args: list) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run([*root_prefix(), "apt-get", *APT_LOCK, *args], APT_TIMEOUT, env=env)


def apt_update() -> None:
    """``apt-get update``; a mirror that fails some index files (seen: "File has unexpected
    size ... Mirror sync in progress?") leaves the others usable, so that is a warning:
    the package search that follows says whether what is needed is there."""
    try:
        apt(["update", "-qq"])
    except FixtureError as error:
        log(f"warning: {error}")


# --- parsing what the monitor prints (host-tested on recorded text) ---------------------

TLB_LINE = re.compile(r"^([0-9a-f]+): ([0-9a-f]+) ([X-][G-][P-][D-][A-][C-][T-][U-][W-])$")
GVA2GPA = re.compile(r"gpa: (0x[0-9a-f]+)")
REGISTER = re.compile(r"\b(CR0|CR2|CR3|CR4|EFER)=([0-9a-f]+)\b")


def monitor_lines(raw: str) -> list:
    """The monitor's output as lines, terminal escapes and carriage returns removed."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", raw).replace("\r", "")
    return text.split("\n")


def tlb_lines(raw: str) -> list:
    """The mapping lines of ``info tlb`` (``VADDR: PADDR FLAGS``), nothing else: the echoed
    command, prompts and blank lines are dropped. A line that starts like a mapping but is
    not one raises FixtureError rather than being lost."""
    out = []
    for line in monitor_lines(raw):
        line = line.strip()
        if re.match(r"^[0-9a-f]+: [0-9a-f]+ ", line):
            if not TLB_LINE.match(line):
                raise FixtureError(f"info tlb: unexpected line {line!r}")
            out.append(line)
    return out


@dataclass(frozen=True)
class TlbPage:
    """One line of ``info tlb``: a present leaf entry."""

    virtual: int
    physical: int      # on the 52 address bits, aligned to the page
    size: int          # bytes
    flags: str         # QEMU's nine characters, XGPDACTUW
    printed: int       # the physical address as QEMU printed it (with NX in PAE mode)

    @property
    def large(self) -> bool:
        return self.flags[2] == "P"

    def flag(self, letter: str) -> bool:
        return letter in self.flags


def large_page_size(mode: str) -> int:
    """The size of a leaf one level above the page table: 4 MiB (x86 with PSE), else 2 MiB."""
    return 4 << 20 if mode == "x86" else 2 << 20


def tlb_pages(lines: list, mode: str, huge: set = frozenset()) -> list:
    """``info tlb`` lines as TlbPage records. A large page is 4 MiB in ``x86`` mode and
    2 MiB in the others, except the virtual addresses in ``huge`` (1 GiB pages, found by
    probing; QEMU's line does not say which level a large page came from)."""
    pages = []
    for line in lines:
        match = TLB_LINE.match(line)
        if not match:
            raise FixtureError(f"not an info tlb line: {line!r}")
        virtual, printed, flags = int(match[1], 16), int(match[2], 16), match[3]
        if flags[2] != "P":
            size = 4096
        elif virtual in huge:
            size = 1 << 30
        else:
            size = large_page_size(mode)
        physical = printed & ADDRESS_BITS & ~(size - 1)
        pages.append(TlbPage(virtual, physical, size, flags, printed))
    return pages


def huge_pages(pages: list, probes: list) -> set:
    """Virtual addresses of the 1 GiB pages among ``pages``: the large pages whose probe (QEMU's
    gva2gpa answer for the address 2 MiB in, ``[virtual, answer]``) lands 2 MiB into the same
    physical page, which a lone 2 MiB page cannot do (its next 2 MiB is unlisted)."""
    by_virtual = {p.virtual: p for p in pages}
    return {v for v, answer in probes
            if answer is not None and v in by_virtual and answer == by_virtual[v].physical + (2 << 20)}


def recorded_pages(folder: Path, mode: str) -> list:
    """The TlbPage list of an image folder: ``tlb.txt`` with 1 GiB pages told apart by the
    probes in ``gva2gpa.json``."""
    lines = (folder / "tlb.txt").read_text().splitlines()
    probes = json.loads((folder / "gva2gpa.json").read_text())["huge_probes"]
    return tlb_pages(lines, mode, huge_pages(tlb_pages(lines, mode), probes))


def parse_registers(raw: str) -> dict:
    """CR0, CR2, CR3, CR4 (and EFER where printed) from ``info registers``, as ints."""
    found = {name: int(value, 16) for name, value in REGISTER.findall(raw)}
    missing = {"CR0", "CR3", "CR4"} - set(found)
    if missing:
        raise FixtureError(f"info registers: no {', '.join(sorted(missing))} in {raw[:200]!r}")
    return found


def parse_gva2gpa(raw: str):
    """QEMU's ``gva2gpa`` answer: the physical address, or None for ``Unmapped``."""
    match = GVA2GPA.search(raw)
    if match:
        return int(match[1], 16)
    if "Unmapped" in raw:
        return None
    raise FixtureError(f"gva2gpa: unexpected answer {raw!r}")


def mode_of(registers: dict) -> str:
    """x86 / pae / x64 / la57 from CR0.PG, CR4.PAE (bit 5), EFER.LMA (bit 10), CR4.LA57 (bit 12)."""
    if not registers["CR0"] & (1 << 31):
        raise FixtureError("paging is off (CR0.PG clear)")
    cr4 = registers["CR4"]
    if not cr4 & (1 << 5):
        return "x86"
    if not registers.get("EFER", 0) & (1 << 10):
        return "pae"
    return "la57" if cr4 & (1 << 12) else "x64"


def canonical(address: int, bits: int) -> int:
    """Sign-extend a ``bits``-wide linear address to 64 bits (32-bit modes: unchanged)."""
    if bits < 48 or not address & (1 << (bits - 1)):
        return address
    return address | ((1 << 64) - (1 << bits))


def sample_addresses(pages: list, bits: int, rng: random.Random) -> list:
    """Addresses to ask ``gva2gpa``: random offsets inside random listed pages, the first and
    last byte of the space's first and last page, addresses just past listed ranges and
    random addresses, the last ones mostly unmapped. QEMU's answer decides which is which."""
    chosen = []
    for page in rng.sample(pages, min(SAMPLE_MAPPED, len(pages))):
        chosen.append(page.virtual + rng.randrange(page.size))
    ends = sorted({page.virtual + page.size for page in pages})
    listed = {page.virtual for page in pages}
    for end in rng.sample(ends, min(SAMPLE_UNMAPPED // 2, len(ends))):
        # past the top of the space (or into the non-canonical gap) is not an address of the mode
        if end not in listed and canonical(end & ((1 << bits) - 1), bits) == end:
            chosen.append(end)
    top = (1 << bits) - 1
    chosen += [0, 0xfff, canonical(top & ~0xfff, bits), canonical(top, bits)]
    for _ in range(SAMPLE_UNMAPPED // 2):
        chosen.append(canonical(rng.randrange(1 << bits), bits))
    seen = set()
    return [a for a in chosen if not (a in seen or seen.add(a))]


# --- apt: QEMU and the kernels ------------------------------------------------------------

def ensure_qemu() -> None:
    if shutil.which("qemu-system-x86_64") and shutil.which("qemu-system-i386"):
        return
    log("installing qemu-system-x86 (apt)")
    apt_update()
    apt(["install", "-y", "-qq", "--no-install-recommends", "qemu-system-x86"])


def ensure_i386() -> None:
    foreign = run(["dpkg", "--print-foreign-architectures"], 60).stdout.decode().split()
    if "i386" in foreign:
        return
    log("adding the i386 architecture (dpkg) for the 32-bit kernels")
    run([*root_prefix(), "dpkg", "--add-architecture", "i386"], 60)
    apt_update()


@functools.lru_cache(maxsize=None)
def package_versions(pattern: str, arch: str) -> tuple:
    """(version, name) of every package matching ``pattern`` for ``arch``, newest first (by
    dpkg's version order of the candidate version). One ``apt-cache show`` for all names."""
    names = run(["apt-cache", "search", "--names-only", pattern], 300).stdout.decode().splitlines()
    names = sorted({line.split(" - ")[0].strip() for line in names if re.match(pattern, line.split(" - ")[0])})
    if not names:
        return ()
    shown = run(["apt-cache", "show", "--no-all-versions", *[f"{name}:{arch}" for name in names]], 300,
                check=False).stdout.decode()
    found = set()
    for stanza in shown.split("\n\n"):
        name = re.search(r"^Package: (\S+)$", stanza, re.M)
        version = re.search(r"^Version: (\S+)$", stanza, re.M)
        if name and version and name[1] in names:
            found.add((version[1], name[1]))
    return tuple(sorted(found, key=functools.cmp_to_key(lambda a, b: dpkg_compare(a[0], b[0])), reverse=True))


def dpkg_compare(a: str, b: str) -> int:
    if a == b:
        return 0
    less = subprocess.run(["dpkg", "--compare-versions", a, "lt", b], timeout=60).returncode == 0
    return -1 if less else 1


def fetch_kernel(name: str, version: str, arch: str) -> dict:
    """``apt-get download`` the package, keep its ``boot/vmlinuz-*`` and ``boot/config-*``
    under ``<cache>/kernels/<name>_<version>/``; the .deb is deleted after."""
    home = CACHE / "kernels" / f"{name}_{version}"
    done = home / "kernel.json"
    if done.exists() and (home / "vmlinuz").exists():
        return json.loads(done.read_text())
    work = Path(tempfile.mkdtemp(prefix="download-", dir=CACHE))
    try:
        log(f"downloading {name}:{arch} {version}")
        run(["apt-get", "download", f"{name}:{arch}={version}"], APT_TIMEOUT, cwd=work)
        debs = list(work.glob("*.deb"))
        if len(debs) != 1:
            raise FixtureError(f"apt-get download {name}: expected one .deb, found {debs}")
        tar_stream = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL)
        kept = {}
        try:
            with tarfile.open(fileobj=tar_stream.stdout, mode="r|") as archive:
                for member in archive:
                    base = member.name.lstrip("./")
                    if member.isfile() and re.match(r"^boot/(vmlinuz|config)-", base):
                        kind = base.split("/")[1].split("-")[0]
                        data = archive.extractfile(member).read()
                        (work / kind).write_bytes(data)
                        kept[kind] = base.split("/", 1)[1]
        finally:
            tar_stream.stdout.close()
            if tar_stream.wait(120) != 0:
                raise FixtureError(f"dpkg-deb --fsys-tarfile {debs[0].name} failed")
        if set(kept) != {"vmlinuz", "config"}:
            raise FixtureError(f"{debs[0].name} has no boot/vmlinuz-* and boot/config-* ({kept})")
        config = (work / "config").read_text(errors="replace")
        options = dict(re.findall(r"^(CONFIG_[A-Z0-9_]+)=(\S+)$", config, re.M))
        home.mkdir(parents=True, exist_ok=True)
        shutil.move(work / "vmlinuz", home / "vmlinuz")
        shutil.move(work / "config", home / "config")
        info = {"package": name, "version": version, "arch": arch, "release": kept["vmlinuz"][len("vmlinuz-"):],
                "vmlinuz": str((home / "vmlinuz").relative_to(CACHE)),
                "config": {key: options.get(key, "n") for key in
                           ("CONFIG_X86_5LEVEL", "CONFIG_X86_PAE", "CONFIG_HIGHMEM64G", "CONFIG_HIGHMEM4G")}}
        done.write_text(json.dumps(info, indent=1))
        return info
    finally:
        shutil.rmtree(work, ignore_errors=True)


def choose_kernel(target: Target) -> dict:
    """The newest package for ``target`` that has the kernel options it needs."""
    patterns = [target.package] + ([LA57_FALLBACK] if target.config else [])
    for pattern in patterns:
        candidates = package_versions(pattern, target.arch)
        if not candidates:
            # package lists never fetched for this architecture (or stale): once more after an update
            apt_update()
            package_versions.cache_clear()
            candidates = package_versions(pattern, target.arch)
        for version, name in candidates[:3]:
            info = fetch_kernel(name, version, target.arch)
            if all(info["config"].get(option) == "y" for option in target.config):
                return info
            log(f"{name} {version} lacks {', '.join(target.config)}; trying an older or other package")
    raise FixtureError(f"no Debian kernel package for {target.name} ({target.package}, arch {target.arch})"
                       + (f" with {', '.join(target.config)}" if target.config else ""))


# --- QEMU ------------------------------------------------------------------------------------

class Monitor:
    """The human monitor over a unix socket: one command, its output up to the next prompt."""

    PROMPT = b"(qemu) "

    def __init__(self, path: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise FixtureError(f"QEMU's monitor socket did not answer within {timeout} s")
                time.sleep(0.2)
        self.read_prompt(timeout)

    def read_prompt(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        data = bytearray()
        while not data.endswith(self.PROMPT):
            left = deadline - time.monotonic()
            if left <= 0:
                raise FixtureError(f"no monitor prompt within {timeout} s (got {bytes(data[-200:])!r})")
            self.sock.settimeout(min(left, 5))
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            if not chunk:
                raise FixtureError(f"the monitor closed (got {bytes(data[-200:])!r})")
            data += chunk
        return data[:-len(self.PROMPT)].decode(errors="replace")

    def command(self, text: str, timeout: float = MONITOR_TIMEOUT) -> str:
        self.sock.sendall(text.encode() + b"\n")
        return self.read_prompt(timeout)

    def quit(self, timeout: float = 30) -> None:
        """``quit``, then wait (bounded) for QEMU to close the socket."""
        deadline = time.monotonic() + timeout
        try:
            self.sock.sendall(b"quit\n")
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.1, deadline - time.monotonic()))
                if not self.sock.recv(65536):
                    break
        except OSError:
            pass
        finally:
            self.sock.close()


def boot(target: Target, kernel: dict, out: Path) -> dict:
    """Boot ``kernel`` to its panic and record what QEMU sees into ``out``."""
    sockdir = Path(tempfile.mkdtemp(prefix="ntq-"))  # short: a unix socket path has <108 bytes
    sock = sockdir / "monitor"
    serial = out / "serial.log"
    cmd = [target.qemu, "-machine", "pc", "-accel", "tcg", "-cpu", target.cpu, "-smp", "1", "-m", RAM,
           "-kernel", CACHE / kernel["vmlinuz"], "-append", "console=ttyS0 panic=0",
           "-display", "none", "-serial", f"file:{serial}", "-monitor", f"unix:{sock},server,nowait",
           "-no-reboot"]
    times = {}
    start = time.monotonic()
    errors = open(out / "qemu.log", "wb")  # a file, not a pipe nobody reads while QEMU runs
    process = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=errors, start_new_session=True)
    monitor = None
    try:
        while PANIC_MARK not in (serial.read_bytes() if serial.exists() else b""):
            if process.poll() is not None:
                raise FixtureError(f"{target.qemu} exited ({process.returncode}) before the panic: "
                                   f"{(out / 'qemu.log').read_bytes().decode(errors='replace')[-600:]}")
            if time.monotonic() - start > BOOT_TIMEOUT:
                raise FixtureError(f"{target.name}: no kernel panic within {BOOT_TIMEOUT} s "
                                   f"(serial tail: {serial.read_bytes()[-300:] if serial.exists() else b''!r})")
            time.sleep(0.5)
        times["boot"] = round(time.monotonic() - start, 1)
        monitor = Monitor(sock, MONITOR_TIMEOUT)
        monitor.command("stop")
        registers_raw = monitor.command("info registers")
        registers = parse_registers(registers_raw)
        (out / "registers.txt").write_text("\n".join(monitor_lines(registers_raw)))
        (out / "registers.raw").write_bytes(registers_raw.encode())
        mode = mode_of(registers)
        if mode != target.name:
            raise FixtureError(f"{target.name}: the guest runs in {mode} mode (CR4={registers['CR4']:#x}, "
                               f"EFER={registers.get('EFER', 0):#x})")
        for bit in target.cr4_bits:
            if not registers["CR4"] & (1 << bit):
                raise FixtureError(f"{target.name}: CR4 bit {bit} is clear (CR4={registers['CR4']:#x})")
        t = time.monotonic()
        tlb_raw = monitor.command("info tlb")
        (out / "tlb.raw").write_bytes(tlb_raw.encode())
        lines = tlb_lines(tlb_raw)
        if not lines:
            raise FixtureError(f"{target.name}: info tlb listed no pages")
        (out / "tlb.txt").write_text("\n".join(lines) + "\n")
        times["info_tlb"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        pages = tlb_pages(lines, mode)
        answers = []
        # which large pages are 1 GiB: a 1 GiB-aligned one whose next 2 MiB translates inside it
        huge_probes = []
        if mode in ("x64", "la57"):
            listed = {p.virtual for p in pages}
            for page in pages:
                nxt = page.virtual + (2 << 20)
                if page.large and page.virtual % (1 << 30) == 0 and page.physical % (1 << 30) == 0 \
                        and nxt not in listed:
                    answer = parse_gva2gpa(monitor.command(f"gva2gpa {nxt:#x}"))
                    huge_probes.append([page.virtual, answer])
        huge = huge_pages(pages, huge_probes)
        pages = tlb_pages(lines, mode, huge)
        for address in sample_addresses(pages, target.virtual_bits, random.Random(SEED)):
            answers.append([address, parse_gva2gpa(monitor.command(f"gva2gpa {address:#x}"))])
        (out / "gva2gpa.json").write_text(json.dumps({"answers": answers, "huge_probes": huge_probes}))
        times["gva2gpa"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        core = out / "core.elf"
        reply = monitor.command(f"dump-guest-memory {core}", DUMP_TIMEOUT)
        if not core.exists() or core.read_bytes()[:4] != b"\x7fELF":
            raise FixtureError(f"{target.name}: dump-guest-memory wrote no ELF core ({reply.strip()[-300:]!r})")
        times["dump"] = round(time.monotonic() - t, 1)
        core.chmod(0o644)
        monitor.quit()
        monitor = None
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            pass  # killed below
        return {"mode": mode, "registers": {k: f"{v:#x}" for k, v in registers.items()},
                "cr3": f"{registers['CR3']:#x}", "cr4": f"{registers['CR4']:#x}",
                "tlb_pages": len(lines), "huge_pages": len(huge), "gva2gpa": len(answers),
                "core_bytes": core.stat().st_size, "seconds": times}
    finally:
        if monitor is not None:
            monitor.sock.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(30)
        errors.close()
        shutil.rmtree(sockdir, ignore_errors=True)


def qemu_version(binary: str) -> str:
    return run([binary, "--version"], 60).stdout.decode().splitlines()[0].strip()


# --- the cache ---------------------------------------------------------------------------------

def read_manifest() -> dict:
    path = CACHE / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"format": FORMAT, "images": {}}
    if manifest.get("format") != FORMAT:
        return {"format": FORMAT, "images": {}}
    return manifest


def write_manifest(manifest: dict) -> None:
    path = CACHE / MANIFEST_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def image_complete(entry: dict) -> bool:
    folder = CACHE / entry.get("folder", "-")
    core = folder / "core.elf"
    return (all((folder / name).exists() for name in ("tlb.txt", "registers.txt", "gva2gpa.json"))
            and core.exists() and core.stat().st_size == entry.get("core_bytes"))


def build_one(target: Target, manifest: dict) -> None:
    entry = manifest["images"].get(target.name)
    if entry and image_complete(entry):
        return
    t = time.monotonic()
    kernel = choose_kernel(target)
    fetch_seconds = round(time.monotonic() - t, 1)
    final = CACHE / target.name
    work = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=CACHE))
    try:
        log(f"{target.name}: booting {kernel['package']} {kernel['version']} with -cpu {target.cpu}")
        result = boot(target, kernel, work)
        work.chmod(0o755)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["seconds"]["kernel"] = fetch_seconds
    manifest["images"][target.name] = {
        "folder": target.name, "kernel": kernel, "qemu": qemu_version(target.qemu), "qemu_binary": target.qemu,
        "cpu": target.cpu, "ram": RAM, "virtual_bits": target.virtual_bits, **result}
    manifest.get("errors", {}).pop(target.name, None)
    write_manifest(manifest)
    log(f"{target.name}: {result['tlb_pages']} pages, CR3={result['cr3']} CR4={result['cr4']}, "
        f"core {result['core_bytes'] >> 20} MiB, {result['seconds']}")


def build(names: list | None = None) -> int:
    """Make every missing image; record a failure in the manifest's ``errors``. Exit code 0
    when all asked images are there."""
    if re.search(r"[\s,]", str(CACHE)):
        # QEMU's -serial/-monitor options split at commas, and the monitor's arguments at spaces
        log(f"cannot build: the cache path {CACHE} has a space or a comma, which QEMU's options cannot "
            "take; set NTINSPECT_QEMU_CACHE to another folder")
        return 1
    CACHE.mkdir(parents=True, exist_ok=True)
    lock = open(CACHE / ".lock", "w")
    import fcntl
    fcntl.flock(lock, fcntl.LOCK_EX)  # two builds at once (CI and a test run) wait for each other
    try:
        manifest = read_manifest()
        wanted = [t for t in TARGETS if names is None or t.name in names]
        if all(t.name in manifest["images"] and image_complete(manifest["images"][t.name]) for t in wanted):
            log(f"cached: {', '.join(t.name for t in wanted)} ({CACHE})")
            return 0
        start = time.monotonic()
        failed = 0
        try:
            ensure_qemu()
            if any(t.arch == "i386" for t in wanted):
                ensure_i386()
        except FixtureError as error:
            for target in wanted:
                manifest.setdefault("errors", {})[target.name] = str(error)
            write_manifest(manifest)
            log(f"cannot build: {error}")
            return 1
        for target in wanted:
            try:
                build_one(target, manifest)
            except (FixtureError, OSError, subprocess.SubprocessError) as error:
                failed += 1
                manifest.setdefault("errors", {})[target.name] = str(error)
                write_manifest(manifest)
                log(f"{target.name}: FAILED: {error}")
        manifest["build_seconds"] = round(time.monotonic() - start, 1)
        write_manifest(manifest)
        log(f"done in {manifest['build_seconds']} s ({failed} failed)")
        return 1 if failed else 0
    finally:
        lock.close()


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build", "status"])
    parser.add_argument("images", nargs="*", help=f"some of {', '.join(t.name for t in TARGETS)} (default: all)")
    options = parser.parse_args(argv)
    unknown = set(options.images) - {t.name for t in TARGETS}
    if unknown:
        parser.error(f"unknown image {', '.join(sorted(unknown))}")
    if options.command == "status":
        print(json.dumps(read_manifest(), indent=1, sort_keys=True))
        return 0
    return build(options.images or None)


if __name__ == "__main__":
    sys.exit(main())
