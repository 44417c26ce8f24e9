"""The printer actor and its transports.

Two kinds of tests:
  - with a fake transport and ``autojump_clock``: queueing, retry timing, drops,
    supervision, asserted in exact virtual time;
  - with real I/O (a TCP listener on loopback, a temp file, a socat pty pair, a
    missing USB device): real time, short ``retry_seconds``, and
    ``trio.fail_after`` around each test so a bug fails instead of hanging.
    ``autojump_clock`` is kept away from these: it would jump the clock while a
    thread or the kernel is still working.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

import pytest
import trio

import laneserver.actors.printer as printer_module
from laneserver.actors.printer import PrinterActor
from laneserver.actors.printer_messages import GetStatus, KickDrawer, PrinterStatus, PrintReceipt
from laneserver.actors.runtime import DEVICE_POLICY, Address, open_mailbox, supervise
from laneserver.config import PrinterConfig
from laneserver.hw.printer_io import (
    FileTransport,
    NetworkTransport,
    PrinterUnavailable,
    SerialTransport,
    UsbTransport,
    open_transport,
    parse_network_address,
    parse_serial_address,
    parse_usb_address,
)
from laneserver.hw.receipt import render_drawer_kick, render_receipt
from tests.escpos_peer import StatusAnswers, strip_status_requests
from tests.hw.test_receipt import sample_receipt

REAL_IO_DEADLINE = 10


# -- helpers ---------------------------------------------------------------------


class StatusLog:
    """The ``on_status`` callback: records every status, wakes waiters."""

    def __init__(self) -> None:
        self.seen: list[PrinterStatus] = []
        self._changed = trio.Event()

    def __call__(self, status: PrinterStatus) -> None:
        self.seen.append(status)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_for(self, predicate: Callable[[PrinterStatus], bool], *, since: int = 0) -> PrinterStatus:
        """The first status from index ``since`` on that satisfies ``predicate``.

        Pass ``since=log.mark()`` taken before an action to ignore statuses
        from before it (the initial "online, 0 pending" matches a lot).
        """
        while True:
            for status in self.seen[since:]:
                if predicate(status):
                    return status
            await self._changed.wait()

    def mark(self) -> int:
        return len(self.seen)


class FakeTransport:
    """Records sends; can be down (PrinterUnavailable) or buggy once (RuntimeError)."""

    def __init__(self, *, down: str | None = None, bug_once: bool = False) -> None:
        self.down = down
        self.bug_once = bug_once
        self.attempts: list[float] = []
        self.sent: list[bytes] = []
        self._changed = trio.Event()

    async def send(self, data: bytes) -> None:
        await trio.lowlevel.checkpoint()
        self.attempts.append(trio.current_time())
        if self.bug_once:
            self.bug_once = False
            raise RuntimeError("transport bug")
        if self.down is not None:
            raise PrinterUnavailable(self.down)
        self.sent.append(data)
        self._changed.set()
        self._changed = trio.Event()

    async def wait_sent(self, count: int) -> None:
        while len(self.sent) < count:
            await self._changed.wait()


class Counting:
    """Wraps a real transport and counts the jobs it delivered."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.sent = 0
        self._changed = trio.Event()

    async def send(self, data: bytes) -> None:
        await self.inner.send(data)
        self.sent += 1
        self._changed.set()
        self._changed = trio.Event()

    async def wait_sent(self, count: int) -> None:
        while self.sent < count:
            await self._changed.wait()


class FakeNetworkPrinter:
    """A raw-TCP printer: one connection per job, the job ends at EOF. It prints what
    it is sent but the ``DLE EOT`` requests; a connection of requests only (a status
    poll) is no job. Silent (it answers no request) unless given ``replies``."""

    def __init__(self, replies: dict[int, int] | None = None) -> None:
        self.jobs: list[bytes | bool | None] = []
        self.replies = replies
        self._changed = trio.Event()

    async def handle(self, stream: trio.SocketStream) -> None:
        # Slots are taken in accept order, so jobs are listed in sending order
        # even if two handlers finish reading out of order.
        slot = len(self.jobs)
        self.jobs.append(None)
        answers = StatusAnswers(self.replies) if self.replies is not None else None
        chunks = []
        async with stream:
            try:
                async for chunk in stream:
                    chunks.append(chunk)
                    if answers is not None and (reply := answers.feed(chunk)):
                        await stream.send_all(reply)
            except trio.BrokenResourceError:
                # Reset by the actor, as a real printer sees it: a status poll closed
                # with our answer still unread (the actor stopping mid-poll) ends in
                # RST. What came before it is all there is; the printer carries on.
                pass
        self.jobs[slot] = strip_status_requests(b"".join(chunks)) or False
        self._changed.set()
        self._changed = trio.Event()

    async def wait_jobs(self, count: int) -> list[bytes]:
        while sum(isinstance(job, bytes) for job in self.jobs) < count:
            await self._changed.wait()
        return [job for job in self.jobs if isinstance(job, bytes)]


