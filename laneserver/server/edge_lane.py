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

import secrets
from decimal import Decimal
from typing import Any

import msgspec
import trio
from msgspec import UNSET

from laneserver.actors.lane_messages import (
    Basket,
    BasketAdded,
    BasketArrived,
    BasketParkedResult,
    CanTakeParked,
    ChooseCustomer,
    GetHeld,
    GetReceipt,
    GetTicket,
    HeldTickets,
    IssuedVoucher,
    LaneTicket,
    ParkedHandOver,
    Receipted,
    SaleDone,
    SaleReceipt,
    ScanCard,
    SettleParked,
    StockWarning,
    TicketChanged,
    TicketHeld,
)
from laneserver.actors.documents_messages import DocumentMade
from laneserver.actors.messages import Caller, Do
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import shop_day, shop_zone
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.hw.receipt import receipt_text
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, fingerprint
from laneserver.protocol.views import held_view
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
from laneserver.rules.ticket import LineSource
from laneserver.rules.variable_measure import BadCheckDigit, Measured, resolve
from laneserver.rules.variable_measure import BadValue as BadMeasure
from laneserver.server import edge_documents, outcomes
from laneserver.server.ticket_frames import ticket_json

# How often a parked basket's hand-over asks the giving lane to settle it when that lane
# crashes on the asking (``_settle``): its restart budget (CORE_POLICY) is three.
SETTLE_TRIES = 4

# The requests a lane answers (a till's own lane; ``basket_empty`` names its lane).
LANE_REQUESTS = (
    wire.Scan, wire.Add, wire.SetQty, wire.RemoveLine, wire.CancelTicket, wire.Discount, wire.SetCustomer,
    wire.Hold, wire.Held, wire.Recall, wire.Pay, wire.RemovePayment, wire.Finish, wire.GetTicket,
    wire.TopupLine, wire.SetPrice, wire.Subtotal, wire.GetReceipt, *wire.DOCUMENT_LANE_VERBS,
)


async def handle(lane: Address, caller: Caller, request: wire.Request, shop: Any) -> bytes:
    """Ask ``lane`` what ``request`` asks; the reply frame. A refusal found while
    translating a keyed request goes to the lane all the same: a retry of a request it
    already answered gets that answer again (the catalog may have changed since)."""
    if isinstance(request, wire.Scan) and rules.parked_lane(request.code) is not None \
            and not isinstance(shop.catalog.lookup(request.code), (Found, Ambiguous)):
        return await recall_parked(lane, caller, request, shop)
    return await outcomes.ask(lane, caller, request, build(request, caller, shop), answer, keyed_refusals_asked=True)


async def recall_parked(lane: Address, caller: Caller, request: wire.Scan, shop: Any) -> bytes:
    """A parked basket's barcode scanned at a till (``PB<lane>-<n>``, rules/lane.py): its
    held ticket becomes the open ticket, only onto an empty one.

    Held on this till's lane: a recall (``RecallParked``). Held on another lane: moved
    through the two lanes' actors, which never ask each other (no two lanes wait on one
    another): this lane is asked whether its ticket is empty (``CanTakeParked``, with
    the scan's key: a repeated scan that already recalled it gets that reply again),
    the other gives the held ticket away (``GiveParked``: atomic there, so two tills
    scanning it at once cannot both have it), this lane takes it (``TakeParked``, with
    the scan's key); if it cannot (its ticket got lines meanwhile, out of stock) the
    other lane holds it again as it was (``RestoreParked``). From the give until it hears
    of the take (``DropParked``, told) the giving lane keeps the basket in transit in its
    journal (``LaneState.given``): a server killed in between settles it at that lane's
    start (actors/lane.py ``_settle_given``: dropped if the take was journaled, held
    again if not), so exactly one lane has it. A take that failed with no clear answer:
    the giving lane asks the journal the same way (``SettleParked``).
    """
    seller = caller.seller
    if seller is None:
        return outcomes.refusal_frame(request, refused(Code.NOT_SIGNED_IN, "no seller is signed in on this device"))
    code = request.code
    source_name = rules.parked_lane(code)
    source = shop.lanes.get(source_name)
    if source is None or caller.lane is None:
        return outcomes.refusal_frame(request, refused(Code.UNKNOWN_CODE, f"unknown code {code!r}"))
    if source_name == caller.lane:
        return await outcomes.ask(lane, caller, request, rules.RecallParked(seller, code), answer,
                                  keyed_refusals_asked=True)
    key = request.key
    mark = None if key is None else fingerprint(request)
    ready = await lane.ask(Do(caller, CanTakeParked(), key, mark))
    if ready is not None:  # not empty, or this scan's first answer again
        return outcomes.refusal_frame(request, ready) if isinstance(ready, Refused) else answer(request, ready)
    # From the give on, carried through whatever ends the till's wait (its ask timeout,
    # the session closed, the server stopping): once the other lane has the give, the
    # held ticket leaves it, and only the take (or the give-back) puts it anywhere.
    hand = secrets.token_hex(8)  # this hand-over's give (``SettleParked.hand``)
    with trio.CancelScope(shield=True):
        try:
            given = await source.ask(Do(caller, rules.GiveParked(seller, code, caller.lane, hand=hand), None, None))
        except ActorFailed as failed:
            # The giving lane crashed on the give, perhaps after its unit: in transit with
            # this run's stamp, which its restart leaves to this edge; no take was asked.
            if failed.maybe_applied:
                await _settle(source, caller, SettleParked(code[len(rules.PARKED_PREFIX):], hand), code, hand)
            raise
        if isinstance(given, Refused):
            return outcomes.refusal_frame(request, given)
        assert isinstance(given, ParkedHandOver)
        try:
            taken = await lane.ask(Do(caller, rules.TakeParked(seller, given.held, source_name), key, mark))
        except ActorFailed as failed:
            # This lane never took it (out of service): back where it was; or perhaps it did: the journal says.
            await _settle(source, caller, SettleParked(given.held.held, hand) if failed.maybe_applied
                          else rules.RestoreParked(seller, given.held), code, hand)
            raise
        if isinstance(taken, Refused):
            await _settle(source, caller, rules.RestoreParked(seller, given.held), code, hand)
            return outcomes.refusal_frame(request, taken)
        try:  # the giving lane drops it (a repeat is refused, harmless)
            await source.tell(Do(caller, rules.DropParked(seller, given.held.held), None, None))
        except (trio.BrokenResourceError, trio.ClosedResourceError):  # stopping: dropped at its next start
            get_logger("lane", lane=caller.lane).warning("parked_basket_drop_untold", barcode=code)
    return answer(request, taken)


