"""SPEC §6 replenishment through the websocket: purchase orders make stock incoming,
receipts (partial, then the rest) are delivery entries that raise stock and the
average cost, proposals come from reorder points or from what was sold."""

from __future__ import annotations

import datetime as dt

import pytest
import trio

from tests.e2e.stock_shop import main_point, running_shop
from tests.support import connect, eventually

# G1, a glass, is 1/6 of W1.
CATALOG = """id,name,price,vat_rate,barcodes,reorder_point,reorder_qty,supplier,part_of,parts
W1,Vin rouge 75 cl,8.90,20,3000000000014,6,12,Cave Dupont,,
P1,Pâté 180 g,4.50,5.5,3000000000021,3,,Charcuterie Martin,,
C1,Chips 150 g,1.90,5.5,3000000000045,,,Cave Dupont,,
G1,Verre de vin,3.00,20,,,,,W1,6
"""


def day(offset: int) -> str:
    """Today + ``offset`` days by the shop's day (no ``timezone`` set: the machine's
    zone), YYYY-MM-DD."""
    return (dt.datetime.now().astimezone().date() + dt.timedelta(days=offset)).isoformat()


@pytest.fixture
def shop(tmp_path):
    with running_shop(tmp_path, catalog_csv=CATALOG) as server:
        yield server


main = main_point


def levels(reply):
    """main's real, reserved, available and incoming (None when nothing is incoming)."""
    point = main(reply)
    return point["real"], point["reserved"], point["available"], point.get("incoming")


def lines(order):
    return [(line["article"], line["ordered"], line["received"], line["remaining"]) for line in order["lines"]]


def proposals(reply):
    return [(o["supplier"], [(line["article"], line["qty"]) for line in o["lines"]]) for o in reply["orders"]]


async def test_order_receive_partially_then_the_rest(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=4, reason="initial", unit_cost="4.00")
            ordered = [{"article": "W1", "qty": 12, "unit_cost": "5.00"}, {"article": "C1", "qty": 6}]
            created = await pda.ok("purchase_order_create", supplier="Cave Dupont", key="po-1", comment="semaine 48",
                                   lines=ordered)
            again = await pda.ok("purchase_order_create", supplier="Cave Dupont", key="po-1", comment="semaine 48",
                                 lines=ordered)  # a retry: the same order, not a second one
            order = created["order"]
            assert again["order"] == order and order["order"] == 1
            assert (order["supplier"], order["status"], order["stock_point"]) == ("Cave Dupont", "open", "main")
            assert lines(order) == [("W1", "12", "0", "12"), ("C1", "6", "0", "6")]
            # Incoming is visible in stock and in the stock state.
            assert levels(await pda.ok("stock", article="W1")) == ("4", "0", "4", "12")
            rows = {r["article"]: r for r in (await pda.ok("stock_state"))["rows"]}
            assert rows["W1"]["incoming"] == "12" and rows["C1"]["incoming"] == "6" and rows["C1"]["real"] == "0"
            # A partial receipt: stock and incoming move, the average cost too.
            part = await pda.ok("purchase_receive", order=1, lines=[{"article": "W1", "qty": 4}], key="rc-1")
            assert (part["order"]["status"], lines(part["order"])[0]) == ("open", ("W1", "12", "4", "8"))
            retry = await pda.ok("purchase_receive", order=1, lines=[{"article": "W1", "qty": 4}], key="rc-1")
            assert retry["order"] == part["order"]
            assert levels(await pda.ok("stock", article="W1")) == ("8", "0", "8", "8")
            rows = {r["article"]: r for r in (await pda.ok("stock_state"))["rows"]}
            assert (rows["W1"]["last_cost"], rows["W1"]["average_cost"]) == ("5.00", "4.5000")
            history = (await pda.ok("stock_history", article="W1", limit=1))["movements"][0]
            assert (history["reason"], history["delta"], history["supplier"], history["ref"], history["unit_cost"]) == (
                "delivery", "4", "Cave Dupont", "purchase:1", "5.00")
            # Bad receipts name the problem and change nothing.
            for fields, code, word in [
                ({"order": 1, "lines": [{"article": "W1", "qty": 9}]}, "bad_request", "expects 8 more"),
                ({"order": 1, "lines": [{"article": "P1", "qty": 1}]}, "bad_request", "not on order"),
                ({"order": 1, "lines": [{"article": "X9", "qty": 1}]}, "not_found", "X9"),
                ({"order": 1, "lines": [{"article": "W1", "qty": 0}]}, "bad_request", "positive"),
                ({"order": 1, "lines": []}, "bad_request", "at least one line"),
                ({"order": 99, "lines": [{"article": "W1", "qty": 1}]}, "not_found", "99"),
            ]:
                refused = await pda.call("purchase_receive", **fields)
                assert refused["code"] == code and word in refused["message"], (fields, refused)
            # The rest, at another cost: the order is received, nothing is incoming any more.
            done = await pda.ok("purchase_receive", order=1, received=day(-1),
                                lines=[{"article": "W1", "qty": 8, "unit_cost": "5.50"}, {"article": "C1", "qty": 6}])
            assert done["order"]["status"] == "received"
            assert lines(done["order"]) == [("W1", "12", "12", "0"), ("C1", "6", "6", "0")]
            assert levels(await pda.ok("stock", article="W1")) == ("16", "0", "16", None)
            rows = {r["article"]: r for r in (await pda.ok("stock_state"))["rows"]}
            assert (rows["W1"]["last_cost"], rows["W1"]["average_cost"], rows["C1"]["real"]) == ("5.50", "5.0000", "6")
            refused = await pda.call("purchase_receive", order=1, lines=[{"article": "W1", "qty": 1}])
            assert refused["code"] == "conflict" and "fully received" in refused["message"]
            listed = await pda.ok("purchase_orders", status="received")
            assert [o["order"] for o in listed["orders"]] == [1]
            assert (await pda.ok("purchase_orders", status="open"))["orders"] == []