async def serve_printer(nursery: trio.Nursery, printer: FakeNetworkPrinter, port: int = 0) -> int:
    listeners = await trio.open_tcp_listeners(port, host="127.0.0.1")
    await nursery.start(trio.serve_listeners, printer.handle, listeners)
    return listeners[0].socket.getsockname()[1]


async def free_port() -> int:
    """A loopback port nobody listens on (bound then released)."""
    sock = trio.socket.socket()
    with sock:
        await sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def running_printer(
    config: PrinterConfig, *, transport=None, status: StatusLog | None = None, zone=None
) -> AsyncIterator[tuple[Address, StatusLog]]:
    """Start a PrinterActor; close its mailbox (and so stop it) on exit."""
    status = status if status is not None else StatusLog()
    address, inbox = open_mailbox(f"printer:{config.id}")
    actor = PrinterActor(config, on_status=status, transport=transport, zone=zone)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run, inbox)
        yield address, status
        address.close()


def receipt_no(number: int):
    return sample_receipt(number=number)


def job_of(number: int, width: int = 42) -> bytes:
    return render_receipt(receipt_no(number), width=width)


def fake_config(**changes) -> PrinterConfig:
    return PrinterConfig(**{"id": "p1", "kind": "file", "address": "/unused", "retry_seconds": 2.0, **changes})


# -- virtual time, fake transport --------------------------------------------------


async def test_prints_in_order_and_reports_status(autojump_clock) -> None:
    transport = FakeTransport()
    async with running_printer(fake_config(), transport=transport) as (printer, status):
        assert status.seen == [PrinterStatus("p1", online=True, pending=0)]
        for number in (1, 2, 3):
            await printer.tell(PrintReceipt(f"job-{number}", receipt_no(number)))
        await transport.wait_sent(3)
        assert transport.sent == [job_of(1), job_of(2), job_of(3)]
        assert await printer.ask(GetStatus()) == PrinterStatus("p1", online=True, pending=0)


async def test_failed_job_is_retried_every_retry_seconds(autojump_clock) -> None:
    transport = FakeTransport(down="out of paper")
    async with running_printer(fake_config(retry_seconds=2.0), transport=transport) as (printer, status):
        start = trio.current_time()
        await printer.tell(PrintReceipt("job-1", receipt_no(1)))
        offline = await status.wait_for(lambda s: not s.online)
        assert offline == PrinterStatus("p1", online=False, pending=1, error="out of paper")
        assert await printer.ask(GetStatus()) == offline

        await trio.sleep(5)  # attempts at 0, 2 and 4 fail
        transport.down = None
        await transport.wait_sent(1)

        assert [t - start for t in transport.attempts] == [0, 2, 4, 6]
        assert status.seen[-1] == PrinterStatus("p1", online=True, pending=0)


async def test_new_job_wakes_the_retry_early(autojump_clock) -> None:
    transport = FakeTransport(down="off")
    async with running_printer(fake_config(retry_seconds=10.0), transport=transport) as (printer, status):
        start = trio.current_time()
        await printer.tell(PrintReceipt("job-1", receipt_no(1)))
        await status.wait_for(lambda s: not s.online)
        await trio.sleep(1)
        transport.down = None
        await printer.tell(PrintReceipt("job-2", receipt_no(2)))
        await transport.wait_sent(2)
        assert [t - start for t in transport.attempts] == [0, 1, 1]
        assert transport.sent == [job_of(1), job_of(2)]


