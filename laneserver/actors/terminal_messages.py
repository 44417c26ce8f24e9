"""The message a payment terminal's device actor takes (actors/terminal.py handles it):
``Charge`` an amount, answered with a ``hw.terminal.TerminalResult``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec


class Charge(msgspec.Struct, frozen=True):
    """Take ``amount`` from a card (ask; the reply is a ``TerminalResult``).

    ``reference`` names the payment for the terminal's own journal (lane and
    payment number), never the customer. ``deadline`` is the trio clock time
    at which the asker stops waiting: the charge is bounded by it too.
    ``lost``: the reference of a charge of this amount an earlier run sent and never
    heard the end of (a card refund the lane had marked under way): the driver asks
    the terminal how it ended first (its ``recall``), and a charge it made is the
    answer, with no second one.
    """

    amount: Decimal
    reference: str
    deadline: float | None = None
    lost: str | None = None


TerminalCommand = Charge
