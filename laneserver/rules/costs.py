"""Purchase costs as a lane sees them, to flag a sale below cost (SPEC §2).

A stock point knows, per stock article, its last purchase price and its weighted
average cost (rules.stock ``average_cost``, written by entries and deliveries). The
lanes selling from it need them on every line they add, and must never wait for
them: so each stock point keeps a ``CostBook`` that only its actor writes (after
the entry that changed a cost is journaled), and tells each lane it serves what
changed (``actors.stock_messages.CostsChanged``); the lane applies it to its own
copy (``update``), read with no round trip. No book is shared between actors.

What a line costs (``unit_cost``): per unit of the sold article, what each stock
article it takes costs (``rules.stock.stock_takes_all``: a glass takes 1/6 of its
bottle, a kit takes its components), summed; unknown when any of them has no cost.
A line is below cost when its net unit price is below the higher of the last
purchase price and the weighted average (below either of them), rounded half up to
``COST_PLACES``.

Pure: no Trio, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from laneserver.rules.stock import COST_PLACES, stock_takes_all


class CostBook:
    """Unit costs per stock article at one stock point: ``(last, average)``."""

    def __init__(self) -> None:
        self._costs: dict[str, tuple[Decimal | None, Decimal | None]] = {}

    def load(self, rows: Mapping[str, Any]) -> None:
        """All of them at once, from rows with ``last_cost`` and ``average_cost``."""
        self._costs = {article: (row.last_cost, row.average_cost) for article, row in rows.items()
                       if row.last_cost is not None or row.average_cost is not None}

    def put(self, article: str, last: Decimal | None, average: Decimal | None) -> None:
        if last is None and average is None:
            self._costs.pop(article, None)
        else:
            self._costs[article] = (last, average)

    def all(self) -> dict[str, tuple[Decimal | None, Decimal | None]]:
        """Every article's ``(last, average)`` (a copy: for a lane's own book)."""
        return dict(self._costs)

    def update(self, costs: Mapping[str, tuple[Decimal | None, Decimal | None]], *, whole: bool = False) -> None:
        """Take ``costs`` (article → ``(last, average)``); with ``whole``, they are all of them."""
        if whole:
            self._costs = {}
        for article, (last, average) in costs.items():
            self.put(article, last, average)

    def cost(self, stock_article: str) -> Decimal | None:
        """The higher of the article's last purchase price and its average, if any."""
        known = [c for c in self._costs.get(stock_article, (None, None)) if c is not None]
        return max(known) if known else None

    def __len__(self) -> int:
        return len(self._costs)


def unit_cost(article_id: str, article_of: Callable[[str], Any], book: CostBook) -> Decimal | None:
    """What one unit of the article costs from the stock points' costs, or None."""
    total = Decimal(0)
    for stock_article, qty in stock_takes_all(article_id, 1, article_of):
        cost = book.cost(stock_article)
        if cost is None:
            return None
        total += cost * qty.numerator / qty.denominator  # a part of a unit: 1/6 of a bottle
    return total.quantize(COST_PLACES, ROUND_HALF_UP)
