"""ntinspect.diff and ``ntinspect diff`` on the host: the identity rules on states built to
order (reused pids and handle values, unknown creation times, shared UDP endpoints), and
real minidumps (tests/data/minidumps) against themselves and against dumps built from
their own handle list with known edits."""
import csv
import io
import json
from contextlib import redirect_stderr
from datetime import datetime, timedelta, timezone

import pytest

import ntinspect
from ntinspect.cli import main
from ntinspect.cli.output import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE
from ntinspect.compare import COMPARED, changed_fields
from ntinspect.models import Handle, Port, Process
from ntinspect.rows import KINDS
from ntinspect.sources.state import SourceIdentity, SourceState

from clirun import run
from dumpkit import DATA, build, raw_handles, raw_pid

REAL = DATA / "breakpad__tiny-exe-with-cet-xsave.dmp"
NO_HANDLES = DATA / "lldb__sigsegv.dmp"
NEW_ACCESS = 0x100001  # SYNCHRONIZE | 1: not what the real dump grants handle 0x8
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def proc(pid, created=T0, name="app.exe", **extra):
    return Process(pid=pid, ppid=4, name=name, handle_count=0, thread_count=1, session_id=1, create_time=created,
                   create_time_status="ok" if created else "unsupported", **extra)


def handle(pid, value, type="Event", access=0x1F0003, name=None, name_status="not_requested", object=0):
    return Handle(pid=pid, process="app.exe", value=value, type_index=1, type=type, access=access,
                  access_names=(), object=object, attributes=0, name=name, name_status=name_status)


def port(local_port, state="LISTENING", pid=100, owners=(100,), remote=None, proto="tcp"):
    return Port(proto=proto, family=4, local_addr="0.0.0.0", local_port=local_port,
                remote_addr=None if remote is None else "10.0.0.2", remote_port=remote, state=state, pid=pid,
                process="app.exe", owners=owners)


def state(processes=(), handles=(), ports=(), missing=None):
    records = {"processes": tuple(processes), "handles": tuple(handles), "ports": tuple(ports)}
    for kind in missing or {}:
        records.pop(kind)
    return SourceState(SourceIdentity("test"), records, dict(missing or {}),
                       {p.pid: p.create_time for p in processes})


def test_compared_fields_are_declared_for_every_kind():
    assert set(COMPARED) == set(KINDS)
    fields = {"handles": Handle, "processes": Process, "ports": Port}
    for kind, names in COMPARED.items():
        assert set(names) <= set(fields[kind].__dataclass_fields__)


def test_a_reused_pid_is_a_new_process_not_a_change():
    old, new = proc(100, T0, "old.exe"), proc(100, T0 + timedelta(hours=1), "new.exe")
    result = ntinspect.diff(state([old]), state([new]), kinds=["processes"])
    assert result.processes.vanished == (old,) and result.processes.appeared == (new,)
    assert result.processes.changed == () and result.complete


def test_same_process_with_another_name_is_a_change_with_old_and_new():
    old, new = proc(100, name="a.exe"), proc(100, name="b.exe")
    found = ntinspect.diff(state([old]), state([new]), kinds="processes").processes
    assert found.appeared == found.vanished == ()
    assert [(c.old, c.new, dict(c.fields)) for c in found.changed] == [(old, new, {"name": ("a.exe", "b.exe")})]


def test_counts_do_not_make_a_process_change():
    old = proc(100)
    new = Process(**{**old.__dict__, "handle_count": 500, "thread_count": 9})
    found = ntinspect.diff(state([old]), state([new]), kinds="processes").processes
    assert len(found) == 0 and found.unchanged == 1


def test_handle_identity_is_process_identity_and_value():
    p1, p1_reborn = proc(100, T0), proc(100, T0 + timedelta(minutes=5))
    kept, retyped = handle(100, 0x10), handle(100, 0x14, type="Event")
    before = state([p1], [kept, retyped, handle(100, 0x18)])
    after_same_process = state([p1], [kept, handle(100, 0x14, type="Mutant"), handle(100, 0x1c)])
    found = ntinspect.diff(before, after_same_process, kinds=["handles"]).handles
    assert [h.value for h in found.appeared] == [0x1c] and [h.value for h in found.vanished] == [0x18]
    assert [dict(c.fields) for c in found.changed] == [{"type": ("Event", "Mutant")}] and found.unchanged == 1
    # the same pid and handle values in a process created later: every handle is new
    found = ntinspect.diff(before, state([p1_reborn], [kept, retyped]), kinds=["handles"]).handles
    assert len(found.appeared) == 2 and len(found.vanished) == 3 and not found.changed


