"""Grand totals, X reports and Z closures (day, month, year). Pure.

A period's records are the fiscal rows no Z covers yet: sales (with the counter-entries
that cancel them and the return tickets), payment rows, money taken outside sales
(``money_in``) and the drawers' cash movements. ``totals`` sums them by VAT rate,
payment mode, seller and lane, with the discounts, cancellations, refunds and cash
movements; ``carry`` moves the perpetual grand totals on by them.

Invariants (tests/rules/test_closures.py, partly by hypothesis):
  - ``totals`` is a sum: ``totals(a + b) == add(totals(a), totals(b))`` for any split of
    the records, and ``add`` is associative and commutative with ``EMPTY`` as its zero
    (so a month's totals, the sum of its days' Zs, are the totals of its records);
  - ``gt`` is the perpetual sum of the signed ticket totals (sales − |returns|), ``gt_abs``
    the sum of their absolute values (sales + |returns|): ``gt_abs ≥ |gt|``, ``gt_abs``
    never falls, and the shop's pair is the sum of the lanes' pairs;
  - a day Z covers the uncovered records whose shop day (in the shop's zone) is on or
    before its day, as a prefix of each chain (``positions`` notes its last numbers), so
    the records after it — a sale made after today's Z — are the next period's;
  - a day is closed once, in order, never before it has begun nor once its month (or
    year) is closed; a month once its last day has begun and none of its records is left uncovered by a day Z; a year once its
    last day has begun, no record of it is uncovered and each of its months that had a
    day Z is closed. A month's totals are the sum of its days' Zs, a year's of its
    months'; each carries the grand totals of the last day Z it includes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from laneserver.rules.money import ZERO
from laneserver.rules.outcome import Refused
from laneserver.rules.ticket import line_total

DAY, MONTH, YEAR = "day", "month", "year"
KINDS = (DAY, MONTH, YEAR)
CASH = "cash"
# The chains (and the drawer's movements, not chained yet) a day Z notes its last number of.
POSITIONS = ("sale", "payment", "money", "drawer")


# --- the records a period sums ----------------------------------------------------------

class SaleLine(msgspec.Struct, frozen=True):
    qty: Decimal
    unit_price: Decimal
    discount_percent: Decimal = ZERO


class VatPart(msgspec.Struct, frozen=True):
    rate: Decimal
    base: Decimal
    vat: Decimal
    total: Decimal


class SaleRec(msgspec.Struct, frozen=True, kw_only=True):
    """A sale record (or a counter-entry ``cancels`` the original, or a return ticket)."""

    number: int
    at: dt.datetime
    lane: str
    seller: str
    total: Decimal
    change: Decimal = ZERO
    lines: tuple[SaleLine, ...] = ()
    vat: tuple[VatPart, ...] = ()
    cancels: int | None = None


class PaymentRec(msgspec.Struct, frozen=True, kw_only=True):
    """A payment row: at finish (``lane`` is the sale's), or a later correction."""

    number: int
    at: dt.datetime
    lane: str
    mode: str
    amount: Decimal
    type: str = "PAI"


class MoneyRec(msgspec.Struct, frozen=True, kw_only=True):
    """Money taken outside sales (a top-up, a deposit, a voucher sold, their cancels)."""

    number: int
    at: dt.datetime
    lane: str | None
    kind: str
    mode: str
    amount: Decimal


class DrawerRec(msgspec.Struct, frozen=True, kw_only=True):
    """A drawer movement: ``float``, ``add``, ``expense``, ``withdrawal`` (amount positive)."""

    number: int
    at: dt.datetime
    lane: str
    kind: str
    amount: Decimal


class Records(msgspec.Struct, frozen=True):
    """A period's records, each chain in number order."""

    sales: tuple[SaleRec, ...] = ()
    payments: tuple[PaymentRec, ...] = ()
    money: tuple[MoneyRec, ...] = ()
    drawer: tuple[DrawerRec, ...] = ()

    def of_lane(self, lane: str) -> Records:
        return Records(tuple(r for r in self.sales if r.lane == lane),
                       tuple(r for r in self.payments if r.lane == lane),
                       tuple(r for r in self.money if r.lane == lane),
                       tuple(r for r in self.drawer if r.lane == lane))

    def empty(self) -> bool:
        return not (self.sales or self.payments or self.money or self.drawer)


# --- totals -------------------------------------------------------------------------------

class Count(msgspec.Struct, frozen=True):
    count: int = 0
    total: Decimal = ZERO

    def __add__(self, other: Count) -> Count:
        return Count(self.count + other.count, self.total + other.total)


class VatSum(msgspec.Struct, frozen=True):
    base: Decimal = ZERO
    vat: Decimal = ZERO
    total: Decimal = ZERO

    def __add__(self, other: VatSum) -> VatSum:
        return VatSum(self.base + other.base, self.vat + other.vat, self.total + other.total)


class Totals(msgspec.Struct, frozen=True, kw_only=True):
    """What a period's records add up to. Money as Decimal; keys of the maps are
    strings (a VAT rate as its decimal text: "20", "5.5")."""

    tickets: int = 0
    sales: Decimal = ZERO            # the positive ticket totals
    returns: Decimal = ZERO          # |the negative ticket totals| (returns and counter-entries)
    net: Decimal = ZERO              # sales − returns: what the period adds to gt
    by_vat: dict[str, VatSum] = {}
    by_mode: dict[str, Decimal] = {}
    by_seller: dict[str, Count] = {}
    by_lane: dict[str, Count] = {}
    discounts: Decimal = ZERO
    cancellations: Count = Count()   # counter-entries (a sale cancelled after it was finished)
    refunds: Count = Count()         # return tickets (negative, not counter-entries)
    cash_movements: dict[str, Decimal] = {}   # drawer movements by kind
    money_in: dict[str, Decimal] = {}         # money taken outside sales, by kind

    @property
    def abs(self) -> Decimal:
        """What the period adds to gt_abs."""
        return self.sales + self.returns


EMPTY = Totals()


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        out[key] = out[key] + value if key in out else value
    return dict(sorted(out.items()))


def add(a: Totals, b: Totals) -> Totals:
    """The totals of two periods together (a month is the sum of its days)."""
    return Totals(
        tickets=a.tickets + b.tickets, sales=a.sales + b.sales, returns=a.returns + b.returns, net=a.net + b.net,
        by_vat=_merge(a.by_vat, b.by_vat), by_mode=_merge(a.by_mode, b.by_mode),
        by_seller=_merge(a.by_seller, b.by_seller), by_lane=_merge(a.by_lane, b.by_lane),
        discounts=a.discounts + b.discounts, cancellations=a.cancellations + b.cancellations,
        refunds=a.refunds + b.refunds, cash_movements=_merge(a.cash_movements, b.cash_movements),
        money_in=_merge(a.money_in, b.money_in),
    )


def add_all(many: Iterable[Totals]) -> Totals:
    out = EMPTY
    for one in many:
        out = add(out, one)
    return out


def rate_key(rate: Decimal) -> str:
    """A VAT rate as a map key: "20", "5.5" (trailing zeros left out)."""
    return format(rate.normalize(), "f")


def discount_of(line: SaleLine) -> Decimal:
    """What a line's discount took off (0 for a line without one; a returned line's
    discount counts with its sign)."""
    if not line.discount_percent:
        return ZERO
    return line_total(line.unit_price, line.qty) - line_total(line.unit_price, line.qty, line.discount_percent)


def totals(records: Records) -> Totals:
    """The totals of a period's records."""
    sales = returns = discounts = ZERO
    by_vat: dict[str, VatSum] = {}
    by_mode: dict[str, Decimal] = {}
    by_seller: dict[str, Count] = {}
    by_lane: dict[str, Count] = {}
    cancellations = refunds = Count()
    for sale in records.sales:
        if sale.total >= 0:
            sales += sale.total
        else:
            returns -= sale.total
        one = Count(1, sale.total)
        by_seller[sale.seller] = by_seller.get(sale.seller, Count()) + one
        by_lane[sale.lane] = by_lane.get(sale.lane, Count()) + one
        if sale.cancels is not None:
            cancellations += one
        elif sale.total < 0:
            refunds += one
        for part in sale.vat:
            key = rate_key(part.rate)
            by_vat[key] = by_vat.get(key, VatSum()) + VatSum(part.base, part.vat, part.total)
        discounts += sum((discount_of(line) for line in sale.lines), ZERO)
        if sale.change:  # the rows add up to total + change: the change went back in cash
            by_mode[CASH] = by_mode.get(CASH, ZERO) - sale.change
    for payment in records.payments:
        by_mode[payment.mode] = by_mode.get(payment.mode, ZERO) + payment.amount
    cash_movements: dict[str, Decimal] = {}
    for move in records.drawer:
        cash_movements[move.kind] = cash_movements.get(move.kind, ZERO) + move.amount
    money_in: dict[str, Decimal] = {}
    for money in records.money:
        money_in[money.kind] = money_in.get(money.kind, ZERO) + money.amount
    return Totals(
        tickets=len(records.sales), sales=sales, returns=returns, net=sales - returns,
        by_vat=dict(sorted(by_vat.items())), by_mode=dict(sorted(by_mode.items())),
        by_seller=dict(sorted(by_seller.items())), by_lane=dict(sorted(by_lane.items())),
        discounts=discounts, cancellations=cancellations, refunds=refunds,
        cash_movements=dict(sorted(cash_movements.items())), money_in=dict(sorted(money_in.items())),
    )


# --- grand totals ---------------------------------------------------------------------------

class Pair(msgspec.Struct, frozen=True):
    gt: Decimal = ZERO
    gt_abs: Decimal = ZERO


class GrandTotals(msgspec.Struct, frozen=True):
    """The perpetual grand totals of the shop and of each lane."""

    gt: Decimal = ZERO
    gt_abs: Decimal = ZERO
    lanes: dict[str, Pair] = {}


def carry(before: GrandTotals, records: Records) -> GrandTotals:
    """The grand totals after a period's sales."""
    lanes = dict(before.lanes)
    gt, gt_abs = before.gt, before.gt_abs
    for sale in records.sales:
        gt += sale.total
        gt_abs += abs(sale.total)
        pair = lanes.get(sale.lane, Pair())
        lanes[sale.lane] = Pair(pair.gt + sale.total, pair.gt_abs + abs(sale.total))
    return GrandTotals(gt, gt_abs, dict(sorted(lanes.items())))


# --- periods --------------------------------------------------------------------------------

def day_of(at: dt.datetime, zone: dt.tzinfo) -> dt.date:
    """The shop's day of an instant (clock.shop_day, without the clock module)."""
    return at.astimezone(zone).date()


def parse_period(kind: str, text: str | None, today: dt.date) -> str | Refused:
    """The period a ``close`` names: ``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY`` by kind;
    none = the current one (today, this month, this year)."""
    if kind not in KINDS:
        return Refused("bad_request", f"period {kind!r} is not one of {', '.join(KINDS)}", {"field": "period"})
    if text is None:
        return {DAY: today.isoformat(), MONTH: today.isoformat()[:7], YEAR: today.isoformat()[:4]}[kind]
    pattern = {DAY: "%Y-%m-%d", MONTH: "%Y-%m", YEAR: "%Y"}[kind]
    shape = {DAY: "YYYY-MM-DD", MONTH: "YYYY-MM", YEAR: "YYYY"}[kind]
    try:
        if len(text) != len(shape):
            raise ValueError(text)
        parsed = dt.datetime.strptime(text, pattern).date()
    except ValueError:
        return Refused("bad_request", f"date {text!r} is not a {kind} ({shape})", {"field": "date"})
    return parsed.isoformat()[: len(shape)]


def first_day(kind: str, period: str) -> dt.date:
    if kind == DAY:
        return dt.date.fromisoformat(period)
    if kind == MONTH:
        return dt.date.fromisoformat(period + "-01")
    return dt.date(int(period), 1, 1)


def last_day(kind: str, period: str) -> dt.date:
    """The last day of a period (a month's last day whatever its length, 31 December)."""
    if kind == DAY:
        return dt.date.fromisoformat(period)
    if kind == MONTH:
        start = first_day(MONTH, period)
        following = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        return following - dt.timedelta(days=1)
    return dt.date(int(period), 12, 31)


def within(kind: str, period: str, day: dt.date) -> bool:
    return first_day(kind, period) <= day <= last_day(kind, period)


def up_to(records: Records, day: dt.date, zone: dt.tzinfo) -> tuple[Records, Records]:
    """The records a day Z for ``day`` covers and those it leaves to the next period:
    each chain's prefix whose shop days are on or before ``day`` (a record after one of a
    later day — the wall clock set back — waits for the next Z with what follows it)."""

    def split(rows: tuple[Any, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        for index, row in enumerate(rows):
            if day_of(row.at, zone) > day:
                return rows[:index], rows[index:]
        return rows, ()

    parts = [split(rows) for rows in (records.sales, records.payments, records.money, records.drawer)]
    return Records(*(p[0] for p in parts)), Records(*(p[1] for p in parts))


def days_of(records: Records, zone: dt.tzinfo) -> list[dt.date]:
    """The shop days the records were made on, in order."""
    found = {day_of(row.at, zone) for rows in (records.sales, records.payments, records.money, records.drawer)
             for row in rows}
    return sorted(found)


# --- closures -------------------------------------------------------------------------------

class Positions(msgspec.Struct, frozen=True):
    """The last number of each chain a day Z (and every Z before it) covers."""

    sale: int = 0
    payment: int = 0
    money: int = 0
    drawer: int = 0

    def after(self, records: Records) -> Positions:
        """These positions moved past ``records`` (their last rows)."""
        return Positions(records.sales[-1].number if records.sales else self.sale,
                         records.payments[-1].number if records.payments else self.payment,
                         records.money[-1].number if records.money else self.money,
                         records.drawer[-1].number if records.drawer else self.drawer)


class Closure(msgspec.Struct, frozen=True, kw_only=True):
    """A Z: its number in the ``closure`` chain (0 until written), what it closes, the
    positions it covers up to, its totals and the grand totals at its end."""

    number: int = 0
    kind: str
    period: str
    at: dt.datetime
    positions: Positions
    totals: Totals
    grand: GrandTotals
    hash: str = ""


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """An X: the open period's totals (every record no Z covers yet), for one lane or all."""

    lane: str | None
    at: dt.datetime
    since: str | None     # the last day Z's period, None before the first
    totals: Totals
    grand: GrandTotals


def last_day_z(closures: Iterable[Closure]) -> Closure | None:
    days = [c for c in closures if c.kind == DAY]
    return max(days, key=lambda c: c.number) if days else None


def x_report(records: Records, closures: Iterable[Closure], *, lane: str | None, at: dt.datetime) -> Report:
    """The X of the open period: ``records`` are those after the last day Z."""
    last = last_day_z(closures)
    grand = carry(last.grand if last else GrandTotals(), records)
    if lane is not None:
        records = records.of_lane(lane)
    return Report(lane=lane, at=at, since=last.period if last else None, totals=totals(records), grand=grand)


def close(kind: str, period: str, *, records: Records, closures: Iterable[Closure], today: dt.date,
          zone: dt.tzinfo, at: dt.datetime) -> Closure | Refused:
    """The Z of ``period`` (already parsed), or why it cannot be made now.

    ``records``: every record after the last day Z's positions; ``closures``: every Z so
    far. A ``Refused`` changes nothing.
    """
    closures = tuple(closures)
    if any(c.kind == kind and c.period == period for c in closures):
        return Refused("conflict", f"the {kind} {period} is already closed", {"period": period, "closed": True})
    if first_day(kind, period) > today:
        return Refused("conflict", f"the {kind} {period} has not begun (today is {today.isoformat()})",
                       {"period": period})
    for outer, key in ((MONTH, period[:7]), (YEAR, period[:4])):
        if KINDS.index(outer) > KINDS.index(kind) and any(c.kind == outer and c.period == key for c in closures):
            return Refused("conflict", f"the {outer} {key} is already closed: what is left of the {kind} {period} "
                                       "goes into the next day's Z", {"period": period})
    last = last_day_z(closures)
    before = last.grand if last else GrandTotals()
    if kind == DAY:
        day = first_day(DAY, period)
        if last is not None and first_day(DAY, last.period) > day:
            return Refused("conflict", f"a later day ({last.period}) is already closed", {"period": period})
        covered, _rest = up_to(records, day, zone)
        if day < today and not days_of(covered, zone):
            # A past day with nothing to cover (a date before the shop opened, a day it was
            # shut): its Z would only put an empty closure in the chain. (Today's may be
            # empty: the Z of a day without a sale.)
            return Refused("conflict", f"nothing to close on {period}: no record up to that day is left open",
                           {"period": period})
        positions = (last.positions if last else Positions()).after(covered)
        return Closure(kind=DAY, period=period, at=at, positions=positions, totals=totals(covered),
                       grand=carry(before, covered))
    end = last_day(kind, period)
    if end > today:
        return Refused("conflict", f"the {kind} {period} is not over: it can be closed from {end.isoformat()}",
                       {"period": period})
    covered, _rest = up_to(records, end, zone)
    open_days = days_of(covered, zone)
    if open_days:
        days = [d.isoformat() for d in open_days]
        return Refused("conflict", f"close the days first: {', '.join(days)} not closed", {"days": days})
    parts_kind = DAY if kind == MONTH else MONTH
    parts = sorted((c for c in closures if c.kind == parts_kind and within(kind, period, first_day(parts_kind, c.period))),
                   key=lambda c: c.number)
    if kind == YEAR:
        months = sorted({c.period[:7] for c in closures if c.kind == DAY and c.period[:4] == period})
        missing = [m for m in months if m not in {c.period for c in parts}]
        if missing:
            return Refused("conflict", f"close the months first: {', '.join(missing)} not closed",
                           {"months": missing})
    days = [c for c in closures if c.kind == DAY and first_day(DAY, c.period) <= end]
    grand = max(days, key=lambda c: c.number).grand if days else GrandTotals()
    positions = max(days, key=lambda c: c.number).positions if days else Positions()
    return Closure(kind=kind, period=period, at=at, positions=positions,
                   totals=add_all(c.totals for c in parts), grand=grand)


def pending_days(records: Records, closures: Iterable[Closure], *, today: dt.date,
                 zone: dt.tzinfo) -> list[str]:
    """The earlier days a start closes by itself, in order: each day before today with
    records no Z covers (each gets its own Z)."""
    last = last_day_z(closures)
    done = first_day(DAY, last.period) if last else None
    days = [d for d in days_of(records, zone) if d < today]
    return [d.isoformat() for d in days if done is None or d > done]


def auto_closures(records: Records, closures: Iterable[Closure], *, today: dt.date, zone: dt.tzinfo,
                  at: dt.datetime) -> list[Closure]:
    """The day Zs a start makes by itself: one per earlier day left with records no Z
    covers, in order, each numbered after the one before (``records``: those after the
    last day Z)."""
    made: list[Closure] = []
    closures = list(closures)
    number = max((c.number for c in closures), default=0)
    for day in pending_days(records, closures, today=today, zone=zone):
        closure = close(DAY, day, records=records, closures=closures, today=today, zone=zone, at=at)
        if isinstance(closure, Refused):  # a later day closed meanwhile: nothing more to do
            break
        number += 1
        closure = msgspec.structs.replace(closure, number=number)
        made.append(closure)
        closures.append(closure)
        records = up_to(records, first_day(DAY, day), zone)[1]
    return made


# --- the record in the ``closure`` chain ------------------------------------------------------

_builtins = msgspec.json.Encoder(decimal_format="string")


def closure_record(closure: Closure) -> dict[str, Any]:
    """A closure's business content as chained (no database ids; money as strings; the
    writer adds ``number`` and ``at``)."""
    return {"kind": closure.kind, "period": closure.period, "positions": msgspec.to_builtins(closure.positions),
            "totals": _plain(closure.totals), "gt": str(closure.grand.gt), "gt_abs": str(closure.grand.gt_abs),
            "lanes_gt": _plain(closure.grand.lanes)}


def _plain(value: Any) -> Any:
    return msgspec.json.decode(_builtins.encode(value))


def closure_of(number: int, at: str, record: Mapping[str, Any], digest: str) -> Closure:
    """A closure read back from its chain record."""
    return Closure(number=number, kind=record["kind"], period=record["period"], at=dt.datetime.fromisoformat(at),
                   positions=msgspec.convert(record["positions"], Positions),
                   totals=msgspec.convert(record["totals"], Totals, strict=False),
                   grand=GrandTotals(Decimal(record["gt"]), Decimal(record["gt_abs"]),
                                     msgspec.convert(record["lanes_gt"], dict[str, Pair], strict=False)),
                   hash=digest)


# --- the printed X and Z ------------------------------------------------------------------------

RULE = "-"
KIND_TITLES = {DAY: "Z JOURNALIER", MONTH: "Z MENSUEL", YEAR: "Z ANNUEL"}
MODE_LABELS = {"cash": "Espèces", "card": "Carte bancaire", "cheque": "Chèque", "meal_voucher": "Titre-restaurant",
               "rounding": "Arrondi"}
MOVEMENT_LABELS = {"float": "Fond de caisse", "add": "Apport", "expense": "Dépenses", "withdrawal": "Retraits"}


class Sheet(msgspec.Struct, frozen=True, kw_only=True):
    """An X or a Z as printed (hw/closure_sheet.py renders it): a title, then rows of a
    label and a value (money as Decimal, a count as int, None for a heading); a row
    labelled ``RULE`` is a rule across the paper."""

    shop_name: str
    title: str
    at: dt.datetime
    lane: str | None
    rows: tuple[tuple[str, Decimal | int | str | None], ...]


def _rows(t: Totals, grand: GrandTotals, lane: str | None) -> list[tuple[str, Decimal | int | str | None]]:
    rows: list[tuple[str, Decimal | int | str | None]] = [
        ("Tickets", t.tickets), ("Ventes", t.sales), ("Retours", -t.returns), ("TOTAL NET", t.net),
        ("Remises", t.discounts), (f"Annulations ({t.cancellations.count})", t.cancellations.total),
        (f"Remboursements ({t.refunds.count})", t.refunds.total), (RULE, None), ("Par taux de TVA", None)]
    for rate, part in t.by_vat.items():
        rows += [(f"  {rate.replace('.', ',')} % TTC", part.total), ("    HT", part.base), ("    TVA", part.vat)]
    rows += [(RULE, None), ("Par mode de paiement", None)]
    rows += [(f"  {MODE_LABELS.get(mode, mode)}", amount) for mode, amount in t.by_mode.items()]
    rows += [(RULE, None), ("Par vendeur", None)]
    rows += [(f"  {seller} ({c.count})", c.total) for seller, c in t.by_seller.items()]
    if lane is None:
        rows += [(RULE, None), ("Par caisse", None)]
        rows += [(f"  Caisse {name} ({c.count})", c.total) for name, c in t.by_lane.items()]
    if t.cash_movements or t.money_in:
        rows += [(RULE, None), ("Mouvements d'espèces", None)]
        rows += [(f"  {MOVEMENT_LABELS.get(kind, kind)}", amount) for kind, amount in t.cash_movements.items()]
        rows += [(f"  Encaissé hors vente : {kind}", amount) for kind, amount in t.money_in.items()]
    pair = grand.lanes.get(lane, Pair()) if lane is not None else Pair(grand.gt, grand.gt_abs)
    rows += [(RULE, None), ("Grand total (GT)", pair.gt), ("GT absolu", pair.gt_abs)]
    return rows


def closure_sheet(closure: Closure, shop_name: str) -> Sheet:
    rows = [("Période", closure.period), ("Numéro", closure.number), (RULE, None),
            *_rows(closure.totals, closure.grand, None)]
    if closure.hash:
        rows.append(("Empreinte", closure.hash[:16]))
    return Sheet(shop_name=shop_name, title=KIND_TITLES[closure.kind], at=closure.at, lane=None, rows=tuple(rows))


def report_sheet(report: Report, shop_name: str) -> Sheet:
    since = report.since or "-"
    rows = [("Depuis le Z du", since), (RULE, None), *_rows(report.totals, report.grand, report.lane)]
    return Sheet(shop_name=shop_name, title="RAPPORT X", at=report.at, lane=report.lane, rows=tuple(rows))
