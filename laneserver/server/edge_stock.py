"""The stock and purchasing verbs at the edge: wire requests in, stock point results out.

``build`` turns a request into a command of actors/stock_messages.py (quantities,
money and dates parsed here), ``answer`` a ``StockResult`` into the reply frame, and
``handle`` asks the stock point in between. The reads that need no stock point
(levels across points, purchase orders, the movement history) are here too, and the
views: ``level_view``, ``order_view``, the ``stock_alert`` event.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any

from laneserver.actors.journal import read
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import Address
from laneserver.actors.stock_messages import (
    CancelOrder,
    CountNow,
    CountStock,
    CountValidated,
    CountZone,
    CreateOrder,
    DeleteStock,
    EnterStock,
    ExitStock,
    ExpiringLots,
    GetLevel,
    LabelRequest,
    LabelsRequested,
    OrderLine,
    OrderNow,
    PointLevel,
    ProduceStock,
    Proposals,
    ProposeOrders,
    ReceiveOrder,
    ShowCount,
    ShowExpiring,
    ShowStock,
    StockAlert,
    StockNow,
    StockRows,
    TrackStock,
    TransferStock,
    ValidateCount,
)
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.rules import inventory
from laneserver.rules import replenishment as repl
from laneserver.rules.catalog import Ambiguous, Article, Found, SearchNotReady
from laneserver.rules.money import ZERO, BadValue, fmt_money, fmt_qty, parse_money, parse_qty
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.stock import exact, fmt_stock, units_and_parts
from laneserver.server import outcomes
from laneserver.server.shop import Shop
from laneserver.store import reads

# --- wire → domain -------------------------------------------------------------------------


def build(request: wire.Request) -> Any:
    """The stock point command for ``request``, or ``Refused`` (a bad quantity, cost or date)."""
    try:
        match request:
            case wire.StockEntry():
                unit_cost = None if request.unit_cost is None else _cost(request.unit_cost)
                return EnterStock(article=request.article, qty=_positive(request.qty), reason=request.reason,
                                  unit_cost=unit_cost, supplier=request.supplier, received=request.received,
                                  comment=request.comment)
            case wire.StockExit():
                return ExitStock(article=request.article, qty=_positive(request.qty), reason=request.reason,
                                 comment=request.comment)
            case wire.StockCount(counted=raw):
                counted = parse_qty(raw, "counted")
                if counted < 0:
                    raise BadValue(f"counted must not be negative, got {raw}")
                return CountStock(article=request.article, counted=counted, comment=request.comment)
            case wire.StockDelete():
                return DeleteStock(article=request.article, comment=request.comment)
            case wire.StockTracking():
                return TrackStock(article=request.article, tracked=request.tracked)
            case wire.StockTransfer():
                return TransferStock(article=request.article, qty=_positive(request.qty), to=request.to,
                                     comment=request.comment)
            case wire.StockProduce():
                return ProduceStock(article=request.article, qty=_positive(request.qty), comment=request.comment)
            case wire.StockStateRequest(only_alerts=only_alerts):
                return ShowStock(only_alerts)
            case wire.StockExpiring(days=days):
                return ShowExpiring(days)
            case wire.Replenishment(sold_since=since):
                return _propose(since)
            case wire.PurchaseOrderCreate():
                return CreateOrder(supplier=request.supplier, lines=_lines(request.lines), comment=request.comment)
            case wire.PurchaseReceive():
                return ReceiveOrder(order=request.order, lines=_lines(request.lines), received=request.received,
                                    comment=request.comment)
            case wire.PurchaseCancel():
                return CancelOrder(order=request.order, comment=request.comment)
    except BadValue as error:
        return refused(Code.BAD_REQUEST, str(error))
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a stock request")


def _positive(raw: Any) -> Decimal:
    qty = parse_qty(raw)
    if qty <= 0:
        raise BadValue(f"qty must be positive, got {raw}")
    return qty


def _cost(raw: Any) -> Decimal:
    unit_cost = parse_money(raw, "unit_cost")
    if unit_cost < 0:
        raise BadValue(f"unit_cost must not be negative, got {raw}")
    return unit_cost


def _lines(lines: list[wire.PurchaseLine]) -> tuple[OrderLine, ...]:
    return tuple(OrderLine(line.article, _positive(line.qty), None if line.unit_cost is None else _cost(line.unit_cost))
                 for line in lines)


def _propose(since: str | None) -> ProposeOrders | Refused:
    if since is None:
        return ProposeOrders()
    try:
        if len(since) != 10:
            raise ValueError
        return ProposeOrders(dt.date.fromisoformat(since))
    except ValueError:
        return refused(Code.BAD_REQUEST, f"sold_since must be a date as YYYY-MM-DD, got {since!r}",
                       field="sold_since")


# --- domain → wire -------------------------------------------------------------------------


def answer(request: wire.Request, result: Any) -> bytes:
    """The reply frame for a stock point result."""
    match result:
        case StockNow(article=article, point=point):
            return encode(wire.StockOk(re=request.id, article=article, points=[level_view(point)]))
        case StockRows(stock_point=stock_point, rows=rows):
            return encode(wire.StockStateOk(re=request.id, stock_point=stock_point, rows=[
                wire.StockRowView(
                    article=row.article, name=row.name, real=fmt_stock(row.level.real),
                    reserved=fmt_stock(row.level.reserved), available=fmt_stock(row.level.available),
                    tracked=row.level.tracked, last_cost=_fmt_cost(row.last_cost),
                    average_cost=_fmt_cost(row.average_cost), value=fmt_money(row.value),
                    alert_threshold=None if row.alert_threshold is None else fmt_qty(row.alert_threshold),
                    alert=row.alert, **parts_fields(row.level.real, row.parts), **incoming_field(row.incoming),
                ) for row in rows]))
        case ExpiringLots():
            return encode(wire.StockExpiringOk(
                re=request.id, stock_point=result.stock_point, today=result.today.isoformat(), days=result.days,
                lots=[wire.ExpiringLotView(article=lot.article, name=lot.name, received=lot.received.isoformat(),
                                           sell_by=lot.sell_by.isoformat(), remaining=fmt_stock(lot.remaining))
                      for lot in result.lots]))
        case OrderNow(order=order, names=names):
            return encode(wire.PurchaseOrderOk(re=request.id, order=order_view(order, lambda a: names.get(a, a))))
        case Proposals():
            return encode(wire.ReplenishmentOk(
                re=request.id, stock_point=result.stock_point,
                sold_since=None if result.sold_since is None else result.sold_since.isoformat(),
                orders=[wire.ProposedOrderView(supplier=order.supplier, lines=[
                    wire.ProposedLineView(
                        article=p.article, name=p.name, qty=fmt_stock(p.qty), available=fmt_stock(p.available),
                        incoming=fmt_stock(p.incoming),
                        reorder_point=None if p.reorder_point is None else fmt_qty(p.reorder_point),
                        sold=None if p.sold is None else fmt_stock(p.sold), last_cost=_fmt_cost(p.last_cost),
                    ) for p in order.lines]) for order in result.orders]))
    raise TypeError(f"the stock point answered {result!r}")


async def handle(address: Address, caller: Caller, request: wire.Request) -> bytes:
    """Ask the stock point at ``address`` for ``request`` on behalf of ``caller``; the reply frame."""
    return await outcomes.ask(address, caller, request, build(request), answer)


# --- the session's stock verbs (server/session.py) -------------------------------------------


async def move(shop: Shop, caller: Caller, request: Any, lane: str | None) -> bytes:
    """A stock verb for the point it names, else the one ``lane`` sells from."""
    point_id = request.stock_point or shop.config.stock_point_of(lane)
    point = shop.stock_points.get(point_id)
    if point is None:
        return error_frame(request, wire.Code.NOT_FOUND, f"no stock point {point_id!r}", field="stock_point")
    return await handle(point, caller, request)


async def on_order(shop: Shop, caller: Caller, request: wire.PurchaseReceive | wire.PurchaseCancel) -> bytes:
    """A receipt or a cancel, for the stock point the order belongs to."""
    found = await read(shop.journal, partial(reads.purchase_orders, number=request.order))
    point = shop.stock_points.get(found[0].stock_point) if found else None
    if point is None:
        return error_frame(request, wire.Code.NOT_FOUND, f"no purchase order {request.order}", field="order")
    return await handle(point, caller, request)


async def levels(shop: Shop, article: str) -> list[wire.StockPointView]:
    """Every point's level of ``article``; for one sold by the part, its stock article's."""
    known = shop.catalog.get(article)
    if known is not None and known.part_of:
        article = known.part_of
    return [level_view(await point.ask(GetLevel(article))) for point in shop.stock_points.values()]


#: The most articles a name look-up offers to choose from.
NAME_CANDIDATES = 10


def find_article(shop: Shop, text: str, *, by_name: bool = True, inactive: bool = True) -> Article | Refused:
    """The article ``text`` names, as a PDA's stock look-up takes it: its id, a barcode
    or supplier reference (catalog ``lookup``: an id in any case too, dormant and
    blocked articles included unless not ``inactive``: stock is counted for them), else (``by_name``) the one
    active article whose name holds every word; several: ``ambiguous_code`` with the
    candidates (at most ``NAME_CANDIDATES``)."""
    catalog = shop.catalog
    known = catalog.get(text)
    if known is not None and (inactive or known.active):
        return known
    match catalog.lookup(text, include_inactive=inactive):
        case Found(article=article):
            return article
        case Ambiguous(candidates=candidates):
            return refused(Code.AMBIGUOUS_CODE, f"{text!r} matches {len(candidates)} articles: choose one",
                           candidates=[wire.Candidate(article=a.id, name=a.name) for a in candidates])
    lower = catalog.get(text.strip().lower())
    if lower is not None and (inactive or lower.active):
        return lower
    if not by_name:
        return refused(Code.NOT_FOUND, f"no article {text!r}", article=text[:64])
    try:
        named = catalog.search(text, limit=NAME_CANDIDATES + 1)
    except SearchNotReady as not_ready:
        return refused(Code.UNAVAILABLE, f"{not_ready}: look up by barcode or id, or again in a few seconds")
    if len(named) == 1:
        return named[0]
    if named:
        return refused(Code.AMBIGUOUS_CODE, f"{text!r} names several articles: choose one",
                       candidates=[wire.Candidate(article=a.id, name=a.name) for a in named[:NAME_CANDIDATES]])
    return refused(Code.NOT_FOUND, f"no article {text!r} (by id, barcode or name)", article=text[:64])


async def stock(shop: Shop, request: wire.Stock) -> bytes:
    """``stock``: an article's level at every point; ``article`` is an id (any case), a
    barcode or a supplier reference (``find_article``; a name: ``search`` first)."""
    known = find_article(shop, request.article, by_name=False)
    if isinstance(known, Refused):
        return outcomes.refusal_frame(request, known)
    article = known.part_of or known.id  # sold by the part: the stock is its stock article's
    return encode(wire.StockOk(re=request.id, article=article, points=await levels(shop, article),
                               location=known.location))


async def purchase_orders(shop: Shop, request: wire.PurchaseOrders) -> bytes:
    if request.stock_point is not None and request.stock_point not in shop.stock_points:
        return error_frame(request, wire.Code.NOT_FOUND, f"no stock point {request.stock_point!r}",
                           field="stock_point")
    orders = await read(shop.journal, partial(
        reads.purchase_orders, stock_point=request.stock_point, status=request.status, supplier=request.supplier))

    def name_of(article_id: str) -> str:
        article = shop.catalog.get(article_id)
        return article.name if article is not None else article_id

    return encode(wire.PurchaseOrdersOk(re=request.id, orders=[order_view(o, name_of) for o in orders]))


async def history(shop: Shop, request: wire.StockHistory) -> bytes:
    if not 1 <= request.limit <= 1000:
        return error_frame(request, wire.Code.BAD_REQUEST, "limit must be between 1 and 1000", field="limit")
    for name in ("since", "until"):
        value = getattr(request, name)
        if value is not None:
            try:
                dt.datetime.fromisoformat(value)
            except ValueError:
                return error_frame(request, wire.Code.BAD_REQUEST,
                                   f"{name} {value!r} is not an ISO 8601 date or time", field=name)
    if request.stock_point is not None and request.stock_point not in shop.stock_points:
        return error_frame(request, wire.Code.NOT_FOUND, f"no stock point {request.stock_point!r}",
                           field="stock_point")
    rows = await read(shop.journal, partial(
        reads.stock_history, article=request.article, stock_point=request.stock_point, reason=request.reason,
        since=request.since, until=request.until, limit=request.limit,
    ))
    return encode(wire.StockHistoryOk(re=request.id, movements=[wire.MovementView(*row) for row in rows]))


# --- views -----------------------------------------------------------------------------------


def level_view(point: PointLevel) -> wire.StockPointView:
    level = point.level
    return wire.StockPointView(
        stock_point=point.stock_point,
        real=fmt_stock(level.real),
        reserved=fmt_stock(level.reserved),
        available=fmt_stock(level.available),
        **({} if level.tracked else {"tracked": False}),
        **parts_fields(level.real, point.parts),
        **incoming_field(point.incoming),
    )


def parts_fields(real: Any, parts: int) -> dict[str, Any]:
    """``units``, ``parts``, ``parts_per_unit`` for a stock article sold by the part, else none."""
    if parts <= 0:
        return {}
    units, rest = units_and_parts(real, parts)
    return {"units": units, "parts": rest, "parts_per_unit": parts}


def incoming_field(incoming: Decimal) -> dict[str, str]:
    """``incoming`` for a view, sent only when open purchase orders still expect some."""
    return {"incoming": fmt_stock(incoming)} if incoming > ZERO else {}


def order_view(order: repl.PurchaseOrder, name_of: Any) -> wire.PurchaseOrderView:
    """A purchase order for the wire; ``name_of(article id)`` gives an article's name."""
    return wire.PurchaseOrderView(
        order=order.number, stock_point=order.stock_point, supplier=order.supplier, status=order.status,
        created_at=order.created_at, comment=order.comment,
        lines=[wire.OrderLineView(article=line.article, name=name_of(line.article), ordered=fmt_stock(line.ordered),
                                  received=fmt_stock(line.received), remaining=fmt_stock(line.remaining),
                                  unit_cost=_fmt_cost(line.unit_cost))
               for line in order.lines],
    )


