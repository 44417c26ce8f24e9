"""Receipts end to end: a TCP listener stands in for a network receipt printer."""

from __future__ import annotations

import time

import trio

from tests.e2e.configured import DEMO_CATALOG, FakePrinter, configured_shop
from tests.e2e.configured import lane, network_printer, stock_point, table, toml
from tests.support import connect

GALETS = "3760245001015"
SHOP = "Épicerie du Port"
LEA = ("lea", "2468", "cashier")


def _config(port: int) -> str:
    return toml(table("shop", name=SHOP), stock_point("main"), lane("1", printer="p1"), lane("2"),
                network_printer(port))


async def _sale(till, amount: str = "10.00") -> dict:
    await till.ok("scan", code=GALETS)
    await till.ok("pay", mode="cash", amount=amount)
    started = time.monotonic()
    done = await till.ok("finish")            # receipt: ticket is the default
    assert time.monotonic() - started < 2.0   # a printer never delays the sale
    return done


async def test_receipt_reaches_the_network_printer_and_waits_while_it_is_down(tmp_path):
    printer = FakePrinter()
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        serve_scope = trio.CancelScope()

        async def serve(listeners, scope):
            with scope:
                await trio.serve_listeners(printer.handle, listeners)

        nursery.start_soon(serve, listeners, serve_scope)
        with configured_shop(tmp_path, _config(port), DEMO_CATALOG, sellers=[LEA]) as server:
            token = server.pair("till", "1")
            with trio.fail_after(30):
                async with connect(server.ws_url, token, seller=("lea", "2468")) as till:
                    first = await _sale(till)
                    await printer.wait_for(1)
                    job = printer.jobs[0]
                    assert SHOP.encode("cp858") in job
                    assert b"8,90" in job                       # the line and the total
                    assert f"{first['number']:06d}".encode() in job  # the ticket number as a barcode
                    assert b"\x1dV" in job                       # the cut

                    # The printer goes down: the sale still finishes at once.
                    serve_scope.cancel()
                    for listener in listeners:
                        await listener.aclose()
                    second = await _sale(till, "20.00")
                    assert second["number"] == first["number"] + 1
                    offline = await till.wait_event(lambda e: e["type"] == "printer" and not e["online"])
                    assert offline["pending"] >= 1 and offline["lane"] == "1"

                    # It comes back on the same port: the waiting receipt prints.
                    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
                    nursery.start_soon(serve, listeners, trio.CancelScope())
                    await printer.wait_for(2)
                    assert f"{second['number']:06d}".encode() in printer.jobs[1]
                    await till.wait_event(lambda e: e["type"] == "printer" and e["online"] and e["pending"] == 0)
                    # receipt "none" prints nothing
                    await till.ok("scan", code=GALETS)
                    await till.ok("pay", mode="card")
                    await till.ok("finish", receipt="none")
                    await trio.sleep(0.5)
                    assert len(printer.jobs) == 2
        nursery.cancel_scope.cancel()
