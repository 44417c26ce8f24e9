"""The customer display and scanner actors (actors/display.py, actors/scanner.py) with a
``MemoryLink`` (hw/device_links.py: a link with no device behind it, which can be
unplugged and plugged back) under virtual time, and with real serial ports: a socat
pty pair, the far end read or written by the test."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal as D
from functools import partial

import pytest
import trio

from laneserver.actors import display as display_actor
from laneserver.actors import scanner as scanner_actor
from laneserver.actors.device_messages import (
    DeviceState,
    GetDeviceState,
    LaneOpen,
    ShowTicket,
)
from laneserver.actors.display import DisplayActor
from laneserver.actors.runtime import DEVICE_POLICY, Address, open_mailbox, supervise
from laneserver.actors.scanner import ScannerActor
from laneserver.config import DisplayConfig, ScannerConfig
from laneserver.hw.device_links import MemoryLink
from laneserver.hw.pole_display import opening, render
from laneserver.rules.customer_display import Sale, Screen
from laneserver.rules.ticket import Line, Payment, Ticket
from tests.actors.test_printer import pty_pair

SHOP = "Epicerie"
DISPLAY = DisplayConfig(id="d1", address="/dev/ttyUSB1", protocol="cd5220")
GREETING = Screen("      Epicerie      ", "     Bienvenue      ")
CLOSED = Screen("      Epicerie      ", "   Caisse fermée    ")
EAN = "3760245001015"
REAL_IO = 10


def ticket(*prices: str, paid: str | None = None) -> Ticket:
    lines = tuple(Line(line=n, article=f"A{n}", name=f"Article {n}", qty=D(1), unit_price=D(p), vat_rate=D(20))
                  for n, p in enumerate(prices, 1))
    payments = (Payment(payment=1, mode="cash", amount=D(paid)),) if paid else ()
    return Ticket(lines=lines, payments=payments, opened_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))


class States:
    def __init__(self) -> None:
        self.all: list[DeviceState] = []
        self.changed = trio.Event()

    def __call__(self, state: DeviceState) -> None:
        self.all.append(state)
        self.changed.set()
        self.changed = trio.Event()

    @property
    def now(self) -> DeviceState:
        return self.all[-1]

    async def wait_for(self, check) -> DeviceState:
        while not self.all or not check(self.all[-1]):
            await self.changed.wait()
        return self.all[-1]


async def written(link: MemoryLink, data: bytes) -> None:
    while not bytes(link.written).endswith(data):
        await link.wrote.wait()


@asynccontextmanager
async def running(factory, name: str, size: int) -> AsyncIterator[Address]:
    address, inbox = open_mailbox(name, size)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, name, factory, inbox, DEVICE_POLICY)
        yield address
        address.close()


def display(link, states, **more):
    return running(partial(DisplayActor, DISPLAY, lane="1", shop_name=SHOP, link=link, on_state=states, **more),
                   "display:d1", display_actor.MAILBOX)


# --- the display ------------------------------------------------------------------------

async def test_display_greets_then_shows_each_change_and_says_closed_when_stopped(autojump_clock):
    link, states = MemoryLink(), States()
    with trio.fail_after(60):
        async with display(link, states) as address:
            await written(link, opening("cd5220") + render(GREETING, "cd5220"))
            assert states.now.up and states.now.screens == 1
            assert address.tell_nowait(ShowTicket(ticket("1.20")))
            await written(link, render(Screen("Article 1       1,20", "TOTAL           1,20"), "cd5220"))
            assert address.tell_nowait(ShowTicket(ticket("1.20", "2.00", paid="5.00")))
            await written(link, render(Screen("TOTAL           3,20", "RENDU           1,80"), "cd5220"))
            assert address.tell_nowait(ShowTicket(ticket(), Sale(D("3.20"), D("1.80"))))
            assert address.tell_nowait(LaneOpen(False))
            await written(link, render(CLOSED, "cd5220"))
            assert address.tell_nowait(LaneOpen(True))
            await written(link, render(Screen("TOTAL           3,20", "RENDU           1,80"), "cd5220"))
            state = await address.ask(GetDeviceState())
            assert state.kind == "display" and state.up and state.error is None
        assert bytes(link.written).endswith(render(CLOSED, "cd5220"))  # the server stops: "closed"


async def test_a_display_absent_at_start_gets_only_the_newest_screen_when_plugged(autojump_clock):
    link, states = MemoryLink(), States()
    link.unplug()
    with trio.fail_after(120):
        async with display(link, states) as address:
            down = await states.wait_for(lambda s: s.error is not None)
            assert not down.up and "unplugged" in down.error
            for n in range(1, 201):  # the lane tells without waiting; nothing queues
                assert address.tell_nowait(ShowTicket(ticket(*["1.00"] * n)))
                await trio.sleep(0.01)
            await states.wait_for(lambda s: s.skipped >= 199)
            link.plug()
            newest = render(Screen("Article 200     1,00", "TOTAL         200,00"), "cd5220")
            await written(link, opening("cd5220") + newest)
            assert bytes(link.written) == opening("cd5220") + newest  # not one stale screen
            assert states.now.up


async def test_a_display_pulled_mid_use_is_reopened_with_the_current_screen(autojump_clock):
    link, states = MemoryLink(), States()
    with trio.fail_after(120):
        async with display(link, states, refresh=5.0) as address:
            await written(link, render(GREETING, "cd5220"))
            link.unplug()
            address.tell_nowait(ShowTicket(ticket("4.00")))
            await states.wait_for(lambda s: not s.up)
            started = trio.current_time()
            await trio.sleep(3)
            link.plug()
            shown = render(Screen("Article 1       4,00", "TOTAL           4,00"), "cd5220")
            await written(link, opening("cd5220") + shown)
            assert link.opened == 2 and trio.current_time() - started < display_actor.RETRY_MAX_SECONDS + 3
            # Nothing changes: the same screen again every ``refresh`` seconds (a display
            # switched off and on shows the lane again).
            before = len(link.written)
            await trio.sleep(5.5)
            assert bytes(link.written[before:]) == shown


async def test_a_restarted_display_starts_from_the_lanes_newest_ticket(autojump_clock):
    from laneserver.actors.lane_messages import LaneTicket
    from laneserver.actors.publisher import Publisher

    publisher = Publisher("lane:1")
    publisher.publish(LaneTicket(lane="1", ticket=ticket("2.50"), rev=3))
    link, states = MemoryLink(), States()
    with trio.fail_after(60):
        async with display(link, states, publisher=publisher, is_open=lambda: True):
            await written(link, opening("cd5220") + render(Screen("Article 1       2,50", "TOTAL           2,50"),
                                                             "cd5220"))


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed: it provides the pty pair")
async def test_a_serial_display_over_a_pty_pair_gets_the_epson_bytes():
    with trio.fail_after(REAL_IO):
        async with pty_pair() as (display_end, far_end):
            far = trio.lowlevel.FdStream(os.open(far_end, os.O_RDONLY | os.O_NOCTTY))
            async with far:
                config = DisplayConfig(id="d1", address=f"{display_end}:19200", protocol="epson")
                expected = opening("epson") + render(
                    Screen("      Epicerie      ", "     Bienvenue      "), "epson")
                factory = partial(DisplayActor, config, lane="1", shop_name=SHOP)
                async with running(factory, "display:d1", display_actor.MAILBOX):
                    received = b""
                    while len(received) < len(expected):
                        received += await far.receive_some()
                assert received == expected


# --- the scanner --------------------------------------------------------------------------

class Lane:
    """What ``deliver`` does for the scanner: here, keeps the codes (or holds them)."""

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.arrived = trio.Event()
        self.hold = trio.Event()
        self.hold.set()

    async def deliver(self, code: str) -> None:
        await self.hold.wait()
        self.codes.append(code)
        self.arrived.set()
        self.arrived = trio.Event()

    async def wait_for(self, count: int) -> None:
        while len(self.codes) < count:
            await self.arrived.wait()


def scanner(link, lane: Lane, states, config: ScannerConfig | None = None):
    config = config or ScannerConfig(id="s1", address="/dev/ttyACM0")
    return running(partial(ScannerActor, config, lane="1", deliver=lane.deliver, link=link, on_state=states),
                   "scanner:s1", scanner_actor.MAILBOX)


async def test_codes_reach_the_lane_whole_and_hostile_bytes_are_refused(autojump_clock):
    link, lane, states = MemoryLink(), Lane(), States()
    with trio.fail_after(60):
        async with scanner(link, lane, states) as address:
            await states.wait_for(lambda s: s.up)
            link.feed(EAN[:6].encode())
            link.feed(EAN[6:].encode() + b"\r\n")
            link.feed(b"12\x1b34\r" + bytes(range(0x0E, 0x100)) + b"\r" + b"9" * 5000 + b"\r" + b"42\r")
            await lane.wait_for(2)
            assert lane.codes == [EAN, "42"]
            state = await address.ask(GetDeviceState())
            assert state.codes == 2 and state.refused == 3 and state.dropped == 0


async def test_a_flooding_scanner_is_bounded_and_counted(autojump_clock):
    link, lane, states = MemoryLink(), Lane(), States()
    lane.hold = trio.Event()  # the lane is busy
    with trio.fail_after(60):
        async with scanner(link, lane, states):
            await states.wait_for(lambda s: s.up)
            link.feed(b"".join(b"%d\r" % n for n in range(1000)))
            flooded = await states.wait_for(lambda s: s.dropped >= 1000 - scanner_actor.QUEUE - 1)
            assert flooded.up
            lane.hold.set()
            await lane.wait_for(scanner_actor.QUEUE + 1)
            await trio.sleep(1)
            assert lane.codes == [str(n) for n in range(scanner_actor.QUEUE + 1)]
            # Past the flood, a code in a new second goes through.
            link.feed(EAN.encode() + b"\r")
            await lane.wait_for(scanner_actor.QUEUE + 2)
            assert lane.codes[-1] == EAN


async def test_a_scanner_pulled_out_is_reopened_and_a_half_code_is_dropped(autojump_clock):
    link, lane, states = MemoryLink(), Lane(), States()
    with trio.fail_after(60):
        async with scanner(link, lane, states):
            await states.wait_for(lambda s: s.up)
            link.feed(b"123")
            await trio.sleep(0.5)
            link.unplug()
            await states.wait_for(lambda s: not s.up)
            link.plug()
            await states.wait_for(lambda s: s.up)
            link.feed(b"456\r")
            await lane.wait_for(1)
            assert lane.codes == ["456"] and link.opened == 2


async def test_a_usb_hid_pos_scanner_reports(autojump_clock):
    link, lane, states = MemoryLink(), Lane(), States()
    config = ScannerConfig(id="s1", kind="usb", address="05e0:1200")

    def report(data: bytes, continued: bool = False) -> bytes:
        return (bytes([2, len(data)]) + b"]E0" + data).ljust(63, b"\x00") + bytes([int(continued)])

    with trio.fail_after(60):
        async with scanner(link, lane, states, config):
            await states.wait_for(lambda s: s.up)
            link.feed(report(EAN.encode()))
            link.feed(report(b"A" * 56, continued=True))
            link.feed(report(b"B" * 4))
            await lane.wait_for(2)
            assert lane.codes == [EAN, "A" * 56 + "BBBB"]


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed: it provides the pty pair")
async def test_a_serial_scanner_over_a_pty_pair():
    lane, states = Lane(), States()
    with trio.fail_after(REAL_IO):
        async with pty_pair() as (scanner_end, far_end):
            far = trio.lowlevel.FdStream(os.open(far_end, os.O_WRONLY | os.O_NOCTTY))
            async with far:
                config = ScannerConfig(id="s1", address=scanner_end, framing="stx_etx", suffix="")
                async with running(partial(ScannerActor, config, lane="1", deliver=lane.deliver, on_state=states),
                                   "scanner:s1", scanner_actor.MAILBOX):
                    await states.wait_for(lambda s: s.up)
                    await far.send_all(b"\x02" + EAN[:4].encode())
                    await trio.sleep(0.3)  # the code cut across two reads
                    await far.send_all(EAN[4:].encode() + b"\x03\r\n")
                    await lane.wait_for(1)
            assert lane.codes == [EAN]


# --- the lane tells its display -------------------------------------------------------------

async def test_the_lane_tells_its_display_each_change_and_never_waits_for_it(tmp_path):
    from laneserver.actors.journal import JournalActor
    from laneserver.actors.lane import LaneActor
    from laneserver.actors.messages import Do
    from laneserver.actors.stock_point import StockPointActor
    from laneserver.clock import FixedClock
    from tests.actors.test_lane_actor import CATALOG, CONFIG, MARIE, add, finish, pay

    clock = FixedClock()
    journal, journal_inbox = open_mailbox("journal", 256)
    stuck, stuck_inbox = open_mailbox("display:d1", 1)  # a display actor that never reads
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            await nursery.start(JournalActor(tmp_path / "db.sqlite3").run, journal_inbox)
            stock, stock_inbox = open_mailbox("stock:main", 64)
            await nursery.start(StockPointActor("main", journal=journal, catalog=CATALOG, clock=clock).run,
                                stock_inbox)
            lane, lane_inbox = open_mailbox("lane:1")
            actor = LaneActor("1", config=CONFIG, journal=journal, catalog=CATALOG, stock=stock, printer=None,
                              clock=clock, display=stuck)
            await nursery.start(actor.run, lane_inbox)
            started = trio.current_time()
            for _ in range(30):  # the display's mailbox is full from the first change on
                assert not isinstance(await lane.ask(Do(MARIE, add("BREAD"))), Exception)
            assert trio.current_time() - started < 5
            first = stuck_inbox.receive_nowait().command  # the ticket at the lane's start
            assert first == ShowTicket(first.ticket) and not first.ticket.lines
            await lane.ask(Do(MARIE, add("WINE")))
            shown = stuck_inbox.receive_nowait().command
            assert [line.article for line in shown.ticket.lines][-2:] == ["BREAD", "WINE"] and shown.sale is None
            await lane.ask(Do(MARIE, pay("cash", "200.00")))
            stuck_inbox.receive_nowait()
            await lane.ask(Do(MARIE, finish()))
            done = stuck_inbox.receive_nowait().command
            assert done.sale == Sale(total=D("104.90"), change=D("95.10")) and not done.ticket.lines
            lane.close()
            stock.close()
            journal.close()
            stuck.close()


async def test_a_crashed_display_is_restarted_and_shows_the_next_change(autojump_clock):
    link, states = MemoryLink(), States()
    with trio.fail_after(60):
        async with display(link, states) as address:
            await written(link, render(GREETING, "cd5220"))
            link.written.clear()
            crashed_at = trio.current_time()
            await address.tell("not a command")  # a bug: the actor crashes, its supervisor restarts it
            await written(link, opening("cd5220") + render(GREETING, "cd5220"))
            assert trio.current_time() - crashed_at >= DEVICE_POLICY.initial_backoff
            address.tell_nowait(ShowTicket(ticket("5.00")))
            await written(link, render(Screen("Article 1       5,00", "TOTAL           5,00"), "cd5220"))
            assert link.opened == 2


# --- the edge's part (server/devices.py, server/run.py) ---------------------------------------

def test_the_lanes_signed_in_seller_is_on_the_till_that_said_hello_last():
    from types import SimpleNamespace

    from laneserver.server.devices import lane_seller

    def session(device: str, kind: str, lane: str | None, seller: str | None, hello_at: float):
        return SimpleNamespace(device=SimpleNamespace(device=device, kind=kind, lane=lane), seller=seller,
                               role="cashier" if seller else None, hello_at=hello_at)

    sessions = [session("till-1-1", "till", "1", "paul", 1.0), session("till-1-2", "till", "1", "lea", 2.0),
                session("till-1-3", "till", "1", None, 3.0), session("pda-1", "pda", None, "marie", 4.0),
                session("till-2-1", "till", "2", "sophie", 5.0), SimpleNamespace(device=None, seller=None)]
    assert lane_seller(sessions, "1") == ("lea", "cashier")
    assert lane_seller(sessions, "2") == ("sophie", "cashier")
    assert lane_seller(sessions, "3") is None


async def test_a_lane_out_of_service_closes_its_display():
    from laneserver.server.run import _lane_stopped

    display_address, inbox = open_mailbox("display:d1", 1)
    stopped: list[str] = []

    async def actor_stopped(name: str, error: BaseException) -> None:
        stopped.append(name)

    await _lane_stopped(display_address, actor_stopped, "lane:1", RuntimeError("bug"))
    assert inbox.receive_nowait().command == LaneOpen(False) and stopped == ["lane:1"]
    await _lane_stopped(None, actor_stopped, "lane:2", RuntimeError("bug"))  # a lane with no display
    assert stopped == ["lane:1", "lane:2"]


async def test_a_display_or_scanner_going_down_is_one_device_failure_per_failure(tmp_path):
    from laneserver.clock import FixedClock
    from tests.actors.test_jet_journal import AT, plain_journal, until_entries

    display_link, scanner_link, states, lane = MemoryLink(), MemoryLink(), States(), Lane()
    display_link.unplug()  # absent at start: one entry, not one per retry
    with trio.fail_after(20):
        async with plain_journal(tmp_path / "shop.sqlite3") as journal:
            jet = {"journal": journal, "clock": FixedClock(AT), "retry": 0.01}
            async with display(display_link, States(), **jet), \
                    running(partial(ScannerActor, ScannerConfig(id="s1", address="/dev/ttyACM0"), lane="1",
                                    deliver=lane.deliver, link=scanner_link, on_state=states, **jet),
                            "scanner:s1", scanner_actor.MAILBOX):
                (first,) = await until_entries(journal, "device_failure", 1)
                await trio.sleep(0.2)  # retried many times meanwhile
                assert len(await until_entries(journal, "device_failure", 1)) == 1
                await states.wait_for(lambda s: s.up)
                scanner_link.unplug()
                found = await until_entries(journal, "device_failure", 2)
                display_link.plug()
                await trio.sleep(0.2)
                assert len(await until_entries(journal, "device_failure", 2)) == 2
    assert first == {"kind": "device_failure", "device": "display:d1", "reason": "memory: unplugged", "lanes": ["1"],
                     "number": 1, "at": AT.isoformat()}
    assert found[1]["device"] == "scanner:s1" and found[1]["lanes"] == ["1"]
