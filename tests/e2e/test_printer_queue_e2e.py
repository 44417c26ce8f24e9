"""The durable print queue end to end: a real server, a real till over a websocket, and a
loopback TCP listener playing a network printer that answers DLE EOT (``FakePrinter``
with ``replies``).

* A printer that dies mid-job and is pulled for a while, then plugged back: every
  receipt prints exactly once, in order, and no sale waits for it. The pull lasts
  ``LANESERVER_PRINTER_PULL_SECONDS`` (2 by default; the issue's real minute is
  ``LANESERVER_PRINTER_PULL_SECONDS=60 pytest tests/e2e/test_printer_queue_e2e.py``).
* A kill -9 of the server with receipts queued: after the restart they print once, in
  order.

The server is started and restarted off the Trio thread (``to_thread``): the fake
printer must go on answering meanwhile, as a real one would.
"""

from __future__ import annotations

import os
import re
import time

import trio

from tests.e2e.configured import (
    DEMO_CATALOG,
    FakePrinter,
    PrinterPlug,
    configured_server,
    entry,
    lane,
    stock_point,
    table,
    toml,
)
from tests.escpos_peer import fine
from tests.support import connect

GALETS = "3760245001015"
LEA = ("lea", "2468", "cashier")
PULL_SECONDS = float(os.environ.get("LANESERVER_PRINTER_PULL_SECONDS", "2"))


def _config(port: int) -> str:
    return toml(table("shop", name="Épicerie du Port"), stock_point("main"), lane("1", printer="p1"),
                entry("printers", id="p1", kind="network", address=f"127.0.0.1:{port}", retry_seconds=0.2,
                      poll_seconds=0.3, reply_seconds=0.5))


async def _sale(till) -> int:
    await till.ok("scan", code=GALETS)
    await till.ok("pay", mode="cash", amount="10.00")
    started = time.monotonic()
    done = await till.ok("finish")
    assert time.monotonic() - started < 2.0, "the printer delayed the sale"
    return done["number"]


def _numbers(jobs: list[bytes]) -> list[int]:
    """The ticket number of each job (its CODE128 data: "{B" and six digits)."""
    numbers = []
    for job in jobs:
        found = re.findall(rb"\{B(\d{6})", job)
        assert len(found) == 1, job[-80:]
        numbers.append(int(found[0]))
    return numbers


async def test_printer_killed_mid_job_and_pulled_prints_every_receipt_once_in_order(tmp_path):
    printer = FakePrinter(replies=fine())
    async with trio.open_nursery() as nursery:
        plug = PrinterPlug(printer, nursery)
        port = await plug.plug()
        server = configured_server(tmp_path, _config(port), DEMO_CATALOG, sellers=[LEA])
        await trio.to_thread.run_sync(server.start)
        try:
            token = await trio.to_thread.run_sync(server.pair, "till", "1")
            with trio.fail_after(30 + PULL_SECONDS):
                async with connect(server.ws_url, token, seller=LEA[:2]) as till:
                    sold = [await _sale(till)]
                    await printer.wait_for(1)

                    printer.die_after = 200  # the next job loses power part way through
                    sold.append(await _sale(till))
                    await printer.died.wait()
                    plug.pull()  # and the printer is pulled
                    offline = await till.wait_event(lambda e: e["type"] == "printer" and e["status"] == "offline")
                    assert offline["pending"] >= 1
                    for _ in range(3):  # the shop sells on meanwhile
                        sold.append(await _sale(till))
                    await trio.sleep(PULL_SECONDS)

                    await plug.plug()  # back, on the same port
                    await printer.wait_for(len(sold))
                    await till.wait_event(lambda e: e["type"] == "printer" and e["status"] == "ok"
                                          and e["pending"] == 0)
                    await trio.sleep(1.0)  # a few more polls: nothing else prints
            assert printer.torn == 1
            assert _numbers(printer.jobs) == sold  # each once, in order
        finally:
            await trio.to_thread.run_sync(server.stop)
        nursery.cancel_scope.cancel()


async def test_kill_9_with_receipts_queued_prints_them_once_in_order_after_restart(tmp_path):
    printer = FakePrinter(replies=fine())
    async with trio.open_nursery() as nursery:
        plug = PrinterPlug(printer, nursery)
        port = await plug.plug()
        plug.pull()  # the printer is off from the start
        server = configured_server(tmp_path, _config(port), DEMO_CATALOG, sellers=[LEA])
        await trio.to_thread.run_sync(server.start)
        try:
            token = await trio.to_thread.run_sync(server.pair, "till", "1")
            with trio.fail_after(40):
                async with connect(server.ws_url, token, seller=LEA[:2]) as till:
                    sold = [await _sale(till) for _ in range(3)]
                    # Pending counts a job once it is journaled (it is queued after its write).
                    await till.wait_event(lambda e: e["type"] == "printer" and e["pending"] == 3)
                await trio.to_thread.run_sync(server.kill)
                await plug.plug()
                await trio.to_thread.run_sync(server.restart)
                await printer.wait_for(3)
                await trio.sleep(1.0)
            assert _numbers(printer.jobs) == sold
        finally:
            await trio.to_thread.run_sync(server.stop)
        nursery.cancel_scope.cancel()
