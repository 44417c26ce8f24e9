"""What the device actors that only report their state share (scanners, cradles): the
mailbox loop that answers ``GetDeviceState`` while their own tasks do the work, and the
link closed, bounded, however the actor ends."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from laneserver.actors.device_messages import GetDeviceState

# Seconds a device's link may take to close when its actor ends.
CLOSING_SECONDS = 1.0


async def serve_state(inbox: trio.MemoryReceiveChannel, what: str, state: Callable[[], Any],
                      tasks: Sequence[Callable[[], Awaitable[None]]], link: Any,
                      task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Run ``tasks`` and answer ``GetDeviceState`` with ``state()`` until ``inbox`` is
    closed; then stop the tasks and close ``link`` (shielded, at most ``CLOSING_SECONDS``).

    Raises:
        TypeError: any other message (a bug: ``what`` names the device).
    """
    try:
        async with trio.open_nursery() as nursery:
            for task in tasks:
                nursery.start_soon(task)
            task_status.started()
            async for envelope in inbox:
                with envelope:
                    match envelope.command:
                        case GetDeviceState():
                            envelope.reply(state())
                        case other:
                            raise TypeError(f"{what} got {other!r}")
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(CLOSING_SECONDS):
            await link.close()
