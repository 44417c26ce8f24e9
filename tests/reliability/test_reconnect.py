"""Lost replies: the server committed, the till never read the answer, it retries.

A ``finish`` (or ``pay``) whose reply is lost — cut by a proxy once the server sent
it, or because the till's socket went away right after sending — is retried with
the same key on a new connection: the retry gets the first reply (same number), and
exactly one sale exists. Also across a kill -9, and with the same key sent on two
connections at once.
"""

from __future__ import annotations

import json
import socket
import struct

import pytest
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Request, TextMessage

from tests.reliability.harness import CutProxy, open_db
from tests.support import connect

GALETS = "3760245001015"
LAMOTHE = "3451203000279"


def sales(server) -> list[tuple]:
    db = open_db(server.data)
    try:
        return db.execute("SELECT number, total, lane FROM sales ORDER BY number").fetchall()
    finally:
        db.close()


def counts(server) -> tuple[int, int, int]:
    db = open_db(server.data)
    try:
        return db.execute("SELECT (SELECT count(*) FROM sales), (SELECT count(*) FROM payments),"
                          " (SELECT count(*) FROM stock_movements WHERE reason='sale')").fetchone()
    finally:
        db.close()


async def _ready_to_finish(url: str, token: str) -> dict:
    async with connect(url, token) as till:
        await till.ok("scan", code=GALETS)
        await till.ok("scan", code=LAMOTHE)
        return (await till.ok("pay", mode="cash", amount="30.00"))["ticket"]


async def _lose_the_reply(server, proxy: CutProxy, token: str, verb: str, **fields) -> dict:
    """Send a keyed request through the proxy, which lets it reach the server and
    cuts the connection once the server's reply to it went by. Returns that reply."""
    proxy_url = f"ws://127.0.0.1:{proxy.port}/ws"
    async with connect(proxy_url, token) as till:
        proxy.arm(b'"re":"lost"')
        await till.send_raw(json.dumps({"type": verb, "id": "lost", **fields}))
        with trio.fail_after(10):
            await proxy.cut.wait()
            while till.ws.closed is None:  # the proxy closed it: the client sees it shortly
                await trio.sleep(0.01)
        assert "lost" not in till._replies  # the till never read it
    return proxy.swallowed_reply("lost")


