"""An unknown code made sellable from the till (issue 17, SPEC §2): a new article
that carries it (``article_create``) or an existing article that takes it
(``barcode_attach``). The shop allows it with ``[shop] unknown_code``; a supervisor
does it (or a cashier with a supervisor's PIN on the spot: server/routes.py).

Checked as hard as ``laneserver catalog import`` checks a row (rules/catalog_csv.py):
bounded texts without control characters, a price that is money, one of the shop's
VAT rates, a code of digits (a right EAN check digit at 8 and 13 digits) that no
article answers to yet (``conflict``: nothing changed).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from laneserver.rules.catalog import Article, Barcode, Catalog, Unknown, is_valid_ean
from laneserver.rules.money import BadValue, fmt_percent, parse_money, parse_percent

MODES = ("refuse", "attach", "create")
MAX_ID = 40
MAX_NAME = 120
MAX_DEPARTMENT = 60
MAX_CODE = 48


@dataclass(frozen=True)
class Problem:
    """Why the request changes nothing: its error ``code`` (bad_request, conflict,
    not_found, not_supported), the ``field`` at fault and the words."""

    code: str
    field: str
    message: str


def allows(mode: str, verb: str) -> bool:
    """``[shop] unknown_code`` = ``mode`` lets ``verb`` (article_create, barcode_attach) run."""
    if verb == "article_create":
        return mode == "create"
    return mode in ("attach", "create")


def _text(raw: str, field: str, limit: int, *, required: bool = True) -> str | Problem:
    text = raw.strip()
    if required and not text:
        return Problem("bad_request", field, f"{field} is empty")
    if len(text) > limit:
        return Problem("bad_request", field, f"{field} is longer than {limit} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        return Problem("bad_request", field, f"{field} contains a control character")
    return text


def check_code(raw: str, catalog: Catalog) -> str | Problem:
    """The code, stripped, or why it cannot be given to an article."""
    code = raw.strip()
    if not code or len(code) > MAX_CODE or not (code.isascii() and code.isdigit()):
        return Problem("bad_request", "code", f"code must be 1 to {MAX_CODE} digits")
    if len(code) in (8, 13) and not is_valid_ean(code):
        return Problem("bad_request", "code", f"code {code!r} has a wrong EAN check digit")
    if not isinstance(catalog.lookup(code, include_inactive=True), Unknown):
        return Problem("conflict", "code", f"code {code!r} already names an article")
    return code


def new_article(catalog: Catalog, vat_rates: Collection[Decimal], *, article: str, name: str, price: object,
                vat_rate: object, code: str, department: str = "") -> Article | Problem:
    """The article ``article_create`` writes, or why not (nothing is written)."""
    article_id = _text(article, "article", MAX_ID)
    if isinstance(article_id, Problem):
        return article_id
    if any(c.isspace() for c in article_id):
        return Problem("bad_request", "article", "article must not contain spaces")
    checked_name = _text(name, "name", MAX_NAME)
    if isinstance(checked_name, Problem):
        return checked_name
    checked_department = _text(department, "department", MAX_DEPARTMENT, required=False)
    if isinstance(checked_department, Problem):
        return checked_department
    try:
        amount = parse_money(price, "price")
    except BadValue as error:
        return Problem("bad_request", "price", str(error))
    if amount <= 0:
        return Problem("bad_request", "price", "price must be positive")
    try:
        rate = parse_percent(vat_rate, "vat_rate")
    except BadValue as error:
        return Problem("bad_request", "vat_rate", str(error))
    if rate not in vat_rates:
        allowed = ", ".join(fmt_percent(r) for r in sorted(vat_rates))
        return Problem("bad_request", "vat_rate", f"vat_rate is not one of the shop's rates ({allowed})")
    if catalog.get(article_id) is not None:
        return Problem("conflict", "article", f"article {article_id!r} already exists (attach the code to it)")
    checked_code = check_code(code, catalog)
    if isinstance(checked_code, Problem):
        return checked_code
    return Article(id=article_id, name=checked_name, price=amount, vat_rate=rate,
                   barcodes=(Barcode(checked_code),), department=checked_department)


def attached(catalog: Catalog, *, article: str, code: str) -> Article | Problem:
    """The article with the code added to its barcodes, or why not (nothing is written)."""
    found = catalog.get(article.strip())
    if found is None:
        return Problem("not_found", "article", f"no article {article.strip()!r}")
    checked_code = check_code(code, catalog)
    if isinstance(checked_code, Problem):
        return checked_code
    return msgspec.structs.replace(found, barcodes=(*found.barcodes, Barcode(checked_code)))