async def test_full_queue_drops_the_oldest(autojump_clock, monkeypatch) -> None:
    monkeypatch.setattr(printer_module, "MAX_PENDING", 3)
    transport = FakeTransport(down="off")
    async with running_printer(fake_config(), transport=transport) as (printer, status):
        for number in range(1, 6):
            await printer.tell(PrintReceipt(f"job-{number}", receipt_no(number)))
        # Answered after the five tells: all are queued (or dropped) by now.
        assert await printer.ask(GetStatus()) == PrinterStatus("p1", online=False, pending=3, error="off")
        # Let the pump settle into its retry wait (next attempt at t=2), so no
        # send is in flight when the printer comes back.
        await trio.sleep(1)
        transport.down = None
        await transport.wait_sent(3)
        assert transport.sent == [job_of(3), job_of(4), job_of(5)]
        assert max(s.pending for s in status.seen) == 3


async def test_drawer_kick_is_sent_as_a_job(autojump_clock) -> None:
    transport = FakeTransport()
    async with running_printer(fake_config(), transport=transport) as (printer, _):
        await printer.tell(PrintReceipt("job-1", receipt_no(1)))
        await printer.tell(KickDrawer())
        await transport.wait_sent(2)
        assert transport.sent == [job_of(1), render_drawer_kick()]


async def test_stale_drawer_kick_is_dropped(autojump_clock) -> None:
    transport = FakeTransport(down="off")
    async with running_printer(fake_config(), transport=transport) as (printer, status):
        await printer.tell(KickDrawer())
        await status.wait_for(lambda s: not s.online)
        await trio.sleep(printer_module.KICK_MAX_AGE + 1)
        transport.down = None
        await printer.tell(PrintReceipt("job-1", receipt_no(1)))
        await transport.wait_sent(1)
        assert transport.sent == [job_of(1)]  # the drawer did not spring open
        assert (await printer.ask(GetStatus())).pending == 0


async def test_closing_the_inbox_stops_even_with_jobs_pending(autojump_clock) -> None:
    transport = FakeTransport(down="off")
    address, inbox = open_mailbox("printer:p1")
    actor = PrinterActor(fake_config(), transport=transport)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run, inbox)
        await address.tell(PrintReceipt("job-1", receipt_no(1)))
        address.close()
    assert actor.status.pending == 1  # stopped, not stuck retrying


async def test_rendering_bug_crashes_the_actor(autojump_clock) -> None:
    address, inbox = open_mailbox("printer:p1")
    actor = PrinterActor(fake_config(width=10), transport=FakeTransport())
    with pytest.RaisesGroup(ValueError, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run, inbox)
            await address.tell(PrintReceipt("job-1", receipt_no(1)))


async def test_supervisor_restarts_the_printer_after_a_bug(autojump_clock) -> None:
    transport = FakeTransport(bug_once=True)
    status = StatusLog()
    config = fake_config()
    crashes: list[tuple[float, BaseException]] = []
    crashed = trio.Event()
    address, inbox = open_mailbox("printer:p1")

    def factory() -> PrinterActor:
        return PrinterActor(config, on_status=status, transport=transport)

    def on_crash(name: str, error: BaseException) -> None:
        crashes.append((trio.current_time(), error))
        crashed.set()

    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: supervise(
                "printer:p1", factory, inbox, DEVICE_POLICY, on_crash=on_crash, task_status=task_status
            )
        )
        await address.tell(PrintReceipt("job-1", receipt_no(1)))  # the transport blows up on it
        await crashed.wait()
        # Answered by the restarted actor, once the supervisor's backoff is over.
        assert await address.ask(GetStatus()) == PrinterStatus("p1", online=True, pending=0)
        assert trio.current_time() - crashes[0][0] == DEVICE_POLICY.initial_backoff

        await address.tell(PrintReceipt("job-2", receipt_no(2)))
        await transport.wait_sent(1)
        # job-1 went down with the crashed actor (by design: it may be what
        # broke the transport); the restarted actor prints what comes next.
        assert transport.sent == [job_of(2)]
        address.close()

    [(_, crash)] = crashes
    assert isinstance(crash, BaseExceptionGroup)
    assert crash.subgroup(RuntimeError) is not None


# -- real I/O, real time ------------------------------------------------------------


async def test_network_printer_receives_the_rendered_receipt() -> None:
    with trio.fail_after(REAL_IO_DEADLINE):
        async with trio.open_nursery() as nursery:
            fake = FakeNetworkPrinter()
            port = await serve_printer(nursery, fake)
            config = PrinterConfig(id="net", kind="network", address=f"127.0.0.1:{port}", retry_seconds=0.05)
            async with running_printer(config) as (printer, status):
                await printer.tell(PrintReceipt("job-1", receipt_no(1)))
                assert await fake.wait_jobs(1) == [job_of(1)]
            nursery.cancel_scope.cancel()


