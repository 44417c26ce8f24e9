"""Articles, their codes, and finding an article from what a cashier scans or types.

Invariants:

- An article id is unique in a ``Catalog``; articles keep the order they were given in,
  and every list this module returns (candidates, search results) follows that order.
- A barcode may belong to several articles (multicode); a supplier reference too.
- ``Catalog.lookup`` tries, in this order, barcodes, then supplier references, then
  article ids (SPEC §2). At each step the articles that are not ``active`` are left out
  unless ``include_inactive``; a step whose candidates are all left out does not match,
  and the next step is tried. One candidate is ``Found``, several are ``Ambiguous``.
- Indexes are plain dicts built once, so a lookup costs a few dict probes whatever the
  size of the catalog. Per article the catalog holds the ``Article`` itself, its dict
  entries and one normalized name for ``search``: nothing else, so that a million
  articles fit comfortably in memory.

Pure: no Trio, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Literal

import msgspec

ONE = Decimal(1)

Status = Literal["active", "dormant", "blocked", "abandoned"]
STATUSES: tuple[str, ...] = ("active", "dormant", "blocked", "abandoned")


# --- EAN check digits ---------------------------------------------------------------


def _is_digits(text: str) -> bool:
    """ASCII digits only (``str.isdigit`` also accepts "²" and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def ean_check_digit(digits: str) -> str:
    """The check digit of an EAN-13 (given its first 12 digits) or EAN-8 (first 7).

    Weights 3 and 1 alternate from the rightmost digit leftwards; the check digit brings
    the weighted sum up to a multiple of 10.

    Raises:
        ValueError: ``digits`` is not 12 or 7 ASCII digits.
    """
    if not _is_digits(digits) or len(digits) not in (7, 12):
        raise ValueError(f"an EAN check digit needs 12 or 7 digits, got {digits!r}")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def is_valid_ean(code: str) -> bool:
    """True for an EAN-13 or EAN-8: 13 or 8 ASCII digits ending with the right check digit."""
    if not _is_digits(code) or len(code) not in (8, 13):
        return False
    return ean_check_digit(code[:-1]) == code[-1]


# --- Articles -------------------------------------------------------------------------


class Barcode(msgspec.Struct, frozen=True, gc=False):
    """A code printed on the article; scanning it adds ``pack_qty`` units (a case of 6)."""

    code: str
    pack_qty: Decimal = ONE


class Article(msgspec.Struct, frozen=True, gc=False):
    """One article of the catalog. Prices include VAT; ``vat_rate`` is a percent (``5.5``).

    ``unit`` is empty for articles sold by the piece and ``"kg"`` (or ``"l"``…) for those
    sold by measure. ``deposit`` is the id of a deposit article (consigne) whose line the
    till adds with this one. New fields always get defaults.
    """

    id: str
    name: str
    price: Decimal
    vat_rate: Decimal
    barcodes: tuple[Barcode, ...] = ()
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

    @property
    def active(self) -> bool:
        return self.status == "active"


def pack_qty(article: Article, code: str) -> Decimal:
    """How many units scanning ``code`` adds for ``article``: its barcode's pack, else 1.

    For the till once the cashier has picked one of an ``Ambiguous`` result's candidates.
    """
    code = code.strip()
    for barcode in article.barcodes:
        if barcode.code == code:
            return barcode.pack_qty
    return ONE


# --- Lookup results -------------------------------------------------------------------


class Found(msgspec.Struct, frozen=True):
    """The code names one article; ``qty`` is the barcode's pack quantity (else 1)."""

    article: Article
    qty: Decimal


class Ambiguous(msgspec.Struct, frozen=True):
    """Several articles answer to ``code``; the till asks which (catalog order)."""

    code: str
    candidates: tuple[Article, ...]


class Unknown(msgspec.Struct, frozen=True):
    code: str


LookupResult = Found | Ambiguous | Unknown


# --- Search normalization -------------------------------------------------------------

# Letters NFKD does not decompose; casefold() already turns "ß" into "ss".
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "đ": "d", "ł": "l"})
# Combining marks left by NFKD (accents, cedillas…): the common Unicode blocks of them.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_SEPARATORS = re.compile(r"[\W_]+")


