"""The HTTP edge's places for websockets that have not said hello (server/http_edge.py
``Edge.websocket_place``), in exact virtual time: no sockets, ``autojump_clock``.

A socket beyond ``max_unauthenticated`` waits for a place, first come first served, at
most ``within`` seconds; a place given back goes to the longest waiting; a wait
cancelled (its connection gone, the server stopping) takes no place.
"""

from __future__ import annotations

import trio

from laneserver.server.http_edge import Edge


def _edge(places: int) -> Edge:
    return Edge(capacity=1000, max_unauthenticated=places)


async def test_places_are_given_at_once_while_free(autojump_clock):
    edge = _edge(2)
    first, second = await edge.websocket_place(("10.0.0.1", 1), 10), await edge.websocket_place(None, 10)
    assert first is not None and second is not None
    assert edge.unauthenticated == 2 and edge.waiting == 0 and trio.current_time() == 0


async def test_a_socket_beyond_the_bound_waits_then_gets_the_place_given_back(autojump_clock):
    edge = _edge(1)
    holder = await edge.websocket_place(None, 10)
    got: list[float] = []

    async def waiter() -> None:
        place = await edge.websocket_place(None, 10)
        assert place is not None
        got.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await trio.sleep(3)
        assert edge.waiting == 1 and edge.unauthenticated == 1
        holder.release(said_hello=True)
        holder.release(said_hello=True)  # released once only
    assert got == [3.0] and edge.waiting == 0 and edge.unauthenticated == 1


async def test_first_come_first_served_and_a_bounded_wait(autojump_clock):
    edge = _edge(1)
    holder = await edge.websocket_place(None, 10)
    order: list[tuple[int, float, bool]] = []

    async def waiter(n: int) -> None:
        place = await edge.websocket_place(None, 10)
        order.append((n, trio.current_time(), place is not None))
        if place is not None:
            await trio.sleep(4)  # says hello 4 s after its place
            place.release(said_hello=True)

    async with trio.open_nursery() as nursery:
        for n in range(4):
            nursery.start_soon(waiter, n)
            await trio.sleep(0.5)  # arrive 0.5 s apart
        await trio.sleep(0.5)
        holder.release(said_hello=False)  # at 2.5 s
    # In the order they came: 0 gets the place at 2.5 s and holds it to 6.5 s, then 1
    # (arrived at 0.5 s) to 10.5 s, then 2 (arrived at 1 s, 0.5 s before its 10 s were
    # up); 3, arrived at 1.5 s, has waited its 10 s in vain at 11.5 s.
    assert order == [(0, 2.5, True), (1, 6.5, True), (2, 10.5, True), (3, 11.5, False)], order
    assert edge.waited_out == 1 and edge.waiting == 0 and edge.unauthenticated == 0


async def test_a_cancelled_wait_takes_no_place(autojump_clock):
    edge = _edge(1)
    holder = await edge.websocket_place(None, 10)
    with trio.move_on_after(2):
        await edge.websocket_place(None, 10)
    assert edge.waiting == 0 and edge.waited_out == 0
    holder.release(said_hello=False)
    assert await edge.websocket_place(None, 10) is not None and trio.current_time() == 2