async def test_network_printer_down_then_back_loses_nothing_and_keeps_order() -> None:
    with trio.fail_after(REAL_IO_DEADLINE):
        port = await free_port()
        config = PrinterConfig(id="net", kind="network", address=f"127.0.0.1:{port}", retry_seconds=0.05)
        async with trio.open_nursery() as nursery:
            async with running_printer(config) as (printer, status):
                await printer.tell(PrintReceipt("job-1", receipt_no(1)))
                offline = await status.wait_for(lambda s: not s.online)
                assert (offline.pending, offline.error is not None) == (1, True)

                await printer.tell(PrintReceipt("job-2", receipt_no(2)))
                await printer.tell(PrintReceipt("job-3", receipt_no(3)))
                await status.wait_for(lambda s: not s.online and s.pending == 3)

                mark = status.mark()
                fake = FakeNetworkPrinter()
                await serve_printer(nursery, fake, port)  # the printer is switched on
                assert await fake.wait_jobs(3) == [job_of(1), job_of(2), job_of(3)]
                await status.wait_for(lambda s: s.online and s.pending == 0, since=mark)
            nursery.cancel_scope.cancel()


async def test_file_printer_appends_the_bytes(tmp_path) -> None:
    path = tmp_path / "lp0"
    config = PrinterConfig(id="file", kind="file", address=str(path), retry_seconds=0.05)
    transport = Counting(open_transport(config))
    with trio.fail_after(REAL_IO_DEADLINE):
        async with running_printer(config, transport=transport) as (printer, _):
            await printer.tell(PrintReceipt("job-1", receipt_no(1)))
            await printer.tell(KickDrawer())
            await transport.wait_sent(2)
    assert path.read_bytes() == job_of(1) + render_drawer_kick()


async def test_file_printer_missing_then_present(tmp_path) -> None:
    path = tmp_path / "usb" / "lp0"  # the device node appears when the printer is plugged in
    config = PrinterConfig(id="file", kind="file", address=str(path), retry_seconds=0.05)
    with trio.fail_after(REAL_IO_DEADLINE):
        async with running_printer(config) as (printer, status):
            await printer.tell(PrintReceipt("job-1", receipt_no(1)))
            offline = await status.wait_for(lambda s: not s.online)
            assert offline.pending == 1
            assert "No such file" in offline.error
            mark = status.mark()
            await trio.to_thread.run_sync(path.parent.mkdir)
            await status.wait_for(lambda s: s.online and s.pending == 0, since=mark)
    assert path.read_bytes() == job_of(1)


