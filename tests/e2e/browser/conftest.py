"""Browser tests of the web till (and the PDA): Playwright's sync API driving the
system's Chromium (Debian's ``chromium``; never ``playwright install``) against a
real server process.

One browser per module (``browser``); each test gets its own server and pages.
Screenshots go to ``test-artifacts/screenshots/web_till/`` (git-ignored).

The tests are plain ``def`` functions: pytest-trio's trio mode leaves them alone,
and Playwright's sync API runs its own loop.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import socketserver
import threading
import time
import urllib.request
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api")
sync_playwright, expect = sync_api.sync_playwright, sync_api.expect

from tests.e2e.configured import configured_server  # noqa: E402
from tests.escpos_peer import StatusAnswers, strip_status_requests  # noqa: E402
from tests.support import REPO, LiveServer  # noqa: E402

CATALOG = REPO / "laneserver" / "demo" / "catalog.csv"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots" / "web_till"
SELLER, PIN = "marie", "1234"  # the demo shop's seller
WAIT = 10_000  # ms
SMALL, LARGE = (1024, 768), (1920, 1080)
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None, reason="needs the system's chromium")


@pytest.fixture(scope="module")
def browser():
    if shutil.which("chromium") is None:
        pytest.skip("needs the system's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --- the demo catalog ------------------------------------------------------------------


def catalog_rows() -> list[dict[str, str]]:
    with open(CATALOG, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def plain_articles(below: Decimal = Decimal("50")) -> list[dict[str, str]]:
    """Active articles sold by their own barcode: one unit (no pack, no weight), no
    deposit line, a price in (0, below), a barcode no other article shares. Each is
    the CSV row plus ``barcode``."""
    rows = catalog_rows()

    def codes(row: dict[str, str]) -> list[str]:
        return [part.strip() for part in (row.get("barcodes") or "").split("|") if part.strip()]

    shared = Counter(code.split("*")[0] for row in rows for code in codes(row))
    found = []
    for row in rows:
        if (row.get("status") or "active").strip() != "active" or not codes(row):
            continue
        first = codes(row)[0]
        if "*" in first or len(first) != 13 or shared[first] != 1:
            continue
        if (row.get("unit") or "").strip() or (row.get("deposit") or "").strip():
            continue
        if Decimal("0") < Decimal(row["price"]) < below:
            found.append({**row, "barcode": first})
    assert len(found) >= 4, f"not enough plain articles in {CATALOG}"
    return found


def euros(amount: Decimal | str | int) -> re.Pattern[str]:
    """ "8,90 €" as Intl.NumberFormat("fr-FR") writes it (a no-break space before €)."""
    units, cents = f"{Decimal(amount):.2f}".split(".")
    if len(units) > 3:
        units = units[:-3] + r"[\s\u00a0\u202f]?" + units[-3:]
    return re.compile(rf"^{units},{cents}[\s\u00a0\u202f]*€$")


def euros_in(amount: Decimal | str | int) -> re.Pattern[str]:
    """The same, anywhere in a text."""
    return re.compile(euros(amount).pattern.strip("^$"))


# --- the server ------------------------------------------------------------------------


def sales(server: LiveServer) -> int:
    """The number of sales in the books (/healthz)."""
    with urllib.request.urlopen(server.url + "/healthz", timeout=5) as response:
        return json.loads(response.read())["sales"]


class FakePrinter:
    """A network receipt printer: a TCP listener in a thread; one job per connection.
    ``unplug()`` closes the listener, ``plug()`` listens again on the same port.
    Silent to DLE EOT status requests unless given ``replies`` (tests/escpos_peer.py),
    which a test may change at any time."""

    def __init__(self, replies: dict[int, int] | None = None) -> None:
        self.jobs: list[bytes] = []
        self.replies = replies
        self._changed = threading.Condition()
        printer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                chunks = []
                answers = StatusAnswers(printer.replies) if printer.replies is not None else None
                while True:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    if answers is not None and (reply := answers.feed(chunk)):
                        self.request.sendall(reply)
                job = strip_status_requests(b"".join(chunks))
                if not job:
                    return  # DLE EOT status requests only (a poll it does not answer): no job
                with printer._changed:
                    printer.jobs.append(job)
                    printer._changed.notify_all()

        self._handler = Handler
        self.port = 0
        self.server: socketserver.ThreadingTCPServer | None = None

    def plug(self) -> None:
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), self._handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def unplug(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> "FakePrinter":
        self.plug()
        return self

    def __exit__(self, *exc) -> None:
        self.unplug()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.jobs) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the printer got {len(self.jobs)} job(s), expected {count}")
                self._changed.wait(left)
            return list(self.jobs)


SHOP_TOML = """
[shop]
name = "{shop}"
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
printer = "p1"

[[lanes]]
id = "2"
stock_point = "main"

[[printers]]
id = "p1"
kind = "network"
address = "127.0.0.1:{port}"
retry_seconds = 0.2

