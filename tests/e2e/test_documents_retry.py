"""A document verb retried after a crash (issue 18; PROTOCOL.md "Idempotency keys
(clarified)"): a real server, a real websocket, the SQLite file, kill -9.

An order with a deposit is made with a key; the server is killed (-9) right after the
reply, started again, and the till sends the very same frame again (same id, same
key), as it does when it never saw the reply: it gets the same reply (the same order,
the same deposit invoice, the same barcode), and nothing is made twice — the order
series and the deposit invoice series have no duplicate and no gap, the deposit is
taken once, the stock reserved once. The per-verb cases run in-process
(tests/actors/test_documents_idempotency.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.configured import (
    CASHIER,
    PAUL,
    configured_shop,
    lane,
    rows,
    stock_point,
    table,
    toml,
    verify,
)
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
C1,Champagne brut 75 cl,30.00,20,3000000000014
"""


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Cave du Port"), stock_point("main"), lane("1"))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER], tills=("1",)) as server:
        server.pda = server.pair("pda")  # type: ignore[attr-defined]
        yield server


async def test_an_order_retried_after_kill_9_is_the_same_order_and_the_series_has_no_gap(shop):
    frame = {"id": "order-1", "key": "till-1:order-1", "delivery": "take_away", "deposit": "50.00"}
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.pda, seller=PAUL) as pda:
            await pda.ok("stock_entry", article="C1", qty=30, reason="initial")
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            await till.ok("add", article="C1", qty=6)
            await till.ok("pay", mode="cash", amount="50.00", key="till-1:pay-1")
            first = await till.ok("order", **frame)
            assert (first["document"]["name"], first["document"]["deposit_invoice"]) == ("O-000001", "C-000001")
        shop.kill()
        shop.restart()
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            again = await till.ok("order", **frame)
            assert again == first  # the first reply: the same order, barcode, deposit invoice, ticket
            reused = await till.call("order", **{**frame, "id": "order-1b", "deposit": "40.00"})
            assert (reused["code"], reused["key_reused"]) == ("conflict", True)
            stock = next(p for p in (await till.ok("stock", article="C1"))["points"] if p["stock_point"] == "main")
            assert (stock["real"], stock["reserved"]) == ("30", "6")
            # The next order is the next number.
            await till.ok("add", article="C1", qty=1)
            await till.ok("pay", mode="card", amount="10.00")
            second = await till.ok("order", delivery="on_site", deposit="10.00", key="till-1:order-2")
            assert (second["document"]["name"], second["document"]["deposit_invoice"]) == ("O-000002", "C-000002")

    assert rows(shop, "SELECT chain, number FROM fiscal_records WHERE chain IN ('order', 'deposit_invoice')"
                      " ORDER BY chain, number") == [
        ("deposit_invoice", 1), ("deposit_invoice", 2), ("order", 1), ("order", 2)]
    assert rows(shop, "SELECT ref, mode, amount FROM money_in ORDER BY seq") == [
        ("O-000001", "cash", "50.00"), ("O-000002", "card", "10.00")]
    assert "fiscal chains intact" in verify(shop)
