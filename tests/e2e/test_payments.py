"""Till money end to end: a real server with a shop file (cash rounding 0.05, a meal
voucher cap, a mode of the shop's own, a file printer), real websocket clients, the
real SQLite file and ``laneserver verify`` at the end.

SPEC §12 rows: cash due 10.00 given 20.00 → change 10.00; 300.00 in 3 cheques; a
ticket of 33.10 of which 10.70 is eligible, cap 19.00 → at most 10.70 by meal voucher;
due 100.00, 40.00 cash then card → card takes 60.00.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from tests.e2e.configured import configured_shop, printed, rows, verify
from tests.e2e.configured import entry, file_printer, lane, stock_point, table, toml
from tests.support import LiveServer, WsClient, connect

CATALOG = """id,name,price,vat_rate,barcodes,meal_voucher
T10,Article à 10,10.00,20,,false
T1002,Article à 10.02,10.02,20,,false
T1003,Article à 10.03,10.03,20,,false
H100,Article à 100,100.00,20,,false
C300,Article à 300,300.00,20,,false
P2240,Vin,22.40,20,,false
M1070,Sandwich,10.70,10,,true
M30,Plateau repas,30.00,10,,true
"""

DEADLINE = 60
MARIE = ("marie", "1234", "cashier")


def _config(tmp_path: Path, *, auto_finish: bool) -> str:
    return toml(
        table("shop", name="Caisse CHF", cash_rounding="0.05", meal_voucher_cap="19.00", auto_finish=auto_finish),
        entry("payment_modes", id="bon_mall", label="Bon centre commercial"),
        entry("payment_modes", id="euros", label="Euros", change=True),
        stock_point("main"),
        lane("1", printer="p1"),
        file_printer(tmp_path),
    )


@pytest.fixture
def shop(tmp_path: Path):
    with configured_shop(tmp_path, _config(tmp_path, auto_finish=False), CATALOG, sellers=[MARIE],
                         tills=("1",)) as server:
        yield server


@pytest.fixture
def auto_shop(tmp_path: Path):
    with configured_shop(tmp_path, _config(tmp_path, auto_finish=True), CATALOG, sellers=[MARIE],
                         tills=("1",)) as server:
        yield server


@asynccontextmanager
async def _till(server: LiveServer) -> AsyncIterator[WsClient]:
    """The till of lane 1 (marie signed in), within the test's deadline."""
    with trio.fail_after(DEADLINE):
        async with connect(server.ws_url, server.tokens["1"]) as till:
            yield till


def _payments(server: LiveServer, sale: int, columns: str = "mode, amount") -> list[tuple]:
    """A sale's payment rows, in order."""
    return rows(server, f"SELECT {columns} FROM payments WHERE sale=? ORDER BY number", sale)


async def _receipt_text(server: LiveServer, needle: str) -> str:
    """The receipts file once it holds ``needle`` (the printer writes after the reply)."""
    return (await printed(server, needle)).decode("cp858", errors="replace")


async def test_spec_rows_cash_cheques_meal_voucher_split(shop):
    async with _till(shop) as till:
        assert till.hello["shop"]["payment_modes"][:4] == ["cash", "card", "cheque", "meal_voucher"]
        assert till.hello["shop"]["payment_modes"][-2:] == ["bon_mall", "euros"]

        # cash: due 10.00, given 20.00 → change 10.00
        await till.ok("add", article="T10")
        reply = await till.ok("pay", mode="cash", amount="20.00")
        ticket = reply["ticket"]
        assert (ticket["balance"], ticket["change"]) == ("0.00", "10.00") and "rounding" not in ticket
        done = await till.ok("finish", receipt="none")
        assert (done["total"], done["change"]) == ("10.00", "10.00")

        # cheques: 300.00 in 3 instalments, one month apart
        await till.ok("add", article="C300")
        reply = await till.ok("pay", mode="cheque", instalments=3, reference="CIC 0042", key="chq-1")
        [cheque] = reply["ticket"]["payments"]
        assert [i["amount"] for i in cheque["instalments"]] == ["100.00"] * 3
        dues = [i["due"] for i in cheque["instalments"]]
        assert len(set(dues)) == 3 and dues == sorted(dues)
        first = int(dues[0][5:7])
        assert [int(d[5:7]) for d in dues] == [(first - 1 + k) % 12 + 1 for k in range(3)]
        cheques_sale = (await till.ok("finish"))["number"]
        text = await _receipt_text(shop, "3/3 le")
        assert "1/3 le" in text and "Chèque" in text

        # meal voucher: 33.10 of which 10.70 eligible, cap 19.00 → at most 10.70
        await till.ok("add", article="P2240")
        await till.ok("add", article="M1070")
        refusal = await till.call("pay", mode="meal_voucher", amount="19.00", reference="TR 1")
        assert refusal["code"] == "conflict" and refusal["payable"] == "10.70"
        reply = await till.ok("pay", mode="meal_voucher", reference="TR 1")
        assert reply["ticket"]["payments"][0]["amount"] == "10.70"
        assert reply["ticket"]["balance"] == "22.40"
        await till.ok("pay", mode="card")
        await till.ok("finish", receipt="none")

        # split: due 100.00, 40.00 cash then card takes 60.00
        await till.ok("add", article="H100")
        reply = await till.ok("pay", mode="cash", amount="40.00")
        assert reply["ticket"]["balance"] == "60.00"
        reply = await till.ok("pay", mode="card")
        assert [p["amount"] for p in reply["ticket"]["payments"]] == ["40.00", "60.00"]
        done = await till.ok("finish", receipt="none")
        assert (done["total"], done["change"]) == ("100.00", "0.00")

    cheques = _payments(shop, cheques_sale, "mode, amount, reference")
    assert [(m, a) for m, a, _ in cheques] == [("cheque", "100.00")] * 3
    assert [r.split(" due ")[0] for _, _, r in cheques] == [f"CIC 0042 instalment {k}/3" for k in (1, 2, 3)]
    verify(shop)


