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
  Past the budget the actor stays stopped and its mailbox answers every ask at
  once with ``ActorStopped`` (``"stop"``: devices, lanes, stock points, the
  customers and sales actors), or the crash goes up and ends the process
  (``"raise"``: the journal only).

Invariants:
  - mailboxes are bounded (``MAILBOX_SIZE`` unless the owner says otherwise);
  - an envelope's reply channel is closed once the actor is done with it, replied
    or not, so an ``ask`` never waits on an actor that died mid-command: it gets
    ``ActorFailed`` instead;
  - ``ActorFailed.maybe_applied`` is False only when the command cannot have been
    applied (it never reached a working actor): the edge may then say "nothing
    was changed".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Generic, Protocol, TypeVar

import structlog
import trio

from laneserver.log import request_id

MAILBOX_SIZE = 16

C = TypeVar("C")
R = TypeVar("R")

log = structlog.get_logger("laneserver.runtime")


class ActorFailed(Exception):
    """The actor asked went away (crashed or stopped) before it replied.

    ``maybe_applied`` says whether the command reached a running actor: True when
    the actor took it and crashed on it (what it made durable before the crash
    stays), False when it never got there (mailbox closed, actor out of service).
    """

    def __init__(self, actor: str, *, maybe_applied: bool = True) -> None:
        super().__init__(f"actor {actor!r} did not reply")
        self.actor = actor
        self.maybe_applied = maybe_applied


class ActorStopped(ActorFailed):
    """The actor is out of service: it crashed past its restart budget and stays
    stopped; its mailbox answers every ask with this. Nothing was applied."""

    def __init__(self, actor: str, reason: str) -> None:
        super().__init__(actor, maybe_applied=False)
        self.args = (f"actor {actor!r} is out of service: {reason}",)
        self.reason = reason


