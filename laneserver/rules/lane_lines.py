"""The lane's verbs on lines (rules/lane.py ``apply`` dispatches to them): add an
article's line (with its deposit line) or a top-up line, change a quantity or a price,
remove a line, mark a subtotal, cancel the open ticket. Pure: state in, ``Applied`` or
``Refused`` out.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from laneserver.rules import confirm
from laneserver.rules.lane_state import (
    TOPUP_NAME,
    AddLine,
    AddTopup,
    LaneState,
    LineAdded,
    LineRemoved,
    PriceChanged,
    QtyChanged,
    RemoveLine,
    SetPrice,
    SetQty,
    SubtotalMarked,
    TicketCancelled,
    fresh_ticket,
    paid_refusal,
    with_ticket,
)
from laneserver.rules.money import HUNDRED, ZERO
from laneserver.rules.outcome import Applied, Refused
from laneserver.rules.ticket import (
    MAX_LINES,
    Line,
    Ticket,
    totals,
)


def add_line(state: LaneState, command: AddLine, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if command.qty == 0:
        return Refused("bad_request", "quantity must not be zero (negative: a returned line)")
    if len(ticket.lines) >= MAX_LINES:
        return Refused("conflict", f"a ticket holds at most {MAX_LINES} lines")
    if (refusal := paid_refusal(ticket)) is not None:
        return refusal
    article = command.article
    if article.status != "active" and command.qty > 0:  # a customer may return what is no longer sold
        return Refused("conflict", f"article {article.id} ({article.name}) is {article.status}: it cannot be sold",
                       {"article": article.id})
    if command.qty < 0 and (topup := next((l for l in ticket.lines if l.topup is not None and l.qty > 0), None)):
        return _return_with_topup(topup.line)
    if command.coupon and (ticket.customer is None or not _whole(command.qty) or command.qty <= 0):
        return Refused("bad_request", "a coupon line needs the ticket's customer and a whole positive quantity")
    price = ZERO if command.coupon else article.price
    if command.merge and (same := _same_line(ticket, command)) is not None:
        qty = same.qty + command.qty
        if (refusal := confirm.check(command.limits, qty, same.unit_price, confirmed=command.confirmed,
                                     line=same.line)) is not None:
            return refusal
        lines = tuple(_with_qty(l, qty) if l is same else l for l in ticket.lines)
        return with_ticket(state, msgspec.structs.replace(ticket, lines=lines), QtyChanged(same.line, qty))
    if (refusal := confirm.check(command.limits, command.qty, price, confirmed=command.confirmed)) is not None:
        return refusal
    line = Line(
        line=ticket.next_line,
        article=article.id,
        name=article.name,
        qty=command.qty,
        unit_price=ZERO if command.coupon else article.price,
        vat_rate=article.vat_rate,
        meal_voucher=article.meal_voucher,
        coupon=command.coupon,
        coupon_left=command.coupon_left if command.coupon else None,
        cost=command.cost,
        source=command.source,
    )
    added = (line,)
    if command.deposit is not None:
        # The deposit line comes right after, same quantity (and sign: a return refunds it).
        if len(ticket.lines) + 2 > MAX_LINES:
            return Refused("conflict", f"a ticket holds at most {MAX_LINES} lines (this one comes with its deposit)")
        deposit = command.deposit
        added += (Line(line=line.line + 1, article=deposit.id, name=deposit.name, qty=command.qty,
                       unit_price=deposit.price, vat_rate=deposit.vat_rate, meal_voucher=deposit.meal_voucher,
                       deposit_for=line.line, source=command.source),)
    new = msgspec.structs.replace(
        ticket,
        seller=ticket.seller or command.seller,
        lines=ticket.lines + added,
        next_line=ticket.next_line + len(added),
        opened_at=ticket.opened_at or now,
    )
    return with_ticket(state, new, *(LineAdded(l, below_cost=l.below_cost) for l in added))


def add_topup(state: LaneState, command: AddTopup, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if command.amount <= 0:
        return Refused("bad_request", f"a top-up amount must be positive, got {command.amount}")
    if command.qty not in (1, -1):
        return Refused("bad_request", f"a top-up line's quantity is 1 (a top-up) or -1 (a cancel), got {command.qty}")
    if ticket.customer is None:
        return Refused("conflict", "a top-up goes to the ticket's customer: select one first")
    if len(ticket.lines) >= MAX_LINES:
        return Refused("conflict", f"a ticket holds at most {MAX_LINES} lines")
    if (refusal := paid_refusal(ticket)) is not None:
        return refusal
    if command.qty > 0 and (returned := next((l for l in ticket.lines if l.returned and l.topup is None), None)):
        return _return_with_topup(returned.line)
    line = Line(line=ticket.next_line, article=None, name=TOPUP_NAME, qty=command.qty, unit_price=command.amount,
                vat_rate=ZERO, topup=command.account)
    new = msgspec.structs.replace(
        ticket,
        seller=ticket.seller or command.seller,
        lines=ticket.lines + (line,),
        next_line=ticket.next_line + 1,
        opened_at=ticket.opened_at or now,
    )
    return with_ticket(state, new, LineAdded(line))


def _return_with_topup(line: int) -> Refused:
    """A return and a wallet top-up are not on one ticket: the returned goods would pay
    the top-up, a refund onto the wallet with no supervisor's approval (a refund by
    ``wallet`` needs one). A top-up is paid by money that comes in."""
    return Refused("conflict", f"line {line}: a returned article and a wallet top-up go on tickets of their own "
                               "(refund the return by wallet, with a supervisor's PIN, to put it on the wallet)",
                   {"line": line})


def _same_line(ticket: Ticket, command: AddLine) -> Line | None:
    """The line an added line merges into: the last one of the same article at the
    same price, sold (or returned) like it, with no discount, deposit, coupon or
    top-up; None when there is none or the new line brings a deposit or a coupon."""
    if command.deposit is not None or command.coupon:
        return None
    for line in reversed(ticket.lines):
        if (line.article == command.article.id and line.unit_price == command.article.price
                and line.discount_percent == 0 and line.deposit_for is None and not line.coupon
                and line.topup is None and (line.qty > 0) == (command.qty > 0)
                and not any(l.deposit_for == line.line for l in ticket.lines)):
            return line
    return None


def set_price(state: LaneState, command: SetPrice) -> Applied | Refused:
    ticket = state.ticket
    line = find_line(ticket, command.line)
    if line is None:
        return Refused("not_found", f"no line {command.line} on the open ticket", {"line": command.line})
    if command.price < 0:
        return Refused("bad_request", f"a unit price is not negative, got {command.price}", {"field": "price"})
    if (refusal := paid_refusal(ticket)) is not None:
        return refusal
    if (refusal := _deposit_refusal(line, "change the price of")) is not None:
        return refusal
    if line.topup is not None or line.coupon:
        return Refused("conflict", f"line {line.line} is a {'top-up' if line.topup else 'coupon'} line: its price "
                                   "is not changed", {"line": line.line})
    if command.price == line.unit_price:
        return Refused("bad_request", f"line {line.line} is already at {command.price}", {"line": line.line})
    if command.approved_by is None:
        # Measured from the catalog price: 100 → 91 → 83 with a 10 % cap is 17 % off, not twice 9 %.
        listed = line.unit_price if command.listed is None else command.listed
        change = abs(command.price - listed) * HUNDRED / listed if listed else HUNDRED
        if command.price != listed and change > command.cap:
            return Refused("supervisor_required",
                           f"changing line {line.line}'s price by more than {command.cap} % needs a supervisor",
                           {"line": line.line, "cap": str(command.cap)})
    new = msgspec.structs.replace(line, unit_price=command.price)
    lines = tuple(new if l is line else l for l in ticket.lines)
    return with_ticket(state, msgspec.structs.replace(ticket, lines=lines),
                        PriceChanged(line.line, line.article, line.unit_price, command.price, command.reason,
                                     command.approved_by))


def subtotal(state: LaneState) -> Applied | Refused:
    ticket = state.ticket
    if not ticket.lines:
        return Refused("conflict", "the ticket has no lines to make a subtotal of")
    last = ticket.lines[-1].line
    if ticket.subtotals and ticket.subtotals[-1] == last:
        return Refused("conflict", f"line {last} already has a subtotal under it", {"line": last})
    running = sum((l.total for l in ticket.lines), ZERO)
    return with_ticket(state, msgspec.structs.replace(ticket, subtotals=ticket.subtotals + (last,)),
                        SubtotalMarked(last, running))


def _whole(qty: Decimal) -> bool:
    return qty == qty.to_integral_value()


def _deposit_refusal(line: Line, what: str) -> Refused | None:
    """A deposit line follows its article's line: it is not changed on its own."""
    if line.deposit_for is None:
        return None
    return Refused("conflict", f"line {line.line} is the deposit of line {line.deposit_for}: {what} that line instead",
                   {"line": line.line})


