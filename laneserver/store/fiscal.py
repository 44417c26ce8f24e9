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
next to it (see rules/fiscal.py for why), signed with the shop's Ed25519 key
(store/shop_key.py; its public part recorded in ``meta`` at the first signed start);
``verify`` and the journal's start check the database against it and its signature
against the shop's key.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from laneserver.files import write_atomically
from laneserver.rules.fiscal import (
    GENESIS,
    Anchor,
    canonical,
    AnchorHead,
    AnchorProblem,
    AnchorUnreadable,
    Broken,
    UNSIGNED_FORMAT,
    ChainEnd,
    ChainRow,
    chain_hash,
    check_head,
    decode_anchor,
    encode_anchor,
    signed_bytes,
    walk,
)
from laneserver.rules.invoice import Invoice
from laneserver.rules.lane import SaleCompleted
from laneserver.store import shop_key
from laneserver.store.ops import IssueVoucher, MoveAccount, RecordDrawerCount, RecordDrawerMovement, UseVoucher

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


# The records of the ``invoice``, ``drawer`` and ``account`` chains (kept in
# ``fiscal_records``), written by the writer (store/writes.py) in the unit that writes
# the row they describe: business content only (numbers, names, amounts as strings),
# the keys left unset (None) left out. ``append_record`` adds ``number`` and ``at``.

def invoice_record(invoice: Invoice) -> dict[str, Any]:
    """An invoice as issued: its number, the sale's, who, and its totals by VAT rate."""
    return _with_set({
        "invoice": invoice.number, "name": invoice.name, "sale": invoice.sale, "lane": invoice.lane,
        "seller": invoice.seller, "customer": invoice.customer, "customer_name": invoice.customer_name,
        "total_excl_vat": str(invoice.total_excl_vat), "total_vat": str(invoice.total_vat),
        "total": str(invoice.total), "vat": builtins(invoice.vat),
    }, due=str(invoice.due) if invoice.due else None)


def drawer_movement_record(op: RecordDrawerMovement) -> dict[str, Any]:
    """A float, cash added, an expense or a withdrawal on a lane's drawer."""
    m = op.movement
    return _with_set({"type": "movement", "lane": op.lane, "kind": m.kind, "amount": str(m.amount),
                      "reason": m.reason, "seller": m.seller},
                     detail=m.detail, destination=m.destination, count=builtins(m.count), approved_by=m.approved_by,
                     device=op.device)


def drawer_count_record(op: RecordDrawerCount) -> dict[str, Any]:
    """A closing count: what was expected, counted, the difference, and the last sale,
    money and payment records it covers (their numbers in their chains)."""
    c = op.counted
    return _with_set({"type": "count", "lane": c.lane, "expected": str(c.expected), "counted": str(c.counted),
                      "difference": str(c.difference), "count": builtins(c.count), "seller": c.seller,
                      "last_sale": c.last_sale, "last_money_in": c.last_money_in, "last_payment": c.last_payment},
                     since=None if c.since is None else c.since.isoformat(), device=op.device)


def account_record(op: MoveAccount, customer_name: str | None, balance: Decimal) -> dict[str, Any]:
    """A movement of a customer's ``credit`` or ``wallet``, and the balance it leaves."""
    return _with_set({"type": "account", "customer": op.customer, "account": op.account, "delta": str(op.delta),
                      "balance": str(balance), "kind": op.kind},
                     customer_name=customer_name, ref=op.ref, mode=op.mode, lane=op.lane, device=op.device,
                     seller=op.seller, approved_by=op.approved_by, reason=op.reason)


def voucher_issued_record(op: IssueVoucher, customer_name: str | None) -> dict[str, Any]:
    """A voucher issued (sold, a remainder, a refund): money the shop owes its bearer."""
    return _with_set({"type": "voucher_issued", "voucher": op.code, "amount": str(op.amount),
                      "valid_until": op.valid_until.isoformat(), "origin": op.origin},
                     customer=op.customer, customer_name=customer_name, ref=op.ref, mode=op.mode, lane=op.lane,
                     device=op.device, seller=op.seller)


