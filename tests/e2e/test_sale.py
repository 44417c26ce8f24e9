"""End to end: a real server process, a real websocket client, a real SQLite file."""

from __future__ import annotations

import sqlite3

import trio

from tests.support import connect

GALETS = "3760245001015"      # A001 Côtes du Rhône, 8.90, VAT 20
GALETS_CASE = "3760245001183"  # A001 by the case of 6
LAMOTHE = "3451203000279"      # A002 Bordeaux, 12.50
FONBELLE = "3390117002187"     # shared by A003 and A004


async def test_full_cash_sale(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, token) as till:
            assert till.hello["lane"] == "1" and till.hello["kind"] == "till"
            reply = await till.ok("scan", code=GALETS, qty=2)
            assert reply["ticket"]["total"] == "17.80"
            reply = await till.ok("scan", code=LAMOTHE)
            ticket = reply["ticket"]
            assert [l["article"] for l in ticket["lines"]] == ["A001", "A002"]
            assert ticket["total"] == "30.30" and ticket["balance"] == "30.30"
            reply = await till.ok("pay", mode="cash", amount="50.00")
            assert reply["ticket"]["change"] == "19.70" and reply["ticket"]["balance"] == "0.00"
            done = await till.ok("finish", receipt="none")
            # The finishing till gets no ticket event for its own change: the reply
            # carries the lane's new empty ticket.
            assert done == {"type": "ok", "re": done["re"], "number": 1, "total": "30.30", "change": "19.70",
                            "ticket": done["ticket"]}
            assert not done["ticket"]["lines"] and done["ticket"]["rev"] == reply["ticket"]["rev"] + 1
            after = await till.ok("ticket")
            assert after["lane"] == "1" and after["ticket"] == done["ticket"]
    live_server.stop()
    db = sqlite3.connect(live_server.data / "laneserver.sqlite3")
    assert db.execute("SELECT number, total, change, seller FROM sales").fetchall() == [(1, "30.30", "19.70", "marie")]
    assert db.execute("SELECT mode, amount FROM payments").fetchall() == [("cash", "50.00")]
    real = db.execute("SELECT real FROM stock_levels WHERE article='A001'").fetchone()[0]
    assert real == "22"
    assert live_server.cli("verify").returncode == 0
