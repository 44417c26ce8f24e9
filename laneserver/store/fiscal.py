"""The fiscal chains and their anchor, in one place: what is hashed, how a record is
numbered and chained when it is written, how the chains are read back and walked, and
the anchor file that holds their heads outside the database.

Three chains, each numbered from 1 with no gap (rules/fiscal.py hashes and walks them):
``sale`` (``sales``: sales and the counter-entries that cancel them), ``payment``
(``payments``: every payment row, at finish and after) and ``money`` (``money_in``:
money taken outside sales). A record's canonical content (``sale_record``,
``payment_record``, ``money_record``) is what its hash covers and what ``verify``
rebuilds from the row.

The writers (``insert_sale``, ``chain_payment``, ``chain_money``) run in the journal's
worker thread, inside its unit of work: they move the ``Heads`` only once the record is
written, and the writer (store/writes.py) puts the heads back when a unit is rolled
back, so a failed unit never leaves a gap in the numbering.

``write_anchor`` keeps the heads outside the database too, in ``fiscal-anchor.json``
next to it (see rules/fiscal.py for why); ``verify`` and the journal's start check the
database against it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from laneserver.files import write_atomically
from laneserver.rules.fiscal import (
    GENESIS,
    Anchor,
    canonical,
    AnchorHead,
    AnchorProblem,
    AnchorUnreadable,
    Broken,
    ChainEnd,
    ChainRow,
    chain_hash,
    check_head,
    decode_anchor,
    encode_anchor,
    walk,
)
from laneserver.rules.lane import SaleCompleted

# Decimals as strings, as everywhere in the store: the canonical form of a record.
_json = msgspec.json.Encoder(decimal_format="string")


def encode(value: Any) -> str:
    """A value as the store writes it: JSON text, decimals as strings (store/writes.py
    writes every row's data with this too)."""
    return _json.encode(value).decode()


# --- what is hashed ------------------------------------------------------------------

def sale_record(number: int, sale: SaleCompleted, *, cancels: int | None = None, reason: str | None = None,
                approved_by: str | None = None) -> dict[str, Any]:
    """The canonical content of a sale, as hashed (and as ``verify`` rebuilds it).

    The keys added since the first release (``due``: left unpaid; ``cancels``,
    ``reason``, ``approved_by``: a counter-entry) are present only when set, so the
    records written before them keep their hashes."""
    record = {
        "number": number,
        "at": sale.at.isoformat(),
        "lane": sale.lane,
        "seller": sale.seller,
        "customer": sale.customer,
        "total": str(sale.total),
        "paid": str(sale.paid),
        "change": str(sale.change),
        "lines": builtins(sale.lines),
        "vat": builtins(sale.vat),
    }
    return _with_set(record, due=str(sale.due) if sale.due else None, cancels=cancels, reason=reason,
                     approved_by=approved_by)


def _with_set(record: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """``record`` with the optional keys that are set (not None)."""
    record.update((k, v) for k, v in optional.items() if v is not None)
    return record


def builtins(value: Any) -> Any:
    """A value as plain JSON types, as the store writes it (decimals as strings)."""
    return msgspec.json.decode(_json.encode(value))


def payment_record(number: int, sale: int, at: str, mode: str, amount: Decimal, reference: str | None, *,
                   type: str = "PAI", refers: int | None = None, lane: str | None = None, seller: str | None = None,
                   approved_by: str | None = None, reason: str | None = None) -> dict[str, Any]:
    """The canonical content of a payment row. A row written at finish is a ``PAI`` with
    none of the keyword fields, and its record is the first release's (its hash holds);
    a later row (rules/corrections.py) carries its type and what is set of the rest."""
    record = {"number": number, "sale": sale, "at": at, "mode": mode, "amount": str(amount), "reference": reference}
    return _with_set(record, type=None if type == "PAI" else type, refers=refers, lane=lane, seller=seller,
                     approved_by=approved_by, reason=reason)


def money_record(number: int, at: str, kind: str, mode: str, amount: Decimal, customer: str | None, ref: str | None,
                 lane: str | None, device: str | None, seller: str | None) -> dict[str, Any]:
    """The canonical content of a ``money_in`` row (the money chain)."""
    return {"number": number, "at": at, "kind": kind, "mode": mode, "amount": str(amount), "customer": customer,
            "ref": ref, "lane": lane, "device": device, "seller": seller}


# --- the heads, and writing a record into its chain ----------------------------------

class Heads(msgspec.Struct):
    sale_number: int = 0
    sale_hash: str = GENESIS
    payment_number: int = 0
    payment_hash: str = GENESIS
    money_number: int = 0
    money_hash: str = GENESIS
    invoice_number: int = 0  # invoices are numbered with no gap too (their records: chain ``invoice``)
    # The heads of the chains kept in ``fiscal_records`` (FISCAL_CHAINS): (number, hash).
    chains: dict[str, tuple[int, str]] = msgspec.field(default_factory=dict)

    def copy(self) -> "Heads":
        """A copy a writer can put back after a rollback (``chains`` copied too)."""
        return msgspec.structs.replace(self, chains=dict(self.chains))

    def head(self, chain: str) -> tuple[int, str]:
        """(number, hash) of the last record of ``chain`` (0 and GENESIS: none yet)."""
        match chain:
            case "sale":
                return self.sale_number, self.sale_hash
            case "payment":
                return self.payment_number, self.payment_hash
            case "money":
                return self.money_number, self.money_hash
        return self.chains.get(chain, (0, GENESIS))


def load_heads(db: sqlite3.Connection) -> Heads:
    """The heads as the database holds them (a writer starts from them)."""
    heads = Heads()
    row = db.execute("SELECT number, hash FROM sales ORDER BY number DESC LIMIT 1").fetchone()
    if row:
        heads.sale_number, heads.sale_hash = row
    row = db.execute("SELECT number, hash FROM payments ORDER BY number DESC LIMIT 1").fetchone()
    if row:
        heads.payment_number, heads.payment_hash = row
    row = db.execute("SELECT number, hash FROM money_in WHERE number IS NOT NULL ORDER BY number DESC LIMIT 1"
                     ).fetchone()
    if row:
        heads.money_number, heads.money_hash = row
    heads.invoice_number = db.execute("SELECT coalesce(max(number), 0) FROM invoices").fetchone()[0]
    for chain, number, digest in db.execute(
            "SELECT chain, number, hash FROM fiscal_records WHERE (chain, number) IN"
            " (SELECT chain, max(number) FROM fiscal_records GROUP BY chain)"):
        heads.chains[chain] = (number, digest)
    return heads


# --- the chains kept in ``fiscal_records``: one record format for all of them ---------

# Each is numbered from 1 with no gap and chained like the first three; a record is a
# dict of business content (names, amounts as strings, the numbers of other chains'
# records; never a database id) to which the writer adds its ``number`` and ``at``.
FISCAL_CHAINS = ("closure", "copy", "invoice", "drawer", "account", "jet",
                 # documents (rules/documents.py): each kind its own series, and their changes
                 "quote", "order", "delivery_note", "deposit_invoice", "credit_note", "document")


class UnknownChain(ValueError):
    """A record for a chain that is not one of FISCAL_CHAINS."""


def append_record(db: sqlite3.Connection, heads: Heads, chain: str, at: str,
                  record: dict[str, Any]) -> tuple[int, str]:
    """Number and chain one record of ``chain`` (one of FISCAL_CHAINS): (number, hash).

    ``record`` is the business content; the stored and hashed record is it with
    ``number`` and ``at`` (ISO 8601) added. ``heads`` moves once it is written."""
    if chain not in FISCAL_CHAINS:
        raise UnknownChain(f"no fiscal chain {chain!r} (chains: {', '.join(FISCAL_CHAINS)})")
    last, prev = heads.chains.get(chain, (0, GENESIS))
    number = last + 1
    content = builtins({**record, "number": number, "at": at})
    digest = chain_hash(prev, content)
    db.execute("INSERT INTO fiscal_records(chain, number, at, record, prev_hash, hash) VALUES (?,?,?,?,?,?)",
               (chain, number, at, canonical(content).decode(), prev, digest))
    heads.chains[chain] = (number, digest)
    return number, digest


def records(db: sqlite3.Connection, chain: str, after: int = 0) -> Iterator[ChainRow]:
    """The records of ``chain`` (one of FISCAL_CHAINS) after number ``after``, in order."""
    rows = db.execute("SELECT number, record, prev_hash, hash FROM fiscal_records WHERE chain=? AND number > ?"
                      " ORDER BY number", (chain, after))
    for number, record, prev_hash, digest in rows:
        yield ChainRow(number, msgspec.json.decode(record), prev_hash, digest)


def insert_sale(db: sqlite3.Connection, heads: Heads, sale: SaleCompleted, *, cancels: int | None = None,
                reason: str | None = None, approved_by: str | None = None) -> tuple[int, dict[str, Any], str]:
    """Number and chain a sale record: (number, record, hash). ``heads`` moves once it is written."""
    number = heads.sale_number + 1
    record = sale_record(number, sale, cancels=cancels, reason=reason, approved_by=approved_by)
    digest = chain_hash(heads.sale_hash, record)
    db.execute(
        "INSERT INTO sales(number, at, lane, seller, customer, total, paid, change, lines, vat, prev_hash, hash,"
        " due, cancels, reason, approved_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (number, record["at"], sale.lane, sale.seller, sale.customer, record["total"], record["paid"],
         record["change"], encode(record["lines"]), encode(record["vat"]), heads.sale_hash, digest,
         record.get("due"), cancels, reason, approved_by),
    )
    heads.sale_number, heads.sale_hash = number, digest
    return number, record, digest


def chain_payment(db: sqlite3.Connection, heads: Heads, sale: int, at: str, mode: str, amount: Decimal,
                  reference: str | None, **extra: Any) -> int:
    """Number and chain one payment row (``extra``: type, refers, lane, seller, approved_by, reason)."""
    pnumber = heads.payment_number + 1
    precord = payment_record(pnumber, sale, at, mode, amount, reference, **extra)
    phash = chain_hash(heads.payment_hash, precord)
    db.execute(
        "INSERT INTO payments(number, sale, at, mode, amount, reference, prev_hash, hash, type, refers, lane,"
        " seller, approved_by, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (pnumber, sale, at, mode, precord["amount"], reference, heads.payment_hash, phash,
         extra.get("type", "PAI"), extra.get("refers"), extra.get("lane"), extra.get("seller"),
         extra.get("approved_by"), extra.get("reason")),
    )
    heads.payment_number, heads.payment_hash = pnumber, phash
    return pnumber