def voucher_used_record(op: UseVoucher) -> dict[str, Any]:
    """A voucher used (once), and the code issued for what it had left."""
    return _with_set({"type": "voucher_used", "voucher": op.code, "amount": str(op.amount)},
                     remainder=op.remainder, ref=op.ref, lane=op.lane, device=op.device, seller=op.seller)


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
    """A ``fiscal_records`` row of a chain this laneserver does not know (added by hand).

    One seek on the primary key per chain present (not a scan of every record: the
    start-up check runs this on millions of them)."""
    row = db.execute("SELECT chain FROM fiscal_records ORDER BY chain LIMIT 1").fetchone()  # a number comes first
    while row is not None:
        chain = row[0]
        if chain not in FISCAL_CHAINS:
            number = db.execute("SELECT min(number) FROM fiscal_records WHERE chain=?", (chain,)).fetchone()[0]
            return Broken(str(chain), number, "a record of a chain laneserver does not write")
        row = db.execute("SELECT chain FROM fiscal_records WHERE chain > ? ORDER BY chain LIMIT 1", (chain,)).fetchone()
    return None


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


# --- the rows the invoice, drawer and account chains describe ---------------------------
#
# Their records are written with the rows (store/writes.py), so the rows can be checked
# against them: ``verify`` rebuilds what each row says and compares it with its record.
# A record names no row id: the writer notes in ``meta`` (``ROWS_FROM_KEY``) the first
# row of each table it chained, and from that row on the table's rows and the chain's
# records of that type go one for one, in order. A row changed, removed or added outside
# the server no longer says what its record does. The rows written before (by a release
# that did not chain them) are not checked.

ROWS_FROM_KEY = "chained_rows_from:{}"
# chain: {record type (None: every record of the chain): (table, its rows from a first
# one, in write order, as the record's keys)}
_ROW_SOURCES: dict[str, dict[str | None, tuple[str, str]]] = {
    "invoice": {None: ("invoices", "SELECT data FROM invoices WHERE number >= ? ORDER BY number")},
    "drawer": {
        "movement": ("drawer_movements", "SELECT at, lane, kind, amount, reason, detail, destination, count, seller,"
                                         " approved_by, device FROM drawer_movements WHERE seq >= ? ORDER BY seq"),
        "count": ("drawer_counts", "SELECT at, lane, since, expected, counted, difference, count, seller, device,"
                                   " last_sale, last_money_in, last_payment FROM drawer_counts WHERE seq >= ?"
                                   " ORDER BY seq"),
    },
    "account": {
        "account": ("customer_movements", "SELECT at, customer, account, delta, kind, ref, mode, lane, device, seller,"
                                          " approved_by, reason FROM customer_movements WHERE seq >= ? ORDER BY seq"),
        "voucher_issued": ("vouchers", "SELECT issued_at AS at, code AS voucher, amount, valid_until, origin, customer,"
                                       " ref, mode, lane, device, seller FROM vouchers WHERE rowid >= ? ORDER BY rowid"),
        "voucher_used": ("voucher_uses", "SELECT at, code AS voucher, amount, remainder, ref, lane, device, seller"
                                         " FROM voucher_uses WHERE rowid >= ? ORDER BY rowid"),
    },
}
_invoice_decoder = msgspec.json.Decoder(Invoice)
_NO_ROW = 2**62  # a table whose first chained row is not noted: no row is taken as chained


def chained_tables(db: sqlite3.Connection) -> set[str]:
    """The tables whose first chained row is noted already."""
    prefix = ROWS_FROM_KEY.format("")
    return {key[len(prefix):] for (key,) in db.execute("SELECT key FROM meta WHERE key LIKE ?", (prefix + "%",))}


def note_rows_from(db: sqlite3.Connection, table: str, row: int) -> None:
    """Note ``row`` (its rowid, or an invoice's number) as the first chained row of ``table``."""
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (ROWS_FROM_KEY.format(table), str(row)))


def _row_content(columns: list[str], row: tuple) -> dict[str, Any]:
    """What a row says, as its record's keys (None: the key is absent from the record)."""
    if columns == ["data"]:
        invoice = _invoice_decoder.decode(row[0])
        return {**invoice_record(invoice), "at": invoice.at.isoformat()}
    content = dict(zip(columns, row, strict=True))
    if "count" in content:
        content["count"] = msgspec.json.decode(content["count"])
    return content


def _says(record: dict[str, Any], content: dict[str, Any]) -> bool:
    return all(record.get(k) == v if v is not None else k not in record for k, v in content.items())


