"""A receipt printer's real-time status: the ESC/POS ``DLE EOT n`` replies, as data.

Pure: bytes in, a ``PrinterState`` out; no I/O (the transports in hw/printer_io.py
send the requests and read the bytes; the printer actor decides what to do).

``DLE EOT n`` (``10 04 n``) asks the printer for one status byte, answered at once
(a real-time command: even while the printer is offline, its cover open or its paper
out, and ahead of the print data still in its buffer). We ask four of them:

======  ===================  ========================================================
n       what                 bits used (bit 0 is the least significant)
======  ===================  ========================================================
1       printer status       2: drawer kick-out connector pin 3 high;
                             3: offline
2       offline cause        2: cover open; 3: paper being fed by the feed button;
                             5: printing stopped by paper end; 6: an error occurred
3       error cause          3: autocutter error; 5: unrecoverable error;
                             6: automatically recoverable error (head too hot…)
4       roll paper sensor    2 and 3: paper near end; 5 and 6: paper end
======  ===================  ========================================================

Invariants:
  - every reply byte has fixed bits: bit 0 = 0, bit 1 = 1, bit 4 = 1, bit 7 = 0
    (``byte & 0x93 == 0x12``). A byte whose fixed bits are wrong is not a status (line
    noise, an echo, a printer speaking another dialect): it is counted as garbage and
    ignored, never read as a state;
  - the state names are the protocol's (``printer`` event ``status``): ``ok``,
    ``offline``, ``paper_out``, ``paper_near_end``, ``cover_open``. When several hold,
    the one a person must act on first wins: cover open, then paper out, then
    offline (an error, the feed button), then paper near end;
  - a job may be sent in ``ok`` and ``paper_near_end`` only (``printable``): the other
    states stop the printer, and a job sent then would wait in the printer's buffer,
    lost if it is switched off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DLE_EOT = b"\x10\x04"
#: The four requests, in the order their replies come back.
STATUS_REQUESTS = (1, 2, 3, 4)
#: What one poll sends: DLE EOT 1, 2, 3, 4 (four reply bytes expected).
POLL = b"".join(DLE_EOT + bytes([n]) for n in STATUS_REQUESTS)
#: What follows a job to learn the printer has taken all of it (one reply byte).
CONFIRM = DLE_EOT + b"\x01"

FIXED_MASK = 0x93
FIXED_VALUE = 0x12

Status = Literal["ok", "offline", "paper_out", "paper_near_end", "cover_open"]
STATUSES: tuple[Status, ...] = ("ok", "offline", "paper_out", "paper_near_end", "cover_open")
PRINTABLE: frozenset[str] = frozenset({"ok", "paper_near_end"})


def _bit(byte: int, n: int) -> bool:
    return bool(byte >> n & 1)


def valid(byte: int) -> bool:
    """Does ``byte`` have the fixed bits of a ``DLE EOT`` reply?"""
    return byte & FIXED_MASK == FIXED_VALUE


@dataclass(frozen=True, slots=True)
class PrinterFlags:
    """What one set of replies says, bit by bit (None: that reply was not usable)."""

    offline: bool | None = None
    drawer_pin3_high: bool | None = None
    cover_open: bool | None = None
    feed_button: bool | None = None
    paper_end_stop: bool | None = None
    error: bool | None = None
    cutter_error: bool | None = None
    unrecoverable_error: bool | None = None
    recoverable_error: bool | None = None
    paper_near_end: bool | None = None
    paper_out: bool | None = None


@dataclass(frozen=True, slots=True)
class PrinterState:
    """The outcome of parsing a poll's replies."""

    status: Status
    flags: PrinterFlags
    garbage: int = 0  # reply bytes ignored because their fixed bits were wrong

    @property
    def printable(self) -> bool:
        return self.status in PRINTABLE


def parse_byte(n: int, byte: int) -> dict[str, bool] | None:
    """The flags one reply to ``DLE EOT n`` sets; None when ``byte`` is garbage.

    Raises:
        ValueError: ``n`` is not 1 to 4.
    """
    if n not in STATUS_REQUESTS:
        raise ValueError(f"DLE EOT {n}: n must be 1 to 4")
    if not valid(byte):
        return None
    match n:
        case 1:
            return {"drawer_pin3_high": _bit(byte, 2), "offline": _bit(byte, 3)}
        case 2:
            return {"cover_open": _bit(byte, 2), "feed_button": _bit(byte, 3), "paper_end_stop": _bit(byte, 5),
                    "error": _bit(byte, 6)}
        case 3:
            return {"cutter_error": _bit(byte, 3), "unrecoverable_error": _bit(byte, 5),
                    "recoverable_error": _bit(byte, 6)}
    # n == 4: each condition is reported on two bits (two sensors on some models, the
    # same bit twice on others); either set counts.
    return {"paper_near_end": bool(byte & 0x0C), "paper_out": bool(byte & 0x60)}


