"""Copies of a sale's receipt (rules/copies.py) and their paper (hw/receipt.py): pure,
synchronous, the bytes compared with what python-escpos's Dummy renders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from escpos.printer import Dummy

from laneserver import __version__
from laneserver.hw.receipt import CODEPAGE, render_receipt
from laneserver.rules import copies
from laneserver.rules.corrections import Row
from laneserver.rules.receipt import VatRow
from laneserver.rules.ticket import Line

D = Decimal
AT = dt.datetime(2026, 11, 23, 10, 42, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 11, 24, 9, 10, tzinfo=dt.UTC)
HASH = "1a2b3c4d" + "e" * 56


def sale(**changes) -> copies.SaleCopy:
    """Two loaves and a tart (12,50 €), paid 2,50 € by card and 20,00 € cash, 10,00 € change."""
    fields = {
        "number": 12, "at": AT, "lane": "1", "seller": "Hélène", "customer": None,
        "lines": (Line(line=1, article="A1", name="Pain de campagne", qty=D(2), unit_price=D("3.50"), vat_rate=D("5.5")),
               Line(line=2, article="A2", name="Tarte aux pommes", qty=D(1), unit_price=D("5.50"), vat_rate=D("20"))),
        "vat": (VatRow(rate=D("5.5"), base=D("6.64"), vat=D("0.36"), total=D("7.00")),
             VatRow(rate=D("20"), base=D("4.58"), vat=D("0.92"), total=D("5.50"))),
        "total": D("12.50"), "change": D("10.00"),
        "rows": (Row(number=30, type="PAI", mode="card", amount=D("2.50"), at=AT.isoformat()),
              Row(number=31, type="PAI", mode="cash", amount=D("20.00"), at=AT.isoformat())),
        "hash": HASH, "prints": ("original",)}
    fields.update(changes)
    return copies.SaleCopy(**fields)


def paper(receipt) -> str:
    return render_receipt(receipt).decode("cp858")


def receipt_of(kind: str, counter: int = 2, the_sale: copies.SaleCopy | None = None):
    return copies.copy_receipt(the_sale or sale(), kind, counter, printed_at=LATER, shop_name="Épicerie du Port",
                               header=("12 quai",), footer=("Merci !",), labels={"gift_card": "Carte cadeau"})


# --- the counter and the record ----------------------------------------------------------

def test_the_counter_counts_every_print_of_the_sale_whatever_its_kind():
    assert copies.next_print((), "duplicate") == 1  # finished with no receipt: the first print is 1
    assert copies.next_print(("original",), "duplicate") == 2
    assert copies.next_print(("original", "gift", "duplicate"), "gift") == 4
    assert copies.next_print(("original", "duplicate"), "proof") == 3


def test_a_second_proof_is_a_conflict_and_an_unknown_kind_a_bad_request():
    refused = copies.next_print(("original", "proof", "duplicate"), "proof")
    assert (refused.code, refused.details["field"]) == ("conflict", "kind")
    assert copies.next_print(("original",), "original").code == "bad_request"
    assert copies.next_print(("original",), "triplicate").code == "bad_request"


def test_a_copy_record_is_business_content_only():
    record = copies.copy_record(sale=12, kind="gift", counter=3, lane="1", device="till-1", seller="lea")
    assert record == {"sale": 12, "kind": "gift", "counter": 3, "lane": "1", "device": "till-1", "seller": "lea"}


# --- what each copy says -----------------------------------------------------------------

def test_a_duplicate_says_duplicata_its_counter_and_when_with_the_original_payments():
    text = paper(receipt_of("duplicate", 3))
    assert "DUPLICATA" in text
    assert "Impression n° 3" in text
    assert "Imprimé le 24/11/2026 09:10" in text
    assert "23/11/2026 10:42" in text  # the sale's own date stays in the header
    assert "Ticket n° 12" in text
    for shown in ("Pain de campagne", "3,50 €", "7,00 €", "12,50 €", "Carte bancaire", "2,50 €", "Espèces",
                  "20,00 €", "Rendu", "10,00 €", "Taux", "Merci !"):
        assert shown in text, shown


def test_a_duplicate_leaves_out_rows_written_after_the_sale():
    later = Row(number=40, type="PAI", mode="cheque", amount=D("5.00"), at=LATER.isoformat())
    text = paper(receipt_of("duplicate", the_sale=sale(rows=sale().rows + (later,))))
    assert "Chèque" not in text


def test_a_gift_receipt_has_the_lines_and_quantities_and_no_price_or_total():
    job = render_receipt(receipt_of("gift", 2))
    text = job.decode("cp858")
    assert "TICKET CADEAU" in text and "Impression n° 2" in text and "DUPLICATA" not in text
    assert "Pain de campagne" in text and "Qté : 2" in text and "Tarte aux pommes" in text and "Qté : 1" in text
    assert "€".encode(CODEPAGE) not in job  # no amount at all
    for hidden in ("TOTAL", "Taux", "Espèces", "Carte bancaire", "Rendu", "3,50", "12,50", "Remise"):
        assert hidden not in text, hidden


def test_a_proof_says_what_was_paid_by_mode_and_its_sum_and_no_line():
    text = paper(receipt_of("proof", 2))
    assert "JUSTIFICATIF" in text and "Justificatif de paiement" in text
    assert "de la vente n° 12 du 23/11/2026" in text
    assert "Impression n° 2" in text
    assert "Carte bancaire" in text and "2,50 €" in text
    assert "Espèces" in text and "10,00 €" in text  # 20,00 tendered, 10,00 given back
    assert "TOTAL PAYÉ" in text and "12,50 €" in text
    assert "Pain de campagne" not in text and "Taux" not in text and "Rendu" not in text


def test_a_proof_counts_later_payments_and_corrections_and_leaves_out_the_rounding():
    rows = (Row(number=1, type="PAI", mode="cash", amount=D("10.00"), at=AT.isoformat()),
            Row(number=2, type="PAI", mode="rounding", amount=D("0.02"), at=AT.isoformat()),
            Row(number=3, type="PAI", mode="gift_card", amount=D("2.48"), at=LATER.isoformat()))
    copy = sale(rows=rows, change=D("0"), total=D("12.50"))
    assert copies.paid_by_mode(copy) == {"cash": D("10.00"), "gift_card": D("2.48")}
    text = paper(receipt_of("proof", the_sale=copy))
    assert "Carte cadeau" in text  # a shop mode by its label


def test_a_counter_entry_copy_says_so():
    text = paper(receipt_of("duplicate", the_sale=sale(number=13, cancels=12, total=D("-12.50"))))
    assert "ANNULATION" in text and "Annule la vente n° 12" in text


# --- the footer every receipt ends with, byte for byte ------------------------------------

def _footer_bytes(*lines: str) -> bytes:
    """What the renderer sends for the footer's lines, by python-escpos's own Dummy."""
    printer = Dummy()
    printer.charcode(CODEPAGE)
    printer.set(align="center")
    for line in lines:
        printer.textln(line)
    printer.ln()
    return printer.output[len(b"\x1bt\x13"):]


def test_every_copy_ends_with_the_software_and_the_sale_records_hash_extract():
    assert copies.SOFTWARE == f"laneserver {__version__}"
    assert copies.signature(HASH) == "1a2b3c4d"
    footer = _footer_bytes("Merci !", f"laneserver {__version__}", "Empreinte : 1a2b3c4d")
    for kind in copies.KINDS:
        job = render_receipt(receipt_of(kind))
        assert footer in job, kind
        assert job.index(footer) < job.index(b"\x1dkI")  # then the ticket number's barcode


def test_the_original_receipt_has_the_footer_and_no_counter():
    from laneserver.rules import payment as payments
    from laneserver.rules.lane import SaleCompleted
    from laneserver.rules.sale_receipt import sale_receipt
    from laneserver.rules.ticket import Payment

    the_sale = sale()
    completed = SaleCompleted(lane="1", seller="Hélène", customer=None, at=AT, lines=the_sale.lines,
                              vat=the_sale.vat, total=D("12.50"), paid=D("22.50"), change=D("10.00"),
                              payments=(Payment(payment=1, mode="cash", amount=D("22.50")),))
    receipt = sale_receipt(completed, number=12, shop_name="Épicerie", header=(), footer=("Merci !",),
                           policy=payments.Policy(), signature=copies.signature(HASH))
    job = render_receipt(receipt)
    assert _footer_bytes("Merci !", f"laneserver {__version__}", "Empreinte : 1a2b3c4d") in job
    assert "Impression n°" not in job.decode("cp858") and "DUPLICATA" not in job.decode("cp858")
