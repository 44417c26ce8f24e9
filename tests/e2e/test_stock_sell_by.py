"""SPEC §6 sell-by dates through the websocket: each initial/delivery entry is a lot with
its received date; sales take the oldest lot first; ``stock_expiring`` lists the lots
with stock left near their sell-by date. The server's clock is real, so lots are
received in the past."""

from __future__ import annotations

import datetime as dt

import pytest
import trio

from tests.e2e.stock_shop import running_shop
from tests.support import connect, eventually

CATALOG = """id,name,price,vat_rate,barcodes,sell_by_days
Y1,Yaourt nature x4,2.10,5.5,3000000000014,12
R1,Riz 1 kg,1.90,5.5,3000000000021,
"""


@pytest.fixture
def shop(tmp_path):
    with running_shop(tmp_path, catalog_csv=CATALOG) as server:
        yield server


def ago(days: int) -> str:
    """Today − ``days`` by the shop's day: this shop sets no ``timezone``, so the
    machine's own zone (test_shop_day.py checks a shop that sets one)."""
    return (dt.datetime.now().astimezone().date() - dt.timedelta(days=days)).isoformat()


def lots(reply):
    return [(lot["article"], lot["name"], lot["received"], lot["sell_by"], lot["remaining"]) for lot in reply["lots"]]


async def test_the_oldest_lot_goes_first_and_is_listed_near_its_date(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.till) as till, connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="Y1", qty=6, reason="delivery", received=ago(10), key="lot-1")
            await pda.ok("stock_entry", article="Y1", qty=6, reason="delivery", received=ago(10), key="lot-1")  # retry
            await pda.ok("stock_entry", article="Y1", qty=6, reason="delivery")  # today
            await pda.ok("stock_entry", article="R1", qty=5, reason="initial", received=ago(400))
            await till.ok("add", article="Y1", qty=4)
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            await eventually(lambda: stock_real(pda, "Y1"), "8")
            near = await pda.ok("stock_expiring")  # the shop's 3 days
            assert (near["stock_point"], near["days"], near["today"]) == ("main", 3, ago(0))
            assert lots(near) == [("Y1", "Yaourt nature x4", ago(10), ago(-2), "2")]
            assert lots(await pda.ok("stock_expiring", days=12)) == [
                ("Y1", "Yaourt nature x4", ago(10), ago(-2), "2"),
                ("Y1", "Yaourt nature x4", ago(0), ago(-12), "6"),
            ]
            assert lots(await pda.ok("stock_expiring", days=1)) == []
            assert lots(await pda.ok("stock_expiring", stock_point="bar", days=30)) == []
            # The rest of the old lot thrown away: nothing is near its date any more.
            await pda.ok("stock_exit", article="Y1", qty=2, reason="expired")
            assert lots(await pda.ok("stock_expiring")) == []
            # Bad input names the problem; nothing is recorded.
            for verb, fields, code, word in [
                ("stock_entry", {"article": "Y1", "qty": 1, "reason": "delivery", "received": ago(-1)}, "bad_request",
                 "future"),
                ("stock_entry", {"article": "Y1", "qty": 1, "reason": "delivery", "received": "10/03/2026"},
                 "bad_request", "YYYY-MM-DD"),
                ("stock_entry", {"article": "Y1", "qty": 1, "reason": "return", "received": ago(1)}, "bad_request",
                 "received"),
                ("stock_expiring", {"days": -1}, "bad_request", "days"),
                ("stock_expiring", {"stock_point": "nowhere"}, "not_found", "nowhere"),
            ]:
                refused = await pda.call(verb, **fields)
                assert refused["code"] == code and word in refused["message"], (fields, refused)
            assert main_real(await pda.ok("stock", article="Y1")) == "6"
        # Lots are journaled: after a restart the list is the same.
        shop.kill()
        shop.restart()
        async with connect(shop.ws_url, shop.pda) as pda:
            assert lots(await pda.ok("stock_expiring", days=12)) == [("Y1", "Yaourt nature x4", ago(0), ago(-12), "6")]


def main_real(reply):
    return next(p for p in reply["points"] if p["stock_point"] == "main")["real"]


async def stock_real(client, article):
    return main_real(await client.ok("stock", article=article))
