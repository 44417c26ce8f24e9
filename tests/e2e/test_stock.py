"""SPEC §6 through the websocket: reservations and the negative-stock policy,
entries and costs, exits, counts, transfers, tracking, deletion, the stock state,
the history, alerts and the CSV export — against a real server process."""

from __future__ import annotations

import csv
import io

import pytest
import trio

from tests.e2e.stock_shop import stock_shop
from tests.support import connect


@pytest.fixture
def shop(tmp_path):
    server = stock_shop(tmp_path)
    tokens = {lane: server.pair("till", lane) for lane in ("1", "2")}
    server.tokens = tokens
    server.pda = server.pair("pda")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def point(reply, stock_point="main"):
    level = next(p for p in reply["points"] if p["stock_point"] == stock_point)
    return level["real"], level["reserved"], level["available"]


async def level(client, article, stock_point="main"):
    return point(await client.ok("stock", article=article), stock_point)


async def test_two_lanes_cannot_both_take_the_last_bottle(shop):
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"]) as one, connect(shop.ws_url, shop.tokens["2"]) as two, \
                connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=1, reason="initial")
            await one.ok("scan", code="3000000000014")
            refused = await two.call("scan", code="3000000000014")
            assert refused["code"] == "out_of_stock"
            assert refused["article"] == "W1" and refused["available"] == "0" and refused["stock_point"] == "main"
            assert "W1" in refused["message"]
            assert (await two.ok("ticket"))["ticket"]["lines"] == []  # nothing changed
            assert await level(pda, "W1") == ("1", "1", "0")
            # Growing a line asks too; shrinking and removing never do.
            assert (await one.call("set_qty", line=1, qty=2))["code"] == "out_of_stock"
            await one.ok("cancel_ticket")
            assert await level(pda, "W1") == ("1", "0", "1")
            await two.ok("add", article="W1")
            await two.ok("pay", mode="card")
            await two.ok("finish", receipt="none")  # a finish never fails on stock
            while await level(pda, "W1") != ("0", "0", "0"):
                await trio.sleep(0.01)
            # Per-article policies: B1 allows negative stock, J1 warns.
            await one.ok("scan", code="3000000000021", qty=3)
            warned = await one.ok("scan", code="3000000000038")
            assert warned["stock_warnings"] == [{"article": "J1", "stock_point": "main", "available": "-1"}]
            assert "stock_warnings" not in await one.ok("scan", code="3000000000021")
            # A PDA basket reserves as it becomes ticket lines: all or nothing.
            basket = await pda.call("basket_empty", basket="b1", lane="2",
                                    lines=[{"code": "3000000000021"}, {"code": "3000000000014"}])
            assert basket["code"] == "out_of_stock"
            assert (await two.ok("ticket"))["ticket"]["lines"] == []


async def test_spec_order_then_delivery_note(shop):
    # SPEC §12 [SP]: real 30, an order of 10 (a held ticket holds it back) → 30/10/20;
    # then the delivery note (the order finished) → 20/0/20.
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"]) as till, connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="C1", qty=30, reason="initial")
            await till.ok("add", article="C1", qty=10)
            held = (await till.ok("hold"))["held"]
            assert await level(pda, "C1") == ("30", "10", "20")
            await till.ok("recall", held=held)
            assert await level(pda, "C1") == ("30", "10", "20")
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            while await level(pda, "C1") != ("20", "0", "20"):
                await trio.sleep(0.01)


