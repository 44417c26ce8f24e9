"""The lane's discount verb (``Discount`` → ``DiscountApplied``): percents per line, or
an amount spread over the lines to the cent (rules/discount.py does the arithmetic).
Pure: dispatched by rules/lane.py ``apply``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from laneserver.rules import discount as discounts
from laneserver.rules.lane_lines import find_line
from laneserver.rules.lane_state import (
    Discount,
    DiscountApplied,
    LaneState,
    LineDiscount,
    paid_refusal,
    with_ticket,
)
from laneserver.rules.money import HUNDRED, ZERO
from laneserver.rules.outcome import Applied, Refused


def discount(state: LaneState, command: Discount) -> Applied | Refused:
    """Percents per line: a percent compounds or replaces; an amount becomes the
    percent that takes exactly that amount off (spread over the lines, to the cent,
    in proportion to their totals when it is on the whole ticket)."""
    ticket = state.ticket
    if (command.percent is None) == (command.amount is None):
        return Refused("bad_request", "a discount needs either percent or amount, not both")
    if command.mode not in ("replace", "add"):
        return Refused("bad_request", f"discount mode must be replace or add, got {command.mode!r}")
    if command.percent is not None and not ZERO <= command.percent <= HUNDRED:
        return Refused("bad_request", f"a discount percent must be between 0 and 100, got {command.percent}")
    if command.amount is not None and command.amount <= 0:
        return Refused("bad_request", f"a discount amount must be positive, got {command.amount}")
    if command.reasons and command.reason not in command.reasons:
        return Refused("bad_request", f"a discount needs a reason among: {', '.join(command.reasons)}",
                       {"reasons": list(command.reasons)})
    if command.line is None:
        # A deposit is given back at its full price: a ticket discount leaves it out;
        # so are returned lines (a ticket discount is on what it sells).
        targets = tuple(l for l in ticket.lines if l.deposit_for is None and not l.returned and l.topup is None)
        if not targets:
            return Refused("conflict", "the open ticket has no lines to discount")
    else:
        found = find_line(ticket, command.line)
        if found is None:
            return Refused("not_found", f"no line {command.line} on the open ticket", {"line": command.line})
        if found.deposit_for is not None:
            return Refused("conflict", f"line {found.line} is a deposit: it is not discounted", {"line": found.line})
        if found.topup is not None:
            return Refused("conflict", f"line {found.line} is a top-up: it is not discounted", {"line": found.line})
        if found.returned and command.amount is not None:
            return Refused("bad_request", f"line {found.line} is returned: discount it by a percent (the one it "
                                          "was sold with)", {"line": found.line})
        targets = (found,)
    if (refusal := paid_refusal(ticket)) is not None:
        return refusal

    replace = command.mode == "replace"
    percents: dict[int, Decimal] = {}
    if command.percent is not None:
        for line in targets:
            percents[line.line] = discounts.combine(line.discount_percent, command.percent, command.mode)
    else:
        assert command.amount is not None
        # What the amount comes off: the undiscounted totals (replace) or the current ones (add).
        bases = [discounts.gross_total(l.unit_price, l.qty) if replace else l.total for l in targets]
        whole = sum(bases, ZERO)
        if command.amount > whole:
            what = f"line {command.line}" if command.line is not None else "the ticket"
            return Refused("bad_request", f"a discount of {command.amount} is more than {what}'s {whole}")
        for line, base, share in zip(targets, bases, discounts.spread(command.amount, bases)):
            if share == 0 and not replace:
                percents[line.line] = line.discount_percent
            else:
                percents[line.line] = discounts.percent_for_total(line.unit_price, line.qty, base - share)

    # A line left as it was (a supervisor approved it before) needs no new approval.
    before = {l.line: l.discount_percent for l in targets}
    over = [n for n, p in percents.items() if discounts.above_cap(p, command.cap) and p != before[n]]
    if over and command.approved_by is None:
        return Refused("supervisor_required",
                       f"a discount above {command.cap} % needs a supervisor's PIN (line {over[0]})",
                       {"line": over[0], "cap": str(command.cap)})
    lines = tuple(
        msgspec.structs.replace(l, discount_percent=percents[l.line]) if l.line in percents else l
        for l in ticket.lines
    )
    event = DiscountApplied(
        line=command.line, percent=command.percent, amount=command.amount, mode=command.mode,
        reason=command.reason, approved_by=command.approved_by,
        lines=tuple(LineDiscount(l.line, l.discount_percent, l.below_cost) for l in lines if l.line in percents),
    )
    return with_ticket(state, msgspec.structs.replace(ticket, lines=lines), event)


#: Payment modes that draw on the ticket's customer's accounts (rules/customers.py).
