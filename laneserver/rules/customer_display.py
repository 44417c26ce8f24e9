"""What a lane's customer display (a 2 × 20 pole display) shows, as text (pure).

The display actor (actors/display.py) keeps what the lane last told it (``Shown``)
and asks ``screen`` for the two rows; hw/pole_display.py turns them into the bytes
of the display's command set.

Screens, in order of precedence:

  - **closed**: the shop's name and "Caisse fermée" — no seller signed in on the
    lane's tills, the lane out of service, or the server stopping;
  - **sale done**: the sale's total and the change given ("Merci" with no change),
    until the next ticket change that is not the new, empty ticket;
  - **greeting**: the shop's name and "Bienvenue" — an empty open ticket;
  - **change due**: the total and the change, once the payments exceed the total;
  - **amount due**: the total and what is left to pay, once a payment is made;
  - **last line**: the last line of the ticket (its quantity when not 1, its name,
    its total) and the ticket's running total.

Invariants (tests/rules/test_customer_display.py):
  - each row is exactly ``WIDTH`` characters, every one of them in the display's
    code page (``codec``): one character, one cell, so a row is cut between two
    characters, never inside one;
  - an amount is right-aligned and never cut: the label on its left is cut to
    leave one space before it (an amount wider than the row shows ``*``s);
  - nothing of a name reaches the display as a control character (a name with
    ESC or CR in it cannot send a command): those become spaces.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import msgspec

from laneserver.rules.money import fmt_money, fmt_qty
from laneserver.rules.ticket import Ticket, totals

WIDTH = 20


class Words(msgspec.Struct, frozen=True):
    welcome: str
    total: str
    due: str
    change: str
    thanks: str
    closed: str
    decimal: str


WORDS = {
    "fr": Words(welcome="Bienvenue", total="TOTAL", due="À PAYER", change="RENDU", thanks="Merci",
                closed="Caisse fermée", decimal=","),
    "en": Words(welcome="Welcome", total="TOTAL", due="DUE", change="CHANGE", thanks="Thank you",
                closed="Closed", decimal="."),
}


class Sale(msgspec.Struct, frozen=True):
    """A sale just finished: its total and the change given."""

    total: Decimal
    change: Decimal


class Shown(msgspec.Struct, frozen=True):
    """What the display knows: the lane's open ticket (None: not told yet), the sale
    just finished (until the next change), and whether the lane is open."""

    ticket: Ticket | None = None
    sale: Sale | None = None
    open: bool = True


class Screen(msgspec.Struct, frozen=True):
    top: str
    bottom: str


def shown_after(shown: Shown, ticket: Ticket, sale: Sale | None) -> Shown:
    """``shown`` once the lane says its open ticket is now ``ticket`` (``sale``: the
    change finished one). A sale stays on screen while the ticket stays empty (the new
    ticket a finish opens, or the lane's start)."""
    if sale is None and shown.sale is not None and not ticket.lines and not ticket.payments:
        sale = shown.sale
    return msgspec.structs.replace(shown, ticket=ticket, sale=sale)


def screen(shown: Shown, *, shop_name: str, codec: str, locale: str = "fr") -> Screen:
    """The two rows for ``shown`` (see the module's docstring), in ``codec``'s repertoire."""
    words = WORDS.get(locale, WORDS["fr"])

    def money(value: Decimal) -> str:
        return fmt_money(value).replace(".", words.decimal)

    def row(left: str, right: str = "") -> str:
        return _row(fold(left, codec), fold(right, codec))

    def centred(text: str) -> str:
        return fold(text, codec)[:WIDTH].center(WIDTH)

    if not shown.open:
        return Screen(centred(shop_name), centred(words.closed))
    ticket = shown.ticket
    if shown.sale is not None:
        sale = shown.sale
        bottom = row(words.change, money(sale.change)) if sale.change else centred(words.thanks)
        return Screen(row(words.total, money(sale.total)), bottom)
    if ticket is None or (not ticket.lines and not ticket.payments):
        return Screen(centred(shop_name), centred(words.welcome))
    sums = totals(ticket)
    if ticket.payments:
        if sums.change:
            return Screen(row(words.total, money(sums.total)), row(words.change, money(sums.change)))
        return Screen(row(words.total, money(sums.total)), row(words.due, money(sums.balance)))
    line = ticket.lines[-1]
    name = line.name if line.qty == 1 else f"{fmt_qty(line.qty).replace('.', words.decimal)} x {line.name}"
    return Screen(row(name, money(line.total)), row(words.total, money(sums.total)))


def _row(left: str, right: str) -> str:
    """``left`` cut to leave one space before ``right``, which ends the row."""
    if not right:
        return left[:WIDTH].ljust(WIDTH)
    if len(right) > WIDTH:
        return "*" * WIDTH
    room = WIDTH - len(right) - 1
    left = left[:room].rstrip() if room > 0 else ""
    return left.ljust(WIDTH - len(right)) + right


# Characters no code page of these displays has, as their nearest plain text.
_PLAIN = {
    "œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "€": "E", "’": "'", "‘": "'", "‚": ",",
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "–": "-", "—": "-", "…": "...", "\u00a0": " ",
    "\u202f": " ", "•": "*", "×": "x",
}


def fold(text: str, codec: str) -> str:
    """``text`` in ``codec``'s repertoire, one cell per character.

    Composed first (NFC: an ``e`` and its combining accent become one ``é``); a
    character the code page has is kept; a control character (ESC, CR, a line
    separator…) becomes a space; a few typographic ones become plain text (``œ`` →
    ``oe``, ``’`` → ``'``); an accented letter the code page lacks loses its accent
    (``Ê`` → ``E`` in PC437); anything else (another script, an emoji) becomes ``?``.
    """
    out: list[str] = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(" " if category in ("Cc", "Zl", "Zp") else "")
        elif unicodedata.combining(char):
            continue  # a mark with nothing to sit on
        elif _encodes(char, codec):
            out.append(char)
        elif char in _PLAIN:
            out.append(_PLAIN[char])
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            out.append(base if base and all(_encodes(c, codec) and c.isprintable() for c in base) else "?")
    return "".join(out)


def _encodes(char: str, codec: str) -> bool:
    try:
        encoded = char.encode(codec)
    except UnicodeEncodeError:
        return False
    return len(encoded) == 1 and char.isprintable()
