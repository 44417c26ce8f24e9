"""Till money after the sale, end to end: a real server, real websockets, a real SQLite file.

A payment's mode corrected after finish (the original intact and ANNUL, an ANL and a
MAJ), a finished sale cancelled by a counter-entry (stock back, payments reversed, the
customer's credit given back, twice refused), a sale finished unpaid and paid later in
two parts, an abandoned debt (a wrong PIN changes nothing). Every refusal leaves the
database as it was; keyed requests apply once; ``laneserver verify`` passes after each.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.e2e.configured import CASHIER, PAUL, SOPHIE_PIN, SUPERVISOR, configured_shop, counts, open_db, verify
from tests.e2e.configured import lane, stock_point, table, toml
from tests.support import LiveServer, connect

CATALOG = """id,name,price,vat_rate,barcodes
T30,Article à 30,30.00,20,3000000000304
T10,Article à 10,10.00,20,3000000000106
"""
A30, A10 = "3000000000304", "3000000000106"


def _shop(tmp_path: Path, *, deferred: bool):
    config = toml(table("shop", name="Après la vente", deferred_payment=deferred), stock_point("main"), lane("1"),
                  lane("2"))
    return configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR], tills=("1", "2"))


@pytest.fixture
def shop(tmp_path: Path):
    with _shop(tmp_path, deferred=True) as server:
        yield server


def _snapshot(server: LiveServer) -> tuple:
    """Everything a refused request must leave as it was."""
    return counts(server, "sales", "payments", "stock_movements", "customer_movements", "money_in", "debts", "vouchers",
                  "replies")


async def _sell(till, *payments: dict, codes=(A30, A10), **finish) -> dict:
    for code in codes:
        await till.ok("scan", code=code)
    for payment in payments:
        await till.ok("pay", **payment)
    return await till.ok("finish", receipt="none", **finish)


async def test_correct_a_payment_mode_after_finish(shop):
    async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
        with trio.fail_after(30):
            number = (await _sell(till, {"mode": "cheque"}))["number"]
            sale = (await till.ok("sale", sale=number))["sale"]
            [paid] = sale["payments"]
            assert (paid["type"], paid["status"], paid["mode"], paid["amount"]) == ("PAI", "PAI", "cheque", "40.00")
            assert sale["due"] == "0.00"
            before = _snapshot(shop)
            fields = dict(sale=number, payment=paid["payment"], mode="card", reason="wrong key")
            refusals = [
                ((await till.call("payment_correct", **fields)), "supervisor_required"),
                ((await till.call("payment_correct", **fields, supervisor_pin="0000")), "supervisor_required"),
                ((await till.call("payment_correct", **{**fields, "mode": "bitcoin"}, supervisor_pin=SOPHIE_PIN)),
                 "not_supported"),
                ((await till.call("payment_correct", **{**fields, "reason": " "}, supervisor_pin=SOPHIE_PIN)),
                 "bad_request"),
                ((await till.call("payment_correct", **{**fields, "payment": 999}, supervisor_pin=SOPHIE_PIN)),
                 "not_found"),
                ((await till.call("payment_correct", **{**fields, "sale": 999}, supervisor_pin=SOPHIE_PIN)),
                 "not_found"),
                ((await till.call("payment_correct", **{**fields, "amount": "41.00"}, supervisor_pin=SOPHIE_PIN)),
                 "bad_request"),
                ((await till.call("payment_correct", **{**fields, "mode": "cheque"}, supervisor_pin=SOPHIE_PIN)),
                 "bad_request"),
                ((await till.call("payment_correct", **{**fields, "mode": "credit"}, supervisor_pin=SOPHIE_PIN)),
                 "conflict"),
                ((await till.call("payment_correct", **{**fields, "amount": "abc"}, supervisor_pin=SOPHIE_PIN)),
                 "bad_request"),
            ]
            for reply, code in refusals:
                assert reply["type"] == "error" and reply["code"] == code, (code, reply)
                assert reply["message"]
            assert _snapshot(shop) == before

            corrected = await till.ok("payment_correct", **fields, supervisor_pin=SOPHIE_PIN, key="fix-1")
            rows = corrected["sale"]["payments"]
            assert [(r["type"], r["status"], r["mode"], r["amount"]) for r in rows] == [
                ("PAI", "ANNUL", "cheque", "40.00"), ("ANL", "ANL", "cheque", "-40.00"), ("MAJ", "MAJ", "card", "40.00"),
            ]
            assert rows[0]["superseded_by"] == rows[1]["payment"] and rows[2]["refers"] == rows[0]["payment"]
            assert corrected["sale"]["due"] == "0.00"
            after = _snapshot(shop)
            again = await till.ok("payment_correct", **fields, supervisor_pin=SOPHIE_PIN, key="fix-1")
            assert again["sale"] == corrected["sale"] and _snapshot(shop) == after
            # The original is intact; a superseded row is corrected once.
            refused = await till.call("payment_correct", **fields, supervisor_pin=SOPHIE_PIN)
            assert refused["code"] == "conflict" and "already corrected" in refused["message"]
            # Another till sees the same sale, read back from the database.
        async with connect(shop.ws_url, shop.tokens["2"], seller=PAUL) as other:
            assert (await other.ok("sale", sale=number))["sale"] == corrected["sale"]
    db = open_db(shop)
    try:
        original = db.execute("SELECT mode, amount, type, refers FROM payments WHERE number=?",
                              (paid["payment"],)).fetchone()
        assert original == ("cheque", "40.00", "PAI", None)
        events = db.execute("SELECT seller, data FROM events WHERE kind='PaymentCorrected'").fetchall()
        assert len(events) == 1 and events[0][0] == "paul" and '"approved_by":"sophie"' in events[0][1]
    finally:
        db.close()
    verify(shop)


async def _level(till, article: str) -> str:
    [point] = (await till.ok("stock", article=article))["points"]
    return point["real"]


async def test_cancel_a_finished_sale(shop):
    async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
        with trio.fail_after(30):
            customer = (await till.ok("customer_create", name="Jeanne"))["customer"]
            await till.ok("credit_deposit", customer=customer, amount="50.00", mode="cash")
            levels = (await _level(till, "T30"), await _level(till, "T10"))
            await till.ok("set_customer", customer=customer)
            await till.ok("scan", code=A30)
            await till.ok("scan", code=A10)
            await till.ok("pay", mode="credit", amount="20.00")
            await till.ok("pay", mode="cash", amount="50.00")
            finished = await till.ok("finish", receipt="none")
            number = finished["number"]
            assert finished["change"] == "30.00"
            assert (await till.ok("customer", customer=customer))["customer"]["credit"] == "30.00"

            before = _snapshot(shop)
            assert (await till.call("sale_cancel", sale=number, reason="mistake"))["code"] == "supervisor_required"
            assert (await till.call("sale_cancel", sale=number, reason="mistake", supervisor_pin="0000"))["code"] == \
                "supervisor_required"
            assert (await till.call("sale_cancel", sale=number, reason="", supervisor_pin=SOPHIE_PIN))["code"] == \
                "bad_request"
            assert (await till.call("sale_cancel", sale=999, reason="x", supervisor_pin=SOPHIE_PIN))["code"] == \
                "not_found"
            assert _snapshot(shop) == before

        async with connect(shop.ws_url, shop.tokens["2"], seller=PAUL) as other:  # from another till
            cancelled = await other.ok("sale_cancel", sale=number, reason="customer changed mind",
                                       supervisor_pin=SOPHIE_PIN, key="cancel-1")
            counter = cancelled["number"]
            assert counter == number + 1
            assert cancelled["given_back"] == {"credit": "20.00", "cash": "20.00"}
            assert cancelled["sale"]["cancelled_by"] == counter and cancelled["sale"]["due"] == "0.00"
            assert {r["status"] for r in cancelled["sale"]["payments"]} == {"ANNUL"}
            again = await other.ok("sale_cancel", sale=number, reason="customer changed mind",
                                   supervisor_pin=SOPHIE_PIN, key="cancel-1")
            assert again["number"] == counter
            twice = await other.call("sale_cancel", sale=number, reason="again", supervisor_pin=SOPHIE_PIN)
            assert twice["code"] == "conflict" and "cancelled by sale" in twice["message"]
            of_counter = await other.call("sale_cancel", sale=counter, reason="x", supervisor_pin=SOPHIE_PIN)
            assert of_counter["code"] == "conflict"
            view = (await other.ok("sale", sale=counter))["sale"]
            assert view["cancels"] == number and view["total"] == "-40.00" and view["change"] == "-30.00"
            assert view["lane"] == "2" and view["due"] == "0.00"
            assert sorted((r["type"], r["mode"], r["amount"]) for r in view["payments"]) == [
                ("ANL", "cash", "-50.00"), ("ANL", "credit", "-20.00")]
            # Stock back, credit back.
            assert (await _level(other, "T30"), await _level(other, "T10")) == levels
            assert (await other.ok("customer", customer=customer))["customer"]["credit"] == "50.00"
            # A correction of a cancelled sale is refused.
            paid = cancelled["sale"]["payments"][1]["payment"]
            refused = await other.call("payment_correct", sale=number, payment=paid, mode="card", reason="x",
                                       supervisor_pin=SOPHIE_PIN)
            assert refused["code"] == "conflict"
    db = open_db(shop)
    try:
        assert db.execute("SELECT count(*) FROM sales WHERE cancels=?", (number,)).fetchone()[0] == 1
        lines = db.execute("SELECT lines FROM sales WHERE number=?", (counter,)).fetchone()[0]
        assert '"qty":"-1"' in lines
        assert db.execute("SELECT reason FROM stock_movements WHERE ref=? ORDER BY seq", (f"sale:{counter}",)
                          ).fetchall() == [("sale_cancel",), ("sale_cancel",)]
    finally:
        db.close()
    output = verify(shop)
    assert "money taken outside sales" in output


async def test_deferred_sale_paid_later_in_two_parts(shop):
    async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
        with trio.fail_after(30):
            customer = (await till.ok("customer_create", name="Marcel"))["customer"]
            await till.ok("scan", code=A30)
            await till.ok("scan", code=A10)
            await till.ok("pay", mode="cash", amount="5.00")
            no_customer = await till.call("finish", receipt="none", unpaid=True)
            assert no_customer["code"] == "conflict" and "customer" in no_customer["message"]
            await till.ok("set_customer", customer=customer)
            finished = await till.ok("finish", receipt="none", unpaid=True, key="fin-1")
            number = finished["number"]
            assert finished["due"] == "35.00"
            unpaid = await till.ok("unpaid")
            assert unpaid["due"] == "35.00" and [(s["sale"], s["due"]) for s in unpaid["sales"]] == [(number, "35.00")]
            debt = (await till.ok("unpaid", customer=customer))["sales"][0]
            assert (debt["customer"], debt["customer_name"]) == (customer, "Marcel")
            assert (await till.ok("sale", sale=number))["sale"]["customer_name"] == "Marcel"
            assert (await till.ok("customer", customer=customer))["customer"]["owes"] == "35.00"

            before = _snapshot(shop)
            for fields, code in [
                (dict(sale=number, mode="card", amount="50.00"), "bad_request"),
                (dict(sale=number, mode="card", amount="0"), "bad_request"),
                (dict(sale=number, mode="wallet", amount="5.00"), "not_supported"),
                (dict(sale=number, mode="bitcoin"), "not_supported"),
                (dict(sale=999, mode="card"), "not_found"),
            ]:
                reply = await till.call("pay_later", **fields)
                assert reply["type"] == "error" and reply["code"] == code, (fields, reply)
            assert _snapshot(shop) == before

            first = await till.ok("pay_later", sale=number, mode="card", amount="20.00", key="later-1")
            assert first["sale"]["due"] == "15.00"
            repeated = await till.ok("pay_later", sale=number, mode="card", amount="20.00", key="later-1")
            assert repeated["sale"] == first["sale"]
            assert (await till.ok("customer", customer=customer))["customer"]["owes"] == "15.00"
            second = await till.ok("pay_later", sale=number, mode="cash")
            assert second["sale"]["due"] == "0.00"
            assert [(r["type"], r["mode"], r["amount"]) for r in second["sale"]["payments"]] == [
                ("PAI", "cash", "5.00"), ("PAI", "card", "20.00"), ("PAI", "cash", "15.00")]
            assert (await till.ok("unpaid"))["sales"] == []
            assert (await till.ok("customer", customer=customer))["customer"]["owes"] == "0.00"
            done = await till.call("pay_later", sale=number, mode="cash")
            assert done["code"] == "conflict" and "owes nothing" in done["message"]
    verify(shop)


async def test_abandoned_debt_needs_a_supervisor(shop):
    async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
        with trio.fail_after(30):
            customer = (await till.ok("customer_create", name="Gaston"))["customer"]
            await till.ok("set_customer", customer=customer)
            number = (await _sell(till, codes=(A10,), unpaid=True))["number"]
            before = _snapshot(shop)
            assert (await till.call("debt_abandon", sale=number, reason="gone"))["code"] == "supervisor_required"
            wrong = await till.call("debt_abandon", sale=number, reason="gone", supervisor_pin="0000")
            assert wrong["code"] == "supervisor_required"
            assert (await till.call("debt_abandon", sale=number, reason=" ", supervisor_pin=SOPHIE_PIN))["code"] == \
                "bad_request"
            assert _snapshot(shop) == before
            assert (await till.ok("sale", sale=number))["sale"]["due"] == "10.00"
            abandoned = await till.ok("debt_abandon", sale=number, reason="moved away", supervisor_pin=SOPHIE_PIN)
            assert abandoned["sale"]["due"] == "0.00"
            assert [(r["type"], r["mode"], r["amount"]) for r in abandoned["sale"]["payments"]] == [
                ("ABD", "debt", "10.00")]
            assert (await till.ok("unpaid"))["sales"] == []
            again = await till.call("debt_abandon", sale=number, reason="x", supervisor_pin=SOPHIE_PIN)
            assert again["code"] == "conflict"
            # A paid sale has no debt to abandon.
            paid = (await _sell(till, {"mode": "card"}, codes=(A10,)))["number"]
            assert (await till.call("debt_abandon", sale=paid, reason="x", supervisor_pin=SOPHIE_PIN))["code"] == \
                "conflict"
    verify(shop)


async def test_finish_unpaid_needs_the_shop_option(tmp_path):
    with _shop(tmp_path, deferred=False) as server:
        async with connect(server.ws_url, server.tokens["1"], seller=PAUL) as till:
            with trio.fail_after(30):
                customer = (await till.ok("customer_create", name="Ana"))["customer"]
                await till.ok("set_customer", customer=customer)
                await till.ok("scan", code=A10)
                before = _snapshot(server)
                refused = await till.call("finish", receipt="none", unpaid=True)
                assert refused["code"] == "not_supported" and "deferred_payment" in refused["message"]
                assert _snapshot(server) == before
                assert len((await till.ok("ticket"))["ticket"]["lines"]) == 1
