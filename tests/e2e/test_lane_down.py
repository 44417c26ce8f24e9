"""A bug in one lane never takes the shop down (issue 11, "Hardening").

The shop runs in this process (``run_shop`` on a loopback port, the demo shop, a
real SQLite file) and is reached through real websockets. Lane 1's actor has a
bug injected through its factory (no natural input crashes a lane, so the fault
is planted: a scan of ``BUG_CODE`` raises inside the actor, the shape of any bug
in a command's handling). Past its restart budget lane 1 stops serving: its tills
get a ``lane_status`` event and every request a clear ``unavailable``; the
technical journal says so; lane 2 sells on and the process stays up.
"""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from laneserver.actors.lane import LaneActor
from laneserver.actors.runtime import CORE_POLICY
from laneserver.actors.stock_point import StockPointActor
from laneserver.server import run as run_module
from laneserver.store.schema import DB_NAME
from tests.e2e.in_process import pair_till, serving
from tests.support import connect

GALETS = "3760245001015"
BUG_CODE = "0000000000666"
GALETS_ID = "A001"


class BuggyLane(LaneActor):
    """Lane 1 with a bug on one code: the actor raises while handling it."""

    async def _do(self, envelope, caller, asked) -> None:
        # The code scanned is no article's: the edge asks the lane whether it is a card.
        if self.lane == "1" and getattr(asked.command, "code", None) == BUG_CODE:
            raise KeyError("a bug in lane 1")
        await super()._do(envelope, caller, asked)


class BuggyPoint(StockPointActor):
    """The stock point with a bug on one article: reading its level raises inside the actor."""

    def point_level(self, level):
        if level.article == GALETS_ID:
            raise KeyError("a bug in the stock point")
        return super().point_level(level)


def _journal_rows(data: Path, kind: str) -> list[tuple[str, str]]:
    db = sqlite3.connect(data / DB_NAME)
    try:
        return db.execute("SELECT source, data FROM events WHERE kind = ?", (kind,)).fetchall()
    finally:
        db.close()


def _healthz(url: str) -> tuple[int, dict]:
    with urllib.request.urlopen(url + "/healthz", timeout=10) as response:
        return response.status, json.loads(response.read())


