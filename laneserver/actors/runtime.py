"""The actor runtime: bounded mailboxes, tell and ask, supervision.

An actor is a Trio task that owns its state and reads ``Envelope`` objects from a
bounded mailbox. Other tasks reach it through an ``Address`` (the send side of
that mailbox) and never touch its state.

* ``tell`` sends a command and does not wait for an answer.
* ``ask`` sends a command with a one-shot reply channel and waits for the one
  reply. The caller owns the timeout (wrap the call in ``trio.fail_after``).
* ``supervise`` runs an actor under a restart policy: a crash is logged and the
  actor is rebuilt from a factory after a backoff, as long as the restart budget
  allows; the mailbox survives restarts, so addresses handed out stay valid.

Invariants:
  - mailboxes are bounded (``MAILBOX_SIZE`` unless the owner says otherwise);
  - an envelope's reply channel is closed once the actor is done with it, replied
    or not, so an ``ask`` never waits on an actor that died mid-command: it gets
    ``ActorFailed`` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Generic, Protocol, TypeVar

import structlog
import trio

MAILBOX_SIZE = 16

C = TypeVar("C")
R = TypeVar("R")

log = structlog.get_logger("laneserver.runtime")


class ActorFailed(Exception):
    """The actor asked went away (crashed or stopped) before it replied."""

    def __init__(self, actor: str) -> None:
        super().__init__(f"actor {actor!r} did not reply")
        self.actor = actor


class ReplySlot:
    """The one-shot reply of an ``ask``: holds one value, or ends empty when closed.

    What a ``trio.open_memory_channel(1)`` pair did here, at half the cost (an ask is on
    the path of every request: docs/performance.md): the asker waits in ``receive``,
    the actor's envelope calls ``send_nowait`` once and/or ``close``. A value sent
    after the asker gave up (cancelled) is dropped with the slot.
    """

    __slots__ = ("_task", "_value", "_state")

    _OPEN, _SENT, _CLOSED = 0, 1, 2

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._value: Any = None
        self._state = self._OPEN

    def send_nowait(self, value: Any) -> None:
        if self._state != self._OPEN:
            raise trio.ClosedResourceError("the reply was already sent or the slot closed")
        self._value, self._state = value, self._SENT
        self._wake()

    def close(self) -> None:
        if self._state == self._OPEN:
            self._state = self._CLOSED
            self._wake()

    def _wake(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            trio.lowlevel.reschedule(task)

    async def receive(self) -> Any:
        """The value sent; ``trio.EndOfChannel`` if the slot was closed without one."""
        if self._state == self._OPEN:
            self._task = trio.lowlevel.current_task()

            def abort(_raise_cancel: Any) -> trio.lowlevel.Abort:
                self._task = None
                return trio.lowlevel.Abort.SUCCEEDED

            await trio.lowlevel.wait_task_rescheduled(abort)
        else:
            await trio.lowlevel.checkpoint()
        if self._state == self._SENT:
            return self._value
        raise trio.EndOfChannel


class Envelope(Generic[C]):
    """A command in transit, with its optional one-shot reply channel.

    Used as a context manager by the actor loop: on exit the reply channel is
    closed, so an asker is never left waiting on a command that crashed.
    """

    __slots__ = ("command", "_reply")

    def __init__(self, command: C, reply: ReplySlot | trio.MemorySendChannel | None = None) -> None:
        self.command = command
        self._reply = reply

    @property
    def wants_reply(self) -> bool:
        return self._reply is not None

    def reply(self, value: Any) -> None:
        """Send the one reply. Never blocks: the reply channel has room for one."""
        if self._reply is None:
            return
        try:
            self._reply.send_nowait(value)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the asker gave up (its timeout fired); nothing to do
        finally:
            self._reply.close()
            self._reply = None

    def __enter__(self) -> "Envelope[C]":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._reply is not None:
            self._reply.close()
            self._reply = None


class Address(Generic[C]):
    """How other tasks reach an actor: the send side of its mailbox."""

    __slots__ = ("name", "_send")

    def __init__(self, name: str, send: trio.MemorySendChannel) -> None:
        self.name = name
        self._send = send

    async def tell(self, command: C) -> None:
        """Send ``command``; waits only while the mailbox is full."""
        await self._send.send(Envelope(command))

    def tell_nowait(self, command: C) -> bool:
        """Send ``command`` if the mailbox has room; returns False if it had none.

        For producers that must never wait (a scanner interrupt, a lane notifying
        a device): the caller decides what a full mailbox means.
        """
        try:
            self._send.send_nowait(Envelope(command))
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def ask(self, command: C) -> Any:
        """Send ``command`` and wait for the actor's one reply.

        Raises:
            ActorFailed: the actor finished with the command without replying
                (it crashed, or is shutting down).

        Cancellation: safe; a reply that arrives after cancellation is dropped.
        """
        slot = ReplySlot()
        try:
            await self._send.send(Envelope(command, slot))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            slot.close()
            raise ActorFailed(self.name) from None
        try:
            return await slot.receive()
        except trio.EndOfChannel:
            raise ActorFailed(self.name) from None

    def close(self) -> None:
        """Close the mailbox: the actor drains what is queued, then stops."""
        self._send.close()


def open_mailbox(name: str, size: int = MAILBOX_SIZE) -> tuple[Address, trio.MemoryReceiveChannel]:
    if size == math.inf or size < 0:
        raise ValueError("mailboxes are bounded")
    send, recv = trio.open_memory_channel(size)
    return Address(name, send), recv


class Actor(Protocol):
    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status: Any = ...) -> None: ...


@dataclass(frozen=True)
class RestartPolicy:
    """How a supervisor restarts a crashed actor.

    At most ``max_restarts`` restarts within ``window`` seconds; between two
    restarts it waits ``initial_backoff`` seconds, doubled each time up to
    ``max_backoff``, reset after ``window`` seconds without a crash.
    ``give_up`` says what happens when the budget is spent: ``"stop"`` leaves
    the actor stopped (a device: the lane goes on without it), ``"raise"``
    propagates the crash (a lane or the journal: the process stops and systemd
    restarts it from the durable state).
    """

    max_restarts: int = 5
    window: float = 60.0
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    give_up: str = "raise"


DEVICE_POLICY = RestartPolicy(give_up="stop")
CORE_POLICY = RestartPolicy(max_restarts=3, window=60.0, initial_backoff=0.1, max_backoff=2.0)


async def supervise(
    name: str,
    factory: Callable[[], Actor],
    inbox: trio.MemoryReceiveChannel,
    policy: RestartPolicy = CORE_POLICY,
    *,
    on_crash: Callable[[str, BaseException], Awaitable[None] | None] | None = None,
    task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``factory()``'s actor on ``inbox``; restart it on a crash.

    The first start reports through ``task_status`` once the actor has called
    ``task_status.started()``, so ``await nursery.start(supervise, ...)`` starts
    actors in order. The actor returns normally when its inbox is closed and
    drained; the supervisor then returns too.

    Cancellation: passes straight through (it is not a crash).
    """
    restarts: list[float] = []
    backoff = policy.initial_backoff
    first = True
    bound = log.bind(actor=name)
    while True:
        crash: Exception | None = None
        try:
            async with trio.open_nursery() as nursery:
                actor = factory()
                value = await nursery.start(_run_actor, actor, inbox)
                if first:
                    task_status.started(value)
                    first = False
            return  # the actor stopped on its own: its inbox was closed
        except* Exception as group:
            crash = group.exceptions[0] if len(group.exceptions) == 1 else group
        # Logged outside the except* block (a log call must not be inside it).
        now = trio.current_time()
        if restarts and now - restarts[-1] >= policy.window:
            backoff = policy.initial_backoff
        restarts = [t for t in restarts if now - t < policy.window]
        if first:
            # Start-up refused (a bad device address, a database behind its
            # anchor…): the error says why; whoever started us reports it.
            bound.error("actor_failed_to_start", error=str(crash))
        else:
            bound.error("actor_crashed", error=repr(crash), restarts=len(restarts), exc_info=crash)
        if on_crash is not None:
            maybe = on_crash(name, crash)
            if maybe is not None:
                await maybe
        if first or len(restarts) >= policy.max_restarts:
            if policy.give_up == "stop" and not first:
                bound.error("actor_gave_up", restarts=len(restarts))
                # Keep the mailbox drained so nobody blocks on a dead device.
                await _drain_forever(inbox)
                return
            raise crash
        restarts.append(now)
        await trio.sleep(backoff)
        backoff = min(backoff * 2, policy.max_backoff)


async def _run_actor(actor: Actor, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    await actor.run(inbox, task_status=task_status)


async def _drain_forever(inbox: trio.MemoryReceiveChannel) -> None:
    async for envelope in inbox:
        with envelope:
            pass
