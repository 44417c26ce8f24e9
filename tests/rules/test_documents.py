"""Documents' pure rules (rules/documents.py): series and barcodes, a quote's validity,
an order's deposit (exactly the payments; its invoice's VAT), what a recalled order or
delivery notes leave to pay, and a document read back from its chain record."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneserver.rules import document_print
from laneserver.rules import documents as docs
from laneserver.rules.outcome import Refused
from laneserver.rules.ticket import Line, Payment, Ticket, totals

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
DAY = NOW.date()
RATES = [Decimal(20), Decimal(10), Decimal("5.5"), Decimal(0)]


def _line(n: int, price: str, qty: int = 1, rate: str = "20", article: str | None = "C1") -> Line:
    return Line(line=n, article=article, name=f"A{n}", qty=Decimal(qty), unit_price=Decimal(price),
                vat_rate=Decimal(rate))


def _ticket(*lines: Line, payments: tuple[Payment, ...] = (), customer: str | None = "C1") -> Ticket:
    return Ticket(seller="paul", customer=customer, lines=lines, payments=payments, next_line=len(lines) + 1,
                  next_payment=len(payments) + 1)


def _issue(ticket: Ticket, kind: str, **extra) -> docs.Document | Refused:
    return docs.issue(ticket, kind=kind, at=NOW, lane="1", seller="paul", stock_point="main", zone_day=DAY, **extra)


@given(st.sampled_from(["quote", "order", "delivery_note"]), st.integers(1, 999_999))
def test_a_barcode_names_one_document_and_no_catalog_code_reads_as_one(kind, number):
    code = docs.barcode(kind, number)
    assert docs.parse_barcode(code) == (kind, number)
    assert docs.parse_document(docs.name(kind, number)) == (kind, number)
    assert docs.parse_barcode(str(number).zfill(13)) is None  # an EAN-13


@pytest.mark.parametrize("raw", [
    "O-²", "L-³", "Q-¹", "O-00000²", "DQ00000¹", "DO٠٠٠٠٠١", "O-١", "Q-１２", "L-0000000001", "O-" + "9" * 5_000,
    "O-000000", "DO000000", "O-", "O--1", "O-+1", "O- 1", "O-1_0", "DQ0000001234",
])
def test_a_document_number_is_one_to_nine_ascii_digits_and_not_zero(raw):
    """``str.isdigit`` accepts "²" (which ``int`` refuses) and ``\\d`` other scripts' digits
    (which ``int`` reads): neither names a document, nor 0, nor more than 9 digits."""
    assert docs.parse_document(raw) is None
    assert document_print.kind_of(raw) is None and document_print.copy_target(raw) is None


def test_the_numbers_that_are_read():
    assert docs.parse_document(" o-1 ") == ("order", 1)
    assert docs.parse_document("L-999999999") == ("delivery_note", docs.MAX_NUMBER - 1)
    assert docs.parse_document("dq123456789") == ("quote", 123_456_789)
    assert document_print.copy_target("F-000007") == ("invoice", 7)
    assert [document_print.copy_target(raw) for raw in ("F-²", "C-³", "A-¹", "F-0")] == [None] * 4


def test_every_kind_has_its_own_series_and_chain():
    chains = [s.chain for s in docs.SERIES.values()]
    prefixes = [s.prefix for s in docs.SERIES.values()]
    assert len(set(chains)) == len(chains) and len(set(prefixes)) == len(prefixes)
    assert docs.name("deposit_invoice", 1) == "C-000001"
    assert docs.CHAINS == ("quote", "order", "delivery_note", "deposit_invoice", "credit_note", "document")


def test_a_quote_is_valid_for_months_shown_as_a_date():
    assert docs.valid_until(dt.date(2018, 5, 23), 3) == dt.date(2018, 8, 23)  # the manual's example
    assert docs.valid_until(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    quote = _issue(_ticket(_line(1, "30.00", 10)), "quote", valid_months=3)
    assert quote.valid_until == dt.date(2027, 2, 23) and quote.total == Decimal("300.00")
    assert _issue(_ticket(_line(1, "1.00")), "quote", valid_months=0).code == "bad_request"
    paid = _ticket(_line(1, "1.00"), payments=(Payment(payment=1, mode="cash", amount=Decimal("1.00")),))
    assert _issue(paid, "quote").code == "conflict"


def test_an_order_deposit_is_exactly_what_the_ticket_paid():
    card = (Payment(payment=1, mode="card", amount=Decimal("100.00")),)
    ticket = _ticket(_line(1, "30.00", 10), payments=card)
    order = _issue(ticket, "order", deposit=Decimal("100.00"), delivery="delivered", address="Vaux",
                   shipping=Decimal("15.00"))
    assert (order.total, order.deposit, docs.left_to_pay(order)) == (Decimal("315.00"), Decimal("100.00"),
                                                                     Decimal("215.00"))
    assert order.lines[-1].article is None and order.lines[-1].name == docs.SHIPPING_NAME
    assert [(p.mode, p.amount) for p in order.deposit_payments] == [("card", Decimal("100.00"))]
    assert _issue(ticket, "order", deposit=Decimal("90.00"), delivery="take_away").code == "conflict"
    assert _issue(ticket, "order", delivery="take_away").code == "conflict"  # paid, no deposit said
    assert _issue(ticket, "order", deposit=Decimal("100.00"), delivery="delivered").details == {"field": "address"}
    assert _issue(ticket, "order", deposit=Decimal("100.00"), delivery="by_air").code == "bad_request"
    assert _issue(ticket, "order", deposit=Decimal("100.00"), delivery="on_site",
                  due=DAY - dt.timedelta(days=1)).code == "bad_request"
    wallet = _ticket(_line(1, "30.00"), payments=(Payment(payment=1, mode="wallet", amount=Decimal("10.00")),))
    assert _issue(wallet, "order", deposit=Decimal("10.00"), delivery="on_site").code == "conflict"
    assert _issue(_ticket(_line(1, "30.00")), "order", deposit=Decimal("31.00"),
                  delivery="on_site").code == "bad_request"
    assert _issue(_ticket(_line(1, "30.00", -1)), "order", delivery="on_site").code == "conflict"


amounts = st.integers(1, 100_000).map(lambda c: Decimal(c) / 100)


@given(st.lists(st.tuples(amounts, st.sampled_from(RATES)), min_size=1, max_size=6), st.integers(0, 100))
def test_a_deposit_invoice_splits_the_deposit_over_the_rates_exactly(priced, percent):
    lines = tuple(_line(i, str(price), rate=str(rate)) for i, (price, rate) in enumerate(priced, start=1))
    total = sum((l.total for l in lines), Decimal(0))
    deposit = (total * percent / 100).quantize(Decimal("0.01"))
    parts = docs.deposit_vat(deposit, lines)
    if deposit == 0:
        assert parts == ()
        return
    assert sum((p.total for p in parts), Decimal(0)) == deposit
    for part in parts:
        assert part.vat == (part.total * part.rate / (100 + part.rate)).quantize(Decimal("0.01"), "ROUND_HALF_UP")


def test_a_recalled_order_leaves_its_total_less_the_deposit_to_pay():
    card = (Payment(payment=1, mode="card", amount=Decimal("100.00")),)
    order = _issue(_ticket(_line(1, "30.00", 10), payments=card), "order", deposit=Decimal("100.00"),
                   delivery="on_site", shipping=Decimal("15.00"))
    order = docs.Document(**{**{f: getattr(order, f) for f in order.__struct_fields__}, "number": 1,
                             "deposit_invoice": 1})
    ticket = docs.recalled_ticket(order, "marie")
    assert [l.line for l in ticket.lines] == [1, 2] and ticket.next_line == 3
    assert [(p.mode, p.amount, p.reference) for p in ticket.payments] == [("deposit", Decimal("100.00"), "C-000001")]
    assert totals(ticket).balance == Decimal("215.00")


def test_delivery_notes_take_no_payment_and_are_invoiced_together_per_customer():
    note = _issue(_ticket(_line(1, "30.00", 5)), "delivery_note")
    assert note.kind == "delivery_note" and note.total == Decimal("150.00")
    assert _issue(_ticket(_line(1, "30.00"), customer=None), "delivery_note").code == "conflict"
    one = docs.Document(**{**{f: getattr(note, f) for f in note.__struct_fields__}, "number": 1})
    two = docs.Document(**{**{f: getattr(note, f) for f in note.__struct_fields__}, "number": 2})
    ticket = docs.notes_ticket((one, two), "paul", business=True)
    assert totals(ticket).total == Decimal("300.00") and all(l.article is None for l in ticket.lines)
    assert [l.name for l in ticket.lines] == ["A1 (L-000001)", "A1 (L-000002)"]
    other = docs.Document(**{**{f: getattr(note, f) for f in note.__struct_fields__}, "number": 3,
                             "customer": "C2"})
    assert docs.notes_ticket((one, other), "paul", business=False).code == "conflict"


def test_a_document_reads_back_from_its_chain_record():
    card = (Payment(payment=1, mode="card", amount=Decimal("50.00")),)
    order = _issue(_ticket(_line(1, "30.00", 4), payments=card), "order", deposit=Decimal("50.00"),
                   delivery="delivered", address="Vaux", due=DAY + dt.timedelta(days=3))
    record = msgspec.json.decode(msgspec.json.Encoder(decimal_format="string").encode(docs.document_record(order)))
    back = docs.from_record("order", {**record, "at": NOW.isoformat()})
    assert back == order
    opened = docs.Opened(back)
    cancelled = docs.status_after(opened, docs.event_record(back, "cancelled", lane="1", seller="s",
                                                            deposit="keep"))
    assert (cancelled.status, cancelled.deposit_outcome) == ("cancelled", "keep")
    assert docs.cancel_refusal(cancelled, "keep").code == "conflict"
    assert docs.cancel_refusal(opened, None).details == {"field": "deposit"}
    assert docs.due_today(opened, DAY + dt.timedelta(days=3)) and not docs.due_today(opened, DAY)
