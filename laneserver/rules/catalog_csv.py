"""The catalog as CSV: the import parser and the export writer (format: docs/catalog.md).

Pure: both take and return text; reading and writing files is the caller's business.

An import is all or nothing: ``parse_catalog_csv`` raises ``CatalogCsvError`` for the
file's first fault, with its physical line number (the header is line 1), and returns
nothing; ``check_catalog_csv`` lists every fault (``catalog import --dry-run``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterable
from decimal import Decimal

from laneserver.rules.alcohol import parse_abv, parse_volume
from laneserver.rules.catalog import (
    ONE,
    STATUSES,
    Article,
    Barcode,
    Component,
    is_valid_ean,
)
from laneserver.rules.money import (
    BadValue,
    fmt_percent,
    fmt_qty,
    parse_money,
    parse_percent,
    parse_qty,
)

REQUIRED_COLUMNS: tuple[str, ...] = ("id", "name", "price", "vat_rate", "barcodes")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "supplier_refs",
    "status",
    "meal_voucher",
    "department",
    "family",
    "unit",
    "location",
    "ticket_text",
    "zero_price_allowed",
    "deposit",
    "note",
    "negative_stock",
    "stock_alert",
    "part_of",
    "parts",
    "components",
    "assembly",
    "sell_by_days",
    "reorder_point",
    "reorder_qty",
    "supplier",
    "volume_l",
    "abv",
    "coupon_article",
    "coupons",
    "coupon_valid_days",
    "sub_family",
    "internal_code",
    "plu",
    "model",
    "size",
    "colour",
)
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

LIST_SEPARATOR = "|"
PACK_SEPARATOR = "*"

_TRUE = frozenset({"true", "1", "yes", "oui", "vrai", "y", "o"})
_FALSE = frozenset({"false", "0", "no", "non", "faux", "n", ""})
_DELIMITERS = (",", ";", "\t")


class CatalogCsvError(BadValue):
    """A catalog CSV is refused: ``line`` is the physical line (header = 1) of the first fault."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message

    def __reduce__(self):  # keep it picklable despite the two-argument constructor
        return (type(self), (self.line, self.message))


class _RowError(Exception):
    """A fault in the current row; ``parse_catalog_csv`` adds the line number."""


# --- cells ----------------------------------------------------------------------------


def _number(cell: str, parse: Callable[[object, str], Decimal], what: str) -> Decimal:
    """A decimal cell; a decimal comma ("12,50", French spreadsheets) is accepted."""
    text = cell.strip()
    normalized = text.replace(",", ".", 1) if text.count(",") == 1 and "." not in text else text
    try:
        return parse(normalized, what)
    except BadValue as error:
        message = str(error)
        if normalized != text:
            message = message.replace(repr(normalized), repr(text))
        raise _RowError(message) from None


def _bool(cell: str, what: str) -> bool:
    word = cell.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise _RowError(f"{what} {cell!r} must be true or false (also 1/0, yes/no, oui/non)")


def _barcodes(cell: str) -> tuple[Barcode, ...]:
    if not cell.strip():
        return ()
    barcodes: list[Barcode] = []
    seen: set[str] = set()
    for part in cell.split(LIST_SEPARATOR):
        code, star, pack = part.strip().partition(PACK_SEPARATOR)
        code = code.strip()
        if not code:
            raise _RowError(f"empty barcode in {cell!r}")
        if not (code.isascii() and code.isdigit()):
            raise _RowError(f"barcode {code!r} must contain digits only")
        if len(code) in (8, 13) and not is_valid_ean(code):
            kind = "EAN-13" if len(code) == 13 else "EAN-8"
            raise _RowError(f"barcode {code!r} has a wrong {kind} check digit")
        if code in seen:
            raise _RowError(f"barcode {code!r} appears twice in this row")
        seen.add(code)
        qty = ONE
        if star:
            qty = _number(pack, parse_qty, f"pack quantity of barcode {code}")
            if qty <= 0:
                raise _RowError(f"pack quantity of barcode {code} must be positive, got {pack.strip()!r}")
        barcodes.append(Barcode(code, qty))
    return tuple(barcodes)


