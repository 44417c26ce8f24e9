"""GS1 variable-measure codes: the EAN-13 labels a scale prints for a weighed article
(PROTOCOL.md "Variable-measure codes", docs/catalog.md).

A shop names which prefixes (``20`` to ``29``) it uses and what they carry
(``[[variable_measure]]``): a code ``PP AAAAA VVVVV C`` — the prefix, the article
(together the first 7 digits: an article's barcode or its ``plu``), the value (digits 8
to 12: a price in cents, or a weight in grams) and the EAN-13 check digit.

Invariants:

- An article that carries the whole 13-digit code exactly wins over decoding: the
  catalog is asked for the code as it is first (``resolve``).
- A code is only decoded if its prefix is one of the shop's; its check digit must be
  right, or the code is refused (``BadCheckDigit``): a misread label never sells the
  wrong price or weight.
- A price code adds one unit at the code's price; a weight code adds its weight in kg
  at the article's price (per kg). The value is never zero.

Pure: no Trio, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

import msgspec

from laneserver.rules.catalog import (
    ONE,
    Ambiguous,
    Article,
    Catalog,
    Found,
    LookupResult,
    Unknown,
    ean_check_digit,
)

Kind = Literal["price", "weight"]
KINDS: tuple[str, ...] = ("price", "weight")
PREFIXES: tuple[str, ...] = tuple(str(n) for n in range(20, 30))  # GS1's in-store numbers
_CENTS = Decimal("0.01")
_GRAMS = Decimal("0.001")


class Measure(msgspec.Struct, frozen=True):
    """One ``[[variable_measure]]`` entry: codes starting with ``prefix`` carry ``kind``.
    (The functions below read only these two attributes: the configuration's own
    ``VariableMeasureConfig`` entries are taken as they are.)"""

    prefix: str
    kind: Kind


class Decoded(msgspec.Struct, frozen=True):
    """A variable-measure code taken apart: ``article_code`` (its first 7 digits) and
    ``value`` (a price in the shop's currency, or a weight in kg)."""

    code: str
    article_code: str
    kind: Kind
    value: Decimal


class BadCheckDigit(msgspec.Struct, frozen=True):
    """A code of one of the shop's variable-measure prefixes whose check digit is wrong."""

    code: str
    expected: str


class BadValue(msgspec.Struct, frozen=True):
    """A variable-measure code whose price or weight is zero."""

    code: str
    kind: Kind


class Measured(msgspec.Struct, frozen=True):
    """What a scanned variable-measure code sells: ``qty`` of ``article`` at ``article.price``
    (for a price code, ``article`` is the catalog's with the code's price; qty 1)."""

    article: Article
    qty: Decimal
    decoded: Decoded


def check_measures(entries: Iterable[Measure]) -> list[str]:
    """What is wrong with a shop's ``[[variable_measure]]`` entries (one message each)."""
    problems: list[str] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry.prefix not in PREFIXES:
            problems.append(f"variable_measure[{i}].prefix: {entry.prefix!r} is not a GS1 in-store prefix "
                            f"(20 to 29)")
        elif entry.prefix in seen:
            problems.append(f"variable_measure[{i}].prefix: {entry.prefix!r} is given twice")
        seen.add(entry.prefix)
    return problems


def decode(code: str, measures: Iterable[Measure]) -> Decoded | BadCheckDigit | BadValue | None:
    """``code`` taken apart by the shop's rules; None when it is not a variable-measure
    code of the shop (not 13 ASCII digits, or not one of its prefixes)."""
    if len(code) != 13 or not (code.isascii() and code.isdigit()):
        return None
    measure = next((m for m in measures if code.startswith(m.prefix)), None)
    if measure is None:
        return None
    expected = ean_check_digit(code[:12])
    if code[12] != expected:
        return BadCheckDigit(code, expected)
    number = int(code[7:12])
    if number == 0:
        return BadValue(code, measure.kind)
    value = Decimal(number) * (_CENTS if measure.kind == "price" else _GRAMS)
    return Decoded(code=code, article_code=code[:7], kind=measure.kind, value=value)


def resolve(catalog: Catalog, code: str, measures: Iterable[Measure]) -> (
        LookupResult | Measured | BadCheckDigit | BadValue):
    """What scanning ``code`` sells: the catalog's answer for the code as it is
    (``Found`` / ``Ambiguous``), else, for a variable-measure code of the shop, the
    article its first 7 digits name and the quantity (``Measured``), else ``Unknown``.

    An ``Ambiguous`` or ``Unknown`` of the article part keeps the scanned code.
    """
    code = code.strip()
    exact = catalog.lookup(code)
    if not isinstance(exact, Unknown):
        return exact
    decoded = decode(code, measures)
    if decoded is None or isinstance(decoded, (BadCheckDigit, BadValue)):
        return exact if decoded is None else decoded
    match catalog.lookup_measured(decoded.article_code):
        case Found(article=article):
            return measured(article, decoded)
        case Ambiguous(candidates=candidates):
            return Ambiguous(code, candidates)
    return Unknown(code)


def measured(article: Article, decoded: Decoded) -> Measured:
    """The line a decoded code makes of ``article``: one unit at the code's price, or
    the code's weight at the article's price per kg."""
    if decoded.kind == "price":
        return Measured(msgspec.structs.replace(article, price=decoded.value), ONE, decoded)
    return Measured(article, decoded.value, decoded)
