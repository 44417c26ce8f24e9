"""Alcohol duties end to end: a real server, its catalog imported by the CLI, a websocket.

SPEC §12: base 918.80 and 551.82, 0.5 l, 40 %, cost 10.00, margin 2, VAT 20 % →
excise 1.84, levy 1.10, price 31.06.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.configured import configured_shop, lane, open_db, stock_point, table, toml
from tests.support import LiveServer, connect

CATALOG = """id;name;price;vat_rate;barcodes;volume_l;abv
R1;Rhum des DOM 50 cl;31,06;20;;0,5;40
W1;Vin rouge 75 cl;6.50;20;;0.75;
B1;Baguette;1.20;5.5;;;
"""


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Cave du Port", alcohol_excise_rate="918.80", alcohol_levy_rate="551.82"),
                  stock_point("main"), lane("1"))
    with configured_shop(tmp_path, config, CATALOG) as server:
        yield server


def _row_counts(shop: LiveServer) -> dict[str, int]:
    db = open_db(shop)
    try:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}
    finally:
        db.close()


async def test_the_manuals_example_exactly_from_values_and_from_the_article(shop):
    token = shop.pair("till", "1")
    with trio.fail_after(30):
        async with connect(shop.ws_url, token, seller=("paul", "5678")) as till:
            reply = await till.ok("alcohol_price", cost="10.00", margin=2, volume_l="0.5", abv="40", vat_rate="20")
            assert (reply["excise"], reply["levy"], reply["price"]) == ("1.84", "1.10", "31.06")
            assert reply["cost_with_duties"] == "12.94"
            assert (reply["excise_rate"], reply["levy_rate"], reply["tax_type"]) == ("918.80", "551.82", 2)
            assert (reply["volume_l"], reply["abv"], reply["vat_rate"], reply["margin"]) == ("0.5", "40", "20", "2")
            assert reply["article"] is None
            # The article's volume, strength and VAT rate, as imported into the catalog.
            reply = await till.ok("alcohol_price", article="R1", cost="10.00", margin="2")
            assert (reply["excise"], reply["levy"], reply["price"], reply["article"]) == ("1.84", "1.10", "31.06", "R1")
            # Type 1: the base is per hectolitre of product, the strength does not count.
            reply = await till.ok("alcohol_price", article="W1", cost="3.00", margin="1.5", tax_type=1)
            # 918.80 × 0.0075 = 6.891 → 6.89; 551.82 × 0.0075 = 4.13865 → 4.14;
            # (3 + 6.89 + 4.14) × 1.5 × 1.2 = 25.254 → 25.25
            assert (reply["excise"], reply["levy"], reply["price"], reply["abv"]) == ("6.89", "4.14", "25.25", "")


async def test_no_seller_needed_and_a_pda_may_ask(shop):
    token = shop.pair("pda")
    with trio.fail_after(30):
        async with connect(shop.ws_url, token, seller=None) as pda:
            reply = await pda.ok("alcohol_price", cost="10.00", margin="2", volume_l="0.5", abv="40", vat_rate="20")
            assert reply["price"] == "31.06"


async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(shop):
    token = shop.pair("till", "1")
    with trio.fail_after(30):
        async with connect(shop.ws_url, token, seller=("paul", "5678")) as till:
            before = _row_counts(shop)  # once signed in (a sign-in is journaled)
            good = {"cost": "10.00", "margin": "2", "volume_l": "0.5", "abv": "40", "vat_rate": "20"}
            for change, field in (({"volume_l": "0"}, "volume_l"), ({"abv": "140"}, "abv"),
                                  ({"margin": "0.5"}, "margin"), ({"cost": "-1.00"}, "cost"),
                                  ({"cost": "1.234"}, "cost"), ({"vat_rate": "7"}, "vat_rate"),
                                  ({"tax_type": 9}, "tax_type"), ({"volume_l": None}, "volume_l")):
                fields = {k: v for k, v in {**good, **change}.items() if v is not None}
                refusal = await till.call("alcohol_price", **fields)
                assert refusal["code"] == "bad_request" and refusal["field"] == field, (change, refusal)
            refusal = await till.call("alcohol_price", article="R1", cost="10.00", margin="2", abv="45")
            assert refusal["code"] == "bad_request" and refusal["field"] == "abv"
            refusal = await till.call("alcohol_price", article="B1", cost="1.00", margin="2")
            assert refusal["code"] == "bad_request" and refusal["field"] == "article"
            assert "no volume_l" in refusal["message"]
            refusal = await till.call("alcohol_price", article="NOPE", cost="1.00", margin="2")
            assert refusal["code"] == "not_found" and refusal["article"] == "NOPE"
            refusal = await till.call("alcohol_price", cost=10.5, margin="2", volume_l="0.5", abv="40", vat_rate="20")
            assert refusal["code"] == "bad_request"  # a float: money is a decimal string
            # Still answering, and the ticket is untouched.
            assert (await till.ok("ticket"))["ticket"]["lines"] == []
            assert _row_counts(shop) == before  # nothing written, not even a journal event
