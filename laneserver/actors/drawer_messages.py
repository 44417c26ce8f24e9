"""What the edge asks of a lane's drawer actor, and what it answers (domain values);
and what the other actors tell it when cash moved in its lane.

The edge (server/edge_drawer.py) turns the till's drawer verbs into these commands,
sent in ``Do``; the drawer answers one of ``DrawerResult`` and the edge encodes it.
The results of keyed commands are journaled (actors/replies.py ``stored``), so they
are tagged msgspec Structs in one union with ``Refused``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from laneserver.rules.drawer import DrawerCounted, Period
from laneserver.rules.outcome import Refused

# --- commands (in ``Do``) ---------------------------------------------------------------


class ShowDrawer(msgspec.Struct, frozen=True):
    """The current period."""


class MoveCash(msgspec.Struct, frozen=True, kw_only=True):
    """Cash in or out, not from a sale (``rules.drawer.Move``): ``count`` is the till's
    pieces by denomination as sent, checked against the shop's denominations by the drawer."""

    kind: str
    amount: Decimal
    reason: str
    detail: str | None = None
    destination: str | None = None
    count: dict[str, int] | None = None


class OpenWithoutSale(msgspec.Struct, frozen=True):
    """Kick the drawer open without a sale (needs the caller's ``approved_by``)."""

    reason: str


class CountDrawer(msgspec.Struct, frozen=True):
    """The closing count by denomination (as sent): it closes the period."""

    count: dict[str, int]


# --- results ----------------------------------------------------------------------------


class DrawerNow(msgspec.Struct, frozen=True, tag="drawer"):
    """The period after the command, with the shop's alert threshold (for its view)."""

    period: Period
    threshold: Decimal | None = None


class OpenedWithoutSale(msgspec.Struct, frozen=True, tag="opened"):
    lane: str
    approved_by: str


class Counted(msgspec.Struct, frozen=True, tag="counted"):
    """The count journaled, and the new, empty period."""

    counted: DrawerCounted
    period: Period
    threshold: Decimal | None = None


DrawerResult = DrawerNow | OpenedWithoutSale | Counted | Refused


# --- pushed to the lane's sessions ---------------------------------------------------------


class DrawerAlert(msgspec.Struct, frozen=True):
    """The expected cash rose above the shop's threshold: a withdrawal is due."""

    lane: str
    expected: Decimal
    threshold: Decimal


# --- told by the other actors (lane, customers, sales): cash moved in the lane ------------


class SaleFinished(msgspec.Struct, frozen=True):
    """The lane journaled sale ``number`` (tell): its cash goes in the drawer, which opens."""

    number: int
    payments: tuple[Any, ...]  # objects with ``mode`` and ``amount``
    change: Decimal


class CashReceived(msgspec.Struct, frozen=True):
    """The journal's ``money_in`` record ``seq`` of this lane took ``amount`` in cash
    (a customer top-up, a deposit, a voucher sold; negative: given back) (tell): the
    drawer counts it and opens. Records no one told are read from the journal before
    each drawer request, so the drawer's sums never miss one."""

    seq: int
    amount: Decimal


class RowsWritten(msgspec.Struct, frozen=True):
    """The sales actor wrote payment rows up to row ``number`` on a finished sale, in
    this lane's drawer (a debt paid later, a correction, a cancel), moving ``cash``
    (negative: given back) (tell): the drawer counts it and, for cash taken in or
    given back, opens. Rows no one told are read before each drawer request."""

    number: int
    cash: Decimal
