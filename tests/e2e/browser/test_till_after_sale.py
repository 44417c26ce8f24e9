"""The till page's discount, returns and after-sale screens against a real server with
a shop file (discount cap 20 % with reasons, deferred payment, a beer with its bottle
deposit, a supervisor): a line discount above the cap refused with a wrong supervisor
PIN then applied with the right one; a return refunded in cash (supervisor) and another
by voucher whose code is shown; a deposit line under its article; a sale's card payment
corrected to cash and another sale cancelled from the Sales screen; a sale finished
unpaid, paid later in two parts from the Unpaid list, another debt abandoned, a balance
corrected; and each new screen inside the window at 1024×768 and 1920×1080."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.browser.conftest import LARGE, PIN, SELLER, SMALL, euros, euros_in, expect, sales
from tests.e2e.configured import configured_shop

SUPERVISOR, SUPERVISOR_PIN = "sophie", "4321"

CATALOG = """id,name,price,vat_rate,barcodes,deposit
T30,Article à 30,30.00,20,3000000000304,
T10,Article à 10,10.00,20,3000000000106,
B1,Bière 33 cl,2.90,20,3000000001004,C1
C1,Consigne bouteille,0.20,5.5,3000000001103,
"""

SHOP = """
[shop]
name = "Après la vente"
locale = "fr"
discount_cap = "20"
discount_reasons = ["abîmé", "fidélité"]
deferred_payment = true

[[stock_points]]
id = "main"

[[lanes]]
id = "1"
stock_point = "main"

[[lanes]]
id = "2"
stock_point = "main"
"""

MINUS = r"[-−]"


@pytest.fixture
def shop(tmp_path: Path):
    """Asked for before ``tills``: the pages close before the server stops."""
    with configured_shop(tmp_path, SHOP, CATALOG,
                         sellers=[(SELLER, PIN, "cashier"), (SUPERVISOR, SUPERVISOR_PIN, "supervisor")]) as server:
        yield server


def _supervisor(till, pin: str, wrong_first: bool = False) -> None:
    """The supervisor's PIN dialog: a wrong PIN first (said, nothing done), then ``pin``."""
    dialog = till.by("supervisor-dialog")
    expect(dialog).to_be_visible()
    expect(till.by("supervisor-pin")).to_be_focused()
    if wrong_first:
        till.page.keyboard.type("0000")
        till.page.keyboard.press("Enter")
        expect(till.by("supervisor-error")).to_have_text(re.compile("^Code responsable refusé"))
    till.page.keyboard.type(pin)
    till.page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()


def _signed_money(amount: str) -> re.Pattern[str]:
    """ "−10,00 €" (a negative amount as Intl writes it in French)."""
    units, cents = amount.split(".")
    return re.compile(rf"^{MINUS}{units},{cents}[\s\u00a0\u202f]*€$")


def _finish(till, number: int) -> None:
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text(f"Ticket n° {number}")


def test_discount_above_the_cap_needs_a_supervisor_pin(shop, tills):
    till = tills(shop).start()
    till.scan("3000000000106", lines=1)  # 10.00
    till.scan("3000000000304", lines=2)  # 30.00

    # 10 % on the whole ticket, under the cap: no PIN; the reason is one of the shop's.
    till.page.keyboard.press("F5")
    panel = till.by("discount-panel")
    expect(panel).to_be_visible()
    expect(till.by("discount-target-ticket")).to_have_attribute("aria-pressed", "true")
    expect(till.by("discount-reason")).to_have_count(2)
    till.page.keyboard.type("10")
    till.page.keyboard.press("Enter")  # no reason chosen: said, nothing sent
    expect(till.by("error-text")).to_have_text("Choisissez le motif de la remise.")
    till.page.locator('[data-testid="discount-reason"][data-reason="fidélité"]').click()
    till.by("discount-apply").click()
    expect(panel).to_be_hidden()
    till.expect_total("36.00")
    expect(till.by("line-discount").first).to_have_text("−10 %")

    # 30 % on line 1, above the cap of 20 %: the supervisor's PIN; a wrong one is said
    # and changes nothing, the right one applies it.
    till.lines().first.click()
    till.by("line-discount-open").click()
    expect(panel).to_be_visible()
    expect(till.by("discount-target-line")).to_have_attribute("aria-pressed", "true")
    expect(till.by("discount-target-line")).to_contain_text("Article à 10")
    expect(till.by("discount-current")).to_contain_text("10 %")
    till.by("discount-value").fill("30")
    till.page.locator('[data-testid="discount-reason"][data-reason="abîmé"]').click()
    till.shot("discount")
    till.by("discount-apply").click()
    expect(till.by("supervisor-dialog")).to_be_visible()
    expect(till.by("supervisor-why")).to_contain_text("20 %")
    till.page.keyboard.type("0000")
    till.page.keyboard.press("Enter")
    expect(till.by("supervisor-error")).to_have_text(re.compile("^Code responsable refusé"))
    expect(till.by("supervisor-why")).to_contain_text("20 %")
    expect(till.by("line-discount").first).to_have_text("−10 %")
    till.shot("discount-supervisor")
    till.page.keyboard.type(SUPERVISOR_PIN)
    till.page.keyboard.press("Enter")
    expect(till.by("supervisor-dialog")).to_be_hidden()
    expect(panel).to_be_hidden()
    expect(till.by("line-discount").first).to_have_text("−30 %")
    till.expect_total("34.00")  # 7.00 + 27.00
    till.expect_no_error()


