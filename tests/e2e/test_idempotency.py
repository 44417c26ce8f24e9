"""Idempotency keys with fingerprints, end to end (PROTOCOL.md "Idempotency keys
(clarified)"): the same key with the same verb and fields replays the first reply, also
after a reconnect and a restart; the same key with a different request is ``conflict``
with ``key_reused: true`` and applies nothing.

Before: a second ``scan`` under a scan's key got the first ticket and nothing was added;
a ``pay`` under a finish's key got ``ok {number, total, change}`` and recorded nothing,
so an integration that reset its key counter believed money was taken.

A real server (the demo shop), real websockets, the real SQLite file read from outside.
"""

from __future__ import annotations

import msgspec

import trio

from tests.e2e.configured import open_db
from tests.reliability.harness import snapshot
from tests.support import LiveServer, connect

GALETS = "3760245001015"  # 8.90
BAGUETTE = "3729183010046"


def _conflict(reply: dict, key: str) -> None:
    assert reply["type"] == "error", reply
    assert (reply["code"], reply.get("key_reused")) == ("conflict", True), reply
    assert repr(key) in reply["message"], reply


async def _counts(server: LiveServer) -> tuple[int, int]:
    """How many sales and payment rows the database holds (read in a worker thread)."""
    def read() -> tuple[int, int]:
        db = open_db(server)
        try:
            return tuple(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[return-value]
                         for table in ("sales", "payments"))
        finally:
            db.close()

    return await trio.to_thread.run_sync(read)


def _forget_fingerprint(server: LiveServer, key: str) -> None:
    db = open_db(server)
    try:
        db.execute("UPDATE replies SET fingerprint=NULL WHERE key=?", (key,))
        db.commit()
    finally:
        db.close()


def _stored(server: LiveServer, key: str) -> list[tuple]:
    db = open_db(server)
    try:
        return db.execute("SELECT fingerprint, reply FROM replies WHERE key=?", (key,)).fetchall()
    finally:
        db.close()