def parse_poll(reply: bytes) -> PrinterState | None:
    """The state from the replies to ``POLL`` (DLE EOT 1, 2, 3, 4 in that order).

    Args:
        reply: the bytes read back, at most four; fewer when the printer stopped
            answering part way (the missing ones are unknown).

    Returns:
        The state, or None when no byte was usable (no reply at all, or only garbage:
        the caller cannot tell anything about the printer from it).
    """
    flags: dict[str, bool] = {}
    garbage = 0
    usable = 0
    for n, byte in zip(STATUS_REQUESTS, reply[: len(STATUS_REQUESTS)]):
        parsed = parse_byte(n, byte)
        if parsed is None:
            garbage += 1
            continue
        usable += 1
        flags.update(parsed)
    if not usable:
        return None
    parsed_flags = PrinterFlags(**flags)
    return PrinterState(status=status_of(parsed_flags), flags=parsed_flags, garbage=garbage)


def status_of(flags: PrinterFlags) -> Status:
    """The one status a person is shown (see the module's invariants for the order)."""
    if flags.cover_open:
        return "cover_open"
    if flags.paper_out or flags.paper_end_stop:
        return "paper_out"
    if flags.offline or flags.error or flags.unrecoverable_error or flags.cutter_error or flags.recoverable_error:
        return "offline"
    if flags.paper_near_end:
        return "paper_near_end"
    return "ok"


def confirmed(reply: bytes) -> bool:
    """Is ``reply`` (read after a job followed by ``CONFIRM``) a valid DLE EOT 1 answer?

    The printer answers real-time requests in the order they reach it, so an answer
    to the request that followed the job proves it has received every byte of it.
    """
    return len(reply) >= 1 and valid(reply[-1])


# --- the cash drawer: the kick pulse and the open / closed sensor ------------------------

DRAWER_PINS = (2, 5)
#: ESC p m t1 t2: the pulse lasts t1 × 2 ms and is followed by t2 × 2 ms off.
PULSE_UNIT_MS = 2
MAX_PULSE_MS = 255 * PULSE_UNIT_MS


def drawer_kick(pin: int = 2, on_ms: int = 100, off_ms: int = 100) -> bytes:
    """The ``ESC p m t1 t2`` bytes that open a drawer wired to connector pin 2 or 5.

    ``m`` is 0 for pin 2 and 1 for pin 5; ``t1`` and ``t2`` are the on and off times in
    units of 2 ms, rounded up (a pulse shorter than asked may not release the latch),
    at least 1 unit each. The defaults are python-escpos's pin 2 kick (``ESC p 0 50 50``).

    Raises:
        ValueError: a pin other than 2 or 5, or a time outside 1 to 510 ms.
    """
    if pin not in DRAWER_PINS:
        raise ValueError(f"drawer pin must be 2 or 5, not {pin}")
    for name, value in (("on", on_ms), ("off", off_ms)):
        if not 1 <= value <= MAX_PULSE_MS:
            raise ValueError(f"drawer pulse {name} time must be 1 to {MAX_PULSE_MS} ms, not {value}")
    t1 = -(-on_ms // PULSE_UNIT_MS)
    t2 = -(-off_ms // PULSE_UNIT_MS)
    return b"\x1bp" + bytes([0 if pin == 2 else 1, t1, t2])


def drawer_pulse_now(pin: int = 2, on_ms: int = 100) -> bytes:
    """The real-time kick ``DLE DC4 1 m t`` (``10 14 01 m t``): executed as soon as the
    printer receives it, even offline (paper out, cover open) or with its buffer full,
    where ``ESC p`` waits in the buffer. ``t`` is the on (and off) time in units of
    100 ms, 1 to 8: ``on_ms`` rounded up, within those bounds.

    Raises:
        ValueError: a pin other than 2 or 5.
    """
    if pin not in DRAWER_PINS:
        raise ValueError(f"drawer pin must be 2 or 5, not {pin}")
    t = min(8, max(1, -(-on_ms // 100)))
    return b"\x10\x14\x01" + bytes([0 if pin == 2 else 1, t])


SensorPolarity = Literal["", "high", "low"]


def drawer_open(pin3_high: bool | None, polarity: SensorPolarity) -> bool | None:
    """Is the drawer open, from DLE EOT 1 bit 2 (connector pin 3)?

    Args:
        pin3_high: the bit as read; None when unknown.
        polarity: the level that means "open" (``"high"`` or ``"low"``, the drawer's
            wiring); ``""``: the drawer has no sensor (or it is not wired).

    Returns:
        True (open), False (closed), or None (no sensor, or not read).
    """
    if not polarity or pin3_high is None:
        return None
    return pin3_high if polarity == "high" else not pin3_high


@dataclass(frozen=True, slots=True)
class DrawerSensor:
    """What the lane knows of its drawer: open or not, since when, left open or not.

    ``since`` is a monotonic time (seconds) at which the drawer was first seen open;
    ``left_open`` becomes True once it has stayed open ``left_open_after`` seconds.
    """

    open: bool | None = None
    since: float | None = None
    left_open: bool = False


def drawer_seen(sensor: DrawerSensor, is_open: bool | None, now: float, left_open_after: float) -> DrawerSensor:
    """The sensor after a reading ``is_open`` at ``now`` (a state machine, no I/O).

    closed/unknown → open: ``since`` = now. open → open: ``left_open`` once
    ``now - since >= left_open_after``. open → closed or unknown: cleared.
    """
    if not is_open:
        return DrawerSensor(open=is_open)
    since = sensor.since if sensor.open and sensor.since is not None else now
    return DrawerSensor(open=True, since=since, left_open=now - since >= left_open_after)
