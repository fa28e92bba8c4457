"""A child holding many object kinds reports, with plain ctypes, the type and name of each of
its handles; handles(pid=child, names=True) must agree on every one (type calibration and
names across processes), and recognise every kind of socket."""
import pytest

from childproc import child

pytestmark = pytest.mark.windows

BODY = r'''
ntdll = ctypes.WinDLL("ntdll")
ntdll.NtQueryObject.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                                ctypes.POINTER(ctypes.c_ulong)]
def q(h, cls):
    buf = ctypes.create_string_buffer(8192)
    st = ntdll.NtQueryObject(h, cls, buf, 8192, ctypes.byref(ctypes.c_ulong()))
    if st:
        return None
    n = int.from_bytes(buf.raw[0:2], "little"); a = int.from_bytes(buf.raw[8:16], "little")
    return ctypes.wstring_at(a, n // 2) if n else ""
import msvcrt
tag = "ntikinds" + str(os.getpid())
k32.CreateWaitableTimerW.restype = ctypes.c_void_p
k32.CreateIoCompletionPort.restype = ctypes.c_void_p
k32.CreateIoCompletionPort.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, wintypes.DWORD]
k32.CreateJobObjectW.restype = ctypes.c_void_p
k32.CreateFileW.restype = ctypes.c_void_p
k32.CreateFileW.argtypes = [wintypes.LPCWSTR, wintypes.DWORD, wintypes.DWORD, ctypes.c_void_p, wintypes.DWORD,
                            wintypes.DWORD, ctypes.c_void_p]
k32.GetCurrentProcess.restype = ctypes.c_void_p
H = {}
H["timer"] = check(k32.CreateWaitableTimerW(None, True, "Local\\" + tag + "-timer"), "timer")
H["iocp"] = check(k32.CreateIoCompletionPort(ctypes.c_void_p(-1), None, None, 0), "iocp")
H["job"] = check(k32.CreateJobObjectW(None, "Local\\" + tag + "-job"), "job")
token = ctypes.c_void_p()
adv.OpenProcessToken(ctypes.c_void_p(k32.GetCurrentProcess()), 0x0008, ctypes.byref(token))
H["token"] = token.value
H["directory"] = check(k32.CreateFileW(tempfile.gettempdir(), 0x80000000, 7, None, 3, 0x02000000, None), "dir")
path = os.path.join(tempfile.gettempdir(), tag + "-\u65e5\u672c-\u00fc.txt")
f = open(path, "w"); H["unicode_file"] = msvcrt.get_osfhandle(f.fileno())
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0)); H["udp"] = udp.fileno()
lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen()
cli = socket.socket(); cli.connect(lst.getsockname()); acc, _ = lst.accept()
H["tcp_listen"], H["tcp_client"], H["tcp_accepted"] = lst.fileno(), cli.fileno(), acc.fileno()
H["process_vm_read"] = check(k32.OpenProcess(0x0010 | 0x0400, False, os.getppid()), "OpenProcess")
H["anonymous_event"] = check(k32.CreateEventW(None, True, False, None), "CreateEvent")
ready(handles={k: dict(h=v, type=q(v, 2), name=q(v, 1)) for k, v in H.items()}, path=path, parent=os.getppid())
f.close(); os.remove(path)
'''

SOCKETS = ("udp", "tcp_listen", "tcp_client", "tcp_accepted")


@pytest.fixture(scope="module")
def seen():
    import ntinspect

    with child(BODY) as (process, info):
        table = ntinspect.handles(pid=info["pid"], names=True, name_timeout=2.0)
        yield info, {h.value: h for h in table}


@pytest.mark.parametrize("what", ["timer", "iocp", "job", "token", "directory", "unicode_file", "udp",
                                  "tcp_listen", "tcp_client", "tcp_accepted", "process_vm_read",
                                  "anonymous_event"])
def test_type_and_name_agree_with_the_child(seen, what):
    info, rows = seen
    want = info["handles"][what]
    row = rows[want["h"]]
    assert row.type == want["type"]
    assert row.name_status == "ok"
    if what in SOCKETS:
        assert row.name == "\\Device\\Afd" and row.access == 0x0012019F
    elif what == "process_vm_read":
        assert row.name.endswith(f"({info['parent']})")
        assert "PROCESS_VM_READ" in row.access_names
    else:
        assert row.name == want["name"]
    if what == "unicode_file":
        assert row.dos_name.lower() == info["path"].lower()
