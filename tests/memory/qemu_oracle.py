"""What QEMU saw, read from the cache ``tools/qemu_fixtures.py`` builds: the oracle side of
the ``ntinspect.memory`` tests (issue #14), independent of the code under test.

:func:`oracle` gives an :class:`Oracle` for an image name (``x86``, ``pae``, ``x64``,
``la57``) or skips the test, saying why (the builder's recorded error, or no cache under
Wine, where the builder cannot run). On the host, a cache without the image and without a
recorded failure is built once, bounded in time; ``tools/winebench.py test`` builds it
before the host tests, so in CI this finds it ready.

The core's physical ranges are read here with pyelftools directly, and the bytes with
plain file reads, so "is this byte in the image" and "what is at this physical address"
do not come from the code under test either.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
BUILD_TIMEOUT = 3600

sys.path.insert(0, str(TOOLS))
try:
    import qemu_fixtures as fixtures  # the builder's parsers: host-tested in test_qemu_fixture_parsing
finally:
    sys.path.remove(str(TOOLS))

IMAGES = tuple(t.name for t in fixtures.TARGETS)
CACHE = fixtures.CACHE


def _manifest() -> dict:
    return fixtures.read_manifest()


@lru_cache(maxsize=None)
def _build_once() -> Optional[str]:
    """Run the builder (host only); None when it ran, else why it could not."""
    if sys.platform == "win32":
        return ("the QEMU images are built on the Linux host (tools/qemu_fixtures.py build, run by "
                "tools/winebench.py test before the host tests); none are cached")
    try:
        done = subprocess.run([sys.executable, str(TOOLS / "qemu_fixtures.py"), "build"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"tools/qemu_fixtures.py build timed out after {BUILD_TIMEOUT} s"
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()[-3:]
        return f"tools/qemu_fixtures.py build failed: {' | '.join(tail)}"
    return None


@dataclass
class Oracle:
    """One QEMU image: the registers, ``info tlb``'s pages, gva2gpa answers and the core."""

    name: str
    folder: Path
    entry: dict
    pages: List["fixtures.TlbPage"] = field(default_factory=list)
    answers: List[Tuple[int, Optional[int]]] = field(default_factory=list)
    segments: List[Tuple[int, int, int]] = field(default_factory=list)  # (paddr, size, file offset)

    @property
    def core(self) -> Path:
        return self.folder / "core.elf"

    @property
    def cr3(self) -> int:
        return int(self.entry["cr3"], 16)

    @property
    def cr4(self) -> int:
        return int(self.entry["cr4"], 16)

    @property
    def mode(self) -> str:
        return self.entry["mode"]

    @property
    def virtual_bits(self) -> int:
        return self.entry["virtual_bits"]

    def holds(self, physical: int, size: int = 1) -> bool:
        """Whether the core holds every byte of ``physical .. physical + size`` (its LOAD
        segments, adjacent ones joined)."""
        at, end = physical, physical + size
        for start, length, _ in self.segments:
            if start <= at < start + length:
                at = start + length
                if at >= end:
                    return True
        return False

    def read(self, physical: int, size: int) -> bytes:
        """Bytes at ``physical`` from the core file, by its LOAD segments."""
        out = bytearray()
        with open(self.core, "rb") as f:
            while size:
                for start, length, offset in self.segments:
                    if start <= physical < start + length:
                        step = min(size, start + length - physical)
                        f.seek(offset + physical - start)
                        out += f.read(step)
                        physical += step
                        size -= step
                        break
                else:
                    raise AssertionError(f"physical {physical:#x} is not in {self.core}")
        return bytes(out)


def _segments(core: Path) -> List[Tuple[int, int, int]]:
    from elftools.elf.elffile import ELFFile

    with open(core, "rb") as f:
        elf = ELFFile(f)
        found = [(s["p_paddr"], s["p_filesz"], s["p_offset"]) for s in elf.iter_segments()
                 if s["p_type"] == "PT_LOAD" and s["p_filesz"]]
    return sorted(found)


@lru_cache(maxsize=None)
def _load(name: str) -> "Oracle | str":
    manifest = _manifest()
    entry = manifest["images"].get(name)
    if entry is None or not fixtures.image_complete(entry):
        error = manifest.get("errors", {}).get(name)
        if error:
            return f"the QEMU image {name!r} could not be built: {error}"
        why = _build_once()
        if why:
            return why
        manifest = _manifest()
        entry = manifest["images"].get(name)
        if entry is None or not fixtures.image_complete(entry):
            return (f"the QEMU image {name!r} could not be built: "
                    f"{manifest.get('errors', {}).get(name, 'no manifest entry after the build')}")
    folder = CACHE / entry["folder"]
    recorded = json.loads((folder / "gva2gpa.json").read_text())
    pages = fixtures.recorded_pages(folder, entry["mode"])
    answers = [(a, b) for a, b in recorded["answers"]]
    return Oracle(name, folder, entry, pages, answers, _segments(folder / "core.elf"))


def oracle(name: str) -> Oracle:
    """The image ``name``, or a skip that says why it is not there."""
    loaded = _load(name)
    if isinstance(loaded, str):
        pytest.skip(loaded)
    return loaded


def merge(pages: List[Tuple[int, int, int, str, bool]]) -> List[Tuple[int, int, int, int, str, bool]]:
    """Join consecutive (virtual, physical, page size, flags, in image) pages into ranges
    (virtual, physical, size, page size, flags, in image): the next page starts where the
    range ends, virtually and physically, with the same page size, flags and in-image."""
    out: List[list] = []
    for virtual, physical, size, flags, held in pages:
        last = out[-1] if out else None
        if last and last[0] + last[2] == virtual and last[1] + last[2] == physical \
                and (last[3], last[4], last[5]) == (size, flags, held):
            last[2] += size
        else:
            out.append([virtual, physical, size, size, flags, held])
    return [tuple(r) for r in out]


def canonical(address: int, bits: int) -> int:
    return fixtures.canonical(address, bits)

