"""Closing the day, the month and the year (rules/closures.py): the X report, the Z
closures and their list. Money as strings; the maps' keys are a VAT rate ("20",
"5.5"), a payment mode, a seller, a lane or a kind of movement. Then, in a block of its
own, the technical event journal's ``events`` (rules/jet.py)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from laneserver.protocol.frames import Reply, Request

ClosureKind = Literal["day", "month", "year"]


class XReport(Request, tag="x_report"):
    """``x_report``: the open period's totals (what no day Z covers yet), of one lane or
    of every lane (``lane`` omitted: a manager's; another seller gets their till's lane)."""

    lane: str | None = None


class Close(Request, tag="close"):
    """``close``: the Z of a day, a month or a year (``date``: ``YYYY-MM-DD``, ``YYYY-MM``
    or ``YYYY``; omitted: the current one). A manager signed in, or a supervisor's PIN."""

    period: ClosureKind
    date: str | None = None
    supervisor_pin: str | None = None


class Closures(Request, tag="closures"):
    """``closures``: the Zs made so far, newest first (``kind``: only those; ``since``:
    only those numbered after it)."""

    kind: ClosureKind | None = None
    since: int | None = None


class VatTotalView(msgspec.Struct, frozen=True):
    base: str
    vat: str
    total: str


class CountView(msgspec.Struct, frozen=True):
    count: int
    total: str


class GrandView(msgspec.Struct, frozen=True):
    gt: str
    gt_abs: str


class TotalsView(msgspec.Struct, frozen=True):
    tickets: int
    sales: str  # the positive ticket totals
    returns: str  # |the negative ticket totals|: returns and counter-entries
    net: str  # sales − returns
    by_vat: dict[str, VatTotalView]
    by_mode: dict[str, str]  # payment rows by mode, the change given back taken off cash
    by_seller: dict[str, CountView]
    by_lane: dict[str, CountView]
    discounts: str
    cancellations: CountView  # counter-entries of finished sales
    refunds: CountView  # return tickets
    cash_movements: dict[str, str]  # drawer movements by kind: float, add, expense, withdrawal
    money_in: dict[str, str]  # money taken outside sales, by kind


class ClosureView(msgspec.Struct, frozen=True):
    kind: str
    period: str
    number: int  # in the closure chain
    at: str
    totals: TotalsView
    gt: str
    gt_abs: str
    lanes: dict[str, GrandView]  # each lane's grand totals
    hash: str


class ReportView(msgspec.Struct, frozen=True):
    lane: str | None  # null: every lane
    at: str
    since: str | None  # the last day closed; null before the first Z
    totals: TotalsView
    gt: str
    gt_abs: str
    lanes: dict[str, GrandView]


class XReportOk(Reply):
    report: ReportView


class CloseOk(Reply):
    closure: ClosureView


class ClosuresOk(Reply):
    closures: list[ClosureView]


# --- the technical event journal (JET): ``events`` ------------------------------------


class Events(Request, tag="events"):
    """The technical event journal, oldest first: the entries numbered above ``since``
    (0: from the first), of ``kind`` only when given (rules/jet.py ``KINDS``). Manager."""

    since: int = 0
    kind: str | None = None


class EventsOk(Reply):
    """At most 500 entries (store/jet.py ``MAX_ENTRIES``), each ``{seq, at, kind, …}`` (``seq``: its number in
    the chain ``jet``; the other keys are its kind's fields); ``more``: entries follow the
    last one (ask again with ``since`` = its ``seq``)."""

    events: list[dict[str, Any]]
    more: bool = False


# --- end of the JET block ---------------------------------------------------------------