def _supplier_refs(cell: str) -> tuple[str, ...]:
    if not cell.strip():
        return ()
    refs: list[str] = []
    for part in cell.split(LIST_SEPARATOR):
        ref = part.strip()
        if not ref:
            raise _RowError(f"empty supplier reference in {cell!r}")
        if ref in refs:
            raise _RowError(f"supplier reference {ref!r} appears twice in this row")
        refs.append(ref)
    return tuple(refs)


def _no_control(text: str, what: str) -> str:
    if any(ch < " " or ch == "\x7f" for ch in text):
        raise _RowError(f"{what} {text!r} contains a line break or a control character")
    return text


def _article(cells: dict[str, str], vat_rates: Collection[Decimal] | None) -> Article:
    article_id = _no_control(cells["id"].strip(), "id")
    if not article_id:
        raise _RowError("id is empty")
    name = _no_control(cells["name"].strip(), "name")
    if not name:
        raise _RowError(f"name of article {article_id!r} is empty")
    price = _number(cells["price"], parse_money, "price")
    if price < 0:
        raise _RowError(f"price {cells['price'].strip()!r} is negative")
    vat_cell = cells["vat_rate"].strip().removesuffix("%").rstrip()
    vat_rate = _number(vat_cell, parse_percent, "vat_rate")
    if vat_rates is not None and vat_rate not in vat_rates:
        allowed = ", ".join(fmt_percent(r) for r in sorted(vat_rates))
        raise _RowError(f"vat_rate {vat_cell!r} is not one of the shop's rates ({allowed})")
    status = cells.get("status", "").strip().lower() or "active"
    if status not in STATUSES:
        raise _RowError(f"status {cells['status'].strip()!r} must be one of {', '.join(STATUSES)}")
    deposit = cells.get("deposit", "").strip()
    if deposit == article_id:
        raise _RowError(f"article {article_id!r} cannot be its own deposit")
    return Article(
        id=article_id,
        name=name,
        price=price,
        vat_rate=vat_rate,
        barcodes=_barcodes(cells["barcodes"]),
        supplier_refs=_supplier_refs(cells.get("supplier_refs", "")),
        status=status,  # type: ignore[arg-type]  # checked against STATUSES above
        meal_voucher=_bool(cells.get("meal_voucher", ""), "meal_voucher"),
        department=cells.get("department", "").strip(),
        family=cells.get("family", "").strip(),
        unit=cells.get("unit", "").strip(),
        location=cells.get("location", "").strip(),
        ticket_text=_no_control(cells.get("ticket_text", "").strip(), "ticket_text"),
        zero_price_allowed=_bool(cells.get("zero_price_allowed", ""), "zero_price_allowed"),
        deposit=deposit,
        note=cells.get("note", "").strip(),
        negative_stock=_policy(cells.get("negative_stock", "")),
        stock_alert=_stock_alert(cells.get("stock_alert", "")),
        **_parts(article_id, cells.get("part_of", ""), cells.get("parts", "")),
        **_components(article_id, cells.get("components", ""), cells.get("assembly", ""),
                      bool(cells.get("part_of", "").strip())),
        sell_by_days=_sell_by_days(cells.get("sell_by_days", "")),
        **_reorder(article_id, cells.get("reorder_point", ""), cells.get("reorder_qty", ""),
                   cells.get("supplier", "")),
        **_alcohol(cells.get("volume_l", ""), cells.get("abv", "")),
        **_subscription(article_id, cells.get("coupon_article", ""), cells.get("coupons", ""),
                        cells.get("coupon_valid_days", "")),
        sub_family=_no_control(cells.get("sub_family", "").strip(), "sub_family"),
        internal_code=_no_control(cells.get("internal_code", "").strip(), "internal_code"),
        plu=_plu(cells.get("plu", "")),
        **_variant(article_id, cells.get("model", ""), cells.get("size", ""), cells.get("colour", "")),
    )


def _plu(cell: str) -> str:
    """A PLU: the first 7 digits of the GS1 variable-measure codes naming the article."""
    plu = cell.strip()
    if plu and not (len(plu) == 7 and plu.isascii() and plu.isdigit() and plu.startswith("2")):
        raise _RowError(f"plu {plu!r} must be 7 digits starting with 2 (a GS1 variable-measure code's first 7: "
                        "its prefix 20 to 29 and the article's number)")
    return plu