class OutOfService:
    """The reply a stopped actor's mailbox gives every ask; ``ask`` turns it into
    ``ActorStopped`` (a value, not an error frame: the edge words the error)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


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
    """A command in transit, with its optional one-shot reply channel and the id of
    the request it serves (laneserver/log.py ``request_id``, as the sender had it).

    Used as a context manager by the actor loop: inside, the request id is the
    actor task's (its log lines carry it, and what it sends on carries it further);
    on exit the reply channel is closed, so an asker is never left waiting on a
    command that crashed.
    """

    __slots__ = ("command", "_reply", "request_id")

    def __init__(self, command: C, reply: ReplySlot | trio.MemorySendChannel | None = None,
                 request: str | None = None) -> None:
        self.command = command
        self._reply = reply
        self.request_id = request

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
        if self.request_id is not None:
            request_id.set(self.request_id)
        return self

    def __exit__(self, *exc: object) -> None:
        self.done()
        if self.request_id is not None:
            request_id.set(None)

    def done(self) -> None:
        """Close the reply channel (answered or not); the request id is left alone
        (the journal closes a whole batch's envelopes this way)."""
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
        """Send ``command``; waits only while the mailbox is full.

        Cancellation: a checkpoint only if already cancelled (then nothing is sent) or
        while it waits for room; with room it hands over without a pass through the
        scheduler (a lane tells its stock point after every scan: docs/performance.md).
        """
        envelope = Envelope(command, None, request_id.get())
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            self._send.send_nowait(envelope)
        except trio.WouldBlock:
            await self._send.send(envelope)

    def tell_nowait(self, command: C) -> bool:
        """Send ``command`` if the mailbox has room; returns False if it had none.

        For producers that must never wait (a scanner interrupt, a lane notifying
        a device): the caller decides what a full mailbox means.
        """
        try:
            self._send.send_nowait(Envelope(command, None, request_id.get()))
        except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    async def ask(self, command: C) -> Any:
        """Send ``command`` and wait for the actor's one reply.

        Raises:
            ActorStopped: the actor is out of service (past its restart budget);
                the command was not applied.
            ActorFailed: the actor finished with the command without replying
                (it crashed on it: ``maybe_applied``), or its mailbox is closed
                (shutting down: not ``maybe_applied``).

        Cancellation: safe; a reply that arrives after cancellation is dropped.
        """
        slot = ReplySlot()
        envelope = Envelope(command, slot, request_id.get())
        # ``send`` less its last step: with room in the mailbox it would pass through
        # the scheduler once more (a cancel-shielded checkpoint) only for this task to
        # wait on the reply right after, which is a checkpoint already. Every request
        # asks its lane and the lane asks the journal: docs/performance.md.
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            try:
                self._send.send_nowait(envelope)
            except trio.WouldBlock:
                await self._send.send(envelope)  # full: wait for room, as before
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            slot.close()
            raise ActorFailed(self.name, maybe_applied=False) from None
        try:
            value = await slot.receive()
        except trio.EndOfChannel:
            raise ActorFailed(self.name) from None
        if value.__class__ is OutOfService:
            raise ActorStopped(self.name, value.reason)
        return value

    def close(self) -> None:
        """Close the mailbox: the actor drains what is queued, then stops."""
        self._send.close()

    @property
    def depth(self) -> int:
        """Messages waiting in the mailbox now (``/metrics``)."""
        return self._send.statistics().current_buffer_used


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
    the actor stopped, its mailbox answering every ask with ``ActorStopped`` (a
    device: the lane goes on without it; a lane: the other lanes sell on; a stock
    point, the customers or the sales actor: the verbs that need it are refused,
    the rest of the shop goes on); ``"raise"`` propagates the crash and ends the
    process (the journal: without it nothing can be made durable, so systemd
    restarts the whole server from the durable state).
    """

    max_restarts: int = 5
    window: float = 60.0
    initial_backoff: float = 0.5
    max_backoff: float = 30.0
    give_up: str = "raise"


DEVICE_POLICY = RestartPolicy(give_up="stop")
# Lanes, stock points, customers, sales: a bug in one must never end the process.
CORE_POLICY = RestartPolicy(max_restarts=3, window=60.0, initial_backoff=0.1, max_backoff=2.0, give_up="stop")
JOURNAL_POLICY = RestartPolicy(max_restarts=3, window=60.0, initial_backoff=0.1, max_backoff=2.0, give_up="raise")


async def supervise(
    name: str,
    factory: Callable[[], Actor],
    inbox: trio.MemoryReceiveChannel,
    policy: RestartPolicy = CORE_POLICY,
    *,
    on_crash: Callable[[str, BaseException], Awaitable[None] | None] | None = None,
    on_stopped: Callable[[str, BaseException], Awaitable[None] | None] | None = None,
    task_status: trio.TaskStatus = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run ``factory()``'s actor on ``inbox``; restart it on a crash.

    The first start reports through ``task_status`` once the actor has called
    ``task_status.started()``, so ``await nursery.start(supervise, ...)`` starts
    actors in order. The actor returns normally when its inbox is closed and
    drained; the supervisor then returns too.

    Past the restart budget under a ``"stop"`` policy, ``on_stopped(name, crash)``
    is called once (awaited if it returns an awaitable: a journal entry, the
    tills told), then the mailbox answers every ask with ``ActorStopped`` until
    it is closed.

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
                reason = (f"{len(restarts) + 1} crashes within {policy.window:g} s, the last "
                          f"{type(crash).__name__}: {crash}")
                bound.error("actor_gave_up", restarts=len(restarts), reason=reason)
                if on_stopped is not None:
                    maybe = on_stopped(name, crash)
                    if maybe is not None:
                        await maybe
                # Keep answering, so nobody blocks on a dead actor and every asker
                # learns at once that it is out of service.
                await _out_of_service(inbox, reason)
                return
            raise crash
        restarts.append(now)
        await trio.sleep(backoff)
        backoff = min(backoff * 2, policy.max_backoff)


async def _run_actor(actor: Actor, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    await actor.run(inbox, task_status=task_status)


async def _out_of_service(inbox: trio.MemoryReceiveChannel, reason: str) -> None:
    stopped = OutOfService(reason)
    async for envelope in inbox:
        with envelope:
            envelope.reply(stopped)