async def test_a_finish_reply_lost_on_the_way_is_given_again_on_retry(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            proxy = CutProxy(live_server.port)
            await nursery.start(proxy.serve)
            await _ready_to_finish(live_server.ws_url, token)
            lost = await _lose_the_reply(live_server, proxy, token, "finish", key="fin-1", receipt="none")
            assert lost["type"] == "ok" and lost["number"] == 1
            # The sale is durable before its reply is sent.
            assert sales(live_server) == [(1, "21.40", "1")]
            async with connect(live_server.ws_url, token) as till:
                again = await till.ok("finish", key="fin-1", receipt="none", id="retry")
                assert {**again, "re": "lost"} == lost
                assert (await till.ok("ticket"))["ticket"]["lines"] == []
            nursery.cancel_scope.cancel()
    assert sales(live_server) == [(1, "21.40", "1")]
    assert counts(live_server) == (1, 1, 2)


async def test_a_pay_reply_lost_on_the_way_pays_once(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(40):
        async with trio.open_nursery() as nursery:
            proxy = CutProxy(live_server.port)
            await nursery.start(proxy.serve)
            async with connect(live_server.ws_url, token) as till:
                await till.ok("scan", code=GALETS)
            lost = await _lose_the_reply(live_server, proxy, token, "pay", key="pay-1", mode="card", amount="5.00")
            assert [p["amount"] for p in lost["ticket"]["payments"]] == ["5.00"]
            async with connect(live_server.ws_url, token) as till:
                again = await till.ok("pay", key="pay-1", mode="card", amount="5.00")
                assert again["ticket"] == lost["ticket"]
                ticket = (await till.ok("ticket"))["ticket"]
                assert [p["amount"] for p in ticket["payments"]] == ["5.00"] and ticket["balance"] == "3.90"
            nursery.cancel_scope.cancel()


async def test_a_lost_finish_reply_survives_a_kill_9_before_the_retry(live_server):
    token = live_server.pair("till", "2")
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            proxy = CutProxy(live_server.port)
            await nursery.start(proxy.serve)
            await _ready_to_finish(live_server.ws_url, token)
            lost = await _lose_the_reply(live_server, proxy, token, "finish", key="fin-k", receipt="none")
            nursery.cancel_scope.cancel()
        live_server.kill()
        await trio.to_thread.run_sync(live_server.restart)
        async with connect(live_server.ws_url, token) as till:
            again = await till.ok("finish", key="fin-k", receipt="none", id="lost")
            assert again == lost
    assert sales(live_server) == [(lost["number"], lost["total"], "2")]


async def _raw_send_and_vanish(port: int, token: str, frame: dict, how: str) -> None:
    """A bare websocket client (wsproto over TCP): hello and sign_in (a token alone signs
    no one in), then ``frame``, then the socket goes away without reading anything more — RST, FIN, or a close frame."""
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    ws = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(ws.send(Request(host=f"127.0.0.1:{port}", target="/ws")))
    replies: list[dict] = []
    with trio.fail_after(10):
        accepted = False
        while not (accepted and replies):
            data = await stream.receive_some(65536)
            assert data, "the server closed the connection during hello"
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    accepted = True
                    await stream.send_all(ws.send(TextMessage(json.dumps({"type": "hello", "id": "h", "token": token}))))
                    await stream.send_all(ws.send(TextMessage(json.dumps(
                        {"type": "sign_in", "id": "s", "seller": "marie", "pin": "1234"}))))
                elif isinstance(event, TextMessage) and '"re":"s"' in event.data:
                    replies.append(json.loads(event.data))
    assert replies[0]["type"] == "ok" and replies[0]["seller"] == "marie", replies
    await stream.send_all(ws.send(TextMessage(json.dumps(frame))))
    if how == "rst":
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif how == "close_frame":
        from wsproto.events import CloseConnection

        await stream.send_all(ws.send(CloseConnection(code=1000)))
    await stream.aclose()


@pytest.mark.parametrize("how", ["rst", "fin", "close_frame"])
async def test_finish_sent_then_the_socket_vanishes_then_retry(live_server, how):
    token = live_server.pair("till", "1")
    with trio.fail_after(40):
        await _ready_to_finish(live_server.ws_url, token)
        frame = {"type": "finish", "id": "gone", "key": "fin-gone", "receipt": "none"}
        await _raw_send_and_vanish(live_server.port, token, frame, how)
        # The server may have read the frame before the socket went, or not: both
        # are fine, as long as the retry settles it with exactly one sale.
        async with connect(live_server.ws_url, token) as till:
            first = await till.ok("finish", key="fin-gone", receipt="none", id="r1")
            second = await till.ok("finish", key="fin-gone", receipt="none", id="r2")
            assert {**second, "re": "r1"} == first
    assert sales(live_server) == [(first["number"], first["total"], "1")] == [(1, "21.40", "1")]
    assert counts(live_server) == (1, 1, 2)


async def test_the_same_key_on_two_connections_at_once_is_one_sale(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(40):
        await _ready_to_finish(live_server.ws_url, token)
        async with connect(live_server.ws_url, token) as a, connect(live_server.ws_url, token) as b:
            frame = {"type": "finish", "key": "fin-twice", "receipt": "none"}
            await a.send_raw(json.dumps({**frame, "id": "a"}))
            await b.send_raw(json.dumps({**frame, "id": "b"}))
            reply_a, reply_b = await a.reply_to("a"), await b.reply_to("b")
        assert reply_a["type"] == reply_b["type"] == "ok", (reply_a, reply_b)
        assert {**reply_b, "re": "a"} == reply_a
    assert sales(live_server) == [(1, "21.40", "1")]