def _metric(url: str, name: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        return next(line for line in response.read().decode().splitlines() if line.startswith(name + " "))


async def test_a_lane_past_its_restart_budget_stops_serving_and_the_other_lanes_sell_on(tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "LaneActor", BuggyLane)
    data = tmp_path / "data"
    data.mkdir()
    with trio.fail_after(60):
        async with serving(data) as running:
            url, ws_url = running.url, running.ws_url
            token1 = await trio.to_thread.run_sync(pair_till, data, "1")
            token2 = await trio.to_thread.run_sync(pair_till, data, "2")
            async with connect(ws_url, token1) as till1, connect(ws_url, token2) as till2:
                await till1.ok("scan", code=GALETS)
                # Each crash answers the request that met the bug, then the lane restarts.
                for _ in range(CORE_POLICY.max_restarts + 1):
                    reply = await till1.call("scan", code=BUG_CODE)
                    assert reply["type"] == "error" and reply["code"] == "internal", reply
                    assert "lane 1" in reply["message"] and "check the ticket" in reply["message"]
                status = await till1.wait_event(lambda e: e["type"] == "lane_status")
                assert status == {"type": "lane_status", "lane": "1", "serving": False,
                                  "reason": status["reason"]}
                assert "out of service" in status["reason"]
                for verb, fields in (("scan", {"code": GALETS}), ("ticket", {}), ("finish", {})):
                    reply = await till1.call(verb, **fields)
                    assert reply["type"] == "error" and reply["code"] == "unavailable", reply
                    assert reply["message"].startswith("lane 1 is out of service after repeated failures")
                    assert "the other lanes sell on" in reply["message"]
                # Lane 2 sells on, in the same process.
                await till2.ok("scan", code=GALETS)
                ticket = await till2.ok("ticket")
                assert len(ticket["ticket"]["lines"]) == 1
                assert not [e for e in till2.events if e["type"] == "lane_status"]
            status, body = await trio.to_thread.run_sync(_healthz, url)
            assert status == 200 and body["status"] == "degraded" and body["out_of_service"] == ["lane:1"], body
            assert await trio.to_thread.run_sync(_metric, url, "laneserver_actors_out_of_service") == \
                "laneserver_actors_out_of_service 1"
            entries = await trio.to_thread.run_sync(_journal_rows, data, "actor_stopped")
            assert [source for source, _ in entries] == ["lane:1"]
            assert "KeyError" in json.loads(entries[0][1])["error"]
            # A new connection of lane 1's till hears at once that the lane is down.
            async with connect(ws_url, None) as again:
                reply = await again.call("hello", token=token1)
                assert reply["code"] == "unavailable" and "lane 1 is out of service" in reply["message"]
                # A failed hello leaves the connection as it was (protocol.md): no device yet.
                reply = await again.call("search", text="galets")
                assert reply["code"] == "unauthenticated", reply


@asynccontextmanager
async def buggy_shop(tmp_path, monkeypatch, actor: str, buggy: type, *lanes: str):
    """The demo shop in this process with ``actor`` (a name in run.py) replaced by
    ``buggy``, and a till paired on each of ``lanes``: the shop and the tills' tokens."""
    monkeypatch.setattr(run_module, actor, buggy)
    data = tmp_path / "data"
    data.mkdir()
    with trio.fail_after(60):
        async with serving(data) as running:
            yield running, [await trio.to_thread.run_sync(pair_till, data, lane) for lane in lanes]


async def test_a_lane_restart_keeps_its_tills_hearing_each_others_changes(tmp_path, monkeypatch):
    """The lane's sessions are its publisher's (actors/publisher.py), not the lane's: a
    crash and restart of the lane leaves both tills of lane 1 subscribed, and each
    hears the other's changes after it with no new hello."""
    async with buggy_shop(tmp_path, monkeypatch, "LaneActor", BuggyLane, "1", "1") as (running, (token_a, token_b)):
        async with connect(running.ws_url, token_a) as till_a, connect(running.ws_url, token_b) as till_b:
            first = await till_a.ok("scan", code=GALETS)
            await till_b.wait_event(lambda e: e["type"] == "ticket" and e["ticket"] == first["ticket"])
            reply = await till_a.call("scan", code=BUG_CODE)
            assert reply["type"] == "error" and reply["code"] == "internal", reply
            # The restarted lane tells both its rebuilt ticket, then the changes after it.
            again = await till_b.ok("scan", code=GALETS)
            assert again["ticket"]["rev"] == first["ticket"]["rev"] + 1
            await till_a.wait_event(lambda e: e["type"] == "ticket" and e["ticket"] == again["ticket"])
            assert not [e for e in till_a.events + till_b.events if e["type"] == "lane_status"]


async def test_a_stock_point_out_of_service_keeps_no_till_from_saying_hello(tmp_path, monkeypatch):
    """Sessions subscribe to the stock point's publisher (actors/publisher.py), not to
    the point: past its restart budget, a till that connects still says hello and its
    lane answers it (before, hello asked the stopped point and got ``unavailable``)."""
    async with buggy_shop(tmp_path, monkeypatch, "StockPointActor", BuggyPoint, "1") as (running, (token,)):
        async with connect(running.ws_url, token) as till:
            for _ in range(CORE_POLICY.max_restarts + 1):
                reply = await till.call("stock", article=GALETS_ID)
                assert reply["type"] == "error" and reply["code"] == "internal", reply
            reply = await till.call("stock", article=GALETS_ID)
            assert reply["code"] == "unavailable" and "stock point main is out of service" in reply["message"]
        async with connect(running.ws_url, None) as again:
            hello = await again.call("hello", token=token)
            assert hello["type"] == "ok" and hello["device"] == "till-1-1", hello
            await again.wait_event(lambda e: e["type"] == "ticket")
            ticket = await again.ok("ticket")
            assert ticket["lane"] == "1"
