"""A parked basket recalled on another lane is never lost when the till stops waiting.

The handover is two lanes' changes (server/edge_lane.py ``recall_parked``): the lane
that parked it gives the held ticket away (``GiveParked``, committed), then the till's
lane takes it (``TakeParked``). Here the giving lane is slow to answer (its commit waits
behind the journal, held by a read) and the session's ask timeout (shortened) runs out
while the give is under way: the give still lands, and before the fix the take was never
asked, so the basket was in no lane at all, an acknowledged park lost without a crash.

The demo shop served in this process (tests/e2e/in_process.py), real websockets, a real
SQLite file.
"""

from __future__ import annotations

import json
import threading

import trio

from laneserver.actors.journal import read
from laneserver.clock import SystemClock
from laneserver.server.shop import Shop
from laneserver.store.admin import pair_device
from laneserver.store.schema import DB_NAME, connect as connect_db
from tests.e2e.in_process import pair_till, serving
from tests.support import connect

GALETS = "3760245001015"
TIMEOUT = 0.5  # the session's ask timeout, shortened


def pair_pda(data) -> str:
    db = connect_db(data / DB_NAME, create=True)
    try:
        return pair_device(db, "pda", None, SystemClock().now(), ["1", "2"])[1]
    finally:
        db.close()


async def test_a_parked_basket_recalled_while_the_till_stops_waiting_is_in_one_lane(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(Shop, "ask_timeout", lambda self, request, lane=None: TIMEOUT)
    holding, release = threading.Event(), threading.Event()

    def hold(db) -> None:  # the journal's worker thread, held until released
        holding.set()
        assert release.wait(30), "never released"

    with trio.fail_after(60):
        async with serving(data) as running:
            one_token = await trio.to_thread.run_sync(pair_till, data, "1")
            two_token = await trio.to_thread.run_sync(pair_till, data, "2")
            pda_token = await trio.to_thread.run_sync(pair_pda, data)
            async with connect(running.ws_url, one_token) as one, connect(running.ws_url, two_token) as two, \
                    connect(running.ws_url, pda_token) as pda:
                parked = await pda.ok("basket_park", basket="p-1", lane="1", lines=[{"code": GALETS, "qty": 2}])
                barcode = parked["barcode"]
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(read, running.shop.journal, hold)
                    await trio.to_thread.run_sync(holding.wait)
                    # Lane 2 is asked first (no commit), then lane 1 gives: its commit waits.
                    await two.send_raw(json.dumps({"type": "scan", "id": "recall", "code": barcode,
                                                   "key": "recall-1"}))
                    await trio.sleep(3 * TIMEOUT)  # the session's timeout runs out meanwhile
                    release.set()
                told = await two.reply_to("recall")  # whatever the till was told
                held = [h["barcode"] for h in (await one.ok("held"))["tickets"]]
                on_two = [line["qty"] for line in (await two.ok("ticket"))["ticket"]["lines"]]
                # The give landed: the take followed it (before the fix: in no lane at all).
                assert (held, on_two) == ([], ["2"]), (held, on_two, told)
                # The till's retry of its scan (same key) gets the ticket, nothing moves twice.
                again = await two.ok("scan", code=barcode, key="recall-1")
                assert [line["qty"] for line in again["ticket"]["lines"]] == ["2"]
