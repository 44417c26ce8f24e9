"""The PDA page on a phone (412 × 915): baskets kept on the device and queued while
offline, emptied into a lane exactly once (also when the reply is lost), never appended
to another customer's ticket without asking, parked and recalled on another lane by
their barcode; the stock tasks (count by zone from two PDAs, validated by a supervisor;
look-up, price check, exit, transfer, labels, receipt) and the English page.

One server (a configured shop: two stock points, two lanes, a cashier and a supervisor)
and one browser for the module. Screenshots of every screen go to
``test-artifacts/screenshots/pda/`` (git-ignored)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
import trio

from tests.e2e.browser.conftest import CATALOG, PIN, REPO, SELLER, WAIT, euros, expect, plain_articles
from tests.e2e.configured import configured_server
from tests.support import connect

SHOTS = REPO / "test-artifacts" / "screenshots" / "pda"
PHONE = {"width": 412, "height": 915}
SUPERVISOR, SUPERVISOR_PIN = "sophie", "5678"
SHOP = """
[shop]
name = "Épicerie du Port"
locale = "fr"

[[stock_points]]
id = "main"
name = "Magasin"

[[stock_points]]
id = "reserve"
name = "Réserve"

[[lanes]]
id = "1"
stock_point = "main"

[[lanes]]
id = "2"
stock_point = "main"
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    server = configured_server(tmp_path_factory.mktemp("pda"), SHOP, CATALOG,
                               sellers=[(SELLER, PIN, "cashier"), (SUPERVISOR, SUPERVISOR_PIN, "supervisor")]).start()
    try:
        yield server
    finally:
        server.stop()


class Relay:
    """The PDA's websocket through Playwright, which can lose one reply: the server
    applied the request, the page never hears it and its socket drops."""

    def __init__(self) -> None:
        self.lose: str | None = None  # the verb whose next reply is lost
        self.losing: set[str] = set()
        self.lost: list[dict] = []

    def __call__(self, ws) -> None:
        server = ws.connect_to_server()

        def from_page(message) -> None:
            frame = json.loads(message)
            if self.lose and frame.get("type") == self.lose:
                self.lose = None
                self.losing.add(frame["id"])
            server.send(message)

        def from_server(message) -> None:
            frame = json.loads(message)
            if frame.get("re") in self.losing:
                self.losing.discard(frame["re"])
                self.lost.append(frame)
                ws.close()
                server.close()
                return
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)


class Pda:
    def __init__(self, browser, server, errors: list[str], relay: Relay | None = None) -> None:
        self.server = server
        self.context = browser.new_context(viewport=PHONE)
        if relay is not None:
            self.context.route_web_socket(re.compile(r".*/ws$"), relay)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT)
        self.page.on("pageerror", lambda error: errors.append(f"pda: {error}"))

    def by(self, testid: str):
        return self.page.get_by_test_id(testid)

    def start(self) -> Pda:
        self.page.goto(f"{self.server.url}/pda/#token={self.server.pair('pda')}")
        return self.sign_in()

    def sign_in(self, seller: str = SELLER, pin: str = PIN) -> Pda:
        expect(self.by("sign-in-screen")).to_be_visible()
        self.by("seller-input").fill(seller)
        self.by("pin-input").fill(pin)
        self.by("sign-in-button").click()
        expect(self.by("seller")).to_contain_text(seller)
        expect(self.by("lane-select").locator("option")).to_have_count(2)
        return self

    def scan(self, code: str) -> None:
        """A keyboard-wedge scanner: the characters, then Enter, wherever the focus is."""
        self.page.keyboard.type(code)
        self.page.keyboard.press("Enter")

    def line(self, code: str):
        return self.page.locator(f'[data-testid="basket-line"][data-code="{code}"]')

    def go(self, *testids: str) -> None:
        for testid in testids:
            self.by(testid).click()

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}-412x915.png"), animations="disabled")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def pdas(browser, shop):
    made: list[Pda] = []
    errors: list[str] = []

    def make(relay: Relay | None = None) -> Pda:
        pda = Pda(browser, shop, errors, relay)
        made.append(pda)
        return pda

    yield make
    for pda in made:
        pda.close()
    assert not errors, errors


