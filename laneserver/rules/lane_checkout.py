"""The lane's verbs that settle a ticket: a payment added or removed (rules/payment.py
checks it), the ticket finished into a ``SaleCompleted`` (paid, or left due), and the
ticket's customer set (not while their accounts, coupons or wallet are in use). Pure:
dispatched by rules/lane.py ``apply``.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from laneserver.rules import payment as payments
from laneserver.rules.lane_state import (
    DRAWING_MODES,
    CustomerSet,
    Finish,
    LaneState,
    Pay,
    PaymentAdded,
    PaymentRemoved,
    RemovePayment,
    SaleCompleted,
    SetCustomer,
    fresh_ticket,
    refund_ended,
    with_ticket,
)
from laneserver.rules.money import ZERO
from laneserver.rules.outcome import Applied, Refused
from laneserver.rules.ticket import (
    Payment,
    Ticket,
    topup_total,
    totals,
    vat_breakdown,
)


def pay(state: LaneState, command: Pay, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    payment = payments.pay(
        ticket, mode=command.mode, amount=command.amount, reference=command.reference,
        instalments=command.instalments, excess=command.excess, policy=command.policy,
        today=command.today or now.date(),
        approved_by=command.approved_by,
    )
    if isinstance(payment, payments.Refusal):
        return Refused(payment.code, payment.message, payment.details)
    if (refusal := _topup_payment_refusal(ticket, payment)) is not None:
        return refusal
    new = msgspec.structs.replace(ticket, payments=ticket.payments + (payment,), next_payment=ticket.next_payment + 1)
    paid = with_ticket(state, new, PaymentAdded(payment))
    if not command.policy.auto_finish or totals(new).balance != 0:
        return paid
    finished = finish(paid.state, Finish(command.seller, invoice=command.invoice), now)
    if isinstance(finished, Refused):
        # Lines and a zero balance: only an invoice with no customer (or with a top-up
        # line) refuses, and then the payment that would finish the sale is refused too.
        assert command.invoice, finished
        return finished
    return Applied(finished.state, paid.events + finished.events)


def _topup_payment_refusal(ticket: Ticket, payment: Payment) -> Refused | None:
    """Money drawn on a customer pays goods only: never a top-up (nor refunds a cancel)."""
    if payment.mode not in DRAWING_MODES or not any(l.topup is not None for l in ticket.lines):
        return None
    goods = totals(ticket).total - topup_total(ticket.lines)
    drawn = sum((p.amount for p in ticket.payments if p.mode in DRAWING_MODES), ZERO) + payment.amount
    if abs(drawn) <= abs(goods) and drawn * goods >= 0:
        return None
    can = max(goods - (drawn - payment.amount), ZERO) if goods >= 0 else min(goods - (drawn - payment.amount), ZERO)
    return Refused("conflict", f"{payment.mode} pays the goods, not a wallet top-up: it can pay {can} on this "
                               "ticket (pay the top-up by cash, card, cheque…)", {"payable": str(can)})


def remove_payment(state: LaneState, command: RemovePayment) -> Applied | Refused:
    ticket = state.ticket
    if not any(p.payment == command.payment for p in ticket.payments):
        return Refused("not_found", f"no payment {command.payment} on the open ticket", {"payment": command.payment})
    if any(p.payment == command.payment and p.mode == "deposit" for p in ticket.payments):
        # A recalled order's deposit (rules/documents.py): money taken on the order, it stays with it.
        return Refused("conflict", "this is the order's deposit: it is deducted from the sale, not removed",
                       {"payment": command.payment})
    # What is left no longer settles the ticket: a cash rounding goes with the removal.
    kept = payments.without_rounding(tuple(p for p in ticket.payments if p.payment != command.payment))
    state = refund_ended(state, command.payment)  # its refund's mark goes with it
    return with_ticket(state, msgspec.structs.replace(ticket, payments=kept), PaymentRemoved(command.payment))


# Held tickets a lane keeps at once: a queue at a till is a handful; the bound keeps a
# hostile or broken client from growing the lane's state (journaled with every change).


def finish(state: LaneState, command: Finish, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if not ticket.lines:
        return Refused("conflict", "the open ticket has no lines")
    if command.invoice and ticket.customer is None:
        return Refused("conflict", "an invoice is made out to the ticket's customer: select one first")
    if command.invoice and any(l.topup is not None for l in ticket.lines):
        topup = next(l.line for l in ticket.lines if l.topup is not None)
        return Refused("conflict", f"line {topup} is a wallet top-up, which is not invoiced: finish it on a ticket "
                                   "of its own", {"line": topup})
    sums = totals(ticket)
    due = ZERO
    if command.unpaid and sums.balance < 0:
        return Refused("conflict", f"the shop owes {-sums.balance} (returns): refund it, a refund is never left "
                                   "unpaid", {"balance": str(sums.balance)})
    if command.unpaid and sums.balance != 0:
        if not command.deferred:
            return Refused("not_supported", "this shop does not take deferred payment (shop.deferred_payment)")
        if ticket.customer is None:
            return Refused("conflict", "a sale left unpaid needs a customer on the ticket: select one first")
        due = sums.balance
    elif sums.balance != 0:
        return Refused(
            "balance_not_zero",
            f"the balance is {sums.balance}: pay it before finishing",
            {"balance": str(sums.balance)},
        )
    sale = SaleCompleted(
        lane=state.lane,
        seller=ticket.seller or command.seller,
        customer=ticket.customer,
        at=now,
        lines=ticket.lines,
        vat=vat_breakdown(ticket.lines),
        total=sums.total,
        paid=sums.paid,
        change=sums.change,
        payments=ticket.payments,
        rounding=sums.rounding,
        due=due,
    )
    return with_ticket(state, fresh_ticket(), sale)


CUSTOMER_ACCOUNT_MODES = ("credit", "wallet")


def set_customer(state: LaneState, command: SetCustomer) -> Applied | Refused:
    ticket = state.ticket
    drawing = [p.payment for p in ticket.payments if p.mode in CUSTOMER_ACCOUNT_MODES]
    if drawing and command.customer != ticket.customer:
        return Refused("conflict", f"payment {drawing[0]} draws on the customer's account: remove it before "
                                   "changing the customer", {"payment": drawing[0]})
    coupons = [l.line for l in ticket.lines if l.coupon]
    if coupons and command.customer != ticket.customer:
        return Refused("conflict", f"line {coupons[0]} uses the customer's coupons: remove it before changing "
                                   "the customer", {"line": coupons[0]})
    topups = [l.line for l in ticket.lines if l.topup is not None]
    if topups and command.customer != ticket.customer:
        return Refused("conflict", f"line {topups[0]} tops up the customer's wallet: remove it before changing "
                                   "the customer", {"line": topups[0]})
    business = command.business and command.customer is not None
    return with_ticket(state, msgspec.structs.replace(ticket, customer=command.customer, business=business),
                        CustomerSet(command.customer))