def normalize_text(text: str) -> str:
    """Lower case, no accents, words separated by single spaces: "Côtes-du-Rhône" → "cotes du rhone".

    The one normalization used for names and for search queries alike. Regular
    expressions rather than a loop over characters: it runs once per article when a
    catalog of a million articles is built.
    """
    folded = text.casefold()
    if not folded.isascii():
        folded = _COMBINING.sub("", unicodedata.normalize("NFKD", folded).translate(_LIGATURES))
    return _SEPARATORS.sub(" ", folded).strip()


# --- The catalog ----------------------------------------------------------------------

# An index value is the one article with that key (the common case, no extra object)
# or a tuple of them in catalog order (shared barcodes, shared supplier references).
_Entry = Article | tuple[Article, ...]


def _index_add(index: dict[str, _Entry], key: str, article: Article) -> None:
    entry = index.get(key)
    if entry is None:
        index[key] = article
    elif isinstance(entry, tuple):
        if not any(a is article for a in entry):
            index[key] = (*entry, article)
    elif entry is not article:
        index[key] = (entry, article)


def _entries(entry: _Entry | None) -> tuple[Article, ...]:
    if entry is None:
        return ()
    if isinstance(entry, tuple):
        return entry
    return (entry,)


class Catalog:
    """The articles of a shop, indexed once for lookups by code and a search by name.

    Immutable once built: a changed catalog is a new ``Catalog``.

    Raises:
        ValueError: two articles have the same id (the message names it).
    """

    __slots__ = ("_by_id", "_by_barcode", "_by_supplier_ref", "_search_names")

    def __init__(self, articles: Iterable[Article] = ()) -> None:
        by_id: dict[str, Article] = {}
        by_barcode: dict[str, _Entry] = {}
        by_supplier_ref: dict[str, _Entry] = {}
        search_names: list[str] = []
        for article in articles:
            if article.id in by_id:
                raise ValueError(f"duplicate article id {article.id!r}")
            by_id[article.id] = article
            for barcode in article.barcodes:
                _index_add(by_barcode, barcode.code, article)
            for ref in article.supplier_refs:
                _index_add(by_supplier_ref, ref, article)
            search_names.append(normalize_text(article.name))
        self._by_id = by_id
        self._by_barcode = by_barcode
        self._by_supplier_ref = by_supplier_ref
        # Parallel to the insertion order of ``_by_id`` (dicts keep it).
        self._search_names = search_names

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Article]:
        return iter(self._by_id.values())

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._by_id

    def get(self, article_id: str) -> Article | None:
        return self._by_id.get(article_id)

    def lookup(self, code: str, *, include_inactive: bool = False) -> LookupResult:
        """Find what a scanned or typed code names (SPEC §2 order).

        Barcodes are matched exactly. Supplier references and ids are matched exactly,
        then, if nothing matched, upper-cased (so "a001" typed on a keyboard finds "A001").
        Surrounding whitespace is ignored.
        """
        code = code.strip()
        if not code:
            return Unknown(code)

        def keep(candidates: tuple[Article, ...]) -> tuple[Article, ...]:
            if include_inactive:
                return candidates
            return tuple(a for a in candidates if a.status == "active")

        candidates = keep(_entries(self._by_barcode.get(code)))
        if candidates:
            if len(candidates) == 1:
                return Found(candidates[0], pack_qty(candidates[0], code))
            return Ambiguous(code, candidates)

        upper = code.upper()
        keys = (code,) if upper == code else (code, upper)
        for key in keys:
            candidates = keep(_entries(self._by_supplier_ref.get(key)))
            if len(candidates) == 1:
                return Found(candidates[0], ONE)
            if candidates:
                return Ambiguous(code, candidates)
        for key in keys:
            article = self._by_id.get(key)
            if article is not None and (include_inactive or article.status == "active"):
                return Found(article, ONE)
        return Unknown(code)

    def search(self, text: str, limit: int = 20) -> list[Article]:
        """Active articles whose name holds every word of ``text``, case and accents aside.

        "cote rhone" finds "Côtes du Rhône". Words match anywhere in the name (prefixes,
        inner parts). Catalog order; at most ``limit`` results; no words, no results.

        A linear scan of precomputed normalized names: fine for tens of thousands of
        articles per keystroke; a word index can replace it without changing callers.
        """
        words = normalize_text(text).split()
        if not words or limit <= 0:
            return []
        # Longest word first: the rarest, so most names are rejected on the first test.
        words.sort(key=len, reverse=True)
        found: list[Article] = []
        for article, name in zip(self._by_id.values(), self._search_names):
            if all(word in name for word in words) and article.status == "active":
                found.append(article)
                if len(found) >= limit:
                    break
        return found
