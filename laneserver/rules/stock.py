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

Units and parts (``Article.part_of``/``parts``): an article sold by the part takes
``1/parts`` of a unit of its stock article (a glass is 1/6 of a bottle). 1/6 is no
finite decimal, so stock quantities are exact rationals (``fractions.Fraction``) here
and in the database (``to_text``: a decimal when it is one, else ``n/d``). Selling
``N × parts`` parts takes exactly ``N`` units (a property test checks it).

Kits (``Article.kit``: components and not ``assembly``): a kit has no stock of its own;
selling or reserving ``qty`` of it takes ``qty × component qty`` of each component
(each converted in turn if it is sold by the part), so the same ask/``Taken``/sale path
and the components' policies apply. How many kits a point can give is
``min over components of floor(level / component qty)`` (``kit_level``). An assembly
(``assembly`` set) is stocked as itself: its components are taken only by a production
(``production_takes``: ``qty × component qty`` each, out; ``qty`` of the product, in).

Pure: no Trio, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import compress
from operator import is_not
from typing import Any, Literal

import msgspec

from laneserver.rules.money import ZERO
from laneserver.rules.outcome import Code, Refused, refused

Policy = Literal["allow", "warn", "refuse"]
POLICIES: tuple[str, ...] = ("allow", "warn", "refuse")
COST_PLACES = Decimal("0.0001")


# --- exact quantities ----------------------------------------------------------------

Qty = Fraction
NONE = Fraction(0)
QTY_PLACES = Decimal("0.001")


def exact(value: Any) -> Fraction:
    """A quantity as an exact rational: from a ``Decimal``, an int, a ``Fraction`` or
    its text (``"1.5"``, ``"61/6"``)."""
    return value if type(value) is Fraction else Fraction(value)


def to_decimal(value: Fraction) -> Decimal:
    """The nearest ``Decimal`` (28 digits): exact when the quantity is a finite decimal."""
    return Decimal(value.numerator) / Decimal(value.denominator)


def _finite_decimal(value: Fraction) -> bool:
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def to_text(value: Any) -> str:
    """How a quantity is stored: a plain decimal when it is one (``"10.5"``), else the
    exact ``"n/d"`` (``"61/6"``). ``exact`` reads both back."""
    value = exact(value)
    if _finite_decimal(value):
        text = format(to_decimal(value).normalize(), "f")
        return text
    return f"{value.numerator}/{value.denominator}"


def fmt_stock(value: Any) -> str:
    """A quantity for the wire: its decimal, exact when it is one, else rounded half up
    to 3 places (10 bottles and 1 glass of 6: ``"10.167"``; ``units``/``parts`` are exact)."""
    number = to_decimal(exact(value))
    if not _finite_decimal(exact(value)) or number != number.quantize(QTY_PLACES, ROUND_HALF_UP):
        number = number.quantize(QTY_PLACES, ROUND_HALF_UP)
    normal = number.normalize()
    if normal == normal.to_integral_value():
        return str(normal.quantize(Decimal(1)))
    return format(normal, "f")


def units_and_parts(quantity: Any, parts: int) -> tuple[str, str]:
    """A quantity as whole units and parts of ``parts`` to a unit, both with the sign of
    the quantity: 61/6 with 6 → ("10", "1"); −7/6 → ("-1", "-1"). The parts are exact
    (a decimal when the quantity is not a whole number of parts, e.g. 0.25 of 6 → "1.5")."""
    quantity = exact(quantity)
    sign = -1 if quantity < 0 else 1
    whole = math.floor(abs(quantity))
    rest = (abs(quantity) - whole) * parts
    return fmt_stock(sign * whole), fmt_stock(sign * rest)


def stock_takes(article_id: str, qty: Any, article_of: Callable[[str], Any]) -> tuple[str, Fraction]:
    """What selling (or reserving) ``qty`` of an article takes from stock: itself, or,
    sold by the part, ``qty / parts`` of its stock article."""
    article = article_of(article_id)
    if article is not None and article.part_of and article.parts > 0:
        return article.part_of, exact(qty) / article.parts
    return article_id, exact(qty)


def stock_takes_all(article_id: str, qty: Any, article_of: Callable[[str], Any]) -> tuple[tuple[str, Fraction], ...]:
    """Everything selling (or reserving) ``qty`` of an article takes from stock: for a kit,
    ``qty × component qty`` of each component (each through ``stock_takes``, so a component
    sold by the part takes its stock article's share), else ``stock_takes``'s one pair."""
    article = article_of(article_id)
    if article is not None and article.kit:
        return tuple(stock_takes(c.article, exact(qty) * exact(c.qty), article_of) for c in article.components)
    return (stock_takes(article_id, qty, article_of),)


def stock_quantities(quantities: Mapping[str, Any], article_of: Callable[[str], Any]) -> dict[str, Fraction]:
    """Quantities per sold article → quantities per stock article (see ``stock_takes_all``:
    parts and kits); zeros dropped."""
    return _sum_takes(quantities, lambda article_id, qty: stock_takes_all(article_id, qty, article_of))


