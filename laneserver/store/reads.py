"""Reading state back from SQLite: start-up loads and lookups (the fiscal chains and
their anchor are read back in store/fiscal.py)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from fractions import Fraction

import msgspec

from laneserver.clock import shop_day
from laneserver.rules import corrections
from laneserver.rules.ticket import Line
from laneserver.rules.auth import PinRecord
from laneserver.rules.catalog import Article
from laneserver.rules.customers import Customer, Voucher, balances_of
from laneserver.rules.coupons import Batch, SaleCoupons
from laneserver.rules.drawer import CountRows, Movement, Period, sale_cash
from laneserver.rules.invoice import Invoice
from laneserver.rules.lane import LaneState
from laneserver.rules.lane_journal import LaneChange, replay
from laneserver.rules.replenishment import OrderLine, PurchaseOrder
from laneserver.rules.sell_by import Lot
from laneserver.rules.stock import exact, fmt_stock, to_decimal
from laneserver.store.article_rows import decode_articles

_lane_state = msgspec.json.Decoder(LaneState)
_lane_change = msgspec.json.Decoder(LaneChange)


class Device(msgspec.Struct, frozen=True):
    device: str
    kind: str
    lane: str | None
    seller: str | None
    revoked: bool


class Seller(msgspec.Struct, frozen=True):
    name: str
    role: str
    pin_hash: str
    active: bool


def lane_state(db: sqlite3.Connection, lane: str) -> LaneState | None:
    """The lane's state as its last change left it: its last snapshot (``lane_states``;
    none yet: an empty lane) with the changes made since replayed (``lane_changes``,
    rules/lane_journal.py); None when the lane never changed. Raises
    ``lane_journal.JournalGap`` if a change does not follow."""
    row = db.execute("SELECT state FROM lane_states WHERE lane=?", (lane,)).fetchone()
    changes = [_lane_change.decode(change) for (change,) in
               db.execute("SELECT change FROM lane_changes WHERE lane=? ORDER BY seq", (lane,))]
    if row is None and not changes:
        return None
    return replay(_lane_state.decode(row[0]) if row else LaneState(lane=lane), changes)


def replies(db: sqlite3.Connection, actor: str, since: str) -> dict[tuple[str, str], tuple[str | None, bytes]]:
    """(device, key) → (the keyed request's fingerprint, None on rows older than
    migration 12; the reply) for ``actor`` since ``since``."""
    rows = db.execute("SELECT device, key, fingerprint, reply FROM replies WHERE actor=? AND at>=?", (actor, since))
    return {(device, key): (fingerprint, bytes(reply)) for device, key, fingerprint, reply in rows}


def reply_of(db: sqlite3.Connection, device: str, key: str) -> tuple[str, str | None, bytes] | None:
    """The reply ``device``'s request keyed ``key`` got: (the actor that answered it, the
    request's fingerprint, the reply as kept), if any."""
    row = db.execute("SELECT actor, fingerprint, reply FROM replies WHERE device=? AND key=?", (device, key)).fetchone()
    return None if row is None else (row[0], row[1], bytes(row[2]))


def reply_actor(db: sqlite3.Connection, device: str, key: str) -> str | None:
    """The actor that answered ``device``'s request keyed ``key`` (``lane:1``…), if any
    (a PDA's basket: which lane took it)."""
    row = db.execute("SELECT actor FROM replies WHERE device=? AND key=?", (device, key)).fetchone()
    return None if row is None else row[0]


def articles(db: sqlite3.Connection) -> list[Article]:
    # Shared Decimals and labels: see store/article_rows.py (a million articles at start-up).
    # As bytes: the decoder reads UTF-8, so no str is built only to be encoded again.
    return decode_articles(data for (data,) in db.execute("SELECT CAST(data AS BLOB) FROM articles ORDER BY id"))


def article_count(db: sqlite3.Connection) -> int:
    return db.execute("SELECT count(*) FROM articles").fetchone()[0]


