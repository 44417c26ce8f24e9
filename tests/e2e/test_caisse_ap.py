"""Card payments through a Caisse-AP terminal, end to end: a real server (its own
process) whose lane 1 has ``kind = "caisse-ap"`` pointed at a Caisse-AP peer on a
loopback port (tests/hw/caisse_ap_peer.py), a real websocket till, a real SQLite file.

The peer records what it was sent and which debits it charged, so "charged once" is
read where the money is taken, and "recorded once" in the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from laneserver.hw.caisse_ap import VERSION
from tests.e2e.configured import (
    CASHIER,
    PAUL,
    SOPHIE_PIN,
    SUPERVISOR,
    configured_shop,
    lane,
    rows,
    stock_point,
    terminal,
    toml,
)
from tests.hw.caisse_ap_peer import APPROVAL, CaisseApPeer
from tests.support import LiveServer, connect

CATALOG = """id,name,price,vat_rate,barcodes
W90,Vin à 8.90,8.90,20,3000000000908
"""
WINE = "3000000000908"
TIMEOUT = 2.0


@asynccontextmanager
async def shop_with_terminal(tmp_path: Path) -> AsyncIterator[tuple[LiveServer, CaisseApPeer]]:
    async with trio.open_nursery() as nursery:
        peer: CaisseApPeer = await nursery.start(CaisseApPeer().run)
        config = toml(stock_point("main"), lane("1", terminal="t1"),
                      terminal("t1", kind="caisse-ap", address=peer.address, timeout_seconds=TIMEOUT))
        with configured_shop(tmp_path, config, CATALOG, sellers=(CASHIER, SUPERVISOR)) as server:
            yield server, peer
        nursery.cancel_scope.cancel()


def card_payments(server: LiveServer) -> list[tuple]:
    return rows(server, "SELECT amount, reference FROM payments WHERE mode = 'card' ORDER BY rowid")


async def test_approved_is_recorded_with_authorisation_and_masked_card_refused_records_nothing_refunds_too(tmp_path):
    with trio.fail_after(60):
        async with shop_with_terminal(tmp_path) as (shop, peer):
            token = shop.pair("till", "1")
            async with connect(shop.ws_url, token, seller=PAUL) as till:
                await till.ok("scan", code=WINE, qty=2)
                before = (await till.ok("ticket"))["ticket"]
                peer.script = ["refuse"]
                refusal = await till.call("pay", mode="card", key="card-1")
                assert (refusal["type"], refusal["code"], refusal["outcome"]) == ("error", "payment_declined", "declined")
                assert "17.80 not paid" in refusal["message"]
                assert (await till.ok("ticket"))["ticket"] == before
                reply = await till.ok("pay", mode="card", key="card-2")
                [payment] = reply["ticket"]["payments"]
                assert payment == {"payment": 1, "mode": "card", "amount": "17.80",
                                   "reference": f"{APPROVAL} ****0674"}
                done = await till.ok("finish", receipt="none")
                assert done["total"] == "17.80"
                # A return refunded by card: the terminal is asked for a credit (action 1).
                await till.ok("scan", code=WINE, qty=-1)
                reply = await till.ok("pay", mode="card", supervisor_pin=SOPHIE_PIN, key="refund-1")
                [payment] = reply["ticket"]["payments"]
                assert (payment["amount"], payment["reference"]) == ("-8.90", f"{APPROVAL} ****0674")
                assert (await till.ok("finish", receipt="none"))["total"] == "-8.90"
            # What went over the wire: two debits of 17.80 then a refund of 8.90, in
            # protocol 0300, on cash register 1 (the lane's number), in euros.
            assert [(r["CZ"], r["CA"], r["CB"], r["CD"], r["CE"]) for r in peer.requests] == \
                [(VERSION, "1", "1780", "0", "978")] * 2 + [(VERSION, "1", "890", "1", "978")]
            assert len(peer.charged) == 2
            assert card_payments(shop) == [("17.80", f"{APPROVAL} ****0674"), ("-8.90", f"{APPROVAL} ****0674")]
            assert shop.cli("verify", check=False).returncode == 0


async def test_a_terminal_lost_mid_payment_is_reconciled_on_reconnect_and_charged_once(tmp_path):
    with trio.fail_after(60):
        async with shop_with_terminal(tmp_path) as (shop, peer):
            token = shop.pair("till", "1")
            async with connect(shop.ws_url, token, seller=PAUL) as till:
                await till.ok("scan", code=WINE)
                # The terminal charges the card, then the cable is pulled: no answer,
                # and no connection until the server's time runs out.
                peer.script = ["vanish"]
                lost = await till.call("pay", mode="card", key="card-1")
                assert (lost["code"], lost["outcome"]) == ("payment_declined", "unknown")
                assert "has not said how the card payment ended" in lost["message"]
                assert card_payments(shop) == [] and len(peer.charged) == 1
                # Plugged back in. The till retries the same payment: the terminal is
                # asked how the lost one ended (duplicata) and it is recorded; no new debit.
                peer.down = False
                retried = await till.ok("pay", mode="card", key="card-1")
                [payment] = retried["ticket"]["payments"]
                assert (payment["amount"], payment["reference"]) == ("8.90", f"{APPROVAL} ****0674")
                await till.ok("finish", receipt="none")
            assert [r["CD"] for r in peer.requests if r["CD"] == "0"] == ["0"]
            assert peer.requests[-1]["CD"] == "3"
            assert len(peer.charged) == 1 and card_payments(shop) == [("8.90", f"{APPROVAL} ****0674")]
            assert shop.cli("verify", check=False).returncode == 0


async def test_a_card_refund_whose_answer_is_lost_blocks_the_sale_until_the_terminal_says(tmp_path):
    """A card payment removed from the ticket: the terminal credits the card, then the
    connection is lost (``unknown``). The payment stays on the ticket but no sale is
    finished with it until a removal again asks the terminal how the refund ended: it was
    made, so the line goes, with no second credit. Before, the reply said "try again, or
    finish the sale" and ``finish`` recorded 8.90 by card the customer had back."""
    with trio.fail_after(60):
        async with shop_with_terminal(tmp_path) as (shop, peer):
            token = shop.pair("till", "1")
            async with connect(shop.ws_url, token, seller=PAUL) as till:
                await till.ok("scan", code=WINE)
                await till.ok("pay", mode="card", key="card-1")
                peer.script = ["vanish"]
                lost = await till.call("remove_payment", payment=1, key="remove-1")
                assert (lost["code"], lost["outcome"], lost["payment"]) == ("payment_declined", "unknown", 1), lost
                assert "cannot be finished" in lost["message"], lost
                refused = await till.call("finish", receipt="none")
                assert (refused["code"], refused.get("payment")) == ("conflict", 1), refused
                peer.down = False
                removed = await till.ok("remove_payment", payment=1, key="remove-2")
                assert removed["ticket"]["payments"] == []
                await till.ok("cancel_ticket")
            assert [r["CD"] for r in peer.requests if r["CD"] in ("0", "1")] == ["0", "1"]  # one debit, one credit
            assert len(peer.charged) == 2 and card_payments(shop) == []
            assert shop.cli("verify", check=False).returncode == 0
