"""The till page bills a business customer on an invoice (SPEC §2, §3): the customer
created as a business one from the till, the ticket's total excluding VAT shown
beside the total, "Finish + invoice" making out invoice F-000001, and its PDF
downloaded from the last-sale box (fetched with the ``invoice`` verb). A customer
who is not a business one gets no excl-VAT total, and a ticket with no customer no
invoice button. With the shop's auto_finish, the payment that settles a business
customer's ticket ends it on an invoice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.browser.conftest import PIN, SELLER, euros, expect
from tests.e2e.configured import configured_shop

CATALOG = """id,name,price,vat_rate,barcodes
PAIN,Pain de campagne,3.50,5.5,3000000000014
VIN,Vin rouge,12.00,20,3000000000021
"""
PAIN, VIN = "3000000000014", "3000000000021"

SHOP = """
[shop]
name = "Épicerie du Port"
locale = "fr"

[[stock_points]]
id = "main"

[[lanes]]
id = "1"
stock_point = "main"
"""


def _invoice_shop(tmp_path: Path, shop: str = SHOP):
    """The invoicing shop started, with its cashier; stopped at the end."""
    return configured_shop(tmp_path, shop, CATALOG, sellers=[(SELLER, PIN, "cashier")])


@pytest.fixture
def invoice_server(tmp_path: Path):
    """Asked for before ``tills``: the pages close before the server stops."""
    with _invoice_shop(tmp_path) as server:
        yield server


def _create_customer(till, name: str, business: bool) -> None:
    till.page.keyboard.press("F6")
    expect(till.by("customer-panel")).to_be_visible()
    till.by("customer-new").click()
    till.by("customer-name-input").fill(name)
    if business:
        till.by("customer-business-input").check()
    till.by("customer-create").click()
    expect(till.by("customer-name")).to_have_text(name)
    till.by("customer-close").click()
    expect(till.by("ticket-customer-name")).to_have_text(f"Client : {name}")


def test_a_business_customer_is_billed_on_an_invoice_whose_pdf_the_till_downloads(invoice_server, tills, tmp_path):
    till = tills(invoice_server).start()
    # No customer: no excl-VAT total, no invoice button.
    till.scan(PAIN, lines=1)
    expect(till.by("excl-vat-box")).to_be_hidden()
    till.by("pay").click()
    expect(till.by("finish-invoice")).to_be_hidden()
    till.by("pay-back").click()

    # 2 × 3.50 at 5.5 % + 12.00 at 20 %: 19.00 incl. VAT, 6.64 + 10.00 = 16.64 excl.
    till.scan(PAIN, lines=2)  # the same ticket, a second line
    till.scan(VIN, lines=3)
    till.expect_total("19.00")
    _create_customer(till, "SARL Martin", business=True)
    expect(till.by("excl-vat-box")).to_be_visible()
    expect(till.by("total-excl-vat")).to_have_text(euros("16.64"))
    till.shot("ticket-business-customer")

    till.by("pay").click()
    expect(till.by("finish-invoice")).to_be_visible()
    expect(till.by("finish-invoice")).to_be_disabled()  # not paid yet
    till.by("quick-amount").first.click()  # the exact amount, in cash
    expect(till.by("pay-balance")).to_have_text(euros(0))
    till.shot("payment-business-customer")
    till.by("finish-invoice").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    invoice = till.by("last-sale-invoice")
    expect(invoice).to_have_text("Facture F-000001 (PDF)")
    expect(till.by("excl-vat-box")).to_be_hidden()  # a new ticket, no customer

    with till.page.expect_download() as caught:
        invoice.click()
    download = caught.value
    assert download.suggested_filename == "F-000001.pdf"
    saved = tmp_path / "downloaded.pdf"
    download.save_as(saved)
    pdf = saved.read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert b"F-000001" in pdf and b"SARL Martin" in pdf and b"16,64" in pdf
    # The same PDF the server keeps in its data folder.
    assert pdf == (invoice_server.data / "invoices" / "F-000001.pdf").read_bytes()
    expect(till.by("notice")).to_contain_text("Facture F-000001 enregistrée")
    till.shot("last-sale-invoice")

    # A customer who is not a business one: the invoice is offered, no excl-VAT total.
    till.scan(VIN, lines=1)
    _create_customer(till, "Jeanne Martin", business=False)
    expect(till.by("excl-vat-box")).to_be_hidden()
    till.by("pay").click()
    expect(till.by("finish-invoice")).to_be_visible()
    till.by("quick-amount").first.click()
    till.by("finish").click()  # a plain ticket
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 2")
    expect(till.by("last-sale-invoice")).to_be_hidden()
    till.expect_no_error()


def test_with_auto_finish_a_business_customers_sale_ends_on_an_invoice(tmp_path, tills):
    shop = SHOP.replace('locale = "fr"', 'locale = "fr"\nauto_finish = true')
    with _invoice_shop(tmp_path, shop) as server:
        till = tills(server)
        try:  # the page closes before the server stops
            till.start()
            till.scan(VIN, lines=1)
            _create_customer(till, "SARL Martin", business=True)
            till.by("pay").click()
            till.by("quick-amount").first.click()  # the exact amount, in cash: the sale ends
            expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
            expect(till.by("last-sale-invoice")).to_have_text("Facture F-000001 (PDF)")
            assert (server.data / "invoices").is_dir()
            till.expect_no_error()
        finally:
            till.close()
