"""Live handles() and ports() through IPython's own display formatter (the text and HTML a
terminal IPython and Jupyter show): a child process holds a named event whose name is
markup and a listening socket; the display must show them as the CLI does, escaped in HTML."""
import pytest

import ntinspect
from ntinspect.recordlist import RecordList

from childproc import child

pytestmark = pytest.mark.windows

formatters = pytest.importorskip("IPython.core.formatters",
                                 reason="IPython is in tools/requirements-test.txt; not installed here")

MARKUP = "ntinspect<script>alert(1)</script>"
HOLDER = f'''
event = check(k32.CreateEventW(None, True, False, "{MARKUP}"), "CreateEvent")
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
ready(event=event, port=listener.getsockname()[1])
'''


def test_live_handles_and_ports_through_ipython():
    display = formatters.DisplayFormatter()
    with child(HOLDER) as (_, info):
        pid = info["pid"]
        table = ntinspect.handles(pid=pid, names=True)
        ports = ntinspect.ports("tcp4", pid=pid)
        processes = ntinspect.processes(details=False)
    # handles: the header, the child's event by its value in hex, the totals
    event = table.filter(name="ntinspect<script>")
    assert len(event) == 1 and event[0].value == info["event"]
    data, _ = display.format(table)
    text, html = data["text/plain"], data["text/html"]
    processes_word = "process" if len(set(table.pid.tolist())) == 1 else "processes"
    assert text.startswith(f"{len(table)} handles in 1 {processes_word}, ")
    assert f"by process: {pid} {table.process_names[pid]} {len(table)}" in text
    assert "by type: " in text and "Event" in text
    data, _ = display.format(event)
    assert f"  {info['event']:#x}  " in data["text/plain"]  # the name is shortened to fit 79 columns
    assert "<script>" not in data["text/html"] and "&lt;script&gt;alert(1)&lt;/script&gt;" in data["text/html"]
    assert "<script>" not in html
    record, _ = display.format(event[0])
    assert record["text/plain"].startswith(f"<Handle pid={pid} ")
    assert f"value         {info['event']:#x}" in record["text/plain"] and MARKUP in record["text/plain"]
    assert "<script>" not in record["text/html"] and "&lt;script&gt;" in record["text/html"]
    # ports: a list with a table display; the child's listener as the CLI shows it
    assert isinstance(ports, RecordList) and isinstance(ports, list)
    listening = ports.filter(local_port=info["port"])
    assert len(listening) == 1 and listening[0].pid == pid
    data, _ = display.format(ports)
    assert f"127.0.0.1:{info['port']}" in data["text/plain"] and "LISTENING" in data["text/plain"]
    assert data["text/plain"].startswith(f"{len(ports)} port")
    assert repr(listening[0]).startswith(f"<Port tcp 127.0.0.1:{info['port']} 0.0.0.0:0 LISTENING pid={pid} ")
    assert isinstance(processes, RecordList) and processes.filter(pid=pid)[0].name.lower().startswith("python")
    assert list(ports.to_pandas().columns) == ports.columns
