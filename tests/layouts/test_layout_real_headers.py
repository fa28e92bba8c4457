"""Offsets and sizes of the layouts against the *real* mingw-w64 headers (not a transcription),
compiled for i686 and x86_64 (offsetof/sizeof read back from the generated assembly).

Fields the mingw headers name differently (``Reserved``) are skipped; every field the header
does declare must sit at the same offset, and every structure must have C's size (a variable one with its single ``[1]`` element).
"""
import re
import shutil
import subprocess

import pytest

from ntinspect.layouts import c_sizeof, layouts, offset_of
from ntinspect.layouts.base import unwrap

COMPILERS = {4: "i686-w64-mingw32-gcc", 8: "x86_64-w64-mingw32-gcc"}

USER = """#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <winternl.h>
#include <iphlpapi.h>
#include <iprtrmib.h>
#include <tcpmib.h>
#include <udpmib.h>
#include <stddef.h>
"""
TDI = """#include <windows.h>
#include <ntdef.h>
#include <tdi.h>
#include <stddef.h>
"""
GROUPS = [
    (USER, ["UNICODE_STRING", "OBJECT_ATTRIBUTES", "IO_STATUS_BLOCK", "CLIENT_ID", "GENERIC_MAPPING",
            "SYSTEM_PROCESS_INFORMATION", "SYSTEM_THREAD_INFORMATION", "OBJECT_TYPE_INFORMATION",
            "OBJECT_NAME_INFORMATION", "MIB_TCPROW_OWNER_PID", "MIB_TCP6ROW_OWNER_PID",
            "MIB_UDPROW_OWNER_PID", "MIB_UDP6ROW_OWNER_PID", "MIB_TCPROW", "MIB_TCP6ROW", "MIB_UDPROW",
            "MIB_UDP6ROW", "MIB_TCPTABLE_OWNER_PID", "MIB_TCP6TABLE_OWNER_PID", "MIB_UDPTABLE_OWNER_PID",
            "MIB_UDP6TABLE_OWNER_PID", "MIB_TCPTABLE", "MIB_TCP6TABLE", "MIB_UDPTABLE", "MIB_UDP6TABLE",
            ("sockaddr_in", "struct sockaddr_in"), ("sockaddr_in6", "struct sockaddr_in6"), "LINGER"]),
    (TDI, ["TDI_REQUEST", "TDI_CONNECTION_INFORMATION", "TDI_REQUEST_QUERY_INFORMATION",
           "TDI_CONNECTION_INFO", "TA_ADDRESS", "TRANSPORT_ADDRESS", "TDI_ADDRESS_IP", "TDI_ADDRESS_IP6",
           "TDI_ADDRESS_INFO"]),
]
# mingw declares SYSTEM_PROCESS_INFORMATION through IoCounters (with reserved names):
# its size differs from the layout by design and is not compared.
SIZE_SKIP = {"SYSTEM_PROCESS_INFORMATION"}


def _measure(width, header, names, tmp_path):
    lines = header.splitlines()
    for entry in names:
        name, ctype = (entry, entry) if isinstance(entry, str) else entry
        lines.append(f"const unsigned int S__{name} = sizeof({ctype});")
        for field in unwrap(layouts(width)[name]).subcons:
            if field.name:
                lines.append(f"const unsigned int O__{name}__{field.name} = offsetof({ctype}, {field.name});")
    dropped = set()
    source, asm = tmp_path / f"m{width}.c", tmp_path / f"m{width}.s"
    for _ in range(len(lines)):
        kept = [line for line in lines if not any(d in line for d in dropped)]
        source.write_text("\n".join(kept))
        done = subprocess.run([COMPILERS[width], "-S", "-O0", "-I/usr/share/mingw-w64/include/ddk",
                               "-o", str(asm), str(source)], capture_output=True, text=True)
        if done.returncode == 0:
            break
        errors = [int(n) for n in re.findall(r"\.c:(\d+):\d+: error", done.stderr)]
        assert errors, done.stderr[:2000]
        for number in errors:  # a field the header names differently: skip it
            dropped.add(re.search(r"([OS]__\w+) =", kept[number - 1]).group(1) + " =")
    values, current = {}, None
    for line in asm.read_text().splitlines():
        label = re.match(r"_?([OS]__\w+):", line)
        if label:
            current = label.group(1)
            continue
        value = re.match(r"\s+\.long\s+(\d+)", line)
        if value and current:
            values[current] = int(value.group(1))
            current = None
    return values


@pytest.mark.parametrize("width", (4, 8))
@pytest.mark.parametrize("group", range(len(GROUPS)))
def test_offsets_and_sizes_match_the_mingw_headers(width, group, tmp_path):
    if not shutil.which(COMPILERS[width]):
        pytest.skip(f"{COMPILERS[width]} is not installed (apt install gcc-mingw-w64): the offsets are "
                    "checked against the committed header tables only")
    header, names = GROUPS[group]
    values = _measure(width, header, names, tmp_path)
    assert len(values) > 30
    wrong = []
    for key, expected in values.items():
        kind, name, *field = key.split("__")
        struct = layouts(width)[name]
        if kind == "S":
            if name in SIZE_SKIP:
                continue
            actual = c_sizeof(struct)  # C's sizeof also for the variable ones (one [1] element)
        else:
            actual = offset_of(struct, field[0])
        if actual != expected:
            wrong.append((key, expected, actual))
    assert not wrong
