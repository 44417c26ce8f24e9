"""A lane's receipts and invoices: the part of a lane that prints a sale's receipt,
keeps its last sales' receipts for the till's screen, bills a sale to a business
customer (a return billed to one: its credit note) and has the invoice's PDF written.

Not an actor of its own: the lane actor owns it (actors/lane.py) and calls it from its
plan's steps (actors/lane_steps.py: ``Bill`` before the commit, ``PrintReceipt`` and
``WriteInvoice`` after it) and when a sale is written. What a receipt or an invoice
shows is built by pure functions (rules/sale_receipt.py, rules/invoice.py); this part
only fetches what they need (the customer, from the customers actor) and hands the
result on (the printer, the invoices actor), never waiting on a slow one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec

from laneserver.actors.customers_messages import FindCustomer
from laneserver.actors.invoice_messages import RenderInvoice
from laneserver.actors.journal import ReadFailed, read
from laneserver.actors.lane_messages import IssuedVoucher
from laneserver.actors.lane_payments import find_customer
from laneserver.actors.messages import Caller
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.config import Config
from laneserver.rules import documents, lane_plan
from laneserver.rules import invoice as invoices
from laneserver.rules import lane as rules
from laneserver.rules import payment as payments
from laneserver.rules.catalog import Article
from laneserver.rules.copies import signature
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.receipt import Receipt
from laneserver.rules.sale_receipt import sale_receipt
from laneserver.store.documents import invoice_of_return
from laneserver.store.ops import ChainRecord, IssueVoucher, Printed, SaleRecorded

#: How many of its last sales' receipts a lane keeps for ``receipt`` (the till asks right after finish).
RECEIPTS_KEPT = 20


@dataclass(frozen=True, slots=True)
class Written:
    """A sale the journal wrote, as the tells after it need it."""

    sale: rules.SaleCompleted
    recorded: SaleRecorded
    vouchers: tuple[IssuedVoucher, ...]
    invoice: invoices.Invoice | None


def remainder_vouchers(moves: tuple[Any, ...]) -> tuple[IssuedVoucher, ...]:
    """The vouchers a sale issues for what used vouchers did not pay (for its reply)."""
    return tuple(
        IssuedVoucher(code=m.code, amount=m.amount, valid_until=m.valid_until, origin=m.origin, issued_at=m.at,
                      customer=m.customer)
        for m in moves if isinstance(m, IssueVoucher)
    )


class LaneReceipts:
    """One lane's receipts and invoices (owned by its ``LaneActor``)."""

    def __init__(self, lane: str, *, config: Config, journal: Address, policy: payments.Policy, zone: dt.tzinfo,
                 article: Callable[[str], Article | None], printer: Address | None, invoices: Address | None,
                 customers: Address | None, log: Any) -> None:
        self.lane = lane
        self.config = config
        self.journal = journal
        self.policy = policy
        self.zone = zone
        self.article = article
        self.printer = printer
        self.invoices = invoices  # the invoices actor: writes an invoice's PDF off the lane's task
        self.customers = customers
        self.log = log
        self._kept: dict[int, Receipt] = {}  # the last sales' receipts, for the till's screen

    def kept(self, number: int) -> Receipt | None:
        """The receipt of the lane's sale ``number``, if it is one of its last few."""
        return self._kept.get(number)

    def keep(self, written: Written) -> None:
        """A sale's receipt, for the till's screen (``receipt``): the last few sales' only."""
        self._kept[written.recorded.number] = self.receipt(written, local=True)
        while len(self._kept) > RECEIPTS_KEPT:
            del self._kept[next(iter(self._kept))]

    def printed(self, plan: lane_plan.Plan, caller: Caller) -> Printed | None:
        """Whether the sale's receipt is printed after its commit: then the sale's unit
        writes its first print in the ``copy`` chain (rules/copies.py), counter 1."""
        if self.printer is None or not any(isinstance(t, lane_plan.PrintReceipt) for t in plan.tells):
            return None
        return Printed(lane=self.lane, device=caller.device, seller=caller.seller)

    def _ticket_text(self, article_id: str) -> str:
        """The text the catalog prints under an article's lines ("" for none)."""
        article = self.article(article_id)
        return article.ticket_text if article is not None else ""

    async def print(self, written: Written) -> None:
        """The sale's receipt to the lane's printer (rules/sale_receipt.py)."""
        if self.printer is None:
            return
        number = written.recorded.number
        receipt = self.receipt(written)
        # The printer's mailbox is drained into its own job queue at once, so
        # this waits at most for a moment; a printer that is down keeps the job.
        await self.printer.tell(PrintReceipt(job=f"sale-{number}", receipt=receipt))

    def receipt(self, written: Written, *, local: bool = False) -> Receipt:
        """The sale's receipt (rules/sale_receipt.py); ``local``: its time in the shop's
        zone, as the printer prints it (the finish reply carries its text)."""
        shop = self.config.shop
        receipt = sale_receipt(written.sale, number=written.recorded.number, shop_name=shop.name, header=shop.header,
                               footer=shop.footer, policy=self.policy, vouchers=written.vouchers,
                               balances=written.recorded.balances, invoice=written.recorded.invoice,
                               signature=signature(written.recorded.hash), ticket_text=self._ticket_text)
        if local:
            receipt = msgspec.structs.replace(receipt, at=receipt.at.astimezone(self.zone))
        return receipt

    # --- invoices (business customers; rules/invoice.py) -------------------------------

    async def invoice(self, sale: rules.SaleCompleted, customer: str) -> invoices.Invoice | Refused:
        """What the sale's invoice shows: the customer as the directory has them now."""
        found = await find_customer(self.customers, FindCustomer(customer=customer))
        if isinstance(found, Refused):
            return found
        if found is None:
            return refused(Code.NOT_FOUND, f"no customer {customer!r}", field="customer")
        shop = self.config.shop
        return invoices.make_invoice(
            # Its date: the shop's (timestamps are UTC).
            lines=sale.lines, at=sale.at.astimezone(self.zone), lane=sale.lane, seller=sale.seller,
            customer=found.customer,
            customer_name=found.name, customer_contact=found.contact, shop_name=shop.name, header=shop.header,
            payments=tuple(invoices.InvoicePayment(payments.invoice_label(self.policy, p), p.amount)
                           for p in sale.payments),
            change=sale.change, rounding=sale.rounding, due=sale.due,
        )

    async def credit_note(self, sale: rules.SaleCompleted, now: dt.datetime) -> ChainRecord | Refused:
        """A return billed to a customer: its credit note, referring to the customer's
        invoice of what is returned (rules/documents.py), to write in the sale's unit."""
        assert sale.customer is not None
        returned = frozenset(l.article for l in sale.lines if l.qty < 0 and l.article is not None)
        try:
            names = frozenset(l.name for l in sale.lines if l.qty < 0)
            refers = await read(self.journal, partial(invoice_of_return, customer=sale.customer,
                                                      articles=returned, names=names))
        except (ReadFailed, ActorFailed):
            return refused(Code.UNAVAILABLE, "the invoices could not be read; nothing was changed, try again")
        return ChainRecord(chain="credit_note", at=now, record=documents.credit_note_record(
            customer=sale.customer, lane=self.lane, seller=sale.seller, lines=sale.lines, total=sale.total,
            refers=refers))

    def write_invoice(self, written: Written) -> None:
        """The invoice's PDF, written by the invoices actor (actors/invoices.py) off the
        lane's task once the sale is durable. Never waits: a full mailbox (or no
        invoices actor: tests) leaves it to the ``invoice`` request, which renders a
        missing PDF from the database."""
        invoice, number = written.invoice, written.recorded.invoice
        if self.invoices is None or invoice is None or number is None:
            return
        invoice = msgspec.structs.replace(invoice, number=number, sale=written.recorded.number)
        if not self.invoices.tell_nowait(RenderInvoice(invoice)):
            self.log.warning("invoice_render_deferred", invoice=number, sale=written.recorded.number)
