"""The documents actor: quotes, customer orders and delivery notes, shop-wide.

The one owner of the documents (rules/documents.py): it numbers each kind in its own
gapless series (its fiscal chain, ``fiscal_records``: a document's number is its
record's number). It is the only writer of ``quote``, ``order``, ``delivery_note``,
``deposit_invoice`` and ``document``, so it numbers their records itself from the heads
read at start. Not of ``credit_note``: a lane writes one for a return billed to a
customer (actors/lane_receipts.py), so a refund's credit note takes the number the
journal gave it (``ChainAppended``), put in its remembered reply by the writer in
the same unit. It writes every change of a document as a record of the ``document``
chain, and tells each stock point what the open orders hold back (reservations under
the holder ``documents``: available falls, real does not, every lane of the point sees
it).

A lane turning its ticket into a document, or recalling one into its ticket, hands
its own ops (the ticket emptied or filled) to this actor, which commits them in the
same unit as the document's records: a kill -9 leaves both or neither. At start the
documents are read back from their chains (their state from the ``document`` chain).

Idempotency (actors/replies.py): a keyed request that makes or changes a document has
its reply journaled in the document's own unit — the lane's (``IssueDocument.reply_to``,
or a ``Remember`` among the ``CloseDocuments`` ops: the lane answers the retry from its
replies) or this actor's own for ``document_cancel`` (``replies``, actor ``documents``).
The same key again gets the first reply and applies nothing, after a kill -9 too; the
same key for another request is ``conflict`` (``key_reused``).

Once a document, a deposit invoice or a refund's credit note is durable, the invoices
actor is told to write its A4 PDF (``RenderDocument``, never waited on: a full mailbox
leaves it to the ``document_pdf`` request, which renders a missing one).
"""

from __future__ import annotations

from typing import Any

import msgspec
import trio

from laneserver.actors.documents_messages import (
    CancelDocument,
    CloseDocuments,
    DocumentCancelled,
    DocumentMade,
    DocumentsNow,
    DocumentsResult,
    FindDocument,
    IssueDocument,
    ListDocuments,
)
from laneserver.actors.invoice_messages import RenderDocument
from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.messages import Caller, Do
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.actors.stock_messages import Moved, Reserve
from laneserver.clock import Clock
from laneserver.log import get_logger
from laneserver.rules import documents as rules
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.store.fiscal import records
from laneserver.store.ops import (
    ChainAppended,
    ChainRecord,
    MoveStock,
    ReceiveMoney,
    Remember,
)

#: The stock points' holder name for the open orders' reservations.
HOLDER = "documents"


def load(db) -> tuple[dict[tuple[str, int], rules.Opened], dict[str, int]]:
    """The documents and the last number of each chain, from ``fiscal_records``."""
    found: dict[tuple[str, int], rules.Opened] = {}
    heads: dict[str, int] = {}
    for kind in rules.KINDS:
        for row in records(db, rules.SERIES[kind].chain):
            record = dict(row.record)
            document = rules.from_record(kind, record)
            found[(kind, row.number)] = rules.Opened(document)
            heads[kind] = row.number
    for chain in ("deposit_invoice", rules.EVENT_CHAIN):
        heads[chain] = db.execute("SELECT coalesce(max(number), 0) FROM fiscal_records WHERE chain=?",
                                  (chain,)).fetchone()[0]
    for row in records(db, rules.EVENT_CHAIN):
        key = rules.parse_document(str(row.record.get("document", "")))
        if key is not None and key in found:
            found[key] = rules.status_after(found[key], row.record)
    return found, heads


