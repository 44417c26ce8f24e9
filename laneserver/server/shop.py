"""The running shop: the addresses of its actors, handed to the web layer."""

from __future__ import annotations

from dataclasses import dataclass, field

from laneserver.actors.lane import PAYMENT_MODES
from laneserver.actors.runtime import Address
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.rules.auth import PinGuard
from laneserver.rules.catalog import Catalog
from laneserver.protocol.messages import KeyboardPageView
from laneserver.server.metrics import Metrics


@dataclass
class Shop:
    config: Config
    clock: Clock
    journal: Address
    catalog: Catalog
    lanes: dict[str, Address]
    stock_points: dict[str, Address]
    metrics: Metrics = field(default_factory=Metrics)
    pin_guard: PinGuard = field(default_factory=PinGuard)
    keyboard: list[KeyboardPageView] = field(default_factory=list)
    accepting: bool = True
    # Open sessions' cancel scopes, so shutdown can end them at once instead of
    # waiting out the grace period for browsers that never hang up.
    sessions: set = field(default_factory=set)

    def close_sessions(self) -> None:
        self.accepting = False
        for scope in list(self.sessions):
            scope.cancel()

    @property
    def payment_modes(self) -> list[str]:
        return list(PAYMENT_MODES)