def test_returns_refunded_in_cash_and_by_a_voucher(shop, tills):
    till = tills(shop).start()

    # Return mode: visible while on; the next scan is a returned line.
    till.by("return-toggle").click()
    expect(till.by("return-toggle")).to_have_attribute("aria-pressed", "true")
    expect(till.by("return-banner")).to_be_visible()
    till.scan("3000000000106", lines=1)
    line = till.lines().first
    expect(line.get_by_test_id("line-qty")).to_have_text(re.compile(rf"^{MINUS}1$"))
    expect(line.get_by_test_id("line-returned")).to_have_text("Retour")
    expect(till.by("total")).to_have_text(_signed_money("10.00"))
    expect(till.by("balance-label")).to_have_text("À rembourser")
    expect(till.by("balance")).to_have_text(euros("10.00"))
    till.shot("return-mode")

    # Refunded in cash: the supervisor's PIN is asked first (a wrong one is said).
    till.by("pay").click()
    expect(till.by("pay-balance-label")).to_have_text("À rembourser")
    expect(till.by("pay-balance")).to_have_text(euros("10.00"))
    till.shot("refund")
    till.by("pay-cash").click()
    expect(till.by("supervisor-why")).to_contain_text("Remboursement de")
    _supervisor(till, SUPERVISOR_PIN, wrong_first=True)
    payment = till.by("payment")
    expect(payment).to_have_count(1)
    expect(payment.first).to_contain_text(re.compile(rf"{MINUS}10,00"))
    expect(payment.first.get_by_test_id("payment-approved")).to_contain_text(SUPERVISOR)
    expect(till.by("pay-balance")).to_have_text(euros(0))
    _finish(till, 1)
    expect(till.by("return-banner")).to_be_hidden()  # a new sale starts selling

    # Another return, refunded by a voucher: its code is shown after the finish.
    till.page.keyboard.press("F10")
    expect(till.by("return-banner")).to_be_visible()
    till.scan("3000000000304", lines=1)
    till.by("pay").click()
    till.by("pay-voucher").click()
    _supervisor(till, SUPERVISOR_PIN)
    expect(till.by("payment")).to_have_count(1)
    expect(till.by("payment").first).to_have_attribute("data-mode", "voucher")
    _finish(till, 2)
    vouchers = till.by("last-sale-vouchers")
    expect(vouchers).to_be_visible()
    expect(vouchers).to_contain_text(re.compile(r"V\d{12}"))
    expect(vouchers).to_contain_text(euros_in("30.00"))
    till.shot("refund-voucher")
    till.expect_no_error()
    assert sales(shop) == 2


def test_a_deposit_article_brings_its_deposit_line(shop, tills):
    till = tills(shop).start()
    till.scan("3000000001004", lines=2)  # the beer, then its bottle deposit
    deposit = till.lines().nth(1)
    expect(deposit).to_have_attribute("data-deposit-for", "1")
    expect(deposit).to_have_class(re.compile(r"\bdeposit\b"))
    expect(deposit.get_by_test_id("line-deposit")).to_have_text("Consigne")
    expect(deposit.get_by_test_id("line-name")).to_have_text("Consigne bouteille")
    till.expect_total("3.10")
    # Tapping the deposit line selects its article's line (the deposit follows it).
    deposit.click()
    expect(till.by("line-editor-name")).to_have_text("Bière 33 cl")
    till.by("qty-plus").click()
    expect(till.lines().nth(1).get_by_test_id("line-qty")).to_have_text("2")
    till.expect_total("6.20")
    till.expect_no_error()


