"""Hold and recall on the till page, and its two layouts (1024×768 touch till,
1920×1080 screen) with screenshots of the sale, payment and hold screens."""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.browser.conftest import LARGE, SMALL, euros, expect, plain_articles, sales


def test_hold_a_ticket_sell_another_recall_the_first_and_finish_it(live_server, tills):
    a, b = plain_articles()[:2]
    till = tills(live_server).start()
    till.scan(a["barcode"], lines=1)
    till.scan(a["barcode"], lines=2)

    till.by("hold").click()  # one key
    expect(till.lines()).to_have_count(0)
    expect(till.by("held-count")).to_have_text("1")
    expect(till.by("notice")).to_have_text("Ticket mis en attente.")

    # Another customer meanwhile.
    till.scan(b["barcode"], lines=1)
    till.by("pay").click()
    till.by("pay-card").click()
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")

    # The held list: seller, total, age; a tap recalls.
    till.by("held-open").click()
    held = till.by("held-ticket")
    expect(held).to_have_count(1)
    expect(held.get_by_test_id("held-seller")).to_have_text("marie")
    expect(held.get_by_test_id("held-total")).to_have_text(euros(2 * Decimal(a["price"])))
    expect(held).to_contain_text("2 lignes")
    expect(held.get_by_test_id("held-age")).to_have_text("à l'instant")
    held.get_by_test_id("recall").click()
    expect(till.by("held-panel")).to_be_hidden()
    expect(till.lines()).to_have_count(2)
    assert till.line_names() == [a["name"], a["name"]]
    expect(till.by("held-count")).to_have_text("0")
    expect(till.by("code-input")).to_be_focused()

    till.by("pay").click()
    till.by("quick-amount").first.click()  # the exact amount, cash
    expect(till.by("pay-balance")).to_have_text(euros(0))
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 2")
    assert sales(live_server) == 2

    # Recalling onto an open ticket puts that one on hold first (from the keyboard:
    # F4 holds, F7 lists the held tickets).
    till.scan(a["barcode"], lines=1)
    till.page.keyboard.press("F4")
    expect(till.by("held-count")).to_have_text("1")
    till.scan(b["barcode"], lines=1)
    till.page.keyboard.press("F7")
    expect(held).to_have_count(1)
    held.get_by_test_id("recall").click()
    expect(till.by("notice")).to_have_text("Le ticket en cours a été mis en attente ; ticket repris.")
    assert till.line_names() == [a["name"]]
    expect(till.by("held-count")).to_have_text("1")
    till.by("held-open").click()
    expect(held.get_by_test_id("held-total")).to_have_text(euros(b["price"]))


def test_layouts_sale_payment_and_hold_screens_at_1024x768_and_1920x1080(live_server, tills):
    """Screenshots of each screen at both sizes; every control a cashier needs is
    inside the window, and nothing scrolls but the ticket, the keys and the panels."""
    articles = plain_articles()[:5]
    for lane, size in (("1", SMALL), ("2", LARGE)):
        _layout(tills(live_server, lane, size).start(), articles)


def _layout(till, articles) -> None:
    for i, article in enumerate(articles, 1):
        till.scan(article["barcode"], lines=i)
    till.lines().nth(1).click()
    expect(till.by("line-editor")).to_be_visible()
    for testid in ("code-input", "total", "pay", "hold", "held-open", "cancel-ticket", "keypad", "line-editor"):
        till.expect_inside(testid)
    expect(till.by("product-key").nth(5)).to_be_visible()  # the keys came with hello
    till.expect_inside("keys")
    till.expect_no_scrollbars()
    till.shot("sale")

    # hold screen: one ticket held, the list open
    till.by("hold").click()
    expect(till.by("held-count")).to_have_text("1")
    till.scan(articles[0]["barcode"], lines=1)
    till.by("held-open").click()
    expect(till.by("held-ticket")).to_have_count(1)
    till.expect_inside("held-list")
    till.shot("hold")
    till.by("held-close").click()

    # payment screen: a cash amount above the balance, the change in big type
    till.by("pay").click()
    quick = till.by("quick-amount")
    expect(quick.first).to_be_visible()
    quick.nth(1).click()
    expect(till.by("payment")).to_have_count(1)
    expect(till.by("pay-change-box")).to_have_class("give due")
    for testid in ("pay-balance", "pay-change", "cash-amount", "pay-cash", "pay-card", "pay-cheque", "pay-meal_voucher",
                   "pay-credit", "pay-wallet", "pay-voucher", "finish", "finish-no-receipt", "pay-back"):
        till.expect_inside(testid)
    till.expect_no_scrollbars()
    till.shot("payment")
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_be_visible()
    till.shot("finished")