async def test_bad_orders_and_cancel(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.pda) as pda:
            for fields, code, word in [
                ({"supplier": " ", "lines": [{"article": "W1", "qty": 1}]}, "bad_request", "supplier"),
                ({"supplier": "S", "lines": [{"article": "X9", "qty": 1}]}, "not_found", "X9"),
                ({"supplier": "S", "lines": [{"article": "W1", "qty": -1}]}, "bad_request", "positive"),
                ({"supplier": "S", "lines": [{"article": "G1", "qty": 1}]}, "bad_request", "W1"),
                ({"supplier": "S", "lines": [{"article": "W1", "qty": 1, "unit_cost": "-1"}]}, "bad_request",
                 "unit_cost"),
                ({"supplier": "S", "lines": [{"article": "W1", "qty": 1}], "stock_point": "nowhere"}, "not_found",
                 "nowhere"),
            ]:
                refused = await pda.call("purchase_order_create", **fields)
                assert refused["code"] == code and word in refused["message"], (fields, refused)
            assert (await pda.ok("purchase_orders"))["orders"] == []
            first = await pda.ok("purchase_order_create", supplier="Martin", lines=[{"article": "P1", "qty": 10}])
            bar = await pda.ok("purchase_order_create", supplier="Martin", stock_point="bar",
                               lines=[{"article": "P1", "qty": 2}])
            assert (first["order"]["order"], bar["order"]["order"]) == (1, 2)  # one numbering for all points
            await pda.ok("purchase_receive", order=1, lines=[{"article": "P1", "qty": 3}])
            assert main(await pda.ok("stock", article="P1"))["incoming"] == "7"
            cancelled = await pda.ok("purchase_cancel", order=1, key="c-1")
            assert cancelled["order"]["status"] == "cancelled"
            assert (await pda.ok("purchase_cancel", order=1, key="c-1"))["order"] == cancelled["order"]
            assert levels(await pda.ok("stock", article="P1")) == ("3", "0", "3", None)
            for verb, fields, word in [("purchase_cancel", {"order": 1}, "cancelled"),
                                       ("purchase_receive", {"order": 1, "lines": [{"article": "P1", "qty": 1}]},
                                        "cancelled")]:
                refused = await pda.call(verb, **fields)
                assert refused["code"] == "conflict" and word in refused["message"], refused
            assert (await pda.call("purchase_cancel", order=7))["code"] == "not_found"
            by_point = await pda.ok("purchase_orders", stock_point="bar")
            assert [(o["order"], o["status"]) for o in by_point["orders"]] == [(2, "open")]
            assert [o["order"] for o in (await pda.ok("purchase_orders", supplier="Martin"))["orders"]] == [1, 2]
        # Orders are journaled: after a restart the bar's order is still incoming there.
        shop.kill()
        shop.restart()
        async with connect(shop.ws_url, shop.pda) as pda:
            bar = next(p for p in (await pda.ok("stock", article="P1"))["points"] if p["stock_point"] == "bar")
            assert bar["incoming"] == "2"


