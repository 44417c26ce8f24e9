"""Discounts: compounding percents, amounts turned into percents, the cap (below cost: rules.ticket ``Line``).

A line carries one ``discount_percent``; everything a discount can be — a percent
or an amount, on a line or on the whole ticket, replacing or adding to what is
there — ends as a percent per line, so each line keeps its own VAT rate and the
VAT per rate stays exact (``rules.ticket``: VAT is computed on each line's total).

Invariants (checked by the property tests):
  - ``combine`` stays within 0..100; ``add`` is commutative and compounds:
    two 15 % make 27.75 %, not 30 % (100 − 85 × 85 / 100);
  - ``percent_for_total(unit_price, qty, target)`` returns a percent ``p`` in 0..100
    with ``line_total(unit_price, qty, p) == target`` exactly, for every cent
    ``target`` between 0 and the undiscounted line total;
  - ``spread(amount, bases)`` returns one share in cents per base, each between 0
    and its base, adding up to ``amount`` exactly.

How the cent is guaranteed. For ``gross = unit_price × qty`` (not rounded), the
percents that round the line to ``target`` form an interval of width ``1 / gross``
(one cent of the line is ``100 × 0.01 / gross`` percent) whose centre is the exact
quotient ``(gross − target) × 100 / gross``. Rounding that quotient to ``d`` places
moves it by at most ``0.5 × 10**-d``, which stays inside the interval once
``10**d > gross``. So trying ``d = 0, 1, 2, …`` and checking each candidate with
``line_total`` itself finds the shortest percent that works, after at most the
number of integer digits of ``gross`` plus one tries; the checked result, not the
argument, is what is returned.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Literal

from laneserver.rules.money import CENT, HUNDRED, ZERO, round_cents
from laneserver.rules.ticket import line_total

Mode = Literal["replace", "add"]
OFFERED = HUNDRED  # an offered line is a 100 % discount


def combine(existing: Decimal, new: Decimal, mode: Mode) -> Decimal:
    """The percent a line ends with when ``new`` is applied over ``existing``.

    ``replace`` forgets the existing discount; ``add`` compounds: what is left to
    pay is multiplied, ``100 − (100 − a)(100 − b) / 100``.
    """
    if mode == "replace":
        return new
    if mode == "add":
        return _tidy(HUNDRED - (HUNDRED - existing) * (HUNDRED - new) / HUNDRED)
    raise ValueError(f"discount mode must be replace or add, got {mode!r}")


def gross_total(unit_price: Decimal, qty: Decimal) -> Decimal:
    """The line's total before any discount."""
    return line_total(unit_price, qty, ZERO)


def percent_for_total(unit_price: Decimal, qty: Decimal, target: Decimal) -> Decimal:
    """The shortest percent that brings the line's total to ``target`` exactly.

    Raises:
        ValueError: ``target`` is not a cent amount between 0 and the line's
            undiscounted total.
    """
    if target != round_cents(target) or not ZERO <= target <= gross_total(unit_price, qty):
        raise ValueError(f"a line of {gross_total(unit_price, qty)} cannot be brought to {target}")
    gross = unit_price * qty
    if gross == 0:
        return ZERO
    exact = (gross - target) * HUNDRED / gross
    places = len(str(int(gross))) + 2
    for candidate in [exact.quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP) for d in range(places)] + [exact]:
        percent = min(max(candidate, ZERO), HUNDRED)
        if line_total(unit_price, qty, percent) == target:
            return _tidy(percent)
    raise AssertionError(f"no percent brings {unit_price} × {qty} to {target}")  # see the module docstring


def spread(amount: Decimal, bases: list[Decimal]) -> list[Decimal]:
    """Share ``amount`` (cents) among ``bases`` in proportion, to the cent.

    Each base first gets its share rounded down to the cent; the cents left over go
    one each to the largest remainders (the first lines on a tie). The shares add
    up to ``amount`` exactly, and no share exceeds its base when ``amount`` does not
    exceed their sum.
    """
    whole = sum(bases, ZERO)
    if not ZERO <= amount <= whole:
        raise ValueError(f"cannot take {amount} off {whole}")
    if amount == whole:
        return list(bases)
    exact = [amount * base / whole for base in bases]
    shares = [share.quantize(CENT, rounding=ROUND_DOWN) for share in exact]
    left = int((amount - sum(shares, ZERO)) / CENT)
    by_remainder = sorted(range(len(bases)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[:left]:
        shares[i] += CENT
    return shares


def above_cap(percent: Decimal, cap: Decimal) -> bool:
    """Whether a line's discount needs a supervisor's approval."""
    return percent > cap


def _tidy(percent: Decimal) -> Decimal:
    """Drop trailing zeros (``27.7500`` → ``27.75``, ``1E+2`` → ``100``)."""
    normal = percent.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal
