"""The web pages in a real browser against a real server: a cash sale on the till,
and a PDA basket emptied into a lane.

Sync Playwright with the system's Chromium (Debian's ``chromium``; never
``playwright install``). Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import re
import shutil
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api")
sync_playwright, expect = sync_api.sync_playwright, sync_api.expect

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "laneserver" / "demo" / "catalog.csv"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
SELLER, PIN = "marie", "1234"  # the demo shop's seller
WAIT = 10_000  # ms
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None, reason="needs the system's chromium")


def plain_article(below: Decimal = Decimal("50")) -> dict[str, str]:
    """An active article of the demo catalog sold by its own barcode: one unit (no
    pack, no weight), no deposit line, a price in (0, below), a barcode no other
    article shares. Returns the CSV row plus ``barcode``."""
    with open(CATALOG, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))

    def codes(row: dict[str, str]) -> list[str]:
        return [part.strip() for part in (row.get("barcodes") or "").split("|") if part.strip()]

    shared = Counter(code.split("*")[0] for row in rows for code in codes(row))
    for row in rows:
        if (row.get("status") or "active").strip() != "active" or not codes(row):
            continue
        first = codes(row)[0]
        if "*" in first or len(first) != 13 or shared[first] != 1:
            continue
        if (row.get("unit") or "").strip() or (row.get("deposit") or "").strip():
            continue
        if Decimal("0") < Decimal(row["price"]) < below:
            return {**row, "barcode": first}
    raise AssertionError(f"no plain article in {CATALOG}")


def euros(amount: Decimal | str) -> re.Pattern[str]:
    """ "8,90 €" as Intl.NumberFormat("fr-FR") writes it (a no-break space before €)."""
    units, cents = f"{Decimal(amount):.2f}".split(".")
    return re.compile(rf"{units},{cents}[\s\u00a0\u202f]*€")


def launch(p):
    return p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)


def new_page(browser, errors: list[str], viewport=(1024, 768)):
    page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
    page.set_default_timeout(WAIT)
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    return page


def sign_in(page) -> None:
    expect(page.get_by_test_id("sign-in-screen")).to_be_visible(timeout=WAIT)
    page.get_by_test_id("seller-input").fill(SELLER)
    page.get_by_test_id("pin-input").fill(PIN)
    page.get_by_test_id("sign-in-button").click()
    expect(page.get_by_test_id("seller")).to_contain_text(SELLER, timeout=WAIT)


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_till_cash_sale(live_server):
    article = plain_article()
    price = Decimal(article["price"])
    token = live_server.pair("till", "1")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = new_page(browser, errors)
            page.goto(f"{live_server.url}/till/#token={token}")
            expect(page.get_by_test_id("lane")).to_have_text("Caisse 1", timeout=WAIT)
            assert "token=" not in page.url  # taken from the fragment, then removed
            assert page.evaluate("localStorage.getItem('laneserver.token')") == token
            sign_in(page)
            expect(page.get_by_test_id("code-input")).to_be_focused(timeout=WAIT)

            # like a keyboard-wedge scanner: digits, then Enter
            page.keyboard.type(article["barcode"])
            page.keyboard.press("Enter")
            lines = page.get_by_test_id("ticket-line")
            expect(lines).to_have_count(1, timeout=WAIT)
            expect(lines.first).to_contain_text(article["name"], timeout=WAIT)
            expect(page.get_by_test_id("total")).to_have_text(euros(price), timeout=WAIT)
            expect(page.get_by_test_id("balance")).to_have_text(euros(price), timeout=WAIT)
            shot(page, "till-ticket")

            page.get_by_test_id("cash-amount").fill("50")
            page.get_by_test_id("pay-cash").click()
            expect(page.get_by_test_id("paid")).to_have_text(euros("50"), timeout=WAIT)
            expect(page.get_by_test_id("balance")).to_have_text(euros("0"), timeout=WAIT)
            expect(page.get_by_test_id("change")).to_have_text(euros(Decimal("50") - price), timeout=WAIT)

            page.get_by_test_id("finish").click()
            last_sale = page.get_by_test_id("last-sale")
            expect(last_sale).to_contain_text("Ticket n° 1", timeout=WAIT)
            expect(last_sale).to_contain_text(euros(Decimal("50") - price), timeout=WAIT)
            expect(page.get_by_test_id("ticket-line")).to_have_count(0, timeout=WAIT)
            expect(page.get_by_test_id("error")).to_be_hidden()
            expect(page.get_by_test_id("connection-banner")).to_be_hidden()
            shot(page, "till-finished")
        finally:
            browser.close()
    assert not errors, errors


def test_pda_basket_into_lane(live_server):
    article = plain_article()
    pda_token = live_server.pair("pda")
    till_token = live_server.pair("till", "1")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            pda = new_page(browser, errors, viewport=(480, 800))
            pda.goto(f"{live_server.url}/pda/#token={pda_token}")
            sign_in(pda)
            expect(pda.get_by_test_id("basket-code")).to_be_focused(timeout=WAIT)
            pda.keyboard.type(f"2*{article['barcode']}")
            pda.keyboard.press("Enter")
            basket = pda.get_by_test_id("basket-line")
            expect(basket).to_have_count(1, timeout=WAIT)
            expect(basket.first.get_by_test_id("basket-line-qty")).to_have_text("2")

            # a reload keeps the basket (localStorage)
            pda.reload()
            expect(pda.get_by_test_id("basket-line")).to_have_count(1, timeout=WAIT)
            expect(pda.get_by_test_id("lane-select").locator("option")).to_have_count(2, timeout=WAIT)
            pda.get_by_test_id("lane-select").select_option("1")
            shot(pda, "pda-basket")
            pda.get_by_test_id("empty-basket").click()
            expect(pda.get_by_test_id("basket-done")).to_contain_text("caisse 1", timeout=WAIT)
            expect(pda.get_by_test_id("basket-line")).to_have_count(0, timeout=WAIT)
            expect(pda.get_by_test_id("outbox-entry")).to_have_count(0, timeout=WAIT)
            expect(pda.get_by_test_id("error")).to_be_hidden()

            # stock lookup by article id
            pda.get_by_test_id("tab-stock").click()
            pda.get_by_test_id("stock-article").fill(article["id"])
            pda.get_by_test_id("stock-lookup").click()
            expect(pda.get_by_test_id("stock-row")).to_have_count(1, timeout=WAIT)
            expect(pda.get_by_test_id("stock-result")).to_contain_text("main")
            shot(pda, "pda-stock")

            # the lane's open ticket now holds the basket's line
            till = new_page(browser, errors)
            till.goto(f"{live_server.url}/till/#token={till_token}")
            sign_in(till)
            lines = till.get_by_test_id("ticket-line")
            expect(lines).to_have_count(1, timeout=WAIT)
            expect(lines.first).to_contain_text(article["name"])
            expect(lines.first.get_by_test_id("line-qty")).to_have_text("2")
            expect(till.get_by_test_id("total")).to_have_text(euros(2 * Decimal(article["price"])), timeout=WAIT)
            shot(till, "till-after-pda")
        finally:
            browser.close()
    assert not errors, errors
