"""Returns and refunds end to end: a real server, real websockets, a real SQLite file.

Return mode (negative quantities), a cash refund approved by a supervisor's PIN (a
wrong PIN changes nothing), a refund by voucher that pays a later sale, a ticket
mixing sold and returned lines, a refund onto a customer's account, stock back
after a return, the below-cost flag after a stock entry whose cost is above the
price. After each, ``laneserver verify`` passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from tests.e2e.configured import CASHIER, PAUL, SOPHIE_PIN, SUPERVISOR
from tests.e2e.configured import configured_shop, counts, open_db, printed, verify
from tests.e2e.configured import file_printer, lane, stock_point, table, terminal, toml
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
T70,Article à 70,70.00,20,3000000000700
T30,Article à 30,30.00,20,3000000000304
T10,Article à 10,10.00,20,3000000000106
B1,Baguette,1.20,5.5,3000000000021
"""
A70, A30, A10, BREAD = "3000000000700", "3000000000304", "3000000000106", "3000000000021"


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Retours"), stock_point("main"), lane("1", printer="p1"),
                  lane("2", terminal="t1"), file_printer(tmp_path), terminal("t1", kind="simulator", delay_seconds=0.0))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR], tills=("1",)) as server:
        yield server


async def _real(till, article: str) -> str:
    reply = await till.ok("stock", article=article)
    return next(p["real"] for p in reply["points"] if p["stock_point"] == "main")


