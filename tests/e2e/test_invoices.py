"""Invoices for business customers end to end: a real server, real websockets, SQLite.

SPEC §2 (a business customer is billed excluding VAT: an invoice is produced), §3
(an A4 PDF invoice as the receipt) and §5 (invoices numbered with no gap): the
ticket's excluding-VAT view, ``finish`` with ``receipt: "invoice"`` (numbers 1 then
2, a refused one takes none), the PDF in the data folder and through the ``invoice``
verb, the printed ticket titled "FACTURE", and kill -9 right after an invoice.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from tests.e2e.configured import CASHIER, PAUL, configured_shop, counts, file_printer, lane, printed, rows
from tests.e2e.configured import stock_point, table, toml, verify
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
PAIN,Pain de campagne,3.50,5.5,3000000000014
VIN,Vin rouge,12.00,20,3000000000021
"""
PAIN, VIN = "3000000000014", "3000000000021"


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Épicerie du Port", header=["12 quai des Pêcheurs"]), stock_point("main"),
                  lane("1", printer="p1"), file_printer(tmp_path))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER], tills=("1",)) as server:
        yield server


def _pdf_path(server, number: int) -> Path:
    return server.data / "invoices" / f"F-{number:06d}.pdf"


async def _fill(till) -> dict:
    """2 breads (5.5 %) and a wine (20 %): 19.00 including VAT."""
    await till.ok("scan", code=PAIN, qty=2)
    return (await till.ok("scan", code=VIN))["ticket"]


