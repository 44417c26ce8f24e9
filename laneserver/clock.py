"""The one wall clock of the process.

Every timestamp the server writes (journal events, sales, receipts) comes from a
``Clock`` handed down from start-up, so tests replace it with a ``FixedClock``.
Durations and deadlines use Trio's own clock (``trio.current_time``), which tests
replace with ``autojump_clock``.
"""

from __future__ import annotations

import datetime as dt
import os
import zoneinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.timezone.utc)


class FixedClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self._now = start or dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.timezone.utc)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += dt.timedelta(**delta)


# --- the shop's day -------------------------------------------------------------------
# Timestamps are UTC; dates that mean something to the shop (a voucher's last day, a
# sell-by date, a cheque's cashing date) are days of the shop's own time zone.


def shop_zone(name: str) -> dt.tzinfo:
    """The zone ``[shop] timezone`` names; "" = the machine's local zone (as systemd
    and the shop's other programs see it). Raises ValueError for an unknown name."""
    if not name:
        return _machine_zone()
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as 'Europe/Paris')") from None


def shop_day(at: dt.datetime, zone: dt.tzinfo) -> dt.date:
    """The shop's date at the instant ``at``."""
    return at.astimezone(zone).date()


# The machine's zone as last read, with what it was read from: read and parsed again
# only when ``TZ`` or the file /etc/localtime is (or links to) changes. Reading and
# parsing it is ~23 µs, a ``stat`` ~3 µs, and a till asks once a sale (server/edge_lane.py).
_machine: tuple[object, dt.tzinfo] | None = None


def _machine_zone() -> dt.tzinfo:
    """The machine's zone, kept while its sources are unchanged (``_read_machine_zone``)."""
    global _machine
    try:
        found = os.stat("/etc/localtime")
        source: object = (os.environ.get("TZ"), found.st_dev, found.st_ino, found.st_mtime_ns, found.st_size)
    except OSError:
        source = (os.environ.get("TZ"), None)
    kept = _machine
    if kept is not None and kept[0] == source:
        return kept[1]
    zone = _read_machine_zone()
    _machine = (source, zone)
    return zone


def _read_machine_zone() -> dt.tzinfo:
    """The machine's zone with its rules (summer time included): ``TZ`` if it names
    one, else ``/etc/localtime``; UTC when neither is readable. (A fixed offset taken
    at start-up would be an hour off after the next clock change.)"""
    named = os.environ.get("TZ", "").removeprefix(":")
    if named:
        try:
            return zoneinfo.ZoneInfo(named)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass  # not an IANA name (e.g. a POSIX rule): the system's file below
    try:
        with open("/etc/localtime", "rb") as rules:
            return zoneinfo.ZoneInfo.from_file(rules, key="localtime")
    except (OSError, ValueError):
        return dt.timezone.utc
