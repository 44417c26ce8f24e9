"""The customer display's screens (rules/customer_display.py) and their bytes in both
command sets (hw/pole_display.py), checked byte for byte against the commands the
CD5220 and Epson ESC/POS customer-display command lists give:

- CD5220: ``ESC @`` 1B 40 initialise, ``CLR`` 0C clear; ``ESC Q A`` 1B 51 41 + 20
  characters + ``CR`` 0D writes the upper line, ``ESC Q B`` 1B 51 42 … 0D the lower;
- Epson: ``ESC @``, ``CLR``, ``US MD1`` 1F 01 overwrite mode, ``US C 0`` 1F 43 00 cursor
  off; ``ESC t 2`` 1B 74 02 selects PC850; ``US $ x y`` 1F 24 x y moves the cursor
  (column 1..20, row 1..2).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.hw.pole_display import CODECS, opening, render
from laneserver.rules.customer_display import (
    WIDTH,
    Sale,
    Screen,
    Shown,
    fold,
    screen,
    shown_after,
)
from laneserver.rules.ticket import Line, Payment, Ticket

SHOP = "Épicerie du Port"


def line(n: int, name: str, price: str, qty: str = "1") -> Line:
    return Line(line=n, article=f"A{n}", name=name, qty=D(qty), unit_price=D(price), vat_rate=D("5.5"))


def cash(n: int, amount: str) -> Payment:
    return Payment(payment=n, mode="cash", amount=D(amount))


def ticket(*lines: Line, payments: tuple[Payment, ...] = ()) -> Ticket:
    return Ticket(lines=lines, payments=payments, opened_at=dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC))


def rows(shown: Shown, protocol: str = "cd5220", locale: str = "fr") -> tuple[str, str]:
    s = screen(shown, shop_name=SHOP, codec=CODECS[protocol], locale=locale)
    return s.top, s.bottom


# --- bytes of each command set ----------------------------------------------------------

def test_opening_bytes_of_each_protocol():
    assert opening("cd5220") == b"\x1b\x40\x0c"
    assert opening("epson") == b"\x1b\x40\x0c\x1f\x01\x1f\x43\x00"


def test_greeting_bytes_cd5220_and_epson():
    greeting = screen(Shown(), shop_name=SHOP, codec="cp437")
    assert greeting == Screen("  Épicerie du Port  ", "     Bienvenue      ")
    top = b"  \x90picerie du Port  "  # É is 0x90 in PC437
    assert render(greeting, "cd5220") == (b"\x1b\x51\x41" + top + b"\x0d"
                                          + b"\x1b\x51\x42" + b"     Bienvenue      " + b"\x0d")
    greeting = screen(Shown(), shop_name=SHOP, codec="cp850")
    assert render(greeting, "epson") == (b"\x1b\x74\x02" + b"\x1f\x24\x01\x01" + top
                                         + b"\x1f\x24\x01\x02" + b"     Bienvenue      ")


def test_last_line_and_running_total_with_accents_in_each_code_page():
    shown = Shown(ticket=ticket(line(1, "Pain", "1.20"), line(2, "Crème brûlée", "3.10", "2")))
    top, bottom = rows(shown)
    assert (top, bottom) == ("2 x Crème brûlé 6,20", "TOTAL           7,40")  # cut before the amount
    data = render(Screen(top, bottom), "cd5220")
    assert data == b"\x1b\x51\x412 x Cr\x8ame br\x96l\x82 6,20\x0d\x1b\x51\x42TOTAL           7,40\x0d"
    top, bottom = rows(shown, "epson")
    assert render(Screen(top, bottom), "epson") == (b"\x1b\x74\x02\x1f\x24\x01\x012 x Cr\x8ame br\x96l\x82 6,20"
                                                    b"\x1f\x24\x01\x02TOTAL           7,40")


def test_amount_due_and_change_and_the_words_of_each_code_page():
    due = Shown(ticket=ticket(line(1, "Vin", "12.50"), payments=(cash(1, "10.00"),)))
    assert rows(due, "cd5220") == ("TOTAL          12,50", "A PAYER         2,50")  # no À in PC437
    assert rows(due, "epson") == ("TOTAL          12,50", "À PAYER         2,50")
    assert render(Screen(*rows(due, "epson")), "epson").endswith(b"\x1f\x24\x01\x02\xb7 PAYER         2,50")
    change = Shown(ticket=ticket(line(1, "Vin", "12.50"), payments=(cash(1, "20.00"),)))
    assert rows(change) == ("TOTAL          12,50", "RENDU           7,50")
    assert rows(due, locale="en") == ("TOTAL          12.50", "DUE             2.50")


def test_a_finished_sale_shows_its_change_until_the_next_line():
    shown = shown_after(Shown(), ticket(), Sale(total=D("12.50"), change=D("7.50")))
    assert rows(shown) == ("TOTAL          12,50", "RENDU           7,50")
    assert rows(shown_after(shown, ticket(), None)) == rows(shown)  # the lane restarts: still there
    assert rows(shown_after(shown, ticket(line(1, "Pain", "1.20")), None)) == ("Pain            1,20",
                                                                               "TOTAL           1,20")
    exact = shown_after(Shown(), ticket(), Sale(total=D("3.00"), change=D(0)))
    assert rows(exact) == ("TOTAL           3,00", "       Merci        ")


def test_closed_and_cancelled():
    assert rows(Shown(open=False)) == ("  Épicerie du Port  ", "   Caisse fermée    ")
    assert render(Screen(*rows(Shown(open=False))), "cd5220").endswith(b"   Caisse ferm\x82e    \x0d")
    assert rows(Shown(ticket=ticket())) == ("  Épicerie du Port  ", "     Bienvenue      ")


def test_long_names_are_cut_cleanly_and_amounts_stay_whole():
    long = Shown(ticket=ticket(line(1, "Côtes du Rhône Villages rouge 2019", "1234.56")))
    top, bottom = rows(long)
    assert top == "Côtes du Rhô 1234,56" and bottom == "TOTAL        1234,56"
    huge = Shown(ticket=ticket(line(1, "X", "123456789012345678.00")))
    assert rows(huge)[0] == "*" * WIDTH  # wider than the row: never a misleading cut amount
    returned = Shown(ticket=ticket(line(1, "Bouteille", "0.20", "-3")))
    assert rows(returned) == ("-3 x Bouteille -0,60", "TOTAL          -0,60")


def test_fold_maps_to_the_code_page_and_never_lets_a_control_through():
    assert fold("Œuf “bio” – 1€", "cp437") == 'OEuf "bio" - 1E'
    assert fold("ÀÊÎÔÛ àêîôû", "cp437") == "AEIOU àêîôû"
    assert fold("ÀÊÎÔÛ", "cp850") == "ÀÊÎÔÛ"
    assert fold("e\u0301", "cp437") == "é"  # composed first
    assert fold("a\x1bQA\rb\x00", "cp437") == "a QA b "  # ESC and CR cannot send a command
    assert fold("寿司🍣", "cp850") == "???"


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=60), price=st.decimals(min_value=-10**6, max_value=10**6, places=2),
       qty=st.sampled_from(["1", "2", "0.456", "-1"]), paid=st.booleans(),
       protocol=st.sampled_from(["cd5220", "epson"]), locale=st.sampled_from(["fr", "en"]))
def test_any_ticket_gives_two_rows_of_twenty_printable_cells(name, price, qty, paid, protocol, locale):
    payments = (cash(1, "5.00"),) if paid else ()
    for shown in (Shown(ticket=ticket(line(1, name, str(price), qty), payments=payments)),
                  Shown(ticket=ticket(), open=False)):
        s = screen(shown, shop_name=name, codec=CODECS[protocol], locale=locale)
        data = render(s, protocol)  # raises on a row that is not 20 printable cells
        assert len(s.top) == len(s.bottom) == WIDTH
        assert len(data) == (2 * (3 + WIDTH + 1) if protocol == "cd5220" else 3 + 2 * (4 + WIDTH))


def test_render_refuses_a_row_that_is_not_twenty_cells():
    with pytest.raises(ValueError):
        render(Screen("short", " " * WIDTH), "cd5220")
    with pytest.raises(ValueError):
        render(Screen("\x1b" * WIDTH, " " * WIDTH), "epson")