def _sum_takes(quantities: Mapping[str, Any],
               takes_of: Callable[[str, Any], tuple[tuple[str, Fraction], ...]]) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    for article_id, qty in quantities.items():
        for stock_article, take in takes_of(article_id, qty):
            before = out.get(stock_article)
            out[stock_article] = take if before is None else before + take
    return {article: qty for article, qty in out.items() if qty != 0}


class StockTakes:
    """``stock_quantities`` for one catalog, with the takes of each (article, quantity)
    kept: a lane computes its tickets' reservations after every change, over the same
    few pairs, and a part or a kit costs exact ``Fraction`` arithmetic each time. The
    catalog does not change while a server runs (an import is seen after a restart).
    Bounded: cleared when full."""

    KEPT = 8192

    def __init__(self, article_of: Callable[[str], Any]) -> None:
        self._article_of = article_of
        self._kept: dict[tuple[str, Any], tuple[tuple[str, Fraction], ...]] = {}

    def takes(self, article_id: str, qty: Any) -> tuple[tuple[str, Fraction], ...]:
        key = (article_id, qty)
        takes = self._kept.get(key)
        if takes is None:
            takes = stock_takes_all(article_id, qty, self._article_of)
            if len(self._kept) >= self.KEPT:
                self._kept.clear()
            self._kept[key] = takes
        return takes

    def quantities(self, quantities: Mapping[str, Any]) -> dict[str, Fraction]:
        """What ``stock_quantities(quantities, article_of)`` returns."""
        return _sum_takes(quantities, self.takes)


def parts_per_unit(articles: Iterable[Any]) -> dict[str, int]:
    """For each stock article something is sold by the part of, the parts its stock is
    shown in: the least common multiple of its part articles' ``parts`` (glasses of 6 and
    carafes of 2 → 6), so every sale of a part is a whole number of them."""
    out: dict[str, int] = {}
    for article in articles:
        if article.part_of and article.parts > 0:
            out[article.part_of] = math.lcm(out.get(article.part_of, 1), article.parts)
    return out


class Level(msgspec.Struct, frozen=True):
    article: str
    real: Fraction
    reserved: Fraction
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
    available: Fraction
    wanted: Fraction


def out_of_stock_refusal(decision: OutOfStock, name: str | None, stock_point: str) -> Refused:
    """A reservation refused at ``stock_point`` (``name``: the article's, when the catalog
    has it), as the cashier is told."""
    named = f" ({name})" if name is not None else ""
    return refused(
        Code.OUT_OF_STOCK,
        f"only {fmt_stock(decision.available)} of {decision.article}{named} available at "
        f"{stock_point}: this shop does not sell below zero stock",
        article=decision.article, available=fmt_stock(decision.available), stock_point=stock_point,
    )


def effective_policy(shop: str, article: str = "") -> str:
    """The article's own policy when it has one, else the shop's."""
    return article if article in POLICIES else shop


