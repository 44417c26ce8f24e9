"""The cash drawer end to end: a real server, a TCP listener standing in for the lane's
network printer (the drawer is wired to it: kicks arrive as ESC p jobs), real sellers."""

from __future__ import annotations

import trio

from laneserver.hw.receipt import render_drawer_kick
from tests.e2e.configured import CASHIER, DEMO_CATALOG, PAUL, SOPHIE_PIN, SUPERVISOR, FakePrinter
from tests.e2e.configured import configured_shop, open_db, printer_listening, verify
from tests.e2e.configured import lane, network_printer, stock_point, table, toml
from tests.support import connect

GALETS = "3760245001015"  # 8.90 in the demo catalog
KICK = render_drawer_kick()


def _config(port: int) -> str:
    return toml(table("shop", name="Tiroir", drawer_alert="100.00"), stock_point("main"),
                lane("1", printer="p1", drawer="printer"), network_printer(port))


async def _quiet(printer: FakePrinter, jobs: int) -> None:
    """Nothing more reaches the printer for a while (a kick would come at once)."""
    await trio.sleep(0.5)
    assert len(printer.jobs) == jobs, printer.jobs[jobs:]


async def test_the_drawer_of_a_lane(tmp_path):
    async with printer_listening() as (printer, port):
        with configured_shop(tmp_path, _config(port), DEMO_CATALOG, sellers=[CASHIER, SUPERVISOR]) as server:
            token = server.pair("till", "1")
            pda = server.pair("pda")
            with trio.fail_after(60):
                async with connect(server.ws_url, pda, seller=PAUL) as handheld:
                    refused = await handheld.call("drawer", id="d")
                    assert refused["code"] == "forbidden" and "lane" in refused["message"]

                async with connect(server.ws_url, token, seller=PAUL) as till:
                    # The opening float prints a slip and opens nothing.
                    reply = await till.ok("drawer_movement", kind="float", amount="50.00", reason="ouverture",
                                          count={"20.00": 2, "5.00": 2}, key="float-1")
                    assert reply["drawer"]["expected"] == "50.00"
                    await printer.wait_for(1)
                    assert b"FOND DE CAISSE" in printer.jobs[0] and KICK not in printer.jobs[0]

                    # A cash sale: receipt and kick.
                    await till.ok("scan", code=GALETS)
                    await till.ok("pay", mode="cash", amount="20.00")
                    done = await till.ok("finish")
                    assert done["change"] == "11.10"
                    await printer.wait_for(3)
                    assert printer.jobs[1:3].count(KICK) == 1
                    await _quiet(printer, 3)

                    # A card sale opens nothing.
                    await till.ok("scan", code=GALETS)
                    await till.ok("pay", mode="card")
                    await till.ok("finish", receipt="none")
                    await _quiet(printer, 3)
                    drawer = (await till.ok("drawer"))["drawer"]
                    assert (drawer["cash_sales"], drawer["sales"], drawer["expected"]) == ("8.90", 1, "58.90")

                    # No sale: a supervisor's PIN, always; a wrong one opens nothing.
                    assert (await till.call("drawer_open", reason="monnaie"))["code"] == "supervisor_required"
                    wrong = await till.call("drawer_open", reason="monnaie", supervisor_pin="5678")
                    assert wrong["code"] == "supervisor_required"
                    await _quiet(printer, 3)
                    opened = await till.ok("drawer_open", reason="monnaie", supervisor_pin=SOPHIE_PIN)
                    assert opened["approved_by"] == "sophie"
                    await printer.wait_for(4)
                    assert printer.jobs[3] == KICK

                    # A withdrawal with a wrong supervisor PIN: refused, nothing recorded.
                    take = {"kind": "withdrawal", "amount": "40.00", "reason": "banque", "destination": "bank",
                            "count": {"20.00": 2}}
                    wrong = await till.call("drawer_movement", **take, supervisor_pin="0000")
                    assert wrong["code"] == "supervisor_required"
                    assert (await till.ok("drawer"))["drawer"]["withdrawals"] == "0.00"

                    # Cash above the threshold: the till is told a withdrawal is due.
                    await till.ok("drawer_movement", kind="add", amount="35.00", reason="monnaie")
                    assert not [e for e in till.events if e["type"] == "drawer_alert"]
                    await till.ok("scan", code=GALETS)
                    await till.ok("pay", mode="cash")
                    await till.ok("finish", receipt="none")
                    alert = await till.wait_event(lambda e: e["type"] == "drawer_alert")
                    assert alert == {"type": "drawer_alert", "lane": "1", "expected": "102.80",
                                     "threshold": "100.00"}

                    reply = await till.ok("drawer_movement", **take, supervisor_pin=SOPHIE_PIN)
                    assert reply["drawer"]["expected"] == "62.80"
                    assert reply["drawer"]["movements"][-1]["approved_by"] == "sophie"
                    await printer.wait_for(7)  # the add's slip, a kick, the withdrawal's slip
                    assert any(b"RETRAIT (banque)" in job for job in printer.jobs[4:])

            server.kill()  # kill -9: the movements are durable
            server.restart()
            with trio.fail_after(60):
                async with connect(server.ws_url, token, seller=PAUL) as till:
                    drawer = (await till.ok("drawer"))["drawer"]
                    assert [m["kind"] for m in drawer["movements"]] == ["float", "add", "withdrawal"]
                    assert (drawer["cash_sales"], drawer["expected"]) == ("17.80", "62.80")
                    # The repeated key of the float applies nothing twice.
                    again = await till.ok("drawer_movement", kind="float", amount="50.00", reason="ouverture",
                                          count={"20.00": 2, "5.00": 2}, key="float-1")
                    assert again["drawer"]["expected"] == "50.00"  # the first reply, as it was
                    # The closing count: 62.70 in the drawer, 0.10 missing.
                    counted = await till.ok("drawer_count", count={"50.00": 1, "10.00": 1, "2.00": 1,
                                                                   "0.50": 1, "0.20": 1})
                    assert (counted["expected"], counted["counted"], counted["difference"]) == (
                        "62.80", "62.70", "-0.10")
                    assert counted["drawer"]["expected"] == "0.00"
                    assert (await till.ok("drawer"))["drawer"]["movements"] == []
            verify(server)
    with open_db(server) as db:
        assert db.execute("SELECT count(*) FROM drawer_movements").fetchone()[0] == 3
        assert db.execute("SELECT counted, difference FROM drawer_counts").fetchall() == [("62.70", "-0.10")]
        events = [kind for (kind,) in db.execute("SELECT kind FROM events WHERE source='drawer:1' ORDER BY seq")]
        assert events == ["DrawerMovementRecorded", "DrawerOpenedWithoutSale", "DrawerMovementRecorded",
                          "DrawerMovementRecorded", "DrawerCounted"]
