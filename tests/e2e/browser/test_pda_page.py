"""The PDA page (it shares the till's protocol, DOM, format and sign-in modules):
a basket kept across a reload and emptied into a lane, a stock lookup, and the
lane's till, open meanwhile, showing the basket's line (a ticket event: the PDA made the
change, the till hears it). (Moved here from tests/e2e/test_pages_smoke.py.)"""

from __future__ import annotations

from decimal import Decimal

from tests.e2e.browser.conftest import PIN, SELLER, SCREENSHOTS, WAIT, euros, expect, plain_articles


def test_pda_basket_into_lane_then_on_the_till(live_server, browser, tills):
    article = plain_articles()[0]
    errors: list[str] = []
    till = tills(live_server, "1").start()
    expect(till.lines()).to_have_count(0)
    context = browser.new_context(viewport={"width": 480, "height": 800})
    try:
        pda = context.new_page()
        pda.set_default_timeout(WAIT)
        pda.on("pageerror", lambda error: errors.append(str(error)))
        pda.goto(f"{live_server.url}/pda/#token={live_server.pair('pda')}")
        expect(pda.get_by_test_id("sign-in-screen")).to_be_visible()
        pda.get_by_test_id("seller-input").fill(SELLER)
        pda.get_by_test_id("pin-input").fill(PIN)
        pda.get_by_test_id("sign-in-button").click()
        expect(pda.get_by_test_id("seller")).to_contain_text(SELLER)
        expect(pda.get_by_test_id("basket-code")).to_be_focused()
        pda.keyboard.type(f"2*{article['barcode']}")
        pda.keyboard.press("Enter")
        basket = pda.get_by_test_id("basket-line")
        expect(basket).to_have_count(1)
        expect(basket.first.get_by_test_id("basket-line-qty")).to_have_text("2")

        # a reload keeps the basket (localStorage) but asks for the PIN again: the
        # resume secret lived in the old page's memory only
        pda.reload()
        expect(pda.get_by_test_id("sign-in-screen")).to_be_visible()
        pda.get_by_test_id("seller-input").fill(SELLER)
        pda.get_by_test_id("pin-input").fill(PIN)
        pda.get_by_test_id("sign-in-button").click()
        expect(pda.get_by_test_id("seller")).to_contain_text(SELLER)
        expect(pda.get_by_test_id("basket-line")).to_have_count(1)
        expect(pda.get_by_test_id("lane-select").locator("option")).to_have_count(2)
        pda.get_by_test_id("lane-select").select_option("1")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        pda.screenshot(path=str(SCREENSHOTS / "pda-basket-480x800.png"))
        pda.get_by_test_id("empty-basket").click()
        expect(pda.get_by_test_id("basket-done")).to_contain_text("caisse 1")
        # the till says where the lines came from (the `basket` event): PDA, staff, count
        expect(till.by("notice")).to_contain_text("PDA")
        expect(till.by("notice")).to_contain_text(f"{SELLER}) : 1 ligne")
        expect(pda.get_by_test_id("basket-line")).to_have_count(0)
        expect(pda.get_by_test_id("outbox-entry")).to_have_count(0)
        expect(pda.get_by_test_id("error")).to_be_hidden()

        # stock lookup by article id
        pda.get_by_test_id("tab-stock").click()
        pda.get_by_test_id("stock-article").fill(article["id"])
        pda.get_by_test_id("stock-lookup").click()
        expect(pda.get_by_test_id("stock-row")).to_have_count(1)
        expect(pda.get_by_test_id("stock-result")).to_contain_text("main")
    finally:
        context.close()
    assert not errors, errors

    # the lane's open ticket now holds the basket's line: the open till drew the event
    lines = till.lines()
    expect(lines).to_have_count(1)
    expect(lines.first).to_contain_text(article["name"])
    expect(lines.first.get_by_test_id("line-qty")).to_have_text("2")
    till.expect_total(2 * Decimal(article["price"]))
    expect(till.by("total")).to_have_text(euros(2 * Decimal(article["price"])))