def unmatched_rows(db: sqlite3.Connection) -> list[Broken]:
    """For each of the invoice, drawer and account chains, the first record whose row no
    longer says what it records, or a row after the chain's end (changed, removed or
    added outside the server). The chain is read once, in order, beside one cursor per
    table."""
    found = []
    for chain, sources in _ROW_SOURCES.items():
        cursors = {}
        for kind, (table, sql) in sources.items():
            row = db.execute("SELECT value FROM meta WHERE key=?", (ROWS_FROM_KEY.format(table),)).fetchone()
            cursor = db.cursor().execute(sql, (int(row[0]) if row else _NO_ROW,))
            cursors[kind] = (table, [c[0] for c in cursor.description], cursor)
        broken = None
        for record in records(db, chain):
            table, columns, cursor = cursors.get(None) or cursors.get(record.record.get("type"), ("?", [], None))
            stored = cursor.fetchone() if cursor is not None else None
            if stored is None or not _says(record.record, _row_content(columns, stored)):
                broken = Broken(chain, record.number, f"its {table} row does not say what it records (the row was "
                                                      "changed, removed or added outside the server)")
                break
        else:
            extra = next((table for table, _, cursor in cursors.values() if cursor.fetchone() is not None), None)
            if extra is not None:
                broken = Broken(chain, last_number(db, chain) + 1,
                                f"a row of {extra} after the chain's last record is not in the chain (added "
                                "outside the server, or its record removed)")
        if broken is not None:
            found.append(broken)
    return found


def verify_chains(db: sqlite3.Connection) -> list[ChainEnd | Broken]:
    """Walk every chain (``walk_chains``), then check the rows the invoice, drawer and
    account chains describe against their records (``unmatched_rows``): a chain that is
    intact but whose rows do not match is broken at its first record that does not."""
    results = walk_chains(db)
    unmatched = {broken.chain: broken for broken in unmatched_rows(db)}
    return [unmatched.get(chain, result) if isinstance(result, ChainEnd) else result
            for chain, result in zip((*ALL_CHAINS, None), results, strict=False)]


def walk_chains(db: sqlite3.Connection) -> list[ChainEnd | Broken]:
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


def anchor_of(heads: Heads, key: str = "") -> Anchor:
    """The (unsigned) anchor of ``heads``; ``key``: the public key (hex) that will sign it."""
    return Anchor(sale=AnchorHead(heads.sale_number, heads.sale_hash),
                  payment=AnchorHead(heads.payment_number, heads.payment_hash),
                  money=AnchorHead(heads.money_number, heads.money_hash),
                  chains={chain: AnchorHead(*head) for chain, head in sorted(heads.chains.items())},
                  key=key)


def signed_anchor(heads: Heads, key: Ed25519PrivateKey) -> Anchor:
    """The anchor of ``heads`` signed with the shop's key (one Ed25519 signature)."""
    unsigned = anchor_of(heads, shop_key.public_hex(key))
    return msgspec.structs.replace(unsigned, signature=shop_key.sign(key, signed_bytes(unsigned)))


def signature_checks(anchor: Anchor, public: str) -> bool:
    """Is ``anchor`` signed by the key whose public part is ``public`` (hex)?"""
    if not anchor.signed or anchor.key != public:
        return False
    return shop_key.signed_by(shop_key.parse_public(public), signed_bytes(anchor), anchor.signature)


def write_anchor(path: Path, heads: Heads, key: Ed25519PrivateKey | None) -> None:
    """Replace the anchor file atomically and durably with ``heads``, signed with ``key``
    (the journal always signs; None: unsigned, format 1, for a database whose data
    folder has no shop key yet: a backup of it, store/backups.py).

    A temporary file is written and fsynced, renamed over the anchor, then the
    folder is fsynced so the rename itself survives a power cut. A reader sees
    the old anchor or the new one, never a torn one.
    """
    anchor = msgspec.structs.replace(anchor_of(heads), format=UNSIGNED_FORMAT) if key is None \
        else signed_anchor(heads, key)
    write_atomically(path, encode_anchor(anchor))


def shop_key_of(db_path: Path) -> Ed25519PrivateKey | None:
    """The shop key in the data folder of ``db_path``; None when there is none or it is
    unreadable (the journal's start says which, and refuses)."""
    try:
        return shop_key.load_key(shop_key.key_path(db_path))
    except shop_key.KeyUnreadable:
        return None


# meta key of the shop key's public part (hex), recorded at the first start of a release
# that signs: from then on every anchor must be signed by that key, and a key file whose
# public part differs is a replaced key (the journal refuses to start, verify says BROKEN).
SHOP_KEY_META = "shop_key"


def recorded_key(db: sqlite3.Connection) -> str | None:
    """The public key (hex) this database recorded for its shop key; None: none yet."""
    row = db.execute("SELECT value FROM meta WHERE key=?", (SHOP_KEY_META,)).fetchone()
    return None if row is None else str(row[0])


