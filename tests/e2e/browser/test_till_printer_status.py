"""The till page shows what the printer reports (DLE EOT, the `printer` event's `status`)
and the drawer's sensor (the `drawer_sensor` event): a network printer played by a TCP
listener that answers status requests with the bytes the test sets."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.browser.conftest import (
    CATALOG,
    PIN,
    SELLER,
    FakePrinter,
    expect,
    plain_articles,
)
from tests.e2e.configured import configured_server
from tests.escpos_peer import (
    DRAWER_PIN3_HIGH_1,
    FINE,
    PAPER_END_STOP_2,
    PAPER_OUT_4,
    fine,
)

SHOP = """
[shop]
name = "Épicerie du Port"

[[stock_points]]
id = "main"

[[lanes]]
id = "1"
stock_point = "main"
printer = "p1"
drawer = "printer"
drawer_sensor = "high"
drawer_left_open_seconds = 1.5

[[printers]]
id = "p1"
kind = "network"
address = "127.0.0.1:{port}"
retry_seconds = 0.2
poll_seconds = 0.3
reply_seconds = 0.5
"""


@pytest.fixture
def status_server(tmp_path):
    with FakePrinter(replies=fine()) as printer:
        server = configured_server(tmp_path, SHOP.format(port=printer.port), CATALOG,
                                   sellers=[(SELLER, PIN, "cashier")]).start()
        try:
            yield server, printer
        finally:
            server.stop()


def test_paper_out_then_back_and_a_drawer_left_open(status_server, tills):
    server, printer = status_server
    article = plain_articles(below=Decimal("20"))[0]
    till = tills(server, "1").start()
    banner = till.by("printer-banner")
    expect(banner).to_be_hidden()

    printer.replies.update({2: PAPER_END_STOP_2, 4: PAPER_OUT_4})
    expect(banner).to_have_attribute("data-status", "paper_out")
    expect(banner).to_contain_text("Plus de papier")
    # A sale while the paper is out: it finishes at once, its receipt waits.
    till.scan(article["barcode"], lines=1)
    till.by("pay").click()
    till.by("pay-card").click()
    till.by("finish").click()
    expect(till.by("last-sale-number")).to_have_text("Ticket n° 1")
    expect(banner).to_contain_text("1 ticket en attente")
    assert printer.jobs == []

    printer.replies.update({2: FINE, 4: FINE})  # a new roll
    assert b"000001" in printer.wait_for(1)[0]
    expect(banner).to_be_hidden()

    drawer = till.by("drawer-sensor")
    expect(drawer).to_be_hidden()
    printer.replies[1] = DRAWER_PIN3_HIGH_1
    expect(drawer).to_have_text("Tiroir ouvert.")
    expect(drawer).to_have_attribute("data-state", "left_open")
    expect(drawer).to_have_text("Tiroir resté ouvert : fermez-le.")
    printer.replies[1] = FINE
    expect(drawer).to_be_hidden()
    till.expect_no_error()