def _variant(article_id: str, model_cell: str, size_cell: str, colour_cell: str) -> dict[str, str]:
    """``model``, ``size`` and ``colour``: a variant's place in its model's grid; a size or
    a colour needs a model."""
    model = _no_control(model_cell.strip(), "model")
    size = _no_control(size_cell.strip(), "size")
    colour = _no_control(colour_cell.strip(), "colour")
    if (size or colour) and not model:
        raise _RowError(f"article {article_id!r}: size and colour need a model (the article they are variants of)")
    return {"model": model, "size": size, "colour": colour}


def _subscription(article_id: str, article_cell: str, coupons_cell: str, days_cell: str) -> dict[str, object]:
    """``coupon_article``, ``coupons`` and ``coupon_valid_days`` go together: a
    subscription credits ``coupons`` coupons of ``coupon_article`` (rules/coupons.py)."""
    coupon_article, coupons, days = article_cell.strip(), coupons_cell.strip(), days_cell.strip()
    if not coupon_article:
        if coupons or days:
            raise _RowError(f"article {article_id!r}: coupons and coupon_valid_days need a coupon_article")
        return {}
    if coupon_article == article_id:
        raise _RowError(f"article {article_id!r} cannot be its own coupon article")
    if not (coupons.isascii() and coupons.isdigit()) or not 1 <= int(coupons) <= 10_000:
        raise _RowError(f"coupons {coupons!r} must be a whole number of coupons, 1 to 10000")
    if days and (not (days.isascii() and days.isdigit()) or int(days) > 36_500):
        raise _RowError(f"coupon_valid_days {days!r} must be a whole number of days, 0 to 36500")
    return {"coupon_article": coupon_article, "coupons": int(coupons), "coupon_valid_days": int(days or 0)}


def _policy(cell: str) -> str:
    policy = cell.strip().lower()
    if policy not in ("", "allow", "warn", "refuse"):
        raise _RowError(f"negative_stock {cell.strip()!r} must be allow, warn, refuse or empty (the shop's)")
    return policy


def _parts(article_id: str, part_of: str, parts: str) -> dict[str, object]:
    """``part_of`` and ``parts`` go together: the stock article and its parts per unit."""
    part_of, parts = part_of.strip(), parts.strip()
    if not part_of and not parts:
        return {}
    if not part_of or not parts:
        raise _RowError(f"article {article_id!r}: part_of and parts go together (the stock article and "
                        "its parts per unit)")
    if part_of == article_id:
        raise _RowError(f"article {article_id!r} cannot be a part of itself")
    if not parts.isdigit() or not 1 <= int(parts) <= 10_000:
        raise _RowError(f"parts {parts!r} must be a whole number of parts per unit, 1 to 10000")
    return {"part_of": part_of, "parts": int(parts)}


def _components(article_id: str, cell: str, assembly_cell: str, sold_by_part: bool) -> dict[str, object]:
    """``components`` (``W1*1|P1*2``: id, ``*``, a positive quantity; ``*1`` may be left
    out) and ``assembly`` (true: made of them and stocked as itself; else a kit)."""
    assembly = _bool(assembly_cell, "assembly")
    if not cell.strip():
        if assembly:
            raise _RowError(f"article {article_id!r}: assembly needs components")
        return {}
    if sold_by_part:
        raise _RowError(f"article {article_id!r}: an article with components cannot also be sold by the part")
    components: list[Component] = []
    for part in cell.split(LIST_SEPARATOR):
        component, star, qty_cell = part.strip().partition(PACK_SEPARATOR)
        component = component.strip()
        if not component:
            raise _RowError(f"empty component in {cell!r}")
        if component == article_id:
            raise _RowError(f"article {article_id!r} cannot be a component of itself")
        if any(c.article == component for c in components):
            raise _RowError(f"component {component!r} appears twice in this row")
        qty = ONE
        if star:
            qty = _number(qty_cell, parse_qty, f"quantity of component {component!r}")
            if qty <= 0:
                raise _RowError(f"quantity of component {component!r} must be positive, got {qty_cell.strip()!r}")
        components.append(Component(component, qty))
    return {"components": tuple(components), "assembly": assembly}


def _sell_by_days(cell: str) -> int:
    days = cell.strip()
    if not days:
        return 0
    if not (days.isascii() and days.isdigit()) or int(days) > 36_500:
        raise _RowError(f"sell_by_days {days!r} must be a whole number of days, 0 to 36500")
    return int(days)


