"""Customers and their money end to end: a real server, real websockets, a real SQLite file.

The directory (create, search, edit, a card scanned at the till), money on account
(SPEC §12: 100.00 on account, 70.00 spent → 30.00), the wallet (short → a top-up,
top-up cancels), vouchers (partial use → a remainder voucher, expired, used twice),
a supervisor's correction, two lanes drawing on one wallet at once, and kill -9
between pay and finish and after finish. After each, ``laneserver verify`` passes.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import trio

from tests.e2e.configured import CASHIER, PAUL, SUPERVISOR, configured_shop, open_db, verify
from tests.e2e.configured import file_printer, lane, stock_point, table, toml
from tests.support import LiveServer, connect, until

CATALOG = """id,name,price,vat_rate,barcodes
T70,Article à 70,70.00,20,3000000000700
T30,Article à 30,30.00,20,3000000000304
T10,Article à 10,10.00,20,3000000000106
"""
A70, A30, A10 = "3000000000700", "3000000000304", "3000000000106"
CARD = "9900000000011"


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(table("shop", name="Clients"), stock_point("main"), lane("1", printer="p1"), lane("2"),
                  file_printer(tmp_path))
    with configured_shop(tmp_path, config, CATALOG, sellers=[CASHIER, SUPERVISOR], tills=("1", "2")) as server:
        yield server


def _sums(server: LiveServer) -> dict[tuple[str, str], Decimal]:
    with open_db(server) as db:
        rows = db.execute("SELECT customer, account, delta FROM customer_movements").fetchall()
    sums: dict[tuple[str, str], Decimal] = {}
    for customer, account, delta in rows:
        sums[(customer, account)] = sums.get((customer, account), Decimal(0)) + Decimal(delta)
    return sums


async def test_directory_create_search_edit_and_card_scan(shop):
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            created = await till.ok("customer_create", name="Jeanne Martin", card=CARD, contact="06 12 34 56 78",
                                    key="c1")
            jeanne = created["customer"]
            again = await till.ok("customer_create", name="Jeanne Martin", card=CARD, contact="06 12 34 56 78",
                                  key="c1")
            assert again["customer"] == jeanne  # the key: created once
            reused = await till.call("customer_create", name="Jeanne Martin", card=CARD, key="c1")
            assert (reused["code"], reused["key_reused"]) == ("conflict", True)  # other fields: not a repeat
            other = (await till.ok("customer_create", name="Société Dupont", business=True))["customer"]
            assert other != jeanne
            refused = await till.call("customer_create", name="Double", card=CARD)
            assert refused["code"] == "conflict" and refused["field"] == "card"
            assert (await till.call("customer_create", name="  "))["code"] == "bad_request"

            found = await till.ok("customer_search", text="jeanne")
            assert [c["customer"] for c in found["customers"]] == [jeanne]
            assert (await till.ok("customer_search", text=CARD))["customers"][0]["customer"] == jeanne
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert (view["name"], view["card"], view["credit"], view["wallet"], view["wallet_enabled"]) == (
                "Jeanne Martin", CARD, "0.00", "0.00", False)
            edited = (await till.ok("customer_edit", customer=jeanne, name="Jeanne Martin-Roux", wallet=True))
            assert edited["customer"]["name"] == "Jeanne Martin-Roux" and edited["customer"]["wallet_enabled"]
            assert (await till.call("customer", customer="C999"))["code"] == "not_found"
            assert (await till.call("customer_edit", customer="C999", name="x"))["code"] == "not_found"

            # The card scanned at the till selects the customer; an article code still sells.
            reply = await till.ok("scan", code=CARD)
            assert reply["ticket"]["customer"] == jeanne and reply["ticket"]["lines"] == []
            reply = await till.ok("scan", code=A10)
            assert reply["ticket"]["customer"] == jeanne and len(reply["ticket"]["lines"]) == 1
            reply = await till.ok("set_customer", customer=None)
            assert reply["ticket"]["customer"] is None
            reply = await till.ok("set_customer", card=CARD)
            assert reply["ticket"]["customer"] == jeanne
            reply = await till.ok("set_customer", customer=other)
            assert reply["ticket"]["customer"] == other
            assert (await till.call("set_customer", customer="C999"))["code"] == "not_found"
            neither = await till.call("set_customer")  # an absent customer is not a null one
            assert neither["code"] == "bad_request" and neither["field"] == "customer"
            assert (await till.call("scan", code="0000000"))["code"] == "unknown_code"
    # Nothing of the refused requests was written.
    with open_db(shop) as db:
        assert db.execute("SELECT count(*) FROM customers").fetchone()[0] == 2


async def test_credit_100_ticket_70_leaves_30(shop):
    """SPEC §12: customer credit 100.00, ticket 70.00 paid from credit → credit 30.00."""
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = (await till.ok("customer_create", name="Jeanne"))["customer"]
            for bad in ("0", "-5.00", "1.234", "abc"):
                assert (await till.call("credit_deposit", customer=jeanne, amount=bad, mode="cash"))["code"] == \
                    "bad_request"
            assert (await till.call("credit_deposit", customer=jeanne, amount="10.00", mode="credit"))["code"] == \
                "bad_request"
            assert (await till.call("credit_deposit", customer="C999", amount="10.00", mode="cash"))["code"] == \
                "not_found"
            deposit = await till.ok("credit_deposit", customer=jeanne, amount="100.00", mode="cash", key="d1")
            assert deposit["customer"]["credit"] == "100.00"
            await till.ok("credit_deposit", customer=jeanne, amount="100.00", mode="cash", key="d1")  # once

            await till.ok("scan", code=A70)
            assert (await till.call("pay", mode="credit"))["code"] == "conflict"  # no customer yet
            await till.ok("set_customer", customer=jeanne)
            paid = await till.ok("pay", mode="credit")
            assert paid["ticket"]["payments"][0]["mode"] == "credit"
            assert paid["ticket"]["payments"][0]["amount"] == "70.00"
            # Held: not spent yet, but not available to another ticket.
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert (view["credit"], view["credit_available"]) == ("100.00", "30.00")
            # The customer cannot change while the credit pays.
            assert (await till.call("set_customer", customer=None))["code"] == "conflict"
            done = await till.ok("finish", receipt="none")
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert (view["credit"], view["credit_available"]) == ("30.00", "30.00")
            assert view["history"][0]["number"] == done["number"] and view["history"][0]["total"] == "70.00"
    assert _sums(shop)[(jeanne, "credit")] == Decimal("30.00")
    verify(shop)


async def test_wallet_short_topup_and_cancel(shop):
    size_before = shop.receipts.stat().st_size if shop.receipts.exists() else 0
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = (await till.ok("customer_create", name="Jeanne"))["customer"]
            assert (await till.call("wallet_topup", customer=jeanne, amount="20.00", mode="cash"))["code"] == "conflict"
            await till.ok("customer_edit", customer=jeanne, wallet=True)
            first = await till.ok("wallet_topup", customer=jeanne, amount="20.00", mode="cash")
            assert first["customer"]["wallet"] == "20.00"
            await till.ok("scan", code=A70)
            await till.ok("set_customer", customer=jeanne)
            short = await till.call("pay", mode="wallet")
            assert short["code"] == "insufficient_funds"
            assert (short["available"], short["short"]) == ("20.00", "50.00")
            # The till offers a top-up of what is short.
            second = await till.ok("wallet_topup", customer=jeanne, amount=short["short"], mode="card")
            assert second["customer"]["wallet"] == "70.00" and second["topup"] != first["topup"]
            await till.ok("pay", mode="wallet", amount="60.00")
            # 10.00 left in the wallet, held 60: the first top-up (20.00) cannot be cancelled now.
            refused = await till.call("wallet_topup_cancel", topup=first["topup"])
            assert refused["code"] == "insufficient_funds" and refused["available"] == "10.00"
            await till.ok("pay", mode="cash", amount="10.00")
            await till.ok("finish", receipt="none")
            third = await till.ok("wallet_topup", customer=jeanne, amount="15.00", mode="cheque")
            cancelled = await till.ok("wallet_topup_cancel", topup=third["topup"], key="x1")
            assert cancelled["customer"]["wallet"] == "10.00"
            again = await till.ok("wallet_topup_cancel", topup=third["topup"], key="x1")  # the key: once
            assert again["customer"]["wallet"] == "10.00"
            assert (await till.call("wallet_topup_cancel", topup=third["topup"]))["code"] == "conflict"
            assert (await till.call("wallet_topup_cancel", topup=999))["code"] == "not_found"
    assert _sums(shop)[(jeanne, "wallet")] == Decimal("10.00")
    with open_db(shop) as db:
        rows = db.execute("SELECT kind, mode, amount FROM money_in ORDER BY seq").fetchall()
    assert rows == [("topup", "cash", "20.00"), ("topup", "card", "50.00"), ("topup", "cheque", "15.00"),
                    ("topup_cancel", "cheque", "-15.00")]
    # A top-up receipt per top-up on the lane's printer.
    await _grows(shop.receipts, size_before)
    verify(shop)


async def _grows(path: Path, before: int) -> None:
    with trio.fail_after(10):
        await until(lambda: path.exists() and path.stat().st_size > before)


async def test_voucher_partial_use_remainder_expired_and_used(shop):
    with trio.fail_after(60):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            issued = (await till.ok("voucher_issue", amount="50.00", mode="cash"))["voucher"]
            code = issued["code"]
            assert (issued["amount"], issued["status"]) == ("50.00", "valid")
            await till.ok("scan", code=A30)
            assert (await till.call("pay", mode="voucher"))["code"] == "bad_request"  # no code
            assert (await till.call("pay", mode="voucher", reference="V000"))["code"] == "not_found"
            paid = await till.ok("pay", mode="voucher", reference=code)
            assert paid["ticket"]["payments"][0]["amount"] == "30.00"  # the balance, not the voucher
            async with connect(shop.ws_url, shop.tokens["2"], seller=PAUL) as other:
                await other.ok("scan", code=A10)
                held = await other.call("pay", mode="voucher", reference=code)
                assert held["code"] == "conflict"  # being used on lane 1
            done = await till.ok("finish", receipt="none")
            [rest] = done["vouchers"]
            assert (rest["amount"], rest["origin"]) == ("20.00", "remainder") and rest["code"] != code
            used = (await till.ok("voucher", code=code))["voucher"]
            assert (used["status"], used["used_amount"], used["remainder"]) == ("used", "30.00", rest["code"])
            await till.ok("scan", code=A10)
            assert (await till.call("pay", mode="voucher", reference=code))["code"] == "conflict"  # used
            # The remainder pays 10 of its 20; removing the payment releases it.
            paid = await till.ok("pay", mode="voucher", reference=rest["code"], amount="5.00")
            await till.ok("remove_payment", payment=paid["ticket"]["payments"][0]["payment"])
            assert (await till.ok("voucher", code=rest["code"]))["voucher"]["status"] == "valid"
            await till.ok("pay", mode="voucher", reference=rest["code"])
            done = await till.ok("finish", receipt="none")
            assert done["vouchers"][0]["amount"] == "10.00"
    # An expired voucher, as one issued long ago would be (before vouchers were chained:
    # a row before the first chained one, which verify does not check against the chain).
    shop.stop()
    with open_db(shop) as db:
        db.execute("INSERT INTO vouchers(rowid, code, amount, issued_at, valid_until, origin) "
                   "VALUES (-1, 'VOLD', '25.00', '2020-01-01T10:00:00+00:00', '2021-01-01', 'sold')")
    shop.start()
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            await till.ok("scan", code=A10)
            expired = await till.call("pay", mode="voucher", reference="VOLD")
            assert expired["code"] == "conflict" and "expired" in expired["message"]
            assert (await till.ok("voucher", code="VOLD"))["voucher"]["status"] == "expired"
    with open_db(shop) as db:
        uses = db.execute("SELECT code, amount, remainder IS NOT NULL FROM voucher_uses ORDER BY rowid").fetchall()
        money = db.execute("SELECT kind, mode, amount FROM money_in").fetchall()
    assert uses == [(code, "30.00", 1), (rest["code"], "10.00", 1)]
    assert money == [("voucher", "cash", "50.00")]
    verify(shop)


async def test_supervisor_correction(shop):
    with trio.fail_after(30):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = (await till.ok("customer_create", name="Jeanne"))["customer"]
            await till.ok("credit_deposit", customer=jeanne, amount="10.00", mode="cash")
            fields = dict(customer=jeanne, account="credit", amount="-4.00", reason="double deposit")
            assert (await till.call("balance_correct", **fields))["code"] == "supervisor_required"
            assert (await till.call("balance_correct", **fields, supervisor_pin="0000"))["code"] == \
                "supervisor_required"
            assert (await till.call("balance_correct", **{**fields, "amount": "-11.00"}, supervisor_pin="4321")
                    )["code"] == "insufficient_funds"
            corrected = await till.ok("balance_correct", **fields, supervisor_pin="4321")
            assert corrected["customer"]["credit"] == "6.00"
    with open_db(shop) as db:
        row = db.execute("SELECT kind, delta, seller, approved_by, reason FROM customer_movements "
                         "WHERE kind='correction'").fetchall()
    assert row == [("correction", "-4.00", "paul", "sophie", "double deposit")]


async def test_two_lanes_top_ups_and_spends_on_one_wallet_never_lose_money(shop):
    """Lanes 1 and 2 pay from one wallet while top-ups land: the wallet never goes
    below zero, every sale's spend is a movement, and the balance is their sum."""
    with trio.fail_after(120):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as admin:
            jeanne = (await admin.ok("customer_create", name="Jeanne", wallet=True))["customer"]
            await admin.ok("wallet_topup", customer=jeanne, amount="30.00", mode="cash")
        finished: list[int] = []
        short: list[int] = []

        async def lane(token: str, rounds: int) -> None:
            async with connect(shop.ws_url, token, seller=PAUL) as till:
                for _ in range(rounds):
                    await till.ok("scan", code=A10)
                    await till.ok("set_customer", customer=jeanne)
                    reply = await till.call("pay", mode="wallet")
                    if reply["type"] == "error":
                        assert reply["code"] == "insufficient_funds"
                        short.append(1)
                        await till.ok("pay", mode="cash")
                    else:
                        finished.append(1)
                    await till.ok("finish", receipt="none")

        async def top_ups(count: int) -> None:
            async with connect(shop.ws_url, shop.tokens["2"], seller=PAUL) as till:
                for _ in range(count):
                    await till.ok("wallet_topup", customer=jeanne, amount="10.00", mode="cash")
                    await trio.lowlevel.checkpoint()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(lane, shop.tokens["1"], 12)
            nursery.start_soon(lane, shop.tokens["2"], 12)
            nursery.start_soon(top_ups, 8)
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as admin:
            view = (await admin.ok("customer", customer=jeanne))["customer"]
    spent = Decimal(10) * len(finished)
    assert len(finished) + len(short) == 24 and len(finished) <= 11  # at most 30 + 80 = 110
    wallet = Decimal("110.00") - spent
    assert Decimal(view["wallet"]) == wallet >= 0
    assert _sums(shop)[(jeanne, "wallet")] == wallet
    with open_db(shop) as db:
        spends = db.execute("SELECT count(*) FROM customer_movements WHERE kind='spend'").fetchone()[0]
        paid = db.execute("SELECT count(*) FROM payments WHERE mode='wallet'").fetchone()[0]
    assert spends == paid == len(finished)
    verify(shop)


