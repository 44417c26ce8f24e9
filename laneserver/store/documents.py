"""Reads for documents (rules/documents.py): the invoice a return refers to, and what a
document's PDF is made from (rules/document_print.py)."""

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


class PrintableRecords(msgspec.Struct, frozen=True):
    """What a document's PDF is made from (rules/document_print.py)."""

    record: dict
    referred: dict | None  # a credit note's deposit invoice (its VAT split)
    customer_name: str | None
    customer_contact: str | None


def chain_record(db: sqlite3.Connection, chain: str, number: int) -> dict | None:
    """Record ``number`` of ``chain`` as stored (with its ``number`` and ``at``)."""
    row = db.execute("SELECT record FROM fiscal_records WHERE chain=? AND number=?", (chain, number)).fetchone()
    return None if row is None else msgspec.json.decode(row[0])


def printable(db: sqlite3.Connection, chain: str, number: int) -> PrintableRecords | None:
    """Document ``number`` of ``chain`` and what its PDF shows besides: its customer's
    name and contact (as the directory has them), a credit note's deposit invoice."""
    record = chain_record(db, chain, number)
    if record is None:
        return None
    referred = None
    refers = str(record.get("refers") or "")
    if chain == "credit_note" and refers.startswith("C-") and refers[2:].isdigit():
        referred = chain_record(db, "deposit_invoice", int(refers[2:]))
    name = contact = None
    if record.get("customer"):
        row = db.execute("SELECT name, contact FROM customers WHERE customer=?", (record["customer"],)).fetchone()
        if row is not None:
            name, contact = row
    return PrintableRecords(record, referred, name, contact)
