"""SPEC §6 units and parts through the websocket: glasses and bottles of one wine sold
from the same stock, exactly; the refuse policy counts glasses against bottles."""

from __future__ import annotations

import pytest
import trio

from tests.e2e.stock_shop import main_point, running_shop
from tests.support import connect, eventually

CATALOG = """id,name,price,vat_rate,barcodes,negative_stock,stock_alert,part_of,parts
W1,Vin rouge 75 cl,8.90,20,3000000000014,,,,
W1G,Verre de vin rouge,3.50,20,3000000000052,,,W1,6
C1,Chips 150 g,1.90,5.5,3000000000045,,,,
"""


@pytest.fixture
def shop(tmp_path):
    with running_shop(tmp_path, catalog_csv=CATALOG) as server:
        yield server


main = main_point


async def wine(client):
    level = main(await client.ok("stock", article="W1"))
    return level["real"], level["reserved"], level["available"], level["units"], level["parts"]


async def sell(till, **line):
    await till.ok("add", **line)
    await till.ok("pay", mode="card")
    await till.ok("finish", receipt="none")


async def until(client, expected):
    await eventually(lambda: wine(client), expected)


async def test_glasses_and_bottles_share_the_bottles_stock(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.till) as till, connect(shop.ws_url, shop.pda) as pda:
            entered = await pda.ok("stock_entry", article="W1", qty=12, reason="initial")
            assert (main(entered)["units"], main(entered)["parts"], main(entered)["parts_per_unit"]) == ("12", "0", 6)
            await till.ok("scan", code="3000000000052", qty=3)  # three glasses hold half a bottle
            assert await wine(pda) == ("12", "0.5", "11.5", "12", "0")
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            await sell(till, article="W1")
            await until(pda, ("10.5", "0", "10.5", "10", "3"))  # 10 bottles 3 glasses
            await sell(till, article="W1G")
            await until(pda, ("10.333", "0", "10.333", "10", "2"))
            # A glass's stock is its bottle's; it has none of its own to move.
            glass = await pda.ok("stock", article="W1G")
            assert glass["article"] == "W1" and main(glass)["units"] == "10"
            refused = await pda.call("stock_entry", article="W1G", qty=1, reason="initial")
            assert refused["code"] == "bad_request" and "W1" in refused["message"]
            row = next(r for r in (await pda.ok("stock_state"))["rows"] if r["article"] == "W1")
            assert (row["real"], row["units"], row["parts"], row["parts_per_unit"]) == ("10.333", "10", "2", 6)
            assert "units" not in main(await pda.ok("stock", article="C1"))
            history = (await pda.ok("stock_history", article="W1", reason="sale"))["movements"]
            assert [m["delta"] for m in history] == ["-0.167", "-1", "-0.5"]
        # Stored exactly: after a restart the partial bottle reads back the same.
        shop.kill()
        shop.restart()
        async with connect(shop.ws_url, shop.till) as till, connect(shop.ws_url, shop.pda) as pda:
            assert await wine(pda) == ("10.333", "0", "10.333", "10", "2")
            for _ in range(2):  # two more glasses: exactly 10 bottles
                await sell(till, article="W1G")
            await until(pda, ("10", "0", "10", "10", "0"))


async def test_refuse_policy_refuses_the_seventh_glass_of_the_last_bottle(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.till) as till, connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=1, reason="initial")
            await till.ok("add", article="W1G", qty=6)
            assert await wine(pda) == ("1", "1", "0", "1", "0")
            refused = await till.call("add", article="W1G")
            assert refused["code"] == "out_of_stock"
            assert (refused["article"], refused["available"]) == ("W1", "0")
            assert (await till.call("set_qty", line=1, qty=7))["code"] == "out_of_stock"
            assert len((await till.ok("ticket"))["ticket"]["lines"]) == 1  # nothing changed
            assert (await till.call("add", article="W1"))["code"] == "out_of_stock"  # nor a bottle
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            await until(pda, ("0", "0", "0", "0", "0"))
