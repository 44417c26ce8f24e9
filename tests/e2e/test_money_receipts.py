"""The slips of till money, end to end: a real server whose lane prints to a file.

A debt paid later prints a ``RÈGLEMENT`` receipt with what is still due; a payment
corrected prints the row cancelled and the row corrected; a cancelled sale prints its
counter-entry (``ANNULATION``, the sale it cancels, what was given back); a sale paid
by a voucher worth more prints the remainder voucher's code; coupon lines print as
coupons with what the customer has left; a wallet top-up and its cancel each print.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.configured import CASHIER, PAUL, SOPHIE_PIN, SUPERVISOR, configured_shop, printed, rows, verify
from tests.e2e.configured import file_printer, lane, stock_point, table, toml
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes,coupon_article,coupons,coupon_valid_days
T30,Article à 30,30.00,20,3000000000304,,,
S1,Entrée piscine,5.00,10,3000000001202,,,
P10,Carte 10 entrées,40.00,10,3000000001301,S1,10,
"""
A30, SWIM, PASS = "3000000000304", "3000000001202", "3000000001301"


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Reçus", deferred_payment=True), stock_point("main"), lane("1", printer="p1"),
                  file_printer(tmp_path))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR]) as server:
        yield server


async def test_money_slips_are_printed(shop):
    async with connect(shop.ws_url, shop.pair("till", "1"), seller=PAUL) as till:
        with trio.fail_after(60):
            jeanne = (await till.ok("customer_create", name="Jeanne", wallet=True))["customer"]
            topup = (await till.ok("wallet_topup", customer=jeanne, amount="20.00", mode="cash"))["topup"]
            await till.ok("wallet_topup_cancel", topup=topup)
            await printed(shop, "Recharge porte-monnaie", "Annulation recharge porte-monnaie", "-20,00 €")

            # A debt paid in part later.
            await till.ok("set_customer", customer=jeanne)
            await till.ok("scan", code=A30)
            owed = (await till.ok("finish", unpaid=True, receipt="none"))["number"]
            await till.ok("pay_later", sale=owed, mode="cash", amount="10.00")
            await printed(shop, "RÈGLEMENT", f"Règlement de la vente n° {owed}", "Reste dû : 20,00 €")

            # A card payment corrected to cash.
            await till.ok("scan", code=A30)
            await till.ok("pay", mode="card")
            carded = (await till.ok("finish", receipt="none"))["number"]
            [row] = (await till.ok("sale", sale=carded))["sale"]["payments"]
            await till.ok("payment_correct", sale=carded, payment=row["payment"], mode="cash", reason="touche",
                          supervisor_pin=SOPHIE_PIN)
            await printed(shop, "CORRECTION DE PAIEMENT", "Annulé : Carte bancaire", "Corrigé : Espèces",
                           "Visa : sophie")

            # That sale cancelled: its counter-entry.
            counter = (await till.ok("sale_cancel", sale=carded, reason="erreur", supervisor_pin=SOPHIE_PIN))
            await printed(shop, "ANNULATION", f"Ticket n° {counter['number']}", f"Annule la vente n° {carded}",
                           "Motif : erreur", "-30,00 €")

            # A voucher worth more than the sale: the remainder voucher's code on the receipt.
            voucher = (await till.ok("voucher_issue", amount="50.00", mode="cash"))["voucher"]["code"]
            await till.ok("scan", code=A30)
            await till.ok("pay", mode="voucher", reference=voucher)
            done = await till.ok("finish")
            [remainder] = done["vouchers"]
            await printed(shop, f"Reste : bon d'achat n° {remainder['code']} : 20,00 €")

            # A pass, then an entry taken with a coupon.
            await till.ok("set_customer", customer=jeanne)
            await till.ok("scan", code=PASS)
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            await till.ok("set_customer", customer=jeanne)
            await till.ok("scan", code=SWIM)
            await till.ok("finish")
            await printed(shop, "Entrée piscine (coupon)", "Entrée piscine : 9 coupon(s) restant(s)")


async def test_refunds_are_credit_notes_and_corrections_are_chained(shop):
    async with connect(shop.ws_url, shop.pair("till", "1"), seller=PAUL) as till:
        with trio.fail_after(60):
            await till.ok("scan", code=A30, qty=-1)
            await till.ok("pay", mode="cash", supervisor_pin=SOPHIE_PIN)
            number = (await till.ok("finish", receipt="none"))["number"]
            [row] = (await till.ok("sale", sale=number))["sale"]["payments"]
            assert (row["type"], row["status"], row["mode"], row["amount"]) == ("AVO", "AVO", "cash", "-30.00")
            # A refund's mode is corrected as a payment's (refunded by card, not cash): an
            # ANL and a MAJ, the amount still negative.
            corrected = await till.ok("payment_correct", sale=number, payment=row["payment"], mode="card",
                                      reason="x", supervisor_pin=SOPHIE_PIN)
            assert [(r["type"], r["status"], r["mode"], r["amount"]) for r in corrected["sale"]["payments"]] == [
                ("AVO", "ANNUL", "cash", "-30.00"), ("ANL", "ANL", "cash", "30.00"), ("MAJ", "MAJ", "card", "-30.00")]
            jeanne = (await till.ok("customer_create", name="Jeanne"))["customer"]
            await till.ok("balance_correct", customer=jeanne, account="credit", amount="5.00", reason="geste",
                          supervisor_pin=SOPHIE_PIN)
    assert rows(shop, "SELECT kind, mode, amount, customer, ref FROM money_in") == [
        ("COR", "correction", "5.00", jeanne, "credit")]
    verify(shop)
