"""The PDA's "Commandes du jour" screen (issue 18; docs/pda.md "Commandes du jour"): the
open customer orders due today, and apart the overdue ones, each with its number,
customer, due date, delivery, total, deposit, balance, lines and barcode; refreshed on
its button; in French and English; offline, the last list kept on the device under a
"hors ligne" banner.

A real server and a till's websocket make the orders. An overdue order cannot be made
(a due date in the past is refused), so the shop's day moves instead: the first order
is made due "today" in Pago Pago (UTC−11), then the shop's file says Kiritimati
(UTC+14), a day or two later, and the server is restarted. The browser runs in Pago
Pago's zone, a day or two behind the shop's: the split into today's and overdue orders
must follow the shop's day the server sends (`day`), not the device's clock (filed by
the device's own day, the overdue order showed as today's). One browser test (suite time)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest
import trio

from tests.e2e.browser.conftest import PIN, REPO, SELLER, WAIT, euros, expect
from tests.e2e.configured import configured_server
from tests.support import connect

SHOTS = REPO / "test-artifacts" / "screenshots" / "pda"
PHONE = {"width": 412, "height": 915}
WEST, EAST = "Pacific/Pago_Pago", "Pacific/Kiritimati"
CATALOG = """id,name,price,vat_rate,barcodes
C1,Champagne brut 75 cl,30.00,20,3000000000014
V2,Vin rouge 75 cl,12.50,20,3000000000021
"""
SHOP = """
[shop]
name = "Cave du Port"
locale = "fr"
timezone = "{zone}"

[[stock_points]]
id = "main"

