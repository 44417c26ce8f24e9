"""A customer display and a scanner end to end: a configured shop whose lane 1 has a
serial scanner and a serial CD5220 display, each the far end of a socat pty pair; a
real server process and a websocket till.

The display's pty pair has stable names (socat ``link=``), so it can be pulled (socat
killed: the port vanishes) and brought back (socat started again on the same names),
as a USB-serial cable is.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from laneserver.hw.pole_display import opening, render
from laneserver.rules.customer_display import Screen
from tests.actors.test_printer import pty_pair
from tests.e2e.configured import CASHIER, DEMO_CATALOG, PAUL, configured_shop
from tests.e2e.configured import entry, lane, stock_point, table, toml
from tests.support import connect

GALETS = "3760245001015"  # Côtes du Rhône « Les Galets » 2022 75 cl, 8.90
SHOP = "Épicerie du Port"
CLOSED = render(Screen("  Épicerie du Port  ", "   Caisse fermée    "), "cd5220")
GREETING = render(Screen("  Épicerie du Port  ", "     Bienvenue      "), "cd5220")
ONE = render(Screen("Côtes du Rhône  8,90", "TOTAL           8,90"), "cd5220")
TWO = render(Screen("Côtes du Rhône  8,90", "TOTAL          17,80"), "cd5220")
THREE = render(Screen("Côtes du Rhône  8,90", "TOTAL          26,70"), "cd5220")

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed: it provides the ptys")


@asynccontextmanager
async def display_cable(port: Path) -> AsyncIterator[Far]:
    """A pty pair whose server end is ``port`` (a symlink, as udev would make) and whose
    far end the test reads, until the block ends or the test kills its socat (the cable pulled)."""
    far_link = port.with_name(port.name + "-far")
    process = await trio.lowlevel.open_process(
        ["socat", "pty,raw,echo=0,link=" + str(port), "pty,raw,echo=0,link=" + str(far_link)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (port.exists() and far_link.exists()):
            await trio.sleep(0.02)
        far = Far(trio.lowlevel.FdStream(os.open(far_link, os.O_RDONLY | os.O_NOCTTY)), process)
        async with far.stream:
            yield far
    finally:
        process.kill()
        with trio.CancelScope(shield=True):
            await process.wait()


class Far:
    def __init__(self, stream: trio.lowlevel.FdStream, process: trio.Process) -> None:
        self.stream = stream
        self.process = process
        self.received = b""

    async def wait_for(self, data: bytes) -> None:
        while data not in self.received:
            self.received += await self.stream.receive_some()


async def test_a_scanned_code_is_the_lanes_scan_and_the_display_follows_even_pulled_out(tmp_path):
    port = tmp_path / "display"
    async with pty_pair() as (scanner_end, scanner_far), display_cable(port) as far_display:
        config = toml(
            table("shop", name=SHOP), stock_point("main"),
            lane("1", display="d1", scanners=["s1"]), lane("2"),
            entry("displays", id="d1", kind="serial", protocol="cd5220", address=str(port)),
            entry("scanners", id="s1", kind="serial", address=scanner_end, suffix="\r"),
        )
        scanner = trio.lowlevel.FdStream(os.open(scanner_far, os.O_WRONLY | os.O_NOCTTY))
        async with scanner:
            with configured_shop(tmp_path, config, DEMO_CATALOG, sellers=[CASHIER]) as server:
                token = server.pair("till", "1")
                with trio.fail_after(60):
                    # Nobody signed in yet: the display says the lane is closed.
                    await far_display.wait_for(opening("cd5220") + CLOSED)
                    async with connect(server.ws_url, token, seller=PAUL) as till:
                        await far_display.wait_for(GREETING)
                        # A code read by the scanner: the till's ticket event, the display's line and total.
                        await scanner.send_all(GALETS[:6].encode())
                        await trio.sleep(0.3)  # cut across two reads
                        await scanner.send_all(GALETS[6:].encode() + b"\r")
                        event = await till.wait_event(lambda e: e["type"] == "ticket" and e["ticket"]["lines"])
                        assert event["ticket"]["lines"][0]["article"] == "A001"
                        assert event["ticket"]["seller"] == "paul" and event["ticket"]["total"] == "8.90"
                        await far_display.wait_for(ONE)

                        # The display is pulled out: the lane does not wait for it.
                        far_display.process.kill()
                        await far_display.process.wait()
                        started = time.monotonic()
                        second = await till.ok("scan", code=GALETS)
                        await scanner.send_all(GALETS.encode() + b"\r")
                        third = await till.wait_event(lambda e: e["type"] == "ticket" and len(e["ticket"]["lines"]) == 3)
                        assert second["ticket"]["total"] == "17.80" and third["ticket"]["total"] == "26.70"
                        assert time.monotonic() - started < 2.0

                        # Back: the current screen at once (after the opening bytes).
                        async with display_cable(port) as back:
                            await back.wait_for(opening("cd5220") + THREE)
                            listed = await trio.to_thread.run_sync(server.cli, "device", "list", "--port", str(server.port))
                            rows = {row.split()[0]: row.split() for row in listed.stdout.splitlines() if row}
                            assert rows["d1"][1:3] == ["display", "1"] and rows["d1"][4] == "up"
                            assert rows["s1"][1:5] == ["scanner", "1", scanner_end, "up"]
                            assert "2 codes, 0 refused, 0 dropped" in listed.stdout

                            # Signed out: the display says closed; a scanned code is refused to the till.
                            await till.ok("sign_out")
                            await back.wait_for(CLOSED)
                            await scanner.send_all(GALETS.encode() + b"\r")
                            refused = await till.wait_event(lambda e: e["type"] == "scan_refused")
                            assert refused == {"type": "scan_refused", "lane": "1", "scanner": "s1", "code": GALETS,
                                               "error": "not_signed_in", "message": refused["message"]}
                            assert len((await till.ok("ticket"))["ticket"]["lines"]) == 3
                        metrics = await trio.to_thread.run_sync(_metrics, server.url)
                        assert 'laneserver_device_up{kind="scanner",device="s1",lane="1"} 1' in metrics
                        assert 'laneserver_scanner_codes{kind="scanner",device="s1",lane="1"} 3' in metrics
                        assert 'laneserver_mailbox_depth{actor="display:d1"}' in metrics


def _metrics(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return response.read().decode()
