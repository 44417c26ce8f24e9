"""Writing journal operations to SQLite (called from the journal's worker thread).

``Writer`` keeps the heads of the fiscal chains (store/fiscal.py: last number and
hash) in memory. They only move once the record is written inside the current
savepoint, and ``restore`` puts them back when a unit of work is rolled back, so a
failed unit never leaves a gap in the numbering.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from fractions import Fraction
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from laneserver.clock import shop_day
from laneserver.rules.copies import ORIGINAL, copy_record
from laneserver.rules.invoice import Invoice
from laneserver.rules.lane import LaneState
from laneserver.rules.lane_journal import snapshot_due
from laneserver.rules.payment import fiscal_rows
from laneserver.rules.stock import exact, to_text
from laneserver.store.fiscal import (
    Heads,
    account_record,
    append_record,
    builtins,
    chained_tables,
    chain_money,
    chain_payment,
    drawer_count_record,
    drawer_movement_record,
    encode,
    insert_sale,
    invoice_record,
    load_heads,
    note_rows_from,
    voucher_issued_record,
    voucher_used_record,
)
from laneserver.store.ops import (
    AccountMoved,
    AppendLaneChange,
    CancelRecorded,
    ChainAppended,
    ChainRecord,
    CreatePurchaseOrder,
    IssueVoucher,
    MoveAccount,
    MoveCoupons,
    PutCustomer,
    ReceiveMoney,
    UseVoucher,
    MoveStock,
    Op,
    PaymentRow,
    PutLaneState,
    PutPurchaseOrder,
    PutStockArticle,
    RecordCancel,
    RecordEvent,
    RecordPayments,
    RecordLot,
    Printed,
    RecordSale,
    Remember,
    SaleRecorded,
    SetSignedIn,
    StockMoved,
)
from laneserver.store.ops import DropResume, PutPinRecord, PutResume, SeenDevice, TouchResume
from laneserver.store.ops import KeptWith
from laneserver.store.ops import RecordDrawerCount, RecordDrawerMovement
from laneserver.store.ops import PrintJobDone, PrintJobCrashed, QueuePrintJob
from laneserver.store.ops import AddCountLines, CloseCount, RequestLabels
from laneserver.store import access, catalog_meta, cradles, hq_holds, outbox



T = TypeVar("T")


def iso(at) -> str:
    return at.isoformat()


_plain = msgspec.msgpack.Encoder()


def filled(reply: bytes, holes: tuple[tuple[int, tuple[str | int, ...]], ...], numbers: tuple[int, ...]) -> bytes:
    """A result to remember (MessagePack, actors/replies.py ``stored``) with the numbers
    the unit handed out put where ``holes`` says: (which number, its path of map keys and
    list indexes). Plain data in and out: no caller's code runs in this thread."""
    if not holes:
        return reply
    tree = msgspec.msgpack.decode(reply)
    for which, path in holes:
        node = tree
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = numbers[which]
    return _plain.encode(tree)


def account_balance(db: sqlite3.Connection, customer: str, account: str) -> Decimal:
    """The sum of an account's movements (exact: the deltas are decimal strings)."""
    rows = db.execute("SELECT delta FROM customer_movements WHERE customer=? AND account=?", (customer, account))
    return sum((Decimal(delta) for (delta,) in rows), Decimal("0.00"))


class KeyReused(ValueError):
    """A unit's idempotency key was already used by the same device."""


class BooksChanged(ValueError):
    """What a unit was decided on changed before it was written (another request was
    written first: the account's money spent, the voucher used, the sale cancelled):
    the unit fails, nothing of it is written, and the request may be sent again."""


