"""X reports and Z closures as ESC/POS bytes: a pure rendering of
``rules.closures.Sheet``, in the receipts' style (hw/receipt.py): ESC @ first, code
page CP858, control characters in shop data replaced, money French style.

Layout (``width`` columns, 42 by default)::

           ÉPICERIE DU PORT           (bold, centred)
             Z JOURNALIER             (bold, double height, centred)
    Tous caisses        16/01/2026 08:00
    ------------------------------------------
    Période                        2026-01-15
    Tickets                                12
    Ventes                           245,60 €
    ...
    Grand total (GT)               8 245,60 €
    (feed and cut)
"""

from __future__ import annotations

from decimal import Decimal

from laneserver.hw.profiles import DEFAULT, Profile
from laneserver.hw.receipt import format_money, start_job
from laneserver.rules.closures import RULE, Sheet


def render_sheet(sheet: Sheet, *, width: int = 42, profile: Profile = DEFAULT) -> bytes:
    """Render an X or a Z as one print job.

    Raises:
        ValueError: ``width`` is under 24 columns.
    """
    if width < 24:
        raise ValueError(f"a closure needs at least 24 columns, got {width}")
    printer = start_job(profile)  # initialise, the profile's code page
    printer.set(align="center", bold=True)
    printer.textln(_plain(sheet.shop_name)[:width])
    printer.set(align="center", bold=True, double_height=True)
    printer.textln(sheet.title[:width])
    printer.set(align="left", bold=False, normal_textsize=True)
    where = "Toutes caisses" if sheet.lane is None else f"Caisse {_plain(sheet.lane)}"
    printer.textln(_columns(where, sheet.at.strftime("%d/%m/%Y %H:%M"), width))
    printer.textln("-" * width)
    for label, value in sheet.rows:
        if label == RULE:
            printer.textln("-" * width)
        elif value is None:
            printer.set(bold=True)
            printer.textln(_plain(label)[:width])
            printer.set(bold=False)
        else:
            printer.textln(_columns(_plain(label), _value(value), width))
    printer.textln("-" * width)
    printer.ln()
    printer.cut()
    return printer.output


def _value(value: Decimal | int | str) -> str:
    if isinstance(value, Decimal):
        return format_money(value)
    return _plain(str(value))


def _columns(left: str, right: str, width: int) -> str:
    room = max(width - len(right) - 1, 0)
    left = left[:room]
    return left + " " * (width - len(left) - len(right)) + right


def _plain(text: str) -> str:
    return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in text)
