"""Articles, their codes, and finding an article from what a cashier scans or types.

Invariants:

- An article id is unique in a ``Catalog``; articles keep the order they were given in,
  and every list this module returns (candidates, search results) follows that order.
- A barcode may belong to several articles (multicode); a supplier reference too.
- ``Catalog.lookup`` tries, in this order, barcodes, then supplier references, then
  internal codes, then article ids (SPEC §2). At each step the articles that are not ``active`` are left out
  unless ``include_inactive``; a step whose candidates are all left out does not match,
  and the next step is tried. One candidate is ``Found``, several are ``Ambiguous``.
- Indexes are plain dicts built once, so a lookup costs a few dict probes whatever the
  size of the catalog. Per article the catalog holds the ``Article`` itself, its dict
  entries, one normalized name and its place in the word index for ``search``: nothing
  else, so that a million articles fit comfortably in memory.
- ``search`` answers exactly what a scan of every normalized name in catalog order
  would; the word index only narrows which names are looked at (see ``search``).

Pure: no Trio, no I/O.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from itertools import accumulate, islice
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


class Component(msgspec.Struct, frozen=True, gc=False):
    """One component of a kit or an assembly: ``qty`` of article ``article`` (catalog
    column ``components``: ``W1*1|P1*2``)."""

    article: str
    qty: Decimal = ONE


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
    negative_stock: str = ""  # allow | warn | refuse; "" = the shop's policy
    stock_alert: str = ""  # alert threshold (a quantity); "" = none
    part_of: str = ""  # sold by the part: the id of the stock article it is a part of
    parts: int = 0  # with ``part_of``: parts per unit of that article (6 glasses a bottle)
    # With ``components`` and not ``assembly``: a kit, sold from its components (a sale or
    # a reservation takes them, it has no stock of its own). With ``assembly``: a product
    # made of them by ``stock_produce`` and stocked, reserved and sold as itself.
    components: tuple[Component, ...] = ()
    assembly: bool = False
    sell_by_days: int = 0  # an entry's lot must be sold by its received date + this; 0 = no date
    # Replenishment (rules/replenishment.py): quantities as decimal strings, "" = none.
    reorder_point: str = ""  # propose an order when available + incoming is at or under this
    reorder_qty: str = ""  # how much to order then; "" = enough to get back above the point
    supplier: str = ""  # the usual supplier: proposed orders are grouped by it
    # A subscription (rules/coupons.py): selling one to a customer credits them with
    # ``coupons`` coupons of ``coupon_article``, usable ``coupon_valid_days`` days from
    # their first use (0 = no expiry).
    coupon_article: str = ""
    coupons: int = 0
    coupon_valid_days: int = 0
    # Alcohol (rules/alcohol.py), decimal strings, "" = not given: the unit volume in
    # litres and the strength in % vol, from which the duties are computed.
    volume_l: str = ""
    abv: str = ""
    # SPEC §7: the family's subdivision; the shop's own code for the article (typed at
    # the till like an id); a PLU (price look-up, the 7 first digits of the GS1
    # variable-measure codes that name it, rules/variable_measure.py).
    sub_family: str = ""
    internal_code: str = ""
    plu: str = ""
    # Size/colour variants: the articles of one ``model`` form its size × colour grid
    # (``variant_grid``); each is an article of its own (own barcodes, own stock).
    model: str = ""
    size: str = ""
    colour: str = ""

    @property
    def kit(self) -> bool:
        """Sold from its components (has components and is not an assembly)."""
        return bool(self.components) and not self.assembly

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


# How an article takes stock: what the running lanes and stock points have computed
# from (reservations of open tickets, kit levels), so a live import leaves it as it
# was until the next start (``live_articles``).
STOCK_FIELDS: tuple[str, ...] = ("part_of", "parts", "components", "assembly")


def live_articles(current: Catalog, imported: Iterable[Article]) -> tuple[list[Article], list[str]]:
    """The articles a running server takes from a new import of its catalog: all of
    them, except that an article it already has keeps how it takes stock
    (``STOCK_FIELDS``): open tickets hold reservations computed from it. Returns the
    articles and the ids whose stock fields wait for a restart."""
    taken: list[Article] = []
    waiting: list[str] = []
    for article in imported:
        before = current.get(article.id)
        if before is not None and any(getattr(before, f) != getattr(article, f) for f in STOCK_FIELDS):
            article = msgspec.structs.replace(article, **{f: getattr(before, f) for f in STOCK_FIELDS})
            waiting.append(article.id)
        taken.append(article)
    return taken, waiting


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


def _name_words(name: str, pieces: dict[str, tuple[str, ...]]) -> list[str]:
    """The words of ``normalize_text(name)``, found a whitespace-separated piece at a time.

    Building a catalog of a million articles spent most of its time normalizing names.
    Same result, faster: every step of ``normalize_text`` maps characters one at a time
    (case folding, NFKD, ligatures, dropping combining marks; NFKD only reorders the
    marks that follow a letter), whitespace is a separator, and runs of separators
    become one space; so the words of the pieces, in order, are the words of the name.
    A piece of ASCII letters and digits is one word, its lower case; the others
    (accents, punctuation) are few and shared by many names, so their words are kept
    in ``pieces``.
    """
    words: list[str] = []
    for piece in name.split():
        if piece.isascii() and piece.isalnum():
            words.append(piece.lower())
            continue
        normal = pieces.get(piece)
        if normal is None:
            normal = pieces[piece] = tuple(normalize_text(piece).split())
        words.extend(normal)
    return words


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


# ``search`` reads the first names in order before it asks the word index: a common
# word is answered from them at once; a rare one is left to the index.
SCAN_FIRST = 2048
# A query word found inside more distinct catalog words than this is too common to
# narrow the search with (finding them all would cost more than it saves).
MAX_WORD_MATCHES = 512
# A query word held by at most this many names narrows the search enough.
_FEW_NAMES = 256
# Positions of names in the word index: 4-byte unsigned integers.
_POSITIONS = "I" if array("I").itemsize >= 4 else "L"


class SearchNotReady(Exception):
    """The catalog's name index is still being built (a large catalog builds it
    after the server is ready, so scanning works at once)."""


class SearchNames:
    """The normalized names in catalog order, as a read-only sequence of ``str``: the
    first ``SCAN_FIRST`` as strings (``search`` reads them all, often), the others as one
    UTF-8 buffer and their offsets — a million ``str`` objects cost ~50 bytes of header
    each, 50 MB of a large shop's memory (docs/performance.md)."""

    __slots__ = ("_first", "_buffer", "_ends")

    def __init__(self) -> None:
        self._first: list[str] = []
        self._buffer = bytearray()
        self._ends = array(_POSITIONS)  # where each buffered name ends (the next one starts there)

    def append(self, name: str) -> None:
        if len(self._first) < SCAN_FIRST:
            self._first.append(name)
            return
        self._buffer += name.encode("utf-8", "surrogatepass")  # any str reads back as it was
        self._ends.append(len(self._buffer))

    def __len__(self) -> int:
        return len(self._first) + len(self._ends)

    def __getitem__(self, position: int) -> str:
        if position < 0:
            position += len(self)
        if position < SCAN_FIRST:
            return self._first[position]
        n = position - SCAN_FIRST
        end = self._ends[n]  # IndexError past the last name, as a list
        return self._buffer[self._ends[n - 1] if n else 0:end].decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        for position in range(len(self)):
            yield self[position]

    @property
    def first(self) -> list[str]:
        """The first ``SCAN_FIRST`` names (or all of them, when fewer)."""
        return self._first


