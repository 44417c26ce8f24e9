"""server/edge_keys.py ``one_at_a_time``: one device's tries of one key go one at a time
(the second finds the first's reply), other keys and devices do not wait, and nothing
is kept once no try is in flight (cancelled ones too)."""

from __future__ import annotations

import trio

from laneserver.protocol import messages as wire
from laneserver.server import edge_keys

JOURNAL = object()  # stands for the journal's address: only its identity is used


def _save(key: str | None) -> wire.KeyboardSave:
    return wire.KeyboardSave(id="r1", pages=[], key=key)


async def test_one_devices_tries_of_a_key_go_one_at_a_time_and_leave_nothing_behind() -> None:
    order: list[str] = []

    async def attempt(name: str, device: str, key: str | None) -> None:
        async with edge_keys.one_at_a_time(JOURNAL, device, _save(key)):
            order.append(f"{name}+")
            await trio.sleep(0.05)
            order.append(f"{name}-")

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(attempt, "a", "till-1", "k1")
            await trio.sleep(0.01)
            nursery.start_soon(attempt, "b", "till-1", "k1")  # the same try again: waits
            nursery.start_soon(attempt, "c", "till-2", "k1")  # another device: does not
            nursery.start_soon(attempt, "d", "till-1", None)  # unkeyed: does not
        assert order.index("a-") < order.index("b+")
        assert order.index("c+") < order.index("a-") and order.index("d+") < order.index("a-")
        assert edge_keys._writing == {}
        # A try cancelled while it waits leaves nothing either.
        async with trio.open_nursery() as nursery:
            nursery.start_soon(attempt, "e", "till-1", "k2")
            await trio.sleep(0.01)
            with trio.move_on_after(0.01):
                async with edge_keys.one_at_a_time(JOURNAL, "till-1", _save("k2")):
                    raise AssertionError("entered while the first try was in flight")
        assert edge_keys._writing == {}