def find_line(ticket: Ticket, number: int) -> Line | None:
    return next((line for line in ticket.lines if line.line == number), None)


def set_qty(state: LaneState, command: SetQty) -> Applied | Refused:
    ticket = state.ticket
    line = find_line(ticket, command.line)
    if line is None:
        return Refused("not_found", f"no line {command.line} on the open ticket", {"line": command.line})
    if command.qty == 0:
        return Refused("bad_request", "quantity must not be zero (use remove_line to delete)")
    if command.qty < 0 and not line.returned:
        return Refused("bad_request", f"line {line.line} is sold, not returned: its quantity stays positive "
                                      "(remove it and add the return)", {"line": line.line})
    # The line keeps its sign: a returned line's quantity stays negative.
    command = msgspec.structs.replace(command, qty=-abs(command.qty) if line.returned else command.qty)
    if (refusal := paid_refusal(ticket)) is not None:
        return refusal
    if (refusal := _deposit_refusal(line, "change the quantity of")) is not None:
        return refusal
    if line.topup is not None:
        return Refused("conflict", f"line {line.line} is a top-up: its quantity is not changed (remove it and add "
                                   "the amount wanted)", {"line": line.line})
    if line.coupon and not _whole(command.qty):
        return Refused("bad_request", f"line {line.line} uses coupons: its quantity is a whole number",
                       {"line": line.line})
    if abs(command.qty) > abs(line.qty) and (refusal := confirm.check(
            command.limits, command.qty, line.unit_price, confirmed=command.confirmed, line=line.line)) is not None:
        return refusal
    # The line and its deposit line, if it has one.
    changed = {l.line for l in ticket.lines if l.line == line.line or l.deposit_for == line.line}
    lines = tuple(_with_qty(l, command.qty) if l.line in changed else l for l in ticket.lines)
    return with_ticket(state, msgspec.structs.replace(ticket, lines=lines),
                        *(QtyChanged(n, command.qty) for n in sorted(changed)))


