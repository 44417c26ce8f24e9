"""receipt_text: the text of a receipt as the till shows it after the sale, made by the
very layout functions render_receipt prints with (pure, synchronous)."""

from __future__ import annotations

import pytest

from laneserver.hw.receipt import CODEPAGE, receipt_text, render_receipt
from tests.hw.test_receipt import sample_receipt


@pytest.mark.parametrize("layout", ["sale", "gift", "proof"])
def test_every_text_line_is_printed_in_the_same_order(layout):
    receipt = sample_receipt(layout=layout)
    text = receipt_text(receipt)
    job = render_receipt(receipt).decode(CODEPAGE, errors="replace")
    at = 0
    for line in text.splitlines():
        if not line.strip() or line.startswith("|| "):
            continue
        found = job.find(line, at)
        assert found >= 0, (line, job[at:at + 200])
        at = found + len(line)


def test_the_text_reads_like_the_paper():
    text = receipt_text(sample_receipt())
    lines = text.splitlines()
    assert lines[0] == "Épicerie du Port"
    assert "Ticket n° 123" in lines
    assert any(line.startswith("TOTAL") and line.endswith("12,50 €") for line in lines)
    assert any(line.startswith("Rendu") and line.endswith("7,50 €") for line in lines)
    assert "|| 000123 ||" in lines
    assert all(len(line) <= 42 for line in lines)
    assert text.endswith("\n")
    with pytest.raises(ValueError):
        receipt_text(sample_receipt(), width=20)