class NameIndex:
    """What ``Catalog.search`` reads: the articles' normalized names in catalog order
    and the word index over them. Built from the catalog's articles by ``build``
    (pure, a few seconds for a million articles: a large shop builds it in a worker
    thread after start-up)."""

    __slots__ = ("search_names", "scan_first", "first_names", "vocabulary", "word_starts", "postings")

    def __init__(self, articles: Iterable[Article]) -> None:
        search_names = SearchNames()
        pieces: dict[str, tuple[str, ...]] = {}
        # The word index: for each distinct word of the normalized names, the positions
        # (ascending) of the names holding it: one int, or an array when there are more.
        postings: dict[str, int | array] = {}
        # Bound methods: this loop runs once per article, a million times in a large shop.
        add_name, join, held_by = search_names.append, " ".join, postings.get
        for position, article in enumerate(articles):
            words = _name_words(article.name, pieces)
            add_name(join(words))
            for word in words:
                held = held_by(word)
                if held is None:
                    postings[word] = position
                elif type(held) is int:
                    if held != position:  # not the same word twice in one name
                        postings[word] = array(_POSITIONS, (held, position))
                elif held[-1] != position:
                    held.append(position)
        self.search_names = search_names
        # The names ``search`` reads in order, also as one text: a query word that is not
        # in it is in none of them, and they need not be read one by one.
        self.scan_first = SCAN_FIRST
        self.first_names = "\n".join(search_names.first)
        # The distinct words one per line (a normalized word holds no line break), so a
        # query word is looked for inside all of them by ``str.find``; word ``n`` starts
        # at ``word_starts[n]`` and is held by the names at ``postings[n]``.
        self.vocabulary = "\n".join(postings)
        self.word_starts = array(_POSITIONS, accumulate((len(word) + 1 for word in postings), initial=0))
        self.postings: list[int | array] = list(postings.values())


