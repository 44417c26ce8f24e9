"""Every cash movement of a lane reaches its drawer, end to end: a real server, real
websockets, a TCP listener standing in for lane 1's network printer (its drawer kicks
arrive there as ESC p jobs).

Cash taken at finish, a debt paid later in cash (on the lane that takes it), a card
payment corrected to cash (in the drawer of the sale's lane, whichever till corrects
it), a cancel giving cash back, a cash refund on a return, and the cash customers bring
in outside sales (a wallet top-up and its cancel, a credit deposit, a voucher sold):
the drawer's expected cash counts each once, the cash taken in outside sales kicks the
drawer and raises the alert, and the period rebuilt after ``kill -9`` (before and after
a closing count) is the one the server had in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from laneserver.hw.receipt import render_drawer_kick
from tests.e2e.configured import CASHIER, PAUL, SOPHIE_PIN, SUPERVISOR, FakePrinter
from tests.e2e.configured import configured_shop, printer_listening, verify
from tests.e2e.configured import lane, network_printer, stock_point, table, toml
from tests.support import LiveServer, WsClient, connect

CATALOG = """id,name,price,vat_rate,barcodes
T30,Article à 30,30.00,20,3000000000304
T10,Article à 10,10.00,20,3000000000106
"""
A30, A10 = "3000000000304", "3000000000106"
KICK = render_drawer_kick()


def _shop(tmp_path, port: int):
    config = toml(table("shop", name="Tiroir", deferred_payment=True, drawer_alert="100.00"), stock_point("main"),
                  lane("1", printer="p1", drawer="printer"), lane("2"), network_printer(port))
    return configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR], tills=("1", "2"))


async def _sell(till, code: str, *payments: dict, **finish) -> int:
    await till.ok("scan", code=code)
    for payment in payments:
        await till.ok("pay", **payment)
    return (await till.ok("finish", receipt="none", **finish))["number"]


@asynccontextmanager
async def _tills(server: LiveServer, seconds: float) -> AsyncIterator[tuple[WsClient, WsClient]]:
    """The tills of lanes 1 and 2, paul signed in on both, for at most ``seconds``."""
    with trio.fail_after(seconds):
        async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as one, \
                connect(server.ws_url, server.tokens["2"], seller=PAUL) as two:
            yield one, two


async def _card_sale_corrected_to_cash(selling, correcting, reason: str) -> None:
    """A10 sold by card on ``selling``, its payment corrected to cash from ``correcting``."""
    carded = await _sell(selling, A10, {"mode": "card"})
    [row] = (await correcting.ok("sale", sale=carded))["sale"]["payments"]
    await correcting.ok("payment_correct", sale=carded, payment=row["payment"], mode="cash", reason=reason,
                        supervisor_pin=SOPHIE_PIN)


async def _kicked(printer: FakePrinter, before: int) -> None:
    """A kick reaches the printer after the ``before`` jobs it had."""
    while KICK not in printer.jobs[before:]:
        await printer.arrived.wait()


async def _expected(till) -> tuple[str, str, str]:
    drawer = (await till.ok("drawer"))["drawer"]
    return drawer["cash_sales"], drawer["cash_in"], drawer["expected"]


async def test_every_cash_movement_of_a_lane_is_in_its_drawer(tmp_path):
    async with printer_listening() as (printer, port):
        with _shop(tmp_path, port) as server:
            async with _tills(server, 90) as (one, two):
                await one.ok("drawer_movement", kind="float", amount="50.00", reason="ouverture")
                # Cash at finish: 50.00 given for 30.00, 20.00 back.
                await _sell(one, A30, {"mode": "cash", "amount": "50.00"})
                assert await _expected(one) == ("30.00", "0.00", "80.00")

                # A debt paid later: 4.00 in cash at lane 2, the rest at lane 1.
                customer = (await one.ok("customer_create", name="Jeanne", wallet=True))["customer"]
                await one.ok("set_customer", customer=customer)
                owed = await _sell(one, A10, unpaid=True)
                await two.ok("pay_later", sale=owed, mode="cash", amount="4.00")
                jobs = len(printer.jobs)
                await one.ok("pay_later", sale=owed, mode="cash")
                await _kicked(printer, jobs)  # cash taken in at lane 1: its drawer opens
                assert await _expected(one) == ("36.00", "0.00", "86.00")
                assert await _expected(two) == ("4.00", "0.00", "4.00")

                # A card payment that was cash, put right from lane 2: lane 1's drawer has it.
                await _card_sale_corrected_to_cash(one, two, reason="c'était des espèces")
                assert await _expected(one) == ("46.00", "0.00", "96.00")
                assert await _expected(two) == ("4.00", "0.00", "4.00")

                # A cash sale cancelled at lane 1: its 30.00 goes back out.
                cancelled = await _sell(one, A30, {"mode": "cash"})
                await one.ok("sale_cancel", sale=cancelled, reason="erreur", supervisor_pin=SOPHIE_PIN)
                # A return refunded in cash.
                await one.ok("scan", code=A10, qty=-1)
                await one.ok("pay", mode="cash", supervisor_pin=SOPHIE_PIN)
                await one.ok("finish", receipt="none")
                assert await _expected(one) == ("36.00", "0.00", "86.00")

                # Cash customers bring in: a top-up (above the alert), a deposit, a
                # voucher sold, the top-up cancelled; a card deposit is not the drawer's.
                await one.wait_event(lambda e: e.get("expected") == "126.00")  # the cancelled sale's cash
                one.events.clear()  # back under the threshold since: the next crossing alerts again
                jobs = len(printer.jobs)
                topup = (await one.ok("wallet_topup", customer=customer, amount="20.00", mode="cash"))["topup"]
                alert = await one.wait_event(lambda e: e["type"] == "drawer_alert")
                assert alert == {"type": "drawer_alert", "lane": "1", "expected": "106.00",
                                 "threshold": "100.00"}
                await _kicked(printer, jobs)
                await one.ok("credit_deposit", customer=customer, amount="15.00", mode="cash")
                await one.ok("credit_deposit", customer=customer, amount="99.00", mode="card")
                await one.ok("voucher_issue", amount="25.00", mode="cash")
                await one.ok("wallet_topup_cancel", topup=topup)
                assert await _expected(one) == ("36.00", "40.00", "126.00")
                assert await _expected(two) == ("4.00", "0.00", "4.00")

            server.kill()  # kill -9: the period is rebuilt from the database
            server.restart()
            async with _tills(server, 60) as (one, two):
                assert await _expected(one) == ("36.00", "40.00", "126.00")
                assert await _expected(two) == ("4.00", "0.00", "4.00")
                counted = await one.ok("drawer_count", count={"100.00": 1, "20.00": 1, "5.00": 1, "1.00": 1})
                assert (counted["expected"], counted["difference"]) == ("126.00", "0.00")
                # After the count, a correction of an older sale lands in the new period.
                await _card_sale_corrected_to_cash(two, one, reason="espèces")
                assert await _expected(one) == ("0.00", "0.00", "0.00")
                assert await _expected(two) == ("14.00", "0.00", "14.00")

            server.kill()
            server.restart()
            async with _tills(server, 60) as (one, two):
                assert await _expected(one) == ("0.00", "0.00", "0.00")
                assert await _expected(two) == ("14.00", "0.00", "14.00")
            verify(server)
