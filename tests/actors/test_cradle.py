"""The cradle actor (actors/cradle.py) over a real serial port: a socat pty pair whose far
end is a batch scanner in its cradle (tests/cradle_peer.py), a real journal on a SQLite
file, and a stand-in lane that takes each basket once per id (as the lane's key does,
pinned end to end in tests/e2e/test_cradle.py). The actor is crashed after each step
of an upload (``on_step``) under its supervisor: the basket is still taken once."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio

from laneserver.actors import cradle as cradle_actor
from laneserver.actors.cradle import CradleActor, Outcome
from laneserver.actors.journal import read
from laneserver.actors.runtime import DEVICE_POLICY, open_mailbox, supervise
from laneserver.config import CradleConfig
from laneserver.hw.device_links import LinkDown, SerialLink
from laneserver.store import cradles
from tests.actors.test_display_scanner import States
from tests.actors.test_jet_journal import plain_journal
from tests.actors.test_printer import pty_pair
from tests.cradle_peer import SERIAL, ScannerInCradle, in_cradle

pytestmark = pytest.mark.skipif(shutil.which("socat") is None,
                                reason="socat is not installed: it provides the pty pair")

CODES = ["3017620422003", "3017620422003", "5449000000996"]
LINES = (("3017620422003", 2), ("5449000000996", 1))
IO = 20


class Lane:
    """Takes a basket once per id (a repeat gets its first answer); can refuse."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.baskets: dict[str, tuple] = {}
        self.refuse: Outcome | None = None
        self.changed = trio.Event()

    async def deliver(self, basket: str, lines) -> Outcome:
        self.calls.append(basket)
        try:
            if self.refuse is not None and basket not in self.baskets:
                return self.refuse
            self.baskets.setdefault(basket, lines)
            return Outcome(True)
        finally:
            self.changed.set()
            self.changed = trio.Event()

    async def wait_for(self, count: int) -> None:
        while len(self.baskets) < count:
            await self.changed.wait()


class CrashOnce:
    """``on_step``: crashes the actor the first time it reaches ``step``."""

    def __init__(self, step: str | None) -> None:
        self.step, self.crashed = step, False

    def __call__(self, step: str) -> None:
        if step == self.step and not self.crashed:
            self.crashed = True
            raise RuntimeError(f"crash planted after {step}")


@asynccontextmanager
async def cradle(tmp_path, scanner: ScannerInCradle, lane: Lane, *, step=None, **more) -> AsyncIterator[tuple]:
    async with pty_pair() as (port, far), in_cradle(far, scanner), \
            plain_journal(tmp_path / "shop.sqlite3") as journal:
        config = CradleConfig(id="c1", address=port, lane="1", poll_seconds=0.2, parity="none")
        states = States()
        factory = partial(CradleActor, config, lane="1", deliver=lane.deliver, journal=journal, on_state=states,
                          retry=0.05, on_step=step or (lambda s: None), **more)
        address, inbox = open_mailbox("cradle:c1", cradle_actor.MAILBOX)
        async with trio.open_nursery() as nursery:
            await nursery.start(supervise, "cradle:c1", factory, inbox, DEVICE_POLICY)
            yield journal, states
            address.close()


async def uploads(journal) -> dict[str, int]:
    return await read(journal, partial(cradles.counts, cradle="c1"))


async def test_an_upload_is_journaled_then_cleared_then_one_basket_in_the_lane(tmp_path):
    scanner, lane = ScannerInCradle(CODES), Lane()
    with trio.fail_after(IO):
        async with cradle(tmp_path, scanner, lane) as (journal, states):
            await lane.wait_for(1)
            await scanner.wait_for(lambda s: s.cleared == 1)
            state = await states.wait_for(lambda s: s.baskets == 1)
            await trio.sleep(0.5)  # polled again meanwhile: nothing more
            assert await uploads(journal) == {"done": 1}
            # The clock was set before the upload, the device cleared after it.
            assert scanner.commands[:4] == [0x01, 0x09, 0x07, 0x02] and scanner.clock is not None
    assert lane.baskets == {f"c1-{SERIAL}-1": LINES}
    assert set(lane.calls) == {f"c1-{SERIAL}-1"}
    assert state.up and state.present and state.uploads == 1 and state.codes == 3 and state.waiting == 0