def _reorder(article_id: str, point_cell: str, qty_cell: str, supplier_cell: str) -> dict[str, str]:
    """``reorder_point`` (≥ 0), ``reorder_qty`` (> 0, only with a reorder point) and the usual
    ``supplier`` (free text)."""
    point = ""
    if point_cell.strip():
        value = _number(point_cell, parse_qty, "reorder_point")
        if value < 0:
            raise _RowError(f"reorder_point {point_cell.strip()!r} must not be negative")
        point = format(value, "f")
    qty = ""
    if qty_cell.strip():
        value = _number(qty_cell, parse_qty, "reorder_qty")
        if value <= 0:
            raise _RowError(f"reorder_qty {qty_cell.strip()!r} must be positive")
        if not point:
            raise _RowError(f"article {article_id!r}: reorder_qty needs a reorder_point")
        qty = format(value, "f")
    supplier = _no_control(supplier_cell.strip(), "supplier")
    return {"reorder_point": point, "reorder_qty": qty, "supplier": supplier}


def _alcohol(volume_cell: str, abv_cell: str) -> dict[str, str]:
    """``volume_l`` (litres, > 0) and ``abv`` (% vol, 0 to 100): what the alcohol duties
    are computed from (rules/alcohol.py); kept as decimal strings, "" = not given."""
    volume = format(_number(volume_cell, parse_volume, "volume_l"), "f") if volume_cell.strip() else ""
    abv = format(_number(abv_cell, parse_abv, "abv"), "f") if abv_cell.strip() else ""
    return {"volume_l": volume, "abv": abv}


def _stock_alert(cell: str) -> str:
    if not cell.strip():
        return ""
    return format(_number(cell, parse_qty, "stock_alert"), "f")


# --- the file -------------------------------------------------------------------------


def _delimiter(header_line: str) -> str:
    """The header's most frequent candidate delimiter; ``,`` when none appears."""
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(row: list[str]) -> list[str]:
    names = [cell.strip().lower() for cell in row]
    for position, name in enumerate(names, start=1):
        if not name:
            raise CatalogCsvError(1, f"column {position} of the header has no name")
        if name not in COLUMNS:
            raise CatalogCsvError(
                1, f"unknown column {row[position - 1].strip()!r} (known columns: {', '.join(COLUMNS)})"
            )
        if names.index(name) != position - 1:
            raise CatalogCsvError(1, f"column {name!r} appears twice in the header")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise CatalogCsvError(1, f"missing required column{plural} {', '.join(missing)}")
    return names


def parse_catalog_csv(text: str, *, vat_rates: Collection[Decimal] | None = None) -> list[Article]:
    """The articles of a catalog CSV, in file order (format: docs/catalog.md).

    Args:
        text: the whole file, decoded; a leading UTF-8 BOM is ignored. The delimiter
            (``,``, ``;`` or tab) is the one the header row uses.
        vat_rates: when given, the only VAT rates accepted (the shop's).

    Returns:
        One ``Article`` per data row; blank rows are skipped.

    Raises:
        CatalogCsvError: the file's first fault (lowest line), with its physical line number.
    """
    checked = check_catalog_csv(text, vat_rates=vat_rates)
    if checked.errors:
        raise checked.errors[0]
    return checked.articles


class CheckedCsv:
    """What ``check_catalog_csv`` found: the articles of the good rows, and every
    fault, by line (``errors`` empty: the file can be imported as it is)."""

    __slots__ = ("articles", "errors", "rows")

    def __init__(self, articles: list[Article], errors: list[CatalogCsvError], rows: int) -> None:
        self.articles = articles
        self.errors = errors
        self.rows = rows  # the data rows read (blank ones aside)


