"""Real minidumps written by Windows programs, read through ntinspect.open().

Expected facts come from the files' provenance (tests/data/minidumps/README.md) and from
a plain struct reader (dumpkit.raw_*), never from ntinspect's own layouts.
"""
from collections import Counter

import numpy as np
import pytest

import ntinspect
from ntinspect.layouts.enums import SPECIFIC_RIGHTS, StandardRights
from ntinspect.models import NameStatus

from dumpkit import DATA, raw_handles, raw_pid, real_data

CET = DATA / "breakpad__tiny-exe-with-cet-xsave.dmp"
COPIED = sorted(DATA.glob("*.dmp"))


def test_the_copied_dumps_are_here():
    assert len(COPIED) == 5, "tests/data/minidumps lost a file"


@pytest.mark.parametrize("path", COPIED, ids=lambda p: p.name)
def test_every_dump_opens_and_answers_what_it_holds(path):
    from ntinspect.sources import Source

    with ntinspect.open(path) as source:
        assert isinstance(source, Source) and source.kind == "minidump"
        info = source.system_info()
        assert info.origin == "minidump" and info.version is not None
        (process,) = source.processes()
        assert process.pid == raw_pid(path.read_bytes())
        assert process.name.lower().endswith(".exe")
        for function in ("ports", "crossview", "namespace", "object_types", "resolve", "dos_path", "scan"):
            with pytest.raises(ntinspect.SourceUnsupported) as caught:
                getattr(source, function)()
            assert caught.value.function == function and "one process" in str(caught.value)
            assert isinstance(caught.value, ntinspect.NtInspectError)


def test_handles_match_the_plain_reading():
    data = CET.read_bytes()
    expected = raw_handles(data)
    with ntinspect.open(CET) as source:
        table = source.handles(names=True)
        (process,) = source.processes()
    assert len(table) == len(expected) == 147 == process.handle_count
    assert table.columns["value"].tolist() == [row["value"] for row in expected]
    assert table.columns["access"].tolist() == [row["access"] for row in expected]
    assert table.columns["attributes"].tolist() == [row["attributes"] for row in expected]
    assert table.columns["handle_count"].tolist() == [row["handle_count"] for row in expected]
    assert table.columns["pointer_count"].tolist() == [row["pointer_count"] for row in expected]
    shown = [row["type"] if row["type"] else "#0" for row in expected]
    assert table.type.tolist() == shown
    named_types = {row["type"] for row in expected if row["type"]}
    assert len(named_types) == 13 and set(table.type_names.values()) == named_types
    assert set(table.columns["pid"].tolist()) == {raw_pid(data)}
    # no object names were recorded in this dump: every row says so
    assert set(table.name_status.tolist()) == {NameStatus.NOT_RECORDED}
    assert all(name is None for name in table.names)


def test_rows_without_a_type_name_are_kept_as_index_zero():
    with ntinspect.open(CET) as source:
        table = source.handles()
    unnamed = table.filter(type="#0")
    expected = sum(1 for row in raw_handles(CET.read_bytes()) if row["type"] is None)
    assert len(unnamed) == expected > 0
    assert set(unnamed.columns["type_index"].tolist()) == {0}
    assert 0 not in table.type_names


def test_every_type_in_the_dump_has_an_access_table_and_names_its_bits():
    with ntinspect.open(CET) as source:
        table = source.handles()
    for handle in table:
        if handle.type == "#0":
            continue
        assert handle.type in SPECIFIC_RIGHTS, handle.type
        rights = SPECIFIC_RIGHTS[handle.type]
        named = 0
        for name in handle.access_names:
            if name in rights.__members__:
                named |= rights[name]
            elif name in StandardRights.__members__:
                named |= StandardRights[name]
        leftover = handle.access & ~named
        # TpWorkerFactory's 0xF00FF holds 0xC0, which no public header names
        assert leftover == (0xC0 if handle.type == "TpWorkerFactory" else 0), (handle.type, hex(handle.access))
    seen = set(table.type_names.values())
    assert {"WaitCompletionPacket", "IRTimer", "TpWorkerFactory", "ALPC Port"} <= seen


def test_filters_keep_the_extra_columns():
    with ntinspect.open(CET) as source:
        events = source.handles(type="Event")
        pid = int(source.processes()[0].pid)
        assert len(source.handles(pid=pid)) == 147
        assert len(source.handles(pid=pid + 1)) == 0
    expected = [row for row in raw_handles(CET.read_bytes()) if row["type"] == "Event"]
    assert len(events) == len(expected) == Counter(r["type"] for r in raw_handles(CET.read_bytes()))["Event"]
    assert events.columns["pointer_count"].tolist() == [row["pointer_count"] for row in expected]
    assert events.to_records()[0].type == "Event"


def test_handles_arguments_are_checked_as_for_live_handles():
    with ntinspect.open(CET) as source:
        with pytest.raises(TypeError):
            source.handles(pid=b"x")
        with pytest.raises(ntinspect.ProcessNotFound):  # an image name the dump's process does not have
            source.handles(pid="x")
        with pytest.raises(ValueError):
            source.handles(name_timeout=0)



def test_handles_take_every_argument_the_live_handles_take():
    """``users`` and ``progress`` as ntinspect.handles() takes them: a dump records no user
    (``not_recorded``), progress is told once the names are read."""
    seen = []
    with ntinspect.open(CET) as source:
        table = source.handles(names=True, users=True, progress=lambda done, total: seen.append((done, total)))
        with pytest.raises(TypeError):
            source.handles(progress=5)
    assert len(table) == 147 and seen[-1] == (147, 147)
    assert {(h.user, h.user_status) for h in table} == {(None, NameStatus.NOT_RECORDED)}