async def test_a_cash_refund_needs_a_supervisor_and_puts_stock_back(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            await till.ok("stock_entry", article="T10", qty=5, reason="initial")
            await till.ok("scan", code=A10, qty=2)
            await till.ok("pay", mode="cash", amount="20.00")
            await till.ok("finish")
            assert await _real(till, "T10") == "3"

            # Return mode: a negative quantity. The line, its VAT and the total are negative.
            reply = await till.ok("scan", code=A10, qty=-1)
            line = reply["ticket"]["lines"][0]
            assert (line["qty"], line["total"]) == ("-1", "-10.00")
            assert (reply["ticket"]["total"], reply["ticket"]["balance"]) == ("-10.00", "-10.00")
            assert reply["ticket"]["change"] == "0.00"
            # A returned line holds no stock back (available is not lowered, nor raised, before finish).
            stock = await till.ok("stock", article="T10")
            assert [(p["real"], p["reserved"]) for p in stock["points"] if p["stock_point"] == "main"] == [("3", "0")]
            # Nothing to finish yet: the shop owes the balance.
            assert (await till.call("finish"))["code"] == "balance_not_zero"

            sales, payments = counts(shop, "sales", "payments")
            refused = await till.call("pay", mode="cash")
            assert refused["code"] == "supervisor_required"
            refused = await till.call("pay", mode="cash", supervisor_pin="0000")
            assert refused["code"] == "supervisor_required"
            assert (await till.ok("ticket"))["ticket"]["payments"] == []
            # A positive amount, or more than is owed, is refused too.
            assert (await till.call("pay", mode="cash", amount="10.00", supervisor_pin=SOPHIE_PIN))["code"] == "bad_request"
            assert (await till.call("pay", mode="card", amount="-10.01", supervisor_pin=SOPHIE_PIN))["code"] == "bad_request"
            assert counts(shop, "sales", "payments") == (sales, payments)

            reply = await till.ok("pay", mode="cash", supervisor_pin=SOPHIE_PIN)
            payment = reply["ticket"]["payments"][0]
            assert (payment["mode"], payment["amount"], payment["approved_by"]) == ("cash", "-10.00", "sophie")
            assert reply["ticket"]["balance"] == "0.00"
            done = await till.ok("finish")
            assert (done["total"], done["change"]) == ("-10.00", "0.00")
            assert await _real(till, "T10") == "4"  # the returned article is back in stock

            # The drawer counts the refund as cash out: 20.00 in, 10.00 out.
            drawer = (await till.ok("drawer"))["drawer"]
            assert drawer["cash_sales"] == "10.00"
            receipts = await printed(shop, b"Remboursement")
            assert b"Retour" in receipts

    with open_db(shop) as db:
        total, lines = db.execute("SELECT total, lines FROM sales WHERE number=?", (done["number"],)).fetchone()
        assert total == "-10.00" and json.loads(lines)[0]["qty"] == "-1"
        assert db.execute("SELECT mode, amount FROM payments WHERE sale=?", (done["number"],)).fetchall() == [
            ("cash", "-10.00")]
        # The approval is journaled with both sellers: the cashier who asked, the supervisor who approved.
        seller, data = db.execute("SELECT seller, data FROM events WHERE kind='PaymentAdded' ORDER BY seq DESC"
                                  " LIMIT 1").fetchone()
        assert seller == "paul" and json.loads(data)["payment"]["approved_by"] == "sophie"
    verify(shop)


async def test_a_refund_by_voucher_pays_a_later_sale(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            await till.ok("scan", code=A30, qty=-1)
            refused = await till.call("pay", mode="voucher", reference="V000000000001", supervisor_pin=SOPHIE_PIN)
            assert refused["code"] == "bad_request"  # a refund issues a new voucher
            assert (await till.call("pay", mode="meal_voucher", reference="MV1",
                                    supervisor_pin=SOPHIE_PIN))["code"] == "bad_request"
            reply = await till.ok("pay", mode="voucher", supervisor_pin=SOPHIE_PIN)
            assert reply["ticket"]["payments"][0]["amount"] == "-30.00"
            done = await till.ok("finish", key="refund-1")
            [voucher] = done["vouchers"]
            assert (voucher["amount"], voucher["origin"], voucher["status"]) == ("30.00", "refund", "valid")
            again = await till.ok("finish", key="refund-1")  # the key: the same reply, no second voucher
            assert again["vouchers"] == done["vouchers"]
            view = (await till.ok("voucher", code=voucher["code"]))["voucher"]
            assert (view["amount"], view["origin"]) == ("30.00", "refund")

            # The voucher pays a later sale like any other.
            await till.ok("scan", code=A30)
            reply = await till.ok("pay", mode="voucher", reference=voucher["code"])
            assert reply["ticket"]["balance"] == "0.00"
            await till.ok("finish")
            view = (await till.ok("voucher", code=voucher["code"]))["voucher"]
            assert view["status"] == "used"
            receipts = await printed(shop, voucher["code"].encode())
            assert "Bon d'achat n°".encode("cp858") in receipts
    verify(shop)


async def test_a_ticket_mixes_sold_and_returned_lines(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            await till.ok("scan", code=A70)
            reply = await till.ok("add", article="T30", qty="-1")
            assert reply["ticket"]["total"] == "40.00"
            # A quantity edit keeps the line's sign; a sold line cannot be made a return.
            reply = await till.ok("set_qty", line=2, qty=2)
            assert reply["ticket"]["lines"][1]["qty"] == "-2" and reply["ticket"]["total"] == "10.00"
            assert (await till.call("set_qty", line=1, qty=-1))["code"] == "bad_request"
            reply = await till.ok("scan", code=BREAD, qty=-1)
            assert reply["ticket"]["total"] == "8.80"  # 70.00 − 60.00 − 1.20: the customer still pays
            reply = await till.ok("pay", mode="card")
            assert reply["ticket"]["payments"][0]["amount"] == "8.80"
            done = await till.ok("finish")
            assert done["total"] == "8.80"
    with open_db(shop) as db:
        vat = json.loads(db.execute("SELECT vat FROM sales WHERE number=?", (done["number"],)).fetchone()[0])
    # Per rate: the lines' VAT summed, sold and returned alike (20 %: 11.67 − 10.00; 5.5 %: −0.06).
    assert [(row["rate"], row["vat"], row["total"]) for row in vat] == [("20", "1.67", "10.00"),
                                                                        ("5.5", "-0.06", "-1.20")]
    verify(shop)


async def test_a_refund_onto_the_customers_account(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = (await till.ok("customer_create", name="Jeanne"))["customer"]
            await till.ok("scan", code=A10, qty=-1)
            assert (await till.call("pay", mode="credit", supervisor_pin=SOPHIE_PIN))["code"] == "conflict"
            await till.ok("set_customer", customer=jeanne)
            await till.ok("pay", mode="credit", supervisor_pin=SOPHIE_PIN)
            await till.ok("finish")
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert (view["credit"], view["credit_available"]) == ("10.00", "10.00")
            # The money refunded on account pays a later sale.
            await till.ok("set_customer", customer=jeanne)
            await till.ok("scan", code=A10)
            await till.ok("pay", mode="credit")
            await till.ok("finish")
            assert (await till.ok("customer", customer=jeanne))["customer"]["credit"] == "0.00"
    verify(shop)


async def test_a_card_refund_on_a_lane_with_a_terminal_is_the_cashiers(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.pair("till", "2"), seller=PAUL) as till:
            # A sale on the terminal: the reference is its authorisation code.
            await till.ok("scan", code=A10)
            reply = await till.ok("pay", mode="card")
            assert reply["ticket"]["payments"][0]["reference"].startswith("SIM")
            await till.ok("finish", receipt="none")
            # A refund is made by the cashier on the terminal and recorded as confirmed.
            await till.ok("scan", code=A10, qty=-1)
            reply = await till.ok("pay", mode="card", reference="refund 778", supervisor_pin=SOPHIE_PIN)
            payment = reply["ticket"]["payments"][0]
            assert (payment["amount"], payment["reference"]) == ("-10.00", "refund 778")
            done = await till.ok("finish", receipt="none")
            assert done["total"] == "-10.00"
    verify(shop)


async def test_a_line_sold_below_cost_is_flagged(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            reply = await till.ok("scan", code=A10)
            assert "below_cost" not in reply["ticket"]["lines"][0]  # no cost known yet
            await till.ok("cancel_ticket")
            await till.ok("stock_entry", article="T10", qty=5, reason="delivery", unit_cost="12.00")
            await till.ok("stock_entry", article="T30", qty=5, reason="delivery", unit_cost="25.00")
            reply = await till.ok("scan", code=A10)
            assert reply["ticket"]["lines"][0]["below_cost"] is True
            reply = await till.ok("scan", code=A30)
            assert "below_cost" not in reply["ticket"]["lines"][1]
            # A discount that takes the net price below the cost flags the line.
            reply = await till.ok("discount", line=2, percent="20")
            assert reply["ticket"]["lines"][1]["below_cost"] is True
            # A returned line is never "sold below cost".
            reply = await till.ok("scan", code=A10, qty=-1)
            assert "below_cost" not in reply["ticket"]["lines"][2]
            await till.ok("pay", mode="cash")
            await till.ok("finish")
    with open_db(shop) as db:
        flags = [json.loads(data)["below_cost"]
                 for (data,) in db.execute("SELECT data FROM events WHERE kind='LineAdded' ORDER BY seq")]
        discount = json.loads(db.execute("SELECT data FROM events WHERE kind='DiscountApplied'").fetchone()[0])
    assert flags == [False, True, False, False]
    assert discount["lines"] == [{"line": 2, "percent": "20", "below_cost": True}]
    verify(shop)
