"""Live proof that scanning disturbs nothing: a child holds an event, a file, a registry key,
a named pipe, a section and a connected socket pair (plus a listener). It is scanned with
``handles(names=True)``, ``ports()``, ``crossview()``, ``by_object()`` and a capture
(``ntinspect.capture()``, whose replay must list the child's handles as the live table
does) again and again (a few rounds in CI, 100 with ``NTINSPECT_PROFILE=full``). Afterwards every handle of the
child still has its value, type and granted access, seen both from the child's own view
(NtQueryObject inside the child, through ctypes) and from the handle table, and the
sockets still send and receive."""
import json

import pytest

from childproc import PRELUDE, Child
from profiles import repeats

pytestmark = pytest.mark.windows

ROUNDS = repeats(ci=2, full=100)

HOLDER = PRELUDE.replace("    sys.stdin.read()\n", "") + r'''
import msvcrt, uuid
tag = "ntidisturb-" + uuid.uuid4().hex[:8]
ntdll = ctypes.WinDLL("ntdll")
ntdll.NtQueryObject.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p]
event = check(k32.CreateEventW(None, True, False, "Local\\" + tag + "-event"), "CreateEvent")
section = check(k32.CreateFileMappingW(ctypes.c_void_p(-1), None, 0x04, 0, 4096, "Local\\" + tag + "-section"),
                "CreateFileMapping")
path = os.path.join(tempfile.gettempdir(), tag + ".txt")
file = open(path, "w")
key = ctypes.c_void_p()
if adv.RegCreateKeyExW(ctypes.c_void_p(0x80000001), "Software\\" + tag, 0, None, 0, 0x20019 | 0x6, None,
                       ctypes.byref(key), None):
    raise SystemExit("RegCreateKeyEx failed")
pipe = check(k32.CreateNamedPipeW("\\\\.\\pipe\\" + tag, 3, 0, 1, 4096, 4096, 0, None), "CreateNamedPipe")
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
client = socket.create_connection(listener.getsockname()); server, _ = listener.accept()
held = dict(event=event, section=section, file=msvcrt.get_osfhandle(file.fileno()), key=key.value, pipe=pipe,
            listener=listener.fileno(), client=client.fileno(), server=server.fileno())

def own_view():
    """{what: [type name, GrantedAccess]} from NtQueryObject on our own handles."""
    view = {}
    for what, handle in held.items():
        basic = ctypes.create_string_buffer(56)
        status = ntdll.NtQueryObject(ctypes.c_void_p(handle), 0, basic, 56, None)
        typed = ctypes.create_string_buffer(1024)
        status2 = ntdll.NtQueryObject(ctypes.c_void_p(handle), 2, typed, 1024, None)
        if status or status2:
            view[what] = ["error", status & 0xFFFFFFFF, status2 & 0xFFFFFFFF]
            continue
        length = int.from_bytes(typed.raw[0:2], "little")
        address = int.from_bytes(typed.raw[8:16], "little")
        view[what] = [ctypes.wstring_at(address, length // 2), int.from_bytes(basic.raw[4:8], "little")]
    return view

def echo():
    """Both directions of the connected pair still carry data."""
    client.sendall(b"ping"); got = server.recv(16)
    server.sendall(b"pong"); back = client.recv(16)
    return got == b"ping" and back == b"pong"

print(json.dumps(dict(pid=os.getpid(), held=held, view=own_view(), echo=echo())), flush=True)
for line in sys.stdin:
    command = line.strip()
    if not command:
        break
    print(json.dumps(dict(view=own_view(), echo=echo())), flush=True)
file.close(); os.remove(path); adv.RegDeleteKeyW(ctypes.c_void_p(0x80000001), "Software\\" + tag)
'''


def ask(child: Child) -> dict:
    child.process.stdin.write("view\n")
    child.process.stdin.flush()
    return json.loads(child.process.stdout.readline())


def table_view(pid: int, values) -> dict:
    import ntinspect

    table = ntinspect.handles(pid=pid)
    rows = {h.value: (h.type, h.access) for h in table}
    return {value: rows.get(value) for value in values}


def test_repeated_scans_leave_every_child_handle_and_socket_as_it_was(tmp_path):
    import ntinspect

    child = Child(HOLDER)
    try:
        held, before = child.info["held"], child.info["view"]
        assert child.info["echo"] is True
        assert all(entry[0] != "error" for entry in before.values()), before
        assert {before[w][0] for w in ("event", "section", "key", "file")} == {"Event", "Section", "Key", "File"}
        table_before = table_view(child.pid, held.values())
        assert all(table_before.values()), table_before  # every held handle is in the table
        socket_ports = set()
        for round_ in range(ROUNDS):
            named = ntinspect.handles(names=True)
            assert {h.value for h in named.filter(pid=child.pid)} >= set(held.values())
            socket_ports |= {p.local_port for p in ntinspect.ports("tcp4") if child.pid in (p.owners or ())}
            ntinspect.crossview("tcp4")
            groups = ntinspect.handles(pid=child.pid).by_object()
            assert len(groups) > 0
            path = tmp_path / f"round-{round_}.ntcap"
            ntinspect.capture(path, names=True, ports=True)
            with ntinspect.open(path) as replay:  # the capture replays the child's handles as they are
                recorded = {h.value: (h.type, h.access) for h in replay.handles(pid=child.pid)}
            assert recorded == table_view(child.pid, recorded) and set(held.values()) <= set(recorded)
            path.unlink()
        assert socket_ports, "ports() found the child's sockets"
        after = ask(child)
        assert after["view"] == before  # the child's own view: same types, same granted access
        assert after["echo"] is True  # the connected pair still sends and receives, both ways
        assert table_view(child.pid, held.values()) == table_before  # the table: same values, types, access
    finally:
        child.stop()
