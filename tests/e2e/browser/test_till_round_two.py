"""Issue 17, the till's second round: one configured shop and one browser for the
module (the suite's time is tight), each test a few of the numbered items, in French
and in English where the page says something.

The shop: the demo catalog with no stock and ``negative_stock = "warn"``, large lines
asked above 99 units or 1,000 € (``confirm_qty``, ``confirm_line_total``), a cashier
(marie) and a supervisor (sophie). Screenshots go to
``test-artifacts/screenshots/web_till/`` (git-ignored), as the other browser tests'.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.browser.conftest import CATALOG, PIN, SELLER, Till, expect
from tests.e2e.configured import SUPERVISOR, configured_server

SHOP = """
[shop]
name = "Cave du Port"
locale = "fr"
negative_stock = "warn"
confirm_qty = "99"
confirm_line_total = "1000"

[[stock_points]]
id = "main"

[[lanes]]
id = "1"
stock_point = "main"

[[lanes]]
id = "2"
stock_point = "main"
"""

GALETS = "3760245001015"  # A001, 8.90 €
SIROP = "3051276009492"  # A094, blocked (a supplier's recall)
BEAUJOLAIS = "A006"  # dormant (its barcode now sells A007)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    server = configured_server(tmp_path_factory.mktemp("round_two"), SHOP, CATALOG,
                               sellers=[(SELLER, PIN, "cashier"), SUPERVISOR]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def till(browser, shop):
    errors: list[str] = []
    page = Till(browser, shop, "1", errors=errors)
    try:
        yield page
    finally:
        page.close()
    assert not errors, errors


def english(till: Till) -> None:
    till.by("lang-toggle").click()
    expect(till.by("lang-toggle")).to_have_text("FR")


def test_large_lines_are_asked_stock_below_zero_is_shown_and_blocked_articles_say_why(till):
    till.start()
    # 1. 99999 × a wine: asked first; Escape says no and nothing is added.
    till.page.keyboard.type("99999*")
    till.scan(GALETS)
    dialog = till.by("confirm-dialog")
    expect(dialog).to_be_visible()
    expect(till.by("confirm-text")).to_contain_text("99999")
    expect(till.by("confirm-text")).to_contain_text(re.compile(r"889[\s\u00a0\u202f]?991,10"))
    till.page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(till.lines()).to_have_count(0)
    # Enter says yes: the line is added, and the stock at 0 shows on it (warn policy).
    till.page.keyboard.type("120*")
    till.scan(GALETS)
    expect(dialog).to_be_visible()
    till.page.keyboard.press("Enter")
    expect(till.lines()).to_have_count(1)
    expect(till.lines().first.get_by_test_id("line-qty")).to_have_text("120")
    expect(till.lines().first.get_by_test_id("line-stock-warning")).to_have_text("⚠ Stock : -120")
    # A small line goes through with no question.
    till.scan(GALETS, lines=2)
    expect(dialog).to_be_hidden()

    # 3. A blocked article is not "unknown": it says which and why.
    till.scan(SIROP)
    expect(till.by("error-text")).to_have_text("Sirop de menthe 70 cl n'est pas en vente : vente bloquée.")
    till.scan(BEAUJOLAIS)
    expect(till.by("error-text")).to_contain_text("article en sommeil")
    english(till)
    expect(till.lines().first.get_by_test_id("line-stock-warning")).to_have_text(re.compile(r"⚠ Stock: -12[01]"))
    till.scan(SIROP)
    expect(till.by("error-text")).to_have_text("Sirop de menthe 70 cl is not for sale: sale blocked.")
    till.page.keyboard.type("500*")
    till.scan(GALETS)
    expect(till.by("confirm-text")).to_have_text(re.compile(r"^Really 500\? The line comes to"))
    till.page.keyboard.press("Escape")
    expect(till.lines()).to_have_count(2)
    till.by("cancel-ticket").click()
    till.page.keyboard.press("Enter")
    expect(till.lines()).to_have_count(0)
