"""Card payments on a lane's terminal that must never leave the money on the card
unrecorded, end to end: a real server, real websockets, a real SQLite file, the
simulated terminal. Each test failed before its fix.

- a card payment that finishes the sale (``auto_finish``) when a later step of the
  sale refuses after the charge (a wallet top-up cancel line the wallet no longer
  covers): the payment is recorded on the ticket, not finishing, and the refusal
  answered with it (``payment``); the cashier puts it right and finishes (the card
  was charged, then the payment dropped: money taken and not recorded).
- removing a card payment the lane's terminal approved: the terminal is asked to
  refund it (Caisse-AP: a credit, action 1; the simulator likewise) and the line goes
  only once it approved; refused on the terminal, the line stays (``payment_declined``,
  ``payment``) — so a ``cancel_ticket`` after it never drops money the bank holds (the
  line was dropped, the card kept charged).
"""

from __future__ import annotations

from pathlib import Path

import trio

from tests.e2e.configured import CASHIER, PAUL, configured_shop, lane, stock_point, table, terminal, toml, verify
from tests.hw.caisse_ap_peer import APPROVAL, CaisseApPeer
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


async def test_removing_a_card_payment_the_terminal_took_refunds_it_first(tmp_path: Path):
    async with trio.open_nursery() as nursery:
        peer: CaisseApPeer = await nursery.start(CaisseApPeer().run)
        config = toml(stock_point("main"), lane("1", terminal="t1"), lane("2", terminal="t2"),
                      terminal("t1", kind="caisse-ap", address=peer.address, timeout_seconds=2.0),
                      terminal("t2", kind="simulator", delay_seconds=0.0))
        with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER], tills=("1", "2")) as server:
            with trio.fail_after(60):
                async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as till:
                    await till.ok("scan", code=A30)
                    await till.ok("pay", mode="card", amount="10.00", key="card-1")
                    # The refund is refused on the terminal: the payment stays.
                    peer.script = ["refuse"]
                    refusal = await till.call("remove_payment", payment=1)
                    assert (refusal["type"], refusal["code"], refusal["outcome"], refusal["payment"]) == (
                        "error", "payment_declined", "declined", 1), refusal
                    ticket = (await till.ok("ticket"))["ticket"]
                    assert [p["amount"] for p in ticket["payments"]] == ["10.00"]
                    assert (await till.call("cancel_ticket"))["code"] == "conflict"
                    # Approved: the line goes, then the ticket can be cancelled.
                    reply = await till.ok("remove_payment", payment=1)
                    assert (reply["ticket"]["payments"], reply["ticket"]["balance"]) == ([], "30.00")
                    await till.ok("cancel_ticket")
                async with connect(server.ws_url, server.tokens["2"], seller=PAUL) as till:
                    await till.ok("scan", code=A30)
                    await till.ok("pay", mode="card", amount="10.00")
                    reply = await till.ok("remove_payment", payment=1)
                    assert reply["ticket"]["payments"] == []
            server.stop()
            # A debit of 10.00, then two refunds (credits, action 1) of it: one refused.
            assert [(r["CB"], r["CD"]) for r in peer.requests] == [("1000", "0"), ("1000", "1"), ("1000", "1")]
            assert peer.charged == [("1000", peer.requests[0]["CF"]), ("1000", peer.requests[2]["CF"])]
            refunded = [line for line in server.output if "card_payment_refunded" in line]
            assert len(refunded) == 2 and APPROVAL in refunded[0], refunded
            verify(server)
        nursery.cancel_scope.cancel()
