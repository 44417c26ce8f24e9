"""Decoding the rows of the ``articles`` table into ``Article`` values, fast and small.

A large shop's start-up is mostly this: a million JSON rows. Decoded straight into
``Article``, every row gets its own ``Decimal`` objects for its price, its VAT rate
and each barcode's pack quantity (104 bytes each), although a catalog holds a few
VAT rates, a few pack sizes and some thousands of prices. So rows are decoded into
twins of ``Article`` and ``Barcode`` whose decimals are still strings, and every
distinct string becomes one ``Decimal`` shared by all the articles that hold it
(a ``Decimal`` is immutable). Repeated labels (department, family, sub-family, unit, location, size, colour)
are shared the same way. The articles are equal to those a plain decode gives:
a million of them took a third less memory and less time to load.

The twins must list ``Article``'s and ``Barcode``'s fields, in the same order, with
the same defaults: checked at import, so a field added to ``Article`` and not here
stops every test rather than being dropped on load.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

from laneserver.rules.catalog import Article, Barcode, Component, Status


class _BarcodeRow(msgspec.Struct, frozen=True, gc=False):
    code: str
    pack_qty: str = "1"


class _ComponentRow(msgspec.Struct, frozen=True, gc=False):
    article: str
    qty: str = "1"


class _ArticleRow(msgspec.Struct, frozen=True, gc=False):
    id: str
    name: str
    price: str
    vat_rate: str
    barcodes: tuple[_BarcodeRow, ...] = ()
    supplier_refs: tuple[str, ...] = ()
    status: Status = "active"
    meal_voucher: bool = False
    department: str = ""
    family: str = ""
    unit: str = ""
    location: str = ""
    ticket_text: str = ""
    zero_price_allowed: bool = False
    deposit: str = ""
    note: str = ""
    negative_stock: str = ""
    stock_alert: str = ""
    part_of: str = ""
    parts: int = 0
    components: tuple[_ComponentRow, ...] = ()
    assembly: bool = False
    sell_by_days: int = 0
    reorder_point: str = ""
    reorder_qty: str = ""
    supplier: str = ""
    coupon_article: str = ""
    coupons: int = 0
    coupon_valid_days: int = 0
    volume_l: str = ""
    abv: str = ""
    sub_family: str = ""
    internal_code: str = ""
    plu: str = ""
    model: str = ""
    size: str = ""
    colour: str = ""


def _defaults(cls) -> dict[str, str]:
    fields, defaults = cls.__struct_fields__, cls.__struct_defaults__
    return {field: str(default) for field, default in zip(fields[len(fields) - len(defaults):], defaults)}


def _check_twins() -> None:
    for twin, model in ((_ArticleRow, Article), (_BarcodeRow, Barcode), (_ComponentRow, Component)):
        if twin.__struct_fields__ != model.__struct_fields__ or _defaults(twin) != _defaults(model):
            raise TypeError(f"{__name__}.{twin.__name__} must list the fields of {model.__name__}, "
                            f"in order, with the same defaults: {model.__struct_fields__}")


_check_twins()
_decoder = msgspec.json.Decoder(_ArticleRow)
_encoder = msgspec.json.Encoder()


def _omitted(cls) -> dict[str, object]:
    """A twin's defaults as ``msgspec.to_builtins`` gives the fields (``()`` as ``[]``)."""
    fields, defaults = cls.__struct_fields__, cls.__struct_defaults__
    return {field: msgspec.to_builtins(default)
            for field, default in zip(fields[len(fields) - len(defaults):], defaults)}


_ARTICLE_DEFAULTS = _omitted(_ArticleRow)
_PART_DEFAULTS = {"barcodes": _omitted(_BarcodeRow), "components": _omitted(_ComponentRow)}


def _short(fields: dict[str, object], defaults: dict[str, object]) -> dict[str, object]:
    return {field: value for field, value in fields.items() if field not in defaults or value != defaults[field]}


def encode_article(article: Article) -> str:
    """An article as the ``articles`` table keeps it: JSON, decimals as strings, the
    fields at their default left out (compared as text: a pack quantity written
    ``1.0`` is kept).

    Most of a catalog's fields are empty: a row of the generated million-article
    catalog is 190 bytes this way against 660 with every field, so the table, its
    backups and the start-up's reading and decoding are about three times smaller.
    ``decode_articles`` reads both forms (the rows written before are complete).
    """
    row = _short(msgspec.to_builtins(article), _ARTICLE_DEFAULTS)
    for part, defaults in _PART_DEFAULTS.items():
        if part in row:
            row[part] = [_short(item, defaults) for item in row[part]]
    return _encoder.encode(row).decode()


def decode_articles(rows: Iterable[str | bytes]) -> list[Article]:
    """Decode JSON rows (``encode_article``, or ``store.writes.encode(article)`` before it) into articles, in order.

    Raises:
        msgspec.ValidationError: a row is not an article.
        decimal.InvalidOperation: a price, VAT rate or pack quantity is not a number.
    """
    decimals: dict[str, Decimal] = {}
    labels: dict[str, str] = {}
    label = labels.setdefault  # label(text, text): the first equal string seen

    def decimal(text: str) -> Decimal:
        value = decimals.get(text)
        if value is None:
            value = decimals[text] = Decimal(text)
        return value

    decode = _decoder.decode
    out: list[Article] = []
    append = out.append
    for data in rows:
        row = decode(data)
        price = decimals.get(row.price)
        if price is None:
            price = decimal(row.price)
        vat_rate = decimals.get(row.vat_rate)
        if vat_rate is None:
            vat_rate = decimal(row.vat_rate)
        barcodes = tuple([Barcode(b.code, decimal(b.pack_qty)) for b in row.barcodes]) if row.barcodes else ()
        components = tuple([Component(c.article, decimal(c.qty)) for c in row.components]) if row.components else ()
        append(Article(
            row.id, row.name, price, vat_rate, barcodes, row.supplier_refs, row.status, row.meal_voucher,
            label(row.department, row.department), label(row.family, row.family), label(row.unit, row.unit),
            label(row.location, row.location), row.ticket_text, row.zero_price_allowed, row.deposit, row.note,
            row.negative_stock, row.stock_alert, row.part_of, row.parts, components, row.assembly,
            row.sell_by_days, row.reorder_point, row.reorder_qty, label(row.supplier, row.supplier),
            row.coupon_article, row.coupons, row.coupon_valid_days,
            volume_l=label(row.volume_l, row.volume_l), abv=label(row.abv, row.abv),
            sub_family=label(row.sub_family, row.sub_family), internal_code=row.internal_code, plu=row.plu,
            model=row.model, size=label(row.size, row.size), colour=label(row.colour, row.colour),
        ))
    return out
