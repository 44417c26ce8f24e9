"""Stock arithmetic for one stock point: real, reserved, available.

real       — on hand, the sum of the movements (entries, exits, sales);
reserved   — held back by open and held tickets of the lanes the point serves;
available  — real − reserved.

Reservations are derived from the lanes' tickets, so they are not journaled:
after a restart each lane reports its tickets again.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from laneserver.rules.money import ZERO


class Level(msgspec.Struct, frozen=True):
    article: str
    real: Decimal
    reserved: Decimal

    @property
    def available(self) -> Decimal:
        return self.real - self.reserved


class StockState:
    """The numbers of one stock point (mutable, owned by its actor only)."""

    def __init__(self, stock_point: str, real: dict[str, Decimal] | None = None) -> None:
        self.stock_point = stock_point
        self.real: dict[str, Decimal] = dict(real or {})
        self.reservations: dict[str, dict[str, Decimal]] = {}

    def reserve(self, holder: str, quantities: dict[str, Decimal]) -> None:
        """Replace what ``holder`` (a lane) holds back with ``quantities``."""
        if quantities:
            self.reservations[holder] = dict(quantities)
        else:
            self.reservations.pop(holder, None)

    def move(self, article: str, delta: Decimal) -> Decimal:
        real = self.real.get(article, ZERO) + delta
        self.real[article] = real
        return real

    def reserved(self, article: str) -> Decimal:
        return sum((held.get(article, ZERO) for held in self.reservations.values()), ZERO)

    def level(self, article: str) -> Level:
        return Level(article=article, real=self.real.get(article, ZERO), reserved=self.reserved(article))
