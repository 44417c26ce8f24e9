"""The lane at the edge: wire requests become lane commands, lane results frames.

The lane actor (actors/lane.py) takes ``Do`` with a rule command (rules/lane.py) or
one of actors/lane_messages.py's and answers a domain result or ``Refused``. Here:
``build`` (a request → its command: money and quantities parsed, codes looked up in
the shop's catalog, shared read-only), ``answer`` (a result → its reply frame) and
``handle`` (both, around the ask). The open ticket is encoded by ``ticket_json``,
once per revision: the reply to the change and the ``ticket`` event every other
session of the lane gets (``ticket_event``) splice the same bytes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from msgspec import UNSET

from laneserver.actors.lane_messages import (
    Basket,
    BasketAdded,
    ChooseCustomer,
    GetHeld,
    GetReceipt,
    GetTicket,
    HeldTickets,
    IssuedVoucher,
    LaneTicket,
    Receipted,
    SaleDone,
    SaleReceipt,
    ScanCard,
    StockWarning,
    TicketChanged,
    TicketHeld,
)
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import Address
from laneserver.clock import shop_day, shop_zone
from laneserver.config import Config
from laneserver.hw.receipt import receipt_text
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.protocol.views import TicketEncoder, held_view
from laneserver.rules import lane as rules
from laneserver.rules.catalog import Ambiguous, Article, Found
from laneserver.rules.confirm import ConfirmLimits, parse_limits
from laneserver.rules.money import (
    BadValue,
    fmt_money,
    parse_money,
    parse_percent,
    parse_qty,
)
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.stock import fmt_stock
from laneserver.server import outcomes

# The requests a lane answers (a till's own lane; ``basket_empty`` names its lane).
LANE_REQUESTS = (
    wire.Scan, wire.Add, wire.SetQty, wire.RemoveLine, wire.CancelTicket, wire.Discount, wire.SetCustomer,
    wire.Hold, wire.Held, wire.Recall, wire.Pay, wire.RemovePayment, wire.Finish, wire.GetTicket,
    wire.TopupLine, wire.SetPrice, wire.Subtotal, wire.GetReceipt,
)


async def handle(lane: Address, caller: Caller, request: wire.Request, shop: Any) -> bytes:
    """Ask ``lane`` what ``request`` asks; the reply frame. A refusal found while
    translating a keyed request goes to the lane all the same: a retry of a request it
    already answered gets that answer again (the catalog may have changed since)."""
    return await outcomes.ask(lane, caller, request, build(request, caller, shop), answer, keyed_refusals_asked=True)


# --- wire → domain ------------------------------------------------------------------------


def build(request: wire.Request, caller: Caller, shop: Any) -> Any:
    """The lane command ``request`` asks for, or its ``Refused``."""
    match request:
        case wire.GetTicket():
            return GetTicket()
        case wire.Held():
            return GetHeld()
        case wire.GetReceipt(sale=number):
            return GetReceipt(number)
    seller = caller.seller
    if seller is None:
        return refused(Code.NOT_SIGNED_IN, "no seller is signed in on this device")
    try:
        return _command(request, seller, caller, shop)
    except BadValue as error:
        return refused(Code.BAD_REQUEST, str(error))


def _command(request: wire.Request, seller: str, caller: Caller, shop: Any) -> Any:
    config: Config = shop.config
    match request:
        case wire.Scan(code=code, qty=qty, confirm=confirm):
            return _confirming(_scan(shop, seller, code, qty, cards=shop.customers is not None), config, confirm)
        case wire.Add(article=article_id, qty=qty, confirm=confirm):
            article = shop.catalog.get(article_id)
            if article is None:
                return refused(Code.NOT_FOUND, f"no article {article_id!r}", article=article_id)
            return _confirming(_line(seller, article, _qty(qty)), config, confirm)
        case wire.SetQty(line=line, qty=qty, confirm=confirm):
            return rules.SetQty(seller, line, parse_qty(qty), limits=confirm_limits(config), confirmed=confirm)
        case wire.RemoveLine(line=line):
            return rules.RemoveLine(seller, line)
        case wire.CancelTicket():
            return rules.CancelTicket(seller)
        case wire.Pay(mode=mode, amount=amount, reference=reference, instalments=instalments, excess=excess,
                      receipt=receipt):
            policy = shop.payments
            if policy.mode(mode) is None:
                return refused(Code.NOT_SUPPORTED,
                               f"payment mode {mode!r} is not available (this lane takes {', '.join(policy.mode_ids)})",
                               modes=policy.mode_ids)
            value = None if amount is None else parse_money(amount)
            today = shop_day(shop.clock.now(), shop_zone(config.shop.timezone))
            return Receipted(rules.Pay(seller, mode, value, reference, instalments=instalments, excess=excess,
                                       policy=policy, approved_by=caller.approved_by, invoice=receipt == "invoice",
                                       today=today), receipt)
        case wire.RemovePayment(payment=payment):
            return rules.RemovePayment(seller, payment)
        case wire.Hold():
            return rules.Hold(seller)
        case wire.Recall(held=held):
            return rules.Recall(seller, held)
        case wire.Finish(receipt=receipt, unpaid=unpaid):
            return Receipted(rules.Finish(seller, unpaid=unpaid, deferred=config.shop.deferred_payment,
                                          invoice=receipt == "invoice"), receipt)
        case wire.BasketEmpty(basket=basket, lines=lines):
            added: list[rules.AddLine] = []
            for basket_line in lines:
                one = _scan(shop, seller, basket_line.code, basket_line.qty, cards=False)
                if isinstance(one, Refused):
                    return one  # all or nothing: one bad code refuses the basket
                added.append(one)
            if not added:
                return refused(Code.BAD_REQUEST, "the basket has no lines")
            return Basket(basket, tuple(added))
        case wire.Discount(line=line, percent=percent, amount=amount, mode=mode, reason=reason):
            shop_config = config.shop
            return rules.Discount(
                seller=seller, line=line, mode=mode, reason=reason, approved_by=caller.approved_by,
                percent=None if percent is None else parse_percent(percent),
                amount=None if amount is None else parse_money(amount),
                cap=parse_percent(shop_config.discount_cap, "shop.discount_cap"), reasons=shop_config.discount_reasons,
            )
        case wire.SetCustomer(customer=customer_id, card=card):
            if customer_id is UNSET:
                if card is None:
                    return refused(Code.BAD_REQUEST, "set_customer needs customer (an id, or null to clear it) or card",
                                   field="customer")
                customer_id = None
            if customer_id is None and card is None:
                return rules.SetCustomer(seller, None)
            if customer_id is not None and card is not None:
                return refused(Code.BAD_REQUEST, "give customer or card, not both")
            return ChooseCustomer(seller, customer_id, card)
        case wire.SetPrice(line=line, price=raw, reason=reason):
            return rules.SetPrice(seller=seller, line=line, price=parse_money(raw, "price"), reason=reason,
                                  approved_by=caller.approved_by,
                                  cap=parse_percent(config.shop.price_override_cap, "shop.price_override_cap"))
        case wire.Subtotal():
            return rules.Subtotal(seller)
        case wire.TopupLine(amount=raw, qty=raw_qty):
            return rules.AddTopup(seller, parse_money(raw), _qty(raw_qty))
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a lane request")


def _scan(shop: Any, seller: str, code: str, qty: Any, *, cards: bool) -> Any:
    """A line of the article ``code`` names (``qty`` of it, times its pack's); with
    ``cards``, a code no article has may be a customer's card (the lane looks)."""
    match shop.catalog.lookup(code):
        case Found(article=article, qty=pack):
            return _line(seller, article, _qty(qty) * pack)
        case Ambiguous(candidates=candidates):
            return refused(Code.AMBIGUOUS_CODE, f"code {code!r} matches {len(candidates)} articles: choose one",
                           candidates=[wire.Candidate(article=a.id, name=a.name, price=fmt_money(a.price)) for a in candidates])
    if (blocked := _not_sold(shop, code)) is not None:
        return blocked
    if cards:
        return ScanCard(seller, code)
    return refused(Code.UNKNOWN_CODE, f"unknown code {code!r}")


def _not_sold(shop: Any, code: str) -> Refused | None:
    """An article that answers to ``code`` but is not active (dormant, blocked,
    abandoned): still ``unknown_code`` (no active article answers), but saying which
    article and why (``article``, ``name``, ``status``), so the till tells the cashier
    it is not for sale rather than unknown."""
    match shop.catalog.lookup(code, include_inactive=True):
        case Found(article=article):
            pass
        case Ambiguous(candidates=candidates):
            article = candidates[0]
        case _:
            return None
    if article.status == "active":
        return None
    return refused(Code.UNKNOWN_CODE, f"code {code!r} is article {article.id} ({article.name}), which is "
                                      f"{article.status}: it cannot be sold",
                   article=article.id, name=article.name, status=article.status)


def _line(seller: str, article: Article, qty: Decimal) -> rules.AddLine:
    """A line of ``article`` (``qty`` negative: returned); the lane sets its unit cost."""
    return rules.AddLine(seller, article, qty)


def confirm_limits(config: Config) -> ConfirmLimits:
    """The shop's limits above which a line needs ``confirm: true`` (checked at start)."""
    return parse_limits(config.shop.confirm_qty, config.shop.confirm_line_total)


def _confirming(command: Any, config: Config, confirmed: bool) -> Any:
    """An added line with the shop's confirmation limits and line merging (any other
    result as it is)."""
    if isinstance(command, rules.AddLine):
        return msgspec.structs.replace(command, limits=confirm_limits(config), confirmed=confirmed,
                                       merge=config.shop.merge_lines)
    return command


def _qty(raw: Any) -> Decimal:
    return Decimal(1) if raw is None else parse_qty(raw)


# --- domain → wire ------------------------------------------------------------------------


def answer(request: wire.Request, result: Any) -> bytes:
    """The reply frame to ``request`` for the lane's ``result``."""
    match result:
        case LaneTicket():
            return encode(wire.TicketOk(re=request.id, lane=result.lane, ticket=ticket_json(result)))
        case TicketChanged(now=now, warnings=warnings):
            return encode(wire.TicketOk(re=request.id, lane=now.lane, ticket=ticket_json(now), **_warned(warnings)))
        case TicketHeld(held=held, now=now):
            return encode(wire.HoldOk(re=request.id, held=held, ticket=ticket_json(now)))
        case BasketAdded(basket=basket, lines=lines, now=now, warnings=warnings):
            return encode(wire.BasketOk(re=request.id, basket=basket, lane=now.lane, lines=lines,
                                        ticket=ticket_json(now), **_warned(warnings)))
        case SaleDone():
            return _finish_reply(request.id, result)
        case SaleReceipt(sale=number, receipt=receipt):
            return encode(wire.ReceiptOk(re=request.id, sale=number, text=receipt_text(receipt)))
        case HeldTickets(tickets=tickets):
            return encode(wire.HeldOk(re=request.id, tickets=[held_view(h) for h in tickets]))
    raise TypeError(f"a lane answered {result!r}")


def _warned(warnings: tuple[StockWarning, ...]) -> dict[str, Any]:
    if not warnings:
        return {}
    return {"stock_warnings": [wire.StockWarningView(article=w.article, stock_point=w.stock_point,
                                                     available=fmt_stock(w.available)) for w in warnings]}


def _finish_reply(re: wire.Id, sale: SaleDone) -> bytes:
    extra: dict[str, Any] = {"vouchers": [voucher_view(v) for v in sale.vouchers]} if sale.vouchers else {}
    if sale.due:
        extra["due"] = fmt_money(sale.due)  # finished unpaid (deferred payment)
    if sale.invoice is not None:
        extra["invoice"] = sale.invoice
    return encode(wire.FinishOk(re=re, number=sale.number, total=fmt_money(sale.total), change=fmt_money(sale.change),
                                ticket=ticket_json(sale.now), **extra))


def voucher_view(voucher: IssuedVoucher) -> wire.VoucherView:
    """A voucher a sale issued, as its reply lists it."""
    return wire.VoucherView(code=voucher.code, amount=fmt_money(voucher.amount),
                            valid_until=voucher.valid_until.isoformat(), status="valid", customer=voucher.customer,
                            origin=voucher.origin, issued_at=voucher.issued_at.isoformat())


# --- the open ticket, encoded once per revision -------------------------------------------

# Per lane: the last ticket value encoded, its view (``msgspec.Raw``, spliced into each
# frame as it is) and its ``ticket`` event frame. Keyed by identity: the lane makes one
# value per revision and hands that same object to the reply and to every subscriber.
_encoded: dict[str, tuple[LaneTicket, msgspec.Raw, bytes | None]] = {}
# Per lane: its ticket's JSON kept line by line from one revision to the next
# (protocol/views.py ``TicketEncoder``: only the lines a change touched are encoded).
_encoders: dict[str, TicketEncoder] = {}


def ticket_json(value: LaneTicket) -> msgspec.Raw:
    """The open ticket's view with its ``rev``, encoded once per value."""
    kept = _encoded.get(value.lane)
    if kept is not None and kept[0] is value:
        return kept[1]
    encoder = _encoders.get(value.lane)
    if encoder is None:
        encoder = _encoders[value.lane] = TicketEncoder()
    raw = msgspec.Raw(encoder.encode(value.ticket, rev=value.rev))
    _encoded[value.lane] = (value, raw, None)
    return raw


def ticket_event(value: LaneTicket) -> bytes:
    """The ``ticket`` event of ``value``: one frame shared by every session of the lane."""
    raw = ticket_json(value)
    kept = _encoded[value.lane]
    if kept[0] is value and kept[2] is not None:
        return kept[2]
    frame = encode(wire.TicketEvent(lane=value.lane, ticket=raw))
    if kept[0] is value:
        _encoded[value.lane] = (value, raw, frame)
    return frame
