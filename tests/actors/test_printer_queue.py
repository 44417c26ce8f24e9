"""The printer actor's status polling and durable queue, against byte-level peers.

A loopback TCP listener plays a network printer that answers ``DLE EOT`` with the
status bytes a test chooses (paper out, cover open, drawer open, garbage); a socat
pty pair plays a serial one; a real JournalActor on a temp SQLite file keeps the
queue. Real time with short poll and retry periods, each test under
``trio.fail_after``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio

from laneserver.actors.drawer_messages import OpenWithoutSale
from laneserver.actors.journal import commit
from laneserver.actors.printer import MAX_CRASHES_PER_JOB, DrawerSensorConfig, PrinterActor
from laneserver.actors.printer_messages import GetStatus, KickDrawer, PrintReceipt
from laneserver.actors.runtime import open_mailbox
from laneserver.config import (
    Config,
    LaneConfig,
    PrinterConfig,
    ShopConfig,
    StockPointConfig,
)
from laneserver.store.ops import PrintJobCrashed, QueuePrintJob
from laneserver.store.schema import DB_NAME
from tests.actors.test_drawer import APPROVED, running_till
from tests.actors.test_journal import running_journal
from tests.actors.test_printer import (
    FakeNetworkPrinter,
    StatusLog,
    job_of,
    pty_pair,
    receipt_no,
    serve_printer,
)
from tests.escpos_peer import (
    COVER_OPEN_2,
    DRAWER_PIN3_HIGH_1,
    FINE,
    OFFLINE_1,
    PAPER_END_STOP_2,
    PAPER_NEAR_END_4,
    PAPER_OUT_4,
    StatusAnswers,
    fine,
    strip_status_requests,
)

DEADLINE = 15


def net_config(port: int, **keys) -> PrinterConfig:
    return PrinterConfig(id="p1", kind="network", address=f"127.0.0.1:{port}", retry_seconds=0.05,
                         poll_seconds=0.1, reply_seconds=0.3, **keys)


@asynccontextmanager
async def running(config: PrinterConfig, *, journal=None, drawer=None) -> AsyncIterator[tuple]:
    status = StatusLog()
    address, inbox = open_mailbox(f"printer:{config.id}")
    actor = PrinterActor(config, on_status=status, journal=journal, drawer=drawer)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run, inbox)
        yield address, status, actor
        address.close()


async def test_paper_out_holds_the_job_until_paper_is_back() -> None:
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            fake = FakeNetworkPrinter(replies={**fine(), 2: PAPER_END_STOP_2, 4: PAPER_OUT_4})
            port = await serve_printer(nursery, fake)
            async with running(net_config(port)) as (printer, status, actor):
                await status.wait_for(lambda s: s.status == "paper_out")
                await printer.tell(PrintReceipt("job-1", receipt_no(1)))
                held = await status.wait_for(lambda s: s.pending == 1)
                assert held.status == "paper_out" and held.online
                await trio.sleep(0.5)  # several polls: still held
                assert not any(isinstance(job, bytes) for job in fake.jobs)
                mark = status.mark()
                fake.replies.update({2: FINE, 4: PAPER_NEAR_END_4})  # paper back in, the roll short
                assert await fake.wait_jobs(1) == [job_of(1)]
                done = await status.wait_for(lambda s: s.pending == 0, since=mark)
                assert done.status == "paper_near_end"  # near end still prints
                assert actor.reports_status
            nursery.cancel_scope.cancel()


async def test_cover_open_and_offline_are_reported_and_hold_jobs() -> None:
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            fake = FakeNetworkPrinter(replies={**fine(), 1: OFFLINE_1, 2: COVER_OPEN_2})
            port = await serve_printer(nursery, fake)
            async with running(net_config(port)) as (printer, status, _):
                await status.wait_for(lambda s: s.status == "cover_open")
                await printer.tell(PrintReceipt("job-1", receipt_no(1)))
                fake.replies.update({2: FINE})  # cover closed, an error remains
                await status.wait_for(lambda s: s.status == "offline" and s.pending == 1)
                fake.replies.update(fine())
                assert await fake.wait_jobs(1) == [job_of(1)]
                reply = await printer.ask(GetStatus())
                assert (reply.status, reply.online, reply.pending) == ("ok", True, 0)
            nursery.cancel_scope.cancel()


async def test_garbage_status_bytes_are_counted_and_ignored() -> None:
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            # Bit 7 set on every reply: not status bytes. The printer is then one whose
            # status is unknown, and prints as one without status.
            fake = FakeNetworkPrinter(replies={1: 0x92, 2: 0x92, 3: 0x92, 4: 0xF2})
            port = await serve_printer(nursery, fake)
            async with running(net_config(port)) as (printer, status, actor):
                await printer.tell(PrintReceipt("job-1", receipt_no(1)))
                assert await fake.wait_jobs(1) == [job_of(1)]
                assert actor.garbage >= 4 and not actor.reports_status
                assert status.seen[-1].status is None
            nursery.cancel_scope.cancel()


async def test_a_job_cut_before_the_printer_answered_is_sent_again_once() -> None:
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            fake = DyingPrinter(fine(), die_after=100)
            port = await serve_printer(nursery, fake)
            async with running(net_config(port)) as (printer, status, _):
                await status.wait_for(lambda s: s.status == "ok")
                for number in (1, 2, 3):
                    await printer.tell(PrintReceipt(f"job-{number}", receipt_no(number)))
                assert await fake.wait_jobs(3) == [job_of(1), job_of(2), job_of(3)]
                assert fake.torn == 1
            nursery.cancel_scope.cancel()


class DyingPrinter(FakeNetworkPrinter):
    """Loses the first job connection after ``die_after`` bytes: nothing of it printed."""

    def __init__(self, replies, die_after: int) -> None:
        super().__init__(replies)
        self.die_after: int | None = die_after
        self.torn = 0

    async def handle(self, stream: trio.SocketStream) -> None:
        if self.die_after is None:
            return await super().handle(stream)
        answers = StatusAnswers(self.replies)
        seen = b""
        async with stream:
            async for chunk in stream:
                seen += chunk
                if self.die_after is not None and len(strip_status_requests(seen)) >= self.die_after:
                    self.die_after = None
                    self.torn += 1
                    return  # power lost: the connection closes, the bytes are gone
                if reply := answers.feed(chunk):
                    await stream.send_all(reply)


async def test_drawer_sensor_open_then_left_open_then_closed() -> None:
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            fake = FakeNetworkPrinter(replies=fine())
            port = await serve_printer(nursery, fake)
            sensor = DrawerSensorConfig(polarity="high", left_open_after=0.3)
            async with running(net_config(port), drawer=sensor) as (_, status, _):
                assert (await status.wait_for(lambda s: s.status == "ok")).drawer_open is False
                fake.replies[1] = DRAWER_PIN3_HIGH_1
                opened = await status.wait_for(lambda s: s.drawer_open)
                assert not opened.drawer_left_open
                await status.wait_for(lambda s: s.drawer_left_open)
                fake.replies[1] = FINE
                closed = await status.wait_for(lambda s: s.drawer_open is False)
                assert not closed.drawer_left_open
            nursery.cancel_scope.cancel()


async def test_kick_uses_the_lanes_pin_and_pulse() -> None:
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            fake = FakeNetworkPrinter(replies=fine())
            port = await serve_printer(nursery, fake)
            async with running(net_config(port)) as (printer, _, _):
                await printer.tell(KickDrawer(pin=5, on_ms=60, off_ms=200))
                assert await fake.wait_jobs(1) == [b"\x1bp\x01\x1e\x64"]  # ESC p 1 30 100
            nursery.cancel_scope.cancel()


async def test_a_drawer_kick_passes_receipts_held_by_paper_out_in_real_time() -> None:
    """Paper out holds the receipts, not the drawer: the kick goes as DLE DC4 1 (a
    real-time pulse the printer executes while stopped), the receipt prints later."""
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            fake = FakeNetworkPrinter(replies={**fine(), 4: PAPER_OUT_4})
            port = await serve_printer(nursery, fake)
            async with running(net_config(port)) as (printer, status, _):
                await status.wait_for(lambda s: s.status == "paper_out")
                await printer.tell(PrintReceipt("job-1", receipt_no(1)))
                await printer.tell(KickDrawer(pin=5, on_ms=250))
                assert await fake.wait_jobs(1) == [b"\x10\x14\x01\x01\x03"]  # pin 5, 300 ms
                await status.wait_for(lambda s: s.pending == 1)  # the receipt still waits
                fake.replies[4] = FINE
                assert await fake.wait_jobs(2) == [b"\x10\x14\x01\x01\x03", job_of(1)]
            nursery.cancel_scope.cancel()


def _pending(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [name for (name,) in db.execute("SELECT name FROM print_jobs ORDER BY id")]
    finally:
        db.close()


async def test_the_queue_survives_a_restart_and_prints_once_in_order(tmp_path) -> None:
    db = tmp_path / DB_NAME
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            fake = FakeNetworkPrinter(replies=fine())
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            port = listeners[0].socket.getsockname()[1]
            for listener in listeners:
                await listener.aclose()  # the printer is off
            async with running_journal(db) as (journal, _):
                async with running(net_config(port), journal=journal) as (printer, status, _):
                    for number in (1, 2, 3):
                        await printer.tell(PrintReceipt(f"job-{number}", receipt_no(number)))
                    await printer.tell(KickDrawer())  # never kept: a drawer must not open after a restart
                    await status.wait_for(lambda s: s.pending == 4 and not s.online)
                # The actor stopped with its jobs pending: they are in the table.
                assert await trio.to_thread.run_sync(_pending, db) == ["job-1", "job-2", "job-3"]
                port = await serve_printer(nursery, fake, port)
                async with running(net_config(port), journal=journal) as (printer, status, _):
                    assert await fake.wait_jobs(3) == [job_of(1), job_of(2), job_of(3)]
                    await status.wait_for(lambda s: s.pending == 0)
                    await trio.sleep(0.3)
                    assert len([job for job in fake.jobs if isinstance(job, bytes)]) == 3
            assert _pending(db) == []
            nursery.cancel_scope.cancel()


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed: it provides the pty pair")
async def test_serial_printer_status_over_a_pty_pair() -> None:
    """The far end of the pty plays the printer: it answers each DLE EOT as it reads it."""
    replies = {**fine(), 4: PAPER_OUT_4}
    with trio.fail_after(DEADLINE):
        async with pty_pair() as (printer_end, far_end):
            far = trio.lowlevel.FdStream(os.open(far_end, os.O_RDWR | os.O_NOCTTY))
            received = bytearray()

            async def play_printer() -> None:
                answers = StatusAnswers(replies)
                while chunk := await far.receive_some():
                    received.extend(chunk)
                    if reply := answers.feed(chunk):
                        await far.send_all(reply)

            async with far, trio.open_nursery() as nursery:
                nursery.start_soon(play_printer)
                config = PrinterConfig(id="serial", kind="serial", address=f"{printer_end}:19200",
                                       retry_seconds=0.05, poll_seconds=0.1, reply_seconds=0.3)
                async with running(config) as (printer, status, _):
                    await status.wait_for(lambda s: s.status == "paper_out")
                    await printer.tell(PrintReceipt("job-1", receipt_no(1)))
                    await trio.sleep(0.4)
                    assert strip_status_requests(bytes(received)) == b""  # held while the paper is out
                    replies[4] = FINE
                    await status.wait_for(lambda s: s.status == "ok" and s.pending == 0)
                assert strip_status_requests(bytes(received)) == job_of(1)
                nursery.cancel_scope.cancel()


async def test_a_job_that_several_runs_could_not_finish_is_abandoned(tmp_path) -> None:
    """A job whose sending crashed the actor three times is dropped at the next start
    (print_job_abandoned); the job after it prints."""
    db = tmp_path / DB_NAME
    at = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            fake = FakeNetworkPrinter(replies=fine())
            port = await serve_printer(nursery, fake)
            async with running_journal(db) as (journal, _):
                (poison,) = await commit(journal, QueuePrintJob(printer="p1", name="job-1", data=job_of(1), at=at))
                await commit(journal, QueuePrintJob(printer="p1", name="job-2", data=job_of(2), at=at))
                for _ in range(MAX_CRASHES_PER_JOB):
                    await commit(journal, PrintJobCrashed(id=poison))
                async with running(net_config(port), journal=journal) as (_, status, _):
                    assert await fake.wait_jobs(1) == [job_of(2)]
                    await status.wait_for(lambda s: s.pending == 0)
            assert _pending(db) == []
            nursery.cancel_scope.cancel()


class BuggyTransport:
    """A transport with a bug: every send raises something other than PrinterUnavailable."""

    async def send(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()
        raise RuntimeError("transport bug")


async def test_a_crash_while_sending_is_counted_against_the_job(tmp_path) -> None:
    db = tmp_path / DB_NAME
    with trio.fail_after(DEADLINE):
        async with running_journal(db) as (journal, _):
            address, inbox = open_mailbox("printer:p1")
            actor = PrinterActor(net_config(1), transport=BuggyTransport(), journal=journal)
            with pytest.raises(BaseExceptionGroup) as crash:
                async with trio.open_nursery() as nursery:
                    await nursery.start(actor.run, inbox)
                    await address.tell(PrintReceipt("job-1", receipt_no(1)))
            assert crash.value.subgroup(RuntimeError) is not None
            assert await trio.to_thread.run_sync(_crashes, db) == [("job-1", 1)]


async def test_restarts_with_the_printer_down_abandon_nothing(tmp_path) -> None:
    """Only crashes count: a server restarted again and again while its printer is off
    keeps the receipt, which prints once the printer is back."""
    db = tmp_path / DB_NAME
    with trio.fail_after(DEADLINE):
        async with trio.open_nursery() as nursery:
            listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
            port = listeners[0].socket.getsockname()[1]
            for listener in listeners:
                await listener.aclose()  # the printer is off
            async with running_journal(db) as (journal, _):
                for run in range(MAX_CRASHES_PER_JOB + 2):
                    async with running(net_config(port), journal=journal) as (printer, status, _):
                        if run == 0:
                            await printer.tell(PrintReceipt("job-1", receipt_no(1)))
                        await status.wait_for(lambda s: not s.online and s.pending == 1)
                assert await trio.to_thread.run_sync(_crashes, db) == [("job-1", 0)]
                fake = FakeNetworkPrinter(replies=fine())
                await serve_printer(nursery, fake, port)
                async with running(net_config(port), journal=journal) as (_, status, _):
                    assert await fake.wait_jobs(1) == [job_of(1)]
            nursery.cancel_scope.cancel()


def _crashes(path: Path) -> list[tuple[str, int]]:
    db = sqlite3.connect(path)
    try:
        return list(db.execute("SELECT name, crashes FROM print_jobs ORDER BY id"))
    finally:
        db.close()


def _drawer_shop(drawer: str) -> Config:
    return Config(shop=ShopConfig(name="Caisse test"), stock_points=(StockPointConfig(id="main"),),
                  lanes=(LaneConfig(id="1", printer="p1", drawer=drawer, drawer_pin=5, drawer_on_ms=60,
                                    drawer_off_ms=200),),
                  printers=(PrinterConfig(id="p1", kind="file", address="/unused"),))


PIN_5_KICK = b"\x1bp\x01\x1e\x64"  # ESC p 1 30 100: pin 5, 60 ms on, 200 ms off


async def test_the_lanes_pin_and_pulse_reach_the_printer(tmp_path) -> None:
    with trio.fail_after(DEADLINE):
        async with running_till(tmp_path / "db.sqlite3", shop=_drawer_shop("printer")) as till:
            await till.ok(APPROVED, OpenWithoutSale("monnaie"))
            await till.printed.wait_sent(1)
            assert till.printed.sent == [PIN_5_KICK]


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed: it provides the pty pair")
async def test_the_lanes_pin_and_pulse_reach_a_serial_drawer(tmp_path) -> None:
    with trio.fail_after(DEADLINE):
        async with pty_pair() as (drawer_end, far_end):
            far = trio.lowlevel.FdStream(os.open(far_end, os.O_RDONLY | os.O_NOCTTY))
            async with far, running_till(tmp_path / "db.sqlite3", shop=_drawer_shop(drawer_end)) as till:
                await till.ok(APPROVED, OpenWithoutSale("monnaie"))
                received = b""
                while len(received) < len(PIN_5_KICK):
                    received += await far.receive_some()
                assert received == PIN_5_KICK


async def test_usb_status_request_without_the_printer_is_a_clear_unavailable() -> None:
    from laneserver.hw.printer_io import PrinterUnavailable, UsbTransport
    from laneserver.rules.printer_status import POLL

    with trio.fail_after(DEADLINE), pytest.raises(PrinterUnavailable) as error:
        await UsbTransport("0x04b8:0x0202", timeout=2).ask(POLL, 4, 0.2)
    assert "0x04b8:0x0202" in error.value.reason