def stock_levels(db: sqlite3.Connection, stock_point: str) -> dict[str, Fraction]:
    """Real stock per article, exact (a part of a unit is stored as ``n/d``: rules/stock.py)."""
    rows = db.execute("SELECT article, real FROM stock_levels WHERE stock_point=?", (stock_point,))
    return {article: exact(real) for article, real in rows}


def stock_lots(db: sqlite3.Connection, stock_point: str) -> list[Lot]:
    """A stock point's lots (migration 3), oldest received first."""
    rows = db.execute("SELECT article, received, qty FROM stock_lots WHERE stock_point=? ORDER BY received, seq",
                      (stock_point,))
    return [Lot(article=article, received=dt.date.fromisoformat(received), qty=exact(qty))
            for article, received, qty in rows]


def open_count_lines(db: sqlite3.Connection, stock_point: str) -> list[tuple[str, str, Decimal]]:
    """A stock point's open inventory count (migration 16): (zone, article, qty) as counted."""
    rows = db.execute("SELECT zone, article, qty FROM stock_count_lines WHERE stock_point=? AND validated IS NULL "
                      "ORDER BY seq", (stock_point,))
    return [(zone, article, Decimal(qty)) for zone, article, qty in rows]


class LabelRequestRow(msgspec.Struct, frozen=True):
    request: int
    stock_point: str
    article: str
    copies: int
    at: str
    device: str | None
    seller: str | None


def label_requests(db: sqlite3.Connection, stock_point: str | None, limit: int) -> list[LabelRequestRow]:
    """The latest shelf-label requests (migration 16), newest first."""
    sql = "SELECT seq, stock_point, article, copies, at, device, seller FROM label_requests"
    args: tuple = ()
    if stock_point is not None:
        sql += " WHERE stock_point=?"
        args = (stock_point,)
    rows = db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*args, limit))
    return [LabelRequestRow(*row) for row in rows]


_order_lines = msgspec.json.Decoder(tuple[OrderLine, ...])


