"""Documents at the edge (rules/documents.py): wire requests in, frames out.

``lane_command`` builds the lane's command for ``quote``, ``order``,
``delivery_note`` and ``document_invoice`` (the lane turns its ticket into a
document, or delivery notes into its ticket); ``scanned`` says whether a scanned code
is a document's barcode (``D`` + the kind's letter + digits: the lane recalls it);
``handle`` asks the documents actor for ``documents`` (with the shop's day: an open
quote past it shows ``expired``) and ``document_cancel`` (keyed: a retry gets the first
reply, actors/documents.py);
``pdf`` answers ``document_pdf`` (a document's A4 PDF, made from its chain record in a
worker thread, kept in the data folder's ``documents`` folder).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import trio

from laneserver.actors import document_pdfs
from laneserver.actors.documents_messages import (
    CancelDocument,
    DocumentCancelled,
    DocumentMade,
    DocumentsNow,
    InvoiceNotes,
    ListDocuments,
    MakeDocument,
    RecallDocument,
)
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import Address
from laneserver.clock import shop_day, shop_zone
from laneserver.hw.document_pdf import read_or_write_document
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.rules import document_print
from laneserver.rules import documents as rules
from laneserver.rules.money import BadValue, fmt_money, fmt_qty, parse_money
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.server import outcomes
from laneserver.server.ticket_frames import ticket_json

log = get_logger("session")


def scanned(code: str, seller: str) -> RecallDocument | None:
    """A scanned document barcode as the lane's recall, or None (not one)."""
    found = rules.parse_barcode(code)
    return None if found is None else RecallDocument(seller, *found)


def lane_command(request: wire.Request, seller: str) -> Any:
    """The lane command for a document verb, or its ``Refused``."""
    match request:
        case wire.Quote(valid_months=months):
            return MakeDocument(seller=seller, kind="quote", valid_months=months)
        case wire.Order():
            return MakeDocument(seller=seller, kind="order", delivery=request.delivery, address=request.address,
                                deposit=None if request.deposit is None else parse_money(request.deposit, "deposit"),
                                shipping=None if request.shipping is None else parse_money(request.shipping,
                                                                                           "shipping"),
                                due=None if request.due is None else _date(request.due, "due"))
        case wire.DeliveryNote():
            return MakeDocument(seller=seller, kind="delivery_note")
        case wire.DocumentInvoice(documents=names):
            numbers = []
            for raw in names:
                found = rules.parse_document(raw)
                if found is None or found[0] != "delivery_note":
                    return refused(Code.BAD_REQUEST, f"{raw!r} is not a delivery note's barcode or number",
                                   field="documents")
                numbers.append(found[1])
            if not numbers or len(set(numbers)) != len(numbers):
                return refused(Code.BAD_REQUEST, "name each delivery note once", field="documents")
            return InvoiceNotes(seller, tuple(numbers))
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a document request")


def _date(raw: str, field: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadValue(f"{field} must be a date (YYYY-MM-DD), got {raw!r}") from None


async def handle(documents: Address, caller: Caller, request: wire.Request, shop: Any) -> bytes:
    try:
        command = _command(request, shop)
    except BadValue as error:
        command = refused(Code.BAD_REQUEST, str(error))
    # A keyed refusal goes to the actor all the same: a retry of what it answered gets that answer.
    return await outcomes.ask(documents, caller, request, command, answer, keyed_refusals_asked=True)


def _command(request: wire.Request, shop: Any) -> Any:
    match request:
        case wire.Documents(kind=kind, open=is_open, due=due):
            today = shop_day(shop.clock.now(), shop_zone(shop.config.shop.timezone))
            due_by = None
            if due is not None:
                due_by = today if due == "today" else _date(due, "due")
            return ListDocuments(kind, is_open, due_by, today)
        case wire.DocumentCancel(document=raw, deposit=deposit):
            found = rules.parse_document(raw)
            if found is None:
                return refused(Code.BAD_REQUEST, f"{raw!r} is not a document's barcode or number", field="document")
            return CancelDocument(found[0], found[1], deposit)
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a documents request")


def answer(request: wire.Request, result: Any) -> bytes:
    match result:
        case DocumentMade(document=document, now=now):
            return encode(wire.DocumentOk(re=request.id, document=view(rules.Opened(document)), ticket=ticket_json(now)))
        case DocumentsNow(documents=found, today=today):
            return encode(wire.DocumentsOk(re=request.id, documents=[view(o, today) for o in found],
                                           day=None if today is None else today.isoformat()))
        case DocumentCancelled(document=opened, credit_note=credit_note, refunded=refunded):
            return encode(wire.DocumentCancelledOk(
                re=request.id, document=view(opened), refunded=fmt_money(refunded),
                credit_note=None if credit_note is None else rules.name("credit_note", credit_note)))
    if isinstance(result, Refused):
        raise TypeError("refusals are framed by outcomes.ask")
    raise TypeError(f"documents answered {result!r}")


def view(opened: rules.Opened, today: dt.date | None = None) -> wire.DocumentView:
    """A document as the wire shows it; ``expired`` on ``today`` (the shop's day) when given."""
    d = opened.document
    return wire.DocumentView(
        kind=d.kind, number=d.number, name=d.name, barcode=d.barcode, status=opened.status,
        at=d.at.isoformat(), lane=d.lane, seller=d.seller, total=fmt_money(d.total), deposit=fmt_money(d.deposit),
        left_to_pay=fmt_money(rules.left_to_pay(d)), customer=d.customer,
        lines=[wire.DocumentLineView(name=l.name, qty=fmt_qty(l.qty), unit_price=fmt_money(l.unit_price),
                                     vat_rate=str(l.vat_rate), total=fmt_money(l.total), article=l.article)
               for l in d.lines],
        deposit_invoice=None if d.deposit_invoice is None else rules.name("deposit_invoice", d.deposit_invoice),
        valid_until=None if d.valid_until is None else d.valid_until.isoformat(),
        due=None if d.due is None else d.due.isoformat(), delivery=d.delivery, address=d.address,
        deposit_outcome=opened.deposit_outcome,
        expired=today is not None and rules.expired(opened, today),
    )


async def pdf(shop: Any, request: wire.DocumentPdf) -> bytes:
    """``document_pdf``: the document's A4 PDF (base64), made from its chain record
    (rules/document_print.py) in a worker thread; the file is kept and served again."""
    found = document_print.kind_of(request.document)
    if found is None:
        return error_frame(request, wire.Code.BAD_REQUEST,
                           f"{request.document[:40]!r} is not a document's barcode or number (Q-, O-, L-, C-, A-)",
                           field="document")
    kind, number = found
    name = rules.name(kind, number)
    made = await document_pdfs.printed(shop.journal, shop.config, kind, number)
    if made is None:
        return error_frame(request, wire.Code.NOT_FOUND, f"no document {name}", field="document")
    printed, records = made
    assert shop.data_folder is not None  # run_shop sets it
    try:
        data = await trio.to_thread.run_sync(read_or_write_document, printed, shop.data_folder)
    except OSError as error:
        log.error("document_pdf_failed", document=name, error=str(error))
        return error_frame(request, wire.Code.UNAVAILABLE, f"the PDF of {name} could not be read or written; "
                                                           "try again")
    return encode(wire.DocumentPdfOk(re=request.id, document=name, kind=kind, at=printed.at.isoformat(),
                                     customer=records.record.get("customer"),
                                     pdf=base64.b64encode(data).decode("ascii")))
