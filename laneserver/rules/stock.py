"""Stock arithmetic for one stock point: real, reserved, available, and the
decisions made against them.

real       — on hand, the sum of the movements (entries, exits, sales, counts);
reserved   — held back by open and held tickets of the lanes the point serves;
available  — real − reserved.

Reservations are derived from the lanes' tickets, so they are not journaled:
after a restart each lane reports its tickets again (``reserve``, never refused).

Invariants (checked by the property tests):
  - ``real`` of an article is the sum of the deltas applied to it;
  - ``reserved`` is the sum over holders of each holder's latest reservation;
  - ``available == real − reserved``;
  - a transfer moves the same quantity out of one point and into another, so the
    total over both points is unchanged;
  - ``ask`` under the ``refuse`` policy never grants a growth that would take
    ``available`` below zero; what a holder already held is never questioned
    (only the growth from ``before`` to ``after`` is checked).

Costs (``average_cost``): the weighted average cost after an entry of ``qty`` at
``unit_cost`` is ``(max(real, 0) × old_average + qty × unit_cost) / (max(real, 0) + qty)``
rounded half up to ``COST_PLACES`` (4 decimal places); with no previous average
(or no stock on hand) it is the entry's unit cost. Stock below zero has no value,
so it does not weigh in.

Pure: no Trio, no I/O.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

import msgspec

from laneserver.rules.money import ZERO

Policy = Literal["allow", "warn", "refuse"]
POLICIES: tuple[str, ...] = ("allow", "warn", "refuse")
COST_PLACES = Decimal("0.0001")


class Level(msgspec.Struct, frozen=True):
    article: str
    real: Decimal
    reserved: Decimal
    tracked: bool = True

    @property
    def available(self) -> Decimal:
        return self.real - self.reserved


# --- decisions on a reservation ----------------------------------------------------

class Granted(msgspec.Struct, frozen=True):
    """The reservation holds. ``warnings``: articles it takes below zero under ``warn``."""

    warnings: tuple[tuple[str, Decimal], ...] = ()


class OutOfStock(msgspec.Struct, frozen=True):
    """Refused: ``article`` has only ``available`` for a growth of ``wanted``."""

    article: str
    available: Decimal
    wanted: Decimal


def effective_policy(shop: str, article: str = "") -> str:
    """The article's own policy when it has one, else the shop's."""
    return article if article in POLICIES else shop


def average_cost(real: Decimal, average: Decimal | None, qty: Decimal, unit_cost: Decimal) -> Decimal:
    """The weighted average cost after an entry (see the module docstring)."""
    on_hand = max(real, ZERO)
    if average is None or on_hand == 0:
        return unit_cost.quantize(COST_PLACES, ROUND_HALF_UP)
    value = on_hand * average + qty * unit_cost
    return (value / (on_hand + qty)).quantize(COST_PLACES, ROUND_HALF_UP)


def count_adjustment(real: Decimal, counted: Decimal) -> Decimal:
    """The delta an inventory count records: counted − expected (may be 0)."""
    return counted - real


class StockState:
    """The numbers of one stock point (mutable, owned by its actor only).

    ``reservations`` may be handed in so that they survive a restart of the actor
    (the supervisor's closure keeps the dict; the lanes do not re-report then).
    """

    def __init__(
        self,
        stock_point: str,
        real: dict[str, Decimal] | None = None,
        *,
        reservations: dict[str, dict[str, Decimal]] | None = None,
        untracked: set[str] | None = None,
    ) -> None:
        self.stock_point = stock_point
        self.real: dict[str, Decimal] = dict(real or {})
        self.reservations: dict[str, dict[str, Decimal]] = reservations if reservations is not None else {}
        self.untracked: set[str] = set(untracked or ())

    # --- reservations -------------------------------------------------------------

    def reserve(self, holder: str, quantities: dict[str, Decimal]) -> None:
        """Replace what ``holder`` (a lane) holds back with ``quantities``. Never refused."""
        if quantities:
            self.reservations[holder] = dict(quantities)
        else:
            self.reservations.pop(holder, None)

    def ask(
        self,
        holder: str,
        before: dict[str, Decimal],
        after: dict[str, Decimal],
        policy_of,
    ) -> Granted | OutOfStock:
        """Decide whether ``holder`` may go from holding ``before`` to ``after``.

        Only articles whose quantity grows are checked, against what is available
        with ``holder`` counted at ``before`` (its own view of what it held, so a
        lost reservation never refuses what was already granted). ``policy_of``
        gives the policy of an article id. Granted → ``after`` is recorded;
        refused → nothing changes.
        """
        warnings: list[tuple[str, Decimal]] = []
        for article, qty in after.items():
            growth = qty - before.get(article, ZERO)
            if growth <= 0 or article in self.untracked:
                continue
            policy = policy_of(article)
            if policy == "allow":
                continue
            others = sum((held.get(article, ZERO) for h, held in self.reservations.items() if h != holder), ZERO)
            available = self.real.get(article, ZERO) - others - before.get(article, ZERO)
            if available - growth < 0:
                if policy == "refuse":
                    return OutOfStock(article=article, available=max(available, ZERO), wanted=growth)
                warnings.append((article, available - growth))
        self.reserve(holder, after)
        return Granted(tuple(warnings))

    # --- real stock ---------------------------------------------------------------

    def move(self, article: str, delta: Decimal) -> Decimal:
        real = self.real.get(article, ZERO) + delta
        self.real[article] = real
        return real

    def set_tracked(self, article: str, tracked: bool) -> None:
        """Tracking off: the article is unlimited (never refused, no alerts); real
        stock is kept as it is, so switching back on needs no entry."""
        if tracked:
            self.untracked.discard(article)
        else:
            self.untracked.add(article)

    def reserved(self, article: str) -> Decimal:
        return sum((held.get(article, ZERO) for held in self.reservations.values()), ZERO)

    def level(self, article: str) -> Level:
        return Level(article=article, real=self.real.get(article, ZERO), reserved=self.reserved(article),
                     tracked=article not in self.untracked)

    def articles(self) -> list[str]:
        """Every article this point has a number for (real or reserved), sorted."""
        known = set(self.real)
        for held in self.reservations.values():
            known.update(held)
        return sorted(known)


def is_alert(level: Level, threshold: Decimal | None) -> bool:
    """Under its alert threshold: tracked, a threshold set, and available ≤ threshold."""
    return level.tracked and threshold is not None and level.available <= threshold
