"""Reads for documents (rules/documents.py): the invoice a return refers to."""

from __future__ import annotations

import sqlite3

import msgspec

#: How far back a return looks for the customer's invoice of what it brings back.
INVOICES_LOOKED_AT = 200


def invoice_of_return(db: sqlite3.Connection, customer: str, articles: frozenset[str],
                      names: frozenset[str] = frozenset()) -> int | None:
    """The number of ``customer``'s latest invoice whose sale sold one of ``articles``
    (what a return brings back) — or, on an invoice of delivery notes (whose lines carry
    no article), a line named after one of ``names`` — or None."""
    rows = db.execute(
        "SELECT i.number, s.lines FROM invoices i JOIN sales s ON s.number = i.sale"
        " WHERE i.customer = ? AND s.cancels IS NULL ORDER BY i.number DESC LIMIT ?",
        (customer, INVOICES_LOOKED_AT))
    for number, lines in rows:
        for line in msgspec.json.decode(lines):
            if float(line.get("qty", 0)) <= 0:
                continue
            if line.get("article") in articles or (
                    line.get("article") is None and any(str(line.get("name", "")).startswith(n) for n in names)):
                return number
    return None
