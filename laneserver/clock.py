"""The one wall clock of the process.

Every timestamp the server writes (journal events, sales, receipts) comes from a
``Clock`` handed down from start-up, so tests replace it with a ``FixedClock``.
Durations and deadlines use Trio's own clock (``trio.current_time``), which tests
replace with ``autojump_clock``.
"""

from __future__ import annotations

import datetime as dt
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
        local = dt.datetime.now().astimezone().tzinfo
        assert local is not None
        return local
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as 'Europe/Paris')") from None


def shop_day(at: dt.datetime, zone: dt.tzinfo) -> dt.date:
    """The shop's date at the instant ``at``."""
    return at.astimezone(zone).date()