def average_cost(real: Decimal, average: Decimal | None, qty: Decimal, unit_cost: Decimal) -> Decimal:
    """The weighted average cost after an entry (see the module docstring)."""
    on_hand = max(to_decimal(exact(real)), ZERO)
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
        real: Mapping[str, Any] | None = None,
        *,
        reservations: dict[str, dict[str, Decimal]] | None = None,
        untracked: set[str] | None = None,
    ) -> None:
        self.stock_point = stock_point
        self.real: dict[str, Fraction] = {article: exact(qty) for article, qty in (real or {}).items()}
        self.reservations: dict[str, dict[str, Fraction]] = reservations if reservations is not None else {}
        self.untracked: set[str] = set(untracked or ())
        # What all holders hold back, per article: kept in step by ``reserve`` so a
        # level costs one probe, not a sum over every lane.
        self._reserved: dict[str, Fraction] = {}
        for held in self.reservations.values():
            self._add_reserved(held, 1)

    def _add_reserved(self, held: Mapping[str, Fraction], sign: int) -> None:
        totals = self._reserved
        for article, qty in held.items():
            total = totals.get(article, NONE) + sign * qty
            if total:
                totals[article] = total
            else:
                totals.pop(article, None)

    # --- reservations -------------------------------------------------------------

    def reserve(self, holder: str, quantities: dict[str, Decimal]) -> None:
        """Replace what ``holder`` (a lane) holds back with ``quantities``. Never refused."""
        old = self.reservations.pop(holder, None) or {}
        held: dict[str, Fraction] = {}
        # Only what changed moves the totals (a scan changes one article of many). A lane
        # sends the same quantity objects again for the articles a change did not touch
        # (rules/lane_sums.py): those are skipped on identity, without a Fraction
        # comparison (Python code, ~1 µs each, on the path of every scan).
        moved: list[tuple[str, Fraction]] = []
        keys = list(quantities)
        known = list(old)
        if old and keys[:len(known)] == known:
            # The usual case: the same articles in the same order, maybe new ones after
            # them. The untouched ones are found without a Python step each (map and
            # compress run in C), and they are Fractions already (kept from before).
            held.update(quantities)
            fresh = list(compress(known, map(is_not, quantities.values(), old.values())))
            fresh.extend(keys[len(known):])
            for article in fresh:
                qty = held[article]
                if type(qty) is not Fraction:
                    qty = held[article] = Fraction(qty)
                was = old.get(article)
                if was is None:
                    if qty:
                        moved.append((article, qty))
                elif was != qty:
                    moved.append((article, qty - was))
        else:
            for article, qty in quantities.items():
                if type(qty) is not Fraction:
                    qty = Fraction(qty)
                held[article] = qty
                was = old.get(article)
                if was is qty:
                    continue
                if was is None:
                    if qty:
                        moved.append((article, qty))
                elif was != qty:
                    moved.append((article, qty - was))
            for article, was in old.items():
                if was and article not in held:
                    moved.append((article, -was))
        if held:
            self.reservations[holder] = held
        totals = self._reserved
        for article, change in moved:
            total = totals.get(article, NONE) + change
            if total:
                totals[article] = total
            else:
                totals.pop(article, None)

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
        warnings: list[tuple[str, Fraction]] = []
        for article, qty in after.items():
            was = before.get(article)
            if was is qty:  # untouched by the change (the lane sends the same object again)
                continue
            was = NONE if was is None else exact(was)
            growth = exact(qty) - was
            if growth <= 0 or article in self.untracked:
                continue
            policy = policy_of(article)
            if policy == "allow":
                continue
            others = self._reserved.get(article, NONE) - self.reservations.get(holder, {}).get(article, NONE)
            available = self.real.get(article, NONE) - others - was
            if available - growth < 0:
                if policy == "refuse":
                    return OutOfStock(article=article, available=max(available, NONE), wanted=growth)
                warnings.append((article, available - growth))
        self.reserve(holder, after)
        return Granted(tuple(warnings))

    def check_takes(self, takes: Mapping[str, Any], policy_of) -> OutOfStock | None:
        """Whether taking ``takes`` (stock article → quantity) out of real stock now is
        allowed (a production taking its components): under ``refuse`` a tracked article
        may not go below what is available; the first short article is returned, in
        ``takes``' order. Nothing is recorded: the caller journals, then ``move``s."""
        for article, qty in takes.items():
            qty = exact(qty)
            if qty <= 0 or article in self.untracked or policy_of(article) != "refuse":
                continue
            available = self.level(article).available
            if available - qty < 0:
                return OutOfStock(article=article, available=max(available, NONE), wanted=qty)
        return None

    # --- real stock ---------------------------------------------------------------

    def move(self, article: str, delta: Any) -> Fraction:
        real = self.real.get(article, NONE) + exact(delta)
        self.real[article] = real
        return real

    def set_tracked(self, article: str, tracked: bool) -> None:
        """Tracking off: the article is unlimited (never refused, no alerts); real
        stock is kept as it is, so switching back on needs no entry."""
        if tracked:
            self.untracked.discard(article)
        else:
            self.untracked.add(article)

    def reserved(self, article: str) -> Fraction:
        return self._reserved.get(article, NONE)

    def level(self, article: str) -> Level:
        return Level(article=article, real=self.real.get(article, NONE), reserved=self.reserved(article),
                     tracked=article not in self.untracked)

    def articles(self) -> list[str]:
        """Every article this point has a number for (real or reserved), sorted."""
        return sorted(set(self.real) | set(self._reserved))


def production_takes(article: Any, qty: Any, article_of: Callable[[str], Any]) -> dict[str, Fraction]:
    """What producing ``qty`` of an assembly takes out of stock: ``qty × component qty``
    of each component, per stock article (a component sold by the part takes its stock
    article's share; a kit component, its own components)."""
    wanted: dict[str, Fraction] = {}
    for component in article.components:
        wanted[component.article] = wanted.get(component.article, NONE) + exact(qty) * exact(component.qty)
    return stock_quantities(wanted, article_of)


def kit_level(kit: str, components: Iterable[tuple[Level, Fraction]]) -> Level:
    """How many kits the components' levels allow: ``real`` and ``available`` are the
    least, over the tracked components, of ``floor(level / qty)`` (``reserved`` is the
    difference, so ``available = real − reserved`` still holds). Untracked components
    are unlimited and do not count; with no tracked component the kit is untracked
    (its numbers are then the components' all the same)."""
    components = [(level, exact(qty)) for level, qty in components]
    counted = [(level, qty) for level, qty in components if level.tracked] or components
    if not counted:
        return Level(article=kit, real=NONE, reserved=NONE, tracked=False)
    real = Fraction(min(math.floor(level.real / qty) for level, qty in counted))
    available = Fraction(min(math.floor(level.available / qty) for level, qty in counted))
    return Level(article=kit, real=real, reserved=real - available,
                 tracked=any(level.tracked for level, _ in components))


def is_alert(level: Level, threshold: Decimal | None) -> bool:
    """Under its alert threshold: tracked, a threshold set, and available ≤ threshold."""
    return level.tracked and threshold is not None and level.available <= exact(threshold)
