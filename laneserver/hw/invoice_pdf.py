"""Invoices as A4 PDF files: a rendering of ``rules.invoice.Invoice`` with fpdf2.

``render_invoice`` is pure (the same invoice gives the same bytes: the PDF's
creation date is the invoice's own date); ``write_invoice`` puts the file in the
invoices folder atomically (a temporary file renamed over it), so a reader never
sees half a PDF. Both are slow enough (tens of milliseconds) to run in a worker
thread, never on the event loop.

The content streams are left uncompressed: an invoice is a few kilobytes, and its
text stays searchable by a plain ``grep`` (and by the tests).

Text uses the PDF core fonts (Helvetica), whose encoding is Latin-1: every French
letter prints, a character outside it prints as ``?`` and ``€`` is written ``EUR``.
It never raises on shop or customer data.

Layout::

    ÉPICERIE DU PORT                             FACTURE F-000001
    12 quai des Pêcheurs                         Date : 23/11/2026
                                                 Vente n° 123
    Facturé à : SARL Dupont (C1)
                contact@dupont.fr
    Désignation        Qté   PU HT   Remise  TVA   Total HT
    Pain de campagne     2    3,32     10 %  5,5 %     5,97
    ...
    Taux   Base HT   TVA   Total TTC          (one row per VAT rate)
    Total HT / Total TVA / Total TTC
    Règlements: Espèces 20,00 EUR …
    ▌▌▌ ▌▌ ▌▌▌▌ ▌                                (the number as a Code 128 barcode,
    F-000001                                      the text under it: ``barcode``)

``barcode`` draws a Code 128 (rules/code128.py) below what is on the page: each bar
a filled rectangle ``MODULE_MM`` wide per module, ``BAR_HEIGHT_MM`` tall, with a quiet
zone of ``code128.QUIET`` modules each side. A document's PDF (hw/document_pdf.py) and
an invoice's copy end with the same drawing, so original and copy scan alike.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from laneserver.files import write_atomically
# The receipt's own French formatting (12,50 / 5,5 % / 0,456), shared on purpose.
from laneserver.hw.receipt import _amount as _money, _percent, _qty
from laneserver.hw.receipt import plain_without_ligatures as _plain
from laneserver.rules import code128
from laneserver.rules.invoice import Invoice, invoice_name

#: The folder, under the data folder, that holds the invoices' PDF files.
FOLDER = "invoices"

#: One module (the narrowest bar) of a barcode on an invoice or a document, in mm
#: (scanners want 0.25 or more).
MODULE_MM = 0.35
BAR_HEIGHT_MM = 12.0


def pdf_path(data_folder: Path, number: int) -> Path:
    return data_folder / FOLDER / f"{invoice_name(number)}.pdf"


def _t(text: str) -> str:
    """Text the core fonts can show: the receipt's plain text (control characters as
    spaces, ’ “ ” … œ as a cashier would type them), ``€`` as ``EUR``, anything else
    outside Latin-1 as ``?``."""
    return _plain(text).replace("€", "EUR").encode("latin-1", "replace").decode("latin-1")


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` shortened (with "…" as "...") to fit in ``width`` mm."""
    text = _t(text)
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text + "..."


# Column widths of the lines' table (mm; A4 is 210 wide, 15 mm margins).
_COLUMNS = (("Désignation", 70, "L"), ("Qté", 16, "R"), ("PU HT", 22, "R"), ("Remise", 18, "R"),
            ("TVA", 16, "R"), ("Total HT", 38, "R"))


