"""The till page's money screens against a real server with a shop file: meal
voucher with its excess forfeited, a cheque in three, a card declined by the lane's
terminal (simulator answering by the cents), the cash rounding, a customer created,
put on the ticket, topped up, paying partly from the wallet and offered a top-up of
what is short, the cash drawer (float, the drawer alert, a withdrawal approved by a
supervisor after a wrong PIN, a no-sale opening, the closing count and its
difference), and screenshots of each screen at 1024×768 and 1920×1080."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.browser.conftest import LARGE, SELLER, PIN, SMALL, euros, euros_in, expect, sales
from tests.e2e.configured import configured_shop

SUPERVISOR, SUPERVISOR_PIN = "sophie", "4321"
CARD = "9900000000011"  # Jeanne Martin's customer card

CATALOG = """id,name,price,vat_rate,barcodes,meal_voucher
M1070,Sandwich,10.70,10,200000010705,true
P2240,Vin de table,22.40,20,200000022407,false
D891,Article à 8.91,8.91,20,200000008917,false
G890,Côtes du Rhône,8.90,20,200000008900,false
"""

SHOP = """
[shop]
name = "Épicerie du Port"
locale = "fr"
cash_rounding = "0.05"
meal_voucher_cap = "19.00"
drawer_alert = "100.00"

[[stock_points]]
id = "main"

# Lane 1 charges cards on a simulated terminal that answers by the cents
# (.91 declined), after a second; lane 2 has none.
[[lanes]]
id = "1"
stock_point = "main"
terminal = "t1"

[[lanes]]
id = "2"
stock_point = "main"

