"""The shop's record of head office's wallet and credit holds (migration 22; docs/head_office.md,
"Wallet and credit balances, chain-wide"; the actor is actors/hq_holds.py).

A row per ``credit``/``wallet`` payment line the shop took with head office configured:

* ``open``: head office holds ``amount`` for it (``hold``, head office's number); the
  line is on a ticket. The sale's unit turns it to ``settle`` with the sale's ``ref``
  and ``record``, the number of the spend's own record in the shop's ``account`` chain
  (``settle_spend``, called by the writer with the spend's ``MoveAccount``); a line
  removed, a ticket cancelled turn it to ``release`` (``gone``). ``settle`` and
  ``release`` are what is still to tell head office, on the shop's disk until it has
  been told (``to_tell``, then ``told``: ``settled`` / ``released``). A row leaves
  ``open`` once, by one of the two: never both.
* ``offline``: taken while head office did not answer (``hold`` NULL), within the
  customer's allowance; ``spent`` once the sale is written, ``dropped`` when the line
  goes. ``counted`` in the allowance until head office both *holds* the spend's
  ``account`` record (its answer says how far it holds the shop's ``account`` chain:
  ``up_to``) and has answered since (``reachable``): never granted again in between.

``hq_seen``: the chain-wide balance head office last said each account had available,
when, and ``up_to``: the shop's ``account`` chain head office held then, so the shop
knows exactly which of its own movements that figure counts (its offline spends and its
top-ups after ``up_to`` are not in it).

Every function runs on the journal's connection (actors/journal.py ``read``), inside its
batch's transaction: what it wrote is durable when the caller is answered. Those that
write more than one statement do so in a savepoint (all or nothing).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from laneserver.rules import wallet_holds as rules
from laneserver.rules.money import ZERO

T = TypeVar("T")
LIVE = ("open", "offline")  # on a ticket line
TOPUP_KINDS = ("topup", "deposit", "topup_cancel")  # money put on the account here (or given back)


class ToTell(msgspec.Struct, frozen=True):
    id: int
    hold: int
    state: str  # settle | release
    ref: str | None
    record: int | None = None  # settle: the number of the account record taking the hold's amount off


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat()


def _unit(db: sqlite3.Connection, fn: Callable[[], T]) -> T:
    db.execute("SAVEPOINT hq_holds")
    try:
        result = fn()
    except BaseException:
        db.execute("ROLLBACK TO hq_holds")
        db.execute("RELEASE hq_holds")
        raise
    db.execute("RELEASE hq_holds")
    return result


def _see(db: sqlite3.Connection, customer: str, account: str, available: Decimal, at: dt.datetime,
         up_to: int | None) -> None:
    db.execute("INSERT INTO hq_seen(customer, account, available, at, up_to) VALUES (?,?,?,?,?)"
               " ON CONFLICT(customer, account) DO UPDATE SET available=excluded.available, at=excluded.at,"
               " up_to=excluded.up_to",
               (customer, account, str(available), _iso(at), up_to))


def see(db: sqlite3.Connection, customer: str, account: str, available: Decimal, at: dt.datetime,
        up_to: int | None = None) -> None:
    """Head office said the account has ``available`` (a refusal's answer), holding the
    shop's ``account`` chain up to ``up_to``."""
    _see(db, customer, account, available, at, up_to)


def held(db: sqlite3.Connection, lane: str, payment: int, customer: str, account: str, amount: Decimal, hold: int,
         available: Decimal, at: dt.datetime, up_to: int | None = None) -> int:
    """Head office held ``amount`` (its ``hold``), leaving ``available``: the row (``open``)."""
    def write() -> int:
        _see(db, customer, account, available, at, up_to)
        return db.execute("INSERT INTO hq_holds(lane, payment, customer, account, amount, hold, state, asked_at)"
                          " VALUES (?,?,?,?,?,?,'open',?)",
                          (lane, payment, customer, account, str(amount), hold, _iso(at))).lastrowid
    return _unit(db, write)


def _movements_after(db: sqlite3.Connection, customer: str, account: str, up_to: int) -> list[tuple[str, Decimal, str]]:
    """(kind, delta, ref) of the shop's movements of the account after ``up_to`` in its
    ``account`` chain: those head office did not hold when it said ``up_to``."""
    return [(kind, Decimal(delta), ref) for kind, delta, ref in db.execute(
        "SELECT json_extract(record, '$.kind'), json_extract(record, '$.delta'), json_extract(record, '$.ref')"
        " FROM fiscal_records WHERE chain='account' AND number > ? AND json_extract(record, '$.type')='account'"
        " AND json_extract(record, '$.customer')=? AND json_extract(record, '$.account')=?",
        (up_to, customer, account))]


def offline_state(db: sqlite3.Connection, customer: str, account: str, limit: Decimal) -> rules.Offline:
    used = db.execute("SELECT amount FROM hq_holds WHERE customer=? AND counted=1 AND state IN ('offline', 'spent')",
                      (customer,)).fetchall()
    row = db.execute("SELECT available, at, up_to FROM hq_seen WHERE customer=? AND account=?",
                     (customer, account)).fetchone()
    seen = None if row is None else rules.Seen(Decimal(row[0]), dt.datetime.fromisoformat(row[1]))
    topped_up = ZERO
    if seen is None:
        since = []
    elif row[2] is None:  # seen before head office said how far it held the shop's chain: by time
        since = db.execute(
            "SELECT amount FROM hq_holds WHERE customer=? AND account=? AND hold IS NULL"
            " AND state IN ('offline', 'spent') AND asked_at >= ?", (customer, account, _iso(seen.at))).fetchall()
    else:
        after = _movements_after(db, customer, account, row[2])
        topped_up = sum((delta for kind, delta, _ in after if kind in TOPUP_KINDS), ZERO)
        unheld = {ref for kind, _, ref in after if kind == "spend"}
        since = [(amount,) for amount, state, ref, counted in db.execute(
            "SELECT amount, state, ref, counted FROM hq_holds WHERE customer=? AND account=? AND hold IS NULL"
            " AND state IN ('offline', 'spent')", (customer, account))
            # on a ticket line (not written), or written but not held by head office when it answered
            if state == "offline" or ref in unheld or (ref is None and counted)]
    return rules.Offline(limit=limit, used=sum((Decimal(a) for a, in used), ZERO), seen=seen,
                         spent_since_seen=sum((Decimal(a) for a, in since), ZERO), topped_up=topped_up)


def take_offline(db: sqlite3.Connection, lane: str, payment: int, customer: str, account: str, amount: Decimal,
                 limit: Decimal, at: dt.datetime) -> int | rules.Refused:
    """Head office did not answer: the row (``offline``, counted) when the allowance and
    the balance last seen cover ``amount``, else the refusal. Decided and written in one
    step on the journal's thread, so two lanes at once cannot both take the last of it."""
    state = offline_state(db, customer, account, limit)
    refusal = rules.offline_refusal(state, account, amount, at)
    if refusal is not None:
        return refusal
    return db.execute("INSERT INTO hq_holds(lane, payment, customer, account, amount, state, asked_at, counted)"
                      " VALUES (?,?,?,?,?,'offline',?,1)",
                      (lane, payment, customer, account, str(amount), _iso(at))).lastrowid


def reachable(db: sqlite3.Connection, up_to: int) -> int:
    """Head office answered, holding the shop's ``account`` chain up to ``up_to``: the
    offline spends it holds no longer count in the allowances. One not written yet (on
    a ticket line) or written after ``up_to`` still counts, so money spent offline is
    never granted again before head office counts it. Returns how many still count."""
    rows = db.execute("SELECT id, customer, account, ref FROM hq_holds WHERE counted=1 AND state='spent'").fetchall()
    if rows:
        unheld = set(db.execute(
            "SELECT json_extract(record, '$.customer'), json_extract(record, '$.account'),"
            " json_extract(record, '$.ref') FROM fiscal_records WHERE chain='account' AND number > ? AND json_extract(record, '$.type')='account'"
            " AND json_extract(record, '$.kind')='spend'", (up_to,)).fetchall())
        anything_after = db.execute("SELECT 1 FROM fiscal_records WHERE chain='account' AND number > ? LIMIT 1",
                                    (up_to,)).fetchone() is not None
        # A spend with no ref cannot be told from the others: held once nothing is after ``up_to``.
        done = [i for i, customer, account, ref in rows
                if (ref is not None and (customer, account, ref) not in unheld) or not anything_after]
        if done:
            marks = ",".join("?" * len(done))
            db.execute(f"UPDATE hq_holds SET counted=0 WHERE id IN ({marks})", done)
    return db.execute("SELECT count(*) FROM hq_holds WHERE counted=1").fetchone()[0]


class Noted(msgspec.Struct, frozen=True):
    """What the till's chain-wide figure adds to head office's (``noted``)."""

    unshipped: dict[str, Decimal]  # per account: this shop's movements head office does not hold yet
    held_here: dict[str, Decimal]  # per account: what this shop's open ticket lines hold (rows open / offline)
    counted: int  # offline spends still counted in the allowances (``reachable``)


def noted(db: sqlite3.Connection, customer: str, available: dict[str, Decimal], up_to: int,
          at: dt.datetime) -> Noted:
    """Head office told a till the customer's chain-wide figures (store/hq.py
    ``balances``): noted as seen (``available`` per account, as ``ask_hold`` counts
    it), the allowances reset as far as head office holds the offline spends, and what
    the shop adds to head office's figures for its till. One step."""
    def write() -> Noted:
        for account, amount in available.items():
            _see(db, customer, account, amount, at, up_to)
        counted = reachable(db, up_to)
        unshipped = {account: sum((delta for _, delta, _ in _movements_after(db, customer, account, up_to)), ZERO)
                     for account in available}
        held_here = {account: ZERO for account in available}
        for account, amount in db.execute("SELECT account, amount FROM hq_holds WHERE customer=?"
                                          " AND state IN ('open', 'offline')", (customer,)):
            if account in held_here:
                held_here[account] += Decimal(amount)
        return Noted(unshipped, held_here, counted)
    return _unit(db, write)


def cached(db: sqlite3.Connection, customer: str) -> dict[str, tuple[rules.Figure, dt.datetime]]:
    """Head office does not answer: per account seen, the figure the till shows (the
    balance last seen less the offline spends and plus the top-ups head office did not
    hold then) and when it was seen. An account never seen is left out."""
    out = {}
    for account in ("credit", "wallet"):
        state = offline_state(db, customer, account, ZERO)
        figure = rules.cached_figure(state)
        if figure is not None and state.seen is not None:
            out[account] = (figure, state.seen.at)
    return out


def _end(db: sqlite3.Connection, ids: list[int]) -> int:
    if not ids:
        return 0
    marks = ",".join("?" * len(ids))
    released = db.execute(f"UPDATE hq_holds SET state='release' WHERE state='open' AND id IN ({marks})", ids).rowcount
    db.execute(f"UPDATE hq_holds SET state='dropped', counted=0 WHERE state='offline' AND id IN ({marks})", ids)
    return released


def gone(db: sqlite3.Connection, lane: str, payments: Iterable[int]) -> int:
    """The lane's payment lines ``payments`` are gone (removed, the ticket cancelled, or
    written with the sale — then the sale's unit settled them already): their open rows
    are to release. Returns how many."""
    numbers = list(payments)
    marks = ",".join("?" * len(numbers))
    ids = [i for i, in db.execute(f"SELECT id FROM hq_holds WHERE lane=? AND state IN ('open', 'offline')"
                                  f" AND payment IN ({marks})", (lane, *numbers))]
    return _unit(db, lambda: _end(db, ids))


def report(db: sqlite3.Connection, lane: str, lines: Iterable[tuple[int, str, str, Decimal]]) -> int:
    """At a lane's start: its rows no ticket line matches any more are released (the shop
    stopped after head office's hold and before the line was written). Returns how many."""
    rows = [rules.Row(i, p, c, a, Decimal(m)) for i, p, c, a, m in db.execute(
        "SELECT id, payment, customer, account, amount FROM hq_holds WHERE lane=? AND state IN ('open', 'offline')",
        (lane,))]
    stale = rules.stale_rows(rows, lines)
    return _unit(db, lambda: _end(db, stale))


def settle_spend(db: sqlite3.Connection, lane: str | None, payment: int, customer: str, account: str,
                 ref: str | None, record: int | None = None) -> bool:
    """In the sale's unit (store/writes.py, the spend's ``MoveAccount``): the line's row is
    settled with the sale's ``ref`` and ``record``, the number of the spend's own record
    in the shop's ``account`` chain (``settle`` to tell head office, which stops counting
    the hold when that record is there; ``spent`` for an offline one). True: head office
    held it, or the allowance took it."""
    done = db.execute("UPDATE hq_holds SET state=CASE state WHEN 'open' THEN 'settle' ELSE 'spent' END, ref=?,"
                      " record=? WHERE lane IS ? AND payment=? AND customer=? AND account=?"
                      " AND state IN ('open', 'offline')",
                      (ref, record, lane, payment, customer, account)).rowcount
    return done > 0


def movement_settled(db: sqlite3.Connection, lane: str, customer: str, account: str, amount: Decimal, hold: int,
                     ref: str, at: dt.datetime, record: int | None = None) -> int:
    """Money taken off the account outside a payment line (a top-up given back, a
    correction below; a sale's top-up line, in the sale's own unit: store/writes.py,
    ``MoveAccount.hold``), held by head office (``hold``), is written: a row ``settle`` with
    ``ref`` (``kind|ref`` of its account record) and ``record`` (that record's number in the
    shop's ``account`` chain), payment 0 (no ticket line: never ``open``, so the lanes'
    ``gone`` and ``report`` never see it)."""
    return db.execute("INSERT INTO hq_holds(lane, payment, customer, account, amount, hold, state, ref, asked_at,"
                      " record) VALUES (?,0,?,?,?,?,'settle',?,?,?)",
                      (lane, customer, account, str(amount), hold, ref, _iso(at), record)).lastrowid


def to_tell(db: sqlite3.Connection, limit: int = 50) -> list[ToTell]:
    """What head office is still to be told, oldest first."""
    return [ToTell(*row) for row in db.execute(
        "SELECT id, hold, state, ref, record FROM hq_holds WHERE state IN ('settle', 'release') ORDER BY id LIMIT ?",
        (limit,))]


def told(db: sqlite3.Connection, row: int, state: str, at: dt.datetime) -> None:
    """Head office was told (``state`` settle or release): done with the row."""
    db.execute("UPDATE hq_holds SET state=?, told_at=? WHERE id=? AND state=?",
               ("settled" if state == "settle" else "released", _iso(at), row, state))


def unsettled(db: sqlite3.Connection) -> list[int]:
    """Head office's holds it still sees unsettled: the rows on ticket lines (``open``)
    and those settled here not told yet (``settle``). Renewed while the shop is up
    (store/hq.py ``renew_holds``), so none lapses under a line still to be paid."""
    return [hold for hold, in db.execute("SELECT hold FROM hq_holds WHERE state IN ('open', 'settle')"
                                         " AND hold IS NOT NULL ORDER BY id")]


def live(db: sqlite3.Connection, lane: str | None = None) -> set[tuple[str, int]]:
    """(lane, payment) of the rows on ticket lines (of ``lane`` only, when given)."""
    rows = db.execute("SELECT lane, payment FROM hq_holds WHERE state IN ('open', 'offline')"
                      " AND (? IS NULL OR lane = ?)", (lane, lane))
    return {(row_lane, payment) for row_lane, payment in rows}


def summary(db: sqlite3.Connection) -> dict[str, Any]:
    """For ``laneserver status``: rows by state, and the offline spends counted now."""
    try:
        states = dict(db.execute("SELECT state, count(*) FROM hq_holds GROUP BY state").fetchall())
        counted = db.execute("SELECT count(*) FROM hq_holds WHERE counted=1").fetchone()
    except sqlite3.OperationalError:  # a database this release has not migrated yet
        return {}
    return {"holds": {"open": states.get("open", 0) + states.get("offline", 0),
                      "held": sum(states.get(s, 0) for s in ("open", "settle", "release", "settled", "released")),
                      "offline": sum(states.get(s, 0) for s in ("offline", "spent", "dropped")),
                      "to_tell": states.get("settle", 0) + states.get("release", 0),
                      "offline_counted": counted[0]}}
