"""The verbs on finished sales at the edge: wire requests in, the sales actor's results out.

``build`` turns a request into a command of actors/sales_messages.py (amounts parsed
here), ``answer`` a ``SalesResult`` into the reply frame, and ``handle`` asks the
sales actor in between (the session has checked the supervisor's PIN).
"""

from __future__ import annotations

import base64
from typing import Any

import trio

from laneserver.actors.document_pdfs import copy_printed
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import Address
from laneserver.actors.sales_messages import (
    AbandonDebt,
    CancelSale,
    CorrectPayment,
    Debts,
    DocumentReprinted,
    ListDebts,
    PayDebt,
    Reprint,
    ReprintDocument,
    Reprinted,
    SaleCancelled,
    SaleNow,
    ShowSale,
)
from laneserver.clock import shop_zone
from laneserver.hw.document_pdf import render_document
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.rules import corrections as rules
from laneserver.rules import document_print
from laneserver.rules.money import ZERO, BadValue, fmt_money, fmt_percent, fmt_qty, parse_money
from laneserver.rules.payment import MAX_REFERENCE
from laneserver.rules.outcome import Code, refused
from laneserver.server import outcomes


def build(request: wire.Request) -> Any:
    """The sales command for ``request``, or ``Refused`` (a bad amount)."""
    try:
        match request:
            case wire.GetSale(sale=number):
                return ShowSale(number)
            case wire.Unpaid(customer=customer):
                return ListDebts(customer)
            case wire.PayLater(reference=reference) if reference is not None and len(reference) > MAX_REFERENCE:
                return refused(Code.BAD_REQUEST, f"a payment's reference has at most {MAX_REFERENCE} characters, "
                                                 f"got {len(reference)}", field="reference")
            case wire.PayLater():
                return PayDebt(sale=request.sale, mode=request.mode, amount=_money(request.amount),
                               reference=request.reference)
            case wire.PaymentCorrect():
                return CorrectPayment(sale=request.sale, payment=request.payment, reason=request.reason,
                                      mode=request.mode, amount=_money(request.amount))
            case wire.SaleCancel():
                return CancelSale(sale=request.sale, reason=request.reason)
            case wire.DebtAbandon():
                return AbandonDebt(sale=request.sale, reason=request.reason)
            case wire.Reprint(sale=sale, document=None):
                if sale is None:
                    return refused(Code.BAD_REQUEST, "reprint needs either sale (a number) or document", field="sale")
                if request.output not in (None, "printer"):
                    return refused(Code.BAD_REQUEST, "a sale's copy is printed on the till's printer: output is "
                                                     "for a document", field="output")
                return Reprint(sale=sale, kind=request.kind)
            case wire.Reprint(sale=None, document=raw):
                found = document_print.copy_target(raw)
                if found is None:
                    return refused(Code.BAD_REQUEST, f"{raw[:40]!r} is not a document's number or barcode (Q-, O-, "
                                                     "L-, C-, A-, F-, or a D… barcode)", field="document")
                return ReprintDocument(kind=found[0], number=found[1], copy_kind=request.kind,
                                       output=request.output or "printer")
            case wire.Reprint():
                return refused(Code.BAD_REQUEST, "reprint takes sale or document, not both", field="document")
    except BadValue as error:
        return refused(Code.BAD_REQUEST, str(error))
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a sales request")


def _money(raw: str | None) -> Any:
    return None if raw is None else parse_money(raw)


def answer(request: wire.Request, result: Any) -> bytes:
    """The reply frame for a sales result."""
    match result:
        case SaleNow(sale=sale, others=others, customer_name=name):
            return encode(wire.SaleOk(re=request.id, sale=sale_view(sale, others, name)))
        case Debts(sales=sales, names=names):
            return encode(wire.UnpaidOk(
                re=request.id, due=fmt_money(sum((s.due for s in sales), ZERO)),
                sales=[wire.DebtView(sale=s.number, at=s.at, customer=s.customer, total=fmt_money(s.total),
                                     due=fmt_money(s.due), customer_name=names.get(s.customer or ""))
                       for s in sales]))
        case SaleCancelled():
            vouchers = [
                wire.VoucherView(code=v.code, amount=fmt_money(v.amount), valid_until=v.valid_until.isoformat(),
                                 status="valid", customer=v.customer, origin=v.origin, issued_at=v.at.isoformat())
                for v in result.vouchers
            ]
            extra: dict[str, Any] = {"vouchers": vouchers} if vouchers else {}
            return encode(wire.SaleCancelledOk(
                re=request.id, number=result.number, sale=sale_view(result.sale, result.others),
                given_back={mode: fmt_money(amount) for mode, amount in result.given_back.items()}, **extra))
        case Reprinted(sale=sale, kind=kind, copy=copy):
            return encode(wire.ReprintOk(re=request.id, copy=copy, sale=sale, kind=kind))
        case DocumentReprinted(document=name, kind=kind, copy=copy):
            return encode(wire.ReprintOk(re=request.id, copy=copy, document=name, kind=kind))
    raise TypeError(f"the sales actor answered {result!r}")