[[terminals]]
id = "t1"
outcomes = "cents"
delay_seconds = 1.0
timeout_seconds = 20
"""


def _money_shop(tmp_path: Path, shop: str = SHOP):
    """The money shop started, with its cashier and supervisor; stopped at the end."""
    return configured_shop(tmp_path, shop, CATALOG,
                           sellers=[(SELLER, PIN, "cashier"), (SUPERVISOR, SUPERVISOR_PIN, "supervisor")])


@pytest.fixture
def money_server(tmp_path: Path):
    """Asked for before ``tills``: the pages close before the server stops."""
    with _money_shop(tmp_path) as server:
        yield server


def _pay_with_form(till, mode: str, **fields: str) -> None:
    till.by(f"pay-{mode}").click()
    form = till.by("mode-form")
    expect(form).to_be_visible()
    expect(form).to_have_attribute("data-mode", mode)
    for name, value in fields.items():
        till.by(f"mode-{name}").fill(value)


def test_meal_voucher_with_its_excess_forfeited_then_a_cheque_in_three(money_server, tills):
    till = tills(money_server).start()
    till.scan("M1070", lines=1)  # 10.70, eligible to meal vouchers
    till.scan("P2240", lines=2)  # 22.40, not eligible
    till.expect_total("33.10")
    till.by("pay").click()

    # A meal voucher of 15.00 when vouchers can pay 10.70: the server says how much
    # they can pay, the page asks whether the customer gives up the rest.
    _pay_with_form(till, "meal_voucher", amount="15", reference="TR 884211")
    till.shot("payment-meal-voucher")
    till.by("mode-ok").click()
    expect(till.by("confirm-dialog")).to_be_visible()
    expect(till.by("confirm-text")).to_contain_text(euros_in("10.70"))
    expect(till.by("confirm-text")).to_contain_text(euros_in("4.30"))
    till.shot("payment-meal-voucher-excess")
    till.by("confirm-yes").click()
    payments = till.by("payment")
    expect(payments).to_have_count(1)
    expect(payments.first).to_have_attribute("data-mode", "meal_voucher")
    expect(payments.first).to_contain_text("TR 884211")
    expect(payments.first.get_by_test_id("payment-forfeited")).to_contain_text(euros_in("4.30"))
    expect(till.by("pay-balance")).to_have_text(euros("22.40"))
    till.expect_no_error()

    # A second voucher: nothing more is payable by voucher, said in plain words.
    _pay_with_form(till, "meal_voucher", amount="5", reference="TR 884212")
    till.by("mode-ok").click()
    expect(till.by("error-text")).to_have_text(re.compile("ne peuvent plus rien payer"))
    till.by("mode-cancel").click()

    # The rest by cheque in three instalments (the balance: nothing typed).
    _pay_with_form(till, "cheque", reference="CIC 0042")
    till.by("instalments-3").click()
    expect(till.by("mode-instalments")).to_have_value("3")
    till.shot("payment-cheque")
    till.page.keyboard.press("Enter")  # from the cheque number field
    expect(payments).to_have_count(2)
    cheque = payments.nth(1)
    expect(cheque).to_have_attribute("data-mode", "cheque")
    expect(cheque.get_by_test_id("payment-instalments")).to_contain_text("en 3 fois")
    expect(cheque.get_by_test_id("payment-instalments")).to_contain_text(euros_in("7.47"))
    expect(cheque.get_by_test_id("payment-instalments")).to_contain_text(euros_in("7.46"))
    expect(till.by("pay-balance")).to_have_text(euros(0))
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    assert sales(money_server) == 1


def test_card_declined_by_the_terminal_then_cash_with_the_rounding_shown(money_server, tills):
    till = tills(money_server).start()
    till.scan("D891", lines=1)  # 8.91: the simulator declines .91
    till.by("pay").click()
    till.by("pay-card").click()
    terminal = till.by("terminal-status")
    expect(terminal).to_be_visible()
    expect(terminal).to_contain_text("terminal")
    till.shot("payment-card-waiting")
    expect(till.by("error")).to_have_attribute("data-code", "payment_declined")
    expect(till.by("error-text")).to_have_text(re.compile("^Carte refusée : rien n'a été payé"))
    expect(terminal).to_be_hidden()
    expect(till.by("payment")).to_have_count(0)
    till.shot("payment-card-declined")

    # Cash, the exact amount: 8.91 is settled with 8.90 (0.05 rounding), shown.
    till.by("quick-amount").first.click()
    expect(till.by("pay-balance")).to_have_text(euros(0))
    expect(till.by("paid")).to_have_text(euros("8.90"))
    rounding = till.by("pay-rounding")
    expect(rounding).to_contain_text("Arrondi espèces")
    expect(rounding).to_contain_text(euros_in("0.01"))
    expect(rounding).to_contain_text("−")
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    assert sales(money_server) == 1


def test_customer_created_topped_up_pays_partly_by_wallet_and_is_offered_the_top_up_it_lacks(money_server, tills):
    till = tills(money_server).start()
    till.scan("G890", lines=1)  # 8.90

    # Created from the till (F6 opens the customers), and put on the ticket.
    till.page.keyboard.press("F6")
    expect(till.by("customer-panel")).to_be_visible()
    till.by("customer-new").click()
    till.by("customer-name-input").fill("Jeanne Martin")
    till.by("customer-card-input").fill(CARD)
    till.by("customer-wallet-input").check()
    till.by("customer-create").click()
    expect(till.by("customer-name")).to_have_text("Jeanne Martin")
    strip = till.by("ticket-customer")
    expect(strip).to_be_visible()
    expect(till.by("ticket-customer-name")).to_have_text("Client : Jeanne Martin")
    expect(till.by("customer-unselect")).to_be_visible()

    # 5.00 into the wallet, in cash.
    expect(till.by("money-wallet")).to_have_attribute("aria-pressed", "true")
    till.by("money-amount").fill("5")
    till.by("money-mode-cash").click()
    expect(till.by("customer-wallet")).to_have_text(euros(5))
    expect(till.by("customer-topup")).to_have_count(1)
    till.shot("customer")
    till.by("customer-close").click()

    # 3.00 from the wallet…
    till.by("pay").click()
    _pay_with_form(till, "wallet", amount="3")
    expect(till.by("mode-customer")).to_contain_text("Jeanne Martin")
    expect(till.by("mode-customer")).to_contain_text(euros_in(5))
    till.by("mode-ok").click()
    payments = till.by("payment")
    expect(payments).to_have_count(1)
    expect(till.by("pay-balance")).to_have_text(euros("5.90"))

    # …then the rest (5.90) from the wallet, which holds 2.00 more: short 3.90, a
    # top-up of that is offered; once topped up (by card) the payment goes through.
    _pay_with_form(till, "wallet")
    till.by("mode-ok").click()
    expect(till.by("confirm-dialog")).to_be_visible()
    expect(till.by("confirm-text")).to_contain_text(euros_in("3.90"))
    expect(till.by("error-text")).to_contain_text("il manque")
    till.shot("payment-wallet-short")
    till.by("confirm-yes").click()
    expect(till.by("customer-panel")).to_be_visible()
    expect(till.by("money-amount")).to_have_value("3,90")
    till.by("money-mode-card").click()
    expect(till.by("customer-panel")).to_be_hidden()
    expect(payments).to_have_count(2)
    expect(till.by("pay-balance")).to_have_text(euros(0))
    assert [p.get_attribute("data-mode") for p in payments.all()] == ["wallet", "wallet"]
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    expect(strip).to_be_hidden()  # a new ticket, no customer

    # A scanned customer card selects the customer on the next ticket.
    till.scan("G890", lines=1)
    till.wedge(CARD)
    expect(till.by("ticket-customer-name")).to_have_text("Client : Jeanne Martin")
    expect(till.lines()).to_have_count(1)

    # Her card: the sale in her history; a top-up made and cancelled.
    till.by("ticket-customer-show").click()
    expect(till.by("customer-sale")).to_have_count(1)
    expect(till.by("customer-sale")).to_contain_text("Ticket n° 1")
    expect(till.by("customer-wallet")).to_have_text(euros(0))
    till.by("money-amount").fill("10")
    till.by("money-mode-cash").click()
    expect(till.by("customer-wallet")).to_have_text(euros(10))
    till.by("topup-cancel").first.click()
    till.by("confirm-yes").click()
    expect(till.by("customer-wallet")).to_have_text(euros(0))
    expect(till.by("notice")).to_contain_text("Recharge annulée")
    # A top-up put on the ticket (SPEC §3 "from a ticket"): a line of its own, paid with
    # the ticket and credited at finish.
    till.by("money-amount").fill("20")
    till.by("money-on-ticket").click()
    expect(till.lines()).to_have_count(2)
    expect(till.lines().nth(1)).to_contain_text("Recharge porte-monnaie")
    till.shot("ticket-with-topup")
    till.by("customer-close").click()
    till.by("pay").click()
    till.by("quick-amount").first.click()  # the exact amount, in cash
    expect(till.by("pay-balance")).to_have_text(euros(0))
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 2")
    till.scan("G890", lines=1)
    till.wedge(CARD)
    till.by("ticket-customer-show").click()
    expect(till.by("customer-wallet")).to_have_text(euros(20))
    # Taken off the ticket.
    till.by("customer-unselect").click()
    expect(strip).to_be_hidden()
    till.expect_no_error()


def test_drawer_float_alert_withdrawal_with_a_supervisor_pin_no_sale_and_closing_count(money_server, tills):
    till = tills(money_server).start()
    till.page.keyboard.press("F9")
    panel = till.by("drawer-panel")
    expect(panel).to_be_visible()

    def count(pieces: dict[str, int]) -> None:
        for value, n in pieces.items():
            till.page.locator(f'[data-testid="drawer-count-input"][data-denomination="{value}"]').fill(str(n))

    # The float, counted: the amount comes from the count.
    till.by("drawer-kind-float").click()
    count({"20.00": 2, "5.00": 2})
    expect(till.by("drawer-count-total")).to_have_text(euros(50))
    expect(till.by("drawer-amount")).to_have_value("50,00")
    till.by("drawer-reason").fill("ouverture")
    till.by("drawer-submit").click()
    expect(till.by("drawer-expected")).to_have_text(euros(50))

    # Cash added above the shop's alert threshold (100.00): the banner.
    till.by("drawer-kind-add").click()
    till.by("drawer-amount").fill("60")
    till.by("drawer-reason").fill("monnaie")
    till.by("drawer-submit").click()
    expect(till.by("drawer-expected")).to_have_text(euros(110))
    alert = till.by("drawer-alert")
    expect(alert).to_be_visible()
    expect(till.by("drawer-alert-text")).to_contain_text(euros_in(110))
    expect(till.by("drawer-alert-text")).to_contain_text(euros_in(100))
    till.shot("drawer-alert")

    # A withdrawal: the supervisor's PIN is asked; a wrong one says so and records nothing.
    till.by("drawer-kind-withdrawal").click()
    count({"20.00": 1})
    till.by("drawer-reason").fill("banque")
    till.by("drawer-submit").click()
    dialog = till.by("supervisor-dialog")
    expect(dialog).to_be_visible()
    expect(till.by("supervisor-pin")).to_be_focused()
    till.page.keyboard.type("0000")
    till.page.keyboard.press("Enter")
    expect(till.by("supervisor-error")).to_be_visible()
    expect(till.by("supervisor-error")).to_have_text(re.compile("^Code responsable refusé"))
    expect(till.by("drawer-sum-withdrawals")).to_have_text(euros(0))
    till.shot("drawer-supervisor")
    for digit in SUPERVISOR_PIN:
        till.page.locator(f'[data-testid="supervisor-pad"] [data-digit="{digit}"]').click()
    till.by("supervisor-ok").click()
    expect(dialog).to_be_hidden()
    expect(till.by("drawer-sum-withdrawals")).to_have_text(euros(20))
    expect(till.by("drawer-expected")).to_have_text(euros(90))
    expect(alert).to_be_hidden()  # back under the threshold
    withdrawal = till.by("drawer-movement").first
    expect(withdrawal).to_have_attribute("data-kind", "withdrawal")
    expect(withdrawal).to_contain_text("validé par sophie")

    # No sale: a supervisor's PIN again.
    till.by("drawer-kind-no_sale").click()
    till.by("drawer-reason").fill("monnaie pour le marché")
    till.by("drawer-submit").click()
    expect(dialog).to_be_visible()
    till.page.keyboard.type(SUPERVISOR_PIN)
    till.page.keyboard.press("Enter")
    expect(till.by("notice")).to_have_text("Tiroir ouvert sans vente (validé par sophie).")

    # The closing count: 89.00 counted for 90.00 expected.
    till.by("drawer-kind-count").click()
    count({"50.00": 1, "20.00": 1, "10.00": 1, "5.00": 1, "2.00": 2})
    expect(till.by("drawer-count-total")).to_have_text(euros(89))
    till.by("drawer-submit").click()
    till.by("confirm-yes").click()
    result = till.by("drawer-result")
    expect(result).to_be_visible()
    expect(till.by("drawer-result-expected")).to_have_text(euros(90))
    expect(till.by("drawer-result-counted")).to_have_text(euros(89))
    expect(till.by("drawer-result-difference")).to_have_text(re.compile(r"^[-−]1,00[\s\u00a0\u202f]*€$"))
    expect(result).to_have_attribute("data-difference", "short")
    expect(till.by("drawer-expected")).to_have_text(euros(0))  # a new period
    till.shot("drawer-count")
    till.expect_no_error()


def test_money_screens_fit_at_1024x768_and_1920x1080(money_server, tills):
    """Each money screen inside the window at both sizes, with its screenshot."""
    for lane, size in (("1", SMALL), ("2", LARGE)):
        _screens(tills(money_server, lane, size).start(), size)


def _screens(till, size) -> None:
    width = size[0]

    for code in ("M1070", "P2240", "G890"):
        till.scan(code)
    expect(till.lines()).to_have_count(3)
    till.by("pay").click()
    till.page.keyboard.type("10")
    till.by("pay-cash").click()
    expect(till.by("payment")).to_have_count(1)
    _pay_with_form(till, "cheque", reference="CIC 0042")
    till.by("instalments-3").click()
    for testid in ("pay-balance", "cash-amount", "mode-form", "mode-ok", "mode-instalments", "payments-box",
                   "pay-cash", "pay-voucher", "finish", "pay-back"):
        till.expect_inside(testid)
    till.expect_no_scrollbars()
    till.shot("payment-modes")
    till.by("mode-cancel").click()
    expect(till.by("mode-form")).to_be_hidden()
    till.by("pay-back").click()

    till.by("customer-open").click()
    till.by("customer-new").click()
    till.by("customer-name-input").fill(f"Client {width}")
    till.by("customer-wallet-input").check()
    till.by("customer-create").click()
    expect(till.by("customer-detail")).to_be_visible()
    expect(till.by("ticket-customer")).to_be_visible()
    till.expect_inside("money-modes")
    till.shot("customer-card")
    till.by("customer-close").click()
    for testid in ("ticket-customer", "pay", "customer-open", "cancel-ticket"):
        till.expect_inside(testid)
    till.expect_no_scrollbars()
    till.shot("sale-with-customer")

    till.by("drawer-open").click()
    till.by("drawer-kind-withdrawal").click()
    expect(till.by("drawer-count-grid")).to_be_visible()
    till.expect_inside("drawer-submit")
    till.shot("drawer")
    till.by("drawer-close").click()


def test_a_payment_that_finishes_the_sale_with_auto_finish(tmp_path, tills):
    shop = SHOP.replace('drawer_alert = "100.00"', 'drawer_alert = "100.00"\nauto_finish = true')
    with _money_shop(tmp_path, shop) as server:
        till = tills(server, "2")
        try:  # the page closes before the server stops
            till.start()
            till.scan("G890", lines=1)
            till.by("pay").click()
            till.page.keyboard.type("5")
            till.by("pay-cash").click()
            expect(till.by("payment")).to_have_count(1)  # not settled yet: still paying
            till.page.keyboard.type("10")
            till.page.keyboard.press("Enter")
            # The payment that settled the ticket finished the sale: no finish button needed.
            expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
            expect(till.by("last-sale-change")).to_contain_text(euros_in("6.10"))
            expect(till.by("pay-panel")).to_be_hidden()
            expect(till.lines()).to_have_count(0)
            till.expect_no_error()
            assert sales(server) == 1
        finally:
            till.close()


def test_a_ticket_top_up_given_back_from_the_sales_screen_in_the_mode_that_paid_it(money_server, tills):
    till = tills(money_server, "2").start()  # lane 2: no terminal, a card is recorded at once
    till.page.keyboard.press("F6")
    till.by("customer-new").click()
    till.by("customer-name-input").fill("Jeanne Martin")
    till.by("customer-wallet-input").check()
    till.by("customer-create").click()
    expect(till.by("customer-name")).to_have_text("Jeanne Martin")
    till.by("money-amount").fill("20")
    till.by("money-on-ticket").click()
    expect(till.lines()).to_have_count(1)
    till.by("customer-close").click()
    till.by("pay").click()
    till.by("pay-card").click()
    expect(till.by("pay-balance")).to_have_text(euros(0))
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")

    till.page.keyboard.press("F1")
    expect(till.by("sales-panel")).to_be_visible()
    till.page.keyboard.type("1")
    till.page.keyboard.press("Enter")
    give_back = till.by("sale-topup-cancel")
    expect(give_back).to_have_count(1)  # paid by card only: given back by card only
    expect(give_back).to_have_attribute("data-mode", "card")
    expect(give_back).to_contain_text(euros_in(20))
    give_back.click()
    expect(till.by("confirm-text")).to_contain_text("ticket n° 1")
    till.by("confirm-yes").click()
    expect(till.by("sale-topup-done")).to_be_visible()
    expect(till.by("sale-topup-cancel")).to_have_count(0)
    expect(till.by("sale-cancel-open")).to_be_hidden()  # its payments would give the top-up twice
    expect(till.by("notice")).to_contain_text("rendue en Carte bancaire")
    till.shot("sales-topup-given-back")
    till.page.keyboard.press("Escape")
    till.page.keyboard.press("F6")
    till.by("customer-search-input").fill("Jeanne")
    till.by("customer-result").first.click()
    expect(till.by("customer-wallet")).to_have_text(euros(0))
    till.expect_no_error()
