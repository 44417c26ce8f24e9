"""Card payments through the simulated payment terminal, end to end.

A real server with a configuration file: lane 1 has a terminal that takes a
moment (``delay_seconds = 0.5``) and gives up after 2 s, lane 2 one that
answers at once. The simulated terminal answers from the cents of the amount
(.91 declined, .92 cancelled, .93 never), so the catalog has one article for
each. What the terminal was asked is read from the server's JSON log lines
(``terminal_charge_started``), the only place a charge shows when it was not
approved.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import trio

from laneserver.hw.terminal import authorisation_code
from tests.e2e.configured import PAUL, configured_shop, lane, stock_point, terminal, toml
from tests.support import LiveServer, connect, until

CATALOG = """id,name,price,vat_rate,barcodes
W90,Vin à 8.90,8.90,20,3000000000908
W91,Vin à 8.91,8.91,20,3000000000915
W92,Vin à 8.92,8.92,20,3000000000922
W93,Vin à 8.93,8.93,20,3000000000939
"""
APPROVED, DECLINED, CANCELLED, SILENT = "3000000000908", "3000000000915", "3000000000922", "3000000000939"
LANE1_TIMEOUT = 2.0


@pytest.fixture
def shop(tmp_path: Path):
    config = toml(stock_point("main"), lane("1", stock_point=None, terminal="t1"),
                  lane("2", stock_point=None, terminal="t2"),
                  terminal("t1", kind="simulator", delay_seconds=0.5, timeout_seconds=LANE1_TIMEOUT),
                  terminal("t2", delay_seconds=0.0))
    with configured_shop(tmp_path, config, CATALOG) as server:
        yield server


def charges(server: LiveServer, lane: str) -> list[dict]:
    """The charges the terminals were asked for, from the server's log lines."""
    found = []
    for line in list(server.output):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "terminal_charge_started" and entry["reference"].startswith(f"{lane}-"):
            found.append(entry)
    return found


async def test_an_approved_card_is_recorded_with_its_authorisation_and_the_sale_verifies(shop):
    token = shop.pair("till", "1")
    with trio.fail_after(30):
        async with connect(shop.ws_url, token, seller=PAUL) as till:
            await till.ok("scan", code=APPROVED, qty=2)
            reply = await till.ok("pay", mode="card", amount="10.00", reference="typed by hand", key="p1")
            [charge] = charges(shop, "1")
            assert charge["amount"] == "10.00"
            [payment] = reply["ticket"]["payments"]
            assert payment == {"payment": 1, "mode": "card", "amount": "10.00",
                               "reference": authorisation_code(Decimal("10.00"), charge["reference"])}
            reply = await till.ok("pay", mode="card", key="p2")  # the balance
            assert reply["ticket"]["balance"] == "0.00"
            assert [c["amount"] for c in charges(shop, "1")] == ["10.00", "7.80"]
            done = await till.ok("finish", receipt="none")
            assert done["total"] == "17.80" and done["change"] == "0.00"
    assert shop.cli("verify", check=False).returncode == 0


@pytest.mark.parametrize(("code", "outcome"), [(DECLINED, "declined"), (CANCELLED, "cancelled"), (SILENT, "timeout")])
async def test_a_card_not_approved_changes_nothing(shop, code, outcome):
    token = shop.pair("till", "1")
    with trio.fail_after(30):
        async with connect(shop.ws_url, token, seller=PAUL) as till:
            await till.ok("scan", code=code)
            before = (await till.ok("ticket"))["ticket"]
            start = trio.current_time()
            refusal = await till.call("pay", mode="card", key="try-1")
            took = trio.current_time() - start
            assert refusal["type"] == "error", refusal
            assert (refusal["code"], refusal["outcome"]) == ("payment_declined", outcome)
            assert "not paid" in refusal["message"]
            assert (await till.ok("ticket"))["ticket"] == before
            if outcome == "timeout":
                assert LANE1_TIMEOUT <= took < LANE1_TIMEOUT + 3
            else:
                assert 0.5 <= took < 3
            # Another mode still works, and the sale is sound.
            await till.ok("pay", mode="cash", amount="10.00")
            await till.ok("finish", receipt="none")
    assert len(charges(shop, "1")) == 1
    assert shop.cli("verify", check=False).returncode == 0


async def test_a_lane_waiting_for_its_terminal_does_not_block_another(shop):
    one, two = shop.pair("till", "1"), shop.pair("till", "2")
    with trio.fail_after(30):
        async with connect(shop.ws_url, one, seller=PAUL) as lane1, \
                connect(shop.ws_url, two, seller=PAUL) as lane2:
            await lane1.ok("scan", code=SILENT)
            started = trio.current_time()
            await lane1.send_raw(json.dumps({"type": "pay", "id": "silent", "mode": "card"}))
            await until(lambda: charges(shop, "1"), interval=0.01)
            # Lane 1's terminal is silent for 2 s: lane 2 sells by card meanwhile.
            await lane2.ok("scan", code=APPROVED)
            await lane2.ok("pay", mode="card")
            sold = await lane2.ok("finish", receipt="none")
            assert sold["total"] == "8.90"
            assert trio.current_time() - started < LANE1_TIMEOUT - 0.5
            refusal = await lane1.reply_to("silent")
            assert refusal["outcome"] == "timeout"
            assert trio.current_time() - started >= LANE1_TIMEOUT


async def test_a_keyed_retry_after_a_lost_reply_does_not_charge_twice(shop):
    token = shop.pair("till", "1")
    with trio.fail_after(30):
        async with connect(shop.ws_url, token, seller=PAUL) as till:
            await till.ok("scan", code=APPROVED)
            # The pay goes out, then the connection drops before the terminal answers (0.5 s).
            await till.send_raw(json.dumps({"type": "pay", "id": "lost", "mode": "card", "key": "card-1"}))
            await until(lambda: charges(shop, "1"), interval=0.01)
        async with connect(shop.ws_url, token, seller=PAUL) as till:
            # The till retries with the same key: the first charge's result, not a second charge.
            retried = await till.ok("pay", id="again", mode="card", key="card-1")
            [payment] = retried["ticket"]["payments"]
            assert payment["amount"] == "8.90" and payment["reference"].startswith("SIM")
            once_more = await till.ok("pay", id="third", mode="card", key="card-1")
            assert once_more["ticket"] == retried["ticket"]
            assert len(charges(shop, "1")) == 1
            await till.ok("finish", receipt="none")
    assert shop.cli("verify", check=False).returncode == 0