async def _balances(till, customer: str) -> tuple[str, str, str, str]:
    """The customer's credit, credit available, wallet and wallet available."""
    view = (await till.ok("customer", customer=customer))["customer"]
    return view["credit"], view["credit_available"], view["wallet"], view["wallet_available"]


async def test_kill_9_between_pay_and_finish_and_after_finish(shop):
    with trio.fail_after(90):
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            jeanne = (await till.ok("customer_create", name="Jeanne", wallet=True))["customer"]
            await till.ok("credit_deposit", customer=jeanne, amount="100.00", mode="cash")
            await till.ok("wallet_topup", customer=jeanne, amount="40.00", mode="cash")
            await till.ok("scan", code=A70)
            await till.ok("set_customer", customer=jeanne)
            await till.ok("pay", mode="credit", amount="50.00")
            await till.ok("pay", mode="wallet", amount="20.00")
        shop.kill()
        shop.start()
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            # Still held by lane 1's open ticket after the restart: nothing spent, nothing free.
            assert await _balances(till, jeanne) == ("100.00", "50.00", "40.00", "20.00")
            async with connect(shop.ws_url, shop.tokens["2"], seller=PAUL) as other:
                await other.ok("scan", code=A70)
                await other.ok("set_customer", customer=jeanne)
                refused = await other.call("pay", mode="credit")
                assert (refused["code"], refused["available"], refused["short"]) == (
                    "insufficient_funds", "50.00", "20.00")
                await other.ok("cancel_ticket")
            await till.ok("finish", receipt="none")
        shop.kill()
        shop.start()
        async with connect(shop.ws_url, shop.tokens["1"], seller=PAUL) as till:
            assert await _balances(till, jeanne) == ("50.00", "50.00", "20.00", "20.00")
    sums = _sums(shop)
    assert (sums[(jeanne, "credit")], sums[(jeanne, "wallet")]) == (Decimal("50.00"), Decimal("20.00"))
    verify(shop)
