"""The actor runtime: mailboxes, tell/ask, supervision — in exact virtual time.

Every test runs under ``autojump_clock`` and only pure Trio (no threads), so the
clock jumps straight to the next deadline and every duration below is exact:
a backoff of 0.5 s is asserted as ``== 0.5``, not "about half a second".
``trio.fail_after`` guards the waits that a bug would turn into hangs; under the
autojump clock a hang becomes an immediate ``TooSlowError``.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import pytest
import trio

from laneserver.actors.runtime import (
    CORE_POLICY,
    DEVICE_POLICY,
    JOURNAL_POLICY,
    ActorFailed,
    ActorStopped,
    Envelope,
    RestartPolicy,
    open_mailbox,
    supervise,
)

# Virtual seconds: under the autojump clock a supervisor that never stops fails
# the test at once instead of hanging it.
DEADLINE = 1000

# Powers of two: exact in binary floating point, so sums of them compare with ==.
BACKOFF_POLICY = RestartPolicy(max_restarts=10, window=600.0, initial_backoff=0.5, max_backoff=30.0)


# -- test actors -----------------------------------------------------------------


class Boom(RuntimeError):
    """The bug a test actor was told to have."""


class Recorder:
    """A factory of ``EchoActor``s that remembers when (and how often) it built one."""

    def __init__(self, *, fail_start: bool = False, work_seconds: float = 0.0, max_builds: int = 100) -> None:
        self.fail_start = fail_start
        self.work_seconds = work_seconds
        self.max_builds = max_builds
        self.builds = 0
        self.starts: list[float] = []
        self.handled: list[Any] = []

    def __call__(self) -> "EchoActor":
        # A bound on builds turns a supervisor that restarts forever into a
        # failure instead of a busy loop (the autojump clock never fires then).
        self.builds += 1
        if self.builds > self.max_builds:
            raise AssertionError(f"factory called {self.builds} times")
        return EchoActor(self, generation=self.builds)


class EchoActor:
    """Replies ``(generation, command)``; ``"crash"`` raises while handling it.

    Uses ``async for`` over the inbox without closing it, as the real actors do,
    so the supervisor can hand the same inbox to the next generation.
    """

    def __init__(self, recorder: Recorder, generation: int) -> None:
        self.recorder = recorder
        self.generation = generation

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.recorder.starts.append(trio.current_time())
        if self.recorder.fail_start:
            raise Boom("cannot start")
        task_status.started(f"gen-{self.generation}")
        async for envelope in inbox:
            with envelope:
                if envelope.command == "crash":
                    raise Boom(f"crash in generation {self.generation}")
                if self.recorder.work_seconds:
                    await trio.sleep(self.recorder.work_seconds)
                self.recorder.handled.append((trio.current_time(), envelope.command))
                envelope.reply((self.generation, envelope.command))


class CrashLog:
    """The ``on_crash`` callback: when, and what."""

    def __init__(self) -> None:
        self.crashes: list[tuple[float, str, BaseException]] = []

    def __call__(self, name: str, error: BaseException) -> None:
        self.crashes.append((trio.current_time(), name, error))


def deltas(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


# -- mailboxes, tell, ask --------------------------------------------------------


async def test_ask_gets_the_reply(autojump_clock) -> None:
    recorder = Recorder()
    address, inbox = open_mailbox("echo")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            assert await nursery.start(recorder().run, inbox) == "gen-1"
            with trio.fail_after(1):
                assert await address.ask("hello") == (1, "hello")
                assert await address.ask("again") == (1, "again")
            address.close()
    assert [command for _, command in recorder.handled] == ["hello", "again"]


async def test_tell_does_not_wait_for_processing(autojump_clock) -> None:
    recorder = Recorder(work_seconds=10)
    address, inbox = open_mailbox("slow")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(recorder().run, inbox)
            t0 = trio.current_time()
            await address.tell("a")
            await address.tell("b")
            assert trio.current_time() == t0  # no virtual time passed: nobody waited for the work
            assert recorder.handled == []
            address.close()  # the actor drains what is queued, then stops
    assert recorder.handled == [(t0 + 10, "a"), (t0 + 20, "b")]


async def test_tell_nowait_returns_false_on_a_full_mailbox(autojump_clock) -> None:
    address, inbox = open_mailbox("full", 2)
    assert address.tell_nowait("a") is True
    assert address.tell_nowait("b") is True
    assert address.tell_nowait("c") is False  # full: the caller decides, nobody waits
    assert inbox.receive_nowait().command == "a"
    assert address.tell_nowait("c") is True
    assert [inbox.receive_nowait().command for _ in range(2)] == ["b", "c"]


async def test_tell_nowait_returns_false_on_a_closed_mailbox(autojump_clock) -> None:
    address, inbox = open_mailbox("closed", 2)
    address.close()
    assert address.tell_nowait("a") is False


async def test_ask_on_a_closed_mailbox_raises_actor_failed(autojump_clock) -> None:
    address, inbox = open_mailbox("closed", 2)
    address.close()
    with trio.fail_after(1), pytest.raises(ActorFailed):
        await address.ask("anyone?")


def test_open_mailbox_refuses_an_unbounded_mailbox() -> None:
    with pytest.raises(ValueError, match="bounded"):
        open_mailbox("unbounded", math.inf)
    with pytest.raises(ValueError, match="bounded"):
        open_mailbox("negative", -1)


async def test_an_envelope_left_without_a_reply_closes_its_reply_channel(autojump_clock) -> None:
    send, recv = trio.open_memory_channel(1)
    with Envelope("command", send):
        pass
    with pytest.raises(trio.EndOfChannel):
        recv.receive_nowait()


async def test_bounded_mailbox_exerts_backpressure(autojump_clock) -> None:
    # The actor starts reading one second late, then needs one second a command.
    recorder = Recorder(work_seconds=1)
    address, inbox = open_mailbox("slow", 2)

    async def late_actor() -> None:
        await trio.sleep(1)
        await recorder().run(inbox)

    sent_at: list[float] = []
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(late_actor)
            t0 = trio.current_time()
            for command in ("a", "b", "c", "d"):
                await address.tell(command)
                sent_at.append(trio.current_time() - t0)
            address.close()
    # a and b fill the mailbox at once; c waits until the actor takes a (t=1);
    # d waits until it is done with a and takes b (t=2).
    assert sent_at == [0, 0, 1, 2]
    assert recorder.handled == [(t0 + 2, "a"), (t0 + 3, "b"), (t0 + 4, "c"), (t0 + 5, "d")]


# -- a crash while handling an ask ------------------------------------------------


async def test_an_actor_crashing_on_an_ask_fails_the_asker_instead_of_hanging(autojump_clock) -> None:
    recorder = Recorder()
    address, inbox = open_mailbox("crashy")
    crashed = trio.Event()

    async def host(task_status=trio.TASK_STATUS_IGNORED) -> None:
        with pytest.raises(Boom):
            await recorder().run(inbox, task_status=task_status)
        crashed.set()

    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(host)
            t0 = trio.current_time()
            with trio.fail_after(5), pytest.raises(ActorFailed) as failed:
                await address.ask("crash")
            assert failed.value.actor == "crashy"
            assert trio.current_time() == t0
            with trio.fail_after(5):
                await crashed.wait()


# -- supervise -------------------------------------------------------------------


async def test_supervise_returns_the_started_value_on_first_start(autojump_clock) -> None:
    recorder = Recorder()
    address, inbox = open_mailbox("echo")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            value = await nursery.start(supervise, "echo", recorder, inbox, BACKOFF_POLICY)
            assert value == "gen-1"
            assert len(recorder.starts) == 1
            with trio.fail_after(1):
                assert await address.ask("x") == (1, "x")
            address.close()


async def test_a_crash_restarts_the_actor_after_initial_backoff(autojump_clock) -> None:
    recorder = Recorder()
    crashes = CrashLog()
    address, inbox = open_mailbox("echo")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(supervise, on_crash=crashes), "echo", recorder, inbox, BACKOFF_POLICY)
            t0 = trio.current_time()
            await address.tell("crash")
            with trio.fail_after(5):
                # The address handed out before the crash still reaches the new actor.
                assert await address.ask("after") == (2, "after")
            assert recorder.starts == [t0, t0 + BACKOFF_POLICY.initial_backoff]
            assert trio.current_time() == t0 + 0.5
            assert [(at, name, type(error)) for at, name, error in crashes.crashes] == [(t0, "echo", Boom)]
            address.close()


async def test_backoff_doubles_between_restarts(autojump_clock) -> None:
    recorder = Recorder()
    address, inbox = open_mailbox("echo")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(supervise, "echo", recorder, inbox, BACKOFF_POLICY)
            for _ in range(3):
                await address.tell("crash")  # each generation takes one and dies at once
            with trio.fail_after(10):
                assert await address.ask("still there?") == (4, "still there?")
            assert deltas(recorder.starts) == [0.5, 1.0, 2.0]
            address.close()


async def test_backoff_is_capped_at_max_backoff(autojump_clock) -> None:
    policy = RestartPolicy(max_restarts=10, window=600.0, initial_backoff=0.5, max_backoff=1.0)
    recorder = Recorder()
    address, inbox = open_mailbox("echo")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(supervise, "echo", recorder, inbox, policy)
            for _ in range(4):
                await address.tell("crash")
            with trio.fail_after(10):
                assert await address.ask("x") == (5, "x")
            assert deltas(recorder.starts) == [0.5, 1.0, 1.0, 1.0]
            address.close()


async def test_backoff_resets_after_a_window_without_crash(autojump_clock) -> None:
    policy = RestartPolicy(max_restarts=10, window=8.0, initial_backoff=0.5, max_backoff=30.0)
    recorder = Recorder()
    crashes = CrashLog()
    address, inbox = open_mailbox("echo")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(supervise, on_crash=crashes), "echo", recorder, inbox, policy)
            await address.tell("crash")
            await address.tell("crash")
            with trio.fail_after(10):
                assert await address.ask("x") == (3, "x")
            assert deltas(recorder.starts) == [0.5, 1.0]
            await trio.sleep(policy.window)  # a quiet window: the next crash starts over
            await address.tell("crash")
            with trio.fail_after(10):
                assert await address.ask("y") == (4, "y")
            assert recorder.starts[-1] - crashes.crashes[-1][0] == policy.initial_backoff
            address.close()


async def test_journal_policy_reraises_once_the_restart_budget_is_spent(autojump_clock) -> None:
    # The journal alone ends the process past its budget: without it nothing can be
    # made durable, so systemd restarts the whole server from the durable state.
    recorder = Recorder()
    crashes = CrashLog()
    address, inbox = open_mailbox("journal")
    for _ in range(JOURNAL_POLICY.max_restarts + 2):
        assert address.tell_nowait("crash")
    t0 = trio.current_time()
    with trio.fail_after(10), pytest.raises(Boom, match="generation 4"):
        await supervise("journal", recorder, inbox, JOURNAL_POLICY, on_crash=crashes)
    # One start plus max_restarts restarts; the crash after that goes up.
    assert len(recorder.starts) == 1 + JOURNAL_POLICY.max_restarts
    assert len(crashes.crashes) == 1 + JOURNAL_POLICY.max_restarts
    expected = [0.1, 0.2, 0.4]
    assert deltas(recorder.starts) == pytest.approx(expected, abs=1e-9)
    assert trio.current_time() - t0 == pytest.approx(sum(expected), abs=1e-9)
    # The last crash was not waited on: it propagated at once.
    assert crashes.crashes[-1][0] == recorder.starts[-1]


async def test_core_policy_stops_the_actor_past_its_budget_and_its_mailbox_answers_out_of_service(
    autojump_clock,
) -> None:
    """A lane (or stock point, customers, sales) with a bug: past its restart budget
    the supervisor does not raise (the process and the other lanes go on); it tells
    ``on_stopped`` once, then every ask gets ``ActorStopped`` at once, for ever."""
    recorder = Recorder()
    crashes = CrashLog()
    stopped: list[tuple[float, str, BaseException]] = []
    address, inbox = open_mailbox("lane:1", 4)

    async def on_stopped(name: str, error: BaseException) -> None:
        await trio.sleep(1)  # e.g. a journal write: the mailbox waits for it
        stopped.append((trio.current_time(), name, error))

    returned = trio.Event()

    async def supervisor(task_status=trio.TASK_STATUS_IGNORED) -> None:
        await supervise("lane:1", recorder, inbox, CORE_POLICY, on_crash=crashes, on_stopped=on_stopped,
                        task_status=task_status)
        returned.set()

    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(supervisor)
            t0 = trio.current_time()
            for _ in range(CORE_POLICY.max_restarts + 1):
                await address.tell("crash")  # each generation takes one and dies at once
            with trio.fail_after(10), pytest.raises(ActorStopped) as out:
                await address.ask("scan")
            assert out.value.actor == "lane:1" and not out.value.maybe_applied
            assert "4 crashes" in out.value.reason and "Boom" in out.value.reason
            assert len(recorder.starts) == 1 + CORE_POLICY.max_restarts
            assert [(name, type(error)) for _, name, error in stopped] == [("lane:1", Boom)]
            assert stopped[0][0] == t0 + 0.1 + 0.2 + 0.4 + 1
            t = trio.current_time()
            with trio.fail_after(1):
                for _ in range(10):  # far more than the mailbox holds: asks never wait
                    with pytest.raises(ActorStopped):
                        await address.ask("scan")
                    await address.tell("ping")
            assert trio.current_time() == t
            assert len(recorder.starts) == 1 + CORE_POLICY.max_restarts  # no more restarts
            assert len(stopped) == 1
            assert not returned.is_set()
            address.close()  # the mailbox closed (shutdown): supervise returns
        assert returned.is_set()


async def test_an_ask_that_never_reached_the_actor_could_not_have_changed_anything(autojump_clock) -> None:
    address, inbox = open_mailbox("lane:1", 2)
    address.close()
    with trio.fail_after(1), pytest.raises(ActorFailed) as failed:
        await address.ask("scan")
    assert not failed.value.maybe_applied and not isinstance(failed.value, ActorStopped)


async def test_an_ask_whose_actor_crashed_on_it_may_have_been_applied(autojump_clock) -> None:
    recorder = Recorder()
    address, inbox = open_mailbox("lane:1")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(supervise, "lane:1", recorder, inbox, CORE_POLICY)
            with trio.fail_after(5), pytest.raises(ActorFailed) as failed:
                await address.ask("crash")
            assert failed.value.maybe_applied and not isinstance(failed.value, ActorStopped)
            address.close()


async def test_crashes_spread_wider_than_the_window_do_not_spend_the_budget(autojump_clock) -> None:
    policy = RestartPolicy(max_restarts=2, window=10.0, initial_backoff=0.5, max_backoff=0.5)
    recorder = Recorder()
    address, inbox = open_mailbox("lane")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(supervise, "lane", recorder, inbox, policy)
            for generation in range(2, 7):
                await address.tell("crash")
                with trio.fail_after(20):
                    assert await address.ask("x") == (generation, "x")
                await trio.sleep(policy.window)
            assert len(recorder.starts) == 6
            address.close()


async def test_device_policy_gives_up_and_keeps_draining_the_mailbox(autojump_clock) -> None:
    recorder = Recorder()
    crashes = CrashLog()
    address, inbox = open_mailbox("printer", 2)
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(supervise, on_crash=crashes), "printer", recorder, inbox, DEVICE_POLICY)
            t0 = trio.current_time()
            for _ in range(DEVICE_POLICY.max_restarts + 1):
                await address.tell("crash")  # each generation takes one and dies at once
            # Let the supervisor spend its budget: backoffs 0.5, 1, 2, 4, 8.
            await trio.sleep(60)
            assert len(recorder.starts) == 1 + DEVICE_POLICY.max_restarts
            assert [at - t0 for at, _, _ in crashes.crashes] == [0, 0.5, 1.5, 3.5, 7.5, 15.5]
            t = trio.current_time()
            with trio.fail_after(1):
                with pytest.raises(ActorFailed):
                    await address.ask("anyone?")
                for _ in range(10):  # far more than the mailbox holds: tells never block
                    await address.tell("ping")
            assert trio.current_time() == t
            assert len(recorder.starts) == 1 + DEVICE_POLICY.max_restarts  # no more restarts
            address.close()  # the drain ends with the mailbox, and supervise returns


async def test_a_crash_on_the_very_first_start_propagates(autojump_clock) -> None:
    recorder = Recorder(fail_start=True)
    crashes = CrashLog()
    address, inbox = open_mailbox("journal")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            with pytest.raises(Boom, match="cannot start"):
                await nursery.start(partial(supervise, on_crash=crashes), "journal", recorder, inbox, DEVICE_POLICY)
    assert len(recorder.starts) == 1  # no restart: a start-up failure is not retried
    assert len(crashes.crashes) == 1


async def test_closing_the_mailbox_stops_the_actor_and_supervise_returns(autojump_clock) -> None:
    recorder = Recorder(max_builds=1)
    address, inbox = open_mailbox("echo")
    returned = []

    async def supervisor(task_status=trio.TASK_STATUS_IGNORED) -> None:
        await supervise("echo", recorder, inbox, BACKOFF_POLICY, task_status=task_status)
        returned.append(trio.current_time())

    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(supervisor)
            await address.tell("last words")
            t0 = trio.current_time()
            address.close()
    assert returned == [t0]
    assert [command for _, command in recorder.handled] == ["last words"]
    assert len(recorder.starts) == 1


async def test_cancellation_passes_through_and_is_not_a_crash(autojump_clock) -> None:
    recorder = Recorder(work_seconds=100)
    crashes = CrashLog()
    address, inbox = open_mailbox("echo")
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(supervise, on_crash=crashes), "echo", recorder, inbox, BACKOFF_POLICY)
            await address.tell("long job")  # the actor is busy in a checkpoint when cancelled
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
    assert nursery.cancel_scope.cancelled_caught
    assert crashes.crashes == []
    assert len(recorder.starts) == 1
    assert recorder.handled == []