class Writer:
    def __init__(self, db: sqlite3.Connection, zone: dt.tzinfo = dt.timezone.utc, *,
                 on_busy: Callable[[], None] | None = None) -> None:
        self.zone = zone  # the shop's time zone: coupon validity is counted in its days
        self.db = db
        # Called each time another process held the write lock for a whole busy timeout
        # while a transaction waited to begin (``begin``): the journal logs it.
        self.on_busy = on_busy
        self.heads = load_heads(db)
        # The tables whose first chained row is noted in ``meta`` (store/fiscal.py
        # ``note_rows_from``): one statement the first time only. Read again on a rollback.
        self._chained_tables = chained_tables(db)
        # Real stock as this writer last wrote or read it, per (stock point, article):
        # the writer is the only one to change it while the server runs, so a
        # movement needs no SELECT. Forgotten on any rollback and after any Read
        # (a read function may write: the demo seed does).
        self._levels: dict[tuple[str, str], Fraction] = {}
        # Rows kept back while a batch is written (``defer`` … ``flush``): the events,
        # the lanes' changes and each lane's newest snapshot, written at the end in one
        # statement each.
        self._deferring = False
        self._events: list[tuple[Any, ...]] = []
        self._states: dict[str, tuple[str, str, str]] = {}
        self._changes: list[tuple[str, int, str, str]] = []
        # Per lane: [characters of its last snapshot, characters of the changes kept
        # since], read from the tables at the lane's first change and kept up to date
        # (``snapshot_due``). Forgotten on a rollback.
        self._lane_logs: dict[str, list[int]] = {}

    def snapshot(self) -> Heads:
        return self.heads.copy()

    def transaction(self, write: Callable[[sqlite3.Connection, Heads], T]) -> T:
        """``write(db, heads)`` in one transaction of its own, committed; rolled back with
        the heads put back if it raises (and the error raised again)."""
        db = self.db
        before = self.snapshot()
        self.begin()
        try:
            result = write(db, self.heads)
            db.execute("COMMIT")
        except BaseException:
            try:
                if db.in_transaction:
                    db.execute("ROLLBACK")
            finally:  # a ROLLBACK that fails too (a disk gone bad): the heads are put back all the same
                self.restore(before)
            raise
        return result

    def begin(self) -> None:
        """``BEGIN IMMEDIATE``, however long another process holds the write lock (a store
        IT command: a large catalog import writes in one transaction). Past the busy
        timeout SQLite gives up with ``SQLITE_BUSY``; nothing is written yet, so it is
        tried again (``on_busy`` told each time) rather than failing the batch."""
        while True:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if getattr(error, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:  # extended codes too
                    raise
                if self.on_busy is not None:
                    self.on_busy()

    def restore(self, heads: Heads) -> None:
        self.heads = heads
        self._chained_tables = chained_tables(self.db)
        self._levels.clear()
        self._lane_logs.clear()
        self._discard()

    # --- a batch's events and lane changes, in one statement each ---------------------
    # The journal's worker thread gives the GIL back at every SQLite call and waits
    # for the event loop to hand it over again; a batch of 13 scans was 26 such calls
    # for its events and lane states alone. Deferred, they are two (json_each), and a
    # lane's snapshot written several times in a batch is written once, as it ended.

    def defer(self) -> None:
        """Keep events, lane changes and snapshots back until ``flush`` (inside the
        transaction). Meanwhile a read of the ``events``, ``lane_changes`` or
        ``lane_states`` tables on this connection does not see them (none runs inside a
        batch: lane states are read at a lane's start)."""
        self._discard()
        self._deferring = True

    def flush(self) -> None:
        """Write what ``defer`` kept back; call before COMMIT. A lane's snapshot drops
        its changes written before this batch (those kept back after it come after)."""
        if self._events:
            self.db.execute(
                "INSERT INTO events(at, source, kind, device, seller, data) SELECT value->>0, value->>1, value->>2,"
                " value->>3, value->>4, value->>5 FROM json_each(?)", (encode(self._events),))
        if self._states:
            rows = encode(list(self._states.values()))
            self.db.execute("DELETE FROM lane_changes WHERE lane IN (SELECT value->>0 FROM json_each(?))", (rows,))
            self.db.execute(
                "INSERT INTO lane_states(lane, state, updated_at) SELECT value->>0, value->>1, value->>2"
                " FROM json_each(?) WHERE true ON CONFLICT(lane) DO UPDATE SET state=excluded.state,"
                " updated_at=excluded.updated_at", (rows,))
        if self._changes:
            self.db.execute(
                "INSERT INTO lane_changes(lane, seq, at, change) SELECT value->>0, value->>1, value->>2, value->>3"
                " FROM json_each(?)", (encode(self._changes),))
        self._discard()

    def _discard(self) -> None:
        self._deferring = False
        self._events.clear()
        self._states.clear()
        self._changes.clear()

    def _insert_event(self, row: tuple[Any, ...]) -> None:
        if self._deferring:
            self._events.append(row)
        else:
            self.db.execute("INSERT INTO events(at, source, kind, device, seller, data) VALUES (?,?,?,?,?,?)", row)

    def _chained(self, table: str, row: int) -> None:
        """``row`` of ``table`` is chained: note it if it is the table's first."""
        if table not in self._chained_tables:
            note_rows_from(self.db, table, row)
            self._chained_tables.add(table)

    def forget_levels(self) -> None:
        self._levels.clear()

    def apply(self, op: Op) -> Any:
        match op:
            case RecordEvent():
                self._insert_event((iso(op.at), op.source, op.kind, op.device, op.seller, encode(op.data)))
                return None
            case AppendLaneChange():
                self._lane_change(op)
                return None
            case PutLaneState():
                self._lane_snapshot(op.state, op.at)
                return None
            case RecordSale():
                return self._record_sale(op)
            case Remember():
                self._remember(op.device, op.key, op.actor, op.reply, iso(op.at), op.fingerprint)
                return None
            case MoveStock():
                return self._move_stock(op)
            case PutStockArticle():
                self.db.execute(
                    "INSERT INTO stock_articles(stock_point, article, tracked, last_cost, average_cost)"
                    " VALUES (?,?,?,?,?) ON CONFLICT(stock_point, article) DO UPDATE SET tracked=excluded.tracked,"
                    " last_cost=excluded.last_cost, average_cost=excluded.average_cost",
                    (op.stock_point, op.article, int(op.tracked), _text(op.last_cost), _text(op.average_cost)),
                )
                return None
            case SetSignedIn():
                self.db.execute("UPDATE devices SET seller=? WHERE device=?", (op.seller, op.device))
                return None
            case PutPinRecord() | PutResume() | DropResume() | TouchResume() | SeenDevice():
                _access(self.db, op)
                return None
            case RecordLot():
                self.db.execute(
                    "INSERT INTO stock_lots(stock_point, article, received, qty, at, ref) VALUES (?,?,?,?,?,?)",
                    (op.stock_point, op.article, op.received.isoformat(), to_text(op.qty), iso(op.at), op.ref),
                )
                return None
            case CreatePurchaseOrder():
                return self._create_order(op)
            case PutPurchaseOrder():
                self.db.execute("UPDATE purchase_orders SET status=?, lines=?, updated_at=? WHERE number=?",
                                (op.order.status, encode(op.order.lines), iso(op.at), op.order.number))
                return None
            case PutCustomer() | MoveAccount() | IssueVoucher() | UseVoucher() | ReceiveMoney() | MoveCoupons():
                return self._customers(op)
            case RecordDrawerMovement() | RecordDrawerCount():
                seq = _record_drawer(self.db, self.heads, op)
                self._chained("drawer_movements" if isinstance(op, RecordDrawerMovement) else "drawer_counts", seq)
                return seq
            case RecordPayments():
                return self._record_payments(op)
            case RecordCancel():
                return self._record_cancel(op)
            case ChainRecord():
                number, digest = append_record(self.db, self.heads, op.chain, iso(op.at), op.record)
                if (r := op.remember) is not None:  # its reply, with the number just given
                    self._remember(r.device, r.key, r.actor, filled(r.reply, op.holes, (number,)), iso(r.at),
                                   r.fingerprint)
                return ChainAppended(op.chain, number, digest)
            case access.AccessOp():  # devices, sellers, pairing codes (store/access.py)
                return access.apply(self.db, op)
            case QueuePrintJob() | PrintJobCrashed() | PrintJobDone():
                return _print_job(self.db, op)
            case AddCountLines():
                self.db.executemany(
                    "INSERT INTO stock_count_lines(stock_point, zone, article, qty, at, device, seller)"
                    " VALUES (?,?,?,?,?,?,?)",
                    [(op.stock_point, zone, article, str(qty), iso(op.at), op.device, op.seller)
                     for zone, article, qty in op.lines])
                return None
            case CloseCount():
                self.db.execute("UPDATE stock_count_lines SET validated=? WHERE stock_point=? AND validated IS NULL",
                                (iso(op.at), op.stock_point))
                return None
            case RequestLabels():
                cursor = self.db.execute(
                    "INSERT INTO label_requests(stock_point, article, copies, at, device, seller) VALUES (?,?,?,?,?,?)",
                    (op.stock_point, op.article, op.copies, iso(op.at), op.device, op.seller))
                if op.key is not None and op.device is not None and op.reply is not None:
                    self._remember(op.device, op.key, op.actor, filled(op.reply, op.holes, (cursor.lastrowid,)),
                                   iso(op.at), op.fingerprint)
                return cursor.lastrowid
            case KeptWith(op=inner, remember=r):  # an edge's own write, with its reply (server/edge_keys.py)
                result = self.apply(inner)
                if op.always or (result is not None and result is not False):
                    self._remember(r.device, r.key, r.actor, r.reply, iso(r.at), r.fingerprint)
                return result
            case catalog_meta.SaveKeyboard():  # the till's keyboard (store/catalog_meta.py)
                return catalog_meta.apply(self.db, op)
            case catalog_meta.CreateArticle() | catalog_meta.AttachCode():  # an unknown code made sellable
                written = catalog_meta.apply_edit(self.db, op)
                if written is not None and (r := op.remember) is not None:  # its reply: the article as written
                    self._remember(r.device, r.key, r.actor, catalog_meta.encode_article(written).encode(), iso(r.at),
                                   r.fingerprint)
                return written
            case cradles.JournalUpload() | cradles.UploadCleared() | cradles.UploadSettled():
                return cradles.apply(self.db, op)
            case outbox.NoteCustomersVersion():  # head office's customers applied (store/outbox.py)
                return outbox.note_customers_version(self.db, op)
        raise TypeError(f"not a journal op: {op!r}")

    # --- lane states: changes and snapshots (rules/lane_journal.py) ----------------------

    def _lane_log(self, lane: str) -> list[int]:
        log = self._lane_logs.get(lane)
        if log is None:
            snapshot = self.db.execute("SELECT length(state) FROM lane_states WHERE lane=?", (lane,)).fetchone()
            changes = self.db.execute("SELECT coalesce(sum(length(change)), 0) FROM lane_changes WHERE lane=?",
                                      (lane,)).fetchone()
            log = self._lane_logs[lane] = [snapshot[0] if snapshot else 0, changes[0]]
        return log

    def _lane_change(self, op: AppendLaneChange) -> None:
        lane = op.state.lane
        log = self._lane_log(lane)
        data = encode(op.change)
        if snapshot_due(log[1] + len(data), log[0]):
            self._lane_snapshot(op.state, op.at)
            return
        log[1] += len(data)
        row = (lane, op.change.rev, iso(op.at), data)
        if self._deferring:
            self._changes.append(row)
        else:
            self.db.execute("INSERT INTO lane_changes(lane, seq, at, change) VALUES (?,?,?,?)", row)

    def _lane_snapshot(self, state: LaneState, at: dt.datetime) -> None:
        """``state`` whole: the lane's snapshot, its earlier changes dropped."""
        lane = state.lane
        row = (lane, encode(state), iso(at))
        self._lane_logs[lane] = [len(row[1]), 0]
        if self._deferring:
            self._states[lane] = row
            if self._changes:  # kept back in this batch, before the snapshot: in it
                self._changes[:] = [r for r in self._changes if r[0] != lane]
            return
        self.db.execute("DELETE FROM lane_changes WHERE lane=?", (lane,))
        self.db.execute(
            "INSERT INTO lane_states(lane, state, updated_at) VALUES (?,?,?) "
            "ON CONFLICT(lane) DO UPDATE SET state=excluded.state, updated_at=excluded.updated_at",
            row,
        )

    def _create_order(self, op: CreatePurchaseOrder) -> int:
        """Insert the order under the next number (inside the unit: a rollback leaves no gap)."""
        order = op.order
        number = self.db.execute("SELECT coalesce(max(number), 0) + 1 FROM purchase_orders").fetchone()[0]
        self.db.execute(
            "INSERT INTO purchase_orders(number, stock_point, supplier, status, lines, comment, created_at,"
            " updated_at, device, seller) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (number, order.stock_point, order.supplier, order.status, encode(order.lines), order.comment,
             order.created_at or iso(op.at), iso(op.at), op.device, op.seller),
        )
        data = {"order": number, "stock_point": order.stock_point, "supplier": order.supplier,
                "lines": builtins(order.lines), "comment": order.comment}
        self._insert_event((iso(op.at), f"stock:{order.stock_point}", "PurchaseOrderCreated", op.device, op.seller,
                            encode(data)))
        if op.key is not None and op.device is not None and op.reply is not None:
            self._remember(op.device, op.key, op.actor, filled(op.reply, op.holes, (number,)), iso(op.at),
                           op.fingerprint)
        return number

    def _remember(self, device: str, key: str, actor: str, reply: bytes, at: str,
                  fingerprint: str | None = None) -> None:
        """Keep a keyed request's reply with its effect. A key names one request of a
        device, whichever actor carried it out: a key this device already used (on
        another lane or stock point, or so long ago that its actor no longer holds it
        in memory) fails the whole unit, so the second request applies nothing."""
        try:
            self.db.execute(
                "INSERT INTO replies(device, key, actor, at, reply, fingerprint) VALUES (?,?,?,?,?,?)",
                (device, key, actor, at, reply, fingerprint),
            )
        except sqlite3.IntegrityError:
            raise KeyReused(key) from None

    def _record_sale(self, op: RecordSale) -> SaleRecorded:
        sale = op.sale
        number, record, digest = insert_sale(self.db, self.heads, sale)
        # One row per instalment, and the cash rounding as a row of its own
        # (rules/payment.py fiscal_rows): the rows add up to total + change (less
        # what a sale finished unpaid leaves due: a debt, listed in ``debts``).
        for mode, amount, reference in fiscal_rows(sale.payments, sale.rounding):
            # A refund (a negative payment on a return ticket) is a credit note, AVO.
            refund = {"type": "AVO"} if amount < 0 and mode != "rounding" else {}
            chain_payment(self.db, self.heads, number, record["at"], mode, amount, reference, **refund)
        if sale.due > 0:
            if sale.customer is None:
                raise ValueError(f"sale {number} is left unpaid with no customer")
            self.db.execute("INSERT INTO debts(sale, customer, at) VALUES (?,?,?)",
                            (number, sale.customer, record["at"]))
        takes = op.takes if op.takes is not None else tuple((line.article, line.qty) for line in sale.lines)
        self._move_stocks([MoveStock(
            at=sale.at, stock_point=op.stock_point, article=article, delta=-exact(qty),
            reason="sale", ref=f"sale:{number}", device=op.device, seller=sale.seller,
            source=f"lane:{sale.lane}",
        ) for article, qty in takes])
        balances: list[tuple[str, str, Decimal]] = []
        for move in op.customer_moves:
            if move.ref is None:
                move = msgspec.structs.replace(move, ref=f"sale:{number}")
            moved = self._customers(move)
            if isinstance(moved, AccountMoved):
                balances.append((move.customer, move.account, moved.balance))
        invoice = self._record_invoice(op.invoice, number) if op.invoice is not None else None
        self._record_original(number, record["at"], op.printed)
        if op.key is not None and op.device is not None and op.reply is not None:
            # The lane's stored result (actors/lane_messages.py SaleDone), its numbers set here.
            reply = msgspec.msgpack.encode({**msgspec.msgpack.decode(op.reply), "number": number, "invoice": invoice})
            self._remember(op.device, op.key, op.actor, reply, record["at"], op.fingerprint)
        return SaleRecorded(number=number, hash=digest, balances=tuple(balances), invoice=invoice)

    def _record_invoice(self, invoice: Invoice, sale: int) -> int:
        """The sale's invoice under the next invoice number (the head moves only once it
        is written, and is restored with the others if the unit rolls back: no gap)."""
        number = self.heads.invoice_number + 1
        invoice = msgspec.structs.replace(invoice, number=number, sale=sale)
        self.db.execute(
            "INSERT INTO invoices(number, sale, customer, at, total_excl_vat, total, data) VALUES (?,?,?,?,?,?,?)",
            (number, sale, invoice.customer, iso(invoice.at), str(invoice.total_excl_vat), str(invoice.total),
             encode(invoice)),
        )
        append_record(self.db, self.heads, "invoice", iso(invoice.at), invoice_record(invoice))
        self._chained("invoices", number)
        self.heads.invoice_number = number
        return number

    # --- till money after the sale (migration 7; rules/corrections.py) -------------------

    def _record_payments(self, op: RecordPayments) -> tuple[int, ...]:
        if self.db.execute("SELECT 1 FROM sales WHERE number=?", (op.sale,)).fetchone() is None:
            raise ValueError(f"no sale {op.sale}")
        at = iso(op.at)
        self._not_annulled(op.rows)
        numbers = tuple(
            chain_payment(self.db, self.heads, op.sale, at, row.mode, row.amount, row.reference, type=row.type, refers=row.refers,
                                lane=op.lane, seller=op.seller, approved_by=op.approved_by, reason=op.reason)
            for row in op.rows
        )
        if op.debtor is not None:
            self.db.execute("INSERT OR IGNORE INTO debts(sale, customer, at) VALUES (?,?,?)", (op.sale, op.debtor, at))
        if op.key is not None and op.device is not None and op.reply is not None:
            self._remember(op.device, op.key, op.actor, filled(op.reply, op.holes, numbers), at, op.fingerprint)
        return numbers

    def _not_annulled(self, rows: tuple[PaymentRow, ...]) -> None:
        """The payments ``rows`` annul (ANL) are still standing. The unique index
        ``payments_one_annul`` refuses a second ANL of a payment; one another unit annulled
        first (a correction, a cancel) is what this unit was decided on changed."""
        for row in rows:
            if row.type == "ANL" and row.refers is not None and self.db.execute(
                    "SELECT 1 FROM payments WHERE refers=? AND type='ANL'", (row.refers,)).fetchone() is not None:
                raise BooksChanged(f"payment {row.refers} was annulled meanwhile")

    def _record_original(self, sale: int, at: str, printed: Printed | None) -> None:
        """The first print of a sale just written (rules/copies.py): counter 1."""
        if printed is not None:
            append_record(self.db, self.heads, "copy", at, copy_record(
                sale=sale, kind=ORIGINAL, counter=1, lane=printed.lane, device=printed.device,
                seller=printed.seller))

    def _record_cancel(self, op: RecordCancel) -> CancelRecorded:
        """The counter-entry of a sale, its payment rows reversed, its stock put back and
        its customers' money given back, in the caller's unit. The unique index on
        ``sales.cancels`` refuses (fails the unit) a second cancel of the same sale."""
        row = self.db.execute("SELECT cancels FROM sales WHERE number=?", (op.original,)).fetchone()
        if row is None:
            raise ValueError(f"sale {op.original} is not a sale that can be cancelled")
        if row[0] is not None:  # a counter-entry itself (the sales actor refuses it first): a fault
            raise ValueError(f"sale {op.original} is a cancel of sale {row[0]}, not a sale that can be cancelled")
        if self.db.execute("SELECT 1 FROM sales WHERE cancels=?", (op.original,)).fetchone() is not None:
            raise BooksChanged(f"sale {op.original} was cancelled meanwhile")
        self._not_annulled(op.rows)
        sale = op.sale
        number, record, digest = insert_sale(self.db, self.heads, sale, cancels=op.original, reason=op.reason,
                                                   approved_by=op.approved_by)
        pnumbers = tuple(
            chain_payment(self.db, self.heads, number, record["at"], prow.mode, prow.amount, prow.reference, type=prow.type,
                                refers=prow.refers, lane=sale.lane, seller=sale.seller, approved_by=op.approved_by,
                                reason=op.reason)
            for prow in op.rows
        )
        self._record_original(number, record["at"], op.printed)
        for move in op.stock:
            self._move_stock(msgspec.structs.replace(move, ref=f"sale:{number}"))
        for move in op.customer_moves:
            if move.ref is None:
                move = msgspec.structs.replace(move, ref=f"sale:{number}")
            self._customers(move)
        if op.key is not None and op.device is not None and op.reply is not None:
            self._remember(op.device, op.key, op.actor, filled(op.reply, op.holes, (number, *pnumbers)), record["at"],
                           op.fingerprint)
        return CancelRecorded(number=number, hash=digest, payments=pnumbers)

    # --- customers (migration 5) -------------------------------------------------------

    def _customers(self, op: PutCustomer | MoveAccount | IssueVoucher | UseVoucher | ReceiveMoney) -> Any:
        match op:
            case PutCustomer(customer=c):
                self.db.execute(
                    "INSERT INTO customers(customer, name, card, business, contact, notes, wallet_enabled,"
                    " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(customer) DO UPDATE SET"
                    " name=excluded.name, card=excluded.card, business=excluded.business, contact=excluded.contact,"
                    " notes=excluded.notes, wallet_enabled=excluded.wallet_enabled, updated_at=excluded.updated_at",
                    (c.customer, c.name, c.card, int(c.business), c.contact, c.notes, int(c.wallet_enabled),
                     iso(op.at), iso(op.at)),
                )
                return None
            case MoveAccount():
                cursor = self.db.execute(
                    "INSERT INTO customer_movements(at, customer, account, delta, kind, ref, mode, lane, device,"
                    " seller, approved_by, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (iso(op.at), op.customer, op.account, str(op.delta), op.kind, op.ref, op.mode, op.lane,
                     op.device, op.seller, op.approved_by, op.reason),
                )
                balance = account_balance(self.db, op.customer, op.account)
                if op.hold is not None and (op.ref is None or op.delta >= 0):
                    raise ValueError(f"a held {op.kind} needs a ref and money taken off, not {op.delta}")
                record, _ = append_record(self.db, self.heads, "account", iso(op.at), account_record(
                    op, self._customer_name(op.customer), balance))
                # Head office's hold on the line (or the offline allowance) settled with it;
                # the row notes the record's number: head office stops counting the hold
                # when that very record is there, not another of the sale's.
                covered = op.payment is not None and op.delta < 0 and hq_holds.settle_spend(
                    self.db, op.lane, op.payment, op.customer, op.account, op.ref, record)
                if op.hold is not None:  # head office's hold of it, settled with the sale (the ref is its)
                    assert op.ref is not None
                    hq_holds.movement_settled(self.db, op.lane or "", op.customer, op.account, -op.delta, op.hold,
                                              f"{op.kind}|{op.ref}", op.at, record)
                if balance < 0 and op.delta < 0 and not covered:
                    # Money taken off that is not there: the customers actor checked it, so
                    # another unit took it first (or a bug): fail the unit rather than write
                    # it. Money put on an account below zero (with head office, spends it
                    # held of money topped up in another shop) takes nothing off: written.
                    raise BooksChanged(f"customer {op.customer}'s {op.account} would be {balance}")
                self._chained("customer_movements", cursor.lastrowid)
                return AccountMoved(seq=cursor.lastrowid, balance=balance)
            case IssueVoucher():
                cursor = self.db.execute(
                    "INSERT INTO vouchers(code, amount, issued_at, valid_until, customer, origin, ref, mode, lane,"
                    " device, seller) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (op.code, str(op.amount), iso(op.at), op.valid_until.isoformat(), op.customer, op.origin,
                     op.ref, op.mode, op.lane, op.device, op.seller),
                )
                append_record(self.db, self.heads, "account", iso(op.at), voucher_issued_record(
                    op, None if op.customer is None else self._customer_name(op.customer)))
                self._chained("vouchers", cursor.lastrowid)
                return None
            case UseVoucher():
                row = self.db.execute("SELECT amount FROM vouchers WHERE code=?", (op.code,)).fetchone()
                # A voucher's amount never changes: one missing or worth less is a fault.
                if row is None or Decimal(row[0]) < op.amount:
                    raise ValueError(f"voucher {op.code} cannot pay {op.amount}")
                # Used by a unit written first: what this one was decided on changed.
                if self.db.execute("SELECT 1 FROM voucher_uses WHERE code=?", (op.code,)).fetchone() is not None:
                    raise BooksChanged(f"voucher {op.code} was used meanwhile")
                # voucher_uses.code is the primary key: a second use fails the unit.
                cursor = self.db.execute(
                    "INSERT INTO voucher_uses(code, at, amount, remainder, ref, lane, device, seller)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (op.code, iso(op.at), str(op.amount), op.remainder, op.ref, op.lane, op.device, op.seller),
                )
                append_record(self.db, self.heads, "account", iso(op.at), voucher_used_record(op))
                self._chained("voucher_uses", cursor.lastrowid)
                return None
            case ReceiveMoney():
                # Chained (the money chain, migration 7) like a payment.
                return chain_money(self.db, self.heads, iso(op.at), op.kind, op.mode, op.amount, op.customer, op.ref,
                                   op.lane, op.device, op.seller)
            case MoveCoupons():
                if op.batch is not None:
                    self._check_coupon_use(op)
                cursor = self.db.execute(
                    "INSERT INTO coupon_movements(at, customer, article, delta, batch, valid_days, ref, lane, device,"
                    " seller) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (iso(op.at), op.customer, op.article, op.delta, op.batch, op.valid_days, op.ref, op.lane,
                     op.device, op.seller),
                )
                return cursor.lastrowid
        raise TypeError(f"not a customer op: {op!r}")

    def _customer_name(self, customer: str) -> str | None:
        row = self.db.execute("SELECT name FROM customers WHERE customer=?", (customer,)).fetchone()
        return None if row is None else row[0]

    def _check_coupon_use(self, op: MoveCoupons) -> None:
        """The customers actor holds coupons before a lane uses them, so a use its batch
        cannot give is a bug: fail the unit rather than use coupons that are not there."""
        credit = self.db.execute("SELECT customer, article, delta, valid_days FROM coupon_movements"
                                 " WHERE seq = ? AND batch IS NULL", (op.batch,)).fetchone()
        if credit is None or credit[:2] != (op.customer, op.article):
            raise ValueError(f"coupon batch {op.batch} is not {op.customer}'s {op.article}")
        used, first = self.db.execute("SELECT -coalesce(sum(delta), 0), min(at) FROM coupon_movements"
                                      " WHERE batch = ?", (op.batch,)).fetchone()
        if op.delta >= 0 or used - op.delta > credit[2]:
            raise ValueError(f"coupon batch {op.batch} has {credit[2] - used} coupons: it cannot give {-op.delta}")
        if credit[3] and first is not None:
            until = shop_day(dt.datetime.fromisoformat(first), self.zone) + dt.timedelta(days=credit[3])
            if shop_day(op.at, self.zone) > until:
                raise ValueError(f"coupon batch {op.batch} expired on {until.isoformat()}")

    def _real(self, stock_point: str, article: str) -> Fraction:
        key = (stock_point, article)
        real = self._levels.get(key)
        if real is None:
            row = self.db.execute(
                "SELECT real FROM stock_levels WHERE stock_point=? AND article=?", key
            ).fetchone()
            real = self._levels[key] = exact(row[0]) if row else Fraction(0)
        return real

    def _move_stock(self, op: MoveStock) -> StockMoved:
        return self._move_stocks([op])[0]

    def _move_stocks(self, ops: list[MoveStock]) -> list[StockMoved]:
        """Write stock movements (in order) with two statements whatever their number:
        the new levels and the movements, each as one JSON array (every SQLite call
        costs a GIL hand-over while the event loop is busy)."""
        levels: list[tuple[str, str, str]] = []
        movements: list[tuple] = []
        moved: list[StockMoved] = []
        for op in ops:
            before = self._real(op.stock_point, op.article)
            delta = exact(op.delta) if op.to is None else exact(op.to) - before
            real = self._levels[(op.stock_point, op.article)] = before + delta
            levels.append((op.stock_point, op.article, to_text(real)))
            movements.append((iso(op.at), op.stock_point, op.article, to_text(delta), op.reason, op.ref, op.device,
                              op.seller, _text(op.unit_cost), op.supplier, op.comment, op.source))
            moved.append(StockMoved(stock_point=op.stock_point, article=op.article, real=real,
                                    delta=None if op.to is None else delta))
        if not ops:
            return moved
        self.db.execute(
            "INSERT INTO stock_levels(stock_point, article, real)"
            " SELECT j.value->>0, j.value->>1, j.value->>2 FROM json_each(?) AS j WHERE true"
            " ON CONFLICT(stock_point, article) DO UPDATE SET real=excluded.real",
            (encode(levels),),
        )
        self.db.execute(
            "INSERT INTO stock_movements(at, stock_point, article, delta, reason, ref, device, seller, unit_cost,"
            " supplier, comment, source) SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4,"
            " j.value->>5, j.value->>6, j.value->>7, j.value->>8, j.value->>9, j.value->>10, j.value->>11"
            " FROM json_each(?) AS j ORDER BY j.key",
            (encode(movements),),
        )
        return moved


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _record_drawer(db: sqlite3.Connection, heads: Heads, op: RecordDrawerMovement | RecordDrawerCount) -> int:
    """Append a drawer movement or a closing count, and its record in the ``drawer``
    chain (same unit); returns its ``seq``."""
    if isinstance(op, RecordDrawerMovement):
        m = op.movement
        cursor = db.execute(
            "INSERT INTO drawer_movements(lane, at, kind, amount, reason, detail, destination, count, seller,"
            " approved_by, device) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (op.lane, iso(m.at), m.kind, str(m.amount), m.reason, m.detail, m.destination, encode(m.count),
             m.seller, m.approved_by, op.device),
        )
        append_record(db, heads, "drawer", iso(m.at), drawer_movement_record(op))
        return cursor.lastrowid
    c = op.counted
    last_movement = db.execute("SELECT coalesce(max(seq), 0) FROM drawer_movements WHERE lane=?",
                               (c.lane,)).fetchone()[0]
    cursor = db.execute(
        "INSERT INTO drawer_counts(lane, at, since, expected, counted, difference, count, seller, device,"
        " last_movement, last_sale, last_money_in, last_payment) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (c.lane, iso(c.at), None if c.since is None else iso(c.since), str(c.expected), str(c.counted),
         str(c.difference), encode(c.count), c.seller, op.device, last_movement, c.last_sale, c.last_money_in,
         c.last_payment),
    )
    append_record(db, heads, "drawer", iso(c.at), drawer_count_record(op))
    return cursor.lastrowid


