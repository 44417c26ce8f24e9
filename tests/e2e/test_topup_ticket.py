"""A wallet top-up on the open ticket (``topup_line``, SPEC §3 "topped up from a ticket"),
end to end: a real server, real websockets, a real SQLite file.

Goods and a top-up paid in cash: the wallet gets the top-up only, the VAT covers the
goods only, the receipt prints the line and the new balance, the drawer counts the cash
once. A top-up line removed before finish credits nothing; the customer cannot change
while it is on; a top-up cancelled by a return line (refunded in the same mode, with a
supervisor's PIN); kill -9 between pay and finish credits once. ``laneserver verify``
passes after each.
"""

from __future__ import annotations

import json
from decimal import Decimal
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
from tests.support import LiveServer, connect

CATALOG = """id,name,price,vat_rate,barcodes
T10,Article à 10,10.00,20,3000000000106
P55,Pain,2.20,5.5,3000000000557
"""
A10, BREAD = "3000000000106", "3000000000557"


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Recharges"), stock_point(), lane("1", printer="p1"), file_printer(tmp_path))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR], tills=("1",)) as server:
        yield server


def _wallet_rows(server: LiveServer) -> list[tuple]:
    return rows(server, "SELECT kind, delta, ref, mode FROM customer_movements WHERE account = 'wallet' ORDER BY seq")


async def _customer(till, name: str = "Jeanne") -> str:
    return (await till.ok("customer_create", name=name, wallet=True))["customer"]


