"""Documents end to end (issue 18; SPEC §5 "Quotes", "Orders", "Delivery notes", §6
and §12 [SP]): a real server, real websockets, the SQLite file.

The seed's worked order (real 30, an order of 10 → 30/10/20; then the goods leave →
20/0/20): a quote, recalled by its barcode and made an order with a deposit paid by
card (deposit invoice C-000001), delivered with a shipping fee, recalled on the other
lane and invoiced with the deposit deducted. Orders cancelled with the deposit
refunded (a credit note) and kept; delivery notes taking real stock out, then one
invoice for two of them, and a credit note for a return on that invoice.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import trio

from tests.e2e.configured import (
    CASHIER,
    PAUL,
    SOPHIE_PIN,
    SUPERVISOR,
    configured_shop,
    file_printer,
    lane,
    printed,
    rows,
    stock_point,
    table,
    toml,
    verify,
)
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
C1,Champagne brut 75 cl,30.00,20,3000000000014
"""
SOPHIE = ("sophie", SOPHIE_PIN)


@pytest.fixture
def shop(tmp_path: Path):
    # A shop that never sells below zero: an order's own stock is never refused to it.
    config = toml(table("shop", name="Cave du Port", negative_stock="refuse"), stock_point("main"),
                  lane("1", printer="p1"), lane("2"), file_printer(tmp_path))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR], tills=("1", "2")) as server:
        server.pda = server.pair("pda")  # type: ignore[attr-defined]
        yield server


async def level(client) -> tuple[str, str, str]:
    found = next(p for p in (await client.ok("stock", article="C1"))["points"] if p["stock_point"] == "main")
    return found["real"], found["reserved"], found["available"]


async def settled(client, expected: tuple[str, str, str]) -> None:
    """The stock point hears of a change after its reply (a tell): wait for it."""
    while await level(client) != expected:
        await trio.sleep(0.01)


