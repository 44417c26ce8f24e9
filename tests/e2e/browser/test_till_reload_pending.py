"""A reload while a ``finish`` is in flight (docs/web_till.md "Exactly once", point 3).

A reload forgets the seller (the resume secret is page memory only), but the page keeps
its unanswered mutating requests in sessionStorage. The restored ``finish`` now waits,
unsent, said on the sign-in screen, until the PIN is typed again; then it leaves with
its own id and key and its reply is shown: the sale finished, once. Before, it was
re-sent straight after ``hello`` and came back ``not_signed_in``: an error for a sale
that was then never finished by it (or, had the first frame reached the server, one
the cashier could not know was done).

Nothing holds the re-sent frame on the wire here: the first page's ``finish`` is lost
on the way (the reload came before it reached the server), or it reaches the server and
only its reply is lost. The second case signs in as another seller: the server keeps a
key per device, so the re-sent ``finish`` gets the first reply (marie's sale), and the
books still hold one sale."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.browser.conftest import PIN, SELLER, expect, sales
from tests.e2e.configured import configured_shop, lane, rows, stock_point, table, toml

CATALOG = """id,name,price,vat_rate,barcodes
C1,Champagne brut 75 cl,30.00,20,3000000000014
"""
C1 = "3000000000014"
OTHER, OTHER_PIN = "paul", "5678"


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Cave du Port", locale="fr"), stock_point("main"), lane("1"), lane("2"))
    with configured_shop(tmp_path, config, CATALOG,
                         sellers=[(SELLER, PIN, "cashier"), (OTHER, OTHER_PIN, "cashier")]) as server:
        yield server


def _finish_then_reload(till, lose: str, link: dict | None = None) -> list[dict]:
    """Sell C1 paid by card, press Fin de vente and reload while the ``finish`` is in
    flight. ``lose``: "request" (the first ``finish`` never reaches the server) or
    "reply" (it does; its reply never reaches the page). ``link["sign_out"]`` set: the
    session is signed out just before the next ``finish`` reaches the server. Returns
    the frames the pages sent, in order (the route's callbacks run while Playwright is
    called)."""
    sent: list[dict] = []
    link = link if link is not None else {}
    link["lose"] = None

    def route(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message)
            sent.append(frame)
            if frame.get("type") == "finish" and link["lose"] == "request":
                link["lose"] = None
                return
            if frame.get("type") == "finish" and link.get("sign_out"):
                link["sign_out"] = False
                server.send(json.dumps({"type": "sign_out", "id": "elsewhere"}))
            if frame.get("type") == "finish" and link["lose"] == "reply":
                link["lose"] = frame["id"]
            server.send(message)

        def from_server(message):
            if link["lose"] is not None and json.loads(message).get("re") == link["lose"]:
                link["lose"] = None
                return
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    till.page.route_web_socket(re.compile(r"/ws$"), route)
    till.start()
    till.scan(C1, lines=1)
    till.by("pay").click()
    till.by("pay-card").click()
    expect(till.by("pay-balance")).to_have_text(re.compile(r"^0,00"))
    link["lose"] = lose
    till.by("finish-no-receipt").click()
    till.page.wait_for_function("() => (sessionStorage.getItem('laneserver.till.pending') || '').includes('finish')")
    if lose == "reply":  # the server recorded the sale before the reload
        for _ in range(100):
            if sales(till.server):
                break
            till.page.wait_for_timeout(100)
        assert sales(till.server) == 1
    till.page.reload()
    return sent


def _finishes(sent: list[dict]) -> list[dict]:
    return [frame for frame in sent if frame.get("type") == "finish"]


def test_a_finish_in_flight_at_a_reload_waits_for_the_pin_and_sells_once(shop, tills):
    till = tills(shop, "1")
    sent = _finish_then_reload(till, "request")

    # The reloaded page: no seller, the finish waits and the sign-in screen says so.
    expect(till.by("sign-in-screen")).to_be_visible()
    till.page.wait_for_timeout(300)  # time enough for a re-send straight after hello to show on the route
    assert len(_finishes(sent)) == 1, sent  # the first page's, lost: nothing re-sent yet
    till.expect_no_error()
    waiting = till.by("pending-restored")
    expect(waiting).to_have_text(
        "1 opération faite avant le rechargement de la page attend qu'un vendeur s'identifie pour partir "
        "(fin de vente, par marie) ; rien ne sera compté deux fois.")
    till.by("lang-toggle").click()
    expect(waiting).to_have_text(
        "1 operation made before the page was reloaded waits for a seller to sign in before it is sent "
        "(finish the sale, by marie); nothing will count twice.")
    till.by("lang-toggle").click()
    assert sales(shop) == 0

    till.sign_in().signed_in()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    expect(till.lines()).to_have_count(0)
    expect(waiting).to_be_hidden()
    till.expect_no_error()
    finishes = _finishes(sent)
    assert len(finishes) == 2, finishes
    assert (finishes[1]["id"], finishes[1]["key"]) == (finishes[0]["id"], finishes[0]["key"])
    # It left after the sign-in, not before.
    types = [frame["type"] for frame in sent]
    assert types.index("sign_in") < len(types) - 1 - types[::-1].index("finish"), types
    assert sales(shop) == 1
    assert rows(shop, "SELECT count(*) FROM sales") == [(1,)]
    till.page.wait_for_timeout(300)
    assert len(_finishes(sent)) == 2  # once
    expect(till.by("last-sale-number")).to_have_count(1)
    assert till.page.evaluate("sessionStorage.getItem('laneserver.till.pending')") is None


def test_a_finish_done_before_a_reload_is_told_to_another_seller_and_not_done_twice(shop, tills):
    till = tills(shop, "2")
    sent = _finish_then_reload(till, "reply")
    expect(till.by("pending-restored")).to_contain_text("(fin de vente, par marie)")
    till.page.wait_for_timeout(300)
    assert len(_finishes(sent)) == 1, sent

    till.sign_in(OTHER, OTHER_PIN).signed_in(OTHER)
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    expect(till.by("pending-restored")).to_be_hidden()
    till.expect_no_error()
    finishes = _finishes(sent)
    assert len(finishes) == 2 and finishes[0]["key"] == finishes[1]["key"], finishes
    assert sales(shop) == 1
    # the first reply, remembered with the key: marie's sale
    assert rows(shop, "SELECT seller FROM sales") == [(SELLER,)]


def test_a_restored_finish_refused_not_signed_in_waits_for_the_next_sign_in(shop, tills):
    """The race: the seller is signed out again just before the restored ``finish``
    reaches the server, which refuses it ``not_signed_in``. The page does not drop it:
    back on the sign-in screen, it still says the finish waits, and the next sign-in
    sends it again (same id and key): one sale."""
    till = tills(shop, "1")
    link: dict = {}
    sent = _finish_then_reload(till, "request", link)
    expect(till.by("pending-restored")).to_contain_text("(fin de vente, par marie)")
    link["sign_out"] = True
    till.sign_in()
    for _ in range(100):  # the route hears the re-sent finish (and signs out before it)
        if len(_finishes(sent)) == 2:
            break
        till.page.wait_for_timeout(100)
    expect(till.by("sign-in-screen")).to_be_visible()
    expect(till.by("seller")).to_be_hidden()
    expect(till.by("pending-restored")).to_contain_text("(fin de vente, par marie)")
    assert len(_finishes(sent)) == 2 and sales(shop) == 0, sent
    till.expect_no_error()

    till.sign_in().signed_in()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    expect(till.by("pending-restored")).to_be_hidden()
    till.expect_no_error()
    finishes = _finishes(sent)
    assert len(finishes) == 3 and len({(f["id"], f["key"]) for f in finishes}) == 1, finishes
    assert sales(shop) == 1
