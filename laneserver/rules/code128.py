"""Code 128 in code set B, pure: the bars and spaces of a printable ASCII text, to draw
where no printer draws them (a document's A4 PDF, hw/document_pdf.py). The same
encoding as the PDA page's (clients/pda/barcode.js): one symbol table, start B, the
modulo-103 check symbol, stop.

A symbol is 11 modules wide (3 bars, 3 spaces, each 1 to 4 modules); the stop is 13
(its final bar of 2). A scanner needs a quiet zone of at least 10 modules each side:
``QUIET`` is what the drawing leaves.

Invariants (tests/rules/test_code128.py):
  - ``widths(text)`` starts and ends with a bar, alternates bar/space, and adds up to
    ``11 × (len(text) + 3) + 2`` modules;
  - every symbol's widths add up to 11 (the stop's to 13), with an even bar sum;
  - the check symbol is (104 + Σ position × value) mod 103.
"""

from __future__ import annotations

#: Bar/space widths of the 107 symbols (values 0–102, start A/B/C, stop), in modules.
PATTERNS: tuple[str, ...] = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212", "221213",
    "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221", "223211", "221132",
    "221231", "213212", "223112", "312131", "311222", "321122", "321221", "312212", "322112", "322211",
    "212123", "212321", "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121", "313121", "211331",
    "231131", "213113", "213311", "213131", "311123", "311321", "331121", "312113", "312311", "332111",
    "314111", "221411", "431111", "111224", "111422", "121124", "121421", "141122", "141221", "112214",
    "112412", "122114", "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311", "113141",
    "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
)
START_B = 104
STOP = 106
#: Modules of blank each side of the bars (a scanner needs at least 10).
QUIET = 10
#: The longest text encoded (a document's code is 8 or 9 characters; a line holds no more).
MAX_LENGTH = 40


def values(text: str) -> tuple[int, ...]:
    """The symbol values of ``text`` in code set B: start B, one per character, the
    check symbol, stop.

    Raises:
        ValueError: ``text`` is empty, too long, or has a character outside printable
            ASCII (32–126).
    """
    if not text or len(text) > MAX_LENGTH:
        raise ValueError(f"a Code 128 text is 1 to {MAX_LENGTH} characters, got {len(text)}")
    out = [START_B]
    for ch in text:
        code = ord(ch)
        if not 32 <= code <= 126:
            raise ValueError(f"not printable ASCII: {ch!r}")
        out.append(code - 32)
    out.append(check(out))
    out.append(STOP)
    return tuple(out)


def check(symbols: list[int] | tuple[int, ...]) -> int:
    """The check symbol of a start symbol followed by data symbols."""
    return (symbols[0] + sum(value * position for position, value in enumerate(symbols[1:], start=1))) % 103


def widths(text: str) -> tuple[int, ...]:
    """Alternating bar, space, bar… widths of ``text`` in modules (a bar first and last)."""
    return tuple(int(digit) for value in values(text) for digit in PATTERNS[value])


def modules(text: str) -> int:
    """The width of ``text``'s barcode in modules, quiet zones included."""
    return sum(widths(text)) + 2 * QUIET


def bars(text: str) -> tuple[tuple[int, int], ...]:
    """Each bar as (start, width) in modules from the left edge, quiet zone included."""
    out = []
    x = QUIET
    for index, width in enumerate(widths(text)):
        if index % 2 == 0:
            out.append((x, width))
        x += width
    return tuple(out)
