"""The web till measured from the browser's side (Chromium driven by Playwright).

    python -m bench.till_page            # 10 cold loads, 10 reloads, 200 scans, 200 round trips
    python -m bench.till_page --quick    # 2 loads, 20 scans, 20 round trips (what the tests run)
    python bench/till_page.py --scans 500 --json figures.json

One run, one demo-shop server process on 127.0.0.1 (a temporary data folder), one
headless Chromium (the system's ``chromium``; never ``playwright install``):

  page load             navigation start → the till is ready to scan (sell screen
                        shown, ticket synced, code field focused): the page's own
                        ``window.__till_ready`` (performance.now() at that moment).
                        A new page is never signed in by its token alone, so this
                        includes the sign-in (Playwright types the seller and PIN;
                        the server checks the PIN's scrypt hash).
                        Cold = a new browser context each time (empty cache);
                        reload = the same page reloaded.
  scan → line rendered  a keyboard-wedge scan typed by Playwright (digits, Enter);
                        the page records, per scan, the time from Enter to the next
                        animation frame after the line was in the DOM
                        (``window.__till_metrics``, always on). The page's first 3
                        scans warm up and are not counted (each client also warms up
                        with one scan); the ticket is cancelled every 50 scans,
                        outside the timings.
  baselines, same run   raw websocket round trips, measured in blocks between the
                        page's blocks of 10 scans: a ``scan`` (with a key: the same
                        server work as the page's scans, durable commit included)
                        and a ``ticket`` (transport and dispatch only), each from a
                        bare WebSocket in the same browser (no page code) and from
                        a Python trio-websocket client.

Targets (issue #3): page load ≤ 1 s, scan → line rendered p95 ≤ 50 ms. A MISS is
printed, not raised: ``--strict`` exits 1 on a MISS.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: python bench/till_page.py
    sys.path.insert(0, str(REPO))

from tests.support import DEMO_SELLER, LiveServer, connect  # noqa: E402

CATALOG = REPO / "laneserver" / "demo" / "catalog.csv"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1024, "height": 768}
TICKET_LINES = 50          # the page's ticket is cancelled every 50 scans (outside the timings)
BLOCK = 10                 # page scans between two blocks of the Python client's round trips
WARMUP = 3                 # scans of the page before the measured ones (the first ones are slower)
LOAD_TARGET_MS = 1000.0
SCAN_P95_TARGET_MS = 50.0
WAIT_MS = 15_000


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest rank (the same definition as bench/stats.py): the smallest sample with
    at least p % of the samples at or below it."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1]


@dataclass
class Figure:
    name: str
    samples: list[float]          # ms
    target: str = ""              # "p95 ≤ 50 ms", "≤ 1000 ms" (on p95), or "" for a baseline
    limit: float | None = None    # the p95 must be at or below it

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    @property
    def verdict(self) -> str:
        if self.limit is None:
            return ""
        if not self.samples:
            return "MISS"
        return "PASS" if self.p95 <= self.limit else "MISS"


def plain_barcodes(count: int = 6) -> list[str]:
    """Barcodes of active demo articles that name one unit of one article."""
    with open(CATALOG, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    split = [[c.strip() for c in (r.get("barcodes") or "").split("|") if c.strip()] for r in rows]
    shared = Counter(code.split("*")[0] for codes in split for code in codes)
    out = []
    for row, codes in zip(rows, split):
        if (row.get("status") or "active") != "active" or not codes:
            continue
        code = codes[0]
        if "*" in code or shared[code] != 1 or (row.get("unit") or "").strip() or (row.get("deposit") or "").strip():
            continue
        out.append(code)
    return out[:count]


# --- baselines from Python ---------------------------------------------------------------


class PythonClient:
    """A trio-websocket client in its own thread, with its connection kept open, that
    the browser part asks for blocks of round trips between its own blocks of scans:
    the baseline is measured in the same minutes as the page (the server's durable
    commits vary with the disk over time)."""

    def __init__(self, ws_url: str, token: str, codes: list[str]) -> None:
        import queue

        self.ws_url, self.token, self.codes = ws_url, token, codes
        self.asks: queue.Queue = queue.Queue()
        self.answers: queue.Queue = queue.Queue()
        self.tickets: list[float] = []
        self.scans: list[float] = []
        self.lines = 0
        self.thread = threading.Thread(target=self._run, name="bench-python-client", daemon=True)

    def __enter__(self) -> "PythonClient":
        self.thread.start()
        self._wait()
        return self

    def __exit__(self, *exc) -> None:
        self.asks.put(None)
        self.thread.join(30)

    def round_trips(self, verb: str, count: int) -> None:
        self.asks.put((verb, count))
        self._wait()

    def _wait(self) -> None:
        answer = self.answers.get(timeout=120)
        if isinstance(answer, BaseException):
            raise answer

    def _run(self) -> None:
        import trio

        async def serve() -> None:
            async with connect(self.ws_url, self.token, seller=DEMO_SELLER) as client:
                # warm-up, not measured
                await client.ok("ticket")
                await client.ok("scan", code=self.codes[0], key=str(uuid.uuid4()))
                await client.ok("cancel_ticket", key=str(uuid.uuid4()))
                self.answers.put("ready")
                while True:
                    ask = await trio.to_thread.run_sync(self.asks.get)
                    if ask is None:
                        if self.lines:
                            await client.ok("cancel_ticket", key=str(uuid.uuid4()))
                        return
                    verb, count = ask
                    for _ in range(count):
                        if verb == "scan":
                            code = self.codes[len(self.scans) % len(self.codes)]
                            started = time.perf_counter()
                            reply = await client.ok("scan", code=code, key=str(uuid.uuid4()))
                            self.scans.append((time.perf_counter() - started) * 1000)
                            self.lines = len(reply["ticket"]["lines"])
                            if self.lines >= TICKET_LINES:
                                await client.ok("cancel_ticket", key=str(uuid.uuid4()))
                                self.lines = 0
                        else:
                            started = time.perf_counter()
                            await client.ok("ticket")
                            self.tickets.append((time.perf_counter() - started) * 1000)
                    self.answers.put("done")

        try:
            trio.run(serve)
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            self.answers.put(error)


# --- the browser -------------------------------------------------------------------------

READY = "() => window.__till_ready !== undefined"

RAW_CLIENT = """() => {
    // A bare WebSocket client of the protocol in a page of the same origin: the
    // browser's own transport, with none of the till's code.
    let ws = null, waiting = null, n = 0;
    const call = (frame) => new Promise((resolve) => {
        frame.id = "raw" + (++n);
        waiting = {id: frame.id, resolve};
        ws.send(JSON.stringify(frame));
    });
    window.__raw = {
        async open(url, token, seller, pin, warmUpCode) {
            ws = new WebSocket(url);
            await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
            ws.onmessage = (message) => {
                const frame = JSON.parse(message.data);
                if (waiting && frame.re === waiting.id) { const w = waiting; waiting = null; w.resolve(frame); }
            };
            const hello = await call({type: "hello", token});
            if (hello.type !== "ok") throw new Error("hello refused: " + hello.message);
            if (hello.seller !== seller) await call({type: "sign_in", seller, pin});
            await call({type: "ticket"});  // warm-up, not measured
            await call({type: "scan", code: warmUpCode, key: crypto.randomUUID()});
            await call({type: "cancel_ticket", key: crypto.randomUUID()});
        },
        async trips(type, count, codes, maxLines) {
            const out = [];
            for (let i = 0; i < count; i++) {
                const frame = type === "scan"
                    ? {type, code: codes[(n + i) % codes.length], key: crypto.randomUUID()}
                    : {type};
                const started = performance.now();
                const reply = await call(frame);
                out.push(performance.now() - started);
                if (reply.type !== "ok") throw new Error(type + " refused: " + reply.message);
                if (reply.ticket && reply.ticket.lines.length >= maxLines) {
                    await call({type: "cancel_ticket", key: crypto.randomUUID()});
                }
            }
            return out;
        },
    };
}"""


def browser_figures(server: LiveServer, till_token: str, raw_token: str, python: PythonClient, *, loads: int,
                    scans: int, round_trips: int, codes: list[str]) -> tuple[dict[str, list[float]], str]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("bench: the system's chromium is needed (Debian: apt-get install chromium)")
    url = f"{server.url}/till/#token={till_token}"
    out: dict[str, list[float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            version = browser.version
            def signed_in(page) -> None:
                # A token alone is never signed in (a new page asks the PIN), so a
                # load is timed to the sell screen through the sign-in.
                page.get_by_test_id("seller-input").fill(DEMO_SELLER[0])
                page.get_by_test_id("pin-input").fill(DEMO_SELLER[1])
                page.get_by_test_id("sign-in-button").click()
                page.wait_for_function(READY)

            # Once, not timed: the first load of the server's pages.
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            signed_in(page)
            context.close()

            cold = []
            for _ in range(loads):
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                page.set_default_timeout(WAIT_MS)
                page.goto(url)
                signed_in(page)
                cold.append(page.evaluate("window.__till_ready"))
                context.close()
            out["load_cold"] = cold

            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(url)
            signed_in(page)
            warm = []
            for _ in range(loads):
                page.reload()
                signed_in(page)
                warm.append(page.evaluate("window.__till_ready"))
            out["load_reload"] = warm

            # The baselines' bare browser client, in a page of its own.
            raw_context = browser.new_context()
            raw = raw_context.new_page()
            raw.set_default_timeout(WAIT_MS)
            raw.goto(f"{server.url}/healthz")  # any document of the server's origin
            raw.evaluate(RAW_CLIENT)
            raw.evaluate("([u, t, s, p, c]) => window.__raw.open(u, t, s, p, c)",
                         [server.ws_url, raw_token, *DEMO_SELLER, codes[0]])
            out["browser_ticket_rtt"], out["browser_scan_rtt"] = [], []

            def raw_trips(kind: str, count: int) -> None:
                if count > 0:
                    out[f"browser_{kind}_rtt"] += raw.evaluate(
                        "([k, c, codes, m]) => window.__raw.trips(k, c, codes, m)", [kind, count, codes, TICKET_LINES])

            # Scans, one at a time, as a wedge scanner types them; after every block
            # of BLOCK scans, the baselines do their blocks of round trips.
            page.get_by_test_id("code-input").wait_for(state="visible")
            page.wait_for_function("() => document.activeElement && document.activeElement.dataset.testid === 'code-input'")
            for i in range(WARMUP):  # not measured: the first scans of a page (and of a lane) are slower
                page.keyboard.type(codes[i % len(codes)])
                page.keyboard.press("Enter")
                page.wait_for_function(f"() => window.__till_metrics.length >= {i + 1}", polling=2)
            _cancel_ticket(page)
            page.evaluate("window.__till_metrics.length = 0")
            tickets_left = round_trips
            for i in range(scans):
                if i and i % TICKET_LINES == 0:
                    _cancel_ticket(page)
                page.keyboard.type(codes[i % len(codes)])
                page.keyboard.press("Enter")
                page.wait_for_function(f"() => window.__till_metrics.length >= {i + 1}", polling=2)
                if (i + 1) % BLOCK == 0 or i + 1 == scans:
                    block = (i % BLOCK) + 1
                    python.round_trips("scan", block)
                    raw_trips("scan", block)
                    share = min(tickets_left, math.ceil(round_trips * block / scans))
                    python.round_trips("ticket", share)
                    raw_trips("ticket", share)
                    tickets_left -= share
            python.round_trips("ticket", tickets_left)
            raw_trips("ticket", tickets_left)
            out["scan_render"] = [m["ms"] for m in page.evaluate("window.__till_metrics")][-scans:]
            metrics = page.evaluate("window.__till_metrics")[-scans:]
            out["scan_reply"] = [m["reply"] - m["sent"] for m in metrics]
            out["scan_script"] = [m["script"] for m in metrics]
            _cancel_ticket(page)
            context.close()
            raw_context.close()
        finally:
            browser.close()
    return out, version


def _cancel_ticket(page) -> None:
    if page.get_by_test_id("ticket-line").count() == 0:
        return
    page.get_by_test_id("cancel-ticket").click()
    page.get_by_test_id("confirm-yes").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=ticket-line]').length === 0")


# --- the table -----------------------------------------------------------------------------


def render(figures: list[Figure], title: str) -> str:
    def ms(value: float) -> str:
        if math.isnan(value):
            return "—"
        return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"

    head = ("figure", "n", "p50", "p95", "target", "result")
    rows = [(f.name, str(len(f.samples)), ms(f.p50), ms(f.p95), f.target, f.verdict) for f in figures]
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    align = ("<", ">", ">", ">", "<", "<")

    def line(cells) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, a, w in zip(cells, align, widths)).rstrip()

    rule = "-" * len(line(head))
    return "\n".join([title, rule, line(head), rule, *(line(r) for r in rows), rule])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.till_page", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts (2 loads, 20 scans, 20 round trips)")
    parser.add_argument("--loads", type=int, default=None, help="page loads of each kind (default 10; quick 2)")
    parser.add_argument("--scans", type=int, default=None, help="scans (default 200; quick 20)")
    parser.add_argument("--round-trips", type=int, default=None, help="round trips per baseline (default 200; quick 20)")
    parser.add_argument("--json", type=Path, default=None, help="also write the samples and figures to this file")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    loads = args.loads or (2 if args.quick else 10)
    scans = args.scans or (20 if args.quick else 200)
    round_trips = args.round_trips or (20 if args.quick else 200)
    codes = plain_barcodes()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="laneserver-till-bench-") as tmp:
        server = LiveServer(Path(tmp) / "data").start()
        try:
            till_token = server.pair("till", "1")
            raw_token = server.pair("till", "2")
            with PythonClient(server.ws_url, raw_token, codes) as python:
                samples, version = browser_figures(server, till_token, raw_token, python, loads=loads, scans=scans,
                                                   round_trips=round_trips, codes=codes)
            py_ticket, py_scan = python.tickets, python.scans
        finally:
            server.stop()

    figures = [
        Figure("page load, cold (new browser context)", samples["load_cold"], "p95 ≤ 1000 ms", LOAD_TARGET_MS),
        Figure("page load, reload", samples["load_reload"], "p95 ≤ 1000 ms", LOAD_TARGET_MS),
        Figure("scan → line rendered (page)", samples["scan_render"], "p95 ≤ 50 ms", SCAN_P95_TARGET_MS),
        Figure("  scan → reply handled (page)", samples["scan_reply"]),
        Figure("  page script drawing the ticket, per scan", samples["scan_script"]),
        Figure("baseline: ws `scan` round trip, bare browser socket", samples["browser_scan_rtt"]),
        Figure("baseline: ws `scan` round trip, Python client", py_scan),
        Figure("baseline: ws `ticket` round trip, bare browser socket", samples["browser_ticket_rtt"]),
        Figure("baseline: ws `ticket` round trip, Python client", py_ticket),
    ]
    title = (f"laneserver web till — browser side, one run: Chromium {version}, {os.cpu_count()} CPU, "
             f"{platform.system()} {platform.release()}, {scans} scans, {loads}+{loads} loads "
             f"({time.perf_counter() - started:.0f} s)")
    print(render(figures, title))
    missed = [f.name.strip() for f in figures if f.verdict == "MISS"]
    print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    if args.json is not None:
        args.json.write_text(json.dumps({
            "chromium": version, "scans": scans, "loads": loads, "round_trips": round_trips,
            "figures": [{**asdict(f), "p50": f.p50, "p95": f.p95, "verdict": f.verdict} for f in figures],
        }, indent=2), encoding="utf-8")
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
