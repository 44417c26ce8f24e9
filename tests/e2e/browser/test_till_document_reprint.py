"""The Documents screen's **Réimprimer** (issue 18; docs/web_till.md "Documents"): a
quote made at the till, reprinted twice from the list on a lane whose printer writes to
a file; the page says copy 2 then copy 3 (the original is print 1), and the server
agrees: the ``copy`` chain holds both, the printer printed both, and a websocket
``reprint`` of the same quote afterwards is copy 4.

Lane 2 has no printer: the server refuses the copy (``not_supported`` with
``field: "output"``, the wire as it was) and the page says, in French then English,
that this lane has no receipt printer, instead of its generic "not available on this
server"; no copy is counted."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import trio

from tests.e2e.browser.conftest import PIN, SELLER, expect
from tests.e2e.configured import (
    configured_shop,
    file_printer,
    lane,
    printed,
    rows,
    stock_point,
    table,
    toml,
)
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
C1,Champagne brut 75 cl,30.00,20,3000000000014
"""
C1 = "3000000000014"


@pytest.fixture
def reprint_server(tmp_path: Path):
    """A cashier (documents are the shop's: any seller reprints them); lane 1 prints to a
    file, lane 2 has no printer."""
    config = toml(table("shop", name="Cave du Port", locale="fr"), stock_point("main"),
                  lane("1", printer="p1"), lane("2"), file_printer(tmp_path))
    with configured_shop(tmp_path, config, CATALOG, sellers=[(SELLER, PIN, "cashier")]) as server:
        yield server


async def _fourth_copy(server) -> int:
    with trio.fail_after(30):
        await printed(server, "Impression n° 2", "Impression n° 3")
        async with connect(server.ws_url, server.pair("till", "1"), seller=(SELLER, PIN)) as ws:
            return (await ws.ok("reprint", document="Q-000001", key="ws-copy"))["copy"]


def _sell_one_in_cash(till) -> None:
    """One article, paid 50.00 in cash (F8), finished: the last sale's buttons show."""
    keys = till.page.keyboard
    till.scan(C1, lines=1)
    keys.press("F8")
    keys.type("50")
    keys.press("Enter")
    expect(till.by("payment")).to_have_count(1)
    keys.press("Enter")
    expect(till.by("last-sale-number")).to_be_visible()


def test_reprint_from_the_documents_screen_counts_copies_with_the_server(reprint_server, tills):
    till = tills(reprint_server).start()
    till.scan(C1, lines=1)
    till.by("documents-open").click()
    panel = till.by("documents-panel")
    till.by("make-quote").click()
    expect(till.by("documents-result")).to_contain_text("Q-000001")
    reprint = panel.locator('[data-document="Q-000001"] [data-testid="document-reprint"]')
    expect(reprint).to_have_text("Réimprimer")

    reprint.click()
    expect(till.by("documents-result")).to_contain_text("Duplicata n° 2 imprimé")
    # From the keyboard too: the button is a tab stop like the screen's others.
    reprint.focus()
    till.page.keyboard.press("Enter")
    expect(till.by("documents-result")).to_contain_text("Duplicata n° 3 imprimé")
    till.expect_no_error()

    chain = [json.loads(text) for (text,) in rows(
        reprint_server, "SELECT record FROM fiscal_records WHERE chain='copy' ORDER BY number")]
    assert [(r["document"], r["counter"]) for r in chain] == [("Q-000001", 2), ("Q-000001", 3)]
    assert trio.run(_fourth_copy, reprint_server) == 4

    till.by("lang-toggle").click()
    expect(reprint).to_have_text("Reprint")
    reprint.click()
    expect(till.by("documents-result")).to_contain_text("Copy 5 printed")


async def _refused_on_lane_two(server) -> dict:
    with trio.fail_after(30):
        async with connect(server.ws_url, server.pair("till", "2"), seller=(SELLER, PIN)) as ws:
            return await ws.call("reprint", document="Q-000001")


def test_reprint_on_a_lane_without_a_printer_says_so_in_words(reprint_server, tills):
    till = tills(reprint_server, "2").start()
    till.scan(C1, lines=1)
    till.by("documents-open").click()
    till.by("make-quote").click()
    expect(till.by("documents-result")).to_contain_text("Q-000001")
    reprint = till.by("documents-panel").locator('[data-document="Q-000001"] [data-testid="document-reprint"]')

    reprint.click()
    expect(till.by("error-text")).to_have_text(
        "Cette caisse n'a pas d'imprimante de tickets : le duplicata ne peut pas être imprimé ici "
        "(le bouton PDF donne le document en A4).")
    expect(till.by("error")).to_have_attribute("data-code", "not_supported")
    expect(till.by("documents-result")).to_be_hidden()
    till.by("lang-toggle").click()
    reprint.click()
    expect(till.by("error-text")).to_have_text(
        "This lane has no receipt printer: the copy cannot be printed here (the PDF button gives the A4 document).")

    # What the page maps, as the server sends it; and nothing was counted.
    error = trio.run(_refused_on_lane_two, reprint_server)
    assert (error["type"], error["code"], error["field"]) == ("error", "not_supported", "output"), error
    assert rows(reprint_server, "SELECT record FROM fiscal_records WHERE chain='copy'") == []