async def test_cash_rounding_to_five_centimes(shop):
    async with _till(shop) as till:
        # 10.02 → 10.00 in cash (the default amount is what is due in cash)
        await till.ok("add", article="T1002")
        reply = await till.ok("pay", mode="cash")
        ticket = reply["ticket"]
        assert ticket["payments"][0]["amount"] == "10.00"
        assert (ticket["total"], ticket["rounding"], ticket["paid"], ticket["balance"], ticket["change"]) == (
            "10.02", "-0.02", "10.00", "0.00", "0.00")
        down = await till.ok("finish")
        assert (down["total"], down["change"]) == ("10.02", "0.00")
        text = await _receipt_text(shop, "Arrondi")
        assert "-0,02 €" in text

        # 10.03 → 10.05: given 20.00, change 9.95
        await till.ok("add", article="T1003")
        short = await till.call("pay", mode="cash", amount="10.04")
        assert (short["code"], short["balance"], short["payable"]) == ("bad_request", "10.03", "10.05")
        reply = await till.ok("pay", mode="cash", amount="20.00")
        assert (reply["ticket"]["rounding"], reply["ticket"]["change"]) == ("0.02", "9.95")
        up = await till.ok("finish", receipt="none")
        assert up["change"] == "9.95"

        # card pays to the cent, never rounded
        await till.ok("add", article="T1002")
        reply = await till.ok("pay", mode="card")
        assert reply["ticket"]["payments"][0]["amount"] == "10.02" and "rounding" not in reply["ticket"]
        await till.ok("finish", receipt="none")

    assert _payments(shop, down["number"]) == [
        ("cash", "10.00"), ("rounding", "0.02")]
    assert _payments(shop, up["number"]) == [
        ("cash", "20.00"), ("rounding", "-0.02")]
    assert rows(shop, "SELECT total, paid, change FROM sales WHERE number=?", up["number"]) == [
        ("10.03", "20.00", "9.95")]
    verify(shop)


async def test_meal_voucher_over_what_is_payable_refused_or_forfeited(shop):
    async with _till(shop) as till:
        await till.ok("add", article="P2240")
        await till.ok("add", article="M1070")
        before = (await till.ok("ticket"))["ticket"]
        missing = await till.call("pay", mode="meal_voucher", amount="5.00")
        assert missing["code"] == "bad_request"
        refusal = await till.call("pay", mode="meal_voucher", amount="15.00", reference="TR 77")
        assert (refusal["code"], refusal["payable"]) == ("conflict", "10.70")
        refusal = await till.call("pay", mode="meal_voucher", amount="15.00", reference="TR 77", excess="refuse")
        assert refusal["code"] == "conflict"
        assert (await till.ok("ticket"))["ticket"] == before
        reply = await till.ok("pay", mode="meal_voucher", amount="15.00", reference="TR 77", excess="forfeit")
        [voucher] = reply["ticket"]["payments"]
        assert (voucher["amount"], voucher["tendered"], voucher["forfeited"]) == ("10.70", "15.00", "4.30")
        assert (reply["ticket"]["balance"], reply["ticket"]["change"]) == ("22.40", "0.00")
        # the cap is reached for this ticket's eligible lines: no second voucher
        again = await till.call("pay", mode="meal_voucher", amount="1.00", reference="TR 78")
        assert (again["code"], again["payable"]) == ("conflict", "0.00")
        await till.ok("pay", mode="card")
        sale = await till.ok("finish")
        text = await _receipt_text(shop, "non rendu")
        assert "Titre-restaurant" in text and "4,30 €" in text

        # cap 19.00 across two vouchers on a 30.00 eligible tray
        await till.ok("add", article="M30")
        await till.ok("pay", mode="meal_voucher", amount="12.00", reference="TR 80")
        over = await till.call("pay", mode="meal_voucher", amount="8.00", reference="TR 81")
        assert (over["code"], over["payable"]) == ("conflict", "7.00")
        reply = await till.ok("pay", mode="meal_voucher", amount="7.00", reference="TR 81")
        assert reply["ticket"]["balance"] == "11.00"
        over_card = await till.call("pay", mode="card", amount="11.01")
        assert (over_card["code"], over_card["balance"]) == ("bad_request", "11.00")
        await till.ok("pay", mode="cash", amount="11.00")
        await till.ok("finish", receipt="none")

    assert _payments(shop, sale["number"], "mode, amount, reference") == [
        ("meal_voucher", "10.70", "TR 77 tendered 15.00, forfeited 4.30"), ("card", "22.40", None)]
    verify(shop)


