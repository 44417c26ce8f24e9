"""Every document's A4 PDF carries its code as a scannable Code 128 barcode (issue 18):
the bars are read back from the PDF's content stream (fpdf2's filled ``re``
rectangles, the stream inflated with zlib when it is compressed) and decoded by a
decoder of this file's own — widths → symbols (the table of the PDA page's
barcode.js, not the encoder's) → text → check symbol — for each kind: quote, order,
delivery note, deposit invoice, credit note, invoice, and a copy. The narrowest bar
is at least 0.25 mm and nothing is drawn within 10 modules of the bars.

A copy (``reprint``) says DUPLICATA and its print number, on the PDF and on paper."""

from __future__ import annotations

import datetime as dt
import re
import zlib
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from laneserver.hw.document_pdf import render_document
from laneserver.hw.receipt import receipt_text, render_receipt
from laneserver.rules import document_print
from laneserver.rules import documents as docs
from laneserver.rules.invoice import InvoicePayment, make_invoice
from laneserver.rules.ticket import Line, Payment
from tests.hw.test_document_pdf import NOW, SHOP, _chained, _made

PT_PER_MM = 72 / 25.4
JS = Path(__file__).parents[2] / "laneserver" / "clients" / "pda" / "barcode.js"


def _symbols() -> dict[tuple[int, ...], int]:
    table = re.search(r"const PATTERNS = \[(.*?)\];", JS.read_text(), re.DOTALL)
    assert table is not None
    return {tuple(int(d) for d in p): v for v, p in enumerate(re.findall(r'"(\d+)"', table.group(1)))}


SYMBOLS = _symbols()