async def test_the_worked_order_quote_order_deposit_delivered_invoiced(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as one, \
                connect(shop.ws_url, shop.tokens["2"], seller=PAUL) as two, \
                connect(shop.ws_url, shop.pda, seller=PAUL) as pda:
            await pda.ok("stock_entry", article="C1", qty=30, reason="initial")
            noces = (await one.ok("customer_create", name="SARL Les Noces", business=True))["customer"]
            # A quote: no revenue, no stock; valid 3 months, shown as a date.
            await one.ok("add", article="C1", qty=10)
            await one.ok("set_customer", customer=noces)
            quote = await one.ok("quote", valid_months=3)
            doc = quote["document"]
            assert (doc["kind"], doc["number"], doc["name"], doc["barcode"], doc["total"]) == (
                "quote", 1, "Q-000001", "DQ000001", "300.00")
            made = dt.date.fromisoformat(doc["at"][:10])
            assert dt.date.fromisoformat(doc["valid_until"]) > made
            assert quote["ticket"]["lines"] == []
            # Printed on the lane's receipt printer with the barcode that recalls it.
            await printed(shop, "DEVIS", "N° Q-000001", "Valable jusqu'au", b"{BDQ000001")
            await settled(pda, ("30", "0", "30"))

            # Scanned back at the till: the quote becomes the open ticket again.
            recalled = await one.ok("scan", code="DQ000001")
            assert [(l["article"], l["qty"]) for l in recalled["ticket"]["lines"]] == [("C1", "10")]
            assert (await one.call("scan", code="DQ000001"))["code"] == "conflict"  # the ticket is not empty
            # The order: a deposit of 100.00 by card first, delivered with a 15.00 shipping fee.
            await one.ok("pay", mode="card", amount="100.00")
            due = (made + dt.timedelta(days=7)).isoformat()
            bad = await one.call("order", delivery="delivered", deposit="100.00", due=due)
            assert bad["code"] == "bad_request" and bad["field"] == "address"
            wrong = await one.call("order", delivery="delivered", address="Château de Vaux", deposit="90.00")
            assert wrong["code"] == "conflict" and "deposit" in wrong["message"]
            order = await one.ok("order", delivery="delivered", address="Château de Vaux", shipping="15.00",
                                 deposit="100.00", due=due)
            doc = order["document"]
            assert (doc["kind"], doc["name"], doc["barcode"], doc["deposit_invoice"]) == (
                "order", "O-000001", "DO000001", "C-000001")
            assert (doc["total"], doc["deposit"], doc["left_to_pay"]) == ("315.00", "100.00", "215.00")
            assert doc["lines"][-1]["name"] == "Frais de port" and doc["lines"][-1]["total"] == "15.00"
            await printed(shop, "COMMANDE", "N° O-000001", "Reste à payer : 215.00", b"{BDO000001")
            # Reserved: available falls, real does not, and the other lane sees it.
            await settled(pda, ("30", "10", "20"))
            assert await level(two) == ("30", "10", "20")
            listed = (await two.ok("documents", open=True))["documents"]
            assert [(d["name"], d["status"]) for d in listed] == [("O-000001", "open")]
            assert [d["name"] for d in (await two.ok("documents", kind="quote"))["documents"]] == ["Q-000001"]
            assert (await two.ok("documents", kind="quote"))["documents"][0]["status"] == "recalled"
            soon = await pda.ok("documents", due=due)  # the PDA lists the orders due too
            assert [d["name"] for d in soon["documents"]] == ["O-000001"]
            assert (await two.ok("documents", due="today"))["documents"] == []

            # Lane 1 takes the other 20: nothing is left, yet the order is its customer's.
            await one.ok("add", article="C1", qty=20)
            assert (await one.call("add", article="C1"))["code"] == "out_of_stock"
            await settled(pda, ("30", "30", "0"))
            # Picked up at lane 2: scanned, the deposit deducted, invoiced.
            ticket = (await two.ok("scan", code="DO000001"))["ticket"]
            assert ticket["total"] == "315.00" and ticket["balance"] == "215.00"
            assert [(p["mode"], p["amount"]) for p in ticket["payments"]] == [("deposit", "100.00")]
            assert (await two.call("remove_payment", payment=1))["code"] == "conflict"
            assert (await one.call("scan", code="DO000001"))["code"] == "conflict"  # recalled already
            await settled(pda, ("30", "30", "0"))  # the reservation is now the sale's
            await one.ok("cancel_ticket")
            await settled(pda, ("30", "10", "20"))
            await two.ok("pay", mode="card", amount="215.00")
            done = await two.ok("finish", receipt="invoice")
            assert done["invoice"] == 1 and done["total"] == "315.00"
            await settled(pda, ("20", "0", "20"))

    assert rows(shop, "SELECT kind, mode, amount, ref FROM money_in") == [
        ("order_deposit", "card", "100.00", "O-000001")]
    assert rows(shop, "SELECT mode, amount, reference FROM payments WHERE sale=? ORDER BY number",
                done["number"]) == [("deposit", "100.00", "C-000001"), ("card", "215.00", None)]
    chains = rows(shop, "SELECT chain, number FROM fiscal_records WHERE chain IN"
                        " ('quote','order','deposit_invoice','document') ORDER BY chain, number")
    assert chains == [("deposit_invoice", 1), ("document", 1), ("document", 2), ("order", 1), ("quote", 1)]
    assert "fiscal chains intact" in verify(shop)


async def test_orders_cancelled_with_the_deposit_refunded_or_kept(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as one, \
                connect(shop.ws_url, shop.tokens["2"], seller=SOPHIE) as boss, \
                connect(shop.ws_url, shop.pda, seller=PAUL) as pda:
            await pda.ok("stock_entry", article="C1", qty=30, reason="initial")
            await one.ok("add", article="C1", qty=4)
            await one.ok("pay", mode="cash", amount="50.00")
            first = (await one.ok("order", delivery="take_away", deposit="50.00"))["document"]
            await one.ok("add", article="C1", qty=2)
            await one.ok("pay", mode="cheque", amount="20.00")
            second = (await one.ok("order", delivery="on_site", deposit="20.00"))["document"]
            await settled(pda, ("30", "6", "24"))

            assert (await one.call("document_cancel", document=first["barcode"], deposit="refund"))["code"] == \
                "forbidden"  # a supervisor's verb
            asked = await boss.call("document_cancel", document=first["barcode"])
            assert asked["code"] == "bad_request" and asked["field"] == "deposit"
            refunded = await boss.ok("document_cancel", document=first["barcode"], deposit="refund")
            assert refunded["document"]["status"] == "cancelled" and refunded["refunded"] == "50.00"
            assert refunded["credit_note"] == "A-000001"
            kept = await boss.ok("document_cancel", document="O-000002", deposit="keep")
            assert kept["document"]["deposit_outcome"] == "keep" and kept["refunded"] == "0.00"
            assert "credit_note" not in kept
            again = await boss.call("document_cancel", document="O-000002", deposit="keep")
            assert again["code"] == "conflict"
            await settled(pda, ("30", "0", "30"))
            assert (await one.call("scan", code=second["barcode"]))["code"] == "conflict"
            # X: the deposits are money taken outside sales on lane 1, the refund left lane 2's drawer.
            taken = (await one.ok("x_report"))["report"]["totals"]["money_in"]
            given = (await boss.ok("x_report"))["report"]["totals"]["money_in"]

    assert rows(shop, "SELECT kind, mode, amount FROM money_in ORDER BY seq") == [
        ("order_deposit", "cash", "50.00"), ("order_deposit", "cheque", "20.00"),
        ("order_deposit_refund", "cash", "-50.00")]
    assert rows(shop, "SELECT count(*) FROM fiscal_records WHERE chain='credit_note'") == [(1,)]
    assert (taken, given) == ({"order_deposit": "70.00"}, {"order_deposit_refund": "-50.00"})
    assert "fiscal chains intact" in verify(shop)


async def test_delivery_notes_then_one_invoice_for_two_then_a_credit_note_on_a_return(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as one, \
                connect(shop.ws_url, shop.pda, seller=PAUL) as pda:
            await pda.ok("stock_entry", article="C1", qty=30, reason="initial")
            bistro = (await one.ok("customer_create", name="Bistrot du Quai", business=True))["customer"]
            await one.ok("add", article="C1", qty=5)
            assert (await one.call("delivery_note"))["code"] == "conflict"  # no customer
            await one.ok("set_customer", customer=bistro)
            first = (await one.ok("delivery_note"))["document"]
            await one.ok("add", article="C1", qty=2)
            await one.ok("set_customer", customer=bistro)
            second = (await one.ok("delivery_note"))["document"]
            assert (first["name"], second["name"], second["barcode"]) == ("L-000001", "L-000002", "DL000002")
            await settled(pda, ("23", "0", "23"))  # real stock out, no sale
            assert rows(shop, "SELECT count(*) FROM sales") == [(0,)]

            ticket = (await one.ok("document_invoice", documents=[first["barcode"], "L-000002"]))["ticket"]
            assert ticket["total"] == "210.00" and len(ticket["lines"]) == 2
            await one.ok("pay", mode="card")
            done = await one.ok("finish", receipt="invoice")
            assert done["invoice"] == 1 and done["total"] == "210.00"
            await settled(pda, ("23", "0", "23"))  # the invoice takes no stock again
            listed = (await one.ok("documents", kind="delivery_note"))["documents"]
            assert [d["status"] for d in listed] == ["invoiced", "invoiced"]
            assert (await one.call("document_invoice", documents=["L-000001"]))["code"] == "conflict"
    assert rows(shop, "SELECT reason, delta, ref FROM stock_movements WHERE reason='delivery_note' ORDER BY seq") == [
        ("delivery_note", "-5", "L-000001"), ("delivery_note", "-2", "L-000002")]

    # A credit note: one bottle of that invoice brought back, the return billed to the customer.
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as one:
            await one.ok("add", article="C1", qty=-1)
            await one.ok("set_customer", customer=bistro)
            await one.ok("pay", mode="card", supervisor_pin=SOPHIE_PIN)
            returned = await one.ok("finish", receipt="invoice")
            assert returned["total"] == "-30.00"
    [(record,)] = rows(shop, "SELECT record FROM fiscal_records WHERE chain='credit_note'")
    note = json.loads(record)
    assert (note["number"], note["refers"], note["customer"], note["total"], note["reason"]) == (
        1, "F-000001", bistro, "-30.00", "return")
    assert [(l["article"], l["qty"]) for l in note["lines"]] == [("C1", "-1")]
    assert "fiscal chains intact" in verify(shop)


async def _killed_during(shop, verb: str, delay: float, **fields) -> None:
    """Send ``verb`` on lane 1 and kill -9 the server ``delay`` s later, whether or not it
    answered; then start it again."""
    async with connect(shop.ws_url, shop.tokens["1"], seller=SOPHIE) as till:
        await till.send_raw(json.dumps({"type": verb, "id": "k", **fields}))
        await trio.sleep(delay)
        shop.kill()
    shop.restart()


async def test_kill_9_in_the_middle_of_each_conversion_leaves_it_whole_or_not_done(shop):
    """Each conversion is one unit (the lane's ticket and the document's records): after
    a kill -9 at any point it is done or not, never half, and stock agrees."""
    import random

    rng = random.Random(18)
    with trio.fail_after(120):
        async with connect(shop.ws_url, shop.pda, seller=PAUL) as pda, \
                connect(shop.ws_url, shop.tokens["1"], seller=SOPHIE) as till:
            await pda.ok("stock_entry", article="C1", qty=30, reason="initial")
            bistro = (await till.ok("customer_create", name="Bistrot du Quai", business=True))["customer"]
            await till.ok("add", article="C1", qty=4)
            await till.ok("pay", mode="cash", amount="40.00")
        order = {"delivery": "take_away", "deposit": "40.00"}

        async def state() -> tuple[list[tuple[str, str]], dict, tuple[str, str, str]]:
            async with connect(shop.ws_url, shop.tokens["1"], seller=SOPHIE) as till, \
                    connect(shop.ws_url, shop.pda, seller=PAUL) as pda:
                docs = [(d["name"], d["status"]) for d in (await till.ok("documents"))["documents"]]
                return docs, (await till.ok("ticket"))["ticket"], await level(pda)

        async def step(verb: str, fields: dict, done, not_done) -> None:
            await _killed_during(shop, verb, rng.uniform(0, 0.03), **fields)
            docs, ticket, _ = await state()
            if done(docs, ticket):
                return
            assert not_done(docs, ticket), (verb, docs, ticket)
            async with connect(shop.ws_url, shop.tokens["1"], seller=SOPHIE) as till:
                await till.ok(verb, **fields)

        # The order with its deposit: reserved 4 either way (the open ticket reserves too).
        await step("order", order, lambda d, t: d == [("O-000001", "open")] and t["lines"] == [],
                   lambda d, t: d == [] and len(t["lines"]) == 1 and t["paid"] == "40.00")
        assert (await state())[2] == ("30", "4", "26")
        # Recalled by its barcode.
        await step("scan", {"code": "DO000001"},
                   lambda d, t: d == [("O-000001", "recalled")] and t["balance"] == "80.00",
                   lambda d, t: d == [("O-000001", "open")] and t["lines"] == [])
        assert (await state())[2] == ("30", "4", "26")
        async with connect(shop.ws_url, shop.tokens["1"], seller=SOPHIE) as till:
            await till.ok("pay", mode="card")
            await till.ok("finish")
            await till.ok("add", article="C1", qty=2)
            await till.ok("set_customer", customer=bistro)
        # A delivery note: real stock out with it, or still reserved by the ticket.
        await step("delivery_note", {},
                   lambda d, t: ("L-000001", "open") in d and t["lines"] == [],
                   lambda d, t: ("L-000001", "open") not in d and len(t["lines"]) == 1)
        with trio.fail_after(10):
            while (await state())[2] != ("24", "0", "24"):
                await trio.sleep(0.05)
        # Its invoice.
        await step("document_invoice", {"documents": ["DL000001"]},
                   lambda d, t: ("L-000001", "invoiced") in d and t["total"] == "60.00",
                   lambda d, t: ("L-000001", "open") in d and t["lines"] == [])
        async with connect(shop.ws_url, shop.tokens["1"], seller=SOPHIE) as till:
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="invoice")
            await till.ok("add", article="C1", qty=1)
            await till.ok("pay", mode="cash", amount="10.00")
            await till.ok("order", delivery="on_site", deposit="10.00")
        # A cancel with the deposit refunded: the refund and the credit note with it, or neither.
        await step("document_cancel", {"document": "O-000002", "deposit": "refund"},
                   lambda d, t: ("O-000002", "cancelled") in d, lambda d, t: ("O-000002", "open") in d)
        assert (await state())[2] == ("24", "0", "24")
    assert rows(shop, "SELECT kind, amount FROM money_in ORDER BY seq") == [
        ("order_deposit", "40.00"), ("order_deposit", "10.00"), ("order_deposit_refund", "-10.00")]
    assert rows(shop, "SELECT count(*) FROM fiscal_records WHERE chain='credit_note'") == [(1,)]
    assert "fiscal chains intact" in verify(shop)


async def test_document_names_with_other_scripts_digits_are_bad_requests_and_the_connection_stays(shop):
    """``str.isdigit`` is true for "²", which ``int`` refuses: each verb that names a
    document answers ``bad_request`` naming its field, and the device's websocket stays
    open (the exception used to leave the session's reader and close it)."""
    frames = [("document_cancel", {"document": "O-²", "deposit": "refund"}, "document"),
              ("document_invoice", {"documents": ["L-³"]}, "documents"),
              ("document_pdf", {"document": "Q-¹"}, "document"),
              ("reprint", {"document": "O-²"}, "document"),
              ("reprint", {"document": "DQ00000¹"}, "document")]
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=SOPHIE) as boss:
            for verb, fields, field in frames:
                answered = await boss.call(verb, **fields)
                assert (answered["type"], answered["code"], answered.get("field")) == (
                    "error", "bad_request", field), (verb, answered)
            assert (await boss.ok("documents"))["documents"] == []  # the same connection, still answering
