"""Store IT's device and seller commands against a running server: ``device list``,
``device revoke`` (the token refused, open sessions closed at once with 1008) and
``seller disable`` (no more sign-in, open sessions signed out with a ``signed_out``
event), and seller names that would break a receipt or a log refused by ``seller add``.
The commands run as separate processes, as store IT runs them."""

from __future__ import annotations

import json

import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.e2e.configured import rows
from tests.support import DEMO_SELLER, connect

GALETS = "3760245001015"


async def _cli(server, *args: str):
    return await trio.to_thread.run_sync(lambda: server.cli(*args, check=False))


async def _ask(ws, request: dict) -> dict:
    """The reply to ``request`` (pushed events before it are skipped)."""
    await ws.send_message(json.dumps(request))
    frame = json.loads(await ws.get_message())
    while frame.get("re") != request["id"]:
        frame = json.loads(await ws.get_message())
    return frame


async def test_device_list_shows_paired_devices(live_server):
    till, _ = live_server.pair("till", "1"), live_server.pair("pda")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, till):
            pass
        listed = await _cli(live_server, "device", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.split("\n\n")[0].splitlines()  # the paired devices; then the shop file's hardware
    assert lines[0].split() == ["device", "kind", "lane", "paired", "at", "last", "seen", "revoked"]
    by_device = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(by_device) == {"till-1-1", "pda-1"}
    assert by_device["till-1-1"][1:3] == ["till", "1"] and by_device["till-1-1"][-1] == "no"
    assert by_device["pda-1"][1:3] == ["pda", "-"] and by_device["pda-1"][-2:] == ["-", "no"]  # never seen
    assert by_device["till-1-1"][4].startswith("20")  # seen: an ISO time
    # The demo's simulated card terminals (here from the shop file: no --port given).
    hardware = {line.split()[0]: line.split() for line in listed.stdout.split("\n\n")[1].splitlines()[2:]}
    assert hardware["t1"][1:4] == ["terminal", "1", "simulator"] and hardware["t2"][1:3] == ["terminal", "2"]


async def test_revoke_closes_open_sessions_at_once_and_refuses_the_token(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(30):
        async with open_websocket_url(live_server.ws_url) as ws:
            assert (await _ask(ws, {"type": "hello", "id": 1, "token": token}))["type"] == "ok"
            assert (await _ask(ws, {"type": "sign_in", "id": 2, "seller": "marie", "pin": "1234"}))["type"] == "ok"
            revoked = await _cli(live_server, "device", "revoke", "till-1-1")
            assert revoked.returncode == 0 and "till-1-1 revoked" in revoked.stdout, revoked.stderr
            started = trio.current_time()
            with trio.fail_after(5):
                try:
                    while True:
                        await ws.get_message()
                except ConnectionClosed as closed:
                    assert closed.reason.code == 1008 and "revoked" in closed.reason.reason, closed.reason
            assert trio.current_time() - started < 3
        async with connect(live_server.ws_url, None) as again:
            refused = await again.call("hello", token=token)
            assert refused["code"] == "unauthenticated"
        listed = await _cli(live_server, "device", "list")
        assert listed.stdout.splitlines()[1].split()[-1] == "yes"
        twice = await _cli(live_server, "device", "revoke", "till-1-1")
        assert twice.returncode == 0 and "already revoked" in twice.stdout
    assert rows(live_server, "SELECT count(*) FROM resume_secrets") == [(0,)]
    assert rows(live_server, "SELECT kind, device FROM events WHERE kind='device_revoked'") == [
        ("device_revoked", "till-1-1")]


async def test_disable_signs_the_seller_out_everywhere_at_once(live_server):
    assert live_server.cli("seller", "add", "paul", "--pin", "5678").returncode == 0
    token = live_server.pair("till", "1")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, token, seller=("paul", "5678")) as till:
            resume = (await till.ok("sign_in", seller="paul", pin="5678"))["resume"]
            await till.ok("scan", code=GALETS)
            disabled = await _cli(live_server, "seller", "disable", "paul")
            assert disabled.returncode == 0 and "paul disabled" in disabled.stdout, disabled.stderr
            with trio.fail_after(5):
                event = await till.wait_event(lambda e: e["type"] == "signed_out")
            assert event["seller"] == "paul" and "disabled" in event["reason"]
            assert (await till.call("scan", code=GALETS))["code"] == "not_signed_in"
            assert (await till.call("sign_in", seller="paul", pin="5678"))["code"] == "wrong_pin"
            await till.ok("sign_in", seller=DEMO_SELLER[0], pin=DEMO_SELLER[1])  # the till still works
        async with connect(live_server.ws_url, None) as again:
            assert (await again.ok("hello", token=token, resume=resume))["seller"] is None
    assert rows(live_server, "SELECT active FROM sellers WHERE name='paul'") == [(0,)]


async def test_unknown_device_or_seller_is_a_clear_error(live_server):
    with trio.fail_after(30):
        device = await _cli(live_server, "device", "revoke", "till-9-9")
        seller = await _cli(live_server, "seller", "disable", "nobody")
    assert device.returncode == 1 and "no device 'till-9-9'" in device.stderr, device.stderr
    assert seller.returncode == 1 and "no seller 'nobody'" in seller.stderr, seller.stderr


async def test_seller_names_that_would_break_a_receipt_or_a_log_are_refused(live_server):
    before = rows(live_server, "SELECT name FROM sellers ORDER BY name")
    with trio.fail_after(30):
        for name, problem in (("eve\nroot", "control characters"), ("eve\x1b[2J", "control characters"),
                              ("x" * 41, "at most 40"), ("", "needs a name")):
            added = await _cli(live_server, "seller", "add", name, "--pin", "1111")
            assert added.returncode == 1 and problem in added.stderr, (name, added.stderr)
    assert rows(live_server, "SELECT name FROM sellers ORDER BY name") == before
