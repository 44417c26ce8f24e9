"""The catalog while a real server runs (issue 17, "The catalog"): a `catalog import`
made from the command line is sellable through a websocket till within seconds,
without a restart, and a line already on the ticket keeps its price; a GS1 weight code
adds its weight at the article's price per kg; the shelf location reaches the price
check and the PDA's stock look-up; a manager saves the till's keyboard."""

from __future__ import annotations


import pytest
import trio

from laneserver.rules.catalog import ean_check_digit
from tests.e2e.configured import CASHIER, configured_shop, entry, lane, open_db, stock_point, toml
from tests.support import connect

MANAGER = ("marie", "1234", "manager")
CATALOG = """id,name,price,vat_rate,barcodes,unit,plu,location,model,size,colour
W1,Vin rouge 75 cl,8.90,20,3000000000014,,,Allée 3 haut,,,
F1,Comté 18 mois,24.90,5.5,,kg,2200123,Coupe fromages,,,
T1,T-shirt S rouge,15.00,20,3000000000021,,,Allée 9,TEE,S,rouge
T2,T-shirt M rouge,15.00,20,3000000000038,,,Allée 9,TEE,M,rouge
"""
# The import made while the server runs: W1 dearer, N1 new.
CHANGED = CATALOG.replace("W1,Vin rouge 75 cl,8.90", "W1,Vin rouge 75 cl,9.50") + \
    "N1,Cidre brut 75 cl,4.20,20,3000000000045,,,Allée 4,,,\n"


def weight_code(plu: str, grams: int) -> str:
    first12 = f"{plu}{grams:05d}"
    return first12 + ean_check_digit(first12)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """One server for the module (a start, an import, two sellers and two pairings cost
    seconds): each test leaves the till's ticket empty and its own articles as it found
    them."""
    tmp_path = tmp_path_factory.mktemp("catalog_live")
    config = toml(stock_point("main"), lane("1"),
                  entry("variable_measure", prefix="22", kind="weight"),
                  entry("variable_measure", prefix="21", kind="price"))
    with configured_shop(tmp_path, config, CATALOG, sellers=(CASHIER, MANAGER), tills=("1",)) as server:
        server.pda = server.pair("pda")  # type: ignore[attr-defined]
        yield server


def _lines(reply: dict) -> list[tuple[str, str, str, str]]:
    return [(line["article"], line["qty"], line["unit_price"], line["total"]) for line in reply["ticket"]["lines"]]


async def test_a_live_import_sells_at_once_and_the_ticket_keeps_its_prices(shop, tmp_path):
    changed = tmp_path / "changed.csv"
    changed.write_text(CHANGED, encoding="utf-8")
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=("paul", "5678")) as till:
            await till.ok("scan", code="3000000000014")
            unknown = await till.call("scan", code="3000000000045")
            assert unknown["code"] == "unknown_code"
            imported = await trio.to_thread.run_sync(shop.cli, "catalog", "import", str(changed))
            assert "5 articles imported" in imported.stdout
            started = trio.current_time()
            while (await till.call("price_check", code="3000000000045"))["type"] != "ok":
                await trio.sleep(0.1)
            assert trio.current_time() - started < 5
            added = await till.ok("scan", code="3000000000045")
            added = await till.ok("scan", code="3000000000014")
            # The first wine line keeps 8.90; the one scanned after the import is 9.50.
            assert _lines(added) == [("W1", "1", "8.90", "8.90"), ("N1", "1", "4.20", "4.20"),
                                     ("W1", "1", "9.50", "9.50")]
            # A scale's label: 1.250 kg of Comté at 24.90 a kg.
            weighed = await till.ok("scan", code=weight_code("2200123", 1250))
            assert _lines(weighed)[-1] == ("F1", "1.25", "24.90", "31.13")
            code = weight_code("2200123", 500)
            wrong = code[:-1] + str((int(code[-1]) + 1) % 10)
            refused = await till.call("scan", code=wrong)
            assert (refused["code"], refused["field"]) == ("bad_request", "code") and "check digit" in refused["message"]
            assert len((await till.ok("ticket"))["ticket"]["lines"]) == 4  # nothing changed
            await till.ok("pay", mode="card")
            done = await till.ok("finish", receipt="none")
            assert done["total"] == "53.73"


async def test_location_and_variants_on_the_price_check_and_the_pda(shop):
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.pda, seller=("paul", "5678")) as pda:
            checked = await pda.ok("price_check", code="3000000000021")
            assert checked["article"]["location"] == "Allée 9"
            assert [(v["article"], v["size"], v["colour"]) for v in checked["variants"]] == [
                ("T1", "S", "rouge"), ("T2", "M", "rouge")]
            weighed = await pda.ok("price_check", code=weight_code("2200123", 750))
            assert (weighed["article"]["article"], weighed["measured"]) == ("F1", "0.75 kg")
            stock = await pda.ok("stock", article="W1")
            assert stock["location"] == "Allée 3 haut"


async def test_a_manager_saves_the_keyboard_a_cashier_cannot(shop):
    layout = [{"name": "Caisse", "keys": [{"article": "T1"}, {"label": "Attente", "function": "hold"},
                                          {"label": "CB", "mode": "card"}]}]
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=("paul", "5678")) as till:
            refused = await till.call("keyboard_save", pages=layout)
            assert (refused["code"], refused.get("role")) == ("forbidden", "manager")
            await till.ok("sign_out")
            await till.ok("sign_in", seller="marie", pin="1234")
            bad = await till.call("keyboard_save", pages=[{"name": "X", "keys": [{"label": "?", "function": "nope"}]}])
            assert bad["code"] == "bad_request" and bad["field"] == "pages[0].keys[0].function"
            saved = await till.ok("keyboard_save", pages=layout)
            expected = [{"name": "Caisse", "keys": [
                {"label": "T-shirt S rouge", "article": "T1", "price": "15.00"},
                {"label": "Attente", "function": "hold"}, {"label": "CB", "mode": "card"}]}]
            assert saved["pages"] == expected
            assert (await till.ok("keyboard"))["pages"] == expected
            await till.ok("sign_out")
    db = open_db(shop)
    try:
        assert db.execute("SELECT count(*) FROM meta WHERE key='keyboard'").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM events WHERE kind='keyboard_saved'").fetchone()[0] == 1
    finally:
        db.close()
