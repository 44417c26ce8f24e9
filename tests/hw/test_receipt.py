"""render_receipt is pure: synchronous tests on the bytes, no printer, no mocks.

Text is checked after decoding the job as CP858 (the code page the renderer
selects), so assertions read like the paper does.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import msgspec
import pytest

from laneserver.hw.receipt import format_money, render_drawer_kick, render_receipt
from laneserver.rules.receipt import Receipt, ReceiptLine, ReceiptPayment, VatRow

ESC_INIT = b"\x1b@"
SELECT_CP858 = b"\x1bt\x13"  # ESC t 19
BARCODE_CODE128 = b"\x1dkI"  # GS k 73: CODE128, function B
CUT = b"\x1dV"  # GS V (then 0: full cut)


def sample_receipt(**changes: object) -> Receipt:
    """Two lines at two VAT rates, 12,50 € paid 20,00 € cash, 7,50 € change."""
    receipt = Receipt(
        shop_name="Épicerie du Port",
        header=("12 quai des Pêcheurs", "17000 La Rochelle"),
        lane="1",
        number=123,
        seller="Hélène",
        at=dt.datetime(2026, 11, 23, 10, 42, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        lines=(
            ReceiptLine(
                name="Pain de campagne",
                qty=Decimal("2"),
                unit_price=Decimal("3.50"),
                total=Decimal("7.00"),
                vat_rate=Decimal("5.5"),
            ),
            ReceiptLine(
                name="Crème brûlée à l'orange",
                qty=Decimal("1"),
                unit_price=Decimal("6.11"),
                total=Decimal("5.50"),
                vat_rate=Decimal("20"),
                discount_percent=Decimal("10"),
            ),
        ),
        vat=(
            VatRow(rate=Decimal("5.5"), base=Decimal("6.64"), vat=Decimal("0.36"), total=Decimal("7.00")),
            VatRow(rate=Decimal("20"), base=Decimal("4.58"), vat=Decimal("0.92"), total=Decimal("5.50")),
        ),
        total=Decimal("12.50"),
        payments=(ReceiptPayment(mode="cash", amount=Decimal("20.00")),),
        change=Decimal("7.50"),
        footer=("Merci de votre visite !",),
    )
    return receipt if not changes else _replace(receipt, **changes)


def _replace(receipt: Receipt, **changes: object) -> Receipt:
    return msgspec.structs.replace(receipt, **changes)


def text_of(job: bytes) -> str:
    return job.decode("cp858")


def lines_of(job: bytes) -> list[str]:
    # Strip the few ESC/GS style commands that precede text on a line.
    return [re.sub(r"\x1b[!a-zE]\S?|\x1dh.|\x1dw.|\x1df.|\x1dH.", "", line) for line in text_of(job).split("\n")]


def test_job_starts_with_init_and_selects_cp858() -> None:
    job = render_receipt(sample_receipt())
    assert job.startswith(ESC_INIT)
    assert SELECT_CP858 in job


def test_contains_shop_header_and_identity() -> None:
    text = text_of(render_receipt(sample_receipt()))
    assert "Épicerie du Port" in text
    assert "12 quai des Pêcheurs" in text
    assert "17000 La Rochelle" in text
    assert "Caisse 1" in text
    assert "Vendeur : Hélène" in text
    assert "23/11/2026 10:42" in text  # the timestamp's own time zone
    assert "Ticket n° 123" in text


def test_each_line_with_quantity_price_and_discount() -> None:
    lines = lines_of(render_receipt(sample_receipt()))
    assert "Pain de campagne" in lines
    assert "Crème brûlée à l'orange" in lines
    assert any(re.fullmatch(r"  2 x 3,50 € +7,00 €", line) for line in lines)
    assert any(re.fullmatch(r"  1 x 6,11 € +5,50 €", line) for line in lines)
    assert "  Remise 10 %" in lines
    assert sum("Remise" in line for line in lines) == 1  # not for a line without discount


def test_total_payments_and_change() -> None:
    lines = lines_of(render_receipt(sample_receipt()))
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert re.fullmatch(r"TOTAL +12,50 €", total)
    assert len(total) == 42
    assert any(re.fullmatch(r"Espèces +20,00 €", line) for line in lines)
    assert any(re.fullmatch(r"Rendu +7,50 €", line) for line in lines)


def test_no_change_line_without_change() -> None:
    receipt = sample_receipt(
        payments=(ReceiptPayment(mode="card", amount=Decimal("12.50")),), change=Decimal("0.00")
    )
    text = text_of(render_receipt(receipt))
    assert "Carte bancaire" in text
    assert "Rendu" not in text


def test_payment_labels_in_french_and_unknown_modes_as_is() -> None:
    receipt = sample_receipt(
        payments=(
            ReceiptPayment(mode="cheque", amount=Decimal("5.00")),
            ReceiptPayment(mode="meal_voucher", amount=Decimal("7.50")),
            ReceiptPayment(mode="gift_card", amount=Decimal("1.00")),
        ),
        change=Decimal("0.00"),
    )
    text = text_of(render_receipt(receipt))
    assert "Chèque" in text
    assert "Titre-restaurant" in text
    assert "gift_card" in text


def test_vat_breakdown_table() -> None:
    lines = lines_of(render_receipt(sample_receipt()))
    assert any(re.fullmatch(r"Taux +HT +TVA +TTC", line) for line in lines)
    assert any(re.fullmatch(r"5,5 % +6,64 +0,36 +7,00", line) for line in lines)
    assert any(re.fullmatch(r"20 % +4,58 +0,92 +5,50", line) for line in lines)


def test_footer_barcode_then_cut() -> None:
    job = render_receipt(sample_receipt())
    assert "Merci de votre visite !" in text_of(job)
    barcode = BARCODE_CODE128 + bytes([8]) + b"{B000123"
    assert barcode in job
    assert CUT in job
    assert job.index(barcode) < job.rindex(CUT)
    assert job.endswith(CUT + b"\x00")  # full cut is the job's last command


def test_duplicata_and_print_counter_only_on_reprints() -> None:
    original = text_of(render_receipt(sample_receipt()))
    assert "DUPLICATA" not in original
    assert "Impression n°" not in original
    reprint = text_of(render_receipt(sample_receipt(duplicate=True, print_count=2)))
    assert "DUPLICATA" in reprint
    assert "Impression n° 2" in reprint


def test_accented_text_is_one_byte_per_letter_in_cp858() -> None:
    job = render_receipt(sample_receipt(lines=(), seller="Zoé", footer=("À bientôt, 20° à l'ombre",)))
    assert "é".encode("cp858") == b"\x82"
    assert b"Zo\x82" in job
    assert "À bientôt, 20° à l'ombre".encode("cp858") in job
    assert format_money(Decimal("1")).encode("cp858") == b"1,00 \xd5"  # € is 0xD5 in CP858


def test_characters_outside_cp858_never_raise() -> None:
    receipt = sample_receipt(shop_name="Bœuf & Cie’s 中")
    text = text_of(render_receipt(receipt))
    assert "Boeuf & Cie's ?" in text


def test_control_characters_cannot_inject_printer_commands() -> None:
    receipt = sample_receipt(seller="Eve\x1b@\x1dV\x00")
    job = render_receipt(receipt)
    assert b"Eve\x1b" not in job
    assert "Vendeur : Eve @ V " in text_of(job)


def test_money_is_french_and_rounded_half_up() -> None:
    assert format_money(Decimal("12.5")) == "12,50 €"
    assert format_money(Decimal("0.005")) == "0,01 €"
    assert format_money(Decimal("-3.2")) == "-3,20 €"


def test_long_names_wrap_to_width() -> None:
    name = "Confiture extra de fraises de Plougastel au sucre de canne"
    receipt = sample_receipt(lines=(ReceiptLine(name, Decimal(1), Decimal("4.20"), Decimal("4.20"), Decimal("5.5")),))
    lines = lines_of(render_receipt(receipt, width=32))
    assert "Confiture extra de fraises de" in lines
    assert "Plougastel au sucre de canne" in lines
    assert any(re.fullmatch(r"  1 x 4,20 € +4,20 €", line) and len(line) == 32 for line in lines)


def test_same_receipt_same_bytes() -> None:
    assert render_receipt(sample_receipt()) == render_receipt(sample_receipt())


def test_too_narrow_is_refused() -> None:
    with pytest.raises(ValueError, match="24 columns"):
        render_receipt(sample_receipt(), width=20)


def test_drawer_kick_is_esc_p_on_pin_2() -> None:
    assert render_drawer_kick() == b"\x1bp\x00\x32\x32"
