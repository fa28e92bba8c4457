"""bench_memory: ntinspect.memory against volatility3's Intel layers, on QEMU's real page
tables (the four images of tools/qemu_fixtures.py), all rows in one run (issue #14).

    python3 tools/qemu_fixtures.py build                    # the images (cached under .cache/qemu)
    python3 tools/winebench.py host-benchmark bench_memory  # host venv: the wheel, volatility3

Per image (x86, pae, x64, la57; volatility3 2.28.2 has no 5-level layer, so la57 times
ntinspect alone), against ``Intel``/``IntelPAE``/``Intel32e`` over its ``Elf64Layer``:

1. ``translate()`` on 100,000 random mapped addresses (a random page of QEMU's ``info
   tlb`` list, a random offset in it), one call each; % agreement with QEMU for both.
2. ``translate_many()`` on 1,000,000 such addresses against volatility3's ``translate()``
   loop over the same addresses (timed once: ~30 s an image), and against its per-call
   time in row 1.
3. ``mappings()`` over the whole address space against volatility3's ``mapping(0, max)``.
4. Peak memory of one walk (mappings() and translate_many() of 1,000,000 addresses), in a
   fresh process each: the x64 core, and its RAM copied into sparse raw images of 4 GiB
   and 64 GiB: the peak must not grow with the image (the image is mapped, not read).

Times: best of ``ROUNDS`` interleaved rounds (benchmarks/timing.py). Exit status 1 when
ntinspect disagrees with QEMU anywhere.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tools"))
import qemu_fixtures as fixtures  # noqa: E402
from timing import best_interleaved  # noqa: E402

import ntinspect.memory as memory  # noqa: E402

CALLS = 100_000
MANY = 1_000_000
ROUNDS = 3
SEED = 14


def volatility_layer(core: Path, mode: str, cr3: int):
    """volatility3's layer stack: FileLayer -> Elf64Layer -> Intel/IntelPAE/Intel32e at CR3."""
    from volatility3.framework import contexts
    from volatility3.framework.layers import elf, intel, physical

    ctx = contexts.Context()
    ctx.config["file.location"] = core.resolve().as_uri()
    ctx.add_layer(physical.FileLayer(ctx, "file", "file"))
    ctx.config["elf.base_layer"] = "file"
    ctx.add_layer(elf.Elf64Layer(ctx, "elf", "elf"))
    ctx.config["virt.memory_layer"] = "elf"
    ctx.config["virt.page_map_offset"] = cr3
    layer = {"x86": intel.Intel, "pae": intel.IntelPAE, "x64": intel.Intel32e}[mode](ctx, "virt", "virt")
    ctx.add_layer(layer)
    return layer


def random_mapped(pages: list, count: int, rng) -> tuple:
    """``count`` addresses inside QEMU's pages (page uniform, offset uniform) and QEMU's answer."""
    virtual = np.array([p.virtual for p in pages], dtype=np.uint64)
    physical = np.array([p.physical for p in pages], dtype=np.uint64)
    size = np.array([p.size for p in pages], dtype=np.uint64)
    pick = rng.integers(len(pages), size=count)
    offset = (rng.random(count) * size[pick]).astype(np.uint64)
    return virtual[pick] + offset, physical[pick] + offset


def ours_translate(space, addresses: list) -> list:
    translate = space.translate
    return [translate(a).physical for a in addresses]


def vol_translate(layer, addresses: list) -> list:
    translate = layer.translate
    out = []
    for a in addresses:
        try:
            out.append(translate(a)[0])
        except Exception:  # volatility3's InvalidAddressException family: a hole, as it sees it
            out.append(None)
    return out


