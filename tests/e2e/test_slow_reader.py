"""A session that never reads its socket (issue 11, "Hardening").

The shop runs in this process (``run_shop`` on a loopback port, the demo shop, a
real SQLite file). A second session on lane 1 completes the websocket handshake
by hand on a raw socket with a small receive buffer, says hello and never reads
again, so the server's sends to it back up until they are stuck. Hypercorn sends
inside a shielded scope: no cancellation can free a stuck send, only the kernel's
send deadline (``send_timeout.SEND_TIMEOUT``, TCP_USER_TIMEOUT on the listening
sockets, shortened here) ends the connection.
"""

from __future__ import annotations

import json
import socket

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Message, Request

from laneserver.server import send_timeout
from tests.e2e.in_process import pair_till, serving
from tests.support import connect

GALETS = "3760245001015"
SCANS = 120


def _stalled_session(host: str, port: int, token: str) -> socket.socket:
    """A websocket that says hello and never reads again (blocking: run in a thread)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((host, port))
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host=f"{host}:{port}", target="/ws")))
    while not any(isinstance(event, AcceptConnection) for event in ws.events()):
        data = sock.recv(4096)
        assert data, "the server closed the handshake"
        ws.receive_data(data)
    sock.sendall(ws.send(Message(data=json.dumps({"type": "hello", "id": 1, "token": token}))))
    return sock


async def test_a_session_that_never_reads_is_closed_after_the_send_deadline_and_its_lane_sells_on(
    tmp_path, monkeypatch,
):
    monkeypatch.setattr(send_timeout, "SEND_TIMEOUT", 1.0)
    data = tmp_path / "data"
    data.mkdir()
    with trio.fail_after(60):
        async with serving(data) as running:
            shop = running.shop
            token = await trio.to_thread.run_sync(pair_till, data, "1")
            stalled_token = await trio.to_thread.run_sync(pair_till, data, "1")
            stalled = await trio.to_thread.run_sync(_stalled_session, *running.address, stalled_token)
            try:
                async with connect(running.ws_url, token) as till:
                    # The ticket grows with every scan: its events soon fill the stalled
                    # socket; every scan is still answered.
                    for _ in range(SCANS):
                        await till.ok("scan", code=GALETS)
                    ticket = await till.ok("ticket")
                    assert len(ticket["ticket"]["lines"]) == SCANS
                    # What the stalled session could not take was conflated, not queued.
                    assert shop.metrics.events_conflated > 0
                    # The kernel's send deadline ends the stuck connection; the session
                    # then ends and leaves its lane (polled: no event to wait on).
                    while shop.metrics.sessions_open > 1:  # noqa: ASYNC110 (server state, see above)
                        await trio.sleep(0.05)
                    await till.ok("scan", code=GALETS)
            finally:
                stalled.close()
            # Leaving the block stops the shop: shutdown is not held up by a stuck send any more.
