"""Code 128 code set B (rules/code128.py): the same symbols as the PDA page's
(clients/pda/barcode.js), the check symbol, the widths, the quiet zone; hostile text
is refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from laneserver.rules import code128

JS = Path(__file__).parents[2] / "laneserver" / "clients" / "pda" / "barcode.js"


def test_the_table_is_the_pda_pages_and_every_symbol_is_well_formed():
    table = re.search(r"const PATTERNS = \[(.*?)\];", JS.read_text(), re.DOTALL)
    assert table is not None
    assert tuple(re.findall(r'"(\d+)"', table.group(1))) == code128.PATTERNS
    assert len(code128.PATTERNS) == 107 and len(set(code128.PATTERNS)) == 107
    for value, pattern in enumerate(code128.PATTERNS):
        widths = [int(d) for d in pattern]
        assert sum(widths) == (13 if value == code128.STOP else 11), value
        assert sum(widths[0::2]) % 2 == 0, value  # bars: an even number of modules
        assert all(1 <= w <= 4 for w in widths), value
    assert code128.PATTERNS[code128.START_B] == "211214"


def test_values_widths_and_the_check_symbol():
    # "PJJ123C": 104 + 48·1 + 42·2 + 42·3 + 17·4 + 18·5 + 19·6 + 35·7 = 879 ≡ 55 (mod 103).
    assert code128.values("PJJ123C") == (104, 48, 42, 42, 17, 18, 19, 35, 55, 106)
    for text in ("DQ000001", "C-000012", "F-123456", "DL000123456", "a b~"):
        widths = code128.widths(text)
        assert len(widths) % 2 == 1 and sum(widths) == 11 * (len(text) + 3) + 2
        assert code128.modules(text) == sum(widths) + 2 * code128.QUIET
        bars = code128.bars(text)
        assert bars[0][0] == code128.QUIET and len(bars) == (len(widths) + 1) // 2
        assert bars[-1][0] + bars[-1][1] == code128.modules(text) - code128.QUIET


@pytest.mark.parametrize("text", ["", "é", "\x00", "ab\ncd", "x" * (code128.MAX_LENGTH + 1)])
def test_what_code_set_b_cannot_say_is_refused(text):
    with pytest.raises(ValueError):
        code128.widths(text)
