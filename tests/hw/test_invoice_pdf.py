"""The invoice's PDF file: written whole even by two threads at once (the lane renders
it after a sale while an ``invoice`` request may render a missing one), with the
receipt's plain text for characters Latin-1 lacks, ending with its number as a
scannable Code 128 barcode like its copies' (decoded back out of the PDF by
tests/hw/test_document_barcode.py's decoder)."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import msgspec

from laneserver.hw.document_pdf import render_document
from laneserver.hw.invoice_pdf import read_or_write_invoice, render_invoice, write_invoice
from laneserver.rules import document_print
from laneserver.rules.invoice import make_invoice
from laneserver.rules.ticket import Line
from tests.hw.test_document_barcode import decode

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)


def _invoice():
    lines = (Line(line=1, article="B", name="Bœuf bourguignon “maison”", qty=Decimal(2), unit_price=Decimal("12.50"),
                  vat_rate=Decimal("5.5")),)
    invoice = make_invoice(lines=lines, at=NOW, lane="1", seller="marie", customer="C1", customer_name="SARL Martin’s",
                           customer_contact=None, shop_name="Épicerie du Port", header=(), payments=())
    return msgspec.structs.replace(invoice, number=7, sale=42)


def test_two_threads_writing_the_same_invoice_each_write_a_whole_file(tmp_path):
    invoice = _invoice()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            write_invoice(invoice, tmp_path)
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    expected = render_invoice(invoice)
    assert (tmp_path / "invoices" / "F-000007.pdf").read_bytes() == expected
    assert [p.name for p in (tmp_path / "invoices").iterdir()] == ["F-000007.pdf"]  # no temporary file left
    (tmp_path / "invoices" / "F-000007.pdf").unlink()
    assert read_or_write_invoice(invoice, tmp_path) == expected  # rendered again, and kept
    assert (tmp_path / "invoices" / "F-000007.pdf").read_bytes() == expected


def test_typographic_characters_print_as_a_cashier_would_type_them():
    pdf = render_invoice(_invoice())
    assert b"Boeuf bourguignon" in pdf and b"SARL Martin's" in pdf


def test_the_original_invoice_ends_with_its_number_as_a_scannable_barcode_like_its_copies():
    invoice = _invoice()
    text, module_mm, quiet_left, quiet_right = decode(render_invoice(invoice))
    assert text == "F-000007"
    assert module_mm >= 0.25
    assert quiet_left >= 10 and quiet_right >= 10, (quiet_left, quiet_right)
    # The original and a copy (a document's PDF of the same invoice) scan alike.
    copy = document_print.duplicate(document_print.from_invoice(invoice, dt.UTC), 2, NOW)
    assert decode(render_document(copy)) == (text, module_mm, quiet_left, quiet_right)
    assert document_print.copy_target(text) == ("invoice", 7)  # the code a reprint names it by
