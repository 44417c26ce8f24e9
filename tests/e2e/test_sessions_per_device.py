"""A paired device holds a bounded number of websockets (issue 11, "Hardening").

Before, one token opened as many signed-in sessions as the port allowed, each
subscribed to its lane (every change encoded and queued for each) and none of them
shed at capacity (the HTTP edge keeps signed-in sockets): a copied token could slow
its lane and fill the port. Now a device keeps at most ``[server]
max_sessions_per_device`` (4): a further ``hello`` closes its oldest session (1008,
the reason said) — a page reconnecting before its old socket is known dead gets in.
A real server process, real websockets.
"""

from __future__ import annotations

import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.support import connect

GALETS = "3760245001015"


async def test_a_device_keeps_at_most_four_sessions_the_oldest_goes(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(60):
        async with open_websocket_url(live_server.ws_url) as oldest:
            await oldest.send_message('{"type": "hello", "id": 1, "token": "%s"}' % token)
            while '"re":1' not in (reply := await oldest.get_message()):
                pass  # the lane's ticket event comes first
            assert '"type":"ok"' in reply, reply
            async with connect(live_server.ws_url, token) as b, connect(live_server.ws_url, token) as c, \
                    connect(live_server.ws_url, token) as d:
                # A fifth: the oldest is closed with the reason, the others sell on.
                async with connect(live_server.ws_url, token) as e:
                    try:
                        while True:
                            await oldest.get_message()
                    except ConnectionClosed as closed:
                        assert closed.reason.code == 1008, closed.reason
                        assert "max_sessions_per_device" in (closed.reason.reason or "")
                    for client in (b, c, d, e):
                        assert (await client.ok("ticket"))["type"] == "ok"
                    await e.ok("scan", code=GALETS)