def record_key(db: sqlite3.Connection, public: str) -> bool:
    """Record the shop key's public part (once; in its own statement). True: recorded now."""
    cursor = db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (SHOP_KEY_META, public))
    return cursor.rowcount == 1


def replaced_key(path: Path, found: str, recorded: str) -> str:
    """What a replaced key means, for store IT."""
    return (f"the shop key {path} (fingerprint {shop_key.fingerprint(found)}) is not the key this database "
            f"recorded at its first signed start (fingerprint {shop_key.fingerprint(recorded)}): the key file "
            "was replaced (or the data folder mixes two shops' files). The fiscal anchor and the archives are "
            f"signed with the recorded key: put back the original {path.name} from the data folder's backup "
            "(laneserver never replaces it)")


def missing_key(path: Path, recorded: str) -> str:
    return (f"the shop key {path} is missing, but this database recorded one (fingerprint "
            f"{shop_key.fingerprint(recorded)}): put back {path.name} from the data folder's backup "
            "(laneserver never makes a second key for a database that has one)")


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


class _Keys(msgspec.Struct, frozen=True):
    """The public key an anchor must be signed by (None: no key anywhere yet, an
    unsigned anchor is still accepted), and what is wrong with the keys."""

    public: str | None
    problem: str | None = None


def _keys(key_file: Path, recorded: str | None, auditor: str | None) -> _Keys:
    if auditor is not None:
        if recorded is not None and recorded != auditor:
            return _Keys(auditor, f"the database recorded another shop key (fingerprint "
                                  f"{shop_key.fingerprint(recorded)}) than the one given (fingerprint "
                                  f"{shop_key.fingerprint(auditor)})")
        return _Keys(auditor)
    try:
        key = shop_key.load_key(key_file)
    except shop_key.KeyUnreadable as error:
        return _Keys(recorded, f"the shop key is unreadable ({error})")
    if key is None:
        return _Keys(recorded, None if recorded is None else missing_key(key_file, recorded))
    found = shop_key.public_hex(key)
    if recorded is not None and recorded != found:
        return _Keys(recorded, replaced_key(key_file, found, recorded))
    return _Keys(found)


def _signature_problem(anchor: Anchor, anchor_file: Path, public: str | None) -> str | None:
    """Why the anchor's signature is not the shop key's (None: it is, or no key exists yet)."""
    if public is None:
        return None  # a database no signing laneserver has served yet: an unsigned anchor
    if not anchor.signed:
        return (f"anchor {anchor_file} is not signed, but this shop signs its anchors (key fingerprint "
                f"{shop_key.fingerprint(public)}): it was written without the shop key")
    if anchor.key != public:
        return (f"anchor {anchor_file} is signed by another key (fingerprint {shop_key.fingerprint(anchor.key)}) "
                f"than the shop's (fingerprint {shop_key.fingerprint(public)}): it was written without the shop key")
    if not signature_checks(anchor, public):
        return (f"anchor {anchor_file} has a signature that does not check with the shop key (fingerprint "
                f"{shop_key.fingerprint(public)}): the anchor was changed, or written without the shop key")
    return None


def verify(db: sqlite3.Connection, anchor_file: Path, *, public: str | None = None) -> Verification:
    """Walk every chain, check their heads against the anchor file and the anchor's
    signature against the shop's key.

    The key is the shop key file next to the anchor (``shop-key.pem``), which must be
    the one the database recorded; ``public`` (hex), an auditor-held public key,
    replaces it. The anchor is read first: the journal rewrites it only after a
    commit, so a database read after it holds at least what it anchors, even while
    the server keeps selling. The walk and the anchor check share one read
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
        recorded = recorded_key(db)
        problems = check_anchor(db, anchor) if anchor is not None else []
    finally:
        db.execute("ROLLBACK")
    keys = _keys(anchor_file.with_name(shop_key.KEY_NAME), recorded, public)
    signature = _signature_problem(anchor, anchor_file, keys.public) if anchor is not None else None
    if unreadable is not None:
        check = AnchorCheck(False, f"anchor {anchor_file} is unreadable ({unreadable}): "
                                   "the end of the chains cannot be checked")
    elif keys.problem is not None:
        check = AnchorCheck(False, keys.problem)
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
    elif signature is not None:
        check = AnchorCheck(False, signature)
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
        signed = (f"; signed by the shop key {shop_key.fingerprint(anchor.key)}" if anchor.signed
                  else "; not signed yet (the server signs it at its next start)")
        check = AnchorCheck(True, f"anchor: {heads} present with their anchored hashes{later}{signed}")
    return Verification(chains, check)