def chain_money(db: sqlite3.Connection, heads: Heads, at: str, kind: str, mode: str, amount: Decimal,
                customer: str | None, ref: str | None, lane: str | None, device: str | None,
                seller: str | None) -> int:
    """Number and chain one ``money_in`` row (the money chain, migration 7): its ``seq``."""
    number = heads.money_number + 1
    record = money_record(number, at, kind, mode, amount, customer, ref, lane, device, seller)
    digest = chain_hash(heads.money_hash, record)
    cursor = db.execute(
        "INSERT INTO money_in(at, kind, mode, amount, customer, ref, lane, device, seller, number,"
        " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (at, kind, mode, record["amount"], customer, ref, lane, device, seller, number, heads.money_hash, digest),
    )
    heads.money_number, heads.money_hash = number, digest
    return cursor.lastrowid


# --- reading the chains back ----------------------------------------------------------

CHAIN_TABLES = {"sale": "sales", "payment": "payments", "money": "money_in"}
# Every chain, in the order verify walks them.
ALL_CHAINS = (*CHAIN_TABLES, *FISCAL_CHAINS)


def chain_end(db: sqlite3.Connection, table: str) -> int:
    """The last number of the chain kept in ``table`` (0: none yet)."""
    return db.execute(f"SELECT coalesce(max(number), 0) FROM {table}").fetchone()[0]


