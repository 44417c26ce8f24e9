"""The till page when things go wrong: the server killed mid-ticket and restarted,
a reply lost with its connection, and two tills selling at once."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from tests.e2e.browser.conftest import euros, expect, plain_articles, sales

RECONNECT = 15_000  # ms: a restart plus the page's reconnection backoff (≤ 3 s)


def test_server_killed_mid_ticket_the_page_comes_back_with_the_same_ticket_and_sells_once(live_server, tills):
    a, b, c = plain_articles()[:3]
    till = tills(live_server).start()
    till.scan(a["barcode"], lines=1)
    till.scan(b["barcode"], lines=2)

    live_server.kill()
    banner = till.by("connection-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("data-state", "lost")
    expect(till.by("connection-text")).to_contain_text("Connexion perdue")
    expect(till.by("link-state")).not_to_have_attribute("data-state", "ready")
    # A scan while the server is down waits with its idempotency key, and says so.
    till.scan(c["barcode"])
    expect(till.by("connection-text")).to_contain_text("1 opération en attente d'envoi")

    live_server.restart()
    expect(banner).to_have_attribute("data-state", "back", timeout=RECONNECT)
    expect(till.by("connection-text")).to_have_text("Connexion rétablie.")
    expect(till.lines()).to_have_count(3)
    assert till.line_names() == [a["name"], b["name"], c["name"]]
    expect(till.by("seller")).to_contain_text("marie")  # still signed in

    till.by("pay").click()
    till.by("pay-card").click()
    expect(till.by("pay-balance")).to_have_text(euros(0))
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    till.expect_no_error()
    assert sales(live_server) == 1


def test_a_finish_whose_reply_is_lost_is_sent_again_with_its_key_and_sells_once(live_server, tills):
    """The server gets the finish and records the sale, but the connection drops
    before its reply reaches the page: the page reconnects, sends the same finish
    (same key), gets the first reply back, and the books hold one sale."""
    till = tills(live_server)
    finishes: list[dict] = []
    link = {"cut_after_finish": False, "cutting": False}

    def route(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message)
            if frame.get("type") == "finish":
                finishes.append(frame)
                if link["cut_after_finish"]:
                    link["cut_after_finish"] = False
                    link["cutting"] = True
            server.send(message)

        def from_server(message):
            if link["cutting"]:
                # whatever answers the finish is lost with the connection
                link["cutting"] = False
                ws.close()
                server.close()
                return
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    till.page.route_web_socket(re.compile(r"/ws$"), route)
    till.start()
    article = plain_articles()[0]
    till.scan(article["barcode"], lines=1)
    till.by("pay").click()
    till.by("pay-card").click()
    expect(till.by("pay-balance")).to_have_text(euros(0))

    link["cut_after_finish"] = True
    till.by("finish-no-receipt").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1", timeout=15_000)
    expect(till.lines()).to_have_count(0)
    till.expect_no_error()
    assert len(finishes) == 2, finishes
    assert finishes[0]["key"] and finishes[0]["key"] == finishes[1]["key"]
    assert sales(live_server) == 1


def test_two_tills_on_lanes_1_and_2_sell_at_the_same_time(live_server, tills):
    a, b, c, d = plain_articles()[:4]
    one = tills(live_server, "1").start()
    two = tills(live_server, "2").start()
    # Interleaved, without waiting for each other.
    for first, second in ((a, b), (c, d), (a, b)):
        one.wedge(first["barcode"])
        two.wedge(second["barcode"])
    expect(one.lines()).to_have_count(3)
    expect(two.lines()).to_have_count(3)
    assert one.line_names() == [a["name"], c["name"], a["name"]]
    assert two.line_names() == [b["name"], d["name"], b["name"]]
    one.expect_total(2 * Decimal(a["price"]) + Decimal(c["price"]))
    two.expect_total(2 * Decimal(b["price"]) + Decimal(d["price"]))

    one.by("pay").click()
    two.by("pay").click()
    one.by("quick-amount").first.click()
    two.by("pay-card").click()
    expect(one.by("pay-balance")).to_have_text(euros(0))
    expect(two.by("pay-balance")).to_have_text(euros(0))
    one.by("finish-no-receipt").click()
    two.by("finish-no-receipt").click()
    expect(one.by("last-sale-number")).to_be_visible()
    expect(two.by("last-sale-number")).to_be_visible()
    numbers = {one.by("last-sale").get_attribute("data-number"), two.by("last-sale").get_attribute("data-number")}
    assert numbers == {"1", "2"}
    assert sales(live_server) == 2
