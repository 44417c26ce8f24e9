"""A session's websocket: the frames in, the bounded outbox, the writer, and the
pushed events (``deliver``) that must never block.

Everything the session sends goes through the outbox, but a reply with nothing
before it to write (nothing queued, kept aside or being written), which the reader
writes itself. Replies wait for room (that only slows this session's own reader);
pushed events never wait: when the outbox is
full the newest event of each kind is kept aside and sent once the outbox has drained
(earlier ones of that kind are superseded by it), so a slow or gone browser never
blocks its lane and always ends on the lane's current ticket and printer status.

The transport is what a lane's publisher and the stock points deliver to (the
``Subscriber`` of actors/messages.py), and the ``Caller.origin`` of the session's
requests: the lane leaves it out of the ``ticket`` event of a change it made.
"""

from __future__ import annotations

from typing import Any

import trio
from starlette.websockets import WebSocket, WebSocketDisconnect

from laneserver.actors.lane_messages import LaneTicket
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import ErrorFrame, decode_request
from laneserver.server.ticket_frames import ticket_event
from laneserver.server.edge_events import event_frame
from laneserver.server.metrics import Metrics


class Transport:
    def __init__(self, websocket: WebSocket, metrics: Metrics, *, outbox: int, max_frame_bytes: int) -> None:
        self.ws = websocket
        self.metrics = metrics
        self.max_frame_bytes = max_frame_bytes
        self._out_send, self._out_recv = trio.open_memory_channel[bytes](outbox)
        # Newest pushed frame of each kind that found the outbox full.
        self._pending: dict[str, bytes] = {}
        # Frames put in the outbox and not yet written by the writer. While there is
        # none (and none kept aside, and nothing being written), the reader writes its
        # reply itself (``reply``): the same order, without waking the writer task.
        self._unsent = 0
        # Held while a frame is being written, by the reader (a reply) or the writer.
        self._writing = trio.Lock()

    # --- pushed events (from the publisher, the stock points, the edge; never blocks) ------

    def deliver(self, frame: Any, kind: str = "ticket") -> None:
        if not isinstance(frame, bytes):  # a domain value (an alert): its frame, encoded once for all sessions
            frame = event_frame(frame)
        if kind in self._pending:
            # Already behind on this kind: keep only the newest, in order after
            # what is queued.
            self._pending[kind] = frame
            self.metrics.events_conflated += 1
            return
        try:
            self._out_send.send_nowait(frame)
            self._unsent += 1
        except trio.WouldBlock:
            self._pending[kind] = frame
            self.metrics.events_conflated += 1
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return  # the session is closing: nobody will read the event

    def deliver_ticket(self, ticket: LaneTicket) -> None:
        """The lane's open ticket changed (or was asked for on subscribing): its
        ``ticket`` event, encoded once for every session of the lane (server/ticket_frames.py)."""
        self.deliver(ticket_event(ticket), "ticket")

    # --- the two sides -------------------------------------------------------------------

    async def receive(self) -> wire.Request | wire.Error | None:
        """The next frame the browser sends, decoded (a ``wire.Error`` for one that is not
        a request); None once it has disconnected."""
        try:
            message = await self.ws.receive()
        except (WebSocketDisconnect, RuntimeError, OSError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        self.metrics.frames_in += 1
        raw = message.get("text")
        if raw is None:
            raw = message.get("bytes") or b""
        request = decode_request(raw, max_bytes=self.max_frame_bytes)
        if not isinstance(request, wire.Error):
            self.metrics.requests[request.__struct_config__.tag] += 1
        return request

    async def reply(self, frame: bytes) -> bool:
        """Write a reply, or queue it behind what is to be written first, waiting for
        room; False once the session is closing."""
        if isinstance(frame, ErrorFrame):  # every error reply is made by codec.error_frame / with_re
            self.metrics.errors[frame.code] += 1
        if self._unsent == 0 and not self._pending and not self._writing.locked():
            # Nothing to write before it: written here, the writer task is not woken
            # (a task switch per request: docs/performance.md). A frame delivered
            # meanwhile waits in the outbox, and the writer for this one to be written.
            self._writing.acquire_nowait()
            try:
                await self._send(frame)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return False  # the browser is gone: the session ends
            finally:
                self._writing.release()
            return True
        # ``send`` without its last step (a cancel-shielded checkpoint) when the outbox
        # has room: the reader goes straight back to ``receive``, which checkpoints
        # anyway, instead of once more through the scheduler (docs/performance.md).
        await trio.lowlevel.checkpoint_if_cancelled()
        self._unsent += 1  # before: the writer may write it before ``send`` returns here
        sent = False
        try:
            try:
                self._out_send.send_nowait(frame)
            except trio.WouldBlock:
                await self._out_send.send(frame)
            sent = True
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        finally:
            if not sent:
                self._unsent -= 1
        return True

    async def writer(self) -> None:
        """The outbox in order, then what was kept aside; each frame after the reply
        the reader may be writing (``reply``)."""
        try:
            async for frame in self._out_recv:
                await self._write(frame)
                self._unsent -= 1
                while self._pending and self._out_recv.statistics().current_buffer_used == 0:
                    kind = next(iter(self._pending))
                    await self._write(self._pending.pop(kind))
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the browser is gone: the reader sees it too and ends the session

    async def _write(self, frame: bytes) -> None:
        """The writer's frame, after the reply the reader may be writing."""
        if self._writing.locked():
            async with self._writing:
                await self._send(frame)
            return
        self._writing.acquire_nowait()
        try:
            await self._send(frame)
        finally:
            self._writing.release()

    async def _send(self, frame: bytes) -> None:
        await self.ws.send_text(frame.decode())
        self.metrics.frames_out += 1

    async def close(self, code: int, reason: str) -> None:
        """Close the websocket (bounded: a gone peer is not waited for)."""
        with trio.move_on_after(1):
            try:
                await self.ws.close(code=code, reason=reason)
            except (RuntimeError, OSError, WebSocketDisconnect):
                pass  # the connection is already gone
