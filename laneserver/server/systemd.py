"""systemd integration with no dependency: ``sd_notify`` and the watchdog heartbeat.

Under ``Type=notify`` systemd hands the service ``$NOTIFY_SOCKET``, an AF_UNIX
datagram socket; each notification is one datagram of ``KEY=VALUE`` lines
(``READY=1``, ``STOPPING=1``, ``STATUS=...``, ``WATCHDOG=1``). With ``WatchdogSec=``
it also sets ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``): the service must send
``WATCHDOG=1`` more often than that or be killed and restarted.

Outside systemd (a terminal, the tests) ``NOTIFY_SOCKET`` is unset and everything
here does nothing.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable

import trio

from laneserver.log import get_logger

log = get_logger("systemd")


def _socket_address(raw: str) -> str | None:
    """``$NOTIFY_SOCKET`` as an AF_UNIX address, or None when unusable.

    A leading ``@`` names a socket in the abstract namespace, which the kernel
    spells with a leading NUL byte.
    """
    if raw.startswith("@"):
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    return None


def notify(state: str) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to systemd as one datagram.

    Calling this from async code directly is fine: it is one ``sendto`` on a
    non-blocking AF_UNIX datagram socket, which either queues the few bytes in
    the kernel at once or fails at once; it never waits for systemd. (A full
    receive queue gives ``BlockingIOError``: the notification is dropped and
    logged rather than stalling the event loop.)

    Args:
        state: newline-separated ``KEY=VALUE`` assignments.

    Returns:
        True when the datagram was handed to the kernel; False when
        ``$NOTIFY_SOCKET`` is unset (not running under systemd) or the send
        failed. A failed notification is logged, never raised: telling systemd
        about the server must not take the shop down.
    """
    raw = os.environ.get("NOTIFY_SOCKET")
    if not raw:
        return False
    address = _socket_address(raw)
    if address is None:
        log.warning("sd_notify_unsupported_socket", notify_socket=raw)
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(state.encode("utf-8"), address)
        except BlockingIOError:
            log.warning("sd_notify_dropped", state=state, reason="notify socket queue full")
            return False
        except OSError as error:
            log.error("sd_notify_failed", state=state, notify_socket=raw, error=str(error))
            return False
    return True


def watchdog_period() -> float | None:
    """How often to send ``WATCHDOG=1``, in seconds: half of ``WatchdogSec=``.

    Returns:
        Half of ``$WATCHDOG_USEC`` in seconds, or None when the watchdog is off:
        ``$WATCHDOG_USEC`` unset, not a positive integer, or ``$WATCHDOG_PID`` set
        to another process (the variables were inherited, not meant for us).
    """
    raw_usec = os.environ.get("WATCHDOG_USEC")
    if not raw_usec:
        return None
    raw_pid = os.environ.get("WATCHDOG_PID")
    if raw_pid:
        try:
            if int(raw_pid) != os.getpid():
                return None
        except ValueError:
            log.warning("watchdog_pid_invalid", watchdog_pid=raw_pid)
            return None
    try:
        usec = int(raw_usec)
    except ValueError:
        log.warning("watchdog_usec_invalid", watchdog_usec=raw_usec)
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000


async def watchdog(
    is_healthy: Callable[[], Awaitable[bool]],
    *,
    period: float | None = None,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Send ``WATCHDOG=1`` every ``period`` seconds while ``is_healthy()`` says so.

    The first check runs as soon as the task has started, then one every
    ``period`` seconds on a fixed schedule (start, start + period, ...), so a
    slow check does not push the heartbeats further apart. Each check is given
    at most ``period`` seconds; a check that does not answer in time counts as
    unhealthy. An unhealthy server sends nothing and logs a warning: systemd
    then kills it after ``WatchdogSec=`` and ``Restart=on-failure`` brings it
    back.

    Args:
        is_healthy: a bounded health check (e.g. ask the journal actor for a
            no-op); it is cancelled after ``period`` seconds.
        period: seconds between heartbeats; None means ``watchdog_period()``.
            When there is no period the watchdog is off: the task reports
            started and returns at once.
        task_status: reports started (with None) before the first check.

    Raises:
        Whatever ``is_healthy`` raises: a health check that crashes is a bug and
        crashes this task like any other.

    Cancellation:
        Runs until cancelled; cancellation passes through the sleep and the
        health check.
    """
    if period is None:
        period = watchdog_period()
    if period is None:
        task_status.started()
        return
    task_status.started()
    log.info("watchdog_started", period=period)
    # A heartbeat on a fixed schedule, not a poll for a condition.
    next_beat = trio.current_time()
    while True:
        healthy = False
        with trio.move_on_after(period) as check:
            healthy = await is_healthy()
        if check.cancelled_caught:
            log.warning("watchdog_check_timed_out", period=period)
        elif healthy:
            notify("WATCHDOG=1")
        else:
            log.warning("watchdog_unhealthy")
        next_beat += period
        await trio.sleep_until(next_beat)