def stored_hash(db: sqlite3.Connection, table: str, number: int) -> str | None:
    if number == 0:
        return GENESIS
    row = db.execute(f"SELECT hash FROM {table} WHERE number=?", (number,)).fetchone()
    return row[0] if row else None


def last_number(db: sqlite3.Connection, chain: str) -> int:
    """The number of the last stored record of any chain (0: none yet)."""
    if chain in CHAIN_TABLES:
        return chain_end(db, CHAIN_TABLES[chain])
    return db.execute("SELECT coalesce(max(number), 0) FROM fiscal_records WHERE chain=?", (chain,)).fetchone()[0]


def hash_of(db: sqlite3.Connection, chain: str, number: int) -> str | None:
    """The stored hash of record ``number`` of any chain (GENESIS for 0; None: absent)."""
    if chain in CHAIN_TABLES:
        return stored_hash(db, CHAIN_TABLES[chain], number)
    if number == 0:
        return GENESIS
    row = db.execute("SELECT hash FROM fiscal_records WHERE chain=? AND number=?", (chain, number)).fetchone()
    return row[0] if row else None


def chain_rows(db: sqlite3.Connection, chain: str, after: int = 0) -> Iterator[ChainRow]:
    """The records of any chain after number ``after``, in order."""
    match chain:
        case "sale":
            return sale_rows(db, after)
        case "payment":
            return payment_rows(db, after)
        case "money":
            return money_rows(db, after)
    return records(db, chain, after)


