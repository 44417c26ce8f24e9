"""Payments the lane takes by itself: the modes, cash rounding, cheques in
instalments, meal vouchers. Pure: amounts in, a ``Payment`` or a ``Refusal`` out.

Invariants (checked by the property tests, tests/rules/test_payment.py):
  - cash rounding: when a cash payment settles the rest, what is due in cash is the
    balance rounded half up to the shop's step (``shop.cash_rounding``); the payment
    records the difference (``rounding`` = due in cash − balance, so
    ``|rounding| ≤ step / 2``) and ``total + rounding = paid − change`` exactly.
    A partial cash payment, and any other mode, never rounds;
  - instalments: ``split(amount, n)`` gives ``n`` amounts to the cent that add up to
    ``amount`` exactly and differ by at most one cent (the first ones take the extra
    cents); instalment ``k`` (from 0) is due ``k`` months after the sale, on the same
    day of the month or that month's last day (Jan 31 → Feb 28/29 → Mar 31);
  - meal vouchers pay only lines whose article is eligible, up to the shop's cap per
    ticket, never more than the balance, and never give change: what can still be
    paid by voucher is ``min(min(eligible, cap) − paid by vouchers, balance)``;
  - a mode that does not give change (all but cash and the shop modes configured
    with ``change = true``) never pays more than the balance;
  - refunds: on a ticket whose total is negative (returns) the balance is what the
    shop owes, and a payment is a refund, a negative amount (``None``: all of the
    balance) that never takes more out than is owed, in any mode but meal vouchers
    (cash rounds like a payment: ``due = balance`` rounded to the step). A refund
    needs a supervisor's approval (``approved_by``, recorded on the payment); a
    refund by ``voucher`` takes no reference: a new voucher is issued at finish.

The modes the server itself handles are the one table ``BUILTIN_MODES``; the shop adds
its own (``[[payment_modes]]``), and the lane's ``Policy`` holds both.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import Any, Literal

import msgspec

from laneserver.rules.money import CENT, ZERO, fmt_money, round_step
from laneserver.rules.ticket import CASH, Instalment, Payment, Ticket, totals

CARD = "card"
CHEQUE = "cheque"
MEAL_VOUCHER = "meal_voucher"
# Not a mode a client can pay with: the fiscal payment row that carries a sale's
# cash rounding (store/writes.py), so a sale's payment rows add up to total + change.
ROUNDING = "rounding"

MAX_INSTALMENTS = 12
#: The longest payment reference (a cheque's number, a meal voucher's, a voucher's code,
#: an authorisation): it is chained with the payment rows and printed on the receipt.
MAX_REFERENCE = 64

Excess = Literal["refuse", "forfeit"]


class Mode(msgspec.Struct, frozen=True):
    """A payment mode: ``change`` says whether it may exceed the balance (and give change)."""

    id: str
    label: str
    change: bool = False


#: The modes this server handles itself. A slice that adds a mode adds it here.
BUILTIN_MODES: tuple[Mode, ...] = (
    Mode(CASH, "Espèces", change=True),
    Mode(CARD, "Carte bancaire"),
    Mode(CHEQUE, "Chèque"),
    Mode(MEAL_VOUCHER, "Titre-restaurant"),
    # Drawn on a customer's money or a voucher: the lane holds it with the customers
    # actor first (actors/customers.py, rules/customers.py).
    Mode("credit", "Compte client"),
    Mode("wallet", "Porte-monnaie"),
    Mode("voucher", "Bon d'achat"),
)

#: Names a shop cannot give its own modes: the built-in modes of the protocol
#: (also those of other slices), the rounding row, a recalled order's deposit
#: (rules/documents.py) and an abandoned debt's row (rules/corrections.py): a shop
#: mode of those names would be booked as them.
RESERVED_MODES = frozenset({CASH, CARD, CHEQUE, MEAL_VOUCHER, "voucher", "credit", "wallet", ROUNDING,
                            "deposit", "debt"})


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """The shop's payment settings, as the lane applies them."""

    cash_step: Decimal = CENT
    meal_voucher_cap: Decimal = Decimal("19.00")
    modes: tuple[Mode, ...] = BUILTIN_MODES
    auto_finish: bool = False

    def mode(self, mode_id: str) -> Mode | None:
        return next((m for m in self.modes if m.id == mode_id), None)

    @property
    def mode_ids(self) -> list[str]:
        return [m.id for m in self.modes]


class Refusal(msgspec.Struct, frozen=True):
    code: str
    message: str
    details: dict[str, Any] = {}


# --- cash rounding ------------------------------------------------------------------

def cash_due(balance: Decimal, step: Decimal) -> Decimal:
    """What is due in cash to settle ``balance``: rounded half up to ``step``."""
    return round_step(balance, step)


# --- instalments --------------------------------------------------------------------

def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved ``months`` months on, clamped to the end of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def split(amount: Decimal, count: int) -> tuple[Decimal, ...]:
    """``amount`` in ``count`` parts to the cent, adding up exactly; the first parts
    take the cents left over (100.00 in 3 → 33.34, 33.33, 33.33)."""
    if count < 1:
        raise ValueError(f"at least one part, got {count}")
    cents = int(amount * 100)
    base, extra = divmod(cents, count)
    return tuple((Decimal(base + (1 if k < extra else 0)) * CENT).quantize(CENT) for k in range(count))


def schedule(amount: Decimal, count: int, start: dt.date) -> tuple[Instalment, ...]:
    """``count`` instalments of ``amount``, one month apart, the first due on ``start``."""
    return tuple(Instalment(add_months(start, k), part) for k, part in enumerate(split(amount, count)))


# --- meal vouchers ------------------------------------------------------------------

def meal_voucher_payable(ticket: Ticket, cap: Decimal) -> Decimal:
    """What meal vouchers can still pay on ``ticket`` (SPEC §12: 33.10 of which 10.70
    eligible, cap 19.00 → 10.70)."""
    eligible = sum((line.total for line in ticket.lines if line.meal_voucher), ZERO)
    used = sum((p.amount for p in ticket.payments if p.mode == MEAL_VOUCHER), ZERO)
    return max(min(min(eligible, cap) - used, totals(ticket).balance), ZERO)


# --- a payment ----------------------------------------------------------------------

def pay(
    ticket: Ticket,
    *,
    mode: str,
    amount: Decimal | None,
    reference: str | None,
    instalments: int | None,
    excess: Excess | None,
    policy: Policy,
    today: dt.date,
    approved_by: str | None = None,
) -> Payment | Refusal:
    """The payment ``mode`` adds to ``ticket`` (numbered ``ticket.next_payment``), or why not.

    ``amount`` None means the balance (in cash: the balance rounded to the step; by
    meal voucher: what vouchers can still pay). On a ticket whose balance is negative
    (returns) the payment is a refund (see ``refund``).
    """
    spec = policy.mode(mode)
    if spec is None:
        return Refusal("not_supported", f"payment mode {mode!r} is not available (this lane takes "
                       f"{', '.join(policy.mode_ids)})", {"modes": policy.mode_ids})
    if reference is not None and len(reference) > MAX_REFERENCE:
        return Refusal("bad_request", f"a payment's reference has at most {MAX_REFERENCE} characters, got "
                       f"{len(reference)}", {"field": "reference"})
    if not ticket.lines:
        return Refusal("conflict", "the open ticket has no lines to pay")
    balance = totals(ticket).balance
    if balance == 0:
        return Refusal("conflict", "the ticket is already paid: finish it")
    if instalments is not None:
        if mode != CHEQUE:
            return Refusal("bad_request", f"only cheques are paid in instalments, not {mode}")
        if not 1 <= instalments <= MAX_INSTALMENTS:
            return Refusal("bad_request", f"instalments must be 1 to {MAX_INSTALMENTS}, got {instalments}")
    if excess is not None and mode != MEAL_VOUCHER:
        return Refusal("bad_request", f"excess applies to meal vouchers only, not {mode}")
    number = ticket.next_payment
    if balance < 0:
        return refund(number, balance, mode=mode, amount=amount, reference=reference, instalments=instalments,
                      step=policy.cash_step, approved_by=approved_by)
    if mode == CASH:
        return _cash(number, balance, amount, reference, policy.cash_step)
    if mode == MEAL_VOUCHER:
        return _meal_voucher(number, ticket, amount, reference, excess or "refuse", policy.meal_voucher_cap)
    value = balance if amount is None else amount
    if value <= 0:
        return Refusal("bad_request", f"a payment must be positive, got {value}")
    if value > balance and not spec.change:
        return Refusal("bad_request", f"{mode} cannot pay more than the balance {balance}: it gives no change",
                       {"balance": str(balance)})
    plan = schedule(value, instalments, today) if instalments is not None and instalments > 1 else ()
    return Payment(payment=number, mode=mode, amount=value, reference=reference, instalments=plan)


def _cash(number: int, balance: Decimal, amount: Decimal | None, reference: str | None,
          step: Decimal) -> Payment | Refusal:
    due = cash_due(balance, step)
    value = due if amount is None else amount
    if value < 0 or (value == 0 and due != 0):
        return Refusal("bad_request", f"a payment must be positive, got {value}")
    if value >= due:  # settles the rest: rounded (a balance under half a step rounds to 0.00)
        return Payment(payment=number, mode=CASH, amount=value, reference=reference, rounding=due - balance)
    if value >= balance:  # covers the balance but not what is due in cash (rounded up)
        return Refusal("bad_request", f"the balance {balance} is {due} in cash: give at least {due}",
                       {"balance": str(balance), "payable": str(due)})
    return Payment(payment=number, mode=CASH, amount=value, reference=reference)


