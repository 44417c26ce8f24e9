"""The payment part of a printed receipt: cash rounding, cheque instalments, a
forfeited meal voucher, a shop mode's label. Pure rendering, no printer."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from laneserver.hw.receipt import render_receipt
from laneserver.rules.receipt import ReceiptInstalment, ReceiptPayment
from tests.hw.test_receipt import lines_of, sample_receipt

D = Decimal


def test_rounding_line_only_when_not_zero() -> None:
    assert not any(line.startswith("Arrondi") for line in lines_of(render_receipt(sample_receipt())))
    receipt = sample_receipt(total=D("12.52"), rounding=D("-0.02"))
    lines = lines_of(render_receipt(receipt))
    assert any(re.fullmatch(r"Arrondi +-0,02 €", line) for line in lines)
    up = lines_of(render_receipt(sample_receipt(rounding=D("0.02"))))
    assert any(re.fullmatch(r"Arrondi +0,02 €", line) for line in up)


def test_cheque_instalments_are_listed_with_their_dates() -> None:
    cheque = ReceiptPayment(mode="cheque", amount=D("300.00"), instalments=(
        ReceiptInstalment(dt.date(2026, 1, 31), D("100.00")),
        ReceiptInstalment(dt.date(2026, 2, 28), D("100.00")),
        ReceiptInstalment(dt.date(2026, 3, 31), D("100.00")),
    ))
    lines = lines_of(render_receipt(sample_receipt(payments=(cheque,), change=D("0.00"))))
    assert any(re.fullmatch(r"Chèque +300,00 €", line) for line in lines)
    assert any(re.fullmatch(r"  1/3 le 31/01/2026 +100,00 €", line) for line in lines)
    assert any(re.fullmatch(r"  2/3 le 28/02/2026 +100,00 €", line) for line in lines)
    assert any(re.fullmatch(r"  3/3 le 31/03/2026 +100,00 €", line) for line in lines)


def test_forfeited_meal_voucher_shows_its_face_value_and_what_is_not_given_back() -> None:
    voucher = ReceiptPayment(mode="meal_voucher", amount=D("10.70"), tendered=D("15.00"))
    lines = lines_of(render_receipt(sample_receipt(payments=(voucher,), change=D("0.00"))))
    assert any(re.fullmatch(r"Titre-restaurant +10,70 €", line) for line in lines)
    assert any(re.fullmatch(r"  Valeur 15,00 €, non rendu +4,30 €", line) for line in lines)


def test_a_shop_mode_prints_its_configured_label() -> None:
    own = ReceiptPayment(mode="bon_mall", amount=D("12.50"), label="Bon centre commercial")
    lines = lines_of(render_receipt(sample_receipt(payments=(own,), change=D("0.00"))))
    assert any(re.fullmatch(r"Bon centre commercial +12,50 €", line) for line in lines)


def test_narrow_paper_keeps_every_payment_line_within_the_width() -> None:
    voucher = ReceiptPayment(mode="meal_voucher", amount=D("10.70"), tendered=D("15.00"))
    cheque = ReceiptPayment(mode="cheque", amount=D("1.80"), instalments=(
        ReceiptInstalment(dt.date(2026, 1, 31), D("0.60")),) * 3)
    job = render_receipt(sample_receipt(payments=(voucher, cheque), rounding=D("-0.02")), width=32)
    assert all(len(line) <= 32 for line in lines_of(job) if "€" in line)
