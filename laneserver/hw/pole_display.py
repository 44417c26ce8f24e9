"""Customer pole displays (2 × 20): a screen's bytes in each command set (pure).

Two command sets, as their public command lists give them (the CD5220 user's manual,
"CD5220 standard mode command list"; Epson's ESC/POS customer display commands, as
the DM-D series and the displays emulating it document them):

=================  =============================  ==================================
                   CD5220                          Epson ESC/POS (customer display)
=================  =============================  ==================================
on opening         ``ESC @`` (1B 40) initialise,   ``ESC @`` (1B 40) initialise,
                   ``CLR`` (0C) clear              ``CLR`` (0C) clear,
                                                   ``US MD1`` (1F 01) overwrite mode,
                                                   ``US C 0`` (1F 43 00) cursor off
each screen        ``ESC Q A`` (1B 51 41) + 20     ``ESC t 2`` (1B 74 02) PC850,
                   characters + ``CR`` (0D): the   ``US $ 1 1`` (1F 24 01 01) + 20
                   upper line; ``ESC Q B``         characters, ``US $ 1 2``
                   (1B 51 42) + 20 + ``CR``: the   (1F 24 01 02) + 20 characters
                   lower line
code page          PC437 (these displays' own      PC850 (``ESC t 2``), selected
                   character table: no command     with every screen, so a display
                   selects another)                switched off and on gets it back
=================  =============================  ==================================

Each line is always written whole (20 characters, padded), so nothing of an
earlier screen is left over; the text comes from rules/customer_display.py, already
in the code page's repertoire (``CODECS``), so encoding it cannot fail and never
yields a control byte.
"""

from __future__ import annotations

from laneserver.rules.customer_display import WIDTH, Screen

ESC, US, CR, CLR = b"\x1b", b"\x1f", b"\r", b"\x0c"

#: The Python codec of each protocol's code page.
CODECS = {"cd5220": "cp437", "epson": "cp850"}

_OPENING = {
    "cd5220": ESC + b"@" + CLR,
    "epson": ESC + b"@" + CLR + US + b"\x01" + US + b"C\x00",
}


def opening(protocol: str) -> bytes:
    """What is sent once when the port is opened (again): the display initialised and cleared.

    Raises:
        KeyError: an unknown protocol (the configuration allows ``cd5220`` and ``epson``).
    """
    return _OPENING[protocol]


def render(screen: Screen, protocol: str) -> bytes:
    """The bytes that show ``screen`` (two rows of ``WIDTH`` characters in ``CODECS[protocol]``).

    Raises:
        ValueError: a row that is not ``WIDTH`` characters (a bug upstream).
        UnicodeEncodeError: a character outside the code page (a bug upstream: rows
            come from ``rules.customer_display.screen``).
    """
    codec = CODECS[protocol]
    top, bottom = (_encoded(row, codec) for row in (screen.top, screen.bottom))
    if protocol == "cd5220":
        return ESC + b"QA" + top + CR + ESC + b"QB" + bottom + CR
    return ESC + b"t\x02" + US + b"$\x01\x01" + top + US + b"$\x01\x02" + bottom


def _encoded(row: str, codec: str) -> bytes:
    if len(row) != WIDTH:
        raise ValueError(f"a display row is {WIDTH} characters, not {len(row)}: {row!r}")
    data = row.encode(codec)
    if len(data) != WIDTH or any(byte < 0x20 or byte == 0x7F for byte in data):
        raise ValueError(f"a display row must be {WIDTH} printable cells: {row!r}")
    return data