def _meal_voucher(number: int, ticket: Ticket, amount: Decimal | None, reference: str | None,
                  excess: Excess, cap: Decimal) -> Payment | Refusal:
    if reference is None or not reference.strip():
        return Refusal("bad_request", "a meal voucher needs its number as reference")
    payable = meal_voucher_payable(ticket, cap)
    if payable == 0:
        return Refusal("conflict", "nothing more on this ticket can be paid by meal voucher "
                       "(no eligible article left, or the cap is reached)", {"payable": fmt_money(payable)})
    face = payable if amount is None else amount
    if face <= 0:
        return Refusal("bad_request", f"a payment must be positive, got {face}")
    if face <= payable:
        return Payment(payment=number, mode=MEAL_VOUCHER, amount=face, reference=reference)
    if excess == "forfeit":
        return Payment(payment=number, mode=MEAL_VOUCHER, amount=payable, reference=reference, tendered=face)
    return Refusal("conflict", f"a meal voucher of {face} is more than the {payable} it can pay on this ticket "
                   "(meal vouchers give no change): take it with excess \"forfeit\" or use another",
                   {"payable": fmt_money(payable)})


def refund(number: int, balance: Decimal, *, mode: str, amount: Decimal | None, reference: str | None,
           instalments: int | None, step: Decimal, approved_by: str | None) -> Payment | Refusal:
    """A refund of (part of) a negative ``balance``: what the shop owes after returns.

    The amount is negative (None: the whole balance; in cash, the balance rounded to
    the step, the difference being the payment's ``rounding`` as for a payment) and
    never takes out more than is owed: a refund gives no change.
    """
    owed = fmt_money(-balance)
    if mode == MEAL_VOUCHER:
        return Refusal("bad_request", "meal vouchers are not refunded: refund in another mode")
    if instalments is not None:
        return Refusal("bad_request", "a refund is not paid in instalments")
    if mode == "voucher" and reference is not None:
        return Refusal("bad_request", "a refund by voucher issues a new voucher at finish: give no reference")
    due = cash_due(balance, step) if mode == CASH else balance
    value = due if amount is None else amount
    if value > 0 or (value == 0 and due != 0):
        return Refusal("bad_request", f"the shop owes {owed}: a refund is a negative amount, got {value}",
                       {"balance": str(balance)})
    if value < due:
        return Refusal("bad_request", f"a refund of {fmt_money(-value)} is more than the {fmt_money(-due)} owed"
                       f"{' in cash' if due != balance else ''}: a refund gives no change",
                       {"balance": str(balance), "payable": str(due)})
    if approved_by is None and value < 0:
        return Refusal("supervisor_required", f"a refund ({fmt_money(-value)}) needs a supervisor's PIN "
                       "(supervisor_pin)", {"balance": str(balance)})
    if mode == CASH:
        if value == due:  # settles the rest: rounded like a cash payment
            return Payment(payment=number, mode=CASH, amount=value, reference=reference, rounding=due - balance,
                           approved_by=approved_by)
        if value <= balance:  # covers the balance but is not what is due in cash
            return Refusal("bad_request", f"the balance {balance} is {due} in cash: refund {fmt_money(-due)}",
                           {"balance": str(balance), "payable": str(due)})
    return Payment(payment=number, mode=mode, amount=value, reference=reference, approved_by=approved_by)


def without_rounding(payments: tuple[Payment, ...]) -> tuple[Payment, ...]:
    """The payments with their cash rounding dropped (once one is removed, no payment
    settles the rest any more)."""
    return tuple(msgspec.structs.replace(p, rounding=ZERO) if p.rounding else p for p in payments)


# --- the fiscal rows of a sale's payments -------------------------------------------

def fiscal_rows(payments: tuple[Payment, ...], rounding: Decimal) -> tuple[tuple[str, Decimal, str | None], ...]:
    """(mode, amount, reference) per payment row chained at finish: one row per
    instalment (its reference says when it is due), a forfeited meal voucher's
    reference says its face value, and the cash rounding is a row of its own
    (``rounding``, the amount the shop forgoes: 0.02 when 10.02 was paid as 10.00).
    The rows add up to the sale's total + change."""
    rows: list[tuple[str, Decimal, str | None]] = []
    for p in payments:
        if p.instalments:
            n = len(p.instalments)
            for k, part in enumerate(p.instalments, start=1):
                note = f"instalment {k}/{n} due {part.due.isoformat()}"
                rows.append((p.mode, part.amount, f"{p.reference} {note}" if p.reference else note))
        elif p.tendered is not None:
            note = f"tendered {fmt_money(p.tendered)}, forfeited {fmt_money(p.forfeited)}"
            rows.append((p.mode, p.amount, f"{p.reference} {note}" if p.reference else note))
        else:
            rows.append((p.mode, p.amount, p.reference))
    if rounding != 0:
        rows.append((ROUNDING, -rounding, None))
    return tuple(rows)


def invoice_label(policy: Policy, payment: Payment) -> str:
    """A payment as an invoice names it: its mode's label (the mode's id for a mode the
    shop no longer has), a cheque with its reference."""
    mode = policy.mode(payment.mode)
    label = mode.label if mode is not None else payment.mode
    return f"{label} ({payment.reference})" if payment.reference and payment.mode == "cheque" else label
