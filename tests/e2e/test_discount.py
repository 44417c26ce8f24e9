"""Discounts end to end: a real server with a 20 % cap and a reason list, real sellers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from tests.e2e.configured import CASHIER, SUPERVISOR, configured_shop, printed, rows, verify
from tests.e2e.configured import file_printer, lane, stock_point, table, toml
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes
T1,Article à 10,10.00,20,3000000000014
B1,Baguette,1.20,5.5,3000000000021
L1,Livre,10.00,5.5,3000000000038
"""
TEN, BAGUETTE, BOOK = "3000000000014", "3000000000021", "3000000000038"


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Remises", discount_cap="20", discount_reasons=["damaged", "loyalty"]),
                  stock_point("main"), lane("1", printer="p1"), file_printer(tmp_path))
    sellers = [("marie", "1234", "manager"), SUPERVISOR, CASHIER]
    with configured_shop(tmp_path, config, CATALOG, sellers=sellers) as server:
        yield server


def _percents(reply) -> list[str]:
    return [line["discount_percent"] for line in reply["ticket"]["lines"]]


async def test_line_discounts_in_percent_and_amount_add_and_replace(shop):
    token = shop.pair("till", "1")
    with trio.fail_after(30):
        async with connect(shop.ws_url, token, seller=("paul", "5678")) as till:
            await till.ok("scan", code=TEN)
            await till.ok("scan", code=BAGUETTE, qty=3)
            reply = await till.ok("discount", line=1, percent="15", reason="loyalty")
            assert _percents(reply) == ["15", "0"] and reply["ticket"]["lines"][0]["total"] == "8.50"
            # SPEC §12: two successive 15 % line discounts are 27.75 %, not 30 %; a
            # cashier under a 20 % cap needs a supervisor for it.
            refusal = await till.call("discount", line=1, percent="15", mode="add", reason="loyalty")
            assert refusal["code"] == "supervisor_required" and refusal["cap"] == "20"
            reply = await till.ok("discount", line=1, percent="15", mode="add", reason="loyalty", supervisor_pin="4321")
            assert _percents(reply) == ["27.75", "0"] and reply["ticket"]["lines"][0]["total"] == "7.23"
            reply = await till.ok("discount", line=1, percent="10", reason="loyalty")  # replace
            assert _percents(reply) == ["10", "0"]
            # An amount: exactly that much off the line (3 × 1.20 = 3.60 → 3.00).
            reply = await till.ok("discount", line=2, amount="0.60", reason="damaged")
            assert reply["ticket"]["lines"][1]["total"] == "3.00"
            assert reply["ticket"]["total"] == "12.00"
            # The lane's ticket as any session sees it (the till's own change sends it no event).
            assert (await till.ok("ticket"))["ticket"]["total"] == "12.00"


async def test_ticket_discount_by_amount_then_a_sale_that_verifies_and_prints_the_discount(shop):
    token = shop.pair("till", "1")
    with trio.fail_after(40):
        async with connect(shop.ws_url, token, seller=("paul", "5678")) as till:
            await till.ok("scan", code=TEN)
            await till.ok("scan", code=BOOK)
            await till.ok("scan", code=BAGUETTE)  # 21.20
            reply = await till.ok("discount", amount="2.00", reason="loyalty")
            assert reply["ticket"]["total"] == "19.20"
            assert all(p != "0" for p in _percents(reply))
            reply = await till.ok("discount", percent="5", reason="loyalty")  # replaces every line's
            assert _percents(reply) == ["5", "5", "5"] and reply["ticket"]["total"] == "20.14"
            await till.ok("pay", mode="cash", amount="25.00")
            finished = await till.ok("finish")
            assert finished["total"] == "20.14" and finished["change"] == "4.86"
    verify(shop)  # the fiscal chain still verifies
    with trio.fail_after(20):
        await printed(shop, b"Remise 5 %")


async def test_cap_supervisor_pin_and_mandatory_reason(shop):
    token = shop.pair("till", "1")
    with trio.fail_after(40):
        async with connect(shop.ws_url, token, seller=("paul", "5678")) as till:
            await till.ok("scan", code=TEN)
            before = (await till.ok("ticket"))["ticket"]
            # No reason, or one not on the list: refused, naming the allowed ones.
            for extra in ({}, {"reason": "because"}):
                refusal = await till.call("discount", line=1, percent="5", **extra)
                assert refusal["code"] == "bad_request" and "damaged, loyalty" in refusal["message"]
                assert refusal["reasons"] == ["damaged", "loyalty"]
            # Above the cap: no PIN, a wrong PIN, a cashier's PIN → supervisor_required.
            for extra in ({}, {"supervisor_pin": "0000"}, {"supervisor_pin": "5678"}):
                refusal = await till.call("discount", line=1, percent="50", reason="damaged", **extra)
                assert refusal["code"] == "supervisor_required", (extra, refusal)
            assert (await till.ok("ticket"))["ticket"] == before
            # Up to the cap a cashier alone is enough; above it a supervisor or a manager.
            await till.ok("discount", line=1, percent="20", reason="damaged")
            await till.ok("discount", line=1, percent="50", reason="damaged", supervisor_pin="4321")
            reply = await till.ok("discount", line=1, percent="100", reason="damaged", supervisor_pin="1234")
            assert _percents(reply) == ["100"] and reply["ticket"]["total"] == "0.00"
            refusal = await till.call("discount", line=7, percent="5", reason="damaged")
            assert refusal["code"] == "not_found"
            refusal = await till.call("discount", line=1, percent="5", amount="1.00", reason="damaged")
            assert refusal["code"] == "bad_request"
            refusal = await till.call("discount", line=1, percent="101", reason="damaged")
            assert refusal["code"] == "bad_request"
    # The approval is journaled with both sellers: the one who asked and the approver.
    approved = rows(shop, "SELECT seller, data FROM events WHERE kind='DiscountApplied' ORDER BY seq")
    approvals = [(seller, json.loads(data)["approved_by"]) for seller, data in approved]
    assert approvals == [("paul", None), ("paul", "sophie"), ("paul", "marie")], approvals