def check_catalog_csv(text: str, *, vat_rates: Collection[Decimal] | None = None,
                      progress: Callable[[int], None] | None = None) -> CheckedCsv:
    """Every fault of a catalog CSV, not only the first (``catalog import --dry-run``).

    A bad row is reported and the next one read; the checks between rows (deposits,
    parts, components, coupons, variants) are made on the good rows, and a reference
    to an article whose own row is bad is not reported again. A bad header or a
    malformed CSV (an unclosed quote) stops the reading there: that one fault is
    reported.

    Args:
        progress: called with the number of data rows read so far, every
            ``PROGRESS_EVERY`` rows.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return CheckedCsv([], [CatalogCsvError(1, "the file is empty: a header row is required")], 0)
    delimiter = _delimiter(text.splitlines()[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    articles: list[Article] = []
    errors: list[CatalogCsvError] = []
    lines_by_id: dict[str, int] = {}
    bad_ids: set[str] = set()  # ids of rows refused: others' references to them are not faults again
    header: list[str] | None = None
    line = 1
    next_line = 1
    rows = 0
    try:
        for row in reader:
            line, next_line = next_line, reader.line_num + 1
            if header is None:
                try:
                    header = _header(row)
                except CatalogCsvError as error:
                    return CheckedCsv([], [error], 0)
                continue
            if not any(cell.strip() for cell in row):
                continue
            rows += 1
            if progress is not None and rows % PROGRESS_EVERY == 0:
                progress(rows)
            if len(row) != len(header):
                errors.append(CatalogCsvError(line, f"{len(row)} fields but the header has {len(header)}"))
                continue
            cells = dict(zip(header, row))
            try:
                article = _article(cells, vat_rates)
            except _RowError as error:
                errors.append(CatalogCsvError(line, str(error)))
                bad_ids.add(cells["id"].strip())
                continue
            if article.id in lines_by_id:
                errors.append(CatalogCsvError(
                    line, f"duplicate id {article.id!r} (already on line {lines_by_id[article.id]})"))
                continue
            lines_by_id[article.id] = line
            articles.append(article)
    except csv.Error as error:
        errors.append(CatalogCsvError(next_line, f"malformed CSV: {error}"))
        return CheckedCsv(articles, errors, rows)
    if header is None:
        return CheckedCsv([], [CatalogCsvError(1, "the file is empty: a header row is required")], 0)
    by_id = {article.id: article for article in articles}
    faults = _cross_checks(articles, by_id, lines_by_id, bad_ids)
    errors.extend(faults)
    errors.sort(key=lambda error: error.line)
    faulty = {error.line for error in faults}
    return CheckedCsv([a for a in articles if lines_by_id[a.id] not in faulty], errors, rows)


# ``check_catalog_csv`` tells its caller how far it is every this many rows.
PROGRESS_EVERY = 10_000


def _cross_checks(articles: list[Article], by_id: dict[str, Article], lines_by_id: dict[str, int],
                  bad_ids: set[str]) -> list[CatalogCsvError]:
    """The faults between rows, one per article at most (its first)."""
    errors: list[CatalogCsvError] = []

    def known(article_id: str) -> bool:
        return article_id in by_id or article_id in bad_ids

    for article in articles:
        line = lines_by_id[article.id]
        message = _row_references(article, by_id, known)
        if message is not None:
            errors.append(CatalogCsvError(line, message))
    errors.extend(_variant_faults(articles, lines_by_id))
    try:
        _check_components(articles, by_id, lines_by_id, known)
    except CatalogCsvError as error:
        errors.append(error)
    return errors


def _row_references(article: Article, by_id: dict[str, Article], known: Callable[[str], bool]) -> str | None:
    """What is wrong with the articles ``article`` names (deposit, coupon, part), or None."""
    if article.deposit:
        if not known(article.deposit):
            return f"deposit {article.deposit!r} is not an article id of this file"
        deposit = by_id.get(article.deposit)
        if deposit is not None and deposit.deposit:
            return f"deposit {article.deposit!r} has a deposit of its own: a deposit article cannot have one"
    if article.coupon_article:
        if not known(article.coupon_article):
            return f"coupon_article {article.coupon_article!r} is not an article id of this file"
        coupon = by_id.get(article.coupon_article)
        if coupon is not None and coupon.coupon_article:
            return f"coupon_article {coupon.id!r} is itself a subscription: a coupon article cannot be one"
    if article.part_of:
        if not known(article.part_of):
            return f"part_of {article.part_of!r} is not an article id of this file"
        stock = by_id.get(article.part_of)
        if stock is not None and stock.part_of:
            return f"part_of {article.part_of!r} is itself sold by the part: a part must be of a stock article"
        if stock is not None and stock.kit:
            return f"part_of {article.part_of!r} is a kit: a kit has no stock to take parts of"
    return None


def _variant_faults(articles: list[Article], lines_by_id: dict[str, int]) -> list[CatalogCsvError]:
    """One size × colour cell of a model holds one article (rules/catalog.py ``variant_grid``)."""
    errors: list[CatalogCsvError] = []
    cells: dict[tuple[str, str, str], str] = {}
    for article in articles:
        if not article.model:
            continue
        key = (article.model, article.size, article.colour)
        other = cells.setdefault(key, article.id)
        if other != article.id:
            errors.append(CatalogCsvError(
                lines_by_id[article.id],
                f"model {article.model!r} size {article.size!r} colour {article.colour!r} is already article "
                f"{other!r} (line {lines_by_id[other]}): each variant is one article"))
    return errors


def _check_components(articles: list[Article], by_id: dict[str, Article], lines_by_id: dict[str, int],
                      known: Callable[[str], bool]) -> None:
    """Components are articles of the file; a kit holds no kit (a kit is sold from its
    components, which must have stock of their own); no article is made of itself,
    however indirectly."""
    for article in articles:
        line = lines_by_id[article.id]
        for component in article.components:
            if not known(component.article):
                raise CatalogCsvError(line, f"component {component.article!r} is not an article id of this file")
            found = by_id.get(component.article)
            if article.kit and found is not None and found.kit:
                raise CatalogCsvError(line, f"component {component.article!r} is itself a kit: a kit cannot "
                                            "hold a kit (list that kit's components instead)")
    state: dict[str, int] = {}  # 1: being visited, 2: done

    def visit(article_id: str, path: list[str]) -> None:
        state[article_id] = 1
        for component in by_id[article_id].components:
            if component.article not in by_id:
                continue  # on a bad row: reported there
            if state.get(component.article) == 1:
                cycle = " > ".join([*path[path.index(component.article):], component.article])
                raise CatalogCsvError(lines_by_id[path[0]], f"components go round in a cycle: {cycle}")
            if state.get(component.article) is None:
                visit(component.article, [*path, component.article])
        state[article_id] = 2

    for article in articles:
        if article.components and state.get(article.id) is None:
            visit(article.id, [article.id])


def _list_cell(values: Iterable[str], what: str, article_id: str) -> str:
    values = list(values)
    for value in values:
        if LIST_SEPARATOR in value or value != value.strip() or not value:
            raise ValueError(f"article {article_id!r}: {what} {value!r} cannot be written to CSV")
    return LIST_SEPARATOR.join(values)


def _barcode_cell(barcode: Barcode) -> str:
    if barcode.pack_qty == ONE:
        return barcode.code
    return f"{barcode.code}{PACK_SEPARATOR}{fmt_qty(barcode.pack_qty)}"


def _component_cell(component: Component) -> str:
    return f"{component.article}{PACK_SEPARATOR}{fmt_qty(component.qty)}"


def write_catalog_csv(articles: Iterable[Article]) -> str:
    """The export: every column of ``COLUMNS``, ``,``-delimited, ``\\n`` line ends.

    ``parse_catalog_csv`` reads it back to equal articles.

    Raises:
        ValueError: a barcode or supplier reference holds ``|`` (it could not be read back).
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for a in articles:
        writer.writerow(
            (
                a.id,
                a.name,
                format(a.price, "f"),
                fmt_percent(a.vat_rate),
                _list_cell((_barcode_cell(b) for b in a.barcodes), "barcode", a.id),
                _list_cell(a.supplier_refs, "supplier reference", a.id),
                a.status,
                "true" if a.meal_voucher else "false",
                a.department,
                a.family,
                a.unit,
                a.location,
                a.ticket_text,
                "true" if a.zero_price_allowed else "false",
                a.deposit,
                a.note,
                a.negative_stock,
                a.stock_alert,
                a.part_of,
                str(a.parts) if a.part_of else "",
                _list_cell((_component_cell(c) for c in a.components), "component", a.id),
                "true" if a.assembly else "false",
                str(a.sell_by_days) if a.sell_by_days else "",
                a.reorder_point,
                a.reorder_qty,
                a.supplier,
                a.volume_l,
                a.abv,
                a.coupon_article,
                str(a.coupons) if a.coupon_article else "",
                str(a.coupon_valid_days) if a.coupon_article and a.coupon_valid_days else "",
                a.sub_family,
                a.internal_code,
                a.plu,
                a.model,
                a.size,
                a.colour,
            )
        )
    return out.getvalue()
