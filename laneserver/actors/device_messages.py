"""Messages of the lane devices that stay connected: the customer display and the
scanners (actors/display.py, actors/scanner.py), and the state they report."""

from __future__ import annotations

import msgspec

from laneserver.rules.customer_display import Sale
from laneserver.rules.ticket import Ticket


class ShowTicket(msgspec.Struct, frozen=True):
    """From the lane, after each change of its open ticket (and at its start): the
    ticket now, and the sale the change finished (its total and change), if any."""

    ticket: Ticket
    sale: Sale | None = None


class LaneOpen(msgspec.Struct, frozen=True):
    """From the edge: a seller is signed in on one of the lane's tills (``open``), or
    none is (the display says the lane is closed)."""

    open: bool


class GetDeviceState(msgspec.Struct, frozen=True):
    """Asked of a display or scanner actor: its ``DeviceState``."""


class DeviceState(msgspec.Struct, frozen=True, kw_only=True):
    """A display's or scanner's state, for ``/status``, ``laneserver device list`` and
    ``/metrics``. ``up``: its port is open and the last write or read went through.
    Counters since the server started: a display's ``screens`` written and ``skipped``
    (updates replaced by a newer one before they were shown); a scanner's ``codes``
    passed to the lane, ``refused`` (too long, not printable, noise) and ``dropped``
    (more than the lane could take: a flood), and ``waiting`` (codes read, not yet
    taken by the lane: its queue's length now)."""

    device: str
    kind: str  # "display", "scanner", "cradle" or "terminal"
    lane: str
    address: str
    up: bool = False
    error: str | None = None
    screens: int = 0
    skipped: int = 0
    codes: int = 0
    refused: int = 0
    dropped: int = 0
    waiting: int = 0
    # A cradle's (actors/cradle.py): ``present`` a scanner sits in it and answers;
    # ``uploads`` journaled, ``baskets`` the lane took, ``waiting`` baskets not taken
    # yet, ``codes`` read, ``refused`` frames and records refused (CRC, garbage, silence).
    present: bool = False
    uploads: int = 0
    baskets: int = 0
    # A payment terminal's: charges answered since start (``up`` False after a charge
    # that could not reach it, until one does).
    charges: int = 0
