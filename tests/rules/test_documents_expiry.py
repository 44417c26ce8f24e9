"""A quote's validity (rules/documents.py ``expired``, ``recall_refusal``): recalled
through its ``valid_until`` day, refused the day after with ``expired`` and
``valid_until``; only an open quote expires (an order has no validity, a recalled or
cancelled quote says its status)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from laneserver.rules import documents as docs
from laneserver.rules.outcome import Code
from laneserver.rules.ticket import Line

LAST = dt.date(2026, 2, 15)
LINE = Line(line=1, article="C1", name="Champagne", qty=Decimal(1), unit_price=Decimal("30.00"),
            vat_rate=Decimal(20))


def _opened(kind: str = "quote", status: str = "open") -> docs.Opened:
    document = docs.Document(kind=kind, number=7, at=dt.datetime(2026, 1, 15, 9, tzinfo=dt.UTC), lane="1",
                             seller="marie", stock_point="main", lines=(LINE,), total=Decimal("30.00"),
                             valid_until=LAST if kind == "quote" else None)
    return docs.Opened(document, status)


def test_a_quote_is_recalled_through_its_last_valid_day():
    assert not docs.expired(_opened(), LAST)
    assert docs.recall_refusal(_opened(), LAST) is None


def test_the_day_after_it_is_refused_naming_the_quote_and_its_last_day():
    refusal = docs.recall_refusal(_opened(), LAST + dt.timedelta(days=1))
    assert refusal is not None and refusal.code == Code.CONFLICT
    assert refusal.details == {"document": "Q-000007", "expired": True, "valid_until": "2026-02-15"}
    assert "Q-000007" in refusal.message and "2026-02-15" in refusal.message


def test_only_an_open_quote_expires_and_a_closed_one_says_its_status():
    late = LAST + dt.timedelta(days=400)
    assert not docs.expired(_opened("order"), late)
    assert docs.recall_refusal(_opened("order"), late) is None
    assert not docs.expired(_opened(status="cancelled"), late)
    refusal = docs.recall_refusal(_opened(status="recalled"), late)
    assert refusal is not None and refusal.details == {"document": "Q-000007", "status": "recalled"}
