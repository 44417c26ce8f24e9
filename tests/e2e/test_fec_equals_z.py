"""The accounting export agrees with the Z: the FEC of a closed day adds up, by VAT rate
and by payment mode, to that day's Z (issue 13: "a FEC file whose entries balance and
whose totals equal the Z of the same days"). A real shop on a loopback port (a FixedClock
in Paris), real websocket tills, a real SQLite file; then the export read from it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import trio

from laneserver.clock import FixedClock, shop_zone
from laneserver.config import fec_accounts
from laneserver.rules.fec import unbalanced
from laneserver.store.fec import entries, open_read_only, totals
from laneserver.store.schema import DB_NAME
from tests.e2e.test_closures import START, WINE, prepare, serving, shop_config
from tests.support import connect

SALT = "3560981005120"  # A051, 4.20, VAT 5.5 %


async def test_the_fec_of_a_closed_day_adds_up_to_its_z(tmp_path):
    tokens = prepare(tmp_path)
    clock = FixedClock(START)
    with trio.fail_after(60):
        async with serving(tmp_path, clock) as url, connect(url, tokens["1"]) as till:
            # Two VAT rates, change given, card, a payment split across two modes.
            await till.ok("scan", code=WINE)
            await till.ok("scan", code=SALT)
            await till.ok("pay", mode="cash", amount="20.00")
            await till.ok("finish")
            await till.ok("scan", code=SALT)
            await till.ok("set_qty", line=1, qty="3")
            await till.ok("pay", mode="card", amount="12.60")
            await till.ok("finish")
            await till.ok("scan", code=WINE)
            await till.ok("scan", code=WINE)
            await till.ok("pay", mode="card", amount="7.80")
            await till.ok("pay", mode="cash", amount="10.00")
            await till.ok("finish")
            closed = (await till.ok("close", period="day"))["closure"]
    z = closed["totals"]
    assert z["tickets"] == 3

    db = open_read_only(tmp_path / DB_NAME)
    try:
        config = shop_config(tmp_path)
        day = dt.date(2026, 1, 15)
        zone = shop_zone(config.shop.timezone)
        found = entries(db, day, day, zone, fec_accounts(config))
        fec = totals(db, day, day, zone, fec_accounts(config))
    finally:
        db.close()
    assert found and unbalanced(found) == []
    assert {rate: (str(base), str(vat), str(total)) for rate, (base, vat, total) in fec.by_rate.items()} == {
        rate: (part["base"], part["vat"], part["total"]) for rate, part in z["by_vat"].items()}
    assert {mode: str(amount) for mode, amount in fec.by_mode.items()} == {
        mode: amount for mode, amount in z["by_mode"].items() if Decimal(amount)}
    assert sum(Decimal(part["total"]) for part in z["by_vat"].values()) == Decimal(z["net"])