def test_a_sale_corrected_from_card_to_cash_and_another_cancelled(shop, tills):
    till = tills(shop).start()
    till.scan("3000000000106", lines=1)
    till.by("pay").click()
    till.by("pay-card").click()  # no terminal on this lane: recorded at once
    expect(till.by("pay-balance")).to_have_text(euros(0))
    _finish(till, 1)
    till.scan("3000000000304", lines=1)
    till.by("pay").click()
    till.by("quick-amount").first.click()
    _finish(till, 2)

    # Sale 1: its card payment corrected to cash (reason, supervisor's PIN).
    till.page.keyboard.press("F1")
    expect(till.by("sales-panel")).to_be_visible()
    expect(till.by("sale-number-input")).to_be_focused()
    till.page.keyboard.type("1")
    till.page.keyboard.press("Enter")
    detail = till.by("sale-detail")
    expect(detail).to_have_attribute("data-number", "1")
    rows = till.by("sale-payment")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-mode", "card")
    till.by("payment-correct-open").click()
    till.by("correct-mode-cash").click()
    expect(till.by("correct-mode-cash")).to_have_attribute("aria-pressed", "true")
    till.by("sale-reason").fill("erreur de touche")
    till.shot("sales-correct")
    till.by("sale-action-ok").click()
    _supervisor(till, SUPERVISOR_PIN, wrong_first=True)
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_attribute("data-status", "ANNUL")
    expect(rows.nth(1)).to_have_attribute("data-type", "ANL")
    expect(rows.nth(2)).to_have_attribute("data-type", "MAJ")
    expect(rows.nth(2)).to_have_attribute("data-mode", "cash")
    expect(rows.nth(2).get_by_test_id("sale-payment-amount")).to_have_text(euros("10.00"))
    expect(till.by("notice")).to_contain_text("corrigé")

    # Sale 2 cancelled: a counter-entry (sale 3), the cash given back.
    till.by("sale-number-input").fill("2")
    till.by("sale-search").click()
    expect(detail).to_have_attribute("data-number", "2")
    till.by("sale-cancel-open").click()
    till.by("sale-reason").fill("client mécontent")
    till.by("sale-action-ok").click()
    expect(till.by("confirm-dialog")).to_be_visible()
    till.by("confirm-yes").click()
    _supervisor(till, SUPERVISOR_PIN)
    expect(till.by("sale-counter")).to_have_text("Contre-écriture : ticket n° 3.")
    expect(till.by("sale-given-back")).to_contain_text("Espèces")
    expect(till.by("sale-given-back")).to_contain_text(euros_in("30.00"))
    expect(till.by("sale-status")).to_have_text("Vente annulée par le ticket n° 3.")
    expect(till.by("sale-cancel-open")).to_be_hidden()
    expect(till.by("payment-correct-open")).to_have_count(0)
    till.shot("sales-cancelled")

    # An unknown sale, in plain words.
    till.by("sale-number-input").fill("99")
    till.by("sale-search").click()
    expect(till.by("error-text")).to_have_text("Aucune vente n° 99.")
    assert sales(shop) == 3


