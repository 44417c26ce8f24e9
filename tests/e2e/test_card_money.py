"""Card payments on a lane's terminal that must never leave the money on the card
unrecorded, end to end: a real server, real websockets, a real SQLite file, the
simulated terminal. Each test failed before its fix.

- a card payment that finishes the sale (``auto_finish``) when a later step of the
  sale refuses after the charge (a wallet top-up cancel line the wallet no longer
  covers): the payment is recorded on the ticket, not finishing, and the refusal
  answered with it (``payment``); the cashier puts it right and finishes (the card
  was charged, then the payment dropped: money taken and not recorded).
"""

from __future__ import annotations

from pathlib import Path

import trio

from tests.e2e.configured import CASHIER, PAUL, configured_shop, lane, stock_point, table, terminal, toml, verify
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes,coupon_article,coupons
T30,Article à 30,30.00,20,3000000000304,,
T50,Article à 50,50.00,20,3000000000502,,
"""
A30, A50 = "3000000000304", "3000000000502"


async def test_a_card_payment_charged_before_a_later_step_refuses_the_sale_is_recorded(tmp_path: Path):
    config = toml(table("shop", name="Portemonnaie", auto_finish=True), stock_point("main"),
                  lane("1", terminal="t1"), lane("2"), terminal("t1", kind="simulator", delay_seconds=0.0))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER], tills=("1", "2")) as server:
        with trio.fail_after(60):
            async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as till, \
                    connect(server.ws_url, server.tokens["2"], seller=PAUL) as other:
                jeanne = (await other.ok("customer_create", name="Jeanne", wallet=True))["customer"]
                await other.ok("wallet_topup", customer=jeanne, amount="30.00", mode="cash")
                # Lane 1: the 30.00 top-up cancelled, with an article: 20.00 to pay by card.
                await till.ok("set_customer", customer=jeanne)
                await till.ok("topup_line", amount="30.00", qty=-1)
                await till.ok("scan", code=A50)
                # Meanwhile the wallet is spent on lane 2: it no longer covers the cancel.
                await other.ok("set_customer", customer=jeanne)
                await other.ok("scan", code=A30)
                assert "number" in await other.ok("pay", mode="wallet", receipt="none")
                refusal = await till.call("pay", mode="card", key="card-1", receipt="none")
                assert (refusal["type"], refusal["code"], refusal.get("payment")) == ("error", "insufficient_funds",
                                                                                   1), refusal
                assert "wallet no longer holds" in refusal["message"] and "recorded" in refusal["message"]
                ticket = (await till.ok("ticket"))["ticket"]
                [card] = ticket["payments"]
                assert (card["mode"], card["amount"], card["reference"][:3]) == ("card", "20.00", "SIM"), ticket
                assert ticket["balance"] == "0.00"
                # The same request again is answered from memory: the card is not charged twice.
                again = await till.call("pay", mode="card", key="card-1", receipt="none")
                assert (again["code"], again.get("payment")) == ("insufficient_funds", 1), again
                # Put right (the wallet covers the cancel again): finish.
                await other.ok("wallet_topup", customer=jeanne, amount="30.00", mode="cash")
                done = await till.ok("finish", receipt="none")
                assert done["total"] == "20.00"
        server.stop()
        approved = [line for line in server.output if "card_payment_approved" in line]
        assert len(approved) == 1, approved
        assert not [line for line in server.output if "card_charged_not_recorded" in line]
        verify(server)