def _streams(pdf: bytes) -> list[str]:
    out = []
    for head, body in re.findall(rb"<<(.*?)>>\s*stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL):
        out.append((zlib.decompress(body) if b"FlateDecode" in head else body).decode("latin-1"))
    return out


class Bar(msgspec.Struct, frozen=True):
    x: float
    y: float
    w: float
    h: float


def _rects(content: str) -> list[Bar]:
    number = r"(-?\d+(?:\.\d+)?)"
    return [Bar(*(float(v) for v in m)) for m in re.findall(rf"{number} {number} {number} {number} re f\b", content)]


def decode(pdf: bytes) -> tuple[str, float, float, float]:
    """The barcode of ``pdf``: its text, its module width (mm), and the blank left and
    right of the bars in modules (up to the nearest other mark on that band, or the page's edge)."""
    for content in _streams(pdf):
        rects = _rects(content)
        bands: dict[tuple[float, float], list[Bar]] = {}
        for r in rects:
            bands.setdefault((r.y, r.h), []).append(r)
        if not bands:
            continue
        band = max(bands.values(), key=len)
        if len(band) < 10:
            continue
        band.sort(key=lambda r: r.x)
        module = min(r.w for r in band)
        widths: list[int] = []
        for i, r in enumerate(band):
            if i:
                widths.append(round((r.x - band[i - 1].x - band[i - 1].w) / module))
            widths.append(round(r.w / module))
        # Widths → symbols: six elements each, the stop seven.
        assert (len(widths) - 7) % 6 == 0, widths
        values = [SYMBOLS[tuple(widths[i:i + 6])] for i in range(0, len(widths) - 7, 6)]
        values.append(SYMBOLS[tuple(widths[-7:])])
        assert values[0] == 104 and values[-1] == 106, values  # start B … stop
        data, check = values[1:-2], values[-2]
        assert (104 + sum(i * v for i, v in enumerate(data, start=1))) % 103 == check
        text = "".join(chr(v + 32) for v in data)
        # The quiet zones: no other rectangle, no text on the bars' band, within reach.
        top, bottom = sorted((band[0].y, band[0].y + band[0].h))
        left, right = band[0].x, band[-1].x + band[-1].w
        others = [(r.x, r.x + r.w) for r in rects if r not in band and min(r.y, r.y + r.h) < bottom
                  and max(r.y, r.y + r.h) > top]
        others += [(float(x), float(x)) for x, y in re.findall(r"BT (-?[\d.]+) (-?[\d.]+) Td", content)
                   if top <= float(y) <= bottom]
        before = min([left - b for a, b in others if b <= left] + [left])
        after = min([a - right for a, b in others if a >= right] + [595.28 - right])
        return text, module / PT_PER_MM, before / module, after / module
    raise AssertionError("no barcode in the PDF")


def _invoice_printed() -> document_print.Printed:
    lines = (Line(line=1, article="C1", name="Champagne brut 75 cl", qty=Decimal(2), unit_price=Decimal("30.00"),
                  vat_rate=Decimal(20)),)
    invoice = make_invoice(lines=lines, at=NOW, lane="1", seller="paul", customer="C1", customer_name="SARL Dupont",
                           customer_contact=None, shop_name="Cave du Port", header=(),
                           payments=(InvoicePayment("Carte bancaire", Decimal("60.00")),))
    return document_print.from_invoice(msgspec.structs.replace(invoice, number=7, sale=41), dt.UTC)


def _all_kinds() -> dict[str, tuple[document_print.Printed, str]]:
    paid = (Payment(payment=1, mode="card", amount=Decimal(100)),)
    order = msgspec.structs.replace(_made("order", 4, deposit=Decimal(100), delivery="take_away", payments=paid),
                                    deposit_invoice=2)
    returned = (Line(line=1, article="C1", name="Champagne", qty=Decimal(-1), unit_price=Decimal("30.00"),
                     vat_rate=Decimal(20)),)
    records = {
        "quote": (_chained(docs.document_record(_made("quote", 1)), 1), "DQ000001"),
        "order": (_chained(docs.document_record(order), 4), "DO000004"),
        "delivery_note": (_chained(docs.document_record(_made("delivery_note", 123456)), 123456), "DL123456"),
        "deposit_invoice": (_chained(docs.deposit_invoice_record(order), 2), "C-000002"),
        "credit_note": (_chained(docs.credit_note_record(customer="C1", lane="1", seller="paul", lines=returned,
                                                         total=Decimal("-30.00"), refers=3), 9), "A-000009"),
    }
    out = {kind: (document_print.printable(kind, record, **SHOP), code) for kind, (record, code) in records.items()}
    out["invoice"] = (_invoice_printed(), "F-000007")
    return out


KINDS = _all_kinds()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kinds_pdf_has_a_scannable_barcode_of_its_code(kind):
    printed, code = KINDS[kind]
    assert printed.code == code
    for shown in (printed, document_print.duplicate(printed, 3, NOW)):
        text, module_mm, quiet_left, quiet_right = decode(render_document(shown))
        assert text == code
        assert module_mm >= 0.25
        assert quiet_left >= 10 and quiet_right >= 10, (quiet_left, quiet_right)
    # The code a reprint names it by reads back to the same document.
    assert document_print.copy_target(code) == (kind, int(code[-6:]))


def test_a_barcode_that_would_not_fit_goes_to_a_new_page():
    printed, code = KINDS["quote"]
    long = msgspec.structs.replace(printed, footer=tuple(f"ligne {i}" for i in range(41)))
    pdf = render_document(long)
    assert pdf.count(b"/Type /Page\n") == 2 or pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 2
    assert decode(pdf)[0] == code


def test_a_copy_says_duplicata_and_its_print_number_on_the_pdf_and_on_paper():
    printed, _ = KINDS["order"]
    at = dt.datetime(2026, 12, 6, 14, 3, tzinfo=dt.UTC)
    assert printed.mark == () and b"DUPLICATA" not in render_document(printed)
    copy = document_print.duplicate(printed, 2, at)
    assert copy.mark == ("DUPLICATA", "Impression n° 2 - imprimé le 06/12/2026 14:03")
    pdf = render_document(copy)
    assert b"DUPLICATA" in pdf and "Impression n° 2 - imprimé le 06/12/2026 14:03".encode("latin-1") in pdf
    assert b"BON DE COMMANDE O-000004" in pdf
    with pytest.raises(ValueError):
        document_print.duplicate(printed, 1, at)  # print 1 is the original
    text = receipt_text(document_print.copy_receipt(copy, lane="2", seller="marie", footer=("Merci",)))
    # On the printer, the barcode is the printer's own Code 128: GS k 73 (code set B) and the code.
    assert b"\x1dkI\x0a{BDO000004" in render_receipt(document_print.copy_receipt(copy, lane="2", seller="marie"))
    for expected in ("N° O-000004", "BON DE COMMANDE", "DUPLICATA", "Impression n° 2", "Imprimé le 06/12/2026 14:03",
                     "Vendeur : marie", "Champagne brut 75 cl", "Acompte - card", "Reste à payer : 211,00 €",
                     "Merci", "|| DO000004 ||"):
        assert expected in text, (expected, text)
    # A delivery note's copy on paper: what left, without prices.
    note = document_print.duplicate(KINDS["delivery_note"][0], 2, at)
    text = receipt_text(document_print.copy_receipt(note, lane="1", seller="paul"))
    assert "BON DE LIVRAISON" in text and "Qté : 10" in text and "€" not in text and "|| DL123456 ||" in text


def test_reprint_names_any_document_and_refuses_the_rest():
    assert document_print.copy_target("dq000001") == ("quote", 1)
    assert document_print.copy_target("O-000002") == ("order", 2)
    assert document_print.copy_target("C-000003") == ("deposit_invoice", 3)
    assert document_print.copy_target("A-000004") == ("credit_note", 4)
    assert document_print.copy_target(" f-000005 ") == ("invoice", 5)
    for bad in ("F-", "F-000000", "F-1234567890", "F-１２", "X-000001", "", "x" * 10_000, "F-12 3", "DZ000001"):
        assert document_print.copy_target(bad) is None, bad