async def test_a_key_reused_for_another_request_is_a_conflict_and_applies_nothing(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(60):
        async with connect(live_server.ws_url, token) as till:
            first = await till.ok("scan", code=GALETS, key="k-1")
            assert len(first["ticket"]["lines"]) == 1
            # The same request again: the first reply, addressed to the new id, nothing added.
            again = await till.ok("scan", code=GALETS, key="k-1", id="again")
            assert again["re"] == "again" and again["ticket"] == first["ticket"]
            # Another scan under that key: refused, the ticket as it was.
            before = await trio.to_thread.run_sync(snapshot, live_server.data)
            _conflict(await till.call("scan", code=BAGUETTE, key="k-1"), "k-1")
            _conflict(await till.call("scan", code=GALETS, qty=2, key="k-1"), "k-1")
            _conflict(await till.call("set_qty", line=1, qty=3, key="k-1"), "k-1")
            assert (await till.ok("ticket"))["ticket"]["lines"] == first["ticket"]["lines"]
            assert await trio.to_thread.run_sync(snapshot, live_server.data) == before

            # A pay under a finish's key: not the finish's reply, and nothing recorded.
            await till.ok("pay", mode="card", key="pay-1")
            finished = await till.ok("finish", receipt="none", key="fin-1")
            sales, payments = await _counts(live_server)
            await till.ok("scan", code=BAGUETTE, key="k-2")
            pay = await till.call("pay", mode="cash", amount="5.00", key="fin-1")
            _conflict(pay, "fin-1")
            assert "number" not in pay
            ticket = (await till.ok("ticket"))["ticket"]
            assert ticket["payments"] == [] and ticket["paid"] == "0.00"
            assert await _counts(live_server) == (sales, payments)
            # The finish itself, repeated, still gets its own reply.
            replay = await till.ok("finish", receipt="none", key="fin-1")
            assert replay["number"] == finished["number"]


async def test_same_key_same_request_replays_across_a_reconnect_and_a_restart(live_server):
    token = live_server.pair("till", "1")
    pda = live_server.pair("pda")
    with trio.fail_after(90):
        async with connect(live_server.ws_url, token) as till, connect(live_server.ws_url, pda) as handheld:
            scanned = await till.ok("scan", code=GALETS, key="r-1")
            entry = await handheld.ok("stock_entry", article="A001", qty=12, reason="delivery", key="dlv-1")
            # The till's ticket has a line: the basket goes on it only with append (the till agreed).
            basket = await handheld.ok("basket_empty", basket="b-1", lane="1", lines=[{"code": BAGUETTE, "qty": 2}],
                                       append=True)
        async with connect(live_server.ws_url, token) as till:  # a reconnect
            assert (await till.ok("scan", code=GALETS, key="r-1"))["ticket"] == scanned["ticket"]
            _conflict(await till.call("scan", code=BAGUETTE, key="r-1"), "r-1")
        await trio.to_thread.run_sync(live_server.stop)
        await trio.to_thread.run_sync(live_server.start)
        async with connect(live_server.ws_url, token) as till, connect(live_server.ws_url, pda) as handheld:
            before = await trio.to_thread.run_sync(snapshot, live_server.data)
            assert (await till.ok("scan", code=GALETS, key="r-1"))["ticket"] == scanned["ticket"]
            _conflict(await till.call("scan", code=BAGUETTE, key="r-1"), "r-1")
            replay = await handheld.ok("stock_entry", article="A001", qty=12, reason="delivery", key="dlv-1")
            assert {k: v for k, v in replay.items() if k != "re"} == {k: v for k, v in entry.items() if k != "re"}
            _conflict(await handheld.call("stock_entry", article="A001", qty=13, reason="delivery", key="dlv-1"),
                      "dlv-1")
            # basket_empty: the basket id is its key; other lines under it are a conflict.
            again = await handheld.ok("basket_empty", basket="b-1", lane="1", lines=[{"code": BAGUETTE, "qty": 2}],
                                      append=True)
            assert again["ticket"] == basket["ticket"]
            _conflict(await handheld.call("basket_empty", basket="b-1", lane="1",
                                          lines=[{"code": BAGUETTE, "qty": 3}], append=True), "basket:b-1")
            assert await trio.to_thread.run_sync(snapshot, live_server.data) == before


async def test_keys_remembered_before_fingerprints_replay_as_before(live_server):
    """Rows written before migration 12 have no fingerprint: their key replays."""
    token = live_server.pair("till", "1")
    with trio.fail_after(60):
        async with connect(live_server.ws_url, token) as till:
            first = await till.ok("scan", code=GALETS, key="old-1")
        await trio.to_thread.run_sync(live_server.stop)
        await trio.to_thread.run_sync(_forget_fingerprint, live_server, "old-1")
        await trio.to_thread.run_sync(live_server.start)
        async with connect(live_server.ws_url, token) as till:
            reply = await till.ok("scan", code=BAGUETTE, key="old-1")
            assert reply["ticket"] == first["ticket"]


async def test_the_fingerprint_is_stored_with_the_key(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, token) as till:
            await till.ok("scan", code=GALETS, key="fp-1")
        [(fingerprint, reply)] = await trio.to_thread.run_sync(_stored, live_server, "fp-1")
    # The lane's domain result (actors/lane_messages.py), kept as MessagePack; the edge
    # encodes it again for a retry.
    assert len(fingerprint) == 64 and msgspec.msgpack.decode(reply)["type"] == "changed"


async def test_a_key_reused_on_another_lane_or_stock_point_is_a_conflict_and_applies_nothing(live_server):
    """Each lane and stock point keeps its own keys in memory; the database keeps one
    row per (device, key). A PDA's key used on lane 1 and then on lane 2 or on a stock
    point: before, the second request was applied (its reply silently not kept, so a
    retry of it after a restart was applied once more); now it is a conflict."""
    pda = live_server.pair("pda")
    with trio.fail_after(60):
        async with connect(live_server.ws_url, pda) as handheld:
            await handheld.ok("basket_empty", basket="b-9", lane="1", lines=[{"code": GALETS, "qty": 1}],
                              key="pda-1")
            before = await trio.to_thread.run_sync(snapshot, live_server.data)
            _conflict(await handheld.call("basket_empty", basket="b-10", lane="2",
                                          lines=[{"code": GALETS, "qty": 1}], key="pda-1"), "pda-1")
            _conflict(await handheld.call("stock_entry", article="A001", qty=5, reason="delivery", key="pda-1"),
                      "pda-1")
            assert await trio.to_thread.run_sync(snapshot, live_server.data) == before
            # The first request's own retry still gets its first reply.
            again = await handheld.ok("basket_empty", basket="b-9", lane="1", lines=[{"code": GALETS, "qty": 1}],
                                      key="pda-1")
            assert again["type"] == "ok"
    # A device reusing its key is the device's mistake, not the server's: logged at info as
    # key_reused, not as an error (before: each actor logged commit_failed at error level).
    await trio.sleep(0.2)  # the log lines' reader threads
    logged = [line for line in live_server.output if "key_reused" in line or "commit_failed" in line]
    assert len([line for line in logged if "key_reused" in line]) >= 2, logged
    assert not [line for line in logged if "commit_failed" in line or "[error" in line], logged