[[keyboard]]
name = "Vins"
keys = [{{ article = "A001", label = "Galets" }}, {{ article = "A002" }}]

[[keyboard]]
name = "Boulangerie"
keys = [{{ article = "{bread}" }}]
"""


def printer_shop(tmp_path: Path, printer_port: int, shop: str = "Épicerie du Port") -> LiveServer:
    """A configured shop (not the demo), started: lane 1 prints on a network printer,
    two stock points, a custom keyboard of two pages, the demo catalog, seller marie."""
    bread = next(row["id"] for row in catalog_rows() if row["department"] == "Boulangerie" and row["status"] == "active")
    return configured_server(tmp_path, SHOP_TOML.format(shop=shop, port=printer_port, bread=bread), CATALOG,
                             sellers=[(SELLER, PIN, "cashier")]).start()


@pytest.fixture
def printer_server(tmp_path):
    """(server, printer): ``printer_shop`` with its printer listening. Ask for it
    before ``tills`` so the pages close before the server stops (a SIGTERM waits
    for open websockets up to the shutdown grace)."""
    with FakePrinter() as printer:
        server = printer_shop(tmp_path, printer.port)
        try:
            yield server, printer
        finally:
            server.stop()


# --- pages --------------------------------------------------------------------------------


class Till:
    """One till page, driven as a cashier drives it."""

    def __init__(self, browser, server: LiveServer, lane: str, size=SMALL, errors: list[str] | None = None) -> None:
        self.server = server
        self.lane = lane
        self.errors = errors if errors is not None else []
        self.context = browser.new_context(viewport={"width": size[0], "height": size[1]})
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT)
        self.page.on("pageerror", lambda error: self.errors.append(f"{self.page.url}: {error}"))
        self.token = server.pair("till", lane)

    def close(self) -> None:
        self.context.close()

    def by(self, testid: str):
        return self.page.get_by_test_id(testid)

    def open(self) -> "Till":
        self.page.goto(f"{self.server.url}/till/#token={self.token}")
        expect(self.by("lane")).to_have_text(f"Caisse {self.lane}")
        return self

    def sign_in(self, seller: str = SELLER, pin: str = PIN) -> "Till":
        """Seller name typed, PIN on the on-screen pad."""
        expect(self.by("sign-in-screen")).to_be_visible()
        self.by("seller-input").fill(seller)
        for digit in pin:
            self.page.locator(f'[data-testid="pin-pad"] [data-digit="{digit}"]').click()
        self.by("sign-in-button").click()
        return self

    def signed_in(self, seller: str = SELLER) -> "Till":
        expect(self.by("seller")).to_contain_text(seller)
        expect(self.by("code-input")).to_be_focused()
        return self

    def start(self) -> "Till":
        return self.open().sign_in().signed_in()

    def wedge(self, text: str) -> None:
        """What a keyboard-wedge scanner does: types the characters, then Enter,
        wherever the focus is."""
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")

    def scan(self, code: str, lines: int | None = None) -> None:
        self.wedge(code)
        if lines is not None:
            expect(self.by("ticket-line")).to_have_count(lines)

    def lines(self):
        return self.by("ticket-line")

    def line_names(self) -> list[str]:
        return self.by("line-name").all_inner_texts()

    def expect_total(self, amount) -> None:
        expect(self.by("total")).to_have_text(euros(amount))

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = self.page.viewport_size
        path = SCREENSHOTS / f"{name}-{size['width']}x{size['height']}.png"
        self.page.screenshot(path=str(path))
        return path

    def expect_no_error(self) -> None:
        expect(self.by("error")).to_be_hidden()

    def expect_inside(self, testid: str) -> None:
        """The element is wholly inside the window."""
        size = self.page.viewport_size
        width, height = size["width"], size["height"]
        box = self.by(testid).bounding_box()
        assert box is not None, testid
        assert box["x"] >= 0 and box["y"] >= 0, ((width, height), testid, box)
        assert box["x"] + box["width"] <= width + 0.5 and box["y"] + box["height"] <= height + 0.5, (
            (width, height), testid, box)

    def expect_no_scrollbars(self) -> None:
        """The page itself does not scroll either way."""
        overflow = self.page.evaluate(
            "[document.documentElement.scrollWidth - innerWidth, document.documentElement.scrollHeight - innerHeight]")
        size = self.page.viewport_size
        assert overflow[0] <= 0 and overflow[1] <= 0, ((size["width"], size["height"]), overflow)


@pytest.fixture
def tills(browser):
    """Make till pages; closes them and checks no script error happened."""
    made: list[Till] = []
    errors: list[str] = []

    def make(server: LiveServer, lane: str = "1", size=SMALL) -> Till:
        till = Till(browser, server, lane, size, errors)
        made.append(till)
        return till

    yield make
    for till in made:
        till.close()
    assert not errors, errors
