"""The shop's day end to end (``[shop] timezone``): two shops 26 hours apart — Kiritimati
(UTC+14) and Baker Island (Etc/GMT+12, UTC−12) — whose dates always differ. Through
the websocket, each one's "today" is its own zone's: a voucher's last day, a lot's
received date and ``stock_expiring``'s ``today``. Timestamps stay UTC."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import trio

from tests.e2e.configured import CASHIER, PAUL, configured_shop, lane, stock_point, table, toml
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes,sell_by_days
Y1,Yaourt nature x4,2.10,5.5,3000000000014,12
"""


def _days(zone: str) -> set[str]:
    """The zone's date now (and a moment later: a midnight may pass during a request)."""
    here = zoneinfo.ZoneInfo(zone)
    now = dt.datetime.now(dt.timezone.utc)
    return {(now + dt.timedelta(seconds=s)).astimezone(here).date().isoformat() for s in (0, 30)}


async def _today_as_the_shop_sees_it(tmp_path: Path, zone: str) -> dict[str, str]:
    config = toml(table("shop", name="Au bout du monde", timezone=zone), stock_point("main"), lane("1"))
    await trio.Path(tmp_path).mkdir(parents=True, exist_ok=True)
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER], tills=("1",)) as shop:
        with trio.fail_after(60):
            async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
                voucher = (await till.ok("voucher_issue", amount="10.00", mode="cash", valid_days=1))["voucher"]
                await till.ok("stock_entry", article="Y1", qty=6, reason="delivery")
                near = await till.ok("stock_expiring", days=30)
                sold = await till.ok("scan", code="3000000000014")
                held_at = (await till.ok("hold"))["held"]
                tickets = (await till.ok("held"))["tickets"]
    assert sold["ticket"]["lines"] and held_at
    return {"valid_until": voucher["valid_until"], "received": near["lots"][0]["received"], "today": near["today"],
            "held_at": tickets[0]["held_at"]}


def _assert_its_own_day(seen: dict[str, str], zone: str) -> None:
    today = _days(zone)
    assert seen["today"] in today and seen["received"] == seen["today"]
    assert dt.date.fromisoformat(seen["valid_until"]) - dt.date.fromisoformat(seen["today"]) == dt.timedelta(days=1)
    assert seen["held_at"].endswith("+00:00")  # timestamps stay UTC


async def test_two_shops_26_hours_apart_never_share_a_day(tmp_path):
    """Each shop's today is its own zone's, and the two never share one."""
    east = await _today_as_the_shop_sees_it(tmp_path / "east", "Pacific/Kiritimati")
    _assert_its_own_day(east, "Pacific/Kiritimati")
    west = await _today_as_the_shop_sees_it(tmp_path / "west", "Etc/GMT+12")
    _assert_its_own_day(west, "Etc/GMT+12")
    assert east["today"] > west["today"]
    assert east["valid_until"] > west["valid_until"]