async def _settle(source: Address, caller: Caller, command: rules.RestoreParked | SettleParked, code: str,
                  hand: str) -> None:
    """The parked basket given away and not taken, held again by the lane that gave it
    (``RestoreParked``); or perhaps taken, or perhaps not even given: that lane asks the
    journal (``SettleParked``). That lane crashing on it (restarted by its supervisor,
    same run: it leaves this run's transit to this edge) is asked again, the journal
    now saying what the crash left (``SETTLE_TRIES``); out of service or stopping, the
    basket stays in transit there, settled at its next start."""
    back: Any = None
    for _ in range(SETTLE_TRIES):
        try:
            back = await source.ask(Do(caller, command, None, None))
            break
        except ActorFailed as failed:
            back = refused(Code.UNAVAILABLE, f"lane {rules.parked_lane(code)} did not answer")
            if not failed.maybe_applied:
                break
            command = SettleParked(code[len(rules.PARKED_PREFIX):], hand)
    if isinstance(back, Refused):
        get_logger("lane", lane=caller.lane).error("parked_basket_not_restored", barcode=code, reason=back.message)


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
            recalled = edge_documents.scanned(code, seller)  # a quote's, order's or delivery note's barcode
            if recalled is not None:
                return recalled
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
        case wire.BasketEmpty(basket=basket, lines=lines, append=append):
            return basket_command(shop, caller, basket, lines, append=append)
        case wire.BasketPark(basket=basket, lines=lines):
            return basket_command(shop, caller, basket, lines, park=True)
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
        case wire.Quote() | wire.Order() | wire.DeliveryNote() | wire.DocumentInvoice():
            return edge_documents.lane_command(request, seller)
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a lane request")


#: A basket id's longest (the PDA chooses it: a uuid is 36).
MAX_BASKET_ID = 64