def _access(db: sqlite3.Connection, op: PutPinRecord | PutResume | DropResume | TouchResume | SeenDevice) -> None:
    """Wrong-PIN counts, resume secrets and devices' last contact (migration 11)."""
    match op:
        case PutPinRecord(record=None):
            db.execute("DELETE FROM pin_failures WHERE scope=? AND name=?", (op.scope, op.name))
        case PutPinRecord(record=record):
            db.execute(
                "INSERT INTO pin_failures(scope, name, failures, lockouts, locked_until, last_failure)"
                " VALUES (?,?,?,?,?,?) ON CONFLICT(scope, name) DO UPDATE SET failures=excluded.failures,"
                " lockouts=excluded.lockouts, locked_until=excluded.locked_until,"
                " last_failure=excluded.last_failure",
                (op.scope, op.name, record.failures, record.lockouts, _iso_or_none(record.locked_until),
                 _iso_or_none(record.last_failure)),
            )
        case PutResume():
            if op.expired_before is not None:
                db.execute("DELETE FROM resume_secrets WHERE last_used < ?", (iso(op.expired_before),))
            db.execute("INSERT INTO resume_secrets(secret_hash, device, seller, created_at, last_used)"
                       " VALUES (?,?,?,?,?)", (op.secret_hash, op.device, op.seller, iso(op.at), iso(op.at)))
        case DropResume():
            db.execute("DELETE FROM resume_secrets WHERE secret_hash=?", (op.secret_hash,))
        case TouchResume():
            db.executemany("UPDATE resume_secrets SET last_used=? WHERE secret_hash=?",
                           ((iso(op.at), h) for h in op.secret_hashes))
        case SeenDevice():
            db.execute("UPDATE devices SET last_seen=? WHERE device=?", (iso(op.at), op.device))


def _iso_or_none(at: dt.datetime | None) -> str | None:
    return None if at is None else iso(at)


def _print_job(db: sqlite3.Connection, op: QueuePrintJob | PrintJobCrashed | PrintJobDone) -> int | None:
    """The printers' durable queues: a job queued (returns its ``id``), crashed on, or done."""
    match op:
        case QueuePrintJob():
            cursor = db.execute("INSERT INTO print_jobs(printer, name, data, queued_at) VALUES (?,?,?,?)",
                                (op.printer, op.name, op.data, iso(op.at)))
            return cursor.lastrowid
        case PrintJobCrashed():
            db.execute("UPDATE print_jobs SET crashes = crashes + 1 WHERE id=?", (op.id,))
        case PrintJobDone():
            db.execute("DELETE FROM print_jobs WHERE id=?", (op.id,))
    return None