def test_names_and_addresses_are_compared_only_where_both_sides_have_them():
    read = handle(1, 4, name="\\A", name_status="ok", object=0xFFFF800000001000)
    unread = handle(1, 4, name=None, name_status="timeout", object=0)
    renamed = handle(1, 4, name="\\B", name_status="ok", object=0xFFFF800000002000)
    assert changed_fields("handles", read, unread) == {}
    assert changed_fields("handles", read, renamed) == {"name": ("\\A", "\\B"),
                                                        "object": (0xFFFF800000001000, 0xFFFF800000002000)}


def test_unknown_creation_time_pairs_on_pid_alone():
    with_time, without = proc(7, T0), proc(7, None)
    found = ntinspect.diff(state([with_time]), state([without]), kinds="processes").processes
    assert len(found) == 0 and found.unchanged == 1
    renamed = proc(7, None, "other.exe")
    found = ntinspect.diff(state([with_time]), state([renamed]), kinds="processes").processes
    assert [dict(c.fields) for c in found.changed] == [{"name": ("app.exe", "other.exe")}]
    # two known, different creation times never pair loosely
    found = ntinspect.diff(state([with_time]), state([proc(7, T0 + timedelta(1))]), kinds="processes").processes
    assert len(found.appeared) == len(found.vanished) == 1


def test_ports_state_and_owner_changes_and_a_new_listener():
    listener, udp_a, udp_b = port(80), port(53, None, 100, (100,), proto="udp"), port(53, None, 200, (200,), proto="udp")
    before = state(ports=[listener, udp_a, udp_b])
    after = state(ports=[port(80, owners=(100, 300)), udp_b, port(53, None, 300, (300,), proto="udp"), port(4444, pid=666)])
    found = ntinspect.diff(before, after, kinds=["ports"]).ports
    assert [p.local_port for p in found.appeared] == [4444]
    changes = {(c.old.proto, c.old.pid): dict(c.fields) for c in found.changed}
    assert changes[("tcp", 100)] == {"owners": ((100,), (100, 300))}
    # the shared UDP endpoint: the unchanged socket pairs with its equal, the other changed owner
    assert changes[("udp", 100)] == {"pid": (100, 300), "owners": ((100,), (300,))}
    assert found.unchanged == 1 and not found.vanished


def test_a_kind_one_side_does_not_hold_is_said_not_raised():
    result = ntinspect.diff(state([proc(1)]), state([proc(1)], missing={"ports": "it holds no ports"}))
    assert result.processes.compared and not result.ports.compared and not result.complete
    assert "B (test): it holds no ports" in result.ports.missing
    with pytest.raises(KeyError, match="not compared"):
        ntinspect.diff(state(), state(), kinds=["ports"]).handles
    with pytest.raises(ValueError, match="unknown record kind"):
        ntinspect.diff(state(), state(), kinds=["sockets"])


def test_real_minidump_against_itself_differs_in_nothing():
    result = ntinspect.diff(REAL, REAL)
    assert result.handles.compared and len(result.handles) == 0 and result.handles.unchanged == 147
    assert len(result.processes) == 0 and result.processes.unchanged == 1
    assert not result.ports.compared and "no ports" in result.ports.missing
    assert result.a.kind == "minidump" and result.a.os_version == "10.0.22000.282"
    assert result.a.capture_time == datetime(2021, 11, 1, 21, 55, 43, tzinfo=timezone.utc)


def _edited_copy(tmp_path):
    """The real dump's handles (read the plain way) written again, with known edits: handle
    0x8 granted other access, 0xc removed, 0xFFF0 added; the same pid."""
    data = REAL.read_bytes()
    rows = [(h["value"], h["type"] or None, h["name"], h["attributes"], h["access"]) for h in raw_handles(data)]
    edited = [(v, t, n, a, NEW_ACCESS if v == 0x8 else acc) for v, t, n, a, acc in rows if v != 0xc]
    edited.append((0xFFF0, "Event", "\\BaseNamedObjects\\added", 0, 0x100002))
    path = tmp_path / "edited.dmp"
    path.write_bytes(build(pid=raw_pid(data), handles=edited,
                           modules=[("C:\\tiny.exe", (0, 0, 0, 0), (0, 0, 0, 0))]))
    return path, {v: acc for v, _, _, _, acc in rows}


