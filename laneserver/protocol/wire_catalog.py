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
    """``keyboard``: the till's pages of keys (articles, functions, payment modes)."""


class KeyIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A key of ``keyboard_save``: exactly one of ``article``, ``function``, ``mode``."""

    label: str = ""
    article: str = ""
    function: str = ""
    mode: str = ""


class KeyboardPageIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    keys: list[KeyIn] = []


class KeyboardSave(Request, tag="keyboard_save"):
    """``keyboard_save``: a manager saves the till's keyboard (it replaces the shop
    file's ``[[keyboard]]`` pages, for every till); the reply is ``keyboard``'s."""

    pages: list[KeyboardPageIn]


class ArticleCreate(Request, tag="article_create"):
    """``article_create``: a supervisor (or a supervisor's PIN) creates the article an
    unknown ``code`` belongs to, with that code as its barcode (``[shop] unknown_code =
    "create"``); it sells at once. The reply is ``article`` (``ArticleOk``)."""

    article: str
    name: str
    price: MoneyIn
    vat_rate: MoneyIn
    code: str
    department: str = ""
    supervisor_pin: str | None = None


class BarcodeAttach(Request, tag="barcode_attach"):
    """``barcode_attach``: a supervisor (or a supervisor's PIN) attaches an unknown
    ``code`` to an existing ``article`` (``[shop] unknown_code`` = "attach" or
    "create"); it sells at once. The reply is ``article`` (``ArticleOk``)."""

    article: str
    code: str
    supervisor_pin: str | None = None


class ArticleView(msgspec.Struct, frozen=True):
    article: str
    name: str
    price: str
    vat_rate: str
    unit: str = ""
    barcodes: list[str] = []
    # The catalog's other labels (docs/catalog.md): where the article is on the shelves,
    # its sub-family, internal code, and its place in its model's size × colour grid.
    location: str = ""
    sub_family: str = ""
    internal_code: str = ""
    model: str = ""
    size: str = ""
    colour: str = ""


class VariantView(msgspec.Struct, frozen=True):
    """One variant of a model (its own article, barcodes and stock)."""

    article: str
    size: str
    colour: str
    price: str
    barcodes: list[str] = []


class KeyView(msgspec.Struct, frozen=True, omit_defaults=True):
    """An article key (``label``, ``article``, ``price``), a function key (``label``,
    ``function``) or a payment key (``label``, ``mode``): what a key does not have is
    left out."""

    label: str
    article: str = ""  # an article key: its id and price
    price: str = ""
    function: str = ""  # a function key (rules/keyboard.py FUNCTIONS)
    mode: str = ""  # a payment-mode key


class KeyboardPageView(msgspec.Struct, frozen=True):
    name: str
    keys: list[KeyView]


class SearchOk(Reply):
    articles: list[ArticleView]


class PriceCheckOk(Reply):
    article: ArticleView
    points: list[StockPointView]
    # An article of a model: every variant of the model (its size × colour grid).
    variants: list[VariantView] = []
    # A GS1 variable-measure code: what the label says (a price, or a weight in kg).
    measured: str = ""


class ArticleOk(Reply):
    """The article ``article_create`` made or ``barcode_attach`` gave a code."""

    article: ArticleView


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