async def _purchase_order(server, article: str) -> int:
    with trio.fail_after(10):
        async with connect(server.ws_url, server.pair("pda"), seller=(SELLER, PIN)) as client:
            reply = await client.ok("purchase_order_create", supplier="Cave Dupont", key="po-pda-test",
                                    lines=[{"article": article, "qty": 6, "unit_cost": "3.00"}])
            return reply["order"]["order"]


def units(till) -> Decimal:
    return sum((Decimal(q.replace(",", ".")) for q in till.by("line-qty").all_inner_texts()), Decimal(0))


def test_offline_basket_empties_once_and_never_onto_another_ticket(shop, pdas, tills):
    a, b, c = plain_articles()[:3]
    relay = Relay()
    pda = pdas(relay).start()
    till = tills(shop, "1").start()
    pda.by("lane-select").select_option("1")

    # the Wi-Fi drops: 30 scans and one unknown code, all kept on the device
    pda.context.set_offline(True)
    expect(pda.by("connection-banner")).to_be_visible()
    for i in range(30):
        pda.scan((a, b, c)[i % 3]["barcode"])
    pda.scan("0000000000999")
    expect(pda.by("basket-line")).to_have_count(4)
    for article in (a, b, c):
        expect(pda.line(article["barcode"]).get_by_test_id("basket-line-qty")).to_have_text("10")
    pda.by("empty-basket").click()
    expect(pda.by("queue-entry")).to_have_count(1)
    expect(pda.by("queue-entry")).to_contain_text("caisse 1")
    pda.shot("basket-offline-queued")
    # the queued basket is locked: the next scan starts another one
    pda.scan(c["barcode"])
    expect(pda.by("basket-line")).to_have_count(1)
    expect(pda.by("basket-select").locator("option")).to_have_count(2)

    # back online: the queue goes; the server names the unknown line, takes nothing
    pda.context.set_offline(False)
    expect(pda.line("0000000000999")).to_have_attribute("data-flagged", "1")
    expect(pda.by("queue-entry")).to_have_count(0)
    expect(pda.line(a["barcode"]).get_by_test_id("line-name")).to_have_text(a["name"])
    expect(pda.line(a["barcode"]).get_by_test_id("line-price")).to_have_text(euros(a["price"]))
    expect(pda.line(a["barcode"]).get_by_test_id("line-stock")).to_contain_text("main")
    expect(pda.line(a["barcode"])).to_have_attribute("data-flagged", "0")
    pda.shot("basket-flagged-line")
    expect(till.lines()).to_have_count(0)

    # the flagged line removed, the basket goes again; its reply is lost, the page
    # reconnects and sends the same basket id: 30 units, once
    pda.line("0000000000999").get_by_test_id("basket-line-remove").click()
    relay.lose = "basket_empty"
    pda.by("empty-basket").click()
    expect(pda.by("basket-done")).to_contain_text("caisse 1 (3 lignes)")
    assert len(relay.lost) == 1 and relay.lost[0]["type"] == "ok", relay.lost
    expect(till.lines()).to_have_count(3)
    expect(till.by("notice")).to_contain_text(f"{SELLER}) : 3 lignes")
    assert units(till) == 30
    pda.shot("basket-emptied")

    # another basket into the same lane: its ticket has lines, so the page asks
    pda.by("basket-new").click()
    pda.scan(f"2*{a['barcode']}")
    expect(pda.line(a["barcode"]).get_by_test_id("line-name")).to_have_text(a["name"])
    pda.by("empty-basket").click()
    expect(pda.by("basket-ask")).to_be_visible()
    expect(pda.by("basket-ask-text")).to_contain_text("caisse 1")
    pda.shot("basket-ask-append")
    expect(till.lines()).to_have_count(3)
    assert units(till) == 30
    pda.by("ask-yes").click()
    expect(pda.by("basket-done")).to_contain_text("caisse 1 (1 ligne)")
    expect(till.by("notice")).to_contain_text(re.compile(rf"{SELLER}\).* : 1 ligne"))
    till.page.wait_for_function("() => document.querySelectorAll('[data-testid=line-qty]').length >= 3")
    expect(till.by("total")).to_have_text(euros(12 * Decimal(a["price"]) + 10 * Decimal(b["price"]) + 10 * Decimal(c["price"])))
    assert units(till) == 32


