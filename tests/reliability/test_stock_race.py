"""Eight lanes race for one article through real websockets, against a shop that
refuses negative stock: hundreds of scans, random cancels, sales and returns —
and, in the second test, a ``kill -9`` in the middle and a restart.

Every request carries a ``key``; after a lost connection a lane resends the same
request with the same key, so each sale is counted exactly once on both sides.
Checked: stock never below zero (live, and in the history's running sum), no lost
update (every level is the sum of its movements), and the final stock is exactly
initial − sold + returned.
"""

from __future__ import annotations

import itertools
import json
import random
from decimal import Decimal

import pytest
import trio
from trio_websocket import ConnectionClosed, HandshakeError, open_websocket_url

from tests.e2e.stock_shop import LANES, stock_shop
from tests.reliability.harness import open_db, stock_mismatches
from tests.support import DEMO_SELLER

INITIAL = 120
ROUNDS = 40  # per lane: 8 × 40 = 320 scans
WINE = "3000000000014"
DROPPED = (ConnectionClosed, HandshakeError, OSError, trio.BrokenResourceError)


class Tally:
    def __init__(self) -> None:
        self.sold = 0
        self.returned = 0
        self.refused = 0
        self.cancelled = 0
        self.finished = 0
        self.reconnects = 0


class Lane:
    """One till that survives its server: resends the pending request (same key) after
    reconnecting."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.ids = itertools.count(1)
        self.ws = None

    async def _call(self, verb: str, **fields):
        rid = next(self.ids)
        await self.ws.send_message(json.dumps({"type": verb, "id": rid, **fields}))
        while True:
            frame = json.loads(await self.ws.get_message())
            if frame.get("re") == rid:
                return frame

    async def call(self, nursery_ws_factory, tally: Tally, verb: str, **fields):
        while True:
            try:
                if self.ws is None:
                    self.ws = await nursery_ws_factory(self.url)
                    assert (await self._call("hello", token=self.token))["type"] == "ok"
                    signed = await self._call("sign_in", seller=DEMO_SELLER[0], pin=DEMO_SELLER[1])
                    assert signed["type"] == "ok", signed
                return await self._call(verb, **fields)
            except DROPPED:
                if self.ws is not None:
                    tally.reconnects += 1
                    try:
                        await self.ws.aclose()
                    except DROPPED:
                        pass
                self.ws = None
                await trio.sleep(0.1)


async def lane_worker(lane_id: str, lane: Lane, connect_ws, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    for n in range(ROUNDS):
        key = f"{lane_id}-{n}"
        qty = rng.choice([1, 1, 2])
        reply = await lane.call(connect_ws, tally, "scan", code=WINE, qty=qty, key=f"{key}-scan")
        if reply["type"] == "error":
            assert reply["code"] == "out_of_stock", reply
            tally.refused += 1
            continue
        if rng.random() < 0.25:
            assert (await lane.call(connect_ws, tally, "cancel_ticket", key=f"{key}-cancel"))["type"] == "ok"
            tally.cancelled += 1
            continue
        assert (await lane.call(connect_ws, tally, "pay", mode="card", key=f"{key}-pay"))["type"] == "ok"
        finished = await lane.call(connect_ws, tally, "finish", receipt="none", key=f"{key}-finish")
        assert finished["type"] == "ok", finished
        tally.sold += qty
        tally.finished += 1
        if rng.random() < 0.15:
            entry = await lane.call(connect_ws, tally, "stock_entry", article="W1", qty=1, reason="return",
                                    comment="customer return", key=f"{key}-return")
            assert entry["type"] == "ok", entry
            tally.returned += 1
    if lane.ws is not None:
        await lane.ws.aclose()


async def watch_levels(server, stop: trio.Event, seen: list) -> None:
    """A PDA polling the live level: real and available never below zero."""
    pda_token = server.pda
    while not stop.is_set():
        try:
            async with open_websocket_url(server.ws_url) as ws:
                await ws.send_message(json.dumps({"type": "hello", "id": 0, "token": pda_token}))
                await ws.get_message()
                n = 0
                while not stop.is_set():
                    n += 1
                    await ws.send_message(json.dumps({"type": "stock", "id": n, "article": "W1"}))
                    while True:
                        frame = json.loads(await ws.get_message())
                        if frame.get("re") == n:
                            break
                    level = frame["points"][0]
                    seen.append((Decimal(level["real"]), Decimal(level["available"])))
                    await trio.sleep(0.005)
        except DROPPED:
            await trio.sleep(0.1)


@pytest.mark.parametrize("kill", [False, True], ids=["steady", "kill-9"])
async def test_eight_lanes_race_for_the_same_article(tmp_path, kill):
    server = stock_shop(tmp_path, policy="refuse")
    tokens = {lane: server.pair("till", lane) for lane in LANES}
    server.pda = server.pair("pda")
    server.start()
    tally = Tally()
    seen: list = []
    try:
        with trio.fail_after(120):
            async with open_websocket_url(server.ws_url) as ws:
                await ws.send_message(json.dumps({"type": "hello", "id": 1, "token": server.pda}))
                await ws.get_message()
                await ws.send_message(json.dumps({"type": "sign_in", "id": 2, "seller": "marie", "pin": "1234"}))
                await ws.get_message()
                await ws.send_message(json.dumps({"type": "stock_entry", "id": 3, "article": "W1",
                                                  "qty": INITIAL, "reason": "initial"}))
                assert json.loads(await ws.get_message())["type"] == "ok"
            async with trio.open_nursery() as outer:
                stop = trio.Event()
                outer.start_soon(watch_levels, server, stop, seen)

                async with trio.open_nursery() as nursery:
                    async def connect_ws(url):
                        from trio_websocket import connect_websocket_url
                        return await connect_websocket_url(nursery, url)

                    for i, lane_id in enumerate(LANES):
                        nursery.start_soon(lane_worker, lane_id, Lane(server.ws_url, tokens[lane_id]),
                                           connect_ws, 1000 + i, tally)
                    if kill:
                        while tally.finished < 25:
                            await trio.sleep(0.01)
                        server.kill()
                        await trio.sleep(0.3)
                        server.restart()
                stop.set()
    finally:
        server.stop()
    print(f"stock race ({'kill -9' if kill else 'steady'}): {vars(tally)}")
    assert tally.finished > 30 and tally.refused > 0, vars(tally)
    if kill:
        assert tally.reconnects >= len(LANES)
    db = open_db(server.data)
    try:
        real = Decimal(db.execute("SELECT real FROM stock_levels WHERE article='W1'").fetchone()[0])
        assert real == INITIAL - tally.sold + tally.returned, vars(tally)
        assert stock_mismatches(db) == []
        running = Decimal(0)
        for (delta,) in db.execute("SELECT delta FROM stock_movements WHERE article='W1' ORDER BY seq"):
            running += Decimal(delta)
            assert running >= 0
        assert db.execute("SELECT count(*) FROM sales").fetchone()[0] == tally.finished
    finally:
        db.close()
    assert seen and all(r >= 0 and a >= 0 for r, a in seen)