async def test_remove_a_payment_and_its_rounding(shop):
    async with _till(shop) as till:
        await till.ok("add", article="T1002")
        await till.ok("pay", mode="card", amount="5.00")
        reply = await till.ok("pay", mode="cash", amount="10.00")
        assert (reply["ticket"]["rounding"], reply["ticket"]["change"]) == ("-0.02", "5.00")
        reply = await till.ok("remove_payment", payment=2, key="rm-2")
        ticket = reply["ticket"]
        assert "rounding" not in ticket and (ticket["paid"], ticket["balance"]) == ("5.00", "5.02")
        reply = await till.ok("remove_payment", payment=1)
        assert (reply["ticket"]["paid"], reply["ticket"]["balance"], reply["ticket"]["payments"]) == (
            "0.00", "10.02", [])
        # payment numbers are not reused
        reply = await till.ok("pay", mode="cash")
        assert reply["ticket"]["payments"][0]["payment"] == 3
        done = await till.ok("finish", receipt="none")
        assert done["total"] == "10.02"
    assert _payments(shop, done["number"]) == [
        ("cash", "10.00"), ("rounding", "0.02")]
    verify(shop)


async def test_unknown_mode_and_bad_fields_change_nothing(shop):
    async with _till(shop) as till:
        await till.ok("add", article="T10")
        before = (await till.ok("ticket"))["ticket"]
        events = rows(shop, "SELECT count(*) FROM events")
        unknown = await till.call("pay", mode="bitcoin", key="k-unknown")
        assert unknown["code"] == "not_supported"
        assert unknown["modes"][:4] == ["cash", "card", "cheque", "meal_voucher"]
        assert unknown["modes"][-2:] == ["bon_mall", "euros"] and "bitcoin" in unknown["message"]
        for fields in (
            {"mode": "card", "instalments": 3},
            {"mode": "cheque", "instalments": 13},
            {"mode": "cash", "excess": "forfeit"},
            {"mode": "cheque", "amount": "10.01"},
            {"mode": "bon_mall", "amount": "10.01"},
            {"mode": "meal_voucher", "reference": "TR 1"},  # nothing eligible
        ):
            refusal = await till.call("pay", **fields)
            assert refusal["type"] == "error" and refusal["code"] in ("bad_request", "conflict"), (fields, refusal)
        bad = await till.call("pay", mode="meal_voucher", reference="TR", excess="maybe")
        assert bad["code"] == "bad_request" and bad["field"] == "excess"
        assert (await till.ok("ticket"))["ticket"] == before
        assert rows(shop, "SELECT count(*) FROM events") == events
        # a mode of the shop's own with change, and one without
        await till.ok("pay", mode="bon_mall", amount="4.00")
        reply = await till.ok("pay", mode="euros", amount="10.00")
        assert reply["ticket"]["change"] == "4.00"
        done = await till.ok("finish", receipt="none")
        assert done["change"] == "4.00"
    assert _payments(shop, done["number"]) == [
        ("bon_mall", "4.00"), ("euros", "10.00")]
    verify(shop)


async def test_auto_finish_answers_with_the_sale(auto_shop):
    async with _till(auto_shop) as till:
        await till.ok("add", article="T1002")
        partial = await till.ok("pay", mode="card", amount="4.00")
        assert partial["ticket"]["balance"] == "6.02"
        done = await till.ok("pay", mode="cash", amount="10.00", key="pay-last")
        # The sale's reply, with the lane's new empty ticket (no ticket event comes for it).
        assert done["ticket"]["lines"] == [] and done["ticket"]["rev"] == partial["ticket"]["rev"] + 1
        assert (done["total"], done["change"]) == ("10.02", "4.00") and done["number"] >= 1
        again = await till.ok("pay", mode="cash", amount="10.00", key="pay-last")
        assert again["number"] == done["number"]
        ticket = (await till.ok("ticket"))["ticket"]
        assert ticket["lines"] == [] and ticket["payments"] == []
        text = await _receipt_text(auto_shop, "Rendu")
        assert "Arrondi" in text
        # a pay that leaves a balance does not finish
        await till.ok("add", article="T10")
        reply = await till.ok("pay", mode="cash", amount="5.00")
        assert reply["ticket"]["balance"] == "5.00"
        second = await till.ok("pay", mode="card", receipt="none")
        assert second["number"] == done["number"] + 1 and second["change"] == "0.00"
    assert rows(auto_shop, "SELECT count(*) FROM sales") == [(2,)]
    assert _payments(auto_shop, done["number"]) == [
        ("card", "4.00"), ("cash", "10.00"), ("rounding", "0.02")]
    verify(auto_shop)
