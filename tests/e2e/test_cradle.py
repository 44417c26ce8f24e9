"""A batch scanner's cradle end to end: a configured shop whose cradle ``c1`` empties into
lane 1, its serial port one end of a socat pty pair whose far end is a scanner in its
cradle (tests/cradle_peer.py); a real server process, killed (kill -9) after it
journaled the upload and before the scanner was cleared; a websocket till."""

from __future__ import annotations

import os
import shutil
import urllib.request

import pytest
import trio

from tests.actors.test_printer import pty_pair
from tests.cradle_peer import SERIAL, ScannerInCradle, in_cradle
from tests.e2e.configured import (
    CASHIER,
    DEMO_CATALOG,
    PAUL,
    configured_shop,
    entry,
    lane,
    rows,
    stock_point,
    terminal,
    toml,
)
from tests.support import connect

GALETS = "3760245001015"  # A001, 8.90
LAMOTHE = "3451203000279"  # A002, 12.50

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed: it provides the ptys")


def lines_of(ticket: dict) -> list[tuple[str, str]]:
    return [(line["article"], line["qty"]) for line in ticket["lines"]]


async def test_a_cradle_upload_is_one_basket_in_the_lane_even_when_the_server_is_killed_before_the_clear(tmp_path):
    scanner = ScannerInCradle([GALETS, LAMOTHE, GALETS])
    scanner.present = False  # not in the cradle yet
    scanner.lose_clear = True  # the first server never gets its clear through
    async with pty_pair() as (port, far), in_cradle(far, scanner):
        # Held open here too (never read): a killed server's port is not hung up, so
        # socat (the cable) outlives it, as a USB-serial adapter outlives a process.
        held = os.open(port, os.O_RDWR | os.O_NOCTTY)
        config = toml(stock_point("main"), lane("1", terminal="t1"), lane("2"), terminal("t1"),
                      entry("cradles", id="c1", kind="serial", address=port, lane="1", poll_seconds=0.3,
                            parity="none"))  # a pty takes no parity (see tests/actors/test_cradle.py)
        with configured_shop(tmp_path, config, DEMO_CATALOG, sellers=[CASHIER], tills=["1"]) as server:
            with trio.fail_after(60):
                async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as till:
                    scanner.present = True  # put in the cradle while paul is signed in on lane 1
                    banner = await till.wait_event(lambda e: e["type"] == "basket")
                    event = await till.wait_event(lambda e: e["type"] == "ticket" and e["ticket"]["lines"])
                    assert banner["device"] == "cradle:c1" and banner["lines"] == 2
                    assert lines_of(event["ticket"]) == [("A001", "2"), ("A002", "1")]
                    await scanner.wait_for(lambda s: 0x02 in s.commands)  # the clear was sent (and lost)
                    assert scanner.records and scanner.cleared == 0
                await trio.to_thread.run_sync(server.kill)
                # Restarted: the scanner still holds the codes; read again, nothing new is
                # journaled, the scanner is cleared, and the lane's ticket is as it was.
                scanner.lose_clear = False
                await trio.to_thread.run_sync(server.restart)
                await scanner.wait_for(lambda s: s.cleared == 1)
                async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as till:
                    await trio.sleep(1.0)  # polled again meanwhile
                    ticket = (await till.ok("ticket"))["ticket"]
                    assert lines_of(ticket) == [("A001", "2"), ("A002", "1")]
                    while rows(server, "SELECT state FROM cradle_uploads") != [("done",)]:
                        await trio.sleep(0.1)
                    listed = await trio.to_thread.run_sync(server.cli, "device", "list", "--port", str(server.port))
                    metrics = await trio.to_thread.run_sync(_metrics, server.url)
        os.close(held)
    assert rows(server, "SELECT count(*), count(DISTINCT upload) FROM cradle_records") == [(3, 1)]
    assert rows(server, "SELECT device FROM cradle_uploads") == [(str(SERIAL),)]
    found = {row.split()[0]: row.split() for row in listed.stdout.splitlines() if row}
    assert found["c1"][1:5] == ["cradle", "1", port, "up"]
    assert "scanner in it" in listed.stdout
    assert found["t1"][1:] == ["terminal", "1", "simulator", "up", "0", "charges"]  # the card terminal, live
    assert 'laneserver_device_up{kind="cradle",device="c1",lane="1"} 1' in metrics
    assert 'laneserver_device_up{kind="terminal",device="t1",lane="1"} 1' in metrics
    assert 'laneserver_cradle_baskets_waiting{kind="cradle",device="c1",lane="1"} 0' in metrics


def _metrics(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return response.read().decode()