def test_a_sale_finished_unpaid_then_paid_later_and_a_debt_abandoned(shop, tills):
    till = tills(shop).start()
    till.scan("3000000000304", lines=1)
    till.by("pay").click()
    expect(till.by("finish-unpaid")).to_be_hidden()  # no customer on the ticket
    till.by("pay-back").click()
    till.page.keyboard.press("F6")
    till.by("customer-new").click()
    till.by("customer-name-input").fill("Jeanne Martin")
    till.by("customer-create").click()
    expect(till.by("ticket-customer")).to_be_visible()
    till.by("customer-close").click()

    # Finished unpaid: what is left due is said.
    till.by("pay").click()
    expect(till.by("finish-unpaid")).to_be_visible()
    till.shot("payment-unpaid")
    till.by("finish-unpaid").click()
    expect(till.by("confirm-text")).to_contain_text("Jeanne Martin")
    till.by("confirm-yes").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    expect(till.by("last-sale-due")).to_have_text(re.compile("^Reste dû 30,00"))

    # The Unpaid list: 10.00 in cash now (a part), the rest by card.
    till.by("unpaid-open").click()
    debts = till.by("unpaid-sale")
    expect(debts).to_have_count(1)
    expect(debts.first.get_by_test_id("unpaid-due")).to_have_text(euros("30.00"))
    expect(debts.first).to_contain_text("Jeanne Martin")
    till.by("pay-later-open").click()
    till.by("pay-later-amount").fill("10")
    till.shot("unpaid")
    till.page.keyboard.press("Enter")  # Enter: in cash
    expect(debts.first.get_by_test_id("unpaid-due")).to_have_text(euros("20.00"))
    expect(till.by("notice")).to_contain_text("reste dû 20,00")

    # Her card says what she owes, and leads to her unpaid sales.
    till.by("sales-close").click()
    till.page.keyboard.press("F6")
    till.by("customer-search-input").fill("Jeanne")
    till.by("customer-result").first.click()
    expect(till.by("customer-owes")).to_have_text(euros("20.00"))
    # A balance correction (a supervisor): 5.00 onto her account.
    till.page.locator('[data-testid="balance-correct-box"] summary').click()
    till.by("correct-balance-amount").fill("5")
    till.by("correct-balance-reason").fill("geste commercial")
    till.shot("customer-after-sale")
    till.by("correct-balance-ok").click()
    _supervisor(till, SUPERVISOR_PIN)
    expect(till.by("customer-credit")).to_have_text(euros("5.00"))
    till.by("customer-unpaid").click()
    expect(till.by("sales-unpaid-tab")).to_be_visible()
    expect(till.by("unpaid-customer")).to_have_attribute("aria-pressed", "true")
    till.by("pay-later-open").click()
    till.by("pay-later-card").click()
    expect(till.by("unpaid-none")).to_be_visible()
    till.by("sales-close").click()

    # A second sale left unpaid, its debt abandoned (reason, supervisor's PIN).
    till.scan("3000000000106", lines=1)
    till.page.keyboard.press("F6")
    till.by("customer-search-input").fill("Jeanne")
    till.by("customer-result").first.click()
    till.by("customer-select").click()
    expect(till.by("ticket-customer")).to_be_visible()
    till.by("customer-close").click()
    till.by("pay").click()
    till.by("finish-unpaid").click()
    till.by("confirm-yes").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 2")
    till.by("unpaid-open").click()
    expect(debts).to_have_count(1)
    till.by("debt-abandon-open").click()
    till.by("debt-reason").fill("client parti")
    till.by("debt-abandon-ok").click()
    _supervisor(till, SUPERVISOR_PIN)
    expect(till.by("unpaid-none")).to_be_visible()
    expect(till.by("notice")).to_contain_text("abandonnée")
    till.expect_no_error()
    assert sales(shop) == 2


def test_after_sale_screens_fit_at_1024x768_and_1920x1080(shop, tills):
    """Each new screen inside the window at both sizes, with its screenshot."""
    for lane, size, number in (("1", SMALL, 1), ("2", LARGE, 2)):
        _screens(tills(shop, lane, size).start(), size, number)


def _screens(till, size, number: int) -> None:
    width = size[0]

    # A sale to look up afterwards.
    till.scan("3000000000106", lines=1)
    till.by("pay").click()
    till.by("quick-amount").first.click()
    _finish(till, number)

    # Deposit lines, a returned line, return mode on.
    till.scan("3000000001004", lines=2)
    till.by("return-toggle").click()
    till.scan("3000000000304", lines=3)
    for testid in ("return-banner", "return-toggle", "discount-open", "pay", "cancel-ticket", "balance-box"):
        till.expect_inside(testid)
    till.expect_no_scrollbars()
    till.shot("returns-and-deposits")
    till.by("return-off").click()

    # The discount screen on a line.
    till.lines().first.click()
    till.by("line-discount-open").click()
    expect(till.by("discount-panel")).to_be_visible()
    till.expect_inside("discount-apply")
    till.shot("discount-screen")
    till.by("discount-close").click()

    # The refund panel (the ticket owes the customer 30.00 − 3.10).
    till.by("pay").click()
    expect(till.by("pay-balance-label")).to_have_text("À rembourser")
    for testid in ("pay-balance", "pay-cash", "finish", "pay-back", "pay-note"):
        till.expect_inside(testid)
    till.expect_no_scrollbars()
    till.shot("refund-panel")
    till.by("pay-back").click()

    # The Sales screen with the sale and a correction form; the Unpaid list.
    till.by("sales-open").click()
    till.by("sale-number-input").fill(str(number))
    till.page.keyboard.press("Enter")
    expect(till.by("sale-detail")).to_have_attribute("data-number", str(number))
    till.by("payment-correct-open").click()
    till.expect_inside("sale-action-ok")
    till.shot("sales-screen")
    till.by("sales-tab-unpaid").click()
    expect(till.by("unpaid-none")).to_be_visible()
    till.expect_inside("unpaid-filter")
    till.shot("unpaid-screen")
    till.by("sales-close").click()

    # The customer card with its balance correction.
    till.by("customer-open").click()
    till.by("customer-new").click()
    till.by("customer-name-input").fill(f"Client {width}")
    till.by("customer-create").click()
    expect(till.by("customer-detail")).to_be_visible()
    till.page.locator('[data-testid="balance-correct-box"] summary').click()
    till.shot("customer-correction")
    till.by("customer-close").click()
    till.expect_no_error()