def test_parked_basket_is_recalled_on_lane_2(shop, pdas, tills):
    b, c = plain_articles()[1:3]
    pda = pdas()
    # a device that had the page before IndexedDB: its localStorage basket is taken over
    old = {"basket": "old-1", "lines": [{"code": b["barcode"], "qty": "1"}], "outbox": []}
    pda.context.add_init_script(f"localStorage.setItem('laneserver.pda.basket', {json.dumps(json.dumps(old))})")
    pda.start()
    expect(pda.line(b["barcode"])).to_have_count(1)
    pda.scan(f"2*{c['barcode']}")
    expect(pda.by("basket-line")).to_have_count(2)
    # the basket is on the device (IndexedDB): a reload keeps it (the PIN is asked again)
    pda.page.evaluate("() => window.pda.store.flushed()")
    pda.page.reload()
    pda.sign_in()
    expect(pda.by("basket-line")).to_have_count(2)
    pda.by("lane-select").select_option("1")
    pda.by("park-basket").click()
    expect(pda.by("park-overlay")).to_be_visible()
    barcode = pda.by("park-code").inner_text()
    assert re.fullmatch(r"PB1-\d+", barcode), barcode
    assert pda.by("park-barcode").locator("rect").count() > 20  # drawn as Code 128 bars
    pda.shot("park-barcode")
    # the bars are Code 128 set B with its check symbol (PB1-3: checksum 6)
    values = pda.page.evaluate("async () => (await import('/pda/barcode.js')).code128Values('PB1-3')")
    assert values == [104, 48, 34, 17, 13, 19, 6, 106]
    pda.by("park-close").click()
    expect(pda.by("basket-line")).to_have_count(0)

    till = tills(shop, "2").start()
    till.scan(barcode, lines=2)
    till.expect_total(Decimal(b["price"]) + 2 * Decimal(c["price"]))


