"""Cancelling a sale and its coupons, end to end (a real server, real websockets, a real
SQLite file): the coupons a cancelled sale used come back to its customer; the coupons
a cancelled subscription credited are taken back, and the cancel is refused (nothing
written) once some of them were used or while open tickets hold them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.configured import CASHIER, PAUL, SOPHIE_PIN, SUPERVISOR, configured_shop, counts, verify
from tests.e2e.configured import lane, stock_point, table, toml
from tests.support import LiveServer, connect

CATALOG = """id,name,price,vat_rate,barcodes,coupon_article,coupons,coupon_valid_days
S1,Entrée piscine,5.00,10,3000000001202,,,
P10,Carte 10 entrées,40.00,10,3000000001301,S1,10,90
"""
SWIM, PASS = "3000000001202", "3000000001301"


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Piscine"), stock_point("main"), lane("1"), lane("2"))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR], tills=("1", "2")) as server:
        yield server


def _counts(server: LiveServer) -> tuple:
    return counts(server, "sales", "payments", "coupon_movements", "replies")


async def _left(till, customer: str) -> int:
    view = (await till.ok("customer", customer=customer))["customer"]
    return sum(c["left"] for c in view["coupons"] if c["article"] == "S1")


async def _sell(till, customer: str, code: str, qty: int = 1) -> int:
    await till.ok("set_customer", customer=customer)
    await till.ok("scan", code=code, qty=qty)
    await till.ok("pay", mode="card")
    return (await till.ok("finish", receipt="none"))["number"]


async def test_a_cancel_gives_used_coupons_back_and_takes_credited_ones(shop):
    cancel = {"reason": "erreur", "supervisor_pin": SOPHIE_PIN}
    async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as one, \
            connect(shop.ws_url, shop.tokens["2"], seller=PAUL) as two:
        with trio.fail_after(60):
            jeanne = (await one.ok("customer_create", name="Jeanne"))["customer"]
            bought = await _sell(one, jeanne, PASS)
            await one.ok("set_customer", customer=jeanne)
            scanned = await one.ok("scan", code=SWIM, qty=2)
            assert scanned["ticket"]["lines"][0]["coupon"] is True
            used = (await one.ok("finish", receipt="none"))["number"]
            assert await _left(one, jeanne) == 8

            # The pass cannot be cancelled: two of its coupons were used.
            before = _counts(shop)
            refused = await one.call("sale_cancel", sale=bought, **cancel)
            assert refused["code"] == "conflict" and "used" in refused["message"]
            assert _counts(shop) == before

            # The entries' sale cancelled: its two coupons come back.
            await one.ok("sale_cancel", sale=used, **cancel)
            assert await _left(one, jeanne) == 10

            # A pass nobody used, while a ticket of lane 2 holds its coupons: refused; once
            # the ticket is cancelled, the pass is cancelled and its coupons are gone.
            marcel = (await one.ok("customer_create", name="Marcel"))["customer"]
            second = await _sell(one, marcel, PASS)
            assert await _left(one, marcel) == 10
            await two.ok("set_customer", customer=marcel)
            held = await two.ok("scan", code=SWIM, qty=10)
            assert held["ticket"]["lines"][0]["coupon"] is True
            before = _counts(shop)
            refused = await one.call("sale_cancel", sale=second, **cancel)
            assert refused["code"] == "conflict" and "held" in refused["message"]
            assert _counts(shop) == before
            await two.ok("cancel_ticket")
            await one.ok("sale_cancel", sale=second, **cancel)
            assert await _left(one, marcel) == 0
    verify(shop)