def bench_image(name: str, entry: dict) -> dict:
    folder = fixtures.CACHE / entry["folder"]
    core = folder / "core.elf"
    pages = fixtures.recorded_pages(folder, entry["mode"])
    rng = np.random.default_rng(SEED)
    calls_va, calls_pa = random_mapped(pages, CALLS, rng)
    many_va, many_pa = random_mapped(pages, MANY, rng)
    addresses = calls_va.tolist()
    expected = calls_pa.tolist()
    space = memory.open(core)
    layer = None if name == "la57" else volatility_layer(core, entry["mode"], int(entry["cr3"], 16))
    row = {"image": name, "pages": len(pages), "core_mib": round(core.stat().st_size / 2**20)}

    ours = ours_translate(space, addresses)
    row["ours_agree"] = sum(a == b for a, b in zip(ours, expected)) / CALLS
    many = space.translate_many(many_va)
    row["many_agree"] = float(np.mean(many.physical == many_pa))
    if layer is not None:
        theirs = vol_translate(layer, addresses)
        row["vol_agree"] = sum(a == b for a, b in zip(theirs, expected)) / CALLS
        row["vol_fail"] = sum(t is None for t in theirs)

    functions = {"translate": lambda: ours_translate(space, addresses),
                 "translate_many": lambda: space.translate_many(many_va),
                 "mappings": lambda: list(space.mappings())}
    if layer is not None:
        functions["vol_translate"] = lambda: vol_translate(layer, addresses)
        functions["vol_mapping"] = lambda: list(layer.mapping(0, layer.maximum_address, ignore_errors=True))
    times = best_interleaved(functions, ROUNDS)
    row.update({f"t_{k}": v for k, v in times.items()})
    if layer is not None:
        # volatility3's loop over the same 1,000,000 addresses, once (~30 s an image)
        many_list = many_va.tolist()
        started = time.perf_counter()
        vol_translate(layer, many_list)
        row["t_vol_many"] = time.perf_counter() - started
    row["ranges"] = sum(1 for _ in space.mappings())
    if layer is not None:
        vol_ranges = list(layer.mapping(0, layer.maximum_address, ignore_errors=True))
        row["vol_ranges"] = len(vol_ranges)
        row["vol_bytes"] = sum(r[1] for r in vol_ranges)
        row["ours_in_image_bytes"] = sum(m.size for m in space.mappings() if m.in_image)
    space.close()
    return row


# --- peak memory, one fresh process per image ------------------------------------------------------

def proc_status_kib(field: str) -> int:
    """A ``/proc/self/status`` value in KiB (Linux). VmHWM is this process image's peak
    resident size; getrusage's ru_maxrss is not used, as it keeps the parent's peak across
    exec."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def peak_child(path: str, cr3: int, mode: str) -> None:
    """(child) Walk the image once and print peak traced and resident memory."""
    base_rss = proc_status_kib("VmRSS")
    tracemalloc.start()
    space = memory.open(path, dtb=cr3, mode=mode)
    ranges = list(space.mappings())
    _, walk_traced = tracemalloc.get_traced_memory()
    walk_rss = proc_status_kib("VmHWM")
    tracemalloc.reset_peak()
    rng = np.random.default_rng(SEED)
    pick = rng.integers(len(ranges), size=MANY)
    start = np.array([r.virtual for r in ranges], dtype=np.uint64)[pick]
    size = np.array([r.size for r in ranges], dtype=np.uint64)[pick]
    addresses = start + (rng.random(MANY) * size).astype(np.uint64)  # mapped ones: full walks
    result = space.translate_many(addresses)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = proc_status_kib("VmHWM")
    print(json.dumps({"ranges": len(ranges), "ok": int(np.sum(result.status == 0)),
                      "walk_traced_mib": walk_traced / 2**20, "walk_rss_growth_mib": (walk_rss - base_rss) / 1024,
                      "traced_mib": traced / 2**20, "rss_growth_mib": (rss - base_rss) / 1024}))
    space.close()


def sparse_copy(core: Path, size: int, folder: Path) -> Path:
    """The core's RAM at its physical addresses in a sparse raw file of ``size`` bytes."""
    from elftools.elf.elffile import ELFFile

    target = folder / f"raw-{size >> 30}GiB.img"
    with open(core, "rb") as f, open(target, "wb") as out:
        out.truncate(size)
        for segment in ELFFile(f).iter_segments():
            if segment["p_type"] == "PT_LOAD" and segment["p_filesz"]:
                f.seek(segment["p_offset"])
                out.seek(segment["p_paddr"])
                out.write(f.read(segment["p_filesz"]))
    return target