class Catalog:
    """The articles of a shop, indexed once for lookups by code and a search by name.

    Never changed in place, only replaced whole: a changed catalog is a new ``Catalog``,
    which ``replace_with`` puts behind this object, so that every holder of it (the
    lanes, the stock points, the sessions) sells from the new one at once — a live
    import (docs/catalog.md). ``version`` counts those replacements, for whoever keeps
    something computed from the articles (``rules.stock.StockTakes``). The name index is
    built with it (``search_index=True``) or later, once, by ``set_name_index``
    (until then ``search`` raises ``SearchNotReady``; lookups by code work).

    Raises:
        ValueError: two articles have the same id (the message names it).
    """

    __slots__ = ("_by_id", "_by_barcode", "_by_supplier_ref", "_articles", "_names", "_coupon_articles",
                 "_by_internal_code", "_by_plu", "_by_model", "version")

    def __init__(self, articles: Iterable[Article] = (), *, search_index: bool = True) -> None:
        by_id: dict[str, Article] = {}
        by_barcode: dict[str, _Entry] = {}
        by_supplier_ref: dict[str, _Entry] = {}
        in_order: list[Article] = []
        keep = in_order.append
        by_code, by_ref = by_barcode.setdefault, by_supplier_ref.setdefault
        coupon_articles: set[str] = set()
        # Empty in most shops: a dict each, filled only by the articles that use them.
        by_internal_code: dict[str, _Entry] = {}
        by_plu: dict[str, _Entry] = {}
        by_model: dict[str, list[Article]] = {}
        for position, article in enumerate(articles):
            by_id[article.id] = article
            if len(by_id) <= position:  # the id was there already
                raise ValueError(f"duplicate article id {article.id!r}")
            keep(article)
            for barcode in article.barcodes:
                if by_code(barcode.code, article) is not article:
                    _index_add(by_barcode, barcode.code, article)
            for ref in article.supplier_refs:
                if by_ref(ref, article) is not article:
                    _index_add(by_supplier_ref, ref, article)
            if article.coupon_article:
                coupon_articles.add(article.coupon_article)
            if article.internal_code:
                _index_add(by_internal_code, article.internal_code, article)
            if article.plu:
                _index_add(by_plu, article.plu, article)
            if article.model:
                by_model.setdefault(article.model, []).append(article)
        self._by_internal_code = by_internal_code
        self._by_plu = by_plu
        self._by_model = {model: tuple(variants) for model, variants in by_model.items()}
        self._by_id = by_id
        self._coupon_articles = frozenset(coupon_articles)
        self._by_barcode = by_barcode
        self._by_supplier_ref = by_supplier_ref
        self._articles = in_order  # catalog order (that of ``_by_id``), as the name index
        self._names: NameIndex | None = NameIndex(in_order) if search_index else None
        self.version = 0

    def replace_with(self, newer: Catalog) -> None:
        """Put ``newer``'s articles and indexes behind this object (``version`` + 1).

        Synchronous: on the event loop's thread no reader sees half of it. ``newer`` is
        not to be used afterwards (its indexes are shared).
        """
        for slot in self.__slots__:
            if slot != "version":
                setattr(self, slot, getattr(newer, slot))
        self.version += 1

    def build_name_index(self) -> NameIndex:
        """The name index of these articles (pure; the caller picks the thread)."""
        return NameIndex(self._articles)

    def set_name_index(self, index: NameIndex) -> None:
        """Attach the index ``build_name_index`` made (once; ``search`` works from now on)."""
        if len(index.search_names) != len(self._articles):
            raise ValueError("that name index was built for another catalog")
        self._names = index

    @property
    def searchable(self) -> bool:
        return self._names is not None

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Article]:
        return iter(self._by_id.values())

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._by_id

    def get(self, article_id: str) -> Article | None:
        return self._by_id.get(article_id)

    def is_coupon_article(self, article_id: str) -> bool:
        """Whether some subscription article credits coupons of this article."""
        return article_id in self._coupon_articles

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
            candidates = keep(_entries(self._by_internal_code.get(key)))
            if len(candidates) == 1:
                return Found(candidates[0], ONE)
            if candidates:
                return Ambiguous(code, candidates)
        for key in keys:
            article = self._by_id.get(key)
            if article is not None and (include_inactive or article.status == "active"):
                return Found(article, ONE)
        return Unknown(code)

    def lookup_measured(self, code: str, *, include_inactive: bool = False) -> LookupResult:
        """The article a GS1 variable-measure code's first 7 digits name: one whose
        barcode or ``plu`` is exactly ``code`` (rules/variable_measure.py)."""
        candidates: list[Article] = []
        for entry in (self._by_barcode.get(code), self._by_plu.get(code)):
            for article in _entries(entry):
                if (include_inactive or article.active) and not any(a is article for a in candidates):
                    candidates.append(article)
        if not candidates:
            return Unknown(code)
        if len(candidates) == 1:
            return Found(candidates[0], ONE)
        return Ambiguous(code, tuple(candidates))

    def variants(self, model: str) -> tuple[Article, ...]:
        """The articles of ``model`` (its size × colour variants), catalog order."""
        return self._by_model.get(model, ()) if model else ()

    def search(self, text: str, limit: int = 20) -> list[Article]:
        """Active articles whose name holds every word of ``text``, case and accents aside.

        "cote rhone" finds "Côtes du Rhône". Words match anywhere in the name (prefixes,
        inner parts). Catalog order; at most ``limit`` results; no words, no results.

        The first ``SCAN_FIRST`` names are read in order (a common word is answered
        there); past them, only the names the word index gives for the rarest query
        word are read. Every name returned passed the same test, in the same order, as
        in a scan of all the names, so the results are those of a full scan.
        """
        index = self._names
        if index is None:
            raise SearchNotReady(f"the name index of {len(self._articles)} articles is still being built")
        words = normalize_text(text).split()
        if not words or limit <= 0:
            return []
        # Longest word first: the rarest, so most names are rejected on the first test.
        words.sort(key=len, reverse=True)
        names, articles = index.search_names, self._articles
        found: list[Article] = []

        def take(positions: Iterable[int]) -> bool:
            """Add the matching articles at ``positions``; True once ``limit`` is reached."""
            for position in positions:
                name = names[position]
                if all(word in name for word in words) and articles[position].status == "active":
                    found.append(articles[position])
                    if len(found) >= limit:
                        return True
            return False

        first = index.scan_first
        if all(word in index.first_names for word in words) and take(range(min(first, len(names)))):
            return found
        if len(names) <= first:
            return found
        candidates = _candidates(index, words, first)
        take(range(first, len(names)) if candidates is None else candidates)
        return found


