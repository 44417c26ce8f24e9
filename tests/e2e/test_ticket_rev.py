"""Ticket revisions (docs/protocol.md, "The ticket object" and "Events"): every ticket
object carries ``rev``, one more with each change of the lane's open ticket, kept
through a restart; the session that made a change gets the ticket in its reply and
not the ``ticket`` event, every other session of the lane gets the event."""

from __future__ import annotations

import trio

from tests.support import connect

GALETS = "3760245001015"
BAGUETTE = "3729183010046"


def tickets(client) -> list[int]:
    """The revs of the ticket events a client was sent, in order."""
    return [e["ticket"]["rev"] for e in client.events if e["type"] == "ticket"]


def at_rev(rev: int):
    return lambda e: e["type"] == "ticket" and e["ticket"]["rev"] == rev


async def test_the_sender_gets_its_reply_and_every_other_session_the_event(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, token) as a, connect(live_server.ws_url, token) as b:
            # hello's first push carries the current rev
            n = (await a.wait_event(lambda e: e["type"] == "ticket"))["ticket"]["rev"]
            assert isinstance(n, int)
            await b.wait_event(at_rev(n))

            reply = await a.ok("scan", code=GALETS)
            assert reply["ticket"]["rev"] == n + 1
            event = await b.wait_event(at_rev(n + 1))
            assert event["lane"] == "1" and event["ticket"] == reply["ticket"]
            # A request after it: an event for A's own change would have come before its reply.
            assert (await a.ok("ticket"))["ticket"]["rev"] == n + 1
            assert tickets(a) == [n]

            # B's change: B gets its reply, A the event.
            reply = await b.ok("scan", code=BAGUETTE)
            assert reply["ticket"]["rev"] == n + 2
            assert (await a.wait_event(at_rev(n + 2)))["ticket"] == reply["ticket"]
            await b.ok("ticket")
            assert tickets(b) == [n, n + 1]

            # A refused request changes nothing: no new rev, no event.
            assert (await a.call("scan", code="999"))["code"] == "unknown_code"
            assert (await a.ok("ticket"))["ticket"]["rev"] == n + 2

            # Each change is one rev: a quantity, a hold (a new ticket), a recall, a
            # payment, a finish (a new empty ticket).
            assert (await a.ok("set_qty", line=2, qty=2))["ticket"]["rev"] == n + 3
            held = await a.ok("hold")
            assert held["ticket"]["rev"] == n + 4 and held["ticket"]["lines"] == []
            assert (await a.ok("recall", held=held["held"]))["ticket"]["rev"] == n + 5
            assert (await a.ok("pay", mode="cash", amount="50.00"))["ticket"]["rev"] == n + 6
            done = await a.ok("finish", receipt="none")
            assert done["ticket"]["rev"] == n + 7 and done["ticket"]["lines"] == []  # the new empty ticket
            assert (await a.ok("ticket"))["ticket"] == done["ticket"]
            await b.wait_event(at_rev(n + 7))
            assert tickets(b) == [n, n + 1, n + 3, n + 4, n + 5, n + 6, n + 7]
            assert tickets(a) == [n, n + 2]


async def test_rev_keeps_growing_across_a_restart(live_server):
    token = live_server.pair("till", "1")
    with trio.fail_after(60):
        async with connect(live_server.ws_url, token) as till:
            await till.ok("scan", code=GALETS)
            rev = (await till.ok("scan", code=BAGUETTE))["ticket"]["rev"]
        live_server.kill()
        live_server.restart()
        async with connect(live_server.ws_url, token) as till:
            pushed = await till.wait_event(lambda e: e["type"] == "ticket")
            assert pushed["ticket"]["rev"] == rev and len(pushed["ticket"]["lines"]) == 2
            assert (await till.ok("scan", code=GALETS))["ticket"]["rev"] == rev + 1


async def test_a_pda_basket_reaches_the_lanes_tills_not_the_pda(live_server):
    till_token = live_server.pair("till", "1")
    pda_token = live_server.pair("pda")
    with trio.fail_after(30):
        async with connect(live_server.ws_url, till_token) as till, connect(live_server.ws_url, pda_token) as pda:
            n = (await till.wait_event(lambda e: e["type"] == "ticket"))["ticket"]["rev"]
            lines = [{"code": GALETS, "qty": 2}, {"code": BAGUETTE}]
            reply = await pda.ok("basket_empty", basket="b-1", lane="1", lines=lines)
            assert reply["ticket"]["rev"] == n + 1  # one request, one change
            event = await till.wait_event(at_rev(n + 1))
            assert event["ticket"] == reply["ticket"]
            await pda.ok("stock", article="A001")
            assert tickets(pda) == []