def peaks(entry: dict) -> list:
    core = fixtures.CACHE / entry["folder"] / "core.elf"
    cr3 = int(entry["cr3"], 16)
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        images = [("ELF core", core)] + [(f"sparse raw {gib} GiB", sparse_copy(core, gib << 30, Path(tmp)))
                                         for gib in (4, 64)]
        for label, path in images:
            child = subprocess.run([sys.executable, __file__, "--peak", str(path), str(cr3), entry["mode"]],
                                   capture_output=True, timeout=600, check=True)
            out.append((label, path.stat().st_size, json.loads(child.stdout)))
    return out


def main() -> int:
    manifest = fixtures.read_manifest()
    images = [n for n in ("x86", "pae", "x64", "la57") if n in manifest["images"]]
    if not images:
        print("no QEMU images: run python3 tools/qemu_fixtures.py build", file=sys.stderr)
        return 2
    from importlib.metadata import version

    print(f"ntinspect.memory vs volatility3 {version('volatility3')} "
          f"(Python {sys.version.split()[0]}, numpy {np.__version__}; best of {ROUNDS} interleaved rounds; "
          f"{time.strftime('%Y-%m-%d')})")
    rows = []
    for name in images:
        entry = manifest["images"][name]
        print(f"- {name}: {entry['kernel']['package']} {entry['kernel']['version']}, -cpu {entry['cpu']}, "
              f"CR3 {entry['cr3']} CR4 {entry['cr4']}", flush=True)
        rows.append(bench_image(name, entry))
    print()
    print("| image | pages | translate() x100k: ours s / vol3 s = x | agreement with QEMU: ours / vol3 "
          "| 1M addresses: translate_many() s / vol3's translate() loop s (once) = x | mappings(): ours s / vol3 s = x |")
    print("|---|---|---|---|---|---|")
    worst = 0
    for r in rows:
        per_ours = r["t_translate_many"] / MANY
        if "t_vol_translate" in r:
            per_vol = r["t_vol_translate"] / CALLS
            tr = f"{r['t_translate']:.3f} / {r['t_vol_translate']:.3f} = {r['t_vol_translate'] / r['t_translate']:.1f}x"
            agree = (f"{100 * r['ours_agree']:.3f}% / {100 * r['vol_agree']:.3f}% "
                     f"({r['vol_fail']} raised)")
            many = (f"{r['t_translate_many']:.3f} / {r['t_vol_many']:.1f} = {r['t_vol_many'] / r['t_translate_many']:.0f}x "
                    f"({per_vol / per_ours:.0f}x against the 100k loop's per-call time)")
            maps = f"{r['t_mappings']:.4f} / {r['t_vol_mapping']:.4f} = {r['t_vol_mapping'] / r['t_mappings']:.1f}x"
        else:
            tr = f"{r['t_translate']:.3f} / n/a"
            agree = f"{100 * r['ours_agree']:.3f}% / n/a"
            many = f"{r['t_translate_many']:.3f}; n/a"
            maps = f"{r['t_mappings']:.4f} / n/a"
        print(f"| {r['image']} | {r['pages']} | {tr} | {agree} | {many} | {maps} |")
        if r["ours_agree"] != 1.0 or r["many_agree"] != 1.0:
            worst = 1
    print()
    for r in rows:
        if "vol_ranges" in r:
            print(f"- {r['image']}: ours {r['ranges']} ranges ({r['ours_in_image_bytes']} bytes in the image); "
                  f"volatility3 {r['vol_ranges']} ranges, {r['vol_bytes']} bytes (it leaves out what the image "
                  f"lacks and merges across flags); translate_many agreement {100 * r['many_agree']:.3f}%")
    if "x64" in manifest["images"]:
        print()
        print("| x64 image | file bytes | mappings(): peak traced MiB, RSS growth MiB "
              "| then translate_many() of 1M mapped addresses: peak traced MiB, RSS growth MiB |")
        print("|---|---|---|---|")
        for label, size, p in peaks(manifest["images"]["x64"]):
            print(f"| {label} | {size} | {p['walk_traced_mib']:.2f}, {p['walk_rss_growth_mib']:.1f} "
                  f"| {p['traced_mib']:.1f}, {p['rss_growth_mib']:.1f} |")
    return worst


if __name__ == "__main__":
    if sys.argv[1:2] == ["--peak"]:
        peak_child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        sys.exit(0)
    sys.exit(main())