def new_pdf(at: dt.datetime, title: str, author: str) -> FPDF:
    """An A4 page with 15 mm margins, uncompressed, dated ``at`` (the same bytes again)."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_compression(False)
    pdf.set_creation_date(at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc))
    pdf.set_title(_t(title))
    pdf.set_author(_t(author))
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    return pdf


def head(pdf: FPDF, shop_name: str, header: tuple[str, ...], title: str, facts: tuple[str, ...]) -> None:
    """The shop (left) and the document's title and facts (right)."""
    width = pdf.epw
    top = pdf.get_y()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width / 2, 8, _fit(pdf, shop_name, width / 2), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    for line in header:
        pdf.cell(width / 2, 5, _fit(pdf, line, width / 2), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    left_end = pdf.get_y()
    pdf.set_xy(pdf.l_margin + width / 2, top)
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(width / 2, 8, _t(title), align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    for text in facts:
        pdf.cell(width / 2, 5, _fit(pdf, text, width / 2), align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_xy(pdf.l_margin, max(left_end, pdf.get_y()) + 8)


def customer_block(pdf: FPDF, who: str, contact: str | None) -> None:
    width = pdf.epw
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(width, 6, _fit(pdf, who, width), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    if contact:
        pdf.multi_cell(width, 5, _t(contact), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)


def lines_table(pdf: FPDF, rows: list[tuple[str, ...]], columns=_COLUMNS) -> None:
    """The lines' table: ``columns`` (title, width, align) and one row of texts per line."""
    pdf.set_font("Helvetica", "B", 10)
    for title, w, align in columns:
        pdf.cell(w, 7, _t(title), border="B", align=align)
    pdf.ln(7)
    pdf.set_font("Helvetica", "", 10)
    for cells in rows:
        for text, (_, w, align) in zip(cells, columns):
            pdf.cell(w, 6, _fit(pdf, text, w - 1), align=align)
        pdf.ln(6)
    pdf.ln(4)


def invoice_rows(lines) -> list[tuple[str, ...]]:
    """An invoice's lines (``InvoiceLine``) as the table's texts."""
    return [(line.name, _qty(line.qty), _money(line.unit_price_excl_vat),
             _percent(line.discount_percent) if line.discount_percent else "", _percent(line.vat_rate),
             _money(line.total_excl_vat)) for line in lines]


def vat_table(pdf: FPDF, rows) -> None:
    """Per VAT rate (``VatRow``): rate, base, VAT, total."""
    pdf.set_font("Helvetica", "B", 10)
    vat_columns = (("Taux TVA", 30), ("Base HT", 35), ("TVA", 35), ("Total TTC", 35))
    for title, w in vat_columns:
        pdf.cell(w, 7, _t(title), border="B", align="R")
    pdf.ln(7)
    pdf.set_font("Helvetica", "", 10)
    for row in rows:
        for text, (_, w) in zip((_percent(row.rate), _money(row.base), _money(row.vat), _money(row.total)),
                                vat_columns):
            pdf.cell(w, 6, _t(text), align="R")
        pdf.ln(6)
    pdf.ln(4)


def totals_block(pdf: FPDF, totals: list[tuple[str, Decimal]], bold: str = "Total TTC") -> None:
    width = pdf.epw
    for label, amount in totals:
        pdf.set_font("Helvetica", "B" if label == bold else "", 11)
        pdf.cell(width - 40, 6, _t(label), align="R")
        pdf.cell(40, 6, _t(f"{_money(amount)} EUR"), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def amounts_block(pdf: FPDF, heading: str, rows: list[tuple[str, Decimal]]) -> None:
    """A heading, then one labelled amount a row (how it was paid)."""
    width = pdf.epw
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(width, 6, _t(heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 10)
    for label, amount in rows:
        pdf.cell(width - 40, 6, _fit(pdf, label, width - 41))
        pdf.cell(40, 6, _t(f"{_money(amount)} EUR"), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def barcode(pdf: FPDF, text: str) -> None:
    """``text`` as a Code 128 barcode at the left margin, below what is on the page
    (on a new page if it would not fit whole), its text centred under the bars."""
    total = code128.modules(text) * MODULE_MM
    needed = 6 + BAR_HEIGHT_MM + 6
    if pdf.get_y() + needed > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(6)
    left, top = pdf.l_margin, pdf.get_y()
    pdf.set_fill_color(0, 0, 0)
    for start, width in code128.bars(text):
        pdf.rect(left + start * MODULE_MM, top, width * MODULE_MM, BAR_HEIGHT_MM, style="F")
    pdf.set_xy(left, top + BAR_HEIGHT_MM + 1)
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(total, 4, _t(text), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def render_invoice(invoice: Invoice) -> bytes:
    pdf = new_pdf(invoice.at, f"Facture {invoice_name(invoice.number)}", invoice.shop_name)
    head(pdf, invoice.shop_name, invoice.header, f"FACTURE {invoice_name(invoice.number)}",
         (f"Date : {invoice.at:%d/%m/%Y}", f"Vente n° {invoice.sale}",
          f"Caisse {invoice.lane} - vendeur {invoice.seller}"))
    customer_block(pdf, f"Facturé à : {invoice.customer_name} ({invoice.customer})", invoice.customer_contact)
    lines_table(pdf, invoice_rows(invoice.lines))
    vat_table(pdf, invoice.vat)
    totals_block(pdf, [("Total HT", invoice.total_excl_vat), ("Total TVA", invoice.total_vat),
                       ("Total TTC", invoice.total)])
    settled = [(p.label, p.amount) for p in invoice.payments]
    if invoice.rounding:
        settled.append(("Arrondi", invoice.rounding))
    if invoice.change:
        settled.append(("Rendu", -invoice.change))
    if invoice.due:
        settled.append(("Reste dû", invoice.due))
    amounts_block(pdf, "Règlements", settled)
    barcode(pdf, invoice_name(invoice.number))
    return bytes(pdf.output())


def write_invoice(invoice: Invoice, data_folder: Path) -> tuple[Path, bytes]:
    """Render ``invoice`` into the invoices folder (atomically, fsynced): its path and
    its bytes. Two threads writing the same invoice at once each write a whole file."""
    path = pdf_path(data_folder, invoice.number)
    path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
    data = render_invoice(invoice)
    write_atomically(path, data)
    return path, data


def read_or_write_invoice(invoice: Invoice, data_folder: Path) -> bytes:
    """The invoice's PDF from its file, rendered (and written) again if it is missing."""
    path = pdf_path(data_folder, invoice.number)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return write_invoice(invoice, data_folder)[1]
