"""An unknown code made sellable from the till (issue 17 item 9, SPEC §2), through a
real server and a websocket till: with ``[shop] unknown_code = "create"``, a supervisor
attaches the code to an existing article (the scan, tried again, adds the line) or
creates the article; a cashier needs a supervisor's PIN; a code already taken is a
``conflict``; each edit is journaled with who approved it."""

from __future__ import annotations

import json

import trio

from laneserver.rules.catalog import ean_check_digit
from tests.e2e.configured import (
    CASHIER,
    SOPHIE_PIN,
    SUPERVISOR,
    configured_shop,
    lane,
    open_db,
    stock_point,
    table,
    toml,
)
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
W1,Vin rouge 75 cl,8.90,20,3000000000014
"""


def ean(first12: str) -> str:
    return first12 + ean_check_digit(first12)


async def test_attach_create_pin_and_conflict(tmp_path):
    config = toml(table("shop", name="Épicerie", unknown_code="create"), stock_point("main"), lane("1"))
    attached, created = ean("301234567890"), ean("301234567891")
    with configured_shop(tmp_path, config, CATALOG, sellers=(CASHIER, SUPERVISOR), tills=("1",)) as shop:
        with trio.fail_after(60):
            async with connect(shop.ws_url, shop.tokens["1"], seller=("paul", "5678")) as till:
                assert (await till.call("scan", code=attached))["code"] == "unknown_code"
                # A cashier alone is refused, and a wrong PIN too; nothing changes.
                alone = await till.call("barcode_attach", article="W1", code=attached)
                assert alone["code"] == "supervisor_required"
                wrong = await till.call("barcode_attach", article="W1", code=attached, supervisor_pin="0000")
                assert wrong["type"] == "error"
                assert (await till.call("scan", code=attached))["code"] == "unknown_code"
                # With the supervisor's PIN: attached, and the scan tried again adds the line.
                done = await till.ok("barcode_attach", article="W1", code=attached, supervisor_pin=SOPHIE_PIN)
                assert done["article"]["barcodes"] == ["3000000000014", attached]
                added = await till.ok("scan", code=attached)
                assert [(line["article"], line["total"]) for line in added["ticket"]["lines"]] == [("W1", "8.90")]
                # A code taken (now W1's) is a conflict, for both verbs.
                taken = await till.call("article_create", article="N1", name="Cidre", price="4.20", vat_rate="20",
                                        code=attached, supervisor_pin=SOPHIE_PIN)
                assert (taken["code"], taken["field"]) == ("conflict", "code")
                again = await till.call("barcode_attach", article="W1", code=attached, supervisor_pin=SOPHIE_PIN)
                assert again["code"] == "conflict"
                # Hostile values: refused, naming the field.
                for field, value in (("price", "4.205"), ("vat_rate", "7"), ("name", " "), ("article", "A B")):
                    fields = {"article": "N1", "name": "Cidre", "price": "4.20", "vat_rate": "20", field: value}
                    bad = await till.call("article_create", code=created, supervisor_pin=SOPHIE_PIN, **fields)
                    assert (bad["code"], bad["field"]) == ("bad_request", field), bad
                await till.call("sign_out")
            # A supervisor signed in needs no PIN: the new article sells at once.
            async with connect(shop.ws_url, shop.tokens["1"], seller=("sophie", SOPHIE_PIN)) as till:
                made = await till.ok("article_create", article="N1", name="Cidre brut", price="4.20", vat_rate="20",
                                     code=created, department="Boissons")
                assert (made["article"]["article"], made["article"]["price"]) == ("N1", "4.20")
                sold = await till.ok("scan", code=created)
                assert [(line["article"], line["total"]) for line in sold["ticket"]["lines"]] == [
                    ("W1", "8.90"), ("N1", "4.20")]
                await till.ok("cancel_ticket")
        with open_db(shop) as db:
            events = {kind: json.loads(data) for kind, data in db.execute(
                "SELECT kind, data FROM events WHERE kind IN ('article_created', 'barcode_attached')")}
    assert (events["barcode_attached"]["by"], events["barcode_attached"]["approved_by"]) == ("paul", "sophie")
    assert (events["article_created"]["by"], events["article_created"]["approved_by"]) == ("sophie", "sophie")

