#!/usr/bin/env python3
"""Generate ntinspect/_status_table.py from the NTSTATUS and Win32 error headers.

The headers come from the Debian package mingw-w64-common
(``apt-get install mingw-w64-common``); Wine's headers (package libwine-dev,
/usr/include/wine/wine/windows/) are accepted too, via --ntstatus, --winerror
and --package.  Only object-like ``#define NAME value`` lines are read;
preprocessor conditionals are ignored and the first definition of a name wins.

Usage: python3 tools/gen_status_table.py [--ntstatus H] [--winerror H] [--package PKG] [-o OUT]
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = "mingw-w64-common"
INCLUDE_DIR = Path("/usr/share/mingw-w64/include")
OUTPUT = Path(__file__).resolve().parent.parent / "ntinspect" / "_status_table.py"

# Name families that denote NTSTATUS values in ntstatus.h, and what to show
# in place of the prefix in a derived message ("" means: drop it).
NT_FAMILIES = {"STATUS_": "", "DBG_": "DBG", "RPC_NT_": "RPC", "EPT_NT_": "EPT"}
NT_EXCLUDED = ("STATUS_SEVERITY_",)  # severity field values, not status codes
WIN32_MAX = 0x10000

_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)\s+(.+)$")  # no function-like macros
_WRAPPER = re.compile(r"\b(?:_HRESULT_TYPEDEF_|_NDIS_ERROR_TYPEDEF_|__MSABI_LONG)\b")
_CAST = re.compile(r"\(\s*(?:NTSTATUS|HRESULT|SCODE|LONG|ULONG|DWORD|int|long|unsigned(?:\s+\w+)?)\s*\)")
_NUMBER = re.compile(r"(-?)(0[xX][0-9A-Fa-f]+|\d+)[uUlL]*")
_HRESULT_STYLE = re.compile(r"HRESULT|_TYPEDEF_")
_MESSAGE_ID = re.compile(r"^MessageId:\s*(\w+)")

Table = dict[int, tuple[str, str]]


def parse_header(path: Path) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Return the header's (name, value text) defines in order, and any MessageText by name."""
    text = path.read_text(encoding="latin-1").replace("\\\n", " ")
    defines: list[tuple[str, str]] = []
    messages: dict[str, str] = {}
    message_id: str | None = None
    collected: list[str] | None = None  # lines of the MessageText block being read
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            body = stripped[2:].strip()
            match = _MESSAGE_ID.match(body)
            if match:
                message_id, collected = match.group(1), None
            elif body == "MessageText:" and message_id:
                collected = []
            elif collected is not None and body:
                collected.append(body)
            continue
        if collected and message_id:
            messages.setdefault(message_id, " ".join(collected))
        message_id = collected = None
        match = _DEFINE.match(line)
        if match:
            value = re.sub(r"/\*.*?\*/", " ", match.group(2)).split("//")[0].strip()
            defines.append((match.group(1), value))
    return defines, messages


def evaluate(expr: str, known: dict[str, int]) -> int | None:
    """Evaluate a status value (number, cast, typedef macro or known alias) as unsigned 32-bit."""
    bare = _CAST.sub(" ", _WRAPPER.sub(" ", expr)).replace("(", " ").replace(")", " ").strip()
    match = _NUMBER.fullmatch(bare)
    if match:
        digits = match.group(2)
        value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 10)
        return (-value if match.group(1) else value) & 0xFFFFFFFF
    return known.get(bare)


def derive_message(name: str, families: dict[str, str]) -> str:
    """STATUS_OBJECT_NAME_NOT_FOUND -> 'Object name not found'."""
    for prefix, label in families.items():
        if name.startswith(prefix):
            words = ([label] if label else []) + name[len(prefix):].lower().split("_")
            break
    else:
        words = name.lower().split("_")
    text = " ".join(word for word in words if word)
    return text[:1].upper() + text[1:]


def build_table(path: Path, families: dict[str, str], *, win32: bool = False) -> Table:
    """Map code -> (name, message) for the selected defines of one header."""
    defines, messages = parse_header(path)
    known: dict[str, int] = {}
    table: Table = {}
    for name, expr in defines:
        if name in known:  # redefinition (e.g. another #if branch): first one wins
            continue
        value = evaluate(expr, known)
        if value is None:
            continue
        known[name] = value
        if not name.startswith(tuple(families)) or name.startswith(NT_EXCLUDED):
            continue
        if win32 and (value >= WIN32_MAX or _HRESULT_STYLE.search(expr)):
            continue
        entry = (name, messages.get(name) or derive_message(name, families))
        current = table.get(value)
        if current is None or (not current[0].startswith("STATUS_") and name.startswith("STATUS_")):
            table[value] = entry
    return table


def package_version(package: str) -> str:
    try:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                                capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"error: cannot read the version of {package} with dpkg-query ({exc}); "
                 f"install it with: apt-get install {package}")
    return result.stdout.strip()


def render(package: str, version: str, nt: Table, win32: Table, sources: list[str],
           command: str) -> str:
    def entries(table: Table, hex_keys: bool) -> list[str]:
        return [f"    {f'0x{code:08X}' if hex_keys else code}: ({json.dumps(name)}, {json.dumps(message)}),"
                for code, (name, message) in sorted(table.items())]

    return "\n".join([
        f"# Generated by tools/gen_status_table.py from {package} {version}; do not edit.",
        f"# Sources: {', '.join(sources)} from the Debian package {package}.",
        f"# Regenerate: apt-get install {package} && {command}",
        '"""NTSTATUS codes and Win32 error codes: code -> (symbolic name, message)."""',
        "",
        "NTSTATUS: dict[int, tuple[str, str]] = {",
        *entries(nt, hex_keys=True),
        "}",
        "",
        "WIN32_ERRORS: dict[int, tuple[str, str]] = {",
        *entries(win32, hex_keys=False),
        "}",
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ntstatus", type=Path, default=INCLUDE_DIR / "ntstatus.h")
    parser.add_argument("--winerror", type=Path, default=INCLUDE_DIR / "winerror.h")
    parser.add_argument("--package", default=PACKAGE, help="Debian package the headers come from")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)

    for header in (args.ntstatus, args.winerror):
        if not header.is_file():
            sys.exit(f"error: {header} not found; install the headers with: "
                     f"apt-get install {args.package}")
    nt = build_table(args.ntstatus, NT_FAMILIES)
    win32 = build_table(args.winerror, {"ERROR_": ""}, win32=True)
    command = "python3 tools/gen_status_table.py"
    if (args.package, args.ntstatus, args.winerror) != (PACKAGE, INCLUDE_DIR / "ntstatus.h",
                                                        INCLUDE_DIR / "winerror.h"):
        command += f" --package {args.package} --ntstatus {args.ntstatus} --winerror {args.winerror}"
    text = render(args.package, package_version(args.package), nt, win32,
                  [args.ntstatus.name, args.winerror.name], command)
    with open(args.output, "w", encoding="utf-8", newline="\n") as out:
        out.write(text)
    print(f"wrote {args.output}: {len(nt)} NTSTATUS, {len(win32)} Win32 error codes")


if __name__ == "__main__":
    main()