def basket_command(shop: Any, caller: Caller, basket: str, lines: list[Any], *, append: bool = False,
                   park: bool = False) -> Basket | Refused:
    """A PDA's basket as the lane's ``Basket``: every line looked up. All or none: a
    line that is not taken (unknown or ambiguous code, bad quantity) refuses the whole
    basket, every such line named in the refusal's ``lines`` (``index``, ``code``,
    ``problem``), so the PDA flags them and sends the basket again (same id); a till never
    gets part of a basket without knowing it (docs/protocol.md, "PDA baskets")."""
    seller = caller.seller
    assert seller is not None
    if not basket or len(basket) > MAX_BASKET_ID:
        return refused(Code.BAD_REQUEST, f"basket must be an id of 1 to {MAX_BASKET_ID} characters", field="basket")
    if not lines:
        return refused(Code.BAD_REQUEST, "the basket has no lines", field="lines")
    if len(lines) > rules.MAX_BASKET_LINES:
        return refused(Code.BAD_REQUEST, f"a basket holds at most {rules.MAX_BASKET_LINES} lines, got {len(lines)}",
                       field="lines")
    added: list[rules.AddLine] = []
    problems: list[wire.LineProblemView] = []
    for index, basket_line in enumerate(lines):
        try:
            one = _scan(shop, seller, basket_line.code, basket_line.qty, cards=False)
        except BadValue as error:
            one = refused(Code.BAD_REQUEST, str(error))
        if isinstance(one, rules.AddLine) and one.qty <= 0:
            one = refused(Code.BAD_REQUEST, f"a basket line's quantity must be positive, got {basket_line.qty}")
        if isinstance(one, Refused):
            problems.append(wire.LineProblemView(index=index, code=basket_line.code[:64], problem=one.code,
                                                 message=one.message))
        else:
            added.append(one)
    if problems:
        first = problems[0]
        many = f"{len(problems)} lines of the basket were" if len(problems) > 1 else "a line of the basket was"
        return refused(first.problem, f"{many} not taken, nothing was: line {first.index}: {first.message}",
                       lines=problems)
    source = LineSource(device=caller.device, seller=seller, basket=basket)
    return Basket(basket, tuple(added), source=source, append=append, park=park)


def _scan(shop: Any, seller: str, code: str, qty: Any, *, cards: bool) -> Any:
    """A line of the article ``code`` names (``qty`` of it, times its pack's, or its
    GS1 variable-measure code's weight or price: rules/variable_measure.py); with
    ``cards``, a code no article has may be a customer's card (the lane looks)."""
    match resolve(shop.catalog, code, shop.config.variable_measure):
        case Found(article=article, qty=pack):
            return _line(seller, article, _qty(qty) * pack)
        case Measured(article=article, qty=measure):
            return _line(seller, article, _qty(qty) * measure)
        case BadCheckDigit() | BadMeasure() as bad:
            return refused(Code.BAD_REQUEST, measure_refusal(bad), field="code")
        case Ambiguous(candidates=candidates):
            return refused(Code.AMBIGUOUS_CODE, f"code {code!r} matches {len(candidates)} articles: choose one",
                           candidates=[wire.Candidate(article=a.id, name=a.name, price=fmt_money(a.price)) for a in candidates])
    if (blocked := _not_sold(shop, code)) is not None:
        return blocked
    if cards:
        return ScanCard(seller, code)
    return refused(Code.UNKNOWN_CODE, f"unknown code {code!r}")


def measure_refusal(bad: BadCheckDigit | BadMeasure) -> str:
    """Why a variable-measure code is refused, for the cashier."""
    if isinstance(bad, BadCheckDigit):
        return (f"code {bad.code!r} has a wrong check digit (it should end in {bad.expected}): "
                "scan the label again or type the code")
    return f"code {bad.code!r} carries a {bad.kind} of zero: weigh or price the article again"


def _not_sold(shop: Any, code: str) -> Refused | None:
    """An article that answers to ``code`` but is not active (dormant, blocked,
    abandoned): still ``unknown_code`` (no active article answers), but saying which
    article and why (``article``, ``name``, ``status``), so the till tells the cashier
    it is not for sale rather than unknown."""
    found = shop.catalog.lookup(code, include_inactive=True)
    if isinstance(found, Found):
        article = found.article
    elif isinstance(found, Ambiguous):
        article = found.candidates[0]
    else:
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
        case BasketParkedResult(basket=basket, lane=lane, held=held, barcode=barcode, lines=lines, total=total,
                                warnings=warnings):
            return encode(wire.BasketParkOk(re=request.id, basket=basket, lane=lane, held=held, barcode=barcode,
                                            lines=lines, total=fmt_money(total), **_warned(warnings)))
        case BasketAdded(basket=basket, lines=lines, now=now, warnings=warnings):
            return encode(wire.BasketOk(re=request.id, basket=basket, lane=now.lane, lines=lines,
                                        ticket=ticket_json(now), **_warned(warnings)))
        case SaleDone():
            return _finish_reply(request.id, result)
        case SaleReceipt(sale=number, receipt=receipt):
            return encode(wire.ReceiptOk(re=request.id, sale=number, text=receipt_text(receipt)))
        case HeldTickets(tickets=tickets):
            return encode(wire.HeldOk(re=request.id, tickets=[held_view(h) for h in tickets]))
        case DocumentMade():
            return edge_documents.answer(request, result)
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


def basket_event(value: BasketArrived) -> bytes:
    """The ``basket`` event (the till's banner) of a basket emptied into its lane."""
    return encode(wire.BasketEvent(lane=value.lane, basket=value.basket, device=value.device, seller=value.seller,
                                   lines=value.lines, appended=value.appended))