def unknown_chains(db: sqlite3.Connection) -> Broken | None:
    """A ``fiscal_records`` row of a chain this laneserver does not know (added by hand)."""
    row = db.execute(f"SELECT chain, number FROM fiscal_records WHERE chain NOT IN ({','.join('?' * len(FISCAL_CHAINS))})"
                     " ORDER BY chain, number LIMIT 1", FISCAL_CHAINS).fetchone()
    return None if row is None else Broken(str(row[0]), row[1], "a record of a chain laneserver does not write")


def sale_rows(db: sqlite3.Connection, after: int = 0) -> Iterator[ChainRow]:
    rows = db.execute(
        "SELECT number, at, lane, seller, customer, total, paid, change, lines, vat, prev_hash, hash,"
        " due, cancels, reason, approved_by FROM sales WHERE number > ? ORDER BY number", (after,)
    )
    for (number, at, lane, seller_, customer, total, paid, change, lines, vat, prev_hash, digest,
         due, cancels, reason, approved_by) in rows:
        record: dict[str, Any] = {
            "number": number, "at": at, "lane": lane, "seller": seller_, "customer": customer,
            "total": total, "paid": paid, "change": change,
            "lines": msgspec.json.decode(lines), "vat": msgspec.json.decode(vat),
        }
        # The keys of migration 7, present only when set (sale_record).
        for key, value in (("due", due), ("cancels", cancels), ("reason", reason), ("approved_by", approved_by)):
            if value is not None:
                record[key] = value
        yield ChainRow(number, record, prev_hash, digest)


def payment_rows(db: sqlite3.Connection, after: int = 0) -> Iterator[ChainRow]:
    rows = db.execute("SELECT number, sale, at, mode, amount, reference, prev_hash, hash, type, refers, lane, seller,"
                      " approved_by, reason FROM payments WHERE number > ? ORDER BY number", (after,))
    for number, sale, at, mode, amount, reference, prev_hash, digest, type_, refers, lane, seller_, by, why in rows:
        record = payment_record(number, sale, at, mode, Decimal(amount), reference, type=type_, refers=refers,
                                lane=lane, seller=seller_, approved_by=by, reason=why)
        yield ChainRow(number, record, prev_hash, digest)


def money_rows(db: sqlite3.Connection, after: int = 0) -> Iterator[ChainRow]:
    rows = db.execute("SELECT number, at, kind, mode, amount, customer, ref, lane, device, seller, prev_hash, hash"
                      " FROM money_in WHERE number > ? ORDER BY number", (after,))
    for number, at, kind, mode, amount, customer, ref, lane, device, seller_, prev_hash, digest in rows:
        record = money_record(number, at, kind, mode, Decimal(amount), customer, ref, lane, device, seller_)
        yield ChainRow(number, record, prev_hash, digest)


def unchained_money(db: sqlite3.Connection, after_seq: int = 0) -> Broken | None:
    """A ``money_in`` row written since the money chain began (and after row ``after_seq``)
    but not in it (added by hand)."""
    row = db.execute("SELECT value FROM meta WHERE key='money_chain_from'").fetchone()
    start = max(int(row[0]) if row else 1, after_seq + 1)
    found = db.execute("SELECT seq FROM money_in WHERE number IS NULL AND seq >= ? ORDER BY seq LIMIT 1",
                       (start,)).fetchone()
    if found is None:
        return None
    return Broken("money", found[0], f"money_in row seq {found[0]} is not in the chain (added outside the server)")


def verify_chains(db: sqlite3.Connection) -> list[ChainEnd | Broken]:
    """Walk every chain, in ALL_CHAINS order: sale, payment, money (``money_in``), then
    those of ``fiscal_records``; a record of an unknown chain is a finding too."""
    results: list[ChainEnd | Broken] = []
    for chain in ALL_CHAINS:
        result = walk(chain, chain_rows(db, chain))
        if chain == "money" and isinstance(result, ChainEnd):
            result = unchained_money(db) or result
        results.append(result)
    stray = unknown_chains(db)
    if stray is not None:
        results.append(stray)
    return results


# --- the fiscal anchor ----------------------------------------------------------------

ANCHOR_NAME = "fiscal-anchor.json"
# meta key set once the journal has anchored this database: from then on a
# missing anchor file is a finding, not an old database.
ANCHOR_META_KEY = "fiscal_anchor"


def anchor_path(db_path: Path) -> Path:
    """The anchor lives next to the database, in the same data folder."""
    return db_path.with_name(ANCHOR_NAME)