def _with_qty(line: Line, qty: Decimal) -> Line:
    if line.coupon and line.coupon_left is not None:
        # Each coupon more (or less) leaves one fewer (more) for the customer.
        return msgspec.structs.replace(line, qty=qty, coupon_left=line.coupon_left - int(qty - line.qty))
    return msgspec.structs.replace(line, qty=qty)


def remove_line(state: LaneState, command: RemoveLine) -> Applied | Refused:
    ticket = state.ticket
    found = find_line(ticket, command.line)
    if found is None:
        return Refused("not_found", f"no line {command.line} on the open ticket", {"line": command.line})
    if (refusal := paid_refusal(ticket)) is not None:
        return refusal
    if (refusal := _deposit_refusal(found, "remove")) is not None:
        return refusal
    # The line and its deposit line, if it has one.
    gone = [l.line for l in ticket.lines if l.line == command.line or l.deposit_for == command.line]
    lines = tuple(l for l in ticket.lines if l.line not in gone)
    return with_ticket(state, msgspec.structs.replace(ticket, lines=lines), *(LineRemoved(n) for n in gone))


def cancel(state: LaneState) -> Applied | Refused:
    ticket = state.ticket
    if ticket.is_empty:
        return Refused("conflict", "the open ticket is already empty")
    if ticket.payments:
        return Refused("conflict", "the ticket has payments: remove them before cancelling it")
    event = TicketCancelled(lines=len(ticket.lines), total=totals(ticket).total)
    return with_ticket(state, fresh_ticket(), event)