class DocumentsActor:
    def __init__(self, *, journal: Address, clock: Clock, points: dict[str, Address], takes: Any,
                 invoices: Address | None = None) -> None:
        self.journal = journal
        self.invoices = invoices  # writes the documents' PDFs (actors/invoices.py)
        self.clock = clock
        self.points = points
        self.takes = takes  # (article, qty) → what it takes from stock (rules/stock.py StockTakes)
        self.documents: dict[tuple[str, int], rules.Opened] = {}
        self.heads: dict[str, int] = {}
        self.replies = ReplyMemory("documents", DocumentsResult)  # document_cancel's
        self.log = get_logger("documents")

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.documents, self.heads = await read(self.journal, load)
        await self.replies.load(self.journal, self.clock.now())
        await self._report_reservations()
        task_status.started()
        self.log.info("documents_started", documents=len(self.documents))
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case IssueDocument():
                        envelope.reply(await self._issue(envelope.command))
                    case FindDocument(kind=kind, number=number):
                        envelope.reply(self.documents.get((kind, number)))
                    case CloseDocuments():
                        envelope.reply(await self._close(envelope.command))
                    case ListDocuments():
                        envelope.reply(self._list(envelope.command))
                    case Do(caller=caller, command=command, key=key, fingerprint=fingerprint):
                        envelope.reply(await self._do(caller, command, key, fingerprint))
                    case other:
                        raise TypeError(f"documents got {other!r}")

    # --- making one -----------------------------------------------------------------

    def _next(self, chain: str) -> int:
        return self.heads.get(chain, 0) + 1

    async def _issue(self, command: IssueDocument) -> rules.Document | Refused:
        document = command.document
        kind = document.kind
        number = self._next(kind)
        now = document.at
        document = msgspec.structs.replace(document, number=number)
        ops: list[Any] = [ChainRecord(chain=rules.SERIES[kind].chain, at=now, record=rules.document_record(document))]
        invoice_number = None
        if kind == "order" and document.deposit > 0:
            invoice = invoice_number = self._next("deposit_invoice")
            document = msgspec.structs.replace(document, deposit_invoice=invoice)
            ops[0] = ChainRecord(chain="order", at=now, record=rules.document_record(document))
            ops.append(ChainRecord(chain="deposit_invoice", at=now, record=rules.deposit_invoice_record(document)))
            ops += [ReceiveMoney(at=now, kind="order_deposit", mode=p.mode, amount=p.amount,
                                 customer=document.customer, ref=document.name, lane=document.lane,
                                 device=command.device, seller=document.seller)
                    for p in document.deposit_payments]
        for article, qty in command.stock:  # a delivery note: real stock out, no sale
            ops.append(MoveStock(at=now, stock_point=document.stock_point, article=article, delta=-qty,
                                 reason="delivery_note", ref=document.name, device=command.device,
                                 seller=document.seller, source=f"lane:{document.lane}"))
        asked = command.reply_to
        if asked is not None:  # the lane's reply, remembered with the document it names
            ops.append(Remember(device=asked.device, key=asked.key, actor=asked.actor, fingerprint=asked.fingerprint,
                                reply=ReplyMemory.stored(DocumentMade(document, asked.now)), at=now))
        written = await self._commit(ops + list(command.ops))
        if isinstance(written, Refused):
            return written
        misnumbered = [(op.chain, result.number) for op, result in zip(ops, written)
                       if isinstance(op, ChainRecord) and isinstance(result, ChainAppended)
                       and result.number != (invoice_number if op.chain == "deposit_invoice" else number)]
        if misnumbered:  # another writer of a chain this actor numbers itself: a bug to see in the log
            self.log.error("document_misnumbered", document=document.name, given=misnumbered)
        self.heads[kind] = number
        if document.deposit_invoice is not None and kind == "order":
            self.heads["deposit_invoice"] = document.deposit_invoice
        self.documents[(kind, number)] = rules.Opened(document)
        if kind == "order":
            await self._reserve(document.stock_point)
        point = self.points.get(document.stock_point)
        if point is not None:
            for article, qty in command.stock:
                await point.tell(Moved(article, -qty))
        self.log.info("document_made", document=document.name, total=str(document.total),
                      deposit=str(document.deposit))
        self._render(kind, number)
        if kind == "order" and document.deposit_invoice is not None:
            self._render("deposit_invoice", document.deposit_invoice)
        return document

    def _render(self, kind: str, number: int) -> None:
        """The document's PDF, written by the invoices actor; never waits."""
        if self.invoices is not None and not self.invoices.tell_nowait(RenderDocument(kind, number)):
            self.log.warning("document_render_deferred", document=rules.name(kind, number))

    async def _commit(self, ops: list[Any]) -> tuple[Any, ...] | Refused:
        try:
            results = await commit(self.journal, *ops)
        except CommitFailed as error:
            log_commit_failed(self.log, error)
            # A keyed request's key this device used for another request: ``conflict``, ``key_reused``.
            kept = (op.remember if isinstance(op, ChainRecord) else op for op in ops)
            key = next((op.key for op in kept if isinstance(op, Remember)), None)
            return ReplyMemory.failed_result(error, key, "the document could not be saved; nothing was changed, "
                                                        "try again", Code.UNAVAILABLE)
        for op, result in zip(ops, results):
            if isinstance(op, ChainRecord) and isinstance(result, ChainAppended):
                self.heads[op.chain] = max(self.heads.get(op.chain, 0), result.number)
        return results

    # --- recalling, invoicing, cancelling -------------------------------------------

    async def _close(self, command: CloseDocuments) -> tuple[rules.Opened, ...] | Refused:
        found: list[rules.Opened] = []
        for key in command.documents:
            opened = self.documents.get(key)
            if opened is None:
                return refused(Code.NOT_FOUND, f"no document {rules.name(*key)}", document=rules.name(*key))
            if opened.status != "open":
                return refused(Code.CONFLICT, f"{opened.document.name} is {opened.status}",
                               document=opened.document.name, status=opened.status)
            found.append(opened)
        now = self.clock.now()
        ops: list[Any] = [ChainRecord(chain=rules.EVENT_CHAIN, at=now,
                                      record=rules.event_record(o.document, command.event, lane=command.lane,
                                                                seller=command.seller))
                          for o in found]
        written = await self._commit(ops + list(command.ops))
        if isinstance(written, Refused):
            return written
        closed = []
        for op, opened in zip(ops, found):
            after = rules.status_after(opened, op.record)
            self.documents[(opened.document.kind, opened.document.number)] = after
            closed.append(after)
        for point in {o.document.stock_point for o in found if o.document.kind == "order"}:
            await self._reserve(point)
        return tuple(closed)

    async def _do(self, caller: Caller, command: Any, key: str | None, fingerprint: str | None) -> Any:
        first = self.replies.answered(caller.device, key, fingerprint, command)
        if first is not None:  # a retry: the first reply, nothing applied again (key_reused); or the edge's refusal
            return first
        match command:
            case ListDocuments():
                return self._list(command)
            case CancelDocument():
                done = await self._cancel(caller, command, key, fingerprint)
                if not isinstance(done, Refused):
                    self.replies.remember_result(caller.device, key, fingerprint, done)
                return done
        return refused(Code.BAD_REQUEST, "not a documents request")

    async def _cancel(self, caller: Caller, command: CancelDocument, key: str | None = None,
                      fingerprint: str | None = None) -> DocumentCancelled | Refused:
        opened = self.documents.get((command.kind, command.number))
        if opened is None:
            return refused(Code.NOT_FOUND, f"no document {rules.name(command.kind, command.number)}")
        refusal = rules.cancel_refusal(opened, command.deposit)
        if refusal is not None:
            return refusal
        document = opened.document
        now = self.clock.now()
        outcome = command.deposit if document.deposit > 0 else None
        event = rules.event_record(document, "cancelled", lane=caller.lane or document.lane,
                                   seller=caller.seller or "", deposit=outcome,
                                   approved_by=caller.approved_by)
        ops: list[Any] = [ChainRecord(chain=rules.EVENT_CHAIN, at=now, record=event)]
        after = rules.status_after(opened, event)
        done = DocumentCancelled(after, None, document.deposit if outcome == "refund" else rules.ZERO)
        remember = None
        if key is not None:  # its reply, in the cancel's unit
            remember = Remember(device=caller.device, key=key, actor=self.replies.actor, fingerprint=fingerprint,
                                reply=ReplyMemory.stored(done), at=now)
        if outcome == "refund":
            # Its number is the writer's, never guessed here: lanes write credit notes too
            # (a return billed to a customer, actors/lane_receipts.py). The reply to
            # remember gets it in the same unit (``holes``), the one sent back from the result.
            ops.append(ChainRecord(chain="credit_note", at=now, record={
                "refers": rules.name("deposit_invoice", document.deposit_invoice or 0), "order": document.name,
                "customer": document.customer, "amount": str(-document.deposit), "reason": "order cancelled"},
                remember=remember, holes=((0, ("credit_note",)),)))
            remember = None
            # Given back in the modes it was paid in (a card refund is made on the terminal).
            ops += [ReceiveMoney(at=now, kind="order_deposit_refund", mode=p.mode, amount=-p.amount,
                                 customer=document.customer, ref=document.name, lane=caller.lane or document.lane,
                                 device=caller.device, seller=caller.seller)
                    for p in document.deposit_payments]
        if remember is not None:
            ops.append(remember)
        written = await self._commit(ops)
        if isinstance(written, Refused):
            return written
        credit_note = next((r.number for r in written if isinstance(r, ChainAppended) and r.chain == "credit_note"),
                           None)
        done = msgspec.structs.replace(done, credit_note=credit_note)
        self.documents[(document.kind, document.number)] = after
        if document.kind == "order":
            await self._reserve(document.stock_point)
        self.log.info("document_cancelled", document=document.name, deposit=outcome)
        if credit_note is not None:
            self._render("credit_note", credit_note)
        return done

    def _list(self, command: ListDocuments) -> DocumentsNow:
        shown = []
        for (kind, _), opened in sorted(self.documents.items(), key=lambda item: (item[0][0], item[0][1])):
            if command.kind is not None and kind != command.kind:
                continue
            if command.open is not None and (opened.status == "open") != command.open:
                continue
            if command.due_by is not None and not rules.due_today(opened, command.due_by):
                continue
            shown.append(opened)
        return DocumentsNow(tuple(shown), command.today)

    # --- stock -------------------------------------------------------------------------

    async def _reserve(self, stock_point: str) -> None:
        point = self.points.get(stock_point)
        if point is not None:
            held = rules.reservation(list(self.documents.values()), stock_point, self.takes)
            await point.tell(Reserve(HOLDER, held))

    async def _report_reservations(self) -> None:
        for stock_point in self.points:
            await self._reserve(stock_point)