async def test_restart_rebuilds_reservations_without_refusing(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"]) as till, connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=2, reason="initial")
            await till.ok("add", article="W1", qty=2)
            await pda.ok("stock_exit", article="W1", qty=1, reason="breakage")  # now over-reserved
        shop.kill()
        shop.restart()
        async with connect(shop.ws_url, shop.tokens["1"]) as till, connect(shop.ws_url, shop.pda) as pda:
            assert await level(pda, "W1") == ("1", "2", "-1")
            assert len((await till.ok("ticket"))["ticket"]["lines"]) == 1
            assert (await till.call("add", article="W1"))["code"] == "out_of_stock"
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            while await level(pda, "W1") != ("-1", "0", "-1"):
                await trio.sleep(0.01)


async def test_entries_costs_counts_transfers_tracking_and_deletion(shop):
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.pda) as pda, connect(shop.ws_url, shop.tokens["1"]) as till:
            await pda.ok("stock_entry", article="C1", qty=10, reason="delivery", unit_cost="1.00", supplier="Bret's")
            again = await pda.ok("stock_entry", article="C1", qty=10, reason="delivery", unit_cost="1.30",
                                 key="dlv-2")
            assert point(again) == ("20", "0", "20")
            repeat = await pda.ok("stock_entry", article="C1", qty=10, reason="delivery", unit_cost="1.30",
                                  key="dlv-2")
            assert point(repeat) == ("20", "0", "20")  # applied once
            state = await pda.ok("stock_state")
            row = next(r for r in state["rows"] if r["article"] == "C1")
            assert (row["last_cost"], row["average_cost"], row["value"]) == ("1.30", "1.1500", "23.00")
            # Inventory count: counted vs expected → one adjustment movement.
            counted = await pda.ok("stock_count", article="C1", counted=17, key="inv-1")
            assert point(counted) == ("17", "0", "17")
            assert point(await pda.ok("stock_count", article="C1", counted=17, key="inv-1")) == ("17", "0", "17")
            inventory = (await pda.ok("stock_history", article="C1", reason="inventory"))["movements"]
            assert [m["delta"] for m in inventory] == ["-3"]
            # Transfer: both sides in one unit.
            moved = await pda.ok("stock_transfer", article="C1", qty=5, **{"from": "main", "to": "bar"})
            assert point(moved) == ("12", "0", "12")
            assert await level(pda, "C1", "bar") == ("5", "0", "5")
            refused = await pda.call("stock_transfer", article="C1", qty=6, **{"from": "bar", "to": "main"})
            assert refused["code"] == "out_of_stock" and refused["available"] == "5"
            bad = await pda.call("stock_transfer", article="C1", qty=1, **{"from": "main", "to": "main"})
            assert bad["code"] == "bad_request"
            assert (await pda.call("stock_transfer", article="C1", qty=1, **{"from": "main", "to": "x"}))[
                "code"] == "not_found"
            # Tracking off: unlimited; back on without an entry.
            off = await pda.ok("stock_tracking", article="C1", tracked=False)
            assert off["points"][0]["tracked"] is False
            await till.ok("add", article="C1", qty=20)  # more than the 12 there
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            while await level(pda, "C1") != ("-8", "0", "-8"):
                await trio.sleep(0.01)
            on = await pda.ok("stock_tracking", article="C1", tracked=True)
            assert "tracked" not in on["points"][0] and point(on) == ("-8", "0", "-8")
            assert (await till.call("add", article="C1"))["code"] == "out_of_stock"
            # Delete a stock line: to 0, traced.
            deleted = await pda.ok("stock_delete", article="C1", comment="recount later")
            assert point(deleted) == ("0", "0", "0")
            history = (await pda.ok("stock_history", article="C1", limit=10))["movements"]
            assert [(m["reason"], m["delta"]) for m in history[:3]] == [
                ("delete", "8"), ("sale", "-20"), ("transfer", "5")]
            assert history[0]["comment"] == "recount later" and history[0]["source"].startswith("device:pda")
            assert history[1]["source"] == "lane:1" and history[1]["ref"].startswith("sale:")
            assert [m["stock_point"] for m in (await pda.ok("stock_history", stock_point="bar"))["movements"]] == [
                "bar"]
            # Exits with a reason and a comment.
            await pda.ok("stock_entry", article="W1", qty=6, reason="initial")
            exited = await pda.ok("stock_exit", article="W1", qty=1, reason="corked", comment="bouchonné")
            assert point(exited) == ("5", "0", "5")
            # Bad input: an error naming the problem, nothing changed.
            for verb, fields, code in [
                ("stock_count", {"article": "W1", "counted": -1}, "bad_request"),
                ("stock_count", {"article": "ZZ", "counted": 1}, "not_found"),
                ("stock_delete", {"article": "W1", "stock_point": "nowhere"}, "not_found"),
                ("stock_history", {"limit": 0}, "bad_request"),
                ("stock_history", {"since": "yesterday"}, "bad_request"),
                ("stock_state", {"stock_point": "nowhere"}, "not_found"),
                ("stock_entry", {"article": "W1", "qty": 1, "reason": "delivery", "unit_cost": "-1"}, "bad_request"),
            ]:
                assert (await pda.call(verb, **fields))["code"] == code, (verb, fields)
            assert await level(pda, "W1") == ("5", "0", "5")


async def test_alerts_and_the_state_filter(shop):
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"]) as till, connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=4, reason="initial")
            await pda.ok("stock_entry", article="C1", qty=4, reason="initial")
            assert (await pda.ok("stock_state", only_alerts=True))["rows"] == []
            await till.ok("add", article="W1", qty=2)
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            for client in (till, pda):
                alert = await client.wait_event(lambda e: e["type"] == "stock_alert")
                assert alert == {"type": "stock_alert", "stock_point": "main", "article": "W1",
                                 "name": "Vin rouge 75 cl", "real": "2", "reserved": "0", "available": "2",
                                 "alert_threshold": "2"}
            rows = (await pda.ok("stock_state", only_alerts=True))["rows"]
            assert [(r["article"], r["alert"], r["alert_threshold"]) for r in rows] == [("W1", True, "2")]


async def test_stock_export_cli(shop):
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=3, reason="delivery", unit_cost="4.10")
            await pda.ok("stock_entry", article="C1", qty=2, reason="initial", stock_point="bar")
    out = shop.cli("stock", "export").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["stock_point"], r["article"], r["real"], r["value"], r["alert"]) for r in rows] == [
        ("main", "W1", "3", "12.30", "false"), ("bar", "C1", "2", "0.00", "false")]
    only_bar = list(csv.DictReader(io.StringIO(shop.cli("stock", "export", "--stock-point", "bar").stdout)))
    assert [r["article"] for r in only_bar] == ["C1"]
    assert shop.cli("stock", "export", "--stock-point", "nowhere", check=False).returncode == 1