def test_a_sales_duplicate_on_a_lane_without_a_printer_says_so_in_words(reprint_server, tills):
    """The last sale's Duplicata button (``reprint`` of a sale) on lane 2: the server's
    ``not_supported`` is said as this lane having no receipt printer, in French then
    English (it was the generic "not available on this server"). Its Ticket cadeau button
    names a gift receipt, not a duplicata (it said "le duplicata" for both)."""
    till = tills(reprint_server, "2").start()
    _sell_one_in_cash(till)

    till.by("reprint-duplicate").click()
    expect(till.by("error-text")).to_have_text(
        "Cette caisse n'a pas d'imprimante de tickets : le duplicata ne peut pas être imprimé ici.")
    expect(till.by("error")).to_have_attribute("data-code", "not_supported")
    till.by("reprint-gift").click()
    expect(till.by("error-text")).to_have_text(
        "Cette caisse n'a pas d'imprimante de tickets : le ticket cadeau ne peut pas être imprimé ici.")
    till.by("lang-toggle").click()
    till.by("reprint-duplicate").click()
    expect(till.by("error-text")).to_have_text("This lane has no receipt printer: the copy cannot be printed here.")
    till.by("reprint-gift").click()
    expect(till.by("error-text")).to_have_text(
        "This lane has no receipt printer: the gift receipt cannot be printed here.")
    assert rows(reprint_server, "SELECT record FROM fiscal_records WHERE chain='copy'") == []


def _reload_in_flight(till) -> None:
    """The page sells C1, asks for a gift receipt, and is reloaded before the ``reprint``
    reached the server (the route loses the first page's frame). The reloaded page keeps
    the ``reprint`` (same id and key, from sessionStorage) until the cashier has signed
    in again (a reload forgets the seller, and the server refuses a reprint with nobody
    signed in); then it goes to the real server, unheld, and its reply only the
    reloaded page's ``onUnclaimed`` hears."""
    link: dict = {"lose": True, "sent": []}

    def route(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message)
            link["sent"].append(frame)
            if link["lose"] and frame.get("type") == "reprint":
                link["lose"] = False
                return
            server.send(message)

        ws.on_message(from_page)
        server.on_message(ws.send)

    till.page.route_web_socket(re.compile(r"/ws$"), route)
    till.start()
    _sell_one_in_cash(till)
    till.by("reprint-gift").click()
    till.page.wait_for_function("() => (sessionStorage.getItem('laneserver.till.pending') || '').includes('reprint')")
    till.page.reload()
    expect(till.by("pending-restored")).to_contain_text("(ticket cadeau, par marie)")
    till.sign_in().signed_in()
    till.page.wait_for_timeout(300)  # the route's callbacks run only while Playwright is called
    types = [frame["type"] for frame in link["sent"]]
    reprints = [frame for frame in link["sent"] if frame["type"] == "reprint"]
    assert len(reprints) == 2, types  # the first page's (lost), and the reloaded page's re-send
    assert reprints[0]["key"] == reprints[1]["key"]
    assert types.index("sign_in") < len(types) - 1 - types[::-1].index("reprint"), types  # after the PIN


def test_a_gift_receipt_re_sent_after_a_reload_is_worded_as_a_gift_receipt(reprint_server, tills):
    """A reload while a gift receipt's ``reprint`` is in flight: the reply to the re-sent
    request names a gift receipt, refused (lane 2, no printer) or printed (lane 1). The
    page kept the request's context (``kind``) with it in sessionStorage; before, the
    refusal said "le duplicata" and a printed copy said nothing."""
    refused = tills(reprint_server, "2")
    _reload_in_flight(refused)
    expect(refused.by("error-text")).to_have_text(
        "Cette caisse n'a pas d'imprimante de tickets : le ticket cadeau ne peut pas être imprimé ici.")

    printed_here = tills(reprint_server, "1")
    _reload_in_flight(printed_here)
    expect(printed_here.by("notice")).to_have_text("Ticket cadeau imprimé (impression n° 2).")
    printed_here.expect_no_error()
    assert [json.loads(text)["kind"] for (text,) in rows(
        reprint_server, "SELECT record FROM fiscal_records WHERE chain='copy' ORDER BY number")] == ["original", "gift"]
