"""SPEC §6 kits through the websocket: a gift box of 1 wine + 2 pâtés sells from its
components' stock; under the refuse policy a box is refused when a component is short."""

from __future__ import annotations

import pytest
import trio

from tests.e2e.stock_shop import main_point, running_shop
from tests.support import connect, eventually

CATALOG = """id,name,price,vat_rate,barcodes,components
W1,Vin rouge 75 cl,8.90,20,3000000000014,
P1,Pâté de campagne 180 g,4.20,5.5,3000000000021,
K1,Coffret cadeau,19.90,20,3000000000038,W1*1|P1*2
"""


@pytest.fixture
def shop(tmp_path):
    with running_shop(tmp_path, catalog_csv=CATALOG) as server:
        yield server


main = main_point


async def levels(client, article):
    level = main(await client.ok("stock", article=article))
    return level["real"], level["reserved"], level["available"]


async def until(client, article, expected):
    await eventually(lambda: levels(client, article), expected)


async def test_selling_two_boxes_takes_two_wines_and_four_pates(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.till) as till, connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=5, reason="initial")
            await pda.ok("stock_entry", article="P1", qty=9, reason="initial")
            assert await levels(pda, "K1") == ("4", "0", "4")  # min(5/1, 9/2)
            await till.ok("scan", code="3000000000038", qty=2)
            assert await levels(pda, "W1") == ("5", "2", "3")
            assert await levels(pda, "P1") == ("9", "4", "5")
            assert await levels(pda, "K1") == ("4", "2", "2")
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            await until(pda, "P1", ("5", "0", "5"))
            assert await levels(pda, "W1") == ("3", "0", "3")
            assert await levels(pda, "K1") == ("2", "0", "2")
            history = (await pda.ok("stock_history", reason="sale"))["movements"]
            assert sorted((m["article"], m["delta"]) for m in history) == [("P1", "-4"), ("W1", "-2")]
            # A kit has no stock of its own to move.
            refused = await pda.call("stock_entry", article="K1", qty=1, reason="initial")
            assert refused["code"] == "bad_request" and "W1" in refused["message"]
            assert "K1" not in [r["article"] for r in (await pda.ok("stock_state"))["rows"]]
        # After a restart the components' stock and so the kits' read back the same.
        shop.kill()
        shop.restart()
        async with connect(shop.ws_url, shop.pda) as pda:
            assert await levels(pda, "K1") == ("2", "0", "2")


async def test_refuse_policy_refuses_a_box_when_a_component_is_short(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.till) as till, connect(shop.ws_url, shop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=5, reason="initial")
            await pda.ok("stock_entry", article="P1", qty=3, reason="initial")
            await till.ok("add", article="K1")
            refused = await till.call("add", article="K1")  # 2 more pâtés, 1 left
            assert refused["code"] == "out_of_stock"
            assert (refused["article"], refused["available"], refused["stock_point"]) == ("P1", "1", "main")
            assert (await till.call("set_qty", line=1, qty=2))["code"] == "out_of_stock"
            ticket = (await till.ok("ticket"))["ticket"]
            assert [(line["article"], line["qty"]) for line in ticket["lines"]] == [("K1", "1")]  # nothing changed
            await till.ok("add", article="P1")  # the last pâté alone still sells
            assert (await till.call("add", article="P1"))["code"] == "out_of_stock"
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            await until(pda, "P1", ("0", "0", "0"))
            assert await levels(pda, "W1") == ("4", "0", "4")
            assert await levels(pda, "K1") == ("0", "0", "0")


ASSEMBLY_CATALOG = """id,name,price,vat_rate,barcodes,components,assembly,sell_by_days
W1,Vin rouge 75 cl,8.90,20,3000000000014,,,
P1,Pâté de campagne 180 g,4.20,5.5,3000000000021,,,
K1,Coffret cadeau,19.90,20,3000000000038,W1*1|P1*2,no,
A1,Panier garni,39.00,20,3000000000045,W1*1|P1*2,yes,2
"""


@pytest.fixture
def workshop(tmp_path):
    with running_shop(tmp_path, catalog_csv=ASSEMBLY_CATALOG) as server:
        yield server


async def test_producing_an_assembly_moves_components_out_and_the_product_in(workshop):
    with trio.fail_after(60):
        async with connect(workshop.ws_url, workshop.till) as till, connect(workshop.ws_url, workshop.pda) as pda:
            await pda.ok("stock_entry", article="W1", qty=5, reason="initial")
            await pda.ok("stock_entry", article="P1", qty=5, reason="initial")
            produced = await pda.ok("stock_produce", article="A1", qty=2, comment="Noël", key="prod-1")
            assert (produced["article"], main(produced)["real"]) == ("A1", "2")
            assert await levels(pda, "W1") == ("3", "0", "3")
            assert await levels(pda, "P1") == ("1", "0", "1")
            again = await pda.ok("stock_produce", article="A1", qty=2, comment="Noël", key="prod-1")  # a retry
            assert main(again)["real"] == "2" and await levels(pda, "P1") == ("1", "0", "1")
            history = (await pda.ok("stock_history", reason="production"))["movements"]
            assert sorted((m["article"], m["delta"]) for m in history) == [("A1", "2"), ("P1", "-4"), ("W1", "-2")]
            assert {m["comment"] for m in history} == {"Noël"}
            # Short of pâtés under refuse: refused, naming the component; nothing moves.
            refused = await pda.call("stock_produce", article="A1", qty=1)
            assert refused["code"] == "out_of_stock"
            assert (refused["article"], refused["available"], refused["stock_point"]) == ("P1", "1", "main")
            assert await levels(pda, "A1") == ("2", "0", "2") and await levels(pda, "W1") == ("3", "0", "3")
            # Bad input names the problem and changes nothing.
            for fields, code in [({"article": "A1", "qty": 0}, "bad_request"),
                                 ({"article": "W1", "qty": 1}, "bad_request"),
                                 ({"article": "K1", "qty": 1}, "bad_request"),
                                 ({"article": "X9", "qty": 1}, "not_found"),
                                 ({"article": "A1", "qty": 1, "stock_point": "nowhere"}, "not_found")]:
                assert (await pda.call("stock_produce", **fields))["code"] == code, fields
            assert await levels(pda, "P1") == ("1", "0", "1")
            # The product is stocked and sold as itself: a sale takes the hamper, not its components.
            await till.ok("add", article="A1")
            await till.ok("pay", mode="card")
            await till.ok("finish", receipt="none")
            await until(pda, "A1", ("1", "0", "1"))
            assert await levels(pda, "P1") == ("1", "0", "1")
            # A production is a lot of the product, received today: sell by in 2 days.
            lots = (await pda.ok("stock_expiring"))["lots"]
            today = (await pda.ok("stock_expiring"))["today"]
            assert [(lot["article"], lot["received"], lot["remaining"]) for lot in lots] == [("A1", today, "1")]
        workshop.kill()
        workshop.restart()
        async with connect(workshop.ws_url, workshop.pda) as pda:
            assert await levels(pda, "A1") == ("1", "0", "1") and await levels(pda, "W1") == ("3", "0", "3")