def test_real_minidump_against_an_edited_copy(tmp_path):
    path, access = _edited_copy(tmp_path)
    found = ntinspect.diff(REAL, path, kinds=["handles"]).handles
    assert [(h.value, h.type, h.name) for h in found.appeared] == [(0xFFF0, "Event", "\\BaseNamedObjects\\added")]
    assert [h.value for h in found.vanished] == [0xc]
    assert [(c.old.value, dict(c.fields)) for c in found.changed] == [(0x8, {"access": (access[0x8], NEW_ACCESS)})]
    assert found.unchanged == 145


def test_cli_formats_and_exit_codes(tmp_path):
    path, access = _edited_copy(tmp_path)
    code, out, err = run("diff", REAL, path, "--kind", "handles", "--format", "csv")
    assert code == EXIT_OK, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["kind", "change", "pid", "process", "record", "changed"]
    assert sorted(r["change"] for r in rows) == ["appeared", "changed", "vanished"]
    changed = next(r for r in rows if r["change"] == "changed")
    assert changed["record"] == "0x8 Event" and changed["changed"] == f"access: {access[0x8]} -> {NEW_ACCESS}"
    assert "handles: 1 appeared, 1 vanished, 1 changed, 145 unchanged" in err
    code, out, err = run("diff", REAL, path, "--format", "jsonl")
    assert code == EXIT_PARTIAL  # ports: neither dump holds them
    lines = [json.loads(line) for line in out.splitlines()]
    ports = [r for r in lines if r["kind"] == "ports"]
    assert len(ports) == 1 and ports[0]["change"] == "not compared" and "no ports" in ports[0]["record"]
    change = next(r for r in lines if r["change"] == "changed")
    assert change["changed"] == {"access": [access[0x8], NEW_ACCESS]}
    assert change["old_fields"]["access"] == access[0x8] and change["record_fields"]["access"] == NEW_ACCESS
    code, out, _ = run("diff", REAL, path, "--json")
    document = json.loads(out)
    assert document["a"]["os_version"] == "10.0.22000.282" and document["b"]["source_kind"] == "minidump"
    assert document["kinds"]["ports"]["compared"] is False and document["kinds"]["handles"]["unchanged"] == 145
    assert document["kinds"]["processes"]["unchanged"] == 1
    code, out, _ = run("diff", REAL, path)
    assert code == EXIT_PARTIAL and out.startswith("A: ") and "not compared" in out and "0xfff0 Event" in out


def test_cli_usage_errors(tmp_path):
    assert run("diff", "live", "live")[0] == EXIT_USAGE
    code, _, err = run("diff", REAL, tmp_path / "missing.dmp")
    assert code == EXIT_USAGE and "missing.dmp" in err
    not_a_source = tmp_path / "notes.txt"
    not_a_source.write_text("hello")
    code, _, err = run("diff", REAL, not_a_source)
    assert code == 1 and "not a minidump or snapshot" in err
    with pytest.raises(SystemExit) as stop, redirect_stderr(io.StringIO()):
        main(["diff", str(REAL), str(REAL), "--kind", "sockets"])  # argparse's own usage error
    assert stop.value.code == EXIT_USAGE


def test_a_dump_without_a_handle_stream_is_said_per_kind():
    result = ntinspect.diff(REAL, NO_HANDLES)
    assert not result.handles.compared and "B (" in result.handles.missing
    assert "no handles (written without MiniDumpWithHandleData)" in result.handles.missing
    assert result.processes.compared and len(result.processes.appeared) == 1


def test_the_live_source_counts_as_live_and_is_never_closed():
    """``"live"`` resolves to the process-wide LiveSource: it counts as live (its state
    then names this machine and a time: tests/sources/test_diff_live.py), and reading it
    does not close the shared source."""
    from ntinspect.sources import source_for
    from ntinspect.sources.state import is_live, opened

    live = source_for("live")
    assert is_live(live) and is_live(ntinspect)
    with ntinspect.open(REAL) as dump:
        assert not is_live(dump)
    context = opened("live")
    with context as source:
        assert source is live
    assert not context.owned and source_for("live") is live