async def handle(address: Address, caller: Caller, request: wire.Request, shop: Any = None) -> bytes:
    """Ask the sales actor at ``address`` for ``request`` on behalf of ``caller``; the
    reply frame. A document's copy asked as a PDF is rendered here, from the answer."""
    command = build(request)
    if not isinstance(command, ReprintDocument) or command.output == "printer" or shop is None:
        return await outcomes.ask(address, caller, request, command, answer)
    made: list[DocumentReprinted] = []

    def keep(request: wire.Request, result: Any) -> bytes:
        if isinstance(result, DocumentReprinted):
            made.append(result)
        return answer(request, result)

    frame = await outcomes.ask(address, caller, request, command, keep)
    if not made:  # refused
        return frame
    return await _with_pdf(shop, request, made[0])


async def _with_pdf(shop: Any, request: wire.Request, result: DocumentReprinted) -> bytes:
    """The reply to a document's copy with its A4 PDF: the document as its record has
    it, marked as copy ``result.copy`` printed at ``result.at`` (the same answer, a key
    asked again, gives the same PDF), rendered in a worker thread."""
    found = document_print.copy_target(result.document)
    assert found is not None  # the sales actor named it
    printed = await copy_printed(shop.journal, shop.config, *found)
    if printed is None:  # written with its copy record, never deleted
        return error_frame(request, wire.Code.NOT_FOUND, f"no document {result.document}", field="document")
    copy = document_print.duplicate(printed, result.copy, result.at.astimezone(shop_zone(shop.config.shop.timezone)))
    data = await trio.to_thread.run_sync(render_document, copy)  # pure: the same copy, the same bytes
    return encode(wire.ReprintOk(re=request.id, copy=result.copy, document=result.document, kind=result.kind,
                                 pdf=base64.b64encode(data).decode("ascii")))


def sale_view(sale: rules.SaleMoney, others: dict[int, tuple[int, str]],
              customer_name: str | None = None) -> wire.SaleView:
    """A sale with its rows; ``others``: rows of other sales (a counter-entry's ANL) that
    supersede some of its rows, number → (row, type)."""
    superseded = {n: row for n, (row, _) in others.items()}
    for r in sale.rows:  # the first row that refers to one supersedes it (an ANL, then its MAJ)
        if r.type in (rules.ANL, rules.MAJ) and r.refers is not None:
            superseded.setdefault(r.refers, r.number)
    payments = [
        wire.SalePaymentView(
            payment=r.number, type=r.type, status=rules.ANNUL if r.number in superseded else r.type, mode=r.mode,
            amount=fmt_money(r.amount), at=r.at, reference=r.reference, refers=r.refers,
            superseded_by=superseded.get(r.number),
        )
        for r in sale.rows
    ]
    return wire.SaleView(
        number=sale.number, at=sale.at, lane=sale.lane, seller=sale.seller, customer=sale.customer,
        customer_name=customer_name,
        total=fmt_money(sale.total), paid=fmt_money(sale.paid), change=fmt_money(sale.change),
        due=fmt_money(sale.due), payments=payments, cancels=sale.cancels, cancelled_by=sale.cancelled_by,
        topup=fmt_money(sale.topup) if sale.topup else None, topup_cancelled=sale.topup_cancelled,
        lines=[wire.SaleLineView(line=l.line, article=l.article, name=l.name, qty=fmt_qty(l.qty),
                                 unit_price=fmt_money(l.unit_price), discount_percent=fmt_percent(l.discount_percent),
                                 total=fmt_money(l.total)) for l in sale.lines],
    )
