r"""``ntinspect mem``: page tables and physical memory of an image.

    ntinspect mem info guest.elf                     format, ranges, holes, CPU state, mode, dtb
    ntinspect mem maps guest.elf                     every mapped range (merged; --pages: one per page)
    ntinspect mem translate guest.elf 0xffffffff81000000 0xc0000000
    ntinspect mem pte image.raw 0x80501234 --dtb 0x30000 --mode x86   the seed's PDE/PTE walk
    ntinspect mem read guest.elf 0xffffffff81000000 64               hexdump

Addresses are numbers as Python writes them (``0x`` hex, or decimal); digits with a-f and
no prefix are read as hex, as QEMU prints them.
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List

from ..errors import InvalidAddress, NtInspectError
from .render import add_format_option, hex_fields, render

MAP_COLUMNS = ["virtual", "end", "physical", "size", "page_size", "flags", "writable", "user", "nx", "in_image",
               "status"]
TRANSLATE_COLUMNS = ["address", "physical", "page_size", "in_image", "status", "detail"]
ENTRY_COLUMNS = ["level", "address", "value", "layout", "fields"]


def address(text: str) -> int:
    """An address: ``0x``/``0o``/``0b`` or decimal, else hex digits (argparse type)."""
    try:
        value = int(text, 0)
    except ValueError:
        try:
            value = int(text, 16)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an address: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"an address is not negative: {text!r}")
    return value


def length(text: str) -> int:
    """A byte count for ``read``/``pte``: an :func:`address` from 0 to the most one read
    returns (``ntinspect.memory.MAX_READ``, 1 GiB) (argparse type)."""
    from ..memory.physical import MAX_READ

    try:
        value = address(text)
    except argparse.ArgumentTypeError:
        value = -1
    if not 0 <= value <= MAX_READ:
        raise argparse.ArgumentTypeError(f"a length is a number of bytes from 0 to {MAX_READ:#x}, not {text!r}")
    return value


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``mem`` subcommand (with info, maps, translate, pte, read) to ``subparsers``."""
    parser = subparsers.add_parser("mem", help="page tables and physical memory of a memory image",
                                   description="Translate virtual addresses through the page tables of a "
                                               "memory image (raw, ELF core, LiME, or \\Device\\PhysicalMemory).")
    sub = parser.add_subparsers(dest="mem_command", required=True)

    def common(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help)
        p.add_argument("image", metavar="IMAGE", help="memory image (raw, ELF core, LiME) or \\Device\\PhysicalMemory")
        p.add_argument("--dtb", type=address, help="directory table base (CR3); default: from the image")
        p.add_argument("--mode", choices=("x86", "pae", "x64", "la57"), help="paging mode; default: from the image")
        add_format_option(p)
        return p

    common("info", "what the image is: format, physical ranges, holes, CPU state, mode, dtb")
    p = common("maps", "every mapped virtual range, in address order")
    p.add_argument("--pages", action="store_true", help="one line per page (as QEMU's info tlb), not merged")
    p = common("translate", "virtual to physical, one line per address")
    p.add_argument("addresses", metavar="ADDR", nargs="+", type=address)
    p = common("pte", "the page-table entries of an address, decoded, and its bytes")
    p.add_argument("addr", metavar="ADDR", type=address)
    p.add_argument("--length", type=length, default=64, help="bytes to show from ADDR (default 64)")
    p = common("read", "virtual memory as a hexdump")
    p.add_argument("addr", metavar="ADDR", type=address)
    p.add_argument("length", metavar="LEN", type=length)
    p.add_argument("--zero-fill", action="store_true", help="read unmapped or missing pages as zeros")
    return parser


