"""``outcomes.ask``: the one round trip every domain's edge makes (server/outcomes.py).

The actor is a task on a real mailbox (``open_mailbox``) that records the ``Do`` it is
asked and answers what the test gives it, under ``trio.fail_after``.
"""

from __future__ import annotations

import json
from typing import Any

import trio

from laneserver.actors.messages import Caller, Do
from laneserver.actors.replies import Replayed
from laneserver.actors.runtime import open_mailbox
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, fingerprint
from laneserver.rules.outcome import Code, refused
from laneserver.server import outcomes

CALLER = Caller(device="till-1-1", seller="marie", lane="1")
UNUSED = refused(Code.BAD_REQUEST, "not a number", field="qty")


def answered(request: wire.Request, result: Any) -> bytes:
    return encode(wire.Ok(re=request.id)) if result == "done" else b"unexpected"


async def round_trip(request: wire.Request, command: Any, answer: Any, **options: Any) -> tuple[dict, list[Do]]:
    """The reply ``outcomes.ask`` gives, and the ``Do``s the actor was asked."""
    address, inbox = open_mailbox("stock:main", 4)
    asked: list[Do] = []

    async def actor() -> None:
        async for envelope in inbox:
            with envelope:
                asked.append(envelope.command)
                envelope.reply(answer)

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor)
            reply = await outcomes.ask(address, CALLER, request, command, answered, **options)
            address.close()
    return json.loads(reply), asked


async def test_a_command_refused_at_the_edge_never_reaches_the_actor() -> None:
    request = wire.StockCount(id="r1", article="WINE", counted="x")  # unkeyed: no first reply to look up
    reply, asked = await round_trip(request, UNUSED, "done")
    assert asked == []
    assert reply == {"type": "error", "re": "r1", "code": "bad_request", "message": "not a number", "field": "qty"}


async def test_the_actor_is_asked_with_the_key_and_fingerprint_and_its_result_answered() -> None:
    keyed = wire.StockCount(id="r2", article="WINE", counted="3", key="k2")
    reply, asked = await round_trip(keyed, "count", "done")
    assert asked == [Do(CALLER, "count", "k2", fingerprint(keyed))] and reply == {"type": "ok", "re": "r2"}
    plain = wire.StockCount(id="r3", article="WINE", counted="3")
    _, asked = await round_trip(plain, "count", "done")
    assert asked == [Do(CALLER, "count", None, None)]  # no key: nothing to remember it by


async def test_a_refusal_and_a_replayed_frame_from_the_actor() -> None:
    request = wire.StockCount(id="r4", article="WINE", counted="3", key="k4")
    reply, _ = await round_trip(request, "count", refused(Code.NOT_FOUND, "no article WINE", article="WINE",
                                                         shelf="A1"))
    # A detail the error frame has no field for (``shelf``) stays out of it.
    assert reply == {"type": "error", "re": "r4", "code": "not_found", "message": "no article WINE",
                     "article": "WINE"}
    reply, _ = await round_trip(request, "count", Replayed(encode(wire.Ok(re="first"))))
    assert reply == {"type": "ok", "re": "r4"}  # the journaled frame, re-addressed


async def test_a_keyed_refusal_goes_to_the_actor_when_the_edge_says_so() -> None:
    """Every edge (the default): a retry of a keyed request the actor already answered
    gets that answer, though translating it again is refused now (the catalog changed
    since); an edge may still answer it itself (``keyed_refusals_asked=False``)."""
    request = wire.StockCount(id="r5", article="WINE", counted="3", key="k5")
    reply, asked = await round_trip(request, UNUSED, "done")
    assert asked == [Do(CALLER, UNUSED, "k5", fingerprint(request))] and reply == {"type": "ok", "re": "r5"}
    reply, asked = await round_trip(request, UNUSED, "done", keyed_refusals_asked=False)
    assert asked == [] and reply["code"] == "bad_request"
    unkeyed = wire.StockCount(id="r6", article="WINE", counted="3")
    reply, asked = await round_trip(unkeyed, UNUSED, "done", keyed_refusals_asked=True)
    assert asked == [] and reply["code"] == "bad_request"

