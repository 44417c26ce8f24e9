"""sd_notify and the watchdog heartbeat against a real AF_UNIX datagram socket."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from functools import partial

import pytest
import trio

from laneserver.server.systemd import notify, watchdog, watchdog_period

MAX_DATAGRAM = 4096


@dataclass
class Receiver:
    """The systemd side: a bound, non-blocking AF_UNIX datagram socket."""

    raw: socket.socket

    def __post_init__(self):
        self.raw.setblocking(False)
        self.sock = trio.socket.from_stdlib_socket(self.raw)

    async def recv(self) -> bytes:
        return await self.sock.recv(MAX_DATAGRAM)

    def pending(self) -> list[bytes]:
        """Every datagram already queued, without waiting."""
        received = []
        while True:
            try:
                received.append(self.raw.recv(MAX_DATAGRAM))
            except BlockingIOError:
                return received


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    """A receiver bound at a path in tmp_path; NOTIFY_SOCKET points at it."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as raw:
        raw.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        yield Receiver(raw)


async def test_notify_sends_one_datagram(notify_socket):
    assert notify("READY=1") is True
    with trio.fail_after(1):
        assert await notify_socket.recv() == b"READY=1"


async def test_notify_multiline_state_is_one_datagram(notify_socket):
    assert notify("STOPPING=1\nSTATUS=draining lanes")
    with trio.fail_after(1):
        assert await notify_socket.recv() == b"STOPPING=1\nSTATUS=draining lanes"
    assert notify_socket.pending() == []


async def test_notify_abstract_namespace(monkeypatch):
    name = f"laneserver-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as raw:
        raw.bind("\0" + name)
        receiver = Receiver(raw)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("READY=1") is True
        with trio.fail_after(1):
            assert await receiver.recv() == b"READY=1"
        assert receiver.pending() == []


def test_notify_without_socket_does_nothing(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
    monkeypatch.setenv("NOTIFY_SOCKET", "")
    assert notify("READY=1") is False


def test_notify_to_a_missing_socket_is_logged_not_raised(tmp_path, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    assert notify("READY=1") is False


def test_notify_unsupported_address(monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert notify("READY=1") is False


# --- watchdog_period -------------------------------------------------------


def test_watchdog_period_is_half_the_interval(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_period() == 15.0


def test_watchdog_period_for_this_pid(monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_period() == 15.0


@pytest.mark.parametrize(
    ("usec", "pid"),
    [
        (None, None),  # no watchdog
        ("", None),
        ("30000000", "1"),  # meant for another process
        ("30000000", "not-a-pid"),
        ("thirty", None),
        ("0", None),
        ("-5", None),
    ],
)
def test_watchdog_period_off(monkeypatch, usec, pid):
    for key, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    if pid == "1" and os.getpid() == 1:
        pytest.skip("running as pid 1")
    assert watchdog_period() is None


# --- the watchdog loop, in virtual time -------------------------------------


async def record_datagrams(receiver, received, *, task_status=trio.TASK_STATUS_IGNORED):
    """Append (virtual time, datagram) for each datagram until cancelled."""
    task_status.started()
    while True:
        data = await receiver.recv()
        received.append((trio.current_time(), data))


async def test_watchdog_beats_only_while_healthy(notify_socket, monkeypatch, autojump_clock):
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")  # WatchdogSec=30 -> every 15 s
    healthy = True
    checks = []

    async def is_healthy():
        checks.append(trio.current_time())
        return healthy

    received = []
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(record_datagrams, notify_socket, received)
        await nursery.start(watchdog, is_healthy)
        await trio.sleep(20)
        healthy = False  # checks at 30 and 45 fail
        await trio.sleep(30)
        healthy = True  # back at 60
        await trio.sleep(30)  # up to t=80
        nursery.cancel_scope.cancel()

    assert [t - start for t in checks] == [0, 15, 30, 45, 60, 75]
    assert [(t - start, data) for t, data in received] == [
        (0, b"WATCHDOG=1"),
        (15, b"WATCHDOG=1"),
        (60, b"WATCHDOG=1"),
        (75, b"WATCHDOG=1"),
    ]
    assert notify_socket.pending() == []


async def test_watchdog_keeps_a_fixed_schedule_with_a_slow_check(notify_socket, autojump_clock):
    async def is_healthy():
        await trio.sleep(4)
        return True

    received = []
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(record_datagrams, notify_socket, received)
        await nursery.start(partial(watchdog, is_healthy, period=10))
        await trio.sleep(35)
        nursery.cancel_scope.cancel()

    # Checks start at 0, 10, 20, 30 and answer 4 s later.
    assert [(t - start, data) for t, data in received] == [
        (4, b"WATCHDOG=1"),
        (14, b"WATCHDOG=1"),
        (24, b"WATCHDOG=1"),
        (34, b"WATCHDOG=1"),
    ]


async def test_watchdog_check_that_hangs_counts_as_unhealthy(notify_socket, autojump_clock):
    hang = True
    cancelled = []

    async def is_healthy():
        if hang:
            try:
                await trio.sleep_forever()
            except trio.Cancelled:
                cancelled.append(trio.current_time() - start)
                raise
        return True

    received = []
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        await nursery.start(record_datagrams, notify_socket, received)
        await nursery.start(partial(watchdog, is_healthy, period=10))
        await trio.sleep(25)  # checks at 0 and 10 hang, the one at 20 too
        hang = False  # the check at 30 answers
        await trio.sleep(10)
        nursery.cancel_scope.cancel()

    # Each hanging check is given exactly one period.
    assert cancelled == [10, 20, 30]
    assert [(t - start, data) for t, data in received] == [(30, b"WATCHDOG=1")]


async def test_watchdog_off_returns_at_once(notify_socket, autojump_clock):
    calls = []

    async def is_healthy():
        calls.append(1)
        return True

    start = trio.current_time()
    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            await nursery.start(watchdog, is_healthy)
    assert trio.current_time() == start
    assert calls == []
    assert notify_socket.pending() == []