def alert_frame(alert: StockAlert) -> bytes:
    """The ``stock_alert`` event the point's subscribers are pushed."""
    level = alert.level
    return encode(wire.StockAlertEvent(
        stock_point=alert.stock_point, article=alert.article, name=alert.name, real=fmt_stock(level.real),
        reserved=fmt_stock(level.reserved), available=fmt_stock(level.available),
        alert_threshold=fmt_qty(alert.threshold)))


def _fmt_cost(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


# --- a PDA's stock work: inventory by zone, label requests (issue 16) -------------------------


def _counted_article(shop: Shop, code: str) -> tuple[Article, Decimal] | Refused:
    """The stock article a counted code names and how many units one count of it is (a
    pack's barcode counts its pack); an article sold by the part or a kit is refused
    (count its stock article, its components)."""
    match shop.catalog.lookup(code, include_inactive=True):
        case Found(article=article, qty=pack):
            found, units = article, pack
        case Ambiguous(candidates=candidates):
            return refused(Code.AMBIGUOUS_CODE, f"code {code!r} matches {len(candidates)} articles: choose one")
        case _:
            lower = shop.catalog.get(code.strip().lower())
            if lower is None:
                return refused(Code.UNKNOWN_CODE, f"unknown code {code!r}")
            found, units = lower, Decimal(1)
    if found.part_of:
        return refused(Code.BAD_REQUEST, f"{found.id} is sold by the part of {found.part_of}: count {found.part_of}")
    if found.kit:
        return refused(Code.BAD_REQUEST, f"{found.id} is a kit: count its components")
    return found, units


def pda_command(shop: Shop, request: wire.Request) -> Any:
    """The stock point command of a PDA's stock verb, or its ``Refused`` (every bad line
    of a count named in ``lines``, as a basket's: nothing of the request is taken)."""
    match request:
        case wire.StockCounts(zone=zone):
            if zone is not None and (problem := inventory.zone_problem(zone)) is not None:
                return refused(Code.BAD_REQUEST, problem, field="zone")
            return ShowCount(None if zone is None else zone.strip())
        case wire.StockCountValidate():
            return ValidateCount()
        case wire.LabelRequest(article=text, copies=copies):
            if not 1 <= copies <= MAX_LABEL_COPIES:
                return refused(Code.BAD_REQUEST, f"copies must be 1 to {MAX_LABEL_COPIES}, got {copies}",
                               field="copies")
            found = find_article(shop, text)
            return found if isinstance(found, Refused) else LabelRequest(article=found.id, copies=copies)
        case wire.StockCountZone(zone=zone, lines=lines):
            if (problem := inventory.zone_problem(zone)) is not None:
                return refused(Code.BAD_REQUEST, problem, field="zone")
            if not lines or len(lines) > inventory.MAX_COUNT_LINES:
                return refused(Code.BAD_REQUEST, f"a count brings 1 to {inventory.MAX_COUNT_LINES} lines, "
                                                 f"got {len(lines)}", field="lines")
            counted: list[tuple[str, Decimal]] = []
            problems: list[wire.LineProblemView] = []
            for index, line in enumerate(lines):
                try:
                    qty = parse_qty(line.counted, "counted")
                    found = _counted_article(shop, line.code)
                except BadValue as error:
                    found = refused(Code.BAD_REQUEST, str(error))
                if isinstance(found, Refused):
                    problems.append(wire.LineProblemView(index=index, code=line.code[:64], problem=found.code,
                                                         message=found.message))
                else:
                    counted.append((found[0].id, qty * found[1]))
            if problems:
                first = problems[0]
                return refused(first.problem, f"{len(problems)} line(s) of the count were not taken, nothing was: "
                                              f"line {first.index}: {first.message}", lines=problems)
            return CountZone(zone=zone.strip(), lines=tuple(counted))
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a PDA stock request")


#: The most labels one request may ask for.
MAX_LABEL_COPIES = 100


def pda_answer(request: wire.Request, result: Any) -> bytes:
    match result:
        case CountNow(stock_point=point, zones=zones, rows=rows):
            return encode(wire.StockCountOk(re=request.id, stock_point=point, zones=list(zones), lines=[
                wire.CountRowView(zone=r.zone, article=r.article, name=r.name, counted=fmt_qty(r.counted),
                                  article_counted=fmt_qty(r.article_counted), expected=fmt_stock(r.expected),
                                  difference=fmt_stock(exact(r.article_counted) - r.expected))
                for r in rows]))
        case CountValidated(stock_point=point, approved_by=approved_by, adjustments=adjusted):
            return encode(wire.StockCountValidateOk(re=request.id, stock_point=point, approved_by=approved_by,
                                                    adjustments=[
                wire.AdjustmentView(article=a.article, name=a.name, expected=fmt_stock(a.expected),
                                    counted=fmt_qty(a.counted), difference=fmt_stock(exact(a.counted) - a.expected))
                for a in adjusted]))
        case LabelsRequested():
            return encode(wire.LabelRequestOk(re=request.id, request=result.request, stock_point=result.stock_point,
                                              article=result.article, name=result.name, copies=result.copies))
    raise TypeError(f"the stock point answered {result!r}")


async def pda(shop: Shop, caller: Caller, request: Any, lane: str | None) -> bytes:
    """A PDA's stock verb for the point it names, else the one ``lane`` sells from (a PDA
    has no lane: the shop's first point)."""
    point_id = request.stock_point or shop.config.stock_point_of(lane)
    point = shop.stock_points.get(point_id)
    if point is None:
        return error_frame(request, wire.Code.NOT_FOUND, f"no stock point {point_id!r}", field="stock_point")
    return await outcomes.ask(point, caller, request, pda_command(shop, request), pda_answer)


async def label_requests(shop: Shop, request: wire.LabelRequests) -> bytes:
    if not 1 <= request.limit <= 1000:
        return error_frame(request, wire.Code.BAD_REQUEST, "limit must be between 1 and 1000", field="limit")
    if request.stock_point is not None and request.stock_point not in shop.stock_points:
        return error_frame(request, wire.Code.NOT_FOUND, f"no stock point {request.stock_point!r}",
                           field="stock_point")
    rows = await read(shop.journal, partial(reads.label_requests, stock_point=request.stock_point,
                                            limit=request.limit))

    def name_of(article_id: str) -> str:
        article = shop.catalog.get(article_id)
        return article.name if article is not None else article_id

    return encode(wire.LabelRequestsOk(re=request.id, requests=[
        wire.LabelRequestView(request=r.request, stock_point=r.stock_point, article=r.article,
                              name=name_of(r.article), copies=r.copies, at=r.at, device=r.device, seller=r.seller)
        for r in rows]))
