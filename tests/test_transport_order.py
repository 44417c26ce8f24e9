"""The session's transport (server/transport.py): a reply with nothing before it is
written by the reader itself, and the frames still leave in the order they were
given — a pushed event that arrives while a reply is being written goes after it,
a reply behind queued events goes after them.

The websocket here is a stand-in for Starlette's (``send_text`` only): what is
checked is the transport's order, not the network; the real server's order is
covered end to end by tests/e2e/test_ticket_rev.py and test_slow_reader.py."""

from __future__ import annotations

import trio

from laneserver.server.metrics import Metrics
from laneserver.server.transport import Transport


class SlowSocket:
    """Each ``send_text`` waits until the test lets it finish (``release``)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.started = 0
        self._gates: list[trio.Event] = []

    async def send_text(self, text: str) -> None:
        self.started += 1
        gate = trio.Event()
        self._gates.append(gate)
        await gate.wait()
        self.sent.append(text)

    def release(self) -> None:
        for gate in self._gates:
            gate.set()


async def _settle() -> None:
    for _ in range(10):
        await trio.lowlevel.checkpoint()


async def test_an_event_delivered_while_a_reply_is_written_goes_after_it():
    socket = SlowSocket()
    transport = Transport(socket, Metrics(), outbox=8, max_frame_bytes=1 << 16)  # type: ignore[arg-type]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(transport.writer)
            replied: list[bool] = []

            async def reply(frame: bytes) -> None:
                replied.append(await transport.reply(frame))

            nursery.start_soon(reply, b"reply 1")
            await _settle()
            assert socket.started == 1  # the reader is writing its reply itself
            transport.deliver(b"event 1")
            await _settle()
            assert socket.started == 1  # the writer waits for the reply to be written
            nursery.start_soon(reply, b"reply 2")  # behind the event: through the outbox
            await _settle()
            while len(socket.sent) < 3:
                socket.release()
                await _settle()
            assert socket.sent == ["reply 1", "event 1", "reply 2"]
            assert replied == [True, True]
            assert transport._unsent == 0
            # Nothing left before it: the next reply is written by the reader again.
            nursery.start_soon(reply, b"reply 3")
            await _settle()
            socket.release()
            await _settle()
            assert socket.sent[-1] == "reply 3"
            nursery.cancel_scope.cancel()