def _candidates(index: NameIndex, words: list[str], start: int) -> Iterable[int] | None:
    """Ascending positions from ``start`` on of the names holding the query word held
    by the fewest names (a superset of the names holding every word), or None when
    each word is too common to narrow anything."""
    postings = index.postings
    best: tuple[int, list[int]] | None = None
    for word in words:
        numbers = _words_containing(index, word)
        if numbers is None:
            continue
        if not numbers:
            return ()  # no name holds this word
        size = sum(1 if type(postings[n]) is int else len(postings[n]) for n in numbers)
        if best is None or size < best[0]:
            best = (size, numbers)
        if size <= _FEW_NAMES:
            break  # narrow enough: looking up the shorter words would cost more
    if best is None:
        return None
    if len(best[1]) == 1:
        held = postings[best[1][0]]
        if type(held) is int:
            return (held,) if held >= start else ()
        return islice(held, bisect_left(held, start), None)
    merged: set[int] = set()
    for number in best[1]:
        held = postings[number]
        if type(held) is int:
            merged.add(held)
        else:
            merged.update(held)
    ordered = sorted(merged)
    return islice(ordered, bisect_left(ordered, start), None)

def _words_containing(index: NameIndex, fragment: str) -> list[int] | None:
    """The numbers of the catalog's words that hold ``fragment`` (in vocabulary
    order), or None when there are more than ``MAX_WORD_MATCHES``."""
    vocabulary, starts = index.vocabulary, index.word_starts
    numbers: list[int] = []
    at = vocabulary.find(fragment)
    while at != -1:
        number = bisect_right(starts, at) - 1
        numbers.append(number)
        if len(numbers) > MAX_WORD_MATCHES:
            return None
        at = vocabulary.find(fragment, starts[number + 1])
    return numbers
