"""Two tills on one lane (ticket revisions, docs/protocol.md "Events"): each page draws
its own changes from its replies and the other's from the ``ticket`` events; a page
that misses a change (its event dropped on the way) sees the gap in ``rev``, draws the
newer ticket and asks ``ticket``."""

from __future__ import annotations

import json
import time
from decimal import Decimal

from tests.e2e.browser.conftest import WAIT, expect, plain_articles


def test_two_tills_draw_each_others_changes_and_a_gap_asks_the_ticket(live_server, tills):
    first, second, third = plain_articles()[:3]
    a = tills(live_server, "1")
    b = tills(live_server, "1")
    sent_by_b: list[dict] = []     # the frames b's page sent
    revs_to_b: list[int] = []      # the revs of the tickets b's page was handed
    dropped: set[int] = set()      # revs of ticket events not handed to b's page

    def between_b_and_the_server(ws) -> None:
        server = ws.connect_to_server()

        def from_page(message) -> None:
            sent_by_b.append(json.loads(message))
            server.send(message)

        def from_server(message) -> None:
            frame = json.loads(message)
            ticket = frame.get("ticket")
            if frame.get("type") == "ticket" and ticket["rev"] in dropped:
                return
            if ticket is not None:
                revs_to_b.append(ticket["rev"])
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)

    b.page.route_web_socket("**/ws", between_b_and_the_server)
    a.start()
    b.start()

    a.scan(first["barcode"], lines=1)
    expect(b.lines()).to_have_count(1)  # a's change, from the event
    b.scan(second["barcode"], lines=2)  # b's own change, from its reply
    expect(a.lines()).to_have_count(2)
    a.expect_total(Decimal(first["price"]) + Decimal(second["price"]))
    b.expect_total(Decimal(first["price"]) + Decimal(second["price"]))

    # b misses a's next change; the one after shows the gap.
    n = max(revs_to_b)
    dropped.add(n + 1)
    asked = sum(1 for f in sent_by_b if f["type"] == "ticket")
    a.scan(third["barcode"], lines=3)
    a.scan(first["barcode"], lines=4)
    expect(b.lines()).to_have_count(4)  # the newer ticket is drawn whole
    deadline = time.monotonic() + WAIT / 1000
    while sum(1 for f in sent_by_b if f["type"] == "ticket") == asked:
        assert time.monotonic() < deadline, "b did not ask the ticket after the gap"
        b.page.wait_for_timeout(50)
    expect(b.lines()).to_have_count(4)
    b.expect_total(2 * Decimal(first["price"]) + Decimal(second["price"]) + Decimal(third["price"]))
    a.expect_no_error()
    b.expect_no_error()