@pytest.mark.parametrize("step", ["read", "journaled", "cleared", "delivered"])
async def test_a_crash_after_any_step_neither_doubles_nor_loses_the_basket(tmp_path, step):
    scanner, lane, crash = ScannerInCradle(CODES), Lane(), CrashOnce(step)
    with trio.fail_after(IO):
        async with cradle(tmp_path, scanner, lane, step=crash) as (journal, _states):
            await lane.wait_for(1)
            await scanner.wait_for(lambda s: s.cleared >= 1)
            while await uploads(journal) != {"done": 1}:
                await trio.sleep(0.05)
            await trio.sleep(0.5)
            assert await uploads(journal) == {"done": 1}
    assert crash.crashed
    assert lane.baskets == {f"c1-{SERIAL}-1": LINES}
    assert set(lane.calls) == {f"c1-{SERIAL}-1"}  # handed again after a crash: the same basket


async def test_a_scanner_lifted_out_mid_upload_is_read_whole_next_time(tmp_path):
    scanner, lane = ScannerInCradle(CODES), Lane()
    scanner.cut_upload = True
    with trio.fail_after(IO):
        async with cradle(tmp_path, scanner, lane) as (journal, states):
            await states.wait_for(lambda s: s.refused >= 1)  # half an upload: refused, nothing journaled
            assert await uploads(journal) == {} and scanner.cleared == 0
            scanner.present = True  # back in the cradle
            await lane.wait_for(1)
    assert lane.baskets == {f"c1-{SERIAL}-1": LINES}


async def test_new_codes_after_an_uncleared_upload_are_one_more_basket_only(tmp_path):
    scanner, lane = ScannerInCradle(CODES), Lane()
    scanner.lose_clear = True  # the clear is lost: the device keeps its codes
    with trio.fail_after(IO):
        async with cradle(tmp_path, scanner, lane) as (journal, states):
            await lane.wait_for(1)
            await states.wait_for(lambda s: s.refused >= 1)  # the clear went unanswered
            scanner.present = False  # taken out, scanned again; the first three are still on it
            scanner.scan("3560070048786")
            scanner.lose_clear, scanner.present = False, True
            await lane.wait_for(2)
            await scanner.wait_for(lambda s: not s.records)
            while await uploads(journal) != {"done": 2}:
                await trio.sleep(0.05)
    assert lane.baskets == {f"c1-{SERIAL}-1": LINES, f"c1-{SERIAL}-2": (("3560070048786", 1),)}


async def test_hostile_answers_are_refused_counted_and_change_nothing(tmp_path):
    scanner, lane = ScannerInCradle(CODES), Lane()
    scanner.corrupt, scanner.garbage = True, True
    with trio.fail_after(IO):
        async with cradle(tmp_path, scanner, lane) as (_journal, states):
            await lane.wait_for(1)  # after the garbage and the bad CRC: the good upload
            state = states.now
    assert state.refused >= 2 and state.up
    assert lane.baskets == {f"c1-{SERIAL}-1": LINES}


async def test_a_flooding_scanner_is_bounded_and_nothing_is_journaled(tmp_path):
    scanner, lane = ScannerInCradle(CODES), Lane()
    scanner.flood = True
    with trio.fail_after(IO):
        async with cradle(tmp_path, scanner, lane) as (journal, states):
            await states.wait_for(lambda s: s.refused >= 1)
            assert await uploads(journal) == {} and scanner.cleared == 0
            assert states.now.up


async def test_a_basket_the_lane_cannot_take_now_waits_and_one_it_never_can_is_kept_refused(tmp_path):
    scanner, lane = ScannerInCradle(CODES), Lane()
    lane.refuse = Outcome(False, error="no seller is signed in on lane 1")
    with trio.fail_after(IO):
        async with cradle(tmp_path, scanner, lane) as (journal, states):
            await states.wait_for(lambda s: s.waiting == 1 and s.uploads == 1)
            await scanner.wait_for(lambda s: s.cleared == 1)  # durable: the device is cleared all the same
            await trio.sleep(0.5)
            assert await uploads(journal) == {"cleared": 1}
            lane.refuse = Outcome(False, final=True, error="unknown_code: unknown code '5449000000996'")
            while await uploads(journal) != {"refused": 1}:
                await trio.sleep(0.05)
    assert lane.baskets == {}


async def test_a_port_that_refuses_its_settings_is_down_not_a_crash():
    # A Linux pty takes odd parity once, then refuses it (termios EINVAL), as a port may
    # refuse a setting: pyserial raises termios.error, not an OSError. It crashed the
    # device actor (restarted until its budget ran out); now it is LinkDown.
    with trio.fail_after(IO):
        async with pty_pair() as (port, _far):
            held = os.open(port, os.O_RDWR | os.O_NOCTTY)
            try:
                link = SerialLink(port, parity="odd")
                await link.open()
                await link.close()
                with pytest.raises(LinkDown, match="refused its settings"):
                    await link.open()
            finally:
                os.close(held)
