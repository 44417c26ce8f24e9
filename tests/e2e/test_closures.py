"""Closing the day, the month and the year end to end (``x_report``, ``close``,
``closures``): the shop served by ``run_shop`` on a loopback port with a real SQLite
file and real websocket clients, its wall clock a ``FixedClock`` the test moves (the
shop's zone Europe/Paris), lane 1 printing into a file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path

import msgspec
import trio

from laneserver.clock import FixedClock
from laneserver.config import Config, PrinterConfig, demo_config
from laneserver.server.run import run_shop
from laneserver.store import fiscal
from laneserver.store.admin import add_seller, pair_device
from laneserver.store.schema import DB_NAME
from laneserver.store.schema import connect as connect_db
from tests.e2e.configured import CASHIER, PAUL, SOPHIE_PIN, SUPERVISOR
from tests.support import connect, until

WINE = "3760245001015"  # A001, 8.90, VAT 20 %
START = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)  # 10:00 in Paris


def shop_config(data: Path) -> Config:
    demo = demo_config()
    lanes = (msgspec.structs.replace(demo.lanes[0], printer="p1"), demo.lanes[1])
    return msgspec.structs.replace(
        demo, shop=msgspec.structs.replace(demo.shop, timezone="Europe/Paris"), lanes=lanes,
        printers=(PrinterConfig(id="p1", kind="file", address=str(data / "receipts.bin")),))


def prepare(data: Path) -> dict[str, str]:
    """The database with a cashier and a supervisor, and a till paired on each lane."""
    db = connect_db(data / DB_NAME, create=True)
    try:
        for name, pin, role in (CASHIER, SUPERVISOR):
            add_seller(db, name, pin, role, START)
        return {lane: pair_device(db, "till", lane, START, ["1", "2"])[1] for lane in ("1", "2")}
    finally:
        db.close()


@asynccontextmanager
async def serving(data: Path, clock: FixedClock) -> AsyncIterator[str]:
    """The shop on ``data`` with ``clock``, ready, until the block ends: its ws URL."""
    stop, ready, urls = trio.Event(), trio.Event(), []

    def on_ready(shop, binds: list[str]) -> None:
        urls.append(binds[0].replace("http://", "ws://") + "/ws")
        ready.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(run_shop, shop_config(data), data, clock, host="127.0.0.1", port=0, stop=stop,
                                   on_ready=on_ready, handle_signals=False))
        await ready.wait()
        try:
            yield urls[0]
        finally:
            stop.set()


async def sell(till, amount: str = "10.00") -> dict:
    await till.ok("scan", code=WINE)
    await till.ok("pay", mode="cash", amount=amount)
    return await till.ok("finish")


def _printed(path: Path, text: bytes) -> bytes | None:
    data = path.read_bytes() if path.exists() else b""
    return data if text in data else None


def chain(data: Path, name: str) -> list[dict]:
    db = connect_db(data / DB_NAME)
    try:
        return [row.record for row in fiscal.records(db, name)]
    finally:
        db.close()


async def test_x_then_z_refused_while_a_ticket_is_open_then_closed_and_the_next_period(tmp_path):
    clock = FixedClock(START)
    tokens = await trio.to_thread.run_sync(prepare, tmp_path)
    with trio.fail_after(60):
        async with serving(tmp_path, clock) as url, connect(url, tokens["1"]) as manager, \
                connect(url, tokens["2"], seller=PAUL) as cashier:
            await sell(manager)
            x = (await manager.ok("x_report"))["report"]
            assert x["lane"] is None and x["since"] is None
            assert x["totals"]["tickets"] == 1 and x["totals"]["by_mode"] == {"cash": "8.90"}
            assert x["totals"]["by_vat"] == {"20": {"base": "7.42", "vat": "1.48", "total": "8.90"}}
            assert (x["gt"], x["gt_abs"]) == ("8.90", "8.90")
            own = (await cashier.ok("x_report"))["report"]
            assert own["lane"] == "2" and own["totals"]["tickets"] == 0
            assert (await cashier.call("x_report", lane="1"))["code"] == "forbidden"

            await cashier.ok("scan", code=WINE)  # a ticket in progress on lane 2
            refused = await manager.call("close", period="day")
            assert refused["code"] == "conflict"
            assert refused["lanes"] == [{"lane": "2", "lines": 1, "payments": 0, "held": []}]
            await cashier.ok("hold")
            held = await manager.call("close", period="day")
            assert held["code"] == "conflict" and held["lanes"][0]["held"]
            await cashier.ok("recall", held=held["lanes"][0]["held"][0])
            await cashier.ok("cancel_ticket")
            assert (await cashier.call("close", period="day"))["code"] == "supervisor_required"
            closed = (await cashier.ok("close", period="day", supervisor_pin=SOPHIE_PIN, key="z-1"))["closure"]
            assert (closed["kind"], closed["period"], closed["number"]) == ("day", "2026-01-15", 1)
            assert closed["totals"]["tickets"] == 1 and closed["gt"] == "8.90" and len(closed["hash"]) == 64
            again = (await cashier.ok("close", period="day", supervisor_pin=SOPHIE_PIN, key="z-1"))["closure"]
            assert again == closed  # the same key: the same Z, nothing applied twice
            assert (await manager.call("close", period="day"))["code"] == "conflict"  # already closed

            clock.advance(hours=2)
            await sell(manager, "20.00")  # after today's Z: the next period's
            x = (await manager.ok("x_report"))["report"]
            assert x["since"] == "2026-01-15" and x["totals"]["tickets"] == 1
            assert (x["gt"], x["gt_abs"]) == ("17.80", "17.80")
            month = await manager.call("close", period="month")
            assert month["code"] == "conflict" and "not over" in month["message"]

            clock.advance(days=1)
            nxt = (await manager.ok("close", period="day"))["closure"]
            assert nxt["period"] == "2026-01-16" and nxt["totals"]["tickets"] == 1 and nxt["gt"] == "17.80"
            clock.advance(days=16)  # 1 February
            jan = (await manager.ok("close", period="month", date="2026-01"))["closure"]
            assert jan["totals"]["tickets"] == 2 and jan["totals"]["net"] == "17.80" and jan["gt"] == "17.80"
            listed = (await manager.ok("closures"))["closures"]
            assert [(c["kind"], c["number"]) for c in listed] == [("month", 3), ("day", 2), ("day", 1)]
            assert [c["number"] for c in (await manager.ok("closures", kind="day", since=1))["closures"]] == [2]
            assert (await cashier.call("closures"))["code"] == "forbidden"
            assert (await manager.call("close", period="week"))["code"] == "bad_request"
            assert (await manager.call("close", period="day", date="2026-02-30"))["code"] == "bad_request"
            printed = await until(partial(_printed, tmp_path / "receipts.bin", b"Z MENSUEL"))
    assert b"Z JOURNALIER" in printed and b"RAPPORT X" in printed
    jet = chain(tmp_path, "jet")
    assert [(r["kind"], r["period"]) for r in jet if r["kind"] == "close"] == [
        ("close", "2026-01-15"), ("close", "2026-01-16"), ("close", "2026-01")]


async def test_earlier_days_are_closed_at_a_later_start(tmp_path):
    clock = FixedClock(START)
    tokens = await trio.to_thread.run_sync(prepare, tmp_path)
    with trio.fail_after(60):
        async with serving(tmp_path, clock) as url, connect(url, tokens["1"]) as till:
            await sell(till)
            clock.advance(days=1)
            await sell(till)
        clock.advance(days=2)  # started again on the 18th: the 15th and the 16th are closed by themselves
        async with serving(tmp_path, clock) as url, connect(url, tokens["1"]) as till:
            listed = (await till.ok("closures"))["closures"]
            assert [(c["period"], c["totals"]["tickets"], c["gt"]) for c in reversed(listed)] == [
                ("2026-01-15", 1, "8.90"), ("2026-01-16", 1, "17.80")]
            x = (await till.ok("x_report"))["report"]
            assert x["since"] == "2026-01-16" and x["totals"]["tickets"] == 0 and x["gt"] == "17.80"
    auto = [r for r in chain(tmp_path, "jet") if r["kind"] == "auto_close"]
    assert [(r["period"], r["closure"]) for r in auto] == [("2026-01-15", 1), ("2026-01-16", 2)]
    closures = chain(tmp_path, "closure")
    assert [Decimal(r["gt"]) for r in closures] == [Decimal("8.90"), Decimal("17.80")]
