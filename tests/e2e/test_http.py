"""The HTTP side of the one port: health, metrics, schema, pages; slow sessions."""

from __future__ import annotations

import json
import urllib.request

import trio
from trio_websocket import open_websocket_url

from tests.support import connect

GALETS = "3760245001015"


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers.get("content-type", ""), response.read().decode()


def test_healthz_metrics_schema_and_pages(live_server):
    status, kind, body = _get(live_server.url + "/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["lanes"] == ["1", "2"]
    assert health["articles"] >= 40

    status, kind, body = _get(live_server.url + "/metrics")
    assert status == 200 and kind.startswith("text/plain")
    assert "# TYPE laneserver_sessions_open gauge" in body and "laneserver_frames_in_total" in body

    status, kind, body = _get(live_server.url + "/protocol/schema.json")
    schema = json.loads(body)
    assert set(schema["requests"]) >= {"hello", "sign_in", "scan", "pay", "finish", "stock_entry", "basket_empty"}
    assert "TicketView" in schema["$defs"] and schema["events"]["ticket"]

    for page in ("/till/", "/pda/"):
        status, kind, body = _get(live_server.url + page)
        assert status == 200 and kind.startswith("text/html") and "<script" in body


async def test_foreign_origin_is_refused(live_server):
    from trio_websocket import HandshakeError

    with trio.fail_after(10):
        try:
            async with open_websocket_url(live_server.ws_url, extra_headers=[("Origin", "http://evil.example")]):
                raise AssertionError("a foreign origin was accepted")
        except HandshakeError:
            pass
        host = live_server.url.split("//", 1)[1]
        async with open_websocket_url(live_server.ws_url, extra_headers=[("Origin", f"http://{host}")]) as ws:
            await ws.send_message('{"type": "ticket", "id": 1}')
            assert json.loads(await ws.get_message())["code"] == "unauthenticated"
            await ws.send_message('{"type": "scan", "id": 2, "code": 7}')  # not a request: bad_request
            assert json.loads(await ws.get_message())["code"] == "bad_request"
    # Every error reply is counted by its code, whoever made it (the edge, the decoder).
    _, _, body = await trio.to_thread.run_sync(_get, live_server.url + "/metrics")
    counted = {line.split('"')[1]: float(line.split()[-1]) for line in body.splitlines()
               if line.startswith("laneserver_errors_total{")}
    assert counted.get("unauthenticated", 0) >= 1 and counted.get("bad_request", 0) >= 1


async def test_a_session_that_never_reads_does_not_block_its_lane(live_server):
    """A stalled browser on lane 1 (it never reads its socket) while the cashier's
    session on the same lane sells: the lane keeps answering, and the stalled
    session's events are conflated rather than queued without bound."""
    token = live_server.pair("till", "1")
    with trio.fail_after(120):
        async with open_websocket_url(live_server.ws_url, message_queue_size=0) as stalled:
            await stalled.send_message(json.dumps({"type": "hello", "id": 1, "token": token}))
            # never read again: the server's writes to it back up
            async with connect(live_server.ws_url, token) as till:
                for _ in range(250):
                    await till.ok("scan", code=GALETS)
                reply = await till.ok("ticket")
                assert len(reply["ticket"]["lines"]) == 250
            status, _, body = _get(live_server.url + "/metrics")
            conflated = [l for l in body.splitlines() if l.startswith("laneserver_events_conflated_total")]
            assert float(conflated[0].split()[-1]) > 0
