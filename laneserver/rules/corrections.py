"""Till money after the sale: corrections, cancels and deferred payment. Pure.

After a sale is finished nothing of it is ever edited: every change is a new row in
the payments chain (store/fiscal.py), of a ``type``:

  PAI  a payment (at finish, or later against a sale left unpaid)
  MAJ  a payment as corrected (its mode or amount), ``refers`` to the one it replaces
  ANL  a payment cancelled: minus its amount, ``refers`` to it
  AVO  a credit note; COR a balance correction (types of the fiscal vocabulary that
       other slices write: a refund, a correction of a customer's balance)
  ABD  an abandoned debt: what was left due, forgone by the shop (mode ``debt``)

A row some later ANL or MAJ refers to reads as ``ANNUL`` (derived, never stored). A
payment corrected is an ANL of the original and a MAJ with the new mode or amount;
a sale cancelled is a counter-entry (a negative sale that ``cancels`` it) whose rows
are one ANL for each row of the original still standing.

Invariants (tests/rules/test_corrections.py):
  - every row counts: a sale's rows add up to ``total + change − due`` where ``due``
    is what is left to pay (0 for a sale paid at finish, the debt of one finished
    unpaid, less its later payments; an abandoned debt settles it);
  - a correction never changes what the sale's rows add up to by more than the
    amount corrected, never leaves more paid than due, and never leaves a debt on a
    sale with no customer;
  - a cancel's rows add up to minus the original's: the counter-entry and the
    original together add up to nothing, and a cancelled sale owes nothing;
  - a sale is cancelled once, a row is superseded once.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from laneserver.rules.money import CENT, ZERO, round_step
from laneserver.rules.outcome import Refused
from laneserver.rules.ticket import Line

PAI, MAJ, ANL, AVO, COR, ABD = "PAI", "MAJ", "ANL", "AVO", "COR", "ABD"
TYPES = (PAI, MAJ, ANL, AVO, COR, ABD)
ANNUL = "ANNUL"
DEBT = "debt"  # the mode of an ABD row: no money moves
CASH = "cash"
ROUNDING = "rounding"
# Modes drawn on a customer's money or a voucher: correcting them would move that money
# too, so such a payment is put right by cancelling the sale.
CUSTOMER_MODES = ("credit", "wallet", "voucher")
# A recalled order's deposit (rules/documents.py DEPOSIT_MODE): money taken with the
# order (its deposit invoice, its drawer then), not at the sale: never corrected.
DEPOSIT = "deposit"
MEAL_VOUCHER = "meal_voucher"  # never refunded (rules/payment.py ``refund``)
MAX_REASON = 200


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """One stored row of the payments chain."""

    number: int
    type: str
    mode: str
    amount: Decimal
    reference: str | None = None
    refers: int | None = None
    at: str = ""


class SaleMoney(msgspec.Struct, frozen=True, kw_only=True):
    """A sale as the corrections see it: its sums and its payment rows."""

    number: int
    at: str
    lane: str
    seller: str
    customer: str | None
    total: Decimal
    paid: Decimal
    change: Decimal
    rows: tuple[Row, ...] = ()
    cancels: int | None = None  # a counter-entry: the sale it cancels
    cancelled_by: int | None = None  # the counter-entry that cancelled it
    topup: Decimal = Decimal(0)  # what its wallet top-up lines credited
    topup_cancelled: bool = False  # given back since (wallet_topup_cancel with this sale)
    lines: tuple[Line, ...] = ()  # its lines as sold (the till's sales screen shows them)

    @property
    def settled(self) -> Decimal:
        return sum((r.amount for r in self.rows), ZERO)

    @property
    def due(self) -> Decimal:
        """What is left to pay (a cancelled sale, or a counter-entry, owes nothing)."""
        if self.cancelled_by is not None or self.cancels is not None:
            return ZERO
        return self.total + self.change - self.settled


class NewRow(msgspec.Struct, frozen=True, kw_only=True):
    """A row to write (store.ops.PaymentRow, without the store's dependency)."""

    type: str
    mode: str
    amount: Decimal
    reference: str | None = None
    refers: int | None = None


def statuses(rows: tuple[Row, ...]) -> dict[int, str]:
    """Each row's status: ``ANNUL`` once a later ANL or MAJ refers to it, else its type."""
    superseded = {r.refers for r in rows if r.type in (ANL, MAJ) and r.refers is not None}
    return {r.number: ANNUL if r.number in superseded else r.type for r in rows}


def standing(sale: SaleMoney, superseded: set[int] = frozenset()) -> tuple[Row, ...]:
    """The rows a cancel reverses: every row not superseded, ANL rows aside (each
    cancels out with the row it refers to, which is superseded)."""
    return tuple(r for r in sale.rows if r.type != ANL and r.number not in superseded)


def check_reason(reason: str) -> str | Refused:
    text = reason.strip()
    if not text:
        return Refused("bad_request", "a reason is required")
    if len(text) > MAX_REASON:
        return Refused("bad_request", f"a reason has at most {MAX_REASON} characters")
    return text


def _open(sale: SaleMoney) -> Refused | None:
    if sale.cancels is not None:
        return Refused("conflict", f"sale {sale.number} is the counter-entry of sale {sale.cancels}: "
                                   "it cannot be changed")
    if sale.cancelled_by is not None:
        return Refused("conflict", f"sale {sale.number} was cancelled by sale {sale.cancelled_by}")
    return None


def correct(sale: SaleMoney, payment: int, *, mode: str | None, amount: Decimal | None,
            modes: tuple[str, ...], change_modes: tuple[str, ...] = (CASH,)) -> tuple[NewRow, ...] | Refused:
    """Correct payment row ``payment`` of ``sale`` (its mode, its amount or both):
    an ANL of it and a MAJ with the new values.

    A refund (an ``AVO`` row, or a ``MAJ`` that corrected one: a negative amount) is
    corrected the same way, the checks mirrored: its amount stays negative, never
    refunds more than the sale owed, never leaves the shop owing (a refund is settled
    when it is made: nothing pays the rest out later), and not in meal vouchers (never
    refunded). ``modes``: the payment modes of the shop; ``change_modes`` those that give
    change (cash, and the shop's own with ``change = true``): a row of one of them on a
    sale that gave change keeps its mode (the change came of it; a card gives none).
    """
    if (refusal := _open(sale)) is not None:
        return refusal
    row = next((r for r in sale.rows if r.number == payment), None)
    if row is None:
        return Refused("not_found", f"sale {sale.number} has no payment {payment}", {"payment": payment})
    status = statuses(sale.rows)[row.number]
    if status == ANNUL:
        return Refused("conflict", f"payment {payment} was already corrected or cancelled", {"payment": payment})
    if row.type not in (PAI, MAJ, AVO) or row.mode in (ROUNDING, DEBT):
        return Refused("conflict", f"payment {payment} is a {row.type} {row.mode} row: only a payment can be "
                                   "corrected", {"payment": payment})
    if mode is None and amount is None:
        return Refused("bad_request", "say what to correct: mode, amount or both")
    new_mode = row.mode if mode is None else mode
    new_amount = row.amount if amount is None else amount
    if new_mode not in modes or new_mode == ROUNDING:
        return Refused("not_supported", f"payment mode {new_mode!r} is not available", {"modes": list(modes)})
    if row.mode == DEPOSIT:
        return Refused("conflict", f"payment {payment} is the order's deposit, taken with the order (its deposit "
                                   "invoice): it is not corrected; cancel the sale", {"payment": payment})
    if row.mode in CUSTOMER_MODES or new_mode in CUSTOMER_MODES:
        return Refused("conflict", "a payment drawn on a customer's account or a voucher is not corrected: "
                                   "cancel the sale", {"payment": payment})
    if row.amount < 0:
        return _correct_refund(sale, row, new_mode, new_amount)
    if new_amount <= 0:
        return Refused("bad_request", f"a payment must be positive, got {new_amount}")
    if new_mode == row.mode and new_amount == row.amount:
        return Refused("bad_request", f"payment {payment} already is {row.mode} {row.amount}: nothing to correct")
    if row.mode in change_modes and sale.change > 0 and new_mode != row.mode:
        what = "cash" if row.mode == CASH else f"{row.mode} payment"
        return Refused("conflict", f"the {what} of payment {payment} gave {sale.change} change: it cannot become "
                                   f"{new_mode} (cancel the sale and ring it again)", {"payment": payment})
    due_after = sale.due - (new_amount - row.amount)
    if due_after < 0:
        return Refused("bad_request", f"{new_amount} would pay {-due_after} more than the sale's total",
                       {"balance": str(sale.due)})
    if due_after > 0 and sale.customer is None:
        return Refused("conflict", f"{new_amount} would leave {due_after} due on a sale with no customer",
                       {"balance": str(due_after)})
    return (NewRow(type=ANL, mode=row.mode, amount=-row.amount, reference=row.reference, refers=row.number),
            NewRow(type=MAJ, mode=new_mode, amount=new_amount, reference=row.reference, refers=row.number))


def _correct_refund(sale: SaleMoney, row: Row, new_mode: str, new_amount: Decimal) -> tuple[NewRow, ...] | Refused:
    """``correct`` of a refund row (negative): the checks of a payment, mirrored."""
    payment = row.number
    if new_amount >= 0:
        return Refused("bad_request", f"payment {payment} is a refund: its amount is negative, got {new_amount}")
    if new_mode == row.mode and new_amount == row.amount:
        return Refused("bad_request", f"payment {payment} already is {row.mode} {row.amount}: nothing to correct")
    if new_mode == MEAL_VOUCHER:
        return Refused("bad_request", "meal vouchers are not refunded: correct the refund to another mode")
    due_after = sale.due - (new_amount - row.amount)
    if due_after > 0:
        return Refused("bad_request", f"{new_amount} would refund {due_after} more than the sale owed",
                       {"balance": str(sale.due)})
    if due_after < 0:
        return Refused("conflict", f"{new_amount} would leave {-due_after} owed to the customer: a refund is "
                                   "settled when it is made", {"balance": str(due_after)})
    return (NewRow(type=ANL, mode=row.mode, amount=-row.amount, reference=row.reference, refers=row.number),
            NewRow(type=MAJ, mode=new_mode, amount=new_amount, reference=row.reference, refers=row.number))


def cancel(sale: SaleMoney) -> tuple[NewRow, ...] | Refused:
    """The rows of the counter-entry of ``sale``: one ANL per row still standing."""
    if (refusal := _open(sale)) is not None:
        return refusal
    superseded = {n for n, s in statuses(sale.rows).items() if s == ANNUL}
    return tuple(NewRow(type=ANL, mode=r.mode, amount=-r.amount, reference=r.reference, refers=r.number)
                 for r in standing(sale, superseded))


def given_back(rows: tuple[NewRow, ...], change: Decimal) -> dict[str, Decimal]:
    """What a cancel gives back, by mode (positive: out of the till or back on an account):
    the money rows reversed, less the change the sale gave (cash). The rounding and an
    abandoned debt are no money."""
    back: dict[str, Decimal] = {}
    for r in rows:
        if r.mode in (ROUNDING, DEBT):
            continue
        back[r.mode] = back.get(r.mode, ZERO) - r.amount
    if change:
        back[CASH] = back.get(CASH, ZERO) - change
    return {mode: amount for mode, amount in back.items() if amount != 0}


def paid_by_mode(sale: SaleMoney) -> dict[str, Decimal]:
    """What each mode brought in on ``sale``, net: its rows summed (a row corrected or
    annulled counts no more), the change given back taken off cash (always given in
    cash, also for a shop mode with ``change = true``). The rounding and an abandoned
    debt are no money."""
    paid: dict[str, Decimal] = {}
    for r in sale.rows:
        if r.mode not in (ROUNDING, DEBT):
            paid[r.mode] = paid.get(r.mode, ZERO) + r.amount
    if sale.change:
        paid[CASH] = paid.get(CASH, ZERO) - sale.change
    return paid


def topup_give_back(sale: SaleMoney, mode: str | None, not_money: tuple[str, ...]) -> str | Refused:
    """The mode in which the top-up lines of ``sale`` (``sale.topup``) are given back: the
    way the money came in, so one of the modes that paid the sale (``not_money``: those
    that never pay a top-up, a customer's own money), ``mode`` when it paid several, and
    never more than that mode brought in (``paid_by_mode``): a top-up paid 99.99 by card
    and 0.01 in cash does not come back as 100.00 in cash."""
    paid = {m: amount for m, amount in paid_by_mode(sale).items() if amount > 0 and m not in not_money}
    modes = sorted(paid)
    if mode is not None and mode not in paid:
        return Refused("conflict", f"sale {sale.number} was paid by {', '.join(modes) or 'no money'}: its top-up is "
                                   "given back one of those ways", {"field": "mode", "modes": modes})
    if mode is None and len(modes) != 1:
        return Refused("bad_request", f"sale {sale.number} was paid by {', '.join(modes)}: say which gives the "
                                      "top-up back (mode)", {"field": "mode", "modes": modes})
    chosen = mode or modes[0]
    if paid[chosen] < sale.topup:
        able = [m for m in modes if paid[m] >= sale.topup]
        way = (f"give it back by {' or '.join(able)}" if able else
               "no mode alone paid it: give it back on a ticket (topup_line qty -1) or cancel the sale")
        return Refused("conflict", f"{chosen} paid {paid[chosen]} of sale {sale.number}: it gives back at most "
                                   f"{paid[chosen]}, not its top-up of {sale.topup}; {way}",
                       {"field": "mode", "modes": able, "payable": str(paid[chosen])})
    return chosen


def pay_later(sale: SaleMoney, *, mode: str, amount: Decimal | None, modes: tuple[str, ...],
              step: Decimal = CENT) -> tuple[NewRow, ...] | Refused:
    """A payment against what a sale finished unpaid still owes (``amount`` None: all of
    it): its PAI row. In cash it rounds as a payment at the till does (rules/payment.py):
    what is due in cash is ``due`` rounded half up to the shop's ``step``; a cash payment
    of exactly that settles the sale, with a ``rounding`` row of the difference (so the
    rows still add up to total + change); a debt paid later gives no change, so more
    cash than that is refused, as is less that covers the debt but not its rounded-up
    cash amount; less than both is a part, not rounded."""
    if (refusal := _open(sale)) is not None:
        return refusal
    due = sale.due
    if due <= 0:
        return Refused("conflict", f"sale {sale.number} owes nothing", {"balance": str(due)})
    if mode not in modes or mode == ROUNDING:
        return Refused("not_supported", f"payment mode {mode!r} is not available", {"modes": list(modes)})
    if mode in CUSTOMER_MODES:
        return Refused("not_supported", f"a debt is not paid by {mode}: take the money in another mode",
                       {"modes": [m for m in modes if m not in CUSTOMER_MODES]})
    if mode == CASH:
        return _cash_later(sale, due, amount, step)
    value = due if amount is None else amount
    if value <= 0:
        return Refused("bad_request", f"a payment must be positive, got {value}")
    if value > due:
        return Refused("bad_request", f"{value} is more than the {due} sale {sale.number} owes",
                       {"balance": str(due)})
    return (NewRow(type=PAI, mode=mode, amount=value),)


def _cash_later(sale: SaleMoney, due: Decimal, amount: Decimal | None, step: Decimal) -> tuple[NewRow, ...] | Refused:
    in_cash = round_step(due, step)
    value = in_cash if amount is None else amount
    if value < 0 or (value == 0 and in_cash != 0):
        return Refused("bad_request", f"a payment must be positive, got {value}")
    details = {"balance": str(due), "payable": str(in_cash)}
    if value == in_cash:  # settles the debt: rounded (a debt under half a step rounds to 0.00)
        paid = (NewRow(type=PAI, mode=CASH, amount=value),) if value else ()
        return paid + ((NewRow(type=PAI, mode=ROUNDING, amount=due - value),) if value != due else ())
    if value > in_cash:
        owed = f" ({due} rounded to {step})" if in_cash != due else ""
        return Refused("bad_request", f"{value} is more than the {in_cash} sale {sale.number} owes in cash{owed}: "
                                      "a debt paid later gives no change", details)
    if value >= due:  # covers the debt but not what is due in cash (rounded up)
        return Refused("bad_request", f"the {due} sale {sale.number} owes is {in_cash} in cash: give {in_cash}",
                       details)
    return (NewRow(type=PAI, mode=CASH, amount=value),)


def abandon(sale: SaleMoney) -> NewRow | Refused:
    """The shop forgoes what a sale still owes: an ABD row of that amount."""
    if (refusal := _open(sale)) is not None:
        return refusal
    due = sale.due
    if due <= 0:
        return Refused("conflict", f"sale {sale.number} owes nothing", {"balance": str(due)})
    return NewRow(type=ABD, mode=DEBT, amount=due)
