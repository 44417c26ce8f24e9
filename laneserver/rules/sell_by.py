"""Sell-by dates (SPEC §6, Kezia's DLV): lots, what remains of them, what is near its date.

Every ``initial`` or ``delivery`` entry, and every production, records a **lot**: the
article, the date the goods were received and the quantity. A lot's sell-by date is its
received date + the article's ``sell_by_days`` (computed when asked, so a catalog change
applies to the lots already in).

What remains of the lots is first in, first out: what left the stock point went from the
oldest lot first. The point does not tag each movement with a lot; it knows its real
stock, so what was consumed from the lots is ``Σ lots − max(real, 0)`` (``consumed``):
the stock on hand is taken to be the newest lots. Stock beyond the lots (an inventory or
a return entry) counts as older than any lot, so it goes first.

Invariants (property tests): ``remaining`` never gives a negative quantity, never more
than the lot, and ``Σ remaining == max(Σ lots − consumed, 0)``; the oldest lots are
emptied first.

Pure: no Trio, no I/O; ``today`` is handed in (the server clock's date).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import msgspec

from laneserver.rules.stock import NONE, exact


class Lot(msgspec.Struct, frozen=True):
    """``qty`` of ``article`` received on ``received`` at a stock point."""

    article: str
    received: dt.date
    qty: Fraction


class Expiring(msgspec.Struct, frozen=True):
    """A lot with stock left whose sell-by date is within the window asked."""

    article: str
    received: dt.date
    sell_by: dt.date
    remaining: Fraction


def remaining(quantities: Sequence[Any], consumed: Any) -> list[Fraction]:
    """What remains of each lot (oldest first) after ``consumed`` went, oldest first.

    A ``consumed`` below zero counts as nothing consumed; beyond the lots, all are empty.
    """
    left = max(exact(consumed), NONE)
    out: list[Fraction] = []
    for qty in quantities:
        qty = max(exact(qty), NONE)
        used = min(qty, left)
        left -= used
        out.append(qty - used)
    return out


def consumed(quantities: Iterable[Any], real: Any) -> Fraction:
    """How much of the lots has gone, given the real stock on hand: ``Σ lots − max(real, 0)``,
    at least 0 (stock beyond the lots is older than them: see the module docstring)."""
    total = sum((exact(q) for q in quantities), NONE)
    return max(total - max(exact(real), NONE), NONE)


def sell_by(received: dt.date, days: int) -> dt.date:
    return received + dt.timedelta(days=days)


def expiring(
    lots: Iterable[Lot],
    real_of: Mapping[str, Any] | Callable[[str], Any],
    days_of: Callable[[str], int],
    today: dt.date,
    within: int,
) -> list[Expiring]:
    """The lots with stock left whose sell-by date is on or before ``today + within``
    (past ones included: still on the shelf), sorted by sell-by date then article.

    Args:
        lots: a stock point's lots, in any order (ordered here by received date, stable).
        real_of: an article's real stock at the point.
        days_of: an article's ``sell_by_days``; articles with 0 have no sell-by date.
        today: the server clock's date.
        within: how many days ahead to look (≥ 0).
    """
    get = real_of.get if isinstance(real_of, Mapping) else real_of
    by_article: dict[str, list[Lot]] = {}
    for lot in lots:
        by_article.setdefault(lot.article, []).append(lot)
    limit = today + dt.timedelta(days=within)
    out: list[Expiring] = []
    for article, its_lots in by_article.items():
        days = days_of(article)
        if days <= 0:
            continue
        its_lots.sort(key=lambda lot: lot.received)
        quantities = [lot.qty for lot in its_lots]
        real = get(article)
        left = remaining(quantities, consumed(quantities, NONE if real is None else real))
        for lot, rest in zip(its_lots, left):
            date = sell_by(lot.received, days)
            if rest > 0 and date <= limit:
                out.append(Expiring(article=article, received=lot.received, sell_by=date, remaining=rest))
    out.sort(key=lambda e: (e.sell_by, e.article, e.received))
    return out


def parse_received(text: str | None, today: dt.date) -> dt.date:
    """An entry's ``received`` date: ISO ``YYYY-MM-DD``, default today, never in the future.

    Raises:
        ValueError: not such a date, or after ``today``.
    """
    if text is None:
        return today
    try:
        if len(text) != 10:
            raise ValueError
        received = dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"received must be a date as YYYY-MM-DD, got {text!r}") from None
    if received > today:
        raise ValueError(f"received {text} is in the future (today is {today.isoformat()})")
    return received