async def test_business_ticket_shows_excl_vat_and_invoices_are_numbered_without_gap(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            dupont = (await till.ok("customer_create", name="SARL Dupont", business=True,
                                    contact="compta@dupont.fr"))["customer"]
            jeanne = (await till.ok("customer_create", name="Jeanne Martin"))["customer"]

            # A private customer's ticket: no excluding-VAT view.
            await _fill(till)
            ticket = (await till.ok("set_customer", customer=jeanne))["ticket"]
            assert "excl_vat" not in ticket
            # A business customer's: per rate base + VAT, the same numbers as the receipt's.
            ticket = (await till.ok("set_customer", customer=dupont))["ticket"]
            side = ticket["excl_vat"]
            assert side["vat"] == [
                {"rate": "20", "base": "10.00", "vat": "2.00", "total": "12.00"},
                {"rate": "5.5", "base": "6.64", "vat": "0.36", "total": "7.00"},
            ]
            assert (side["total_excl_vat"], side["total_vat"]) == ("16.64", "2.36")
            assert Decimal(side["total_excl_vat"]) + Decimal(side["total_vat"]) == Decimal(ticket["total"])
            assert "excl_vat" not in (await till.ok("set_customer", customer=None))["ticket"]

            # No customer: an invoice is refused, nothing written, no number taken.
            await till.ok("pay", mode="cash", amount="20.00")
            before = counts(shop, "sales", "invoices", "payments", "events")
            refused = await till.call("finish", receipt="invoice")
            assert refused["type"] == "error" and refused["code"] == "conflict"
            assert "customer" in refused["message"]
            assert counts(shop, "sales", "invoices", "payments", "events") == before

            # The customer set (a payment on the ticket does not stop it): invoice 1.
            await till.ok("set_customer", customer=dupont)
            done = await till.ok("finish", receipt="invoice", key="inv-1")
            assert done["invoice"] == 1 and done["total"] == "19.00" and done["change"] == "1.00"
            again = await till.ok("finish", receipt="invoice", key="inv-1")
            assert {**again, "re": None} == {**done, "re": None}  # the key: one sale, one invoice
            # Printed on the lane's printer, titled as the invoice.
            with trio.fail_after(10):
                await printed(shop, "FACTURE n° F-000001")

            # A sale with a plain ticket takes no invoice number; the next invoice is 2.
            await till.ok("scan", code=VIN)
            await till.ok("pay", mode="cash")
            plain = await till.ok("finish")
            assert "invoice" not in plain
            await _fill(till)
            await till.ok("set_customer", customer=dupont)
            await till.ok("pay", mode="card", amount="19.00")
            second = await till.ok("finish", receipt="invoice")
            assert second["invoice"] == 2 and second["number"] == plain["number"] + 1

            got = await till.ok("invoice", invoice=1)
            assert (got["invoice"], got["name"], got["sale"], got["customer"], got["customer_name"]) == (
                1, "F-000001", done["number"], dupont, "SARL Dupont")
            assert (got["total_excl_vat"], got["total"]) == ("16.64", "19.00")
            pdf = base64.b64decode(got["pdf"])
            assert pdf.startswith(b"%PDF")
            for text in (b"SARL Dupont", b"compta@dupont.fr", b"F-000001", b"16,64", b"FACTURE",
                         b"Vente n\xb0 " + str(done["number"]).encode()):
                assert text in pdf, text
            assert pdf == _pdf_path(shop, 1).read_bytes()
            # The service user's only (docs/operations.md, Security).
            assert oct(_pdf_path(shop, 1).stat().st_mode & 0o777) == "0o600"
            assert oct(_pdf_path(shop, 1).parent.stat().st_mode & 0o777) == "0o750"
            by_sale = await till.ok("invoice", sale=second["number"])
            assert by_sale["invoice"] == 2 and b"F-000002" in base64.b64decode(by_sale["pdf"])

            assert (await till.call("invoice", invoice=99))["code"] == "not_found"
            assert (await till.call("invoice", sale=plain["number"]))["code"] == "not_found"
            assert (await till.call("invoice"))["code"] == "bad_request"
            assert (await till.call("invoice", invoice=1, sale=1))["code"] == "bad_request"

    assert rows(shop, "SELECT number, sale, customer, total_excl_vat, total FROM invoices ORDER BY number") == [
        (1, done["number"], dupont, "16.64", "19.00"), (2, second["number"], dupont, "16.64", "19.00")]
    verify(shop)


async def test_kill_9_after_an_invoice_keeps_the_numbering_and_the_pdf(shop):
    with trio.fail_after(90):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            dupont = (await till.ok("customer_create", name="SARL Dupont", business=True))["customer"]
            await _fill(till)
            await till.ok("set_customer", customer=dupont)
            await till.ok("pay", mode="cash", amount="19.00")
            first = await till.ok("finish", receipt="invoice")
            assert first["invoice"] == 1
        shop.kill()
        # The PDF may or may not have been written before the kill: take it away, the
        # database is what counts.
        _pdf_path(shop, 1).unlink(missing_ok=True)
        shop.restart()
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            got = await till.ok("invoice", sale=first["number"])
            assert got["invoice"] == 1
            pdf = base64.b64decode(got["pdf"])
            assert pdf.startswith(b"%PDF") and b"SARL Dupont" in pdf and b"16,64" in pdf
            assert _pdf_path(shop, 1).read_bytes() == pdf  # rendered again, and kept
            await _fill(till)
            ticket = (await till.ok("set_customer", customer=dupont))["ticket"]
            assert ticket["excl_vat"]["total_excl_vat"] == "16.64"
            await till.ok("pay", mode="cash", amount="19.00")
            second = await till.ok("finish", receipt="invoice")
            assert second["invoice"] == 2
    verify(shop)


async def test_a_payment_the_shops_auto_finish_finishes_makes_out_the_invoice(tmp_path: Path):
    config = toml(table("shop", name="Épicerie du Port", auto_finish=True), stock_point("main"), lane("1"))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER], tills=("1",)) as shop:
        with trio.fail_after(60):
            async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
                dupont = (await till.ok("customer_create", name="SARL Dupont", business=True))["customer"]
                await _fill(till)
                # No customer yet: the payment that would finish on an invoice is refused.
                before = counts(shop, "sales", "invoices", "payments")
                refused = await till.call("pay", mode="cash", amount="19.00", receipt="invoice")
                assert refused["code"] == "conflict" and "customer" in refused["message"]
                assert counts(shop, "sales", "invoices", "payments") == before
                # A part of the balance does not finish: nothing is asked of the invoice yet.
                part = await till.ok("pay", mode="cash", amount="9.00", receipt="invoice")
                assert "number" not in part and part["ticket"]["balance"] == "10.00"
                await till.ok("set_customer", customer=dupont)
                done = await till.ok("pay", mode="card", amount="10.00", receipt="invoice")
                assert done["invoice"] == 1 and done["total"] == "19.00"
                got = await till.ok("invoice", sale=done["number"])
                assert got["total_excl_vat"] == "16.64" and got["customer_name"] == "SARL Dupont"
                # Without an invoice asked, an auto-finished sale takes no number.
                await till.ok("scan", code=VIN)
                plain = await till.ok("pay", mode="cash", amount="12.00")
                assert plain["number"] == done["number"] + 1 and "invoice" not in plain
        verify(shop)
