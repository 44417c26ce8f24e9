"""Pushed events at the edge: the domain values actors deliver to sessions, as frames.

An actor delivers one value to every subscriber of a change (a stock alert, a drawer
alert); each session asks for its frame here, so the value is encoded once and the
bytes shared (the cache is keyed by the value: frozen, hashable Structs).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from laneserver.actors.drawer_messages import DrawerAlert
from laneserver.actors.lane_messages import BasketArrived
from laneserver.actors.stock_messages import StockAlert
from laneserver.server import edge_drawer, edge_lane, edge_stock


@lru_cache(maxsize=256)
def event_frame(value: Any) -> bytes:
    """The event frame of a value an actor delivered."""
    match value:
        case StockAlert():
            return edge_stock.alert_frame(value)
        case DrawerAlert():
            return edge_drawer.alert_frame(value)
        case BasketArrived():
            return edge_lane.basket_event(value)
    raise TypeError(f"no event frame for {value!r}")
