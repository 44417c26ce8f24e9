"""The till's Documents screen (issue 18; docs/web_till.md "Documents"): from the open
ticket a quote, then an order with a deposit paid in cash; the open documents listed;
the order's PDF and its deposit invoice's downloaded; the order cancelled with its deposit refunded (credit note A-000001); the quote
recalled onto the ticket; the screen in English. One test, one browser (suite time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser.conftest import PIN, SELLER, expect
from tests.e2e.configured import configured_shop

CATALOG = """id,name,price,vat_rate,barcodes
C1,Champagne brut 75 cl,30.00,20,3000000000014
"""
C1 = "3000000000014"

SHOP = """
[shop]
name = "Cave du Port"
locale = "fr"

[[stock_points]]
id = "main"

[[lanes]]
id = "1"
stock_point = "main"
"""


@pytest.fixture
def documents_server(tmp_path: Path):
    """A supervisor (document_cancel is a supervisor's verb); asked before ``tills``."""
    with configured_shop(tmp_path, SHOP, CATALOG, sellers=[(SELLER, PIN, "supervisor")]) as server:
        yield server


def test_the_documents_screen_makes_lists_cancels_and_recalls(documents_server, tills):
    till = tills(documents_server).start()
    till.scan(C1, lines=1)
    till.by("documents-open").click()
    panel = till.by("documents-panel")
    expect(panel).to_be_visible()
    till.by("quote-months").fill("3")
    till.by("make-quote").click()
    expect(till.by("documents-result")).to_contain_text("Q-000001")
    expect(till.by("documents-result")).to_contain_text("DQ000001")
    expect(till.lines()).to_have_count(0)

    till.by("documents-close").click()
    till.scan(C1, lines=1)
    till.by("documents-open").click()
    till.by("order-delivery").select_option("take_away")
    till.by("order-deposit").fill("10,00")
    till.by("order-deposit-mode").select_option("cash")
    till.by("make-order").click()
    expect(till.by("documents-result")).to_contain_text("O-000001")
    rows = till.by("document-row")
    expect(rows).to_have_count(2)
    expect(panel.locator('[data-document="O-000001"] [data-testid="document-status"]')).to_have_text("ouvert")
    till.shot("documents-screen")
    # The order's A4 PDF and its deposit invoice's (document_pdf), as downloads.
    for testid, name, text in (("document-pdf", "O-000001", b"BON DE COMMANDE O-000001"),
                               ("document-deposit-pdf", "C-000001", b"FACTURE D'ACOMPTE C-000001")):
        with till.page.expect_download() as caught:
            panel.locator(f'[data-document="O-000001"] [data-testid="{testid}"]').click()
        saved = documents_server.data / f"downloaded-{name}.pdf"
        caught.value.save_as(saved)
        assert caught.value.suggested_filename == f"{name}.pdf"
        assert text in saved.read_bytes()
        expect(till.by("documents-result")).to_contain_text(f"{name}.pdf")

    panel.locator('[data-document="O-000001"] [data-testid="document-cancel-refund"]').click()
    till.by("confirm-yes").click()
    expect(till.by("documents-result")).to_contain_text("avoir A-000001")
    expect(rows).to_have_count(1)  # the open ones: the quote

    panel.locator('[data-document="Q-000001"] [data-testid="document-recall"]').click()
    expect(panel).to_be_hidden()
    expect(till.lines()).to_have_count(1)
    till.expect_total("30.00")

    till.by("lang-toggle").click()
    expect(till.by("documents-open")).to_have_text("Documents")
    till.by("documents-open").click()
    expect(panel.get_by_role("heading", name="From the ticket")).to_be_visible()
    expect(till.by("documents-none")).to_have_text("No document.")
    till.expect_no_error()