def anchor_of(heads: Heads) -> Anchor:
    return Anchor(sale=AnchorHead(heads.sale_number, heads.sale_hash),
                  payment=AnchorHead(heads.payment_number, heads.payment_hash),
                  money=AnchorHead(heads.money_number, heads.money_hash),
                  chains={chain: AnchorHead(*head) for chain, head in sorted(heads.chains.items())})


def write_anchor(path: Path, heads: Heads) -> None:
    """Replace the anchor file atomically and durably with ``heads``.

    A temporary file is written and fsynced, renamed over the anchor, then the
    folder is fsynced so the rename itself survives a power cut. A reader sees
    the old anchor or the new one, never a torn one.
    """
    write_atomically(path, encode_anchor(anchor_of(heads)))


def mark_anchored(db: sqlite3.Connection) -> None:
    """Note in the database that it is anchored (once; in its own statement)."""
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (ANCHOR_META_KEY, ANCHOR_NAME))


def read_anchor(path: Path) -> Anchor | None:
    """The anchor file's content; None when there is none.

    Raises:
        AnchorUnreadable: the file exists but is not a well-formed anchor (or
            cannot be read).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise AnchorUnreadable(f"cannot read {path}: {error}") from None
    return decode_anchor(data)


def is_anchored(db: sqlite3.Connection) -> bool:
    """Has an anchor-aware journal ever served this database?"""
    return db.execute("SELECT 1 FROM meta WHERE key=?", (ANCHOR_META_KEY,)).fetchone() is not None


def check_anchor(db: sqlite3.Connection, anchor: Anchor) -> list[AnchorProblem]:
    """The anchored heads that the database no longer holds as anchored."""
    problems = []
    for chain, head in anchor.heads():
        problem = check_head(chain, head, last_number(db, chain), hash_of(db, chain, head.number))
        if problem is not None:
            problems.append(problem)
    return problems


class AnchorCheck(msgspec.Struct, frozen=True):
    """What ``verify`` found about the anchor: ``ok`` and one line saying why."""

    ok: bool
    summary: str
    problems: tuple[AnchorProblem, ...] = ()


class Verification(msgspec.Struct, frozen=True):
    chains: list[ChainEnd | Broken]
    anchor: AnchorCheck

    @property
    def ok(self) -> bool:
        return self.anchor.ok and not any(isinstance(c, Broken) for c in self.chains)


def verify(db: sqlite3.Connection, anchor_file: Path) -> Verification:
    """Walk the three chains and check their heads against the anchor file.

    The anchor is read first: the journal rewrites it only after a commit, so a
    database read after it holds at least what it anchors, even while the
    server keeps selling. The walk and the anchor check share one read
    transaction (one snapshot).
    """
    try:
        anchor, unreadable = read_anchor(anchor_file), None
    except AnchorUnreadable as error:
        anchor, unreadable = None, error
    db.execute("BEGIN")
    try:
        chains = verify_chains(db)
        ends = {chain: last_number(db, chain) for chain in ALL_CHAINS}
        anchored = is_anchored(db)
        problems = check_anchor(db, anchor) if anchor is not None else []
    finally:
        db.execute("ROLLBACK")
    if unreadable is not None:
        check = AnchorCheck(False, f"anchor {anchor_file} is unreadable ({unreadable}): "
                                   "the end of the chains cannot be checked")
    elif anchor is None:
        if not any(ends.values()):
            check = AnchorCheck(True, "anchor: none yet, and no fiscal records to anchor")
        elif not anchored:
            check = AnchorCheck(True, "anchor: none, this database predates fiscal anchors "
                                      "(the server writes one at its next start)")
        else:
            check = AnchorCheck(False, f"anchor {anchor_file} is missing: the end of the chains cannot be "
                                       "checked (if it was moved away to accept a restored backup, start the "
                                       "server: it anchors the database as it is)")
    elif problems:
        check = AnchorCheck(False, f"the database does not hold its anchored head: {problems[0]}",
                            tuple(problems))
    else:
        anchored_heads = dict(anchor.heads())
        ahead = sum(end - anchored_heads[chain].number if chain in anchored_heads else end
                    for chain, end in ends.items())
        later = f"; {ahead} records written after it" if ahead else ""
        named = [f"{chain} {head.number}" for chain, head in anchor.heads() if head.number or chain in ("sale", "payment")]
        heads = " and ".join(named) if len(named) <= 2 else f"{', '.join(named[:-1])} and {named[-1]}"
        check = AnchorCheck(True, f"anchor: {heads} present with their anchored hashes{later}")
    return Verification(chains, check)
