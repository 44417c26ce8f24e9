"""Documents as A4 PDF files (quotes, orders, delivery notes, deposit invoices, credit
notes): a rendering of ``rules.document_print.Printed`` with the invoices' layout
(hw/invoice_pdf.py: the shop and the title, the customer, the lines excluding VAT,
per rate, the totals, how it was paid).

Like an invoice's: ``render_document`` is pure (the same document gives the same
bytes), ``write_document`` puts the file in the ``documents`` folder of the data
folder atomically, and ``read_or_write_document`` serves the file once written (the
first rendering is the one kept: a later change of the shop's header does not change
a document already given) or renders it again if it is missing. Slow enough (tens of
milliseconds) to run in a worker thread, never on the event loop.

Every document ends with its barcode (``Printed.code``: a quote's ``DQ000001``, a
deposit invoice's ``C-000001``…) drawn as Code 128 (rules/code128.py) by
hw/invoice_pdf.py's ``barcode``, the one an invoice's original ends with too: each bar a
filled rectangle ``MODULE_MM`` wide per module, ``BAR_HEIGHT_MM`` tall, with a quiet
zone of ``code128.QUIET`` modules each side and the text under it. A copy
(``Printed.copy``: a ``reprint``) says ``DUPLICATA`` and its print number under the
title; it is rendered for the reply, never kept in place of the original's file.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from laneserver.files import write_atomically
from laneserver.hw.invoice_pdf import (
    _fit,
    _qty,
    _t,
    amounts_block,
    barcode,
    customer_block,
    head,
    invoice_rows,
    lines_table,
    new_pdf,
    totals_block,
    vat_table,
)
from laneserver.rules.document_print import Printed

#: The folder, under the data folder, that holds the documents' PDF files.
FOLDER = "documents"

# A delivery note's table: what left and how many, no prices.
_UNPRICED = (("Désignation", 150, "L"), ("Qté", 30, "R"))


def pdf_path(data_folder: Path, name: str) -> Path:
    return data_folder / FOLDER / f"{name}.pdf"


def render_document(printed: Printed) -> bytes:
    pdf = new_pdf(printed.at, printed.title, printed.shop_name)
    head(pdf, printed.shop_name, printed.header, printed.title, printed.facts)
    if printed.mark:
        _copy_mark(pdf, printed.mark)
    if printed.customer:
        customer_block(pdf, printed.customer, printed.customer_contact)
    pdf.set_font("Helvetica", "", 10)
    for note in printed.notes:
        pdf.cell(pdf.epw, 5, _fit(pdf, note, pdf.epw), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if printed.notes:
        pdf.ln(4)
    if printed.priced:
        lines_table(pdf, invoice_rows(printed.lines))
        vat_table(pdf, printed.vat)
        totals_block(pdf, list(printed.totals))
    else:
        lines_table(pdf, [(line.name, _qty(line.qty)) for line in printed.lines], columns=_UNPRICED)
    if printed.paid:
        amounts_block(pdf, "Règlements", list(printed.paid))
        pdf.ln(4)
    pdf.set_font("Helvetica", "", 10)
    for text in printed.footer:
        if text:
            pdf.cell(pdf.epw, 6, _fit(pdf, text, pdf.epw), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if printed.code:
        barcode(pdf, printed.code)
    return bytes(pdf.output())


def _copy_mark(pdf: FPDF, mark: tuple[str, ...]) -> None:
    """A copy's ``DUPLICATA`` (large, bold) and its print number, under the title."""
    first, *rest = mark
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(pdf.epw, 10, _t(first), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    for text in rest:
        pdf.cell(pdf.epw, 5, _fit(pdf, text, pdf.epw), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def write_document(printed: Printed, data_folder: Path) -> tuple[Path, bytes]:
    """Render ``printed`` into the documents folder (atomically, fsynced)."""
    path = pdf_path(data_folder, printed.name)
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    data = render_document(printed)
    write_atomically(path, data)
    return path, data


def read_or_write_document(printed: Printed, data_folder: Path) -> bytes:
    """The document's PDF from its file, rendered (and written) if it is missing."""
    try:
        return pdf_path(data_folder, printed.name).read_bytes()
    except FileNotFoundError:
        return write_document(printed, data_folder)[1]
