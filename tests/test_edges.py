"""The stock, sales and drawer edges without a server: wire requests → domain commands,
domain values → frames. Synchronous: the translation is pure."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import msgspec

from laneserver.actors.drawer_messages import DrawerAlert, MoveCash
from laneserver.actors.sales_messages import PayDebt
from laneserver.actors.stock_messages import (
    CountStock,
    EnterStock,
    OrderLine,
    PointLevel,
    ProposeOrders,
    ReceiveOrder,
    StockAlert,
    StockNow,
)
from laneserver.protocol import messages as wire
from laneserver.rules.outcome import Refused
from laneserver.rules.stock import Level
from laneserver.server import edge_drawer, edge_sales, edge_stock
from laneserver.server.edge_events import event_frame

D = Decimal


def test_stock_requests_become_commands_with_parsed_values():
    assert edge_stock.build(wire.StockEntry(article="WINE", qty="6", reason="delivery", unit_cost="4.10",
                                            received="2026-01-10")) == EnterStock(
        article="WINE", qty=D(6), reason="delivery", unit_cost=D("4.10"), received="2026-01-10")
    assert edge_stock.build(wire.StockCount(article="WINE", counted="0")) == CountStock(article="WINE", counted=D(0))
    assert edge_stock.build(wire.PurchaseReceive(order=3, lines=[wire.PurchaseLine(article="WINE", qty="2")])) == \
        ReceiveOrder(order=3, lines=(OrderLine("WINE", D(2)),))
    assert edge_stock.build(wire.Replenishment(sold_since="2026-01-05")) == ProposeOrders(dt.date(2026, 1, 5))


def test_bad_values_are_refused_at_the_edge_before_any_actor():
    assert edge_stock.build(wire.StockExit(article="WINE", qty="0", reason="breakage")) == Refused(
        "bad_request", "qty must be positive, got 0")
    assert edge_stock.build(wire.StockEntry(article="WINE", qty="1", reason="delivery", unit_cost="-1")).message == \
        "unit_cost must not be negative, got -1"
    assert edge_stock.build(wire.Replenishment(sold_since="5 janvier")).details == {"field": "sold_since"}
    assert edge_drawer.build(wire.DrawerMovement(kind="add", amount="abc", reason="x")).details == {"field": "amount"}
    assert isinstance(edge_sales.build(wire.PayLater(sale=1, mode="cash", amount="1e99")), Refused)
    assert edge_drawer.build(wire.DrawerMovement(kind="add", amount="5.00", reason="monnaie")) == MoveCash(
        kind="add", amount=D("5.00"), reason="monnaie")
    assert edge_sales.build(wire.PayLater(sale=7, mode="cash")) == PayDebt(sale=7, mode="cash")


def test_a_stock_result_is_encoded_as_the_wire_had_it():
    level = Level("GLASS", Fraction(7, 6), Fraction(1, 6))
    frame = edge_stock.answer(wire.StockStateRequest(id=4), StockNow("GLASS", PointLevel("main", level, parts=6,
                                                                                       incoming=D(2))))
    assert msgspec.json.decode(frame) == {"type": "ok", "re": 4, "article": "GLASS", "points": [{
        "stock_point": "main", "real": "1.167", "reserved": "0.167", "available": "1", "units": "1", "parts": "1",
        "parts_per_unit": 6, "incoming": "2"}]}


def test_an_alert_is_encoded_once_for_every_session():
    alert = StockAlert(stock_point="main", article="WINE", name="Vin", level=Level("WINE", Fraction(0), Fraction(0)),
                       threshold=D("0"))
    frame = event_frame(alert)
    assert event_frame(StockAlert(**msgspec.structs.asdict(alert))) is frame  # equal values: the same bytes
    assert msgspec.json.decode(frame) == {"type": "stock_alert", "stock_point": "main", "article": "WINE",
                                          "name": "Vin", "real": "0", "reserved": "0", "available": "0",
                                          "alert_threshold": "0"}
    assert msgspec.json.decode(event_frame(DrawerAlert(lane="1", expected=D("200.01"), threshold=D("200")))) == {
        "type": "drawer_alert", "lane": "1", "expected": "200.01", "threshold": "200.00"}
