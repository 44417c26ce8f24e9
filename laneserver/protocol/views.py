"""Turning rule values (Decimals, frozen tickets) into wire views (strings)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from laneserver.protocol.codec import encode
from laneserver.protocol.messages import (
    ArticleView,
    ExclVatView,
    HeldView,
    InstalmentView,
    LineFromView,
    LineView,
    PaymentView,
    TicketView,
    VatRowView,
)
from laneserver.rules.catalog import Article
from laneserver.rules.invoice import excl_vat
from laneserver.rules.lane import HeldTicket
from laneserver.rules.lane_journal import bounds
from laneserver.rules.money import ZERO, fmt_money, fmt_percent, fmt_qty
from laneserver.rules.ticket import Line, Payment, Ticket, Totals, totals


# A ticket goes out whole after every change (in the reply and in the ticket event),
# so a 30-line ticket had its 30 lines formatted twice per scan, most of a lane's
# time at 64 lanes (docs/performance.md). A line is a frozen value that a change
# replaces rather than alters, so the view of the very same ``Line`` object is kept:
# keyed by identity, the object held in the entry so that its id is not reused while
# the entry lives; the oldest entries go first. Same output, formatted once.
_LINE_VIEWS_KEPT = 4096
_line_views: dict[int, tuple[Line, LineView]] = {}


def line_view(line: Line) -> LineView:
    kept = _line_views.get(id(line))
    if kept is not None and kept[0] is line:
        return kept[1]
    view = _format_line(line)
    if len(_line_views) >= _LINE_VIEWS_KEPT:
        del _line_views[next(iter(_line_views))]
    _line_views[id(line)] = (line, view)
    return view


def _format_line(line: Line) -> LineView:
    return LineView(
        line=line.line,
        article=line.article,
        name=line.name,
        qty=fmt_qty(line.qty),
        unit_price=fmt_money(line.unit_price),
        discount_percent=fmt_percent(line.discount_percent),
        vat_rate=fmt_percent(line.vat_rate),
        total=fmt_money(line.total),
        deposit_for=line.deposit_for,
        coupon=line.coupon,
        coupon_left=line.coupon_left,
        below_cost=line.below_cost,
        topup=line.topup,
        from_=None if line.source is None else LineFromView(device=line.source.device, seller=line.source.seller,
                                                            basket=line.source.basket),
    )


def ticket_view(ticket: Ticket, *, rev: int, lines: msgspec.Raw | None = None,
                sums: Totals | None = None) -> TicketView:
    """The open ticket's view; ``rev``: its revision (the lane state's). ``lines`` (its
    lines' views, encoded) and ``sums`` (its totals): when the caller keeps them
    (``TicketEncoder``)."""
    sums = totals(ticket) if sums is None else sums
    return TicketView(
        seller=ticket.seller,
        customer=ticket.customer,
        lines=[line_view(line) for line in ticket.lines] if lines is None else lines,  # type: ignore[arg-type]
        total=fmt_money(sums.total),
        paid=fmt_money(sums.paid),
        balance=fmt_money(sums.balance),
        change=fmt_money(sums.change),
        payments=[payment_view(p) for p in ticket.payments],
        rev=rev,
        # Left out while zero (msgspec omits a default only when it is the default itself).
        **({"rounding": fmt_money(sums.rounding)} if sums.rounding else {}),
        # A business customer's ticket: its excluding-VAT side too.
        **({"excl_vat": excl_vat_view(ticket)} if ticket.business else {}),
    )


class TicketEncoder:
    """One lane's open ticket as JSON (``ticket_view``, encoded), kept from one change
    to the next: a change that adds, sets or removes a line encodes that line and
    moves the sum of the lines' totals by it; the ticket's JSON is the lines' kept
    pieces joined (in C) around its few other fields. So a scan on line 200 costs
    what a scan on line 1 does, and the bytes are those of ``encode(ticket_view(…))``
    (the tests compare them).

    Which lines changed: rules/lane_journal.py ``bounds`` (the rules keep an
    untouched line as the same object). Not for sharing between lanes: it keeps the
    last ticket it encoded.
    """

    def __init__(self) -> None:
        self._lines: tuple[Line, ...] = ()
        self._pieces: list[bytes] = []
        self._lines_total: Decimal = ZERO

    def encode(self, ticket: Ticket, *, rev: int) -> bytes:
        lines = ticket.lines
        if lines is not self._lines:
            old = self._lines
            head, tail = bounds(old, lines)
            gone, new = old[head:len(old) - tail], lines[head:len(lines) - tail]
            total = self._lines_total
            for line in gone:
                total -= line.total
            for line in new:
                total += line.total
            self._pieces[head:len(self._pieces) - tail] = [encode(_format_line(line)) for line in new]
            self._lines, self._lines_total = lines, total
        joined = msgspec.Raw(b"[" + b",".join(self._pieces) + b"]")
        return encode(ticket_view(ticket, rev=rev, lines=joined, sums=totals(ticket, lines_total=self._lines_total)))


def excl_vat_view(ticket: Ticket) -> ExclVatView:
    side = excl_vat(ticket.lines)
    return ExclVatView(
        total_excl_vat=fmt_money(side.total_excl_vat), total_vat=fmt_money(side.total_vat),
        vat=[VatRowView(rate=fmt_percent(r.rate), base=fmt_money(r.base), vat=fmt_money(r.vat),
                        total=fmt_money(r.total)) for r in side.vat],
    )


def payment_view(payment: Payment) -> PaymentView:
    tendered = payment.tendered
    return PaymentView(
        payment=payment.payment, mode=payment.mode, amount=fmt_money(payment.amount), reference=payment.reference,
        instalments=[InstalmentView(due=i.due.isoformat(), amount=fmt_money(i.amount)) for i in payment.instalments],
        tendered=None if tendered is None else fmt_money(tendered),
        forfeited=None if tendered is None else fmt_money(payment.forfeited),
        approved_by=payment.approved_by,
    )


def held_view(held: HeldTicket) -> HeldView:
    return HeldView(
        held=held.held,
        seller=held.ticket.seller,
        total=fmt_money(totals(held.ticket).total),
        lines=[line_view(line) for line in held.ticket.lines],
        held_at=held.held_at.isoformat(),
        barcode=held.barcode,
    )


def article_view(article: Article) -> ArticleView:
    return ArticleView(
        article=article.id,
        name=article.name,
        price=fmt_money(article.price),
        vat_rate=fmt_percent(article.vat_rate),
        unit=article.unit,
        barcodes=[barcode.code for barcode in article.barcodes],
        location=article.location,
        sub_family=article.sub_family,
        internal_code=article.internal_code,
        model=article.model,
        size=article.size,
        colour=article.colour,
    )