def purchase_orders(db: sqlite3.Connection, *, stock_point: str | None = None, status: str | None = None,
                    supplier: str | None = None, number: int | None = None) -> list[PurchaseOrder]:
    """Purchase orders (migration 4), filtered, by number."""
    where, args = [], []
    for column, value in (("stock_point", stock_point), ("status", status), ("supplier", supplier),
                          ("number", number)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = ("SELECT number, stock_point, supplier, status, lines, comment, created_at FROM purchase_orders"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY number")
    return [PurchaseOrder(number=n, stock_point=point, supplier=sup, lines=_order_lines.decode(lines),
                          status=st, created_at=created, comment=comment)
            for n, point, sup, st, lines, comment, created in db.execute(sql, args)]


def sold_since(db: sqlite3.Connection, stock_point: str, since: str) -> dict[str, Fraction]:
    """What sales took per stock article at a stock point since ``since`` (ISO 8601 text)."""
    rows = db.execute("SELECT article, delta FROM stock_movements WHERE stock_point=? AND reason='sale' AND at>=?",
                      (stock_point, since))
    sold: dict[str, Fraction] = {}
    for article, delta in rows:
        sold[article] = sold.get(article, Fraction(0)) - exact(delta)
    return sold


class StockArticleRow(msgspec.Struct, frozen=True):
    tracked: bool = True
    last_cost: Decimal | None = None
    average_cost: Decimal | None = None


def stock_articles(db: sqlite3.Connection, stock_point: str) -> dict[str, StockArticleRow]:
    """A stock point's per-article settings and costs (migration 2)."""
    rows = db.execute("SELECT article, tracked, last_cost, average_cost FROM stock_articles WHERE stock_point=?",
                      (stock_point,))
    return {article: StockArticleRow(bool(tracked), None if last is None else Decimal(last),
                                     None if average is None else Decimal(average))
            for article, tracked, last, average in rows}


def stock_export(db: sqlite3.Connection, stock_points: list[str]) -> list[tuple]:
    """The durable stock state, one row per stock point and article, for ``stock export``.

    Reservations live in the running server only, so this is real stock; ``value``
    is real × average cost (else last cost), rounded to the cent, 0 below zero.
    """
    from laneserver.rules.money import fmt_money, round_cents

    names: dict[str, tuple[str, str]] = {}
    out = []
    for point in stock_points:
        levels = stock_levels(db, point)
        settings = stock_articles(db, point)
        for article in sorted(set(levels) | set(settings)):
            if article not in names:
                row = db.execute("SELECT json_extract(data, '$.name'), json_extract(data, '$.stock_alert')"
                                 " FROM articles WHERE id=?", (article,)).fetchone()
                names[article] = (row[0] or article, row[1] or "") if row else (article, "")
            name, threshold = names[article]
            real = levels.get(article, Fraction(0))
            s = settings.get(article, StockArticleRow())
            cost = s.average_cost if s.average_cost is not None else s.last_cost
            value = round_cents(max(to_decimal(real), Decimal(0)) * cost) if cost is not None else Decimal("0.00")
            alert = s.tracked and threshold != "" and real <= exact(threshold)
            out.append((point, article, name, fmt_stock(real), "true" if s.tracked else "false",
                        "" if s.last_cost is None else str(s.last_cost),
                        "" if s.average_cost is None else str(s.average_cost), fmt_money(value), threshold,
                        "true" if alert else "false"))
    return out


def stock_history(db: sqlite3.Connection, *, article: str | None = None, stock_point: str | None = None,
                  reason: str | None = None, since: str | None = None, until: str | None = None,
                  limit: int = 100) -> list[tuple]:
    """Stock movements, newest first, filtered; ``since`` ≤ at < ``until`` (ISO 8601 text)."""
    where, args = [], []
    for column, op, value in (("article", "=", article), ("stock_point", "=", stock_point),
                              ("reason", "=", reason), ("at", ">=", since), ("at", "<", until)):
        if value is not None:
            where.append(f"{column} {op} ?")
            args.append(value)
    sql = ("SELECT seq, at, stock_point, article, delta, reason, source, ref, device, seller, unit_cost, supplier,"
           " comment FROM stock_movements" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY seq DESC LIMIT ?")
    # A part of a unit is stored exactly ("-1/6"); the wire shows its decimal ("-0.167").
    return [(*row[:4], fmt_stock(exact(row[4])) if "/" in row[4] else row[4], *row[5:])
            for row in db.execute(sql, (*args, limit)).fetchall()]


def device_by_token_hash(db: sqlite3.Connection, token_hash: str) -> Device | None:
    row = db.execute(
        "SELECT device, kind, lane, seller, revoked FROM devices WHERE token_hash=?", (token_hash,)
    ).fetchone()
    return Device(row[0], row[1], row[2], row[3], bool(row[4])) if row else None


def seller(db: sqlite3.Connection, name: str) -> Seller | None:
    row = db.execute("SELECT name, role, pin_hash, active FROM sellers WHERE name=?", (name,)).fetchone()
    return Seller(row[0], row[1], row[2], bool(row[3])) if row else None


def pin_records(db: sqlite3.Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], PinRecord]:
    """The wrong PINs counted on each (scope, name) of ``keys`` that has a record."""
    found = {}
    for scope, name in keys:
        row = db.execute("SELECT failures, lockouts, locked_until, last_failure FROM pin_failures"
                         " WHERE scope=? AND name=?", (scope, name)).fetchone()
        if row is not None:
            found[(scope, name)] = PinRecord(row[0], row[1], _datetime_or_none(row[2]), _datetime_or_none(row[3]))
    return found


def _datetime_or_none(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def resumed_seller(db: sqlite3.Connection, secret_hash: str, device: str, used_since: str) -> Seller | None:
    """The active seller a resume secret brings back on ``device``, if it was used at or
    after ``used_since`` (ISO UTC) — else None (unknown, another device's, idle too long)."""
    row = db.execute(
        "SELECT s.name, s.role, s.pin_hash, s.active FROM resume_secrets r JOIN sellers s ON s.name = r.seller"
        " WHERE r.secret_hash=? AND r.device=? AND r.last_used>=? AND s.active=1", (secret_hash, device, used_since),
    ).fetchone()
    return Seller(row[0], row[1], row[2], bool(row[3])) if row else None


def access_state(db: sqlite3.Connection) -> tuple[frozenset[str], frozenset[str]]:
    """(revoked devices, disabled sellers): what open sessions must lose at once."""
    revoked = frozenset(d for (d,) in db.execute("SELECT device FROM devices WHERE revoked=1"))
    disabled = frozenset(n for (n,) in db.execute("SELECT name FROM sellers WHERE active=0"))
    return revoked, disabled


class DeviceRow(msgspec.Struct, frozen=True):
    device: str
    kind: str
    lane: str | None
    paired_at: str
    last_seen: str | None
    revoked: bool


def devices(db: sqlite3.Connection) -> list[DeviceRow]:
    return [DeviceRow(d, k, lane, created, seen, bool(revoked)) for d, k, lane, created, seen, revoked in db.execute(
        "SELECT device, kind, lane, created_at, last_seen, revoked FROM devices ORDER BY created_at, device")]


APPROVING_ROLES = ("supervisor", "manager")


def approvers(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """(name, PIN hash) of the active sellers allowed to approve, by name."""
    return db.execute(
        "SELECT name, pin_hash FROM sellers WHERE active=1 AND role IN (?, ?) ORDER BY name", APPROVING_ROLES
    ).fetchall()


def sale_count(db: sqlite3.Connection) -> int:
    return db.execute("SELECT count(*) FROM sales").fetchone()[0]


# --- customers (migration 5; rules/customers.py) -----------------------------------------

def customers(db: sqlite3.Connection) -> list[Customer]:
    rows = db.execute("SELECT customer, name, card, business, contact, notes, wallet_enabled FROM customers"
                      " ORDER BY rowid")
    return [Customer(customer=c, name=name, card=card, business=bool(business), contact=contact, notes=notes,
                     wallet_enabled=bool(wallet))
            for c, name, card, business, contact, notes, wallet in rows]


def customer_names(db: sqlite3.Connection, customers: list[str]) -> dict[str, str]:
    """The names of these customers (ids not in the directory are left out)."""
    wanted = sorted({c for c in customers if c})
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    return dict(db.execute(f"SELECT customer, name FROM customers WHERE customer IN ({marks})", wanted))


def customer_balances(db: sqlite3.Connection, customers: list[str] | None = None) -> dict[tuple[str, str], Decimal]:
    """Every account's balance (or only ``customers``'): the sum of its movements, exact."""
    if customers is None:
        rows = db.execute("SELECT customer, account, delta FROM customer_movements")
    else:
        marks = ",".join("?" * len(customers))
        rows = db.execute(f"SELECT customer, account, delta FROM customer_movements WHERE customer IN ({marks})",
                          customers)
    return balances_of((c, account, Decimal(delta)) for c, account, delta in rows)


_VOUCHER_SELECT = (
    "SELECT v.code, v.amount, v.issued_at, v.valid_until, v.customer, v.origin, u.at, u.amount, u.remainder"
    " FROM vouchers v LEFT JOIN voucher_uses u ON u.code = v.code"
)


def _voucher(row: tuple) -> Voucher:
    code, amount, issued_at, valid_until, customer, origin, used_at, used_amount, remainder = row
    return Voucher(code=code, amount=Decimal(amount), issued_at=issued_at,
                   valid_until=dt.date.fromisoformat(valid_until), customer=customer, origin=origin,
                   used_at=used_at, used_amount=None if used_amount is None else Decimal(used_amount),
                   remainder=remainder)


def voucher(db: sqlite3.Connection, code: str) -> Voucher | None:
    row = db.execute(_VOUCHER_SELECT + " WHERE v.code = ?", (code,)).fetchone()
    return None if row is None else _voucher(row)


def customer_vouchers(db: sqlite3.Connection, customer: str) -> list[Voucher]:
    """A customer's vouchers not used yet, oldest first."""
    rows = db.execute(_VOUCHER_SELECT + " WHERE v.customer = ? AND u.code IS NULL ORDER BY v.issued_at, v.code",
                      (customer,))
    return [_voucher(row) for row in rows]


class AccountMovement(msgspec.Struct, frozen=True):
    seq: int
    at: str
    customer: str
    account: str
    delta: Decimal
    kind: str
    ref: str | None
    mode: str | None


def topup_cancelled(db: sqlite3.Connection, ref: str) -> bool:
    return db.execute("SELECT 1 FROM customer_movements WHERE kind = 'topup_cancel' AND ref = ?",
                      (ref,)).fetchone() is not None


def customer_history(db: sqlite3.Connection, customer: str, limit: int = 20) -> list[tuple[int, str, str]]:
    """The customer's last sales, newest first: (number, at, total)."""
    return list(db.execute("SELECT number, at, total FROM sales WHERE customer = ? ORDER BY number DESC LIMIT ?",
                           (customer, limit)))


def customer_movements(db: sqlite3.Connection, customer: str, limit: int = 50) -> list[AccountMovement]:
    rows = db.execute("SELECT seq, at, customer, account, delta, kind, ref, mode FROM customer_movements"
                      " WHERE customer = ? ORDER BY seq DESC LIMIT ?", (customer, limit))
    return [AccountMovement(*row[:4], Decimal(row[4]), *row[5:]) for row in rows]


# --- coupons (migration 8; rules/coupons.py) -----------------------------------------------

def customer_coupons(db: sqlite3.Connection, customer: str, article: str | None = None,
                     zone: dt.tzinfo = dt.timezone.utc) -> list[Batch]:
    """The customer's coupon batches (of ``article`` only, if given) with what was used of
    them and when first, oldest first; used-up batches included."""
    sql = ("SELECT c.seq, c.customer, c.article, c.delta, c.valid_days, c.at,"
           " -coalesce(sum(u.delta), 0), min(u.at)"
           " FROM coupon_movements c LEFT JOIN coupon_movements u ON u.batch = c.seq"
           " WHERE c.batch IS NULL AND c.customer = ?")
    args: list[str] = [customer]
    if article is not None:
        sql += " AND c.article = ?"
        args.append(article)
    rows = db.execute(sql + " GROUP BY c.seq ORDER BY c.seq", args)
    return [Batch(batch=seq, customer=c, article=a, coupons=delta, used=used, valid_days=days,
                  first_use=None if first is None else shop_day(dt.datetime.fromisoformat(first), zone),
                  credited_at=at)
            for seq, c, a, delta, days, at, used, first in rows]


def sale_coupons(db: sqlite3.Connection, number: int) -> list[SaleCoupons]:
    """The coupon movements sale ``number`` wrote (uses with their batch's validity, and
    its subscriptions' credits), in order."""
    rows = db.execute("SELECT m.seq, m.customer, m.article, m.delta, m.batch, coalesce(b.valid_days, m.valid_days)"
                      " FROM coupon_movements m LEFT JOIN coupon_movements b ON b.seq = m.batch"
                      " WHERE m.ref = ? ORDER BY m.seq", (f"sale:{number}",))
    return [SaleCoupons(seq=seq, customer=c, article=a, delta=delta, batch=batch, valid_days=days)
            for seq, c, a, delta, batch, days in rows]


# --- the cash drawers (migration 6) ----------------------------------------------------

_count_rows = msgspec.json.Decoder(CountRows)


class _Paid(msgspec.Struct, frozen=True):
    mode: str
    amount: Decimal


def drawer_period(db: sqlite3.Connection, lane: str) -> Period:
    """A lane's drawer since its last closing count: the movements after it and the cash
    its sales received after the last sale the count included."""
    row = db.execute("SELECT at, last_movement, last_sale, last_money_in, coalesce(last_payment, (SELECT"
                     " coalesce(max(p.number), 0) FROM payments p WHERE p.at <= drawer_counts.at))"
                     " FROM drawer_counts WHERE lane=? ORDER BY seq DESC LIMIT 1", (lane,)).fetchone()
    since, last_movement, last_sale, last_money_in, last_payment = (
        (dt.datetime.fromisoformat(row[0]), row[1], row[2], row[3], row[4]) if row else (None, 0, 0, 0, 0))
    movements = tuple(
        Movement(kind=kind, amount=Decimal(amount), reason=reason, at=dt.datetime.fromisoformat(at), seller=seller,
                 detail=detail, destination=destination, count=_count_rows.decode(count), approved_by=approved_by)
        for kind, amount, reason, at, seller, detail, destination, count, approved_by in db.execute(
            "SELECT kind, amount, reason, at, seller, detail, destination, count, approved_by"
            " FROM drawer_movements WHERE lane=? AND seq>? ORDER BY seq", (lane, last_movement))
    )
    cash, sales = Decimal("0.00"), 0
    for number, change, paid in cash_sales(db, lane, after=last_sale):
        cash += sale_cash(paid, change)
        sales += 1
        last_sale = number
    for number, amount in cash_rows(db, lane, after=last_payment):
        cash += amount
        last_payment = number
    cash_in = Decimal("0.00")
    for seq, amount in cash_money_in(db, lane, after=last_money_in):
        cash_in += amount
        last_money_in = seq
    return Period(lane=lane, since=since, movements=movements, cash_sales=cash, sales=sales, last_sale=last_sale,
                  cash_in=cash_in, last_money_in=last_money_in, last_payment=last_payment)


def cash_rows(db: sqlite3.Connection, lane: str, *, after: int = 0) -> list[tuple[int, Decimal]]:
    """The cash the payment rows written on finished sales moved in ``lane``'s drawer
    (their ``lane``: a debt paid later, a correction, a cancel's counter-entry), rows
    numbered above ``after``: (the last row of a sale's unit, its cash), by row. A
    counter-entry gives back its original's change too (its own, negative, ``change``):
    it moves cash even with no cash row (change given on a shop mode with ``change = true``)."""
    rows = db.execute(
        "SELECT p.number, p.sale, p.mode, p.amount, s.cancels, s.change FROM payments p"
        " JOIN sales s ON s.number = p.sale WHERE p.lane=? AND p.number>? ORDER BY p.number", (lane, after))
    found: list[list] = []  # [last row, sale, cash, moved cash?]
    for number, sale, mode, amount, cancels, change in rows:
        if not found or found[-1][1] != sale:
            back = -Decimal(change) if cancels is not None else Decimal("0.00")
            found.append([number, sale, back, back != 0])
        unit = found[-1]
        unit[0] = number
        if mode == "cash":
            unit[2] += Decimal(amount)
            unit[3] = True
    return [(number, cash) for number, _, cash, moved in found if moved]


def cash_money_in(db: sqlite3.Connection, lane: str, *, after: int = 0) -> list[tuple[int, Decimal]]:
    """Cash the lane took outside sales (``money_in``, migration 5: top-ups, deposits,
    vouchers sold; negative when given back) numbered above ``after``: (seq, amount)."""
    rows = db.execute("SELECT seq, amount FROM money_in WHERE lane=? AND mode='cash' AND seq>? ORDER BY seq",
                      (lane, after))
    return [(seq, Decimal(amount)) for seq, amount in rows]


def cash_sales(db: sqlite3.Connection, lane: str, *, after: int = 0) -> list[tuple[int, Decimal, list[_Paid]]]:
    """The sales of ``lane`` numbered above ``after`` that took cash at finish or gave
    change (in cash, also on a shop mode with ``change = true``): (number, change, their
    cash payments), by number. Rows written later (``lane`` set) and counter-entries
    are ``cash_rows``'."""
    rows = db.execute(
        "SELECT s.number, s.change, p.amount FROM sales s LEFT JOIN payments p ON p.sale = s.number"
        " AND p.mode='cash' AND p.lane IS NULL WHERE s.lane=? AND s.number>? AND s.cancels IS NULL"
        " AND (p.number IS NOT NULL OR CAST(s.change AS REAL) != 0) ORDER BY s.number, p.number",
        (lane, after))
    found: dict[int, tuple[int, Decimal, list[_Paid]]] = {}
    for number, change, amount in rows:
        paid = found.setdefault(number, (number, Decimal(change), []))[2]
        if amount is not None:
            paid.append(_Paid("cash", Decimal(amount)))
    return list(found.values())


def drawer_counts(db: sqlite3.Connection, lane: str) -> list[tuple]:
    """A lane's closing counts, oldest first: (at, expected, counted, difference, seller)."""
    return db.execute("SELECT at, expected, counted, difference, seller FROM drawer_counts WHERE lane=? ORDER BY seq",
                      (lane,)).fetchall()


def next_customer_number(db: sqlite3.Connection) -> int:
    """Customers are ``C<n>``: the next n."""
    row = db.execute("SELECT max(CAST(substr(customer, 2) AS INTEGER)) FROM customers"
                     " WHERE customer LIKE 'C%'").fetchone()
    return (row[0] or 0) + 1


def next_topup_number(db: sqlite3.Connection) -> int:
    """Wallet top-ups are numbered (their ``ref`` is ``topup:<n>``): the next n."""
    # A top-up on a ticket is referenced by its sale (``sale:<n>``): not numbered here.
    row = db.execute("SELECT max(CAST(substr(ref, 7) AS INTEGER)) FROM customer_movements"
                     " WHERE kind = 'topup' AND ref LIKE 'topup:%'").fetchone()
    return (row[0] or 0) + 1


def sale_topups(db: sqlite3.Connection, number: int) -> list[tuple[str, str, Decimal]]:
    """The top-ups (and top-up cancels) a sale's top-up lines wrote: (customer, account, delta)."""
    rows = db.execute("SELECT customer, account, delta FROM customer_movements WHERE ref = ?"
                      " AND kind IN ('topup', 'topup_cancel') ORDER BY seq", (f"sale:{number}",))
    return [(customer, account, Decimal(delta)) for customer, account, delta in rows]


def topup(db: sqlite3.Connection, ref: str) -> AccountMovement | None:
    row = db.execute("SELECT seq, at, customer, account, delta, kind, ref, mode FROM customer_movements"
                     " WHERE kind = 'topup' AND ref = ?", (ref,)).fetchone()
    return None if row is None else AccountMovement(*row[:4], Decimal(row[4]), *row[5:])


# --- till money after the sale (migration 7; rules/corrections.py) ----------------------

_sale_lines = msgspec.json.Decoder(tuple[Line, ...])


def sale_money(db: sqlite3.Connection, number: int, *, topups: bool = False) -> corrections.SaleMoney | None:
    """A sale with its payment rows (by number) and whether it was cancelled; with
    ``topups``, what its wallet top-up lines credited and whether that was given back."""
    row = db.execute("SELECT number, at, lane, seller, customer, total, paid, change, cancels, lines FROM sales"
                     " WHERE number=?", (number,)).fetchone()
    if row is None:
        return None
    n, at, lane, seller_, customer, total, paid, change, cancels, lines = row
    rows = tuple(
        corrections.Row(number=pn, type=type_, mode=mode, amount=Decimal(amount), reference=reference,
                        refers=refers, at=pat)
        for pn, type_, mode, amount, reference, refers, pat in db.execute(
            "SELECT number, type, mode, amount, reference, refers, at FROM payments WHERE sale=? ORDER BY number",
            (number,))
    )
    by = db.execute("SELECT number FROM sales WHERE cancels=?", (number,)).fetchone()
    topup = sum((d for _, _, d in sale_topups(db, number) if d > 0), Decimal(0)) if topups else Decimal(0)
    return corrections.SaleMoney(number=n, at=at, lane=lane, seller=seller_, customer=customer,
                                 total=Decimal(total), paid=Decimal(paid), change=Decimal(change), rows=rows,
                                 cancels=cancels, cancelled_by=by[0] if by else None, topup=topup,
                                 topup_cancelled=bool(topup) and topup_cancelled(db, f"sale-topup:{number}"),
                                 lines=_sale_lines.decode(lines) if lines else ())


def superseding(db: sqlite3.Connection, payments: list[int]) -> dict[int, tuple[int, str]]:
    """For payment rows of a sale, the later row (of any sale: a counter-entry's ANL) that
    supersedes each: number → (row, type)."""
    if not payments:
        return {}
    marks = ",".join("?" * len(payments))
    rows = db.execute(f"SELECT refers, number, type FROM payments WHERE type IN ('ANL', 'MAJ') AND refers IN ({marks})"
                      " ORDER BY number", payments)
    found: dict[int, tuple[int, str]] = {}
    for refers, number, type_ in rows:
        found.setdefault(refers, (number, type_))
    return found


def sale_lines(db: sqlite3.Connection, number: int) -> tuple[str, str] | None:
    """A sale's stored lines and VAT rows (JSON text)."""
    row = db.execute("SELECT lines, vat FROM sales WHERE number=?", (number,)).fetchone()
    return None if row is None else (row[0], row[1])


def sale_takes(db: sqlite3.Connection, number: int) -> list[tuple[str, str, Fraction]]:
    """The stock a sale took: (stock point, article, quantity taken), exact."""
    rows = db.execute("SELECT stock_point, article, delta FROM stock_movements WHERE ref=? AND reason='sale'"
                      " ORDER BY seq", (f"sale:{number}",))
    return [(point, article, -exact(delta)) for point, article, delta in rows]


def unpaid_sales(db: sqlite3.Connection, customer: str | None = None) -> list[corrections.SaleMoney]:
    """The sales finished unpaid that still owe something, oldest first."""
    if customer is None:
        numbers = [n for (n,) in db.execute("SELECT sale FROM debts ORDER BY sale")]
    else:
        numbers = [n for (n,) in db.execute("SELECT sale FROM debts WHERE customer=? ORDER BY sale", (customer,))]
    found = []
    for number in numbers:
        sale = sale_money(db, number)
        if sale is not None and sale.due > 0:
            found.append(sale)
    return found


# --- invoices (migration 10; rules/invoice.py) ------------------------------------------

_invoice = msgspec.json.Decoder(Invoice)


def invoice(db: sqlite3.Connection, *, number: int | None = None, sale: int | None = None) -> Invoice | None:
    """An invoice as it was written, by its number or by its sale's."""
    if number is not None:
        row = db.execute("SELECT data FROM invoices WHERE number=?", (number,)).fetchone()
    else:
        row = db.execute("SELECT data FROM invoices WHERE sale=?", (sale,)).fetchone()
    return None if row is None else _invoice.decode(row[0])


def print_jobs(db: sqlite3.Connection, printer: str) -> list[tuple[int, str, bytes, int]]:
    """A printer's durable queue (store/schema.py ``print_jobs``), oldest first:
    ``(id, name, data, crashes)`` of each job not yet taken by the printer."""
    return [(ident, name, bytes(data), crashes) for ident, name, data, crashes in db.execute(
        "SELECT id, name, data, crashes FROM print_jobs WHERE printer=? ORDER BY id", (printer,))]


def parked_taken(db: sqlite3.Connection, lane: str, held: str) -> bool:
    """Whether a parked basket lane ``lane`` gave away (held as ``held``, ``ParkedGiven``)
    was taken by the lane it was given to (``ParkedTaken``, journaled in the take's own
    unit) since its last give. Read from the newest events back: a give left in transit
    by a crash is among the last events, and so is its take."""
    given = db.execute("SELECT seq FROM events WHERE kind = 'ParkedGiven' AND source = ?"
                       " AND data ->> '$.held.held' = ? ORDER BY seq DESC LIMIT 1", (f"lane:{lane}", held)).fetchone()
    since = 0 if given is None else given[0]
    return db.execute("SELECT 1 FROM events WHERE seq > ? AND kind = 'ParkedTaken'"
                      " AND data ->> '$.source_lane' = ? AND data ->> '$.held' = ? LIMIT 1",
                      (since, lane, held)).fetchone() is not None
