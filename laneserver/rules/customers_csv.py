"""The customers head office publishes to the shops, as CSV (docs/head_office.md,
"Downstream"); and what a published version changes in a shop's directory.

Pure: text in, customers out. ``parse_customers_csv`` is all or nothing: it raises
``CustomersCsvError`` for the file's first fault, with its physical line number (the
header is line 1).

Columns: ``customer`` and ``name`` required; ``card``, ``business``, ``contact``,
``notes``, ``wallet`` optional (``,`` ``;`` or tab separated, as the catalog). The ids
are head office's, chain-wide: an id of the shops' own numbering (``C`` and digits,
actors/customers.py) is refused, so a published customer never replaces one a shop
created.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping

from laneserver.rules.customers import Customer
from laneserver.rules.money import BadValue

REQUIRED_COLUMNS = ("customer", "name")
OPTIONAL_COLUMNS = ("card", "business", "contact", "notes", "wallet")
MAX_ID = 40
MAX_NAME = 200
MAX_TEXT = 500
LOCAL_ID = re.compile(r"C\d+")
_TRUE = frozenset({"true", "1", "yes", "oui", "vrai", "y", "o"})
_FALSE = frozenset({"false", "0", "no", "non", "faux", "n", ""})
_DELIMITERS = (",", ";", "\t")


class CustomersCsvError(BadValue):
    """The file is refused whole: its first fault, with its line number."""


def _flag(value: str, column: str, line: int) -> bool:
    folded = value.strip().casefold()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise CustomersCsvError(f"line {line}: {column} must be true or false, not {value!r}")


def _text(value: str | None, column: str, line: int, limit: int) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise CustomersCsvError(f"line {line}: {column} is longer than {limit} characters")
    if any(ord(ch) < 32 for ch in text):
        raise CustomersCsvError(f"line {line}: {column} holds a control character")
    return text or None


def parse_customers_csv(content: str) -> tuple[Customer, ...]:
    """Every customer of a published file, in file order.

    Raises:
        CustomersCsvError: the file's first fault (nothing is returned).
    """
    first = content.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first.count)
    reader = csv.DictReader(io.StringIO(content), delimiter=delimiter)
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise CustomersCsvError(f"line 1: missing column(s) {', '.join(missing)}")
    unknown = [name for name in header if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS]
    if unknown:
        raise CustomersCsvError(f"line 1: unknown column(s) {', '.join(unknown)}")
    reader.fieldnames = header
    out: list[Customer] = []
    ids: set[str] = set()
    cards: dict[str, str] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            raise CustomersCsvError(f"line {line}: more cells than columns")
        customer = _text(row.get("customer"), "customer", line, MAX_ID)
        if customer is None or any(ch.isspace() for ch in customer):
            raise CustomersCsvError(f"line {line}: customer must be an id without spaces")
        if LOCAL_ID.fullmatch(customer):
            raise CustomersCsvError(f"line {line}: {customer} is an id of the shops' own numbering (C and digits);"
                                    " head office's customers need ids of their own")
        if customer in ids:
            raise CustomersCsvError(f"line {line}: customer {customer} twice")
        name = _text(row.get("name"), "name", line, MAX_NAME)
        if name is None:
            raise CustomersCsvError(f"line {line}: customer {customer} has no name")
        card = _text(row.get("card"), "card", line, MAX_ID)
        if card is not None:
            if card in cards:
                raise CustomersCsvError(f"line {line}: card {card} is also customer {cards[card]}'s")
            cards[card] = customer
        ids.add(customer)
        out.append(Customer(customer=customer, name=name, card=card,
                            business=_flag(row.get("business") or "", "business", line),
                            contact=_text(row.get("contact"), "contact", line, MAX_TEXT),
                            notes=_text(row.get("notes"), "notes", line, MAX_TEXT),
                            wallet_enabled=_flag(row.get("wallet") or "", "wallet", line)))
    return tuple(out)


def published_changes(directory: Mapping[str, Customer], cards: Mapping[str, str],
                      published: Iterable[Customer]) -> tuple[Customer, ...] | str:
    """What a published version changes in a shop's directory: the customers it adds or
    whose file differs (a customer published as the shop has them is left alone); or,
    as a string, why the shop cannot apply it: a card another customer carries in this
    shop (``cards``: card → customer). A card moved from one customer to another is
    two versions: the first takes it off, the next gives it."""
    published = tuple(published)
    for customer in published:
        owner = cards.get(customer.card) if customer.card is not None else None
        if owner is not None and owner != customer.customer:
            return f"card {customer.card} of {customer.customer} is customer {owner}'s in this shop"
    return tuple(c for c in published if directory.get(c.customer) != c)
