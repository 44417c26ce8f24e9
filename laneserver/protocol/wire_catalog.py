"""The catalog, read only: search, price check, the till keyboard, and the price
of an alcohol built on its duties (rules/catalog.py, rules/alcohol.py)."""

from __future__ import annotations

import msgspec

from laneserver.protocol.frames import MoneyIn, QtyIn, Reply, Request
from laneserver.protocol.wire_stock import StockPointView


class Search(Request, tag="search"):
    text: str
    limit: int = 20


class PriceCheck(Request, tag="price_check"):
    code: str


class Keyboard(Request, tag="keyboard"):
    """``keyboard``: the till's pages of article keys."""


class ArticleView(msgspec.Struct, frozen=True):
    article: str
    name: str
    price: str
    vat_rate: str
    unit: str = ""
    barcodes: list[str] = []


class KeyView(msgspec.Struct, frozen=True):
    label: str
    article: str
    price: str


class KeyboardPageView(msgspec.Struct, frozen=True):
    name: str
    keys: list[KeyView]


class SearchOk(Reply):
    articles: list[ArticleView]


class PriceCheckOk(Reply):
    article: ArticleView
    points: list[StockPointView]


class KeyboardOk(Reply):
    pages: list[KeyboardPageView]


class AlcoholPricing(Request, tag="alcohol_price"):
    """The duties and sale price of an alcohol: from ``volume_l`` and ``abv``, or from
    the catalog ``article``'s (then its VAT rate too). Computes; changes nothing."""

    cost: MoneyIn
    margin: QtyIn
    article: str | None = None
    volume_l: QtyIn | None = None
    abv: MoneyIn | None = None
    vat_rate: MoneyIn | None = None
    tax_type: int = 2


class AlcoholPriceOk(Reply):
    excise: str
    levy: str
    cost_with_duties: str
    price: str
    cost: str
    margin: str
    volume_l: str
    abv: str
    vat_rate: str
    tax_type: int
    excise_rate: str
    levy_rate: str
    article: str | None = None
