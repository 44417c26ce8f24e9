"""The real server process tells systemd READY=1 once it listens, and sends
WATCHDOG=1 while healthy, through $NOTIFY_SOCKET."""

from __future__ import annotations

import socket
import time

from tests.support import LiveServer


def test_ready_then_watchdog_then_stopping(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(10)
    server = LiveServer(tmp_path / "data", env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"})
    server.start()
    try:
        messages: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and messages.count("WATCHDOG=1") < 2:
            messages.append(sock.recv(4096).decode())
        assert "READY=1" in messages
        assert messages.count("WATCHDOG=1") >= 2
        assert messages.index("READY=1") < messages.index("WATCHDOG=1") or "WATCHDOG=1" in messages[messages.index("READY=1"):]
        # The URL was printed only after the listener was up: it answers now.
        import urllib.request

        with urllib.request.urlopen(server.url + "/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        assert server.stop() == 0
    rest = []
    sock.settimeout(0.5)
    try:
        while True:
            rest.append(sock.recv(4096).decode())
    except TimeoutError:
        pass
    assert "STOPPING=1" in rest