@pytest.mark.parametrize("options", [[], ["--names"], ["-u"], ["--dos"], ["-t", "Event"], ["--shared"]],
                         ids=" ".join)
@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv"])
def test_the_handles_command_reads_a_dump(options, fmt):
    """``ntinspect --source app.dmp handles`` in every format; before, every run ended in a
    TypeError traceback (the command passes users= and progress=)."""
    from clirun import run

    code, out, err = run("--source", CET, "handles", *options, "--format", fmt)
    assert code == 0, err
    assert "Traceback" not in err
    assert out.strip() or ("--shared" in options and fmt == "jsonl")  # one process shares nothing
    if fmt == "json" and "--shared" not in options:
        import json

        rows = json.loads(out)
        assert len(rows) == (147 if not options[:1] == ["-t"] else
                             Counter(r["type"] for r in raw_handles(CET.read_bytes()))["Event"])


def test_processes_take_the_pid_selector_as_live_processes_do():
    with ntinspect.open(CET) as source:
        (only,) = source.processes()
        assert [p.pid for p in source.processes(pid=only.pid)] == [only.pid]
        assert [p.pid for p in source.processes(pid=only.name)] == [only.pid]  # by image name
        assert list(source.processes(pid=[])) == []  # an empty collection selects nothing
        # what a minidump does not record says so (not 'not_requested': it was asked for)
        assert {getattr(only, f"{field}_status") for field in ("create_time", "user", "image_path", "command_line",
                                                               "wow64")} == {"not_recorded"}
        with pytest.raises(ntinspect.ProcessNotFound):
            source.processes(pid=only.pid + 4)
        with pytest.raises(TypeError):
            source.processes(pid=b"x")


@pytest.mark.parametrize("name", ["breakpad__tiny-exe-fastfail.dmp", "breakpad__thread_name_list.dmp",
                                  "breakpad__minidump2.dmp", "lldb__sigsegv.dmp"])
def test_dumps_without_handle_data_refuse_handles_and_say_so(name):
    with ntinspect.open(DATA / name) as source:
        with pytest.raises(ntinspect.SourceUnsupported, match="MiniDumpWithHandleData"):
            source.handles()
        assert source.processes()[0].handle_count == 0


# --- system_info from each dump, with the known traps ------------------------------------
def test_windows_11_ubr_from_the_csd_string():
    with ntinspect.open(CET) as source:
        info = source.system_info()
    assert info.version == (10, 0, 22000, 282) and info.csd_version == "282"
    assert info.ntdll_version == (10, 0, 22000, 282) and info.status_of("ubr") == "ok"
    assert (info.native_machine, info.process_machine, info.wow64) == ("AMD64", "AMD64", False)
    assert info.product == "workstation" and not info.wine


def test_enablement_package_keeps_the_os_build():
    with ntinspect.open(DATA / "breakpad__tiny-exe-fastfail.dmp") as source:
        info = source.system_info()
    assert info.build == 19042 and info.ntdll_version == (10, 0, 19041, 1806)
    assert info.enablement_package is True
    assert info.ubr is None and info.status_of("ubr") == "not_recorded"


def test_the_6_2_module_version_reads_as_windows_10():
    with ntinspect.open(DATA / "breakpad__thread_name_list.dmp") as source:
        info = source.system_info()
        raw = [m for m in source.modules() if m[0].lower().endswith("ntdll.dll")]
    assert info.ntdll_version == (10, 0, 17763, 1192) == raw[0][2]
    assert info.native_machine == "x86" and info.build == 17763


def test_windows_xp_service_pack_is_not_a_ubr():
    with ntinspect.open(DATA / "breakpad__minidump2.dmp") as source:
        info = source.system_info()
    assert info.version == (5, 1, 2600, None) and info.csd_version == "Service Pack 2"
    assert info.ntdll_version == (5, 1, 2600, 2180)
    assert info.status_of("ntoskrnl_version") == "not_recorded"


def test_wow64_full_dump_with_an_empty_handle_stream():
    shared = real_data()
    if shared is None or not (shared / "lldb__fizzbuzz_wow64.dmp").exists():
        pytest.skip("lldb__fizzbuzz_wow64.dmp (9 MB, not copied into the repository) is read from the "
                    "shared real-data folder, which this machine does not have (set NTINSPECT_REAL_DATA)")
    with ntinspect.open(shared / "lldb__fizzbuzz_wow64.dmp") as source:
        info = source.system_info()
        table = source.handles(names=True)
        (process,) = source.processes()
    assert info.version == (6, 1, 7601, None) and info.csd_version == "Service Pack 1"
    assert (info.native_machine, info.process_machine, info.wow64) == ("AMD64", "x86", True)
    assert len(table) == 0 and process.handle_count == 0 and len(table.names) == 0
    assert table.columns["pid"].dtype == np.uint64


def test_a_kernel_dump_is_named_as_such():
    shared = real_data()
    if shared is None or not (shared / "imhex-patterns__dmp64-header.bin").exists():
        pytest.skip("the kernel dump header (GPL-2.0, kept out of the repository) is read from the shared "
                    "real-data folder, which this machine does not have (set NTINSPECT_REAL_DATA)")
    with pytest.raises(ntinspect.SourceFormatError, match="kernel crash dump"):
        ntinspect.open(shared / "imhex-patterns__dmp64-header.bin")
