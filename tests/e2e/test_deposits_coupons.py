"""Deposits (consignes) and subscriptions/coupons end to end (SPEC §2): a real server,
real websockets, a real SQLite file.

A beer brings its bottle deposit line, which follows its quantity and goes with it;
returned bottles are refunded. A 10-entry pass sold to a customer credits 10 coupons;
an entry scanned for that customer is then at zero price and the ticket says how many
are left; expired coupons are not used; two lanes cannot use the last coupon twice;
a ticket cancelled uses nothing. ``laneserver verify`` passes after each.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.configured import PAUL, configured_shop, lane, open_db, stock_point, table, toml, verify
from tests.support import connect

CATALOG = """id,name,price,vat_rate,barcodes,deposit,coupon_article,coupons,coupon_valid_days
B1,Bière 33 cl,2.90,20,3000000001004,C1,,,
C1,Consigne bouteille,0.20,5.5,3000000001103,,,,
S1,Entrée piscine,5.00,10,3000000001202,,,,
P10,Carte 10 entrées,40.00,10,3000000001301,,S1,10,90
G1,Séance offerte,0.00,10,3000000001400,,,,
PG,Carte 2 séances,15.00,10,3000000001509,,G1,2,
"""
BEER, BOTTLE, SWIM, PASS, FREE, FREE_PASS = ("3000000001004", "3000000001103", "3000000001202", "3000000001301",
                                             "3000000001400", "3000000001509")


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Piscine"), stock_point("main"), lane("1"), lane("2"))
    with configured_shop(tmp_path, config, CATALOG, tills=("1", "2")) as server:
        yield server


def _lines(reply: dict) -> list[tuple]:
    return [(l["line"], l["article"], l["qty"], l["total"], l.get("deposit_for")) for l in reply["ticket"]["lines"]]


def _coupons(view: dict) -> dict[str, tuple]:
    return {c["article"]: (c["left"], c.get("valid_until"), c.get("expired", 0)) for c in view["coupons"]}


async def test_deposit_line_added_follows_and_returned(shop):
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            reply = await till.ok("scan", code=BEER, qty="6")
            assert _lines(reply) == [(1, "B1", "6", "17.40", None), (2, "C1", "6", "1.20", 1)]
            assert reply["ticket"]["total"] == "18.60"
            reply = await till.ok("set_qty", line=1, qty="2")
            assert _lines(reply) == [(1, "B1", "2", "5.80", None), (2, "C1", "2", "0.40", 1)]
            refused = await till.call("set_qty", line=2, qty="1")
            assert refused["code"] == "conflict" and refused["line"] == 2
            assert (await till.call("remove_line", line=2))["code"] == "conflict"
            await till.ok("scan", code=SWIM)
            reply = await till.ok("remove_line", line=1)
            assert [l["article"] for l in reply["ticket"]["lines"]] == ["S1"]  # the deposit went with it
            await till.ok("remove_line", line=3)
            # Two beers sold, then empty bottles brought back: the deposit is refunded.
            await till.ok("scan", code=BEER, qty="2")
            reply = await till.ok("scan", code=BOTTLE, qty="-5")
            assert _lines(reply)[-1] == (6, "C1", "-5", "-1.00", None)
            assert reply["ticket"]["total"] == "5.20"  # 5.80 + 0.40 − 1.00
            await till.ok("pay", mode="cash", amount="10.00")
            done = await till.ok("finish", receipt="none")
    with open_db(shop) as db:
        lines = db.execute("SELECT lines FROM sales WHERE number = ?", (done["number"],)).fetchone()[0]
        vat = db.execute("SELECT vat FROM sales WHERE number = ?", (done["number"],)).fetchone()[0]
    assert '"deposit_for":4' in lines
    assert '"rate":"5.5"' in vat  # the deposit keeps its own VAT rate
    verify(shop)


async def test_subscription_credits_coupons_used_at_zero_price(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = (await till.ok("customer_create", name="Jeanne"))["customer"]
            # Without a customer the entry sells at its price; a pass needs a customer.
            reply = await till.ok("scan", code=SWIM)
            assert reply["ticket"]["lines"][0]["total"] == "5.00" and "coupon" not in reply["ticket"]["lines"][0]
            await till.ok("remove_line", line=1)
            await till.ok("scan", code=PASS)
            await till.ok("pay", mode="cash")
            refused = await till.call("finish", receipt="none")
            assert refused["code"] == "conflict" and "customer" in refused["message"]
            await till.ok("set_customer", customer=jeanne)
            await till.ok("finish", receipt="none")
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert _coupons(view) == {"S1": (10, None, 0)}

            # A ticket cancelled before finish uses nothing.
            await till.ok("set_customer", customer=jeanne)
            reply = await till.ok("scan", code=SWIM)
            line = reply["ticket"]["lines"][0]
            assert (line["total"], line["coupon"], line["coupon_left"]) == ("0.00", True, 9)
            assert (await till.call("set_customer", customer=None))["code"] == "conflict"
            await till.ok("cancel_ticket")
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert _coupons(view)["S1"][0] == 10

            # Two entries with coupons, a third at the price when only... they have 10.
            await till.ok("set_customer", customer=jeanne)
            reply = await till.ok("scan", code=SWIM, qty="2")
            line = reply["ticket"]["lines"][0]
            assert (line["total"], line["coupon_left"]) == ("0.00", 8)
            await till.ok("finish", receipt="none")  # nothing to pay
            view = (await till.ok("customer", customer=jeanne))["customer"]
            left, until, _ = _coupons(view)["S1"]
            assert left == 8 and until is not None  # the clock started at the first use

            # A coupon article at price 0 is only given with a coupon.
            await till.ok("set_customer", customer=jeanne)
            refused = await till.call("scan", code=FREE)
            assert refused["code"] == "conflict" and "coupon" in refused["message"]
            await till.ok("scan", code=FREE_PASS)
            await till.ok("pay", mode="cash")
            await till.ok("finish", receipt="none")
            await till.ok("set_customer", customer=jeanne)
            reply = await till.ok("scan", code=FREE)
            assert reply["ticket"]["lines"][0]["coupon_left"] == 1
            await till.ok("finish", receipt="none")
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert _coupons(view) == {"S1": (8, until, 0), "G1": (1, None, 0)}
    with open_db(shop) as db:
        moves = db.execute("SELECT article, delta, batch IS NULL, ref LIKE 'sale:%' FROM coupon_movements "
                           "ORDER BY seq").fetchall()
    assert moves == [("S1", 10, 1, 1), ("S1", -2, 0, 1), ("G1", 2, 1, 1), ("G1", -1, 0, 1)]
    verify(shop)


async def test_expired_coupons_are_not_used(shop):
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = (await till.ok("customer_create", name="Jeanne"))["customer"]
    # A pass bought long ago and first used on 2020-01-02: valid 30 days from then.
    shop.stop()
    with open_db(shop) as db:
        seq = db.execute("INSERT INTO coupon_movements(at, customer, article, delta, valid_days) "
                         "VALUES ('2020-01-01T10:00:00+00:00', ?, 'S1', 5, 30)", (jeanne,)).lastrowid
        db.execute("INSERT INTO coupon_movements(at, customer, article, delta, batch) "
                   "VALUES ('2020-01-02T10:00:00+00:00', ?, 'S1', -1, ?)", (jeanne, seq))
    shop.start()
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert _coupons(view) == {"S1": (0, None, 4)}
            await till.ok("set_customer", customer=jeanne)
            reply = await till.ok("scan", code=SWIM)
            line = reply["ticket"]["lines"][0]
            assert line["total"] == "5.00" and "coupon" not in line  # the normal price
            await till.ok("pay", mode="cash")
            await till.ok("finish", receipt="none")
    with open_db(shop) as db:
        assert db.execute("SELECT count(*) FROM coupon_movements").fetchone()[0] == 2
    verify(shop)


async def test_two_lanes_cannot_use_the_last_coupon_twice(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as one, \
                connect(shop.ws_url, shop.tokens["2"], seller=PAUL) as two:
            jeanne = (await one.ok("customer_create", name="Jeanne"))["customer"]
            await one.ok("set_customer", customer=jeanne)
            await one.ok("scan", code=FREE_PASS)
            await one.ok("pay", mode="cash")
            await one.ok("finish", receipt="none")  # 2 coupons of G1
            await one.ok("set_customer", customer=jeanne)
            await two.ok("set_customer", customer=jeanne)
            await one.ok("scan", code=FREE)  # holds one

            # Both lanes go for the last one at once: exactly one gets it.
            replies: list[dict] = []

            async def scan(till) -> None:
                replies.append(await till.call("scan", code=FREE))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(scan, one)
                nursery.start_soon(scan, two)
            won = [r for r in replies if r["type"] != "error"]
            lost = [r for r in replies if r["type"] == "error"]
            assert len(won) == 1 and len(lost) == 1 and lost[0]["code"] == "conflict"
            view = (await one.ok("customer", customer=jeanne))["customer"]
            assert view["coupons"][0]["held"] == 2 and view["coupons"][0]["name"] == "Séance offerte"
            for till in (one, two):
                await till.call("finish", receipt="none")
            view = (await one.ok("customer", customer=jeanne))["customer"]
            assert _coupons(view)["G1"][0] == 0 and view["coupons"][0]["held"] == 0
    with open_db(shop) as db:
        used = db.execute("SELECT -sum(delta) FROM coupon_movements WHERE batch IS NOT NULL").fetchone()[0]
    assert used == 2
    verify(shop)
