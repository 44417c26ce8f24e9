"""An expired quote on the till's Documents screen (issue 18; docs/web_till.md
"Documents"): a quote made today, the server started again 40 days later (its clock
read ahead, tests/e2e/browser/days_ahead/sitecustomize.py): the list shows the quote
expired, offers no Recall, only Cancel; scanning its barcode is refused and leaves
the ticket empty. In French and in English. One test, one browser."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from tests.e2e.browser.conftest import PIN, SELLER, expect
from tests.e2e.configured import configured_shop
from tests.support import connect

DAYS_AHEAD = Path(__file__).resolve().parent / "days_ahead"
CATALOG = """id,name,price,vat_rate,barcodes
C1,Champagne brut 75 cl,30.00,20,3000000000014
"""
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


async def make_a_quote(server) -> None:
    with trio.fail_after(30):
        async with connect(server.ws_url, server.pair("till", "1"), seller=(SELLER, PIN)) as till:
            await till.ok("add", article="C1")
            assert (await till.ok("quote", valid_months=1))["document"]["name"] == "Q-000001"


@pytest.fixture
def expired_quote_server(tmp_path: Path):
    """A supervisor (cancel is theirs); a quote of today, then the server 40 days on."""
    with configured_shop(tmp_path, SHOP, CATALOG, sellers=[(SELLER, PIN, "supervisor")]) as server:
        trio.run(make_a_quote, server)
        server.stop()
        path = os.pathsep.join(p for p in (str(DAYS_AHEAD), os.environ.get("PYTHONPATH", "")) if p)
        server.env.update(PYTHONPATH=path, LANESERVER_TEST_DAYS_AHEAD="40")
        server.restart()
        yield server


def test_an_expired_quote_is_shown_expired_and_cannot_be_recalled(expired_quote_server, tills):
    till = tills(expired_quote_server).start()
    till.by("documents-open").click()
    panel = till.by("documents-panel")
    row = panel.locator('[data-document="Q-000001"]')
    expect(row.get_by_test_id("document-status")).to_have_text("expiré")
    expect(row.get_by_test_id("document-recall")).to_have_count(0)
    expect(row.get_by_test_id("document-cancel")).to_be_visible()
    till.by("lang-toggle").click()
    expect(row.get_by_test_id("document-status")).to_have_text("expired")
    till.by("documents-close").click()
    till.scan("DQ000001")
    expect(till.by("error")).to_contain_text("Quote DQ000001 has expired: it was valid until")
    expect(till.lines()).to_have_count(0)
    till.by("lang-toggle").click()
    till.scan("DQ000001")
    expect(till.by("error")).to_contain_text("Devis expiré DQ000001 : il était valable jusqu'au")
    expect(till.lines()).to_have_count(0)