@asynccontextmanager
async def pty_pair() -> AsyncIterator[tuple[str, str]]:
    """Two linked pseudo-terminals from socat, like a null-modem cable."""
    process = await trio.lowlevel.open_process(
        ["socat", "-d", "-d", "pty,raw,echo=0", "pty,raw,echo=0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        seen = b""
        while len(paths := re.findall(rb"PTY is (\S+)", seen)) < 2:
            chunk = await process.stderr.receive_some()
            if not chunk:
                raise RuntimeError(f"socat ended early: {seen!r}")
            seen += chunk
        yield paths[0].decode(), paths[1].decode()
    finally:
        process.terminate()
        with trio.CancelScope(shield=True):
            await process.wait()
        await process.stderr.aclose()


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed: it provides the pty pair")
async def test_serial_printer_over_a_pty_pair() -> None:
    with trio.fail_after(REAL_IO_DEADLINE):
        async with pty_pair() as (printer_end, far_end):
            far = trio.lowlevel.FdStream(os.open(far_end, os.O_RDONLY | os.O_NOCTTY))
            async with far:
                config = PrinterConfig(id="serial", kind="serial", address=f"{printer_end}:19200", retry_seconds=0.05)
                expected = job_of(1)
                async with running_printer(config) as (printer, _):
                    await printer.tell(PrintReceipt("job-1", receipt_no(1)))
                    received = b""
                    while len(strip_status_requests(received)) < len(expected):
                        received += await far.receive_some()
                # A silent serial printer is polled (DLE EOT) too: it prints the rest.
                assert strip_status_requests(received) == expected


# -- transports on their own ----------------------------------------------------------


def test_open_transport_picks_by_kind() -> None:
    assert isinstance(open_transport(PrinterConfig(id="a", kind="network", address="10.0.0.5:9100")), NetworkTransport)
    assert isinstance(open_transport(PrinterConfig(id="b", kind="file", address="/dev/usb/lp0")), FileTransport)
    assert isinstance(open_transport(PrinterConfig(id="c", kind="serial", address="/dev/ttyUSB0")), SerialTransport)
    assert isinstance(open_transport(PrinterConfig(id="d", kind="usb", address="0x04b8:0x0202")), UsbTransport)


def test_address_parsing() -> None:
    assert parse_network_address("192.168.1.50:9100") == ("192.168.1.50", 9100)
    assert parse_network_address("[::1]:9100") == ("::1", 9100)
    assert parse_serial_address("/dev/ttyUSB0") == ("/dev/ttyUSB0", 9600)
    assert parse_serial_address("/dev/ttyUSB0:19200") == ("/dev/ttyUSB0", 19200)
    assert parse_usb_address("0x04b8:0x0202") == (0x04B8, 0x0202)
    assert parse_usb_address("04B8:0202") == (0x04B8, 0x0202)
    for bad in ("printer", "host:", "host:99999"):
        with pytest.raises(ValueError, match="host:port"):
            parse_network_address(bad)
    with pytest.raises(ValueError, match="baud"):
        parse_serial_address("/dev/ttyUSB0:fast")
    for bad in ("04b8", "0x04b8:zz", "0:0x0202", "0x1ffff:0x0202"):
        with pytest.raises(ValueError, match="USB printer address"):
            parse_usb_address(bad)


async def test_network_refused_is_unavailable() -> None:
    transport = NetworkTransport(f"127.0.0.1:{await free_port()}")
    with trio.fail_after(REAL_IO_DEADLINE), pytest.raises(PrinterUnavailable, match="127.0.0.1"):
        await transport.send(b"x")


async def test_network_printer_that_stops_reading_times_out() -> None:
    # A listener that never accepts nor reads: once the socket buffers are
    # full, send_all blocks, as it would against a jammed or black-holed printer.
    with trio.fail_after(REAL_IO_DEADLINE):
        [listener] = await trio.open_tcp_listeners(0, host="127.0.0.1")
        async with listener:
            port = listener.socket.getsockname()[1]
            transport = NetworkTransport(f"127.0.0.1:{port}", timeout=0.2)
            with pytest.raises(PrinterUnavailable, match="no answer within 0.2 s"):
                await transport.send(b"\0" * 64_000_000)


async def test_unwritable_file_is_unavailable(tmp_path) -> None:
    transport = FileTransport(str(tmp_path))  # a directory cannot be opened for append
    with trio.fail_after(REAL_IO_DEADLINE), pytest.raises(PrinterUnavailable, match=str(tmp_path)):
        await transport.send(b"x")


async def test_missing_serial_port_is_unavailable(tmp_path) -> None:
    transport = SerialTransport(f"{tmp_path}/ttyUSB9")
    with trio.fail_after(REAL_IO_DEADLINE), pytest.raises(PrinterUnavailable, match="ttyUSB9"):
        await transport.send(b"x")


async def test_usb_printer_absent_is_a_clear_unavailable() -> None:
    # No USB printer here: either libusb is missing or the device is not found;
    # both must be a PrinterUnavailable that says which, never a crash.
    transport = UsbTransport("0xfffe:0xfffd")
    with trio.fail_after(REAL_IO_DEADLINE), pytest.raises(PrinterUnavailable) as caught:
        await transport.send(b"x")
    assert re.search(r"not found|libusb|pyusb|USB error", caught.value.reason)


async def test_receipts_print_the_shops_time(autojump_clock) -> None:
    """A sale stamped 22:30 UTC on 15 January prints 16/01/2026 11:30 in Auckland (UTC+13)."""
    import datetime as dt
    import zoneinfo

    transport = FakeTransport()
    at = dt.datetime(2026, 1, 15, 22, 30, tzinfo=dt.timezone.utc)
    async with running_printer(fake_config(), transport=transport, zone=zoneinfo.ZoneInfo("Pacific/Auckland")) as (
            printer, _status):
        await printer.tell(PrintReceipt("job-1", sample_receipt(number=1, at=at)))
        await transport.wait_sent(1)
    assert b"16/01/2026 11:30" in transport.sent[0] and b"15/01/2026" not in transport.sent[0]
