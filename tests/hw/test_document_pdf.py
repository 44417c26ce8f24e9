"""Documents' A4 PDFs (rules/document_print.py, hw/document_pdf.py): each kind made
from its chain record as the documents actor writes it renders, with its title, its
number and its totals (the text is searchable: the content streams are uncompressed);
the same record gives the same bytes; a missing file is rendered again and kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.hw.document_pdf import read_or_write_document, render_document
from laneserver.rules import document_print
from laneserver.rules import documents as docs
from laneserver.rules.ticket import Line, Payment, Ticket

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
DAY = NOW.date()
SHOP = {"shop_name": "Cave du Port", "header": ("12 quai des Pêcheurs",), "zone": dt.UTC}


def _ticket(payments: tuple[Payment, ...] = ()) -> Ticket:
    lines = (Line(line=1, article="C1", name="Champagne brut 75 cl", qty=Decimal(10), unit_price=Decimal("30.00"),
                  vat_rate=Decimal(20)),
             Line(line=2, article="P1", name="Pain d'épices", qty=Decimal(2), unit_price=Decimal("5.50"),
                  vat_rate=Decimal("5.5")))
    return Ticket(seller="paul", customer="C1", lines=lines, payments=payments, next_line=3,
                  next_payment=len(payments) + 1)


def _chained(record: dict, number: int) -> dict:
    """A record as its chain stores it: with ``number`` and ``at``, in JSON."""
    return msgspec.json.decode(msgspec.json.encode({**record, "number": number, "at": NOW.isoformat()}))


def _made(kind: str, number: int, **options) -> docs.Document:
    ticket = _ticket(options.pop("payments", ()))
    made = docs.issue(ticket, kind=kind, at=NOW, lane="1", seller="paul", stock_point="main", zone_day=DAY, **options)
    assert isinstance(made, docs.Document), made
    return msgspec.structs.replace(made, number=number)


def _pdf(kind: str, record: dict, **extra) -> bytes:
    printed = document_print.printable(kind, record, **SHOP, customer_name="SARL Les Noces",
                                       customer_contact="noces@example.fr", labels={"card": "Carte bancaire"},
                                       **extra)
    pdf = render_document(printed)
    assert pdf.startswith(b"%PDF") and pdf == render_document(printed)  # the same record, the same bytes
    return pdf


def _has(pdf: bytes, *texts: str) -> None:
    for text in texts:  # as a PDF string writes it: parentheses escaped
        assert text.replace("(", "\\(").replace(")", "\\)").encode("latin-1") in pdf, text


def test_a_quote_shows_devis_its_number_validity_and_totals():
    quote = _made("quote", 1, valid_months=3)
    pdf = _pdf("quote", _chained(docs.document_record(quote), 1))
    _has(pdf, "DEVIS Q-000001", "Valable jusqu'au 23/02/2027", "SARL Les Noces (C1)", "Total TTC", "311,00 EUR",
         "DQ000001")


def test_an_order_shows_its_deposit_due_date_delivery_and_what_is_left():
    order = _made("order", 1, deposit=Decimal(100), delivery="delivered", address="Château de Vaux",
                  due=DAY + dt.timedelta(days=7), shipping=Decimal(15),
                  payments=(Payment(payment=1, mode="card", amount=Decimal(100)),))
    order = msgspec.structs.replace(order, deposit_invoice=1)
    pdf = _pdf("order", _chained(docs.document_record(order), 1))
    _has(pdf, "BON DE COMMANDE O-000001", "Pour le 30/11/2026", "Mode : livraison", "Adresse de livraison : Ch",
         "Frais de port", "326,00 EUR", "Acompte vers", "C-000001", "-100,00 EUR", "Reste ", "226,00 EUR",
         "Carte bancaire")


def test_a_deposit_invoice_shows_its_vat_split_and_how_it_was_paid():
    order = msgspec.structs.replace(_made("order", 4, deposit=Decimal(100), delivery="take_away",
                                          payments=(Payment(payment=1, mode="card", amount=Decimal(100)),)),
                                    deposit_invoice=2)
    record = _chained(docs.deposit_invoice_record(order), 2)
    pdf = _pdf("deposit_invoice", record)
    split = docs.deposit_vat(Decimal(100), order.lines)
    assert sum(v.total for v in split) == Decimal(100)
    _has(pdf, "FACTURE D'ACOMPTE C-000002", "Commande O-000004", "Acompte sur la commande O-000004", "20 %",
         "5,5 %", "Total TTC", "100,00 EUR", "Carte bancaire")
    for part in split:
        _has(pdf, f"{part.vat:.2f}".replace(".", ","))


def test_a_delivery_note_shows_what_left_without_prices():
    pdf = _pdf("delivery_note", _chained(docs.document_record(_made("delivery_note", 3)), 3))
    _has(pdf, "BON DE LIVRAISON L-000003", "Livr", "Champagne brut 75 cl", "Total : 12 article(s) sur 2 ligne(s)",
         "Signature du client")
    assert b"EUR" not in pdf and b"30,00" not in pdf  # no prices on a delivery note


def test_credit_notes_of_a_return_and_of_a_refunded_deposit():
    lines = (Line(line=1, article="C1", name="Champagne brut 75 cl", qty=Decimal(-2), unit_price=Decimal("30.00"),
                  vat_rate=Decimal(20)),)
    record = _chained(docs.credit_note_record(customer="C1", lane="1", seller="paul", lines=lines,
                                              total=Decimal("-60.00"), refers=3), 1)
    pdf = _pdf("credit_note", record)
    _has(pdf, "AVOIR A-000001", "Sur la facture F-000003", "retour de marchandise", "50,00", "10,00",
         "60,00 EUR", "Montant de l'avoir : 60,00 EUR")
    # An order cancelled with its deposit refunded: at its deposit invoice's rates.
    order = msgspec.structs.replace(_made("order", 4, deposit=Decimal(100), delivery="take_away",
                                          payments=(Payment(payment=1, mode="card", amount=Decimal(100)),)),
                                    deposit_invoice=2)
    deposit_invoice = _chained(docs.deposit_invoice_record(order), 2)
    refund = _chained({"refers": "C-000002", "order": "O-000004", "customer": "C1", "amount": "-100.00",
                       "reason": "order cancelled"}, 2)
    pdf = _pdf("credit_note", refund, referred=deposit_invoice)
    _has(pdf, "AVOIR A-000002", "Sur la facture C-000002", "Commande O-000004", "commande annul",
         "Remboursement de l'acompte C-000002", "100,00 EUR", "20 %", "5,5 %")


def test_a_document_is_named_by_its_number_or_barcode():
    assert document_print.kind_of("DO000001") == ("order", 1)
    assert document_print.kind_of("q-000002") == ("quote", 2)
    assert document_print.kind_of("C-000003") == ("deposit_invoice", 3)
    assert document_print.kind_of("A-000004") == ("credit_note", 4)
    for bad in ("F-000001", "C-", "A-12x", "", "DX000001", "C-1234567890", "Q-" + "9" * 30, "O-000000",
                "C-000000", "C-１２", "x" * 10_000):
        assert document_print.kind_of(bad) is None, bad


def test_a_missing_file_is_rendered_again_and_kept(tmp_path):
    printed = document_print.printable("quote", _chained(docs.document_record(_made("quote", 5)), 5), **SHOP)
    first = read_or_write_document(printed, tmp_path)
    path = tmp_path / "documents" / "Q-000005.pdf"
    assert path.read_bytes() == first == render_document(printed)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    path.unlink()
    assert read_or_write_document(printed, tmp_path) == first and path.exists()
