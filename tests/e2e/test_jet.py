"""The technical event journal (JET) end to end: a real server, a real websocket client,
the real SQLite file. Start, sign-in, a wrong PIN, an approved no-sale, sign-out and a
clean stop come back from ``events`` in order with their kinds; a start after ``kill -9``
adds a ``recovery`` entry; ``laneserver archive`` leaves an ``archive_export`` the journal
chains; ``verify`` walks the chain."""

from __future__ import annotations

import datetime as dt
import json

import trio

from laneserver.rules.jet import KIND_NAMES
from laneserver.store import shop_key
from tests.e2e.configured import rows, verify
from tests.support import LiveServer, connect

CASHIER = ("paul", "5678")


def kinds(reply: dict) -> list[str]:
    return [event["kind"] for event in reply["events"]]


async def test_events_returns_the_journal_in_order_and_a_kill_is_a_recovery(tmp_path):
    server = LiveServer(tmp_path / "data")
    server.cli("seller", "add", *CASHIER[:1], "--pin", CASHIER[1])
    server.start()
    try:
        token = server.pair("till", "1")
        with trio.fail_after(60):
            async with connect(server.ws_url, token, seller=None) as till:
                wrong = await till.call("sign_in", seller="marie", pin="9999")
                assert wrong["code"] == "wrong_pin"
                await till.ok("sign_in", seller="marie", pin="1234")
                await till.ok("drawer_open", reason="change for the bakery", supervisor_pin="1234")
                await till.ok("drawer_movement", kind="float", amount="150.00", reason="opening")
                await till.ok("sign_out")
        assert server.stop() == 0
        server.restart()
        with trio.fail_after(60):
            async with connect(server.ws_url, token) as till:  # marie, a manager
                reply = await till.ok("events")
                assert kinds(reply) == ["start", "config", "pin_failed", "sign_in", "approval", "no_sale",
                                        "cash_movement", "sign_out", "stop", "start", "sign_in"]
                assert reply["more"] is False
                events = reply["events"]
                assert [e["seq"] for e in events] == list(range(1, 12))
                assert events[6] | {"movement": "float", "amount": "150.00", "lane": "1", "reason": "opening"} \
                    == events[6]
                del events[6]  # the rest as numbered before the float
                start, config = events[0], events[1]
                assert start["version"] and len(start["config"]) == 64 and config["config"] == start["config"]
                assert "previous" not in config  # the first start: no configuration before it
                assert events[2] == {**events[2], "purpose": "sign_in", "seller": "marie"}
                assert events[4]["supervisor"] == "marie" and events[4]["request"] == "drawer_open"
                assert events[5] | {"lane": "1", "seller": "marie", "approved_by": "marie",
                                    "reason": "change for the bakery"} == events[5]
                assert all(e["at"].endswith("+00:00") for e in events)
                # Filtered, paged, and what is refused.
                only = await till.ok("events", kind="sign_in", since=4)
                assert [e["seq"] for e in only["events"]] == [11]
                assert kinds(await till.ok("events", since=9)) == ["start", "sign_in"]
                for bad, field in ({"kind": "sale"}, "kind"), ({"since": -1}, "since"):
                    refused = await till.call("events", **bad)
                    assert (refused["code"], refused["field"]) == ("bad_request", field)
                assert "no_sale" in KIND_NAMES
            async with connect(server.ws_url, token, seller=CASHIER) as cashier:
                assert (await cashier.call("events"))["code"] == "forbidden"
        server.kill()  # no stop entry: the next start is a recovery
        server.restart()
        with trio.fail_after(60):
            async with connect(server.ws_url, token) as till:
                tail = (await till.ok("events", since=12))["events"]  # after paul's sign-in
                assert [e["kind"] for e in tail][:2] == ["start", "recovery"]
                assert tail[1]["previous_start"] == 10  # the start the kill interrupted
        # ``laneserver archive`` while the server runs: its entry waits in the inbox, and
        # the journal chains it (here at its stop, before the ``stop`` entry).
        shop_key.load_or_create(server.data / shop_key.KEY_NAME)
        month = dt.date.today().strftime("%Y-%m")
        server.cli("archive", "--period", month, "--out", str(tmp_path / "archive.jsonl"))
    finally:
        assert server.stop() == 0
    last = [json.loads(record) for (record,) in rows(
        server, "SELECT record FROM fiscal_records WHERE chain='jet' ORDER BY number DESC LIMIT 2")]
    assert [e["kind"] for e in last] == ["stop", "archive_export"]
    assert last[1]["period"] == month and last[1]["file"].endswith("archive.jsonl") and len(last[1]["sha256"]) == 64
    assert rows(server, "SELECT count(*) FROM jet_inbox") == [(0,)]
    report = verify(server)
    assert "(technical event journal)" in report and "BROKEN" not in report
