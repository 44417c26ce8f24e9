"""A lane's documents: the part of a lane that turns its open ticket into a quote, an
order or a delivery note, or a recalled quote or order (or delivery notes to invoice)
into its open ticket, and prints a document's slip.

Not an actor of its own: the lane actor owns it (actors/lane.py ``_document``, which
runs the change's plan like any other). The documents themselves belong to the
documents actor (actors/documents.py): this part asks it for the documents to recall
and hands it the lane's new state to write in the same unit as the document's records
(``IssueDocument``, ``CloseDocuments``). What a document is and whether it may be
recalled is decided in rules/documents.py; its slip is built in
rules/document_receipt.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from laneserver.actors.customers_messages import FindCustomer
from laneserver.actors.documents_messages import (
    CloseDocuments,
    FindDocument,
    InvoiceNotes,
    IssueDocument,
    MakeDocument,
    RecallDocument,
    ReplyTo,
)
from laneserver.actors.lane_payments import find_customer
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock, shop_day
from laneserver.config import Config
from laneserver.rules import documents
from laneserver.rules import lane as rules
from laneserver.rules.document_receipt import document_receipt
from laneserver.rules.outcome import Code, Refused, refused


class LaneDocuments:
    """One lane's way to the documents actor (owned by its ``LaneActor``)."""

    def __init__(self, lane: str, *, config: Config, documents: Address, customers: Address | None,
                 printer: Address | None, clock: Clock, zone: dt.tzinfo, stock_point: str,
                 takes: Callable[[str, Any], Iterable[tuple[str, Any]]]) -> None:
        self.lane = lane
        self.config = config
        self.documents = documents  # quotes, orders, delivery notes (actors/documents.py)
        self.customers = customers
        self.printer = printer
        self.clock = clock
        self.zone = zone
        self.stock_point = stock_point
        self.takes = takes  # what selling a quantity takes from stock (rules/stock.py StockTakes)

    async def opened(self, state: rules.LaneState, command: MakeDocument | RecallDocument | InvoiceNotes,
                     now: dt.datetime) -> tuple[documents.Document | None, rules.Ticket] | Refused:
        """The document the open ticket makes (and the empty ticket it leaves), or the
        ticket a recalled document becomes (no document made); or the refusal."""
        if isinstance(command, MakeDocument):
            made = documents.issue(
                state.ticket, kind=command.kind, at=now, lane=self.lane, seller=command.seller,
                stock_point=self.stock_point, zone_day=shop_day(now, self.zone), valid_months=command.valid_months,
                deposit=command.deposit, due=command.due, delivery=command.delivery, address=command.address,
                shipping=command.shipping)
            if isinstance(made, Refused):
                return made
            return made, rules.Ticket()
        found = await self._to_recall(state, command)
        if isinstance(found, Refused):
            return found
        return None, found

    async def _to_recall(self, state: rules.LaneState, command: RecallDocument | InvoiceNotes) -> rules.Ticket | Refused:
        """The ticket a recalled quote or order, or delivery notes to invoice, become."""
        if not state.ticket.is_empty:
            return refused(Code.CONFLICT, "the open ticket is not empty: finish or hold it before recalling a document")
        wanted = ((command.kind, command.number),) if isinstance(command, RecallDocument) else tuple(
            ("delivery_note", n) for n in command.notes)
        today = shop_day(self.clock.now(), self.zone)  # a quote is recalled through its last valid day
        found = []
        for kind, number in wanted:
            try:
                opened = await self.documents.ask(FindDocument(kind, number))
            except ActorFailed:
                return refused(Code.UNAVAILABLE, "the documents did not answer; nothing was changed, try again")
            if opened is None:
                return refused(Code.NOT_FOUND, f"no document {documents.name(kind, number)}",
                               document=documents.name(kind, number))
            refusal = documents.recall_refusal(opened, today)
            if refusal is not None:
                return refusal
            found.append(opened.document)
        business = False
        customer = found[0].customer
        if customer is not None and self.customers is not None:
            who = await find_customer(self.customers, FindCustomer(customer=customer))
            if isinstance(who, Refused):
                return who
            business = who is not None and who.business
        if isinstance(command, InvoiceNotes) or found[0].kind == "delivery_note":
            return documents.notes_ticket(tuple(found), command.seller, business)
        ticket = documents.recalled_ticket(found[0], command.seller)
        return msgspec.structs.replace(ticket, business=business, opened_at=self.clock.now())

    async def write(self, command: MakeDocument | RecallDocument | InvoiceNotes, made: documents.Document | None,
                    ops: tuple[Any, ...], device: str, reply_to: ReplyTo | None) -> Any:
        """The documents actor writes the change: a document issued (with what a delivery
        note takes from stock) or the recalled documents closed, with the lane's ``ops``
        in the same unit. Its answer (the document issued), or its refusal.

        The documents actor failing on it after its unit was committed (telling a stock
        point, say) leaves the document and the lane's new ticket written: the lane then
        fails too (``ActorFailed`` raised), so its supervisor starts it again from what
        the journal holds; replying "nothing was changed" and keeping the old ticket
        would be a lie. Only a failure that cannot have applied it is ``unavailable``."""
        try:
            if isinstance(command, MakeDocument):
                assert made is not None
                return await self.documents.ask(IssueDocument(made, ops, documents.delivered_stock(made, self.takes),
                                                              device, reply_to))
            keys = ((command.kind, command.number),) if isinstance(command, RecallDocument) else tuple(
                ("delivery_note", n) for n in command.notes)
            event = "recalled" if isinstance(command, RecallDocument) and command.kind != "delivery_note" \
                else "invoiced"
            return await self.documents.ask(CloseDocuments(keys, event, self.lane, command.seller, ops))
        except ActorFailed as failed:
            if failed.maybe_applied:
                raise
            return refused(Code.UNAVAILABLE, "the documents did not answer; nothing was changed, try again")

    async def print(self, document: documents.Document) -> None:
        """A document on the lane's receipt printer (rules/document_receipt.py)."""
        if self.printer is None:
            return
        shop = self.config.shop
        receipt = document_receipt(document, lane=self.lane, shop_name=shop.name, header=shop.header,
                                   footer=shop.footer, zone=self.zone)
        await self.printer.tell(PrintReceipt(job=f"document-{document.name}", receipt=receipt))
