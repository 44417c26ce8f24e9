"""Documents' A4 PDFs end to end (issue 18: "printed (A4 PDF like invoices…)"): a real
server, a real websocket, the SQLite file. A quote and an order with a deposit paid by
card are made at a till; each one's PDF and the deposit invoice's are written in the
data folder's ``documents`` folder off the lane's task (the invoices actor), and
``document_pdf`` gives them."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import trio

from tests.e2e.configured import (
    CASHIER,
    PAUL,
    configured_shop,
    lane,
    stock_point,
    table,
    toml,
)
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
C1,Champagne brut 75 cl,30.00,20,3000000000014
"""


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Cave du Port"), stock_point("main"), lane("1"))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER], tills=("1",)) as server:
        yield server


def _text(text: str) -> bytes:
    """``text`` as a PDF string writes it (parentheses escaped), in Latin-1."""
    return text.replace("(", "\\(").replace(")", "\\)").encode("latin-1")


async def test_a_quote_an_order_and_its_deposit_invoice_as_pdfs(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            noces = (await till.ok("customer_create", name="SARL Les Noces", business=True))["customer"]
            await till.ok("add", article="C1", qty=10)
            await till.ok("set_customer", customer=noces)
            await till.ok("quote", valid_months=3)
            await till.ok("add", article="C1", qty=10)
            await till.ok("set_customer", customer=noces)
            await till.ok("pay", mode="card", amount="100.00")
            order = await till.ok("order", delivery="delivered", address="Château de Vaux", deposit="100.00")
            assert order["document"]["deposit_invoice"] == "C-000001"
            # Written by the invoices actor once each is made, before anyone asks.
            folder = shop.data / "documents"
            while not all((folder / f"{n}.pdf").exists() for n in ("Q-000001", "O-000001", "C-000001")):
                await trio.sleep(0.02)

            expected = {
                "DQ000001": ("Q-000001", "quote", ["DEVIS Q-000001", "Valable jusqu'au", "300,00 EUR"]),
                "O-000001": ("O-000001", "order", ["BON DE COMMANDE O-000001", "Adresse de livraison : Château",
                                                   "Reste à payer", "200,00 EUR", "C-000001"]),
                "c-000001": ("C-000001", "deposit_invoice", ["FACTURE D'ACOMPTE C-000001", "Commande O-000001",
                                                             "16,67", "100,00 EUR"]),
            }
            for asked, (name, kind, texts) in expected.items():
                got = await till.ok("document_pdf", document=asked)
                assert (got["document"], got["kind"], got["customer"]) == (name, kind, noces)
                pdf = base64.b64decode(got["pdf"])
                assert pdf.startswith(b"%PDF")
                for text in [*texts, "Cave du Port", f"SARL Les Noces ({noces})"]:
                    assert _text(text) in pdf, (name, text)
                kept = shop.data / "documents" / f"{name}.pdf"
                assert kept.read_bytes() == pdf  # kept, and served again as it was
                assert base64.b64decode((await till.ok("document_pdf", document=name))["pdf"]) == pdf

            missing = await till.call("document_pdf", document="C-000009")
            assert (missing["code"], missing["field"]) == ("not_found", "document")
            for hostile in ("F-000001", "Q-" + "9" * 30, "x" * 5000):  # no SQLite overflow, not echoed whole
                bad = await till.call("document_pdf", document=hostile)
                assert (bad["code"], bad["field"]) == ("bad_request", "document") and len(bad["message"]) < 300
