"""``Address.ask`` hands its envelope over without a pass through the scheduler when
the mailbox has room (docs/performance.md, "Target 1 after …"), and keeps the
contract of ``send``: cancelled before it sends → nothing sent; a full mailbox → it
waits for room; cancelled while waiting → nothing sent. Exact virtual time, pure Trio."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from laneserver.actors.runtime import open_mailbox


async def test_an_ask_already_cancelled_sends_nothing(autojump_clock) -> None:
    address, inbox = open_mailbox("a", 2)
    with trio.CancelScope() as scope:
        scope.cancel()
        await address.ask("never")
    assert scope.cancelled_caught
    with pytest.raises(trio.WouldBlock):
        inbox.receive_nowait()


class _Steps(trio.abc.Instrument):
    """How many times the scheduler ran each task (``before_task_step``)."""

    def __init__(self) -> None:
        self.steps: dict[trio.lowlevel.Task, int] = {}

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps[task] = self.steps.get(task, 0) + 1


async def test_an_ask_with_room_runs_twice_sending_and_getting_its_reply(autojump_clock) -> None:
    # Once to hand the envelope over and wait, once with the reply: no pass through
    # the scheduler in between (``send`` made it three).
    address, inbox = open_mailbox("a", 2)
    got: list[object] = []
    tasks: list[trio.lowlevel.Task] = []

    async def asker() -> None:
        tasks.append(trio.lowlevel.current_task())
        got.append(await address.ask("q"))

    steps = _Steps()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            trio.lowlevel.add_instrument(steps)
            nursery.start_soon(asker)
            await trio.testing.wait_all_tasks_blocked()
            with inbox.receive_nowait() as envelope:
                envelope.reply("a")
    trio.lowlevel.remove_instrument(steps)
    assert got == ["a"]
    assert steps.steps[tasks[0]] == 2


async def test_an_ask_on_a_full_mailbox_waits_for_room_then_gets_its_reply(autojump_clock) -> None:
    address, inbox = open_mailbox("a", 1)
    assert address.tell_nowait("filler")
    got: list[tuple[float, object]] = []

    async def asker() -> None:
        reply = await address.ask("q")
        got.append((trio.current_time(), reply))

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(asker)
            await trio.sleep(3)
            assert inbox.receive_nowait().command == "filler"  # room: the ask's envelope moves in
            with inbox.receive_nowait() as envelope:
                assert envelope.command == "q"
                envelope.reply("a")
    assert got == [(3, "a")]


async def test_an_ask_cancelled_while_the_mailbox_is_full_sends_nothing(autojump_clock) -> None:
    address, inbox = open_mailbox("a", 1)
    assert address.tell_nowait("filler")
    with trio.move_on_after(2) as scope:
        await address.ask("q")
    assert scope.cancelled_caught
    assert inbox.receive_nowait().command == "filler"
    with pytest.raises(trio.WouldBlock):
        inbox.receive_nowait()
