"""Keyed customer verbs replay the same reply after a restart, now that the customers
actor remembers domain results (issue 12: journaled as MessagePack, encoded again by
the edge, server/edge_customers.py) instead of encoded frames; a reply journaled as a
frame before that move still replays, re-addressed. The same key for another request
stays a conflict that applies nothing.

A real server (the demo shop), real websockets, the real SQLite file read from outside.
"""

from __future__ import annotations

import json

import trio

from tests.e2e.configured import open_db
from tests.reliability.harness import snapshot
from tests.support import LiveServer, connect


def _without_re(reply: dict) -> dict:
    return {k: v for k, v in reply.items() if k != "re"}


def _stored(server: LiveServer, key: str) -> bytes:
    db = open_db(server)
    try:
        [(reply,)] = db.execute("SELECT reply FROM replies WHERE key=?", (key,)).fetchall()
        return reply
    finally:
        db.close()


def _store_frame(server: LiveServer, key: str, frame: bytes) -> None:
    """As a server from before the move journaled it: the reply frame itself."""
    db = open_db(server)
    try:
        db.execute("UPDATE replies SET reply=? WHERE key=?", (frame, key))
        db.commit()
    finally:
        db.close()


async def test_keyed_customer_verbs_replay_the_same_reply_after_a_restart(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(90):
        async with connect(live_server.ws_url, token) as till:
            created = await till.ok("customer_create", name="Jeanne Martin", wallet=True, key="k-create")
            jeanne = created["customer"]
            deposit = await till.ok("credit_deposit", customer=jeanne, amount="40.00", mode="cash", key="k-deposit")
            topup = await till.ok("wallet_topup", customer=jeanne, amount="15.00", mode="cash", key="k-topup")
            voucher = await till.ok("voucher_issue", amount="12.50", mode="cash", customer=jeanne, key="k-voucher")
            cancel = await till.ok("wallet_topup_cancel", topup=topup["topup"], key="k-cancel")
            # Read back from the database, the voucher is shown as it was issued (its
            # origin "sold", the default, was left out of one and sent in the other).
            shown = await till.ok("voucher", code=voucher["voucher"]["code"])
            assert shown["voucher"] == voucher["voucher"]
        for key in ("k-create", "k-deposit", "k-topup", "k-voucher", "k-cancel"):
            stored = await trio.to_thread.run_sync(_stored, live_server, key)
            assert stored[:1] != b"{", (key, stored)  # a domain result, not a frame
        await trio.to_thread.run_sync(live_server.stop)
        await trio.to_thread.run_sync(live_server.start)
        async with connect(live_server.ws_url, token) as till:
            before = await trio.to_thread.run_sync(snapshot, live_server.data)
            again = [
                await till.ok("customer_create", name="Jeanne Martin", wallet=True, key="k-create"),
                await till.ok("credit_deposit", customer=jeanne, amount="40.00", mode="cash", key="k-deposit"),
                await till.ok("wallet_topup", customer=jeanne, amount="15.00", mode="cash", key="k-topup"),
                await till.ok("voucher_issue", amount="12.50", mode="cash", customer=jeanne, key="k-voucher"),
                await till.ok("wallet_topup_cancel", topup=topup["topup"], key="k-cancel"),
            ]
            assert [_without_re(r) for r in again] == [_without_re(r) for r in (created, deposit, topup, voucher,
                                                                                 cancel)]
            reused = await till.call("credit_deposit", customer=jeanne, amount="41.00", mode="cash", key="k-deposit")
            assert (reused["code"], reused["key_reused"]) == ("conflict", True)
            assert await trio.to_thread.run_sync(snapshot, live_server.data) == before


async def test_a_customer_reply_journaled_as_a_frame_before_the_move_replays(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(90):
        async with connect(live_server.ws_url, token) as till:
            jeanne = (await till.ok("customer_create", name="Jeanne Martin"))["customer"]
            deposit = await till.ok("credit_deposit", customer=jeanne, amount="40.00", mode="cash", key="k-old",
                                    id="first")
        await trio.to_thread.run_sync(live_server.stop)
        frame = json.dumps(deposit, separators=(",", ":")).encode()
        await trio.to_thread.run_sync(_store_frame, live_server, "k-old", frame)
        await trio.to_thread.run_sync(live_server.start)
        async with connect(live_server.ws_url, token) as till:
            replayed = await till.ok("credit_deposit", customer=jeanne, amount="40.00", mode="cash", key="k-old",
                                     id="second")
            assert replayed["re"] == "second" and _without_re(replayed) == _without_re(deposit)
            view = (await till.ok("customer", customer=jeanne))["customer"]
            assert view["credit"] == "40.00"  # applied once
