"""The till page selling: a wedge-scanned sale paid cash with a printed receipt, a
split payment, readable errors, and the cashier's tools (search, price check,
live stock on a long press, line editing, cancel with confirmation, English)."""

from __future__ import annotations

import re
from decimal import Decimal

from tests.e2e.browser.conftest import euros, euros_in, expect, plain_articles, sales

BREAD_PRICE = Decimal("1.20")
DEMO_MODES = ["cash", "card", "cheque", "meal_voucher", "credit", "wallet", "voucher"]  # A100 Baguette, the custom keyboard's "Boulangerie" page


def test_full_sale_typed_by_a_wedge_scanner_paid_cash_with_change_and_printed(printer_server, tills):
    server, printer = printer_server
    a, b = plain_articles(below=Decimal("20"))[:2]
    till = tills(server, "1").open()
    # Pairing: the token left the address bar and is kept for the next opening.
    assert "token=" not in till.page.url
    assert till.page.evaluate("localStorage.getItem('laneserver.token')") == till.token
    till.sign_in().signed_in()

    # Digits then Enter, wherever the focus is.
    till.scan(a["barcode"], lines=1)
    # Quantity prefix: 3, ×, then the scan.
    till.page.keyboard.type("3*")
    expect(till.by("qty-prefix")).to_have_text("3 ×")
    till.scan(b["barcode"], lines=2)
    expect(till.lines().nth(1).get_by_test_id("line-qty")).to_have_text("3")
    expect(till.by("qty-prefix")).to_be_hidden()
    # A product key of the shop's own keyboard (second page); the focus stays
    # in the code field, so the next scan still lands.
    expect(till.by("key-page")).to_have_count(2)
    till.by("key-page").nth(1).click()
    till.by("product-key").first.click()
    expect(till.lines()).to_have_count(3)
    expect(till.by("code-input")).to_be_focused()
    till.scan(a["barcode"], lines=4)

    total = 2 * Decimal(a["price"]) + 3 * Decimal(b["price"]) + BREAD_PRICE
    till.expect_total(total)
    expect(till.by("balance")).to_have_text(euros(total))

    # Payment: the amount typed on the keyboard, Enter = cash.
    given = (total // 10 + 1) * 10 + 20
    till.by("pay").click()
    expect(till.by("pay-panel")).to_be_visible()
    expect(till.by("cash-amount")).to_be_focused()
    till.page.keyboard.type(str(given))
    till.page.keyboard.press("Enter")
    expect(till.by("paid")).to_have_text(euros(given))
    expect(till.by("pay-balance")).to_have_text(euros(0))
    change = till.by("pay-change")
    expect(change).to_have_text(euros(given - total))
    assert change.evaluate("e => parseFloat(getComputedStyle(e).fontSize)") >= 32  # big type

    till.by("finish").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    expect(till.by("last-sale-change")).to_have_text(euros_in(given - total))
    expect(till.lines()).to_have_count(0)
    expect(till.by("pay-panel")).to_be_hidden()
    till.expect_no_error()

    job = printer.wait_for(1)[0]
    assert "Épicerie du Port".encode("cp858") in job
    assert f"{total:.2f}".replace(".", ",").encode() in job
    assert b"\x1dV" in job  # the cut
    assert sales(server) == 1

    # The printer goes away: the next sale still finishes, and the cashier is told
    # the receipt waits; when it is back, the receipt prints and the warning goes.
    printer.unplug()
    till.scan(a["barcode"], lines=1)
    till.by("pay").click()
    till.by("pay-card").click()
    till.by("finish").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 2")
    banner = till.by("printer-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Imprimante hors ligne")
    printer.plug()
    assert b"000002" in printer.wait_for(2)[1]
    expect(banner).to_be_hidden()


def test_split_payment_cash_and_card_with_a_payment_removed(live_server, tills):
    article = next(a for a in plain_articles() if Decimal("6") <= Decimal(a["price"]) <= Decimal("40"))
    price = Decimal(article["price"])
    total = 2 * price
    till = tills(live_server).start()
    till.scan(article["barcode"], lines=1)
    till.scan(article["barcode"], lines=2)

    till.by("pay").click()
    # The payment modes the server takes are buttons, in its order (learned from the
    # hello reply: the demo shop's built-in modes).
    modes = till.by("pay-modes").locator("button")
    expect(modes).to_have_count(len(DEMO_MODES))
    assert [b.get_attribute("data-mode") for b in modes.all()] == DEMO_MODES
    for button in modes.all():
        assert button.is_visible() and button.bounding_box()["height"] >= 44
    # 10 € on the on-screen keypad, cash.
    for key in "10":
        till.page.locator(f'[data-testid="pay-keypad"] [data-key="{key}"]').click()
    expect(till.by("cash-amount")).to_have_value("10")
    till.by("pay-cash").click()
    expect(till.by("pay-balance")).to_have_text(euros(total - 10))
    # 5 € by card… then taken back before finishing.
    till.page.keyboard.type("5")
    till.by("pay-card").click()
    payments = till.by("payment")
    expect(payments).to_have_count(2)
    expect(till.by("pay-balance")).to_have_text(euros(total - 15))
    payments.nth(1).get_by_test_id("remove-payment").click()
    expect(payments).to_have_count(1)
    expect(till.by("pay-balance")).to_have_text(euros(total - 10))
    # The card pays the rest.
    till.by("pay-card").click()
    expect(payments).to_have_count(2)
    expect(till.by("pay-balance")).to_have_text(euros(0))
    expect(till.by("pay-change")).to_have_text(euros(0))
    assert [p.get_attribute("data-mode") for p in payments.all()] == ["cash", "card"]
    expect(payments.nth(1)).to_contain_text(euros_in(total - 10))

    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    expect(till.by("last-sale-change")).to_have_text("Pas de monnaie à rendre")
    assert sales(live_server) == 1


def test_unknown_barcode_and_wrong_pin_show_readable_errors(live_server, tills):
    till = tills(live_server).open()
    till.sign_in(pin="9999")
    # 5 tries per seller and device ([server] pin_failures): one wrong PIN leaves 4.
    expect(till.by("error-text")).to_have_text(
        "Vendeur inconnu ou code PIN incorrect. Encore 4 essais avant le blocage des codes.")
    expect(till.by("sign-in-screen")).to_be_visible()
    till.sign_in().signed_in()
    till.expect_no_error()

    till.page.keyboard.type("2*")
    till.wedge("2000000000000")
    expect(till.by("error-text")).to_have_text("Code inconnu : 2000000000000.")
    expect(till.by("error")).to_have_attribute("data-code", "unknown_code")
    expect(till.lines()).to_have_count(0)
    # The quantity typed for the refused scan waits for the right article, and the
    # next good scan clears the message.
    expect(till.by("qty-prefix")).to_have_text("2 ×")
    article = plain_articles()[0]
    till.scan(article["barcode"], lines=1)
    expect(till.lines().first.get_by_test_id("line-qty")).to_have_text("2")
    till.expect_no_error()

    # The same in English, money in the English locale.
    till.by("lang-toggle").click()
    expect(till.by("lane")).to_have_text("Lane 1")
    expect(till.by("pay")).to_have_text("Pay")
    till.wedge("2000000000000")
    expect(till.by("error-text")).to_have_text("Unknown code: 2000000000000.")
    units, cents = f"{2 * Decimal(article['price']):.2f}".split(".")
    expect(till.by("total")).to_have_text(f"€{units}.{cents}")
    # Paying a card above the balance: refused, in plain words.
    till.by("pay").click()
    till.page.keyboard.type("999")
    till.by("pay-card").click()
    expect(till.by("error-text")).to_contain_text("cannot exceed the balance")
    expect(till.by("payment")).to_have_count(0)
    # The choice of language is kept for this till.
    assert till.page.evaluate("localStorage.getItem('laneserver.till.lang')") == "en"

    # Seller switch: the recent sellers are one tap away, the PIN on the pad; the
    # lane's open ticket stays.
    till.by("pay-back").click()
    till.by("sign-out").click()
    expect(till.by("sign-in-screen")).to_be_visible()
    till.by("recent-seller").filter(has_text="marie").click()
    expect(till.by("seller-input")).to_have_value("marie")
    for digit in "1234":
        till.page.locator(f'[data-testid="pin-pad"] [data-digit="{digit}"]').click()
    till.by("sign-in-button").click()
    till.signed_in()
    expect(till.lines()).to_have_count(1)


def test_search_price_check_live_stock_line_editing_and_cancel(live_server, tills):
    a, b = plain_articles()[:2]
    till = tills(live_server).start()

    # Search by name: a tap adds the article.
    till.by("search-open").click()
    expect(till.by("search-input")).to_be_focused()
    till.page.keyboard.type(a["name"].split()[0])
    result = till.by("search-result").filter(has_text=a["name"])
    expect(result).to_have_count(1)
    result.click()
    expect(till.lines()).to_have_count(1)
    expect(till.by("search-panel")).to_be_hidden()
    expect(till.by("code-input")).to_be_focused()

    # Price check: the next scan shows price and stock; the ticket is not touched.
    till.by("price-check").click()
    expect(till.by("price-mode")).to_be_visible()
    till.wedge(b["barcode"])
    expect(till.by("info-panel")).to_be_visible()
    expect(till.by("info-name")).to_have_text(b["name"])
    expect(till.by("info-price")).to_have_text(euros(b["price"]))
    expect(till.by("stock-row")).to_have_count(1)
    expect(till.by("stock-row").first).to_contain_text("main")
    expect(till.lines()).to_have_count(1)
    expect(till.by("price-mode")).to_be_hidden()
    till.page.keyboard.press("Escape")
    expect(till.by("info-panel")).to_be_hidden()

    # A long press on a product key shows its live stock and sells nothing.
    key = till.by("product-key").first
    label = key.locator(".label").inner_text()
    box = key.bounding_box()
    till.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    till.page.mouse.down()
    expect(till.by("info-panel")).to_be_visible()
    till.page.mouse.up()
    expect(till.by("info-name")).to_have_text(label)
    expect(till.by("stock-row")).to_have_count(1)
    expect(till.by("stock-available")).to_have_text(re.compile(r"^-?\d+(,\d+)?$"))
    till.page.wait_for_timeout(150)
    expect(till.lines()).to_have_count(1)
    till.by("info-close").click()
    # A short tap sells.
    key.click()
    expect(till.lines()).to_have_count(2)

    # Select a line: one more, a typed quantity, one less from the keyboard, delete.
    first = till.lines().first
    first.click()
    expect(till.by("line-editor")).to_be_visible()
    expect(first).to_have_attribute("aria-selected", "true")
    till.by("qty-plus").click()
    expect(first.get_by_test_id("line-qty")).to_have_text("2")
    till.page.keyboard.type("5")
    expect(till.by("qty-set")).to_have_text("Qté = 5")
    till.by("qty-set").click()
    expect(first.get_by_test_id("line-qty")).to_have_text("5")
    expect(till.by("code-input")).to_have_value("")
    till.page.keyboard.press("-")
    expect(first.get_by_test_id("line-qty")).to_have_text("4")
    expect(first.get_by_test_id("line-total")).to_have_text(euros(4 * Decimal(a["price"])))
    till.by("remove-line").click()
    expect(till.lines()).to_have_count(1)
    expect(till.by("line-editor")).to_be_hidden()

    # Cancel the whole ticket: asked first.
    till.by("cancel-ticket").click()
    expect(till.by("confirm-dialog")).to_be_visible()
    expect(till.by("confirm-text")).to_contain_text("Annuler le ticket")
    till.by("confirm-no").click()
    expect(till.lines()).to_have_count(1)
    till.by("cancel-ticket").click()
    till.by("confirm-yes").click()
    expect(till.lines()).to_have_count(0)
    expect(till.by("notice")).to_have_text("Ticket annulé.")
    expect(till.by("code-input")).to_be_focused()



def test_page_helpers_quantities_amounts_and_messages(live_server, tills):
    """The pure helpers of the page, run in the browser: what a cashier types, the
    quick cash amounts, and the sentences for the server's refusals."""
    till = tills(live_server)
    till.page.goto(f"{live_server.url}/till/")
    got = till.page.evaluate("""async () => {
        const f = await import("/till/format.js");
        const pay = await import("/till/pay.js");
        const i18n = await import("/till/i18n.js");
        const paid = {lines: [{}], payments: [{}], balance: "0.00"};
        const out = {
            scan: [f.parseScan("3*3760245001015"), f.parseScan("3x"), f.parseScan("0*12"), f.parseScan("0,5×2058"), f.parseScan("  ")],
            amounts: [f.parseAmount("12,5"), f.parseAmount("50"), f.parseAmount("1.234"), f.parseAmount("abc")],
            qty: [f.formatQty("0.456"), f.formatQty("2"), f.wireQty("3"), f.wireQty("0,5"), f.wireQty("0")],
            quick: [pay.quickAmounts("8.90"), pay.quickAmounts("41.10"), pay.quickAmounts("0.00")],
            fr: [
                f.describeError({code: "conflict", frame: {}}, {verb: "scan", ticket: paid}).text,
                f.describeError({code: "conflict", frame: {}}, {verb: "recall", ticket: paid}).text,
                f.describeError({code: "not_found", frame: {held: "1-1"}}, {}).text,
                f.describeError({code: "forbidden", frame: {}}, {verb: "sign_in"}).text,
                f.describeError({code: "some_new_code", frame: {}, message: "details"}, {}).text,
                f.paymentLabel("meal_voucher"), f.paymentLabel("crypto_coin"),
                f.describeError({code: "out_of_stock", frame: {available: "0", stock_point: "main"}}, {verb: "scan"}).text,
            ],
        };
        i18n.setLanguage("en");
        out.en = [f.formatQty("0.456"), f.describeError({code: "wrong_pin"}).text, f.paymentLabel("cash")];
        i18n.setLanguage("fr");
        return out;
    }""")
    assert got["scan"] == [{"code": "3760245001015", "qty": 3}, {"qtyOnly": 3}, {"badQty": "0"},
                           {"code": "2058", "qty": "0.5"}, None]
    assert got["amounts"] == ["12.50", "50.00", None, None]
    assert got["qty"] == ["0,456", "2", 3, "0.5", None]
    assert got["quick"] == [["8.90", "10.00", "20.00", "50.00", "100.00"],
                            ["41.10", "45.00", "50.00", "60.00", "100.00"], []]
    assert got["fr"] == [
        "Le ticket a des paiements : retirez-les avant de modifier les lignes.",
        "Le ticket en cours n'est pas vide : mettez-le en attente ou terminez-le d'abord.",
        "Ce ticket en attente n'existe plus (déjà repris ?).",
        "Trop de codes PIN faux sur cette caisse : codes bloqués, réessayez plus tard.",
        "Erreur.",
        "Titre-restaurant", "crypto coin",
        "Stock insuffisant : 0 disponible(s) au dépôt main.",
    ]
    assert got["en"] == ["0.456", "Unknown seller or wrong PIN.", "Cash"]
