"""Large lines asked twice: the shop's limits above which a quantity or a line total
needs the cashier's confirmation (``[shop] confirm_qty`` and ``confirm_line_total``).

A scanned ``99999*`` on a wine is a typing slip far more often than a sale: above the
limits ``scan``, ``add`` and ``set_qty`` are refused with ``confirm_required`` unless
the request says ``confirm: true`` (the till asks the cashier, then sends it again).
Pure: no I/O; the lane rules (rules/lane.py) call ``check`` with the line's unit price.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from laneserver.rules.money import BadValue, fmt_money, fmt_qty, parse_money, parse_qty
from laneserver.rules.outcome import Refused

CONFIRM_REQUIRED = "confirm_required"


class ConfirmLimits(msgspec.Struct, frozen=True):
    """``qty``: the largest quantity (either sign) added or set without a question;
    ``line_total``: the largest line total (either sign). None: no limit."""

    qty: Decimal | None = None
    line_total: Decimal | None = None


NO_LIMITS = ConfirmLimits()


def parse_limits(confirm_qty: str, confirm_line_total: str) -> ConfirmLimits:
    """The limits from the shop file's strings (``""``: no limit).

    Raises:
        BadValue: a limit that is not a positive quantity / amount.
    """
    qty = None
    if confirm_qty.strip():
        qty = parse_qty(confirm_qty.strip(), "shop.confirm_qty")
        if qty <= 0:
            raise BadValue(f"shop.confirm_qty: {confirm_qty!r} must be positive (\"\" for no limit)")
    total = None
    if confirm_line_total.strip():
        total = parse_money(confirm_line_total.strip(), "shop.confirm_line_total")
        if total <= 0:
            raise BadValue(f"shop.confirm_line_total: {confirm_line_total!r} must be positive (\"\" for no limit)")
    return ConfirmLimits(qty, total)


def check(limits: ConfirmLimits, qty: Decimal, unit_price: Decimal, *, confirmed: bool,
          line: int | None = None) -> Refused | None:
    """None when the line may go through; else ``confirm_required`` with the figures
    (``qty``, ``line_total`` and the limits crossed) the till shows in its question."""
    if confirmed:
        return None
    total = abs(qty * unit_price)
    over_qty = limits.qty is not None and abs(qty) > limits.qty
    over_total = limits.line_total is not None and total > limits.line_total
    if not (over_qty or over_total):
        return None
    details: dict[str, object] = {"qty": fmt_qty(qty), "line_total": fmt_money(total)}
    if over_qty:
        details["confirm_qty"] = fmt_qty(limits.qty)
    if over_total:
        details["confirm_line_total"] = fmt_money(limits.line_total)
    if line is not None:
        details["line"] = line
    what = f"{fmt_qty(qty)} × {fmt_money(unit_price)} = {fmt_money(total)}"
    return Refused(CONFIRM_REQUIRED, f"{what} is above the shop's limit without confirmation: "
                                     "send it again with confirm: true", details)