def test_count_by_zone_from_two_pdas_then_stock_tasks(shop, pdas):
    d = plain_articles()[3]
    first, second = pdas().start(), pdas().start()
    # two PDAs count the same zone: their counts add up
    for pda, scans in ((first, [d["barcode"]] * 3), (second, [f"2*{d['barcode']}"])):
        pda.go("nav-count")
        pda.by("count-zone").fill("A1")
        pda.by("count-code").click()
        for code in scans:
            pda.scan(code)
        expect(pda.by("count-line")).to_have_count(1)
        pda.by("count-send").click()
        expect(pda.by("notice")).to_contain_text("A1")
    row = second.page.locator(f'[data-testid="count-row"][data-article="{d["id"]}"]')
    expect(row.get_by_test_id("count-counted")).to_have_text("5")
    first.go("count-show")
    row = first.page.locator(f'[data-testid="count-row"][data-article="{d["id"]}"]')
    expect(row.get_by_test_id("count-counted")).to_have_text("5")
    expect(row.get_by_test_id("count-expected")).to_have_text("0")
    expect(row.get_by_test_id("count-diff")).to_have_text("5")
    first.shot("count-by-zone")
    # a cashier validates with the supervisor's PIN typed on the spot
    first.by("count-pin").fill(SUPERVISOR_PIN)
    first.go("count-validate")
    adjustment = first.page.locator(f'[data-testid="adjustment-row"][data-article="{d["id"]}"]')
    expect(adjustment.get_by_test_id("adjustment-diff")).to_have_text("5")
    expect(first.by("notice")).to_contain_text(SUPERVISOR)
    first.shot("count-validated")

    # look-up by lower-case id, then by name
    first.go("nav-lookup")
    first.scan(d["id"].lower())
    expect(first.page.locator('[data-testid="stock-row"][data-stock-point="main"]').get_by_test_id("stock-real")).to_have_text("5")
    expect(first.by("lookup-name")).to_have_text(d["name"])
    first.by("lookup-input").fill(d["name"])
    first.go("lookup-go")
    found = first.page.locator('[data-testid="lookup-name"], [data-testid="lookup-pick"]').first
    expect(found).to_be_visible()
    if first.by("lookup-pick").count():
        first.page.locator(f'[data-testid="lookup-pick"][data-article="{d["id"]}"]').click()
    expect(first.by("lookup-name")).to_have_text(d["name"])
    first.shot("lookup")

    # price check, exit, transfer, labels, free receipt
    first.go("nav-tasks")
    first.shot("tasks")
    first.go("task-price")
    first.scan(d["barcode"])
    expect(first.by("price-price")).to_have_text(euros(d["price"]))
    first.shot("price-check")
    first.go("nav-tasks", "task-exit")
    first.by("exit-article").fill(d["barcode"])
    first.by("exit-qty").fill("1")
    first.by("exit-reason").select_option("breakage")
    first.shot("stock-exit")
    first.go("exit-send")
    expect(first.by("notice")).to_have_text("Sortie enregistrée.")
    first.go("nav-tasks", "task-transfer")
    first.by("transfer-article").fill(d["id"])
    first.by("transfer-qty").fill("1")
    first.by("transfer-to").select_option("reserve")
    first.shot("transfer")
    first.go("transfer-send")
    expect(first.by("notice")).to_have_text("Transfert enregistré.")
    first.go("nav-tasks", "task-labels")
    first.by("labels-article").fill(d["barcode"])
    first.by("labels-copies").fill("2")
    first.go("labels-send")
    expect(first.by("notice")).to_contain_text(f"2 × {d['name']}")
    first.shot("labels")
    # receipts: free, then against a purchase order (made by the back office)
    first.go("nav-tasks", "task-receipt")
    first.by("receipt-article").fill(d["barcode"])
    first.by("receipt-qty").fill("4")
    first.by("receipt-cost").fill("3,20")
    first.by("receipt-supplier").fill("Cave Dupont")
    first.go("receipt-free-send")
    expect(first.by("notice")).to_have_text("Réception enregistrée.")
    order = trio.run(_purchase_order, shop, d["id"])
    first.go("receipt-orders")
    first.page.locator(f'[data-testid="receipt-order"][data-order="{order}"]').click()
    line = first.page.locator(f'[data-testid="receipt-line"][data-article="{d["id"]}"]')
    expect(line.get_by_test_id("receipt-line-qty")).to_have_value("6")
    line.get_by_test_id("receipt-line-qty").fill("2")
    first.shot("receipt")
    first.go("receipt-send")
    expect(first.by("notice")).to_have_text("Réception enregistrée.")
    first.go("nav-lookup")
    first.scan(d["barcode"])
    expect(first.page.locator('[data-testid="stock-row"][data-stock-point="main"]').get_by_test_id("stock-real")).to_have_text("9")
    expect(first.page.locator('[data-testid="stock-row"][data-stock-point="reserve"]').get_by_test_id("stock-real")).to_have_text("1")

    # English, like the till
    first.go("lang-toggle")
    expect(first.by("nav-basket")).to_have_text("Basket")
    first.go("nav-basket")
    expect(first.by("empty-basket")).to_have_text("Empty into lane")
    expect(first.by("queue-title")).to_have_text("Nothing pending.")
    first.shot("basket-english")
    assert first.page.evaluate("document.documentElement.lang") == "en"
    keys = first.page.evaluate("async () => (await import('/pda/i18n.js')).keys()")
    assert keys["fr"] == keys["en"]
    # one hand: every visible button at least 48 px high, nothing wider than the phone
    small = first.page.evaluate("""() => [...document.querySelectorAll('button')]
        .filter((b) => b.offsetParent !== null && b.getBoundingClientRect().height < 48)
        .map((b) => b.dataset.testid || b.textContent)""")
    assert small == [], small
    assert first.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