def hexdump(base: int, data: bytes) -> str:
    """Lines of 16 bytes: address, hex bytes, printable ASCII."""
    lines = []
    for at in range(0, len(data), 16):
        chunk = data[at:at + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{base + at:016x}  {chunk.hex(' '):<47}  {text}")
    return "\n".join(lines)


def _fault(error: InvalidAddress) -> Dict[str, Any]:
    return {"status": type(error).__name__, "detail": str(error)}


def _entry_rows(translation) -> List[Dict[str, Any]]:
    rows = []
    for e in translation.entries:
        fields = " ".join(f"{k}={v:#x}" if isinstance(v, int) and not isinstance(v, bool) else f"{k}={int(v)}"
                          for k, v in e.fields.items())
        rows.append({"level": e.level, "address": e.address, "value": e.value, "layout": e.layout,
                     "fields": fields})
    return rows


def run(args: argparse.Namespace) -> int:
    """Open the image and run the ``mem`` subcommand."""
    from .. import memory
    from . import CliError

    try:
        space = memory.open(args.image, dtb=args.dtb, mode=args.mode)
    except ValueError as error:  # a dtb the mode cannot hold; a bad image stays a failure
        if isinstance(error, NtInspectError):
            raise
        raise CliError(str(error)) from None
    with space:
        return COMMANDS[args.mem_command](space, args)


def _info(space, args) -> int:
    info = space.info()
    if args.format in ("json", "jsonl"):
        print(json.dumps(info, indent=2 if args.format == "json" else None, default=str))
        return 0
    number = _number(args.format)
    rows = [{"key": "format", "value": info["format"]}, {"key": "path", "value": info["path"]},
            {"key": "mode", "value": info["mode"]}, {"key": "dtb", "value": number(info["dtb"])},
            {"key": "bytes", "value": number(info["bytes"])}]
    rows += [{"key": "range", "value": f"{number(a)}-{number(b)}"} for a, b in info["ranges"]]
    rows += [{"key": "hole", "value": f"{number(a)}-{number(b)}"} for a, b in info["holes"]]
    rows += [{"key": k, "value": number(v) if isinstance(v, int) and not isinstance(v, bool) else v}
             for k, v in info["cpu_state"].items()]
    print(render(rows, ["key", "value"], args.format))
    return 0


def _number(fmt: str):
    """How an integer is written: hex in tables, decimal in every machine format (the
    output contract: CSV as JSON)."""
    return (lambda v: f"{v:#x}") if fmt == "table" else (lambda v: v)


def _maps(space, args) -> int:
    rows = []
    for m in space.mappings(merge=not args.pages, problems=True):
        rows.append({"virtual": m.virtual, "end": m.end, "physical": m.physical, "size": m.size,
                     "page_size": m.page_size, "flags": m.flags, "writable": m.writable, "user": m.user,
                     "nx": m.nx, "in_image": m.in_image, "status": m.status})
    if args.format == "table":
        rows = hex_fields(rows, "virtual", "end", "physical", "size", "page_size")
    print(render(rows, MAP_COLUMNS, args.format))
    return 0


def _translate(space, args) -> int:
    rows = []
    for a in args.addresses:
        try:
            t = space.translate(a)
            rows.append({"address": a, "physical": t.physical, "page_size": t.page_size, "in_image": t.in_image,
                         "status": "ok" if t.in_image else "AddressNotInImage", "detail": ""})
        except InvalidAddress as error:
            rows.append({"address": a, "physical": None, "page_size": None, "in_image": None, **_fault(error)})
    if args.format == "table":
        rows = hex_fields(rows, "address", "physical", "page_size")
    print(render(rows, TRANSLATE_COLUMNS, args.format))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def _pte(space, args) -> int:
    t = space.translate(args.addr)
    entries = _entry_rows(t)
    try:
        data, error = space.read(args.addr, max(0, args.length)), None
    except InvalidAddress as fault:
        data, error = b"", str(fault)
    if args.format in ("json", "jsonl"):
        print(json.dumps({"address": args.addr, "physical": t.physical, "page_size": t.page_size,
                          "in_image": t.in_image, "writable": t.writable, "user": t.user, "nx": t.nx,
                          "entries": entries, "bytes": data.hex(), "error": error},
                         indent=2 if args.format == "json" else None))
        return 0
    if args.format == "csv":  # the entries only: one record per level walked
        print(render(entries, ENTRY_COLUMNS, "csv"))
        return 0
    print(f"{args.addr:#x} -> physical {t.physical:#x} (page {t.page_size:#x} bytes, "
          f"{'in' if t.in_image else 'NOT in'} the image; writable={int(t.writable)} user={int(t.user)} "
          f"nx={int(t.nx)})")
    print(render(hex_fields(entries, "address", "value"), ENTRY_COLUMNS, args.format))
    print(hexdump(args.addr, data) if error is None else f"bytes: {error}")
    return 0


def _read(space, args) -> int:
    data = space.read(args.addr, args.length, zero_fill=args.zero_fill)
    if args.format in ("json", "jsonl"):
        print(json.dumps({"address": args.addr, "length": len(data), "bytes": data.hex()}))
    elif args.format == "csv":
        print("address,hex")
        for at in range(0, len(data), 16):
            print(f"{args.addr + at},{data[at:at + 16].hex()}")
    else:
        print(hexdump(args.addr, data))
    return 0


COMMANDS = {"info": _info, "maps": _maps, "translate": _translate, "pte": _pte, "read": _read}