[[lanes]]
id = "1"
stock_point = "main"
"""
ADDRESS = "Château de Vaux, 77950 Maincy"


def day(zone: str, days: int = 0) -> str:
    return (dt.datetime.now(zoneinfo.ZoneInfo(zone)).date() + dt.timedelta(days=days)).isoformat()


def shown(iso: str) -> str:
    """A date as the French page writes it (dd/mm/yyyy)."""
    return dt.date.fromisoformat(iso).strftime("%d/%m/%Y")


@pytest.fixture
def shop(tmp_path: Path):
    server = configured_server(tmp_path, SHOP.format(zone=WEST), CATALOG, sellers=[(SELLER, PIN, "cashier")]).start()
    try:
        server.till = server.pair("till", "1")  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()


async def _order(till, lines, customer: str | None, **fields) -> dict:
    for article, qty in lines:
        await till.ok("add", article=article, qty=qty)
    if customer is not None:
        made = (await till.ok("customer_create", name=customer))["customer"]
        await till.ok("set_customer", customer=made)
    if "deposit" in fields:
        await till.ok("pay", mode="cash", amount=fields["deposit"])
    return (await till.ok("order", **fields))["document"]


async def _overdue_to_be(server) -> None:
    with trio.fail_after(20):
        async with connect(server.ws_url, server.till, seller=(SELLER, PIN)) as till:
            made = await _order(till, [("V2", 6)], "Traiteur Lebon", delivery="on_site", due=day(WEST))
            assert made["name"] == "O-000001"


async def _today_and_tomorrow(server) -> None:
    with trio.fail_after(20):
        async with connect(server.ws_url, server.till, seller=(SELLER, PIN)) as till, \
                connect(server.ws_url, server.pair("pda"), seller=(SELLER, PIN)) as pda:
            made = await _order(till, [("C1", 3), ("V2", 2)], "Mariage Dupont", delivery="delivered",
                                address=ADDRESS, shipping="15.00", deposit="40.00", due=day(EAST))
            assert (made["name"], made["total"], made["left_to_pay"]) == ("O-000002", "130.00", "90.00")
            made = await _order(till, [("C1", 1)], None, delivery="take_away", due=day(EAST, 1))
            assert made["name"] == "O-000003"
            # A PDA lists them (the screen's verb) but makes no document: it has no lane.
            assert [d["name"] for d in (await pda.ok("documents", due="today"))["documents"]] == ["O-000001", "O-000002"]
            refused = await pda.call("order", delivery="on_site")
            assert refused["code"] == "forbidden" and "no lane" in refused["message"], refused


async def _recalled_at_the_till(server, barcode: str) -> None:
    with trio.fail_after(20):
        async with connect(server.ws_url, server.till, seller=(SELLER, PIN)) as till:
            ticket = (await till.ok("scan", code=barcode))["ticket"]
            assert ticket["total"] == "130.00" and ticket["balance"] == "90.00"


def test_the_orders_due_today_listed_with_their_barcodes_in_both_languages_and_offline(shop, browser):
    trio.run(_overdue_to_be, shop)
    shop.stop()
    shop.config.write_text(SHOP.format(zone=EAST), encoding="utf-8")
    shop.start()
    trio.run(_today_and_tomorrow, shop)

    errors: list[str] = []
    context = browser.new_context(viewport=PHONE, timezone_id=WEST)  # the device's clock disagrees with the shop's day
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT)
        page.on("pageerror", lambda error: errors.append(str(error)))
        by = page.get_by_test_id

        def sign_in() -> None:
            expect(by("sign-in-screen")).to_be_visible()
            by("seller-input").fill(SELLER)
            by("pin-input").fill(PIN)
            by("sign-in-button").click()
            expect(by("seller")).to_contain_text(SELLER)

        def card(name: str):
            return page.locator(f'[data-testid="due-order"][data-document="{name}"]')

        page.goto(f"{shop.url}/pda/#token={shop.pair('pda')}")
        sign_in()
        by("nav-tasks").click()
        expect(by("task-due")).to_have_text("Commandes du jour")
        by("task-due").click()
        expect(by("due-panel").get_by_role("heading", name="Commandes du jour")).to_be_visible()

        # Today's order, then the overdue one; tomorrow's is not listed.
        expect(by("due-order")).to_have_count(2)
        expect(by("due-today-title")).to_have_text("Pour aujourd'hui (1)")
        expect(by("due-overdue-title")).to_have_text("En retard (1)")
        expect(by("due-offline")).to_be_hidden()
        expect(by("due-status")).to_contain_text("Liste de")
        today = card("O-000002")
        expect(today).to_have_attribute("data-group", "today")
        expect(today.get_by_test_id("due-number")).to_have_text("O-000002")
        expect(today.get_by_test_id("due-customer")).to_contain_text("Mariage Dupont")
        expect(today.get_by_test_id("due-date")).to_have_text(f"Pour le {shown(day(EAST))}")
        expect(today.get_by_test_id("due-delivery")).to_have_text(f"Livraison : {ADDRESS}")
        expect(today.get_by_test_id("due-total")).to_have_text(euros("130.00"))
        expect(today.get_by_test_id("due-deposit")).to_have_text(euros("40.00"))
        expect(today.get_by_test_id("due-balance")).to_have_text(euros("90.00"))
        assert [(li.get_by_test_id("due-line-name").inner_text(), li.get_by_test_id("due-line-qty").inner_text())
                for li in today.get_by_test_id("due-line").all()] == [
            ("Champagne brut 75 cl", "3"), ("Vin rouge 75 cl", "2"), ("Frais de port", "1")]
        expect(today.get_by_test_id("due-barcode-text")).to_have_text("DO000002")
        # The bars are the order's barcode in Code 128 (one rect per bar, plus the background).
        widths = page.evaluate("async () => (await import('/pda/barcode.js')).code128Widths('DO000002')")
        expect(today.get_by_test_id("due-barcode").locator("rect")).to_have_count((len(widths) + 1) // 2 + 1)
        late = card("O-000001")
        expect(late).to_have_attribute("data-group", "overdue")
        expect(late.get_by_test_id("due-date")).to_have_text(f"Pour le {shown(day(WEST))}")
        expect(late.get_by_test_id("due-delivery")).to_have_text("Sur place")
        expect(late.get_by_test_id("due-customer")).to_contain_text("Traiteur Lebon")
        expect(late.get_by_test_id("due-total")).to_have_text(euros("75.00"))
        expect(late.get_by_test_id("due-deposit")).to_have_text(euros("0.00"))
        expect(late.get_by_test_id("due-balance")).to_have_text(euros("75.00"))
        expect(card("O-000003")).to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "orders-due-412x915.png"), full_page=True, animations="disabled")

        # English.
        by("lang-toggle").click()
        expect(by("due-panel").get_by_role("heading", name="Orders due today")).to_be_visible()
        expect(by("due-today-title")).to_have_text("Due today (1)")
        expect(by("due-overdue-title")).to_have_text("Overdue (1)")
        expect(today.get_by_text("Deposit paid")).to_be_visible()
        expect(today.get_by_text("Balance due")).to_be_visible()
        expect(today.get_by_test_id("due-delivery")).to_have_text(f"Delivered: {ADDRESS}")
        expect(late.get_by_test_id("due-delivery")).to_have_text("On site")
        expect(by("due-refresh")).to_have_text("Refresh")
        keys = page.evaluate("async () => (await import('/pda/i18n.js')).keys()")
        assert keys["fr"] == keys["en"]

        # Kept on the device: reloaded, then offline, the screen shows the last list and says so.
        page.evaluate("() => window.pda.store.flushed()")
        page.reload()
        sign_in()
        context.set_offline(True)
        expect(by("connection-banner")).to_be_visible()
        by("nav-tasks").click()
        by("task-due").click()
        expect(by("due-offline")).to_be_visible()
        expect(by("due-offline")).to_contain_text("Offline — list of")
        expect(by("due-order")).to_have_count(2)
        expect(card("O-000002").get_by_test_id("due-balance")).to_have_text(euros("90.00"))
        expect(card("O-000002").get_by_test_id("due-line")).to_have_count(3)
        by("due-refresh").click()  # nothing to ask: the same list, still said offline
        expect(by("due-offline")).to_be_visible()
        expect(by("due-order")).to_have_count(2)
        page.screenshot(path=str(SHOTS / "orders-due-offline-412x915.png"), animations="disabled")

        # Back online: refreshed. The order scanned at the till (recalled) leaves the list on refresh.
        context.set_offline(False)
        expect(by("due-offline")).to_be_hidden()
        trio.run(_recalled_at_the_till, shop, card("O-000002").get_by_test_id("due-barcode-text").inner_text())
        by("due-refresh").click()
        expect(by("due-order")).to_have_count(1)
        expect(by("due-today-title")).to_have_text("Due today (0)")
        expect(by("due-none")).to_have_text("No order due today.")
        expect(card("O-000001")).to_have_attribute("data-group", "overdue")
        expect(by("error")).to_be_hidden()
    finally:
        context.close()
    assert not errors, errors
