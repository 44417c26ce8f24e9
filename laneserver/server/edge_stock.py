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
    CountStock,
    CreateOrder,
    DeleteStock,
    EnterStock,
    ExitStock,
    ExpiringLots,
    GetLevel,
    OrderLine,
    OrderNow,
    PointLevel,
    ProduceStock,
    Proposals,
    ProposeOrders,
    ReceiveOrder,
    ShowExpiring,
    ShowStock,
    StockAlert,
    StockNow,
    StockRows,
    TrackStock,
    TransferStock,
)
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.rules import replenishment as repl
from laneserver.rules.money import ZERO, BadValue, fmt_money, fmt_qty, parse_money, parse_qty
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.stock import fmt_stock, units_and_parts
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


async def stock(shop: Shop, request: wire.Stock) -> bytes:
    """``stock``: an article's level at every point."""
    known = shop.catalog.get(request.article)
    if known is None:
        return error_frame(request, wire.Code.NOT_FOUND, f"no article {request.article!r}", article=request.article)
    article = known.part_of or request.article  # sold by the part: the stock is its stock article's
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