async def test_replenishment_by_reorder_point_and_by_sales(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.till) as till, connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=10, reason="initial", unit_cost="4.00")
            await pda.ok("stock_entry", article="P1", qty=3, reason="initial")
            await pda.ok("stock_entry", article="C1", qty=20, reason="initial")
            # W1 10 > 6: not proposed; P1 3 ≤ 3, no reorder_qty: just above the point (1).
            assert proposals(await pda.ok("replenishment")) == [("Charcuterie Martin", [("P1", "1")])]
            # Sell 5 bottles (4 + 6 glasses): W1 at 5 ≤ 6 → its reorder_qty, 12.
            await till.ok("add", article="W1", qty=4)
            await till.ok("add", article="G1", qty=6)
            await till.ok("add", article="C1", qty=2)
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            await eventually(lambda: real(pda, "W1"), "5")
            reply = await pda.ok("replenishment")
            assert reply["sold_since"] is None and reply["stock_point"] == "main"
            assert proposals(reply) == [("Cave Dupont", [("W1", "12")]), ("Charcuterie Martin", [("P1", "1")])]
            line = reply["orders"][0]["lines"][0]
            assert (line["available"], line["incoming"], line["reorder_point"], line["last_cost"]) == (
                "5", "0", "6", "4.00")
            # Incoming counts: once P1 is on order it is no longer proposed.
            await pda.ok("purchase_order_create", supplier="Charcuterie Martin", lines=[{"article": "P1", "qty": 1}])
            assert proposals(await pda.ok("replenishment")) == [("Cave Dupont", [("W1", "12")])]
            # Replace what was sold since yesterday: W1 5 (parts included), C1 2.
            await pda.ok("purchase_order_create", supplier="Cave Dupont", lines=[{"article": "W1", "qty": 1}])
            yesterday = day(-1)
            sold = await pda.ok("replenishment", sold_since=yesterday)
            assert sold["sold_since"] == yesterday
            assert proposals(sold) == [("Cave Dupont", [("C1", "2"), ("W1", "4")])]
            assert [line["sold"] for line in sold["orders"][0]["lines"]] == ["2", "5"]
            tomorrow = day(1)
            assert proposals(await pda.ok("replenishment", sold_since=tomorrow)) == []
            assert proposals(await pda.ok("replenishment", stock_point="bar")) == [
                ("Cave Dupont", [("W1", "12")]), ("Charcuterie Martin", [("P1", "4")])]
            refused = await pda.call("replenishment", sold_since="23/11/2026")
            assert refused["code"] == "bad_request" and refused["field"] == "sold_since"


async def real(client, article):
    return main(await client.ok("stock", article=article))["real"]
