"""Pairing by code and roles, through a real server, its websocket and its database.

A code printed by ``laneserver pair … --code`` gets a device its token with ``pair``;
wrong codes burn it, an expired or spent one is refused the same way, and the token
says ``hello``. A cashier is refused a manager's verb naming the role; a manager adds a
seller who then signs in, resets a PIN, disables the seller (signed out at once) and
revokes a device (its websocket closed at once).
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import trio
from trio_websocket import open_websocket_url

from laneserver.store.admin import issue_pairing_code
from laneserver.store.schema import DB_NAME
from laneserver.store.schema import connect as open_db
from tests.e2e.configured import (
    CASHIER,
    DEMO_CATALOG,
    PAUL,
    SOPHIE_PIN,
    SUPERVISOR,
    configured_shop,
    lane,
    stock_point,
    table,
    toml,
)
from tests.support import WsClient, connect


def _code(server, *args: str) -> str:
    out = server.cli("pair", *args, "--code").stdout.strip().splitlines()
    assert out[-1].isdigit() and len(out[-1]) == 6, out
    return out[-1]


async def test_a_code_pairs_once_wrong_codes_burn_it_and_an_old_one_is_refused(live_server):
    burnt = _code(live_server, "till", "--lane", "1")
    wrong = f"{(int(burnt) + 1) % 1_000_000:06d}"
    with trio.fail_after(30):
        async with open_websocket_url(live_server.ws_url) as ws, trio.open_nursery() as nursery:
            client = WsClient(ws)
            nursery.start_soon(client._pump)
            # Before hello everything else is refused, pair is not.
            assert (await client.call("ticket"))["code"] == "unauthenticated"
            for _ in range(5):  # five wrong codes: the same clear error, nothing else
                refused = await client.call("pair", code=wrong)
                assert refused == {"type": "error", "re": refused["re"], "code": "wrong_code",
                                   "message": refused["message"]}, refused
            # This connection has had its tries; the code is burnt anyway.
            assert (await client.call("pair", code=burnt))["code"] == "forbidden"
            nursery.cancel_scope.cancel()
        async with open_websocket_url(live_server.ws_url) as ws, trio.open_nursery() as nursery:
            client = WsClient(ws)
            nursery.start_soon(client._pump)
            assert (await client.call("pair", code=burnt))["code"] == "wrong_code"  # burnt by the five
            assert (await client.call("pair", code="12ab56"))["code"] == "bad_request"

            # A fresh code pairs a till on lane 1, once; its token says hello.
            code = _code(live_server, "till", "--lane", "1")
            paired = await client.ok("pair", code=code)
            assert (paired["kind"], paired["lane"]) == ("till", "1") and len(paired["token"]) >= 32
            assert (await client.call("pair", code=code))["code"] == "wrong_code"  # spent
            hello = await client.ok("hello", token=paired["token"])
            assert (hello["device"], hello["kind"], hello["lane"]) == (paired["device"], "till", "1")

            # A code typed on the wrong kind of page is said, and stays for the right one.
            pda_code = _code(live_server, "pda")
            wrong_page = await client.call("pair", code=pda_code, kind="till")
            assert (wrong_page["code"], wrong_page["field"]) == ("conflict", "kind"), wrong_page
            assert (await client.ok("pair", code=pda_code, kind="pda"))["device"] == "pda-1"

            # Two devices typing the same code at once: one token, one refusal.
            shared = _code(live_server, "pda")
            async with open_websocket_url(live_server.ws_url) as ws2:
                second = WsClient(ws2)
                nursery.start_soon(second._pump)
                answers: list[dict] = []

                async def typed(who: WsClient) -> None:
                    answers.append(await who.call("pair", code=shared))

                async with trio.open_nursery() as both:
                    both.start_soon(typed, client)
                    both.start_soon(typed, second)
                assert sorted(a["type"] if a["type"] == "ok" else a["code"] for a in answers) == ["ok", "wrong_code"]

            # A code older than 10 minutes is refused like a wrong one.
            db = open_db(live_server.data / DB_NAME)
            try:
                old = issue_pairing_code(db, "pda", None, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11), ["1"])
            finally:
                db.close()
            assert (await client.call("pair", code=old))["code"] == "wrong_code"
            nursery.cancel_scope.cancel()
    # Only salted hashes are stored; the spent code names the device it paired.
    rows = sqlite3.connect(live_server.data / DB_NAME).execute(
        "SELECT code_hash, wrong, used_at IS NOT NULL, device FROM pairing_codes ORDER BY id").fetchall()
    assert all(code not in row[0] and burnt not in row[0] for row in rows)
    assert [(wrong_count, used, device) for _, wrong_count, used, device in rows] == [
        (5, 0, None), (0, 1, paired["device"]), (0, 1, "pda-1"), (0, 1, "pda-2"), (0, 0, None)]


async def test_roles_and_the_manager_verbs(live_server):
    """marie is the demo shop's manager; paul a cashier added by store IT."""
    live_server.cli("seller", "add", "paul", "--pin", "5678")
    till, other = live_server.pair("till", "1"), live_server.pair("till", "2")
    with trio.fail_after(60):
        async with connect(live_server.ws_url, other, seller=("paul", "5678")) as cashier:
            for verb, fields in (("sellers", {}), ("devices", {}), ("stock_count", {"article": "A1", "counted": 1}),
                                 ("seller_add", {"seller": "x", "pin": "1111"})):
                refused = await cashier.call(verb, **fields)
                assert (refused["code"], refused.get("role")) == ("forbidden", "manager"), refused
                assert "manager" in refused["message"]
            # A supervisor's verb: the PIN on the spot is asked for, naming the role.
            refused = await cashier.call("drawer_open", reason="change")
            assert (refused["code"], refused["role"]) == ("supervisor_required", "supervisor"), refused

        async with connect(live_server.ws_url, till) as manager:
            assert (await manager.ok("seller_add", seller="lea", pin="2468"))["role"] == "cashier"
            assert (await manager.call("seller_add", seller="lea", pin="2468"))["code"] == "conflict"
            assert (await manager.call("seller_add", seller="bad\nname", pin="2468"))["code"] == "bad_request"
            assert (await manager.call("seller_add", seller="zoe", pin="12"))["code"] == "bad_request"
            names = {s["seller"]: (s["role"], s["active"]) for s in (await manager.ok("sellers"))["sellers"]}
            assert names == {"marie": ("manager", True), "paul": ("cashier", True), "lea": ("cashier", True)}

            async with connect(live_server.ws_url, other, seller=("lea", "2468")) as lea:
                assert lea.hello["device"] == "till-2-2"
                # A new PIN: the old one no longer signs in, the new one does.
                await manager.ok("seller_pin", seller="lea", pin="1357")
                assert (await lea.call("sign_in", seller="lea", pin="2468"))["code"] == "wrong_pin"
                assert (await lea.ok("sign_in", seller="lea", pin="1357"))["role"] == "cashier"
                # Disabled: signed out at once, and no sign-in since.
                await manager.ok("seller_disable", seller="lea")
                event = await lea.wait_event(lambda e: e["type"] == "signed_out")
                assert event["seller"] == "lea"
                assert (await lea.call("sign_in", seller="lea", pin="1357"))["code"] == "wrong_pin"
                assert (await manager.call("seller_disable", seller="marie"))["code"] == "conflict"

                devices = {d["device"]: d["revoked"] for d in (await manager.ok("devices"))["devices"]}
                assert devices == {"till-1-1": False, "till-2-2": False}
                assert (await manager.call("device_revoke", device="till-1-1"))["code"] == "conflict"  # its own
                revoked = await manager.ok("device_revoke", device="till-2-2")
                assert revoked["changed"] is True
                with trio.fail_after(5):  # closed at once, not at the next second's check
                    while lea.ws.closed is None:
                        await trio.sleep(0.01)
                assert lea.ws.closed.code == 1008
            assert (await manager.call("device_revoke", device="till-9"))["code"] == "not_found"
        async with open_websocket_url(live_server.ws_url) as ws, trio.open_nursery() as nursery:
            client = WsClient(ws)
            nursery.start_soon(client._pump)
            assert (await client.call("hello", token=other))["code"] == "unauthenticated"
            nursery.cancel_scope.cancel()


async def test_the_shop_file_changes_the_roles_table(tmp_path):
    """``[roles]``: stock entries kept for managers, sellers opened to supervisors."""
    config = toml(table("roles", stock_entry="manager", sellers="supervisor"), stock_point("main"), lane("1"))
    with configured_shop(tmp_path, config, DEMO_CATALOG, sellers=[CASHIER, SUPERVISOR], tills=("1",)) as shop:
        with trio.fail_after(30):
            async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
                refused = await till.call("stock_entry", article="A001", qty=1, reason="delivery")
                assert (refused["code"], refused["role"]) == ("forbidden", "manager"), refused
                assert (await till.call("sellers"))["role"] == "supervisor"
                await till.ok("sign_in", seller="sophie", pin=SOPHIE_PIN)
                assert {s["seller"] for s in (await till.ok("sellers"))["sellers"]} == {"paul", "sophie"}
                assert (await till.call("stock_entry", article="A001", qty=1, reason="delivery"))["role"] == "manager"
                assert (await till.call("devices"))["role"] == "manager"  # the default stays