async def test_goods_and_a_top_up_paid_in_cash(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = await _customer(till)
            before = (await till.ok("drawer"))["drawer"]
            await till.ok("scan", code=A10)
            await till.ok("scan", code=BREAD)
            # A top-up needs the customer first.
            assert (await till.call("topup_line", amount="20.00"))["code"] == "conflict"
            await till.ok("set_customer", customer=jeanne)
            assert (await till.call("topup_line", amount="0"))["code"] == "bad_request"
            assert (await till.call("topup_line", amount="5.00", qty=2))["code"] == "bad_request"
            reply = await till.ok("topup_line", amount="20.00", key="tu-1")
            again = await till.ok("topup_line", amount="20.00", key="tu-1")  # the key: one line
            assert again["ticket"] == reply["ticket"]
            ticket = reply["ticket"]
            line = ticket["lines"][-1]
            assert (line["article"], line["name"], line["qty"], line["total"], line["vat_rate"], line["topup"]) == (
                None, "Recharge porte-monnaie", "1", "20.00", "0", "wallet")
            assert ticket["total"] == "32.20"
            number = line["line"]
            # Its quantity is not changed, it is not discounted, the customer stays.
            assert (await till.call("set_qty", line=number, qty=2))["code"] == "conflict"
            assert (await till.call("discount", line=number, percent="10"))["code"] == "conflict"
            other = await _customer(till, "Autre")
            changed = await till.call("set_customer", customer=other)
            assert changed["code"] == "conflict" and changed["line"] == number
            assert (await till.call("set_customer", customer=None))["code"] == "conflict"
            # The wallet pays goods, never the top-up.
            refused = await till.call("pay", mode="wallet")
            assert (refused["code"], refused["payable"]) == ("conflict", "12.20")
            await till.ok("pay", mode="cash", amount="50.00")
            done = await till.ok("finish", key="fin-1")
            assert (done["total"], done["change"]) == ("32.20", "17.80")
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert (view["wallet"], view["wallet_available"]) == ("20.00", "20.00")
            assert done["number"] in [h["number"] for h in view["history"]]
            after = (await till.ok("drawer"))["drawer"]
            # The cash of the whole ticket, once, as a sale's; nothing as other cash.
            assert Decimal(after["cash_sales"]) - Decimal(before["cash_sales"]) == Decimal("32.20")
            assert after["cash_in"] == before["cash_in"]
            # Now the wallet pays goods on the next ticket.
            await till.ok("scan", code=A10)
            await till.ok("set_customer", customer=jeanne)
            await till.ok("pay", mode="wallet")
            await till.ok("finish", receipt="none")
    lines, vat = rows(shop, "SELECT lines, vat FROM sales WHERE number = ?", done["number"])[0]
    money_in = rows(shop, "SELECT count(*) FROM money_in")[0][0]
    moved = rows(shop, "SELECT count(*) FROM stock_movements WHERE ref = ?", f"sale:{done['number']}")[0][0]
    assert json.loads(lines)[-1]["topup"] == "wallet"
    assert sorted((r["rate"], r["total"]) for r in json.loads(vat)) == [("20", "10.00"), ("5.5", "2.20")]
    assert money_in == 0  # the top-up's money is the sale's payments
    assert moved == 2  # the goods only
    assert _wallet_rows(shop) == [("topup", "20.00", f"sale:{done['number']}", "cash"),
                                  ("spend", "-10.00", f"sale:{done['number'] + 1}", None)]
    with trio.fail_after(10):
        await printed(shop, b"Recharge porte-monnaie", b"nouveau solde 20,00")
    verify(shop)


async def test_a_top_up_line_removed_before_finish_credits_nothing(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = await _customer(till)
            await till.ok("set_customer", customer=jeanne)
            await till.ok("scan", code=A10)
            line = (await till.ok("topup_line", amount="30.00"))["ticket"]["lines"][-1]["line"]
            ticket = (await till.ok("remove_line", line=line))["ticket"]
            assert ticket["total"] == "10.00" and all("topup" not in l for l in ticket["lines"])
            # Without it, the customer may change again.
            await till.ok("set_customer", customer=None)
            await till.ok("pay", mode="cash")
            await till.ok("finish", receipt="none")
            assert (await till.ok("customer", customer=jeanne))["customer"]["wallet"] == "0.00"
            # A ticket with only a top-up, cancelled whole: nothing either.
            await till.ok("set_customer", customer=jeanne)
            await till.ok("topup_line", amount="5.00")
            await till.ok("cancel_ticket")
            assert (await till.ok("customer", customer=jeanne))["customer"]["wallet"] == "0.00"
    assert _wallet_rows(shop) == []
    verify(shop)


async def test_a_top_up_cancelled_by_a_return_line(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = await _customer(till)
            await till.ok("set_customer", customer=jeanne)
            await till.ok("topup_line", amount="25.00")
            await till.ok("pay", mode="card", reference="auth-1")
            sold = await till.ok("finish", receipt="none")
            # More than the wallet holds: refused, nothing on the ticket.
            await till.ok("set_customer", customer=jeanne)
            short = await till.call("topup_line", amount="30.00", qty=-1)
            assert (short["code"], short["available"], short["short"]) == ("insufficient_funds", "25.00", "5.00")
            ticket = (await till.ok("topup_line", amount="25.00", qty=-1))["ticket"]
            assert (ticket["lines"][0]["qty"], ticket["total"], ticket["balance"]) == ("-1", "-25.00", "-25.00")
            # A second cancel line would be more than the wallet holds.
            assert (await till.call("topup_line", amount="1.00", qty=-1))["code"] == "insufficient_funds"
            # The refund: not onto the wallet itself; in the top-up's mode, with a supervisor's PIN.
            assert (await till.call("pay", mode="card", reference="r-1"))["code"] == "supervisor_required"
            assert (await till.call("pay", mode="wallet", supervisor_pin=SOPHIE_PIN))["code"] == "conflict"
            await till.ok("pay", mode="card", reference="r-1", supervisor_pin=SOPHIE_PIN)
            cancelled = await till.ok("finish", receipt="none", key="fin-c")
            assert cancelled["total"] == "-25.00"
            assert (await till.ok("customer", customer=jeanne))["customer"]["wallet"] == "0.00"
    assert _wallet_rows(shop) == [("topup", "25.00", f"sale:{sold['number']}", "card"),
                                  ("topup_cancel", "-25.00", f"sale:{cancelled['number']}", "card")]
    assert rows(shop, "SELECT mode, amount, type FROM payments WHERE sale = ?",
                cancelled["number"]) == [("card", "-25.00", "AVO")]
    verify(shop)


async def test_kill_9_between_pay_and_finish_credits_once(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = await _customer(till)
            await till.ok("set_customer", customer=jeanne)
            await till.ok("scan", code=BREAD)
            await till.ok("topup_line", amount="40.00")
            await till.ok("pay", mode="cash", amount="50.00")
    shop.kill()
    shop.start()
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            ticket = (await till.ok("ticket"))["ticket"]
            assert (ticket["customer"], ticket["total"], ticket["balance"]) == (jeanne, "42.20", "0.00")
            assert (await till.ok("customer", customer=jeanne))["customer"]["wallet"] == "0.00"
            done = await till.ok("finish", key="fin-k")
            assert done["change"] == "7.80"
    shop.kill()
    shop.start()
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            again = await till.ok("finish", key="fin-k")  # answered from memory: not again
            assert again["number"] == done["number"]
            assert (await till.ok("customer", customer=jeanne))["customer"]["wallet"] == "40.00"
            assert (await till.call("finish"))["code"] == "conflict"  # the new ticket is empty
    assert _wallet_rows(shop) == [("topup", "40.00", f"sale:{done['number']}", "cash")]
    verify(shop)


async def test_a_sale_cancel_takes_its_top_up_back_out_of_the_wallet(shop):
    cancel = {"reason": "erreur de caisse", "supervisor_pin": SOPHIE_PIN}
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = await _customer(till)
            await till.ok("set_customer", customer=jeanne)
            await till.ok("topup_line", amount="30.00")
            await till.ok("pay", mode="cash")
            first = (await till.ok("finish", receipt="none"))["number"]
            await till.ok("set_customer", customer=jeanne)
            await till.ok("topup_line", amount="10.00")
            await till.ok("pay", mode="cash")
            second = (await till.ok("finish", receipt="none"))["number"]
            # 20 of the wallet spent: the first top-up (30) is no longer there to take back.
            await till.ok("scan", code=A10)
            await till.ok("scan", code=A10)
            await till.ok("set_customer", customer=jeanne)
            await till.ok("pay", mode="wallet")
            await till.ok("finish", receipt="none")
            refused = await till.call("sale_cancel", sale=first, **cancel)
            assert refused["code"] == "insufficient_funds"
            done = await till.ok("sale_cancel", sale=second, **cancel)
            assert done["given_back"] == {"cash": "10.00"}
            assert (await till.ok("customer", customer=jeanne))["customer"]["wallet"] == "10.00"
    assert [r[:2] for r in _wallet_rows(shop)] == [("topup", "30.00"), ("topup", "10.00"), ("spend", "-20.00"),
                                                   ("sale_cancel", "-10.00")]
    verify(shop)


async def test_a_ticket_top_up_cancelled_later_in_the_mode_that_paid_it(shop):
    """``wallet_topup_cancel`` with ``sale``: the top-up lines of a finished sale go back
    in the mode that paid the sale; a sale paid by several modes names one of them, and
    one that paid at least the top-up (a top-up paid 102.19 by card and 0.01 in cash
    came back as 100.00 in cash; one paid 5.00 in cash and 10.00 by cheque, as 15.00 in
    cash)."""
    cancel = {"reason": "erreur de caisse", "supervisor_pin": SOPHIE_PIN}
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = await _customer(till)
            await till.ok("set_customer", customer=jeanne)
            await till.ok("scan", code=BREAD)  # 2.20 of goods with it
            await till.ok("topup_line", amount="20.00")
            await till.ok("pay", mode="card", reference="a-1")
            by_card = (await till.ok("finish", receipt="none"))["number"]
            await till.ok("set_customer", customer=jeanne)
            await till.ok("topup_line", amount="15.00")
            await till.ok("pay", mode="cash", amount="5.00")
            await till.ok("pay", mode="cheque", amount="10.00", reference="chq-1")
            split = (await till.ok("finish", receipt="none"))["number"]
            await till.ok("set_customer", customer=jeanne)
            await till.ok("scan", code=BREAD)
            await till.ok("topup_line", amount="100.00")
            await till.ok("pay", mode="card", amount="102.19", reference="a-2")
            await till.ok("pay", mode="cash", amount="0.01")
            mostly_card = (await till.ok("finish", receipt="none"))["number"]
            await till.ok("scan", code=BREAD)
            await till.ok("pay", mode="cash")
            plain = (await till.ok("finish", receipt="none"))["number"]

            before, money_before = _wallet_rows(shop), rows(shop, "SELECT count(*) FROM money_in")
            # Bad requests change nothing.
            assert (await till.call("wallet_topup_cancel"))["code"] == "bad_request"
            assert (await till.call("wallet_topup_cancel", topup=1, sale=by_card))["code"] == "bad_request"
            assert (await till.call("wallet_topup_cancel", sale=9999))["code"] == "not_found"
            assert (await till.call("wallet_topup_cancel", sale=plain))["code"] == "not_found"
            wrong = await till.call("wallet_topup_cancel", sale=by_card, mode="cash")
            assert (wrong["code"], wrong["field"]) == ("conflict", "mode")
            which = await till.call("wallet_topup_cancel", sale=split)
            assert (which["code"], which["field"], which["modes"]) == ("bad_request", "mode", ["cash", "cheque"])
            # Each mode gives back at most what it paid: the 0.01 of cash is not 100.00.
            most = await till.call("wallet_topup_cancel", sale=mostly_card, mode="cash")
            assert (most["code"], most["field"], most["modes"], most["payable"]) == ("conflict", "mode", ["card"],
                                                                                    "0.01"), most
            assert "cash paid 0.01" in most["message"] and "give it back by card" in most["message"]
            # No mode alone paid the split sale's 15.00: not given back in the cash the cashier names.
            most = await till.call("wallet_topup_cancel", sale=split, mode="cash")
            assert (most["code"], most["modes"], most["payable"]) == ("conflict", [], "5.00"), most
            assert "topup_line" in most["message"]
            assert _wallet_rows(shop) == before
            assert rows(shop, "SELECT count(*) FROM money_in") == money_before

            # In the card that paid it: the wallet gives the 20.00 back, once.
            done = await till.ok("wallet_topup_cancel", sale=by_card, key="tc-1")
            assert done["customer"]["wallet"] == "115.00"
            again = await till.ok("wallet_topup_cancel", sale=by_card, key="tc-1")
            assert again["customer"]["wallet"] == "115.00"
            assert (await till.call("wallet_topup_cancel", sale=by_card))["code"] == "conflict"
            # Its sale can no longer be cancelled: the payments would give the top-up twice.
            assert (await till.call("sale_cancel", sale=by_card, **cancel))["code"] == "conflict"
            # The mostly-card sale: given back by the card, which paid it.
            await till.ok("wallet_topup_cancel", sale=mostly_card, mode="card")
            assert (await till.ok("customer", customer=jeanne))["customer"]["wallet"] == "15.00"
    money = rows(shop, "SELECT kind, mode, amount, ref FROM money_in ORDER BY seq")
    assert money == [("topup_cancel", "card", "-20.00", f"sale-topup:{by_card}"),
                     ("topup_cancel", "card", "-100.00", f"sale-topup:{mostly_card}")]
    assert [r[:2] for r in _wallet_rows(shop)][-2:] == [("topup_cancel", "-20.00"), ("topup_cancel", "-100.00")]
    verify(shop)
