"""ntinspect never changes the processes it inspects, read from its own source: no call that
writes to, closes in, injects into or stops another process is even declared, and every
handle duplication leaves the source handle open. (The live proof, children scanned many
times and unchanged afterwards, is tests/api/test_never_disturb_live.py.)"""
import ast
import re
import tokenize
from pathlib import Path

import pytest

import ntinspect

PACKAGE = Path(ntinspect.__file__).parent
CDEF = PACKAGE / "_native" / "cdef.h"

FORBIDDEN = {
    # writes into another process's memory, or changes its protection/allocations
    "WriteProcessMemory", "NtWriteVirtualMemory", "ZwWriteVirtualMemory", "VirtualAllocEx",
    "NtAllocateVirtualMemory", "NtProtectVirtualMemory", "VirtualProtectEx", "NtFreeVirtualMemory",
    # runs code in, stops or suspends another process or thread
    "CreateRemoteThread", "CreateRemoteThreadEx", "NtCreateThreadEx", "RtlCreateUserThread",
    "NtQueueApcThread", "QueueUserAPC", "TerminateProcess", "NtTerminateProcess", "TerminateThread",
    "NtTerminateThread", "NtSuspendProcess", "NtSuspendThread", "SuspendThread", "NtSetContextThread",
    "SetThreadContext", "DebugActiveProcess", "NtDebugActiveProcess",
    # changes another process's or object's settings, or closes its handles
    "NtSetInformationProcess", "SetProcessInformation", "NtSetInformationThread", "NtSetInformationObject",
    "SetHandleInformation", "NtSetSecurityObject", "SetKernelObjectSecurity", "DuplicateHandle",
    "NtMakeTemporaryObject", "NtSetValueKey", "NtDeleteKey", "NtDeleteFile", "NtWriteFile", "WriteFile",
}
"""Calls that change state outside ntinspect's own process. None may appear in the cdef."""


def declared_functions(text: str):
    return set(re.findall(r"\bWINAPI\s+(\w+)\s*\(", text))


def python_sources():
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "_ntcffi.py")  # generated from cdef.h


def test_the_cdef_declares_no_call_that_changes_another_process():
    declared = declared_functions(CDEF.read_text(encoding="utf-8"))
    assert len(declared) > 20  # the parse found the declarations
    assert not declared & FORBIDDEN, sorted(declared & FORBIDDEN)


def code_names(path: Path):
    """Every name in the code of ``path`` (identifiers and attributes; not strings or comments)."""
    with path.open("rb") as source:
        return {token.string for token in tokenize.tokenize(source.readline) if token.type == tokenize.NAME}


def test_no_code_names_a_forbidden_call_or_close_source():
    checked = 0
    for path in python_sources():
        named = code_names(path) & (FORBIDDEN | {"DUPLICATE_CLOSE_SOURCE"})
        assert not named, f"{path.relative_to(PACKAGE)}: {sorted(named)}"
        checked += 1
    assert checked > 30


def _calls(tree, names):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name in names:
                yield node


def test_ntduplicateobject_is_called_in_one_place_with_the_options_it_checks():
    """The raw NtDuplicateObject is called only by try_duplicate, which refuses
    DUPLICATE_CLOSE_SOURCE; no caller passes an options argument at all."""
    raw_sites, option_sites = [], []
    for path in python_sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree, {"NtDuplicateObject", "ZwDuplicateObject"}):
            if isinstance(call.func, ast.Attribute):  # dlls().ntdll.NtDuplicateObject(...)
                raw_sites.append(path.name)
        for call in _calls(tree, {"try_duplicate", "duplicate", "NtDuplicateObject", "ZwDuplicateObject"}):
            if isinstance(call.func, ast.Attribute) and call.func.attr in ("NtDuplicateObject", "ZwDuplicateObject"):
                continue  # the raw call, checked below
            if len(call.args) > 3 or any(k.arg == "options" for k in call.keywords):
                option_sites.append((path.name, call.lineno))
    assert raw_sites == ["process.py"]
    assert option_sites == [("process.py", _line_of("try_duplicate(process, value, access, options)"))]


def _line_of(snippet: str) -> int:
    lines = (PACKAGE / "_native" / "process.py").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if snippet in line)


def test_the_raw_duplicate_passes_the_options_unchanged_and_never_close_source():
    from ntinspect._native import process

    tree = ast.parse((PACKAGE / "_native" / "process.py").read_text(encoding="utf-8"))
    (call,) = [c for c in _calls(tree, {"NtDuplicateObject"}) if isinstance(c.func, ast.Attribute)]
    assert isinstance(call.args[-1], ast.Name) and call.args[-1].id == "options"
    assert process.DUPLICATE_SAME_ACCESS & 0x1 == 0  # the default never closes the source
    with pytest.raises(ValueError, match="DUPLICATE_CLOSE_SOURCE"):
        process.try_duplicate(0, 4, options=0x1 | 0x2)  # refused before any native call


def test_views_are_mapped_only_into_this_process():
    tree = ast.parse((PACKAGE / "_native" / "sections.py").read_text(encoding="utf-8"))
    for call in _calls(tree, {"NtMapViewOfSection", "NtUnmapViewOfSection"}):
        if isinstance(call.func, ast.Attribute):
            target = call.args[1] if call.func.attr == "NtMapViewOfSection" else call.args[0]
            assert isinstance(target, ast.Call) and target.func.id == "current_process", ast.dump(target)


def test_handles_asks_for_debug_privilege_only_through_the_restoring_scope():
    """Only privilege.py adjusts privileges; api.py enters its scope, never the raw call."""
    users = [path.relative_to(PACKAGE).as_posix() for path in python_sources()
             if "adjust_privilege" in path.read_text(encoding="utf-8")
             or "RtlAdjustPrivilege" in path.read_text(encoding="utf-8")]
    assert sorted(users) == ["_native/privilege.py", "privilege.py"]


def test_nothing_read_is_executed_or_unpickled():
    """No module imports or calls a deserializer that runs code, or evaluates text. (construct's
    ``.compile()`` turns ntinspect's own layout definitions into code, never read data.)"""
    runs_code = {"pickle", "cPickle", "marshal", "shelve", "dill", "eval", "exec", "__import__"}
    for path in python_sources():
        named = code_names(path) & runs_code
        assert not named, f"{path.relative_to(PACKAGE)}: {sorted(named)}"
