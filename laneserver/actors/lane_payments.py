"""Payments made outside the ticket: the part of a lane that charges its card terminal
and holds a customer's credit, wallet or voucher before a payment line is applied.

Not an actor of its own: the lane actor owns it and awaits it from its loop
(actors/lane.py ``_do``), so a lane's payment and its change stay one request. It
only prepares: given the lane's state and a ``Pay``, it returns the ``Pay`` to apply
— with the amount charged and the terminal's authorisation, or the amount and the
voucher the customers actor held — and the payment held for it (let go if the change
is not made: ``rules/lane_plan.py`` ``not_made``), or the refusal. The lane applies it
as any other change.

It also gives back, on the terminal, a card payment the terminal took when the cashier
removes it (``taken_on_terminal``, ``reverse``): the lane removes the line only once the
terminal approved the refund, so money the bank holds never leaves the ticket unseen.

A payment the rule refuses (nothing to pay, more than the balance) asks nothing of
the terminal or the customers actor: the payment rule is tried first, and such a
payment is handed back unchanged for the lane to refuse the usual way.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from laneserver.actors.customers_messages import AskHold, FindCustomer, Release, ReportHolds
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.actors.terminal import ABORT_SECONDS
from laneserver.actors.terminal_messages import Charge
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.hw.terminal import TerminalResult
from laneserver.rules import customers as customer_rules
from laneserver.rules import lane as rules
from laneserver.rules.money import fmt_money
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.ticket import Payment, totals

if TYPE_CHECKING:  # psycopg is imported only with [head_office] (server/run.py)
    from laneserver.actors.hq_holds import HqHolds


@dataclass(frozen=True, slots=True)
class Charged:
    """A card the terminal charged for a payment: logged loudly if the lane then fails
    to record it (the money was taken)."""

    reference: str
    authorisation: str | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Prepared:
    """The ``Pay`` to apply, what was held for it and the card charged for it."""

    command: rules.Pay
    holding: int | None = None
    charged: Charged | None = None


async def find_customer(customers: Address | None, find: FindCustomer) -> customer_rules.Customer | Refused | None:
    """The customer (None: no such customer) as the customers actor has them."""
    if customers is None:
        return refused(Code.NOT_SUPPORTED, "this lane has no customer directory")
    try:
        return await customers.ask(find)
    except ActorFailed:
        return refused(Code.UNAVAILABLE, "the customer directory did not answer; try again")


def filtered(refusal: Refused) -> Refused:
    """A rule's (or the customers actor's) refusal with the details a cashier is told."""
    known = {"balance", "line", "payment", "held", "article", "cap", "reasons", "payable", "modes",
             "available", "short", "reference", "ticket_not_empty", "index", "field",
             "qty", "line_total", "confirm_qty", "confirm_line_total"}
    details = {k: v for k, v in refusal.details.items() if k in known}
    return refusal if details == refusal.details else Refused(refusal.code, refusal.message, details)


class LanePayments:
    def __init__(self, lane: str, *, config: Config, clock: Clock, terminal: Address | None,
                 customers: Address | None, log: Any, hq_holds: HqHolds | None = None) -> None:
        self.lane = lane
        self.config = config
        self.clock = clock
        self.terminal = terminal  # the lane's payment terminal actor (card), if it has one
        self.customers = customers  # the shop's customers actor: credit, wallet and vouchers
        # Head office's holds on credit and wallet, chain-wide (actors/hq_holds.py; [head_office]).
        self.hq_holds = hq_holds
        self.log = log
        # Card payments the terminal gave back whose removal the journal then refused
        # (``card_refunded_not_recorded``): still on the ticket, the money with the
        # customer. Removed again without the terminal; no sale finishes meanwhile
        # (``given_back``). In memory: a restart forgets them (docs/operations.md).
        self.refunded: set[Payment] = set()
        # Card payments whose refund the terminal has not said the end of (``unknown``:
        # the credit may have been made): no sale finishes with them either until a
        # removal settles it (the driver asks the terminal how the lost one ended first).
        self.unsure: set[Payment] = set()
        # Refunds marked under way in the journal when the lane started (``Refunding``:
        # the server stopped before their end was saved), by payment number: the
        # reference they were sent as. Their payments are ``unsure``; the next removal
        # asks the terminal how that refund ended first (``Charge.lost``).
        self.lost: dict[int, str] = {}

    def handles(self, state: rules.LaneState, command: Any) -> bool:
        """Whether ``command`` is a payment this part prepares."""
        if not isinstance(command, rules.Pay):
            return False
        return self._on_terminal(state, command) or command.mode in customer_rules.CUSTOMER_MODES

    def charges_card(self, state: rules.LaneState, command: Any) -> bool:
        """Whether ``command`` is a card payment charged on the lane's terminal."""
        return isinstance(command, rules.Pay) and self._on_terminal(state, command)

    async def prepare(self, state: rules.LaneState, command: rules.Pay) -> Prepared | Refused:
        if self._on_terminal(state, command):
            return await self._charge_card(state, command)
        return await self._from_customer(state, command)

    def _on_terminal(self, state: rules.LaneState, command: rules.Pay) -> bool:
        if self.terminal is None or command.mode != "card":
            return False
        if not totals(state.ticket).balance < 0:
            return True
        # A card refund: a Caisse-AP terminal is asked for it (action 1, credit); on
        # others it is made by the cashier on the terminal and recorded as they confirm
        # it (like a standalone terminal's payment): the lane charges no card.
        terminal = self.config.terminal_of(self.lane)
        return terminal is not None and terminal.kind == "caisse-ap"

    def taken_on_terminal(self, state: rules.LaneState, command: Any) -> Payment | None:
        """The payment a ``RemovePayment`` would drop when the lane's terminal took it — a
        ``card`` payment charged on it (or a card refund a Caisse-AP terminal credited, see
        ``_on_terminal``) — else None: a payment the cashier confirmed (a standalone
        terminal, a card refund made by hand on the terminal) is removed as it is."""
        if not isinstance(command, rules.RemovePayment) or self.terminal is None:
            return None
        payment = next((p for p in state.ticket.payments if p.payment == command.payment), None)
        if payment is None or payment.mode != "card" or payment in self.refunded:
            return None  # (given back already: removed as it is, not refunded twice)
        if payment.amount > 0:
            return payment
        terminal = self.config.terminal_of(self.lane)
        return payment if terminal is not None and terminal.kind == "caisse-ap" else None

    def given_back(self, state: rules.LaneState) -> Refused | None:
        """Why no payment and no finish can be made on the ticket: a card payment on it
        the terminal gave back, whose removal was not recorded (``refunded``), or whose
        refund it has not said the end of (``unsure``) — finishing would record money the
        customer has (may have) back. None when there is none."""
        on_ticket = set(state.ticket.payments)
        self.refunded &= on_ticket
        self.unsure &= on_ticket
        if self.unsure and not self.refunded:
            payment = min(self.unsure, key=lambda p: p.payment)
            return refused(Code.CONFLICT, f"the terminal has not said whether it gave back card payment "
                                          f"{payment.payment} ({fmt_money(payment.amount)}): remove it again (the "
                                          "terminal is asked how the refund ended first) before paying or finishing",
                           payment=payment.payment)
        if not self.refunded:
            return None
        payment = min(self.refunded, key=lambda p: p.payment)
        return refused(Code.CONFLICT, f"card payment {payment.payment} ({fmt_money(payment.amount)}) was given back on "
                                      "the terminal but is still on the ticket (its removal could not be saved): "
                                      "remove it again (the terminal is not asked again) before paying or finishing",
                       payment=payment.payment)

    def recovered(self, state: rules.LaneState) -> None:
        """At start: the card refunds the journal has marked under way (``Refunding``)
        whose payment is still on the ticket — the terminal may have given the money back
        — are ``unsure``: no sale finishes, and their next removal asks the terminal how
        they ended first (``lost``)."""
        for mark in state.refunding:
            payment = next((p for p in state.ticket.payments if p.payment == mark.payment), None)
            if payment is None:
                continue
            self.unsure.add(payment)
            self.lost[payment.payment] = mark.reference
            self.log.warning("card_refund_unknown_at_start", payment=payment.payment, amount=str(payment.amount),
                             reference=mark.reference, charged=payment.reference)

    def refund_reference(self, state: rules.LaneState, payment: Payment) -> str:
        """What the refund of ``payment`` is sent to the terminal as: the reference of its
        refund marked under way already (whose end is unknown), else a new one."""
        marked = next((r.reference for r in state.refunding if r.payment == payment.payment), None)
        return marked if marked is not None else f"{self.lane}-{self.clock.now():%Y%m%d%H%M%S}-{payment.payment}-R"

    async def reverse(self, payment: Payment, reference: str) -> Refused | None:
        """A card payment the terminal took, given back on it before its line is removed:
        the terminal is asked for the opposite amount (a refund of a debit — Caisse-AP:
        a credit, action 1 — or a debit of a refund). None: approved, the line may go;
        else ``payment_declined`` with ``outcome`` and ``payment``, and the line stays
        (the money is where the terminal left it). A refund lost by an earlier run
        (``lost``) is asked about first: made, it is the answer, with no second one."""
        assert self.terminal is not None
        amount = -payment.amount
        # (Told once: the driver then keeps it until the terminal says, as for ``unsure``.)
        result = await self._ask_terminal(amount, reference, lost=self.lost.pop(payment.payment, None))
        self.unsure.discard(payment)
        if not result.approved:
            self.log.info("card_refund_not_approved", reference=reference, payment=payment.payment,
                          outcome=result.outcome, amount=str(amount))
            what = f"card payment {payment.payment} ({fmt_money(payment.amount)}, {payment.reference or '-'})"
            then = "try again, or finish the sale"
            if result.outcome == "unknown":  # the refund may have been made: no sale until it is known
                self.unsure.add(payment)
                then = "try again: the terminal is asked how the refund ended first; the sale cannot be finished " \
                       "until then"
            return refused(Code.PAYMENT_DECLINED,
                           f"{_not_approved(result)} — giving back {what} on the terminal: the payment stays on the "
                           f"ticket ({then})", outcome=result.outcome, payment=payment.payment)
        self.log.info("card_payment_refunded", reference=reference, payment=payment.payment, amount=str(amount),
                      authorisation=result.authorisation, charged=payment.reference)
        return None

    async def _ask_terminal(self, amount: Decimal, reference: str, *, lost: str | None = None) -> TerminalResult:
        """The terminal's answer to a charge of ``amount`` (negative: a refund), bounded by
        its ``timeout_seconds`` (and here too, in case the terminal actor is stuck or gone)."""
        assert self.terminal is not None
        terminal = self.config.terminal_of(self.lane)
        timeout = terminal.timeout_seconds if terminal is not None else 60.0
        deadline = trio.current_time() + timeout
        result: TerminalResult | None = None
        with trio.move_on_at(deadline + ABORT_SECONDS + 1):
            try:
                result = await self.terminal.ask(Charge(amount, reference, deadline, lost=lost))
            except ActorFailed:
                result = TerminalResult(outcome="failed", message="the payment terminal did not answer")
        if result is None:
            result = TerminalResult(outcome="timeout",
                                    message=f"the payment terminal did not answer within {timeout:g} s")
        return result

    async def _charge_card(self, state: rules.LaneState, command: rules.Pay) -> Prepared | Refused:
        """A card payment on a lane with a terminal: the card is charged first, and only
        an approved charge is recorded (its authorisation code as the payment's
        ``reference``), for the amount charged.

        A keyed retry never gets here: the lane answered it from its reply memory, so a
        card is not charged twice for one request. The lane waits for its own terminal
        (its requests queue meanwhile); the terminal actor bounds the wait, and so does
        the ``move_on_at`` here in case the terminal actor itself is stuck or gone.
        """
        assert self.terminal is not None
        trial = rules.apply(state, command, now=self.clock.now())
        if isinstance(trial, rules.Refused):
            return Prepared(command)  # refused by the lane, the usual way
        payment = next(e.payment for e in trial.events if isinstance(e, rules.PaymentAdded))
        reference = f"{self.lane}-{self.clock.now():%Y%m%d%H%M%S}-{payment.payment}"
        result = await self._ask_terminal(payment.amount, reference)
        if not result.approved:
            self.log.info("card_payment_not_approved", reference=reference, outcome=result.outcome,
                          amount=str(payment.amount))
            return refused(Code.PAYMENT_DECLINED, _declined_message(result, payment.amount), outcome=result.outcome)
        self.log.info("card_payment_approved", reference=reference, authorisation=result.authorisation,
                      amount=str(payment.amount))
        # The authorisation code, or what the driver records instead (Caisse-AP: the
        # authorisation and the masked card).
        recorded = result.reference or result.authorisation
        return Prepared(msgspec.structs.replace(command, amount=payment.amount, reference=recorded),
                        charged=Charged(reference, result.authorisation, payment.amount))

    async def _from_customer(self, state: rules.LaneState, command: rules.Pay) -> Prepared | Refused:
        """A ``credit``, ``wallet`` or ``voucher`` payment: the customers actor holds the
        money (or the voucher) for the payment line first, like stock for a line. A
        voucher given no amount pays what it is worth, at most the balance."""
        if self.customers is None:
            return refused(Code.NOT_SUPPORTED, f"{command.mode} payments need the customer directory")
        trial = rules.apply(state, command, now=self.clock.now())
        if isinstance(trial, rules.Refused):
            return Prepared(command)  # refused by the lane, the usual way
        payment = next(e.payment for e in trial.events if isinstance(e, rules.PaymentAdded))
        ticket = state.ticket
        if payment.amount < 0:
            return await self._refund_to_customer(state, command)
        wanted = None if command.mode == customer_rules.VOUCHER and command.amount is None else payment.amount
        ask = AskHold(lane=self.lane, payment=payment.payment, mode=command.mode, amount=wanted,
                      due=totals(ticket).balance, customer=ticket.customer, code=command.reference)
        try:
            granted = await self.customers.ask(ask)
        except ActorFailed:
            return refused(Code.UNAVAILABLE, "the customer directory did not answer; nothing was paid, try again")
        if isinstance(granted, customer_rules.Refused):
            return filtered(granted)
        if self.hq_holds is not None and granted.mode in customer_rules.ACCOUNTS and granted.customer is not None:
            # Chain-wide: head office holds the money (or the shop's offline allowance).
            decided = await self.hq_holds.ask(self.lane, payment.payment, granted.customer, granted.mode,
                                              granted.amount)
            if isinstance(decided, Refused):
                await self.customers.tell(Release(self.lane, (payment.payment,)))
                return filtered(decided)
        reference = granted.code if granted.code is not None else ticket.customer
        return Prepared(msgspec.structs.replace(command, amount=granted.amount, reference=reference),
                        holding=payment.payment)

    async def _refund_to_customer(self, state: rules.LaneState, command: rules.Pay) -> Prepared | Refused:
        """A refund (returns) by ``credit`` or ``wallet``: onto the ticket's customer's
        account; by ``voucher``: a voucher of the amount is issued at finish
        (``AskSettle``, in the sale's unit). Nothing is held: no one can spend it before."""
        ticket = state.ticket
        if command.mode in customer_rules.ACCOUNTS:
            if ticket.customer is None:
                return refused(Code.CONFLICT, f"a refund by {command.mode} goes to the ticket's customer: select one first")
            found = await find_customer(self.customers, FindCustomer(customer=ticket.customer))
            if isinstance(found, Refused) or found is None:
                return found or refused(Code.NOT_FOUND, f"no customer {ticket.customer!r}")
            if command.mode == "wallet" and not found.wallet_enabled:
                return refused(Code.CONFLICT, f"{found.name}'s wallet is not enabled")
            command = msgspec.structs.replace(command, reference=ticket.customer)
        return Prepared(command)

    async def report_holds(self, state: rules.LaneState) -> None:
        """At start: what the open ticket's payment lines hold (a tell: granted before).
        Held tickets carry no payments (rules.lane refuses to hold a paid ticket)."""
        if self.customers is None:
            return
        ticket = state.ticket
        holds = tuple(
            customer_rules.Hold(
                lane=self.lane, payment=p.payment, mode=p.mode, amount=p.amount,
                customer=ticket.customer if p.mode != customer_rules.VOUCHER else None,
                code=p.reference if p.mode == customer_rules.VOUCHER else None,
            )
            for p in ticket.payments if p.mode in customer_rules.CUSTOMER_MODES and p.amount > 0  # refunds hold nothing
        )
        await self.customers.tell(ReportHolds(self.lane, holds))
        if self.hq_holds is not None:  # head office's holds no line matches any more: released
            await self.hq_holds.report(self.lane, [(h.payment, h.customer, h.mode, h.amount) for h in holds
                                                   if h.mode in customer_rules.ACCOUNTS and h.customer is not None])

    async def released(self, payments: tuple[int, ...]) -> None:
        """Payment lines gone (removed, the ticket cancelled, written with the sale): head
        office's holds on them are released (a written sale settled its own already).
        Awaited on the lane's task, before its next payment can be held."""
        if self.hq_holds is not None:
            await self.hq_holds.gone(self.lane, payments)


def _declined_message(result: TerminalResult, amount: Decimal) -> str:
    return f"{_not_approved(result)}: {fmt_money(amount)} not paid, the ticket is unchanged"


def _not_approved(result: TerminalResult) -> str:
    """What happened to a charge the terminal did not approve, for the cashier."""
    what = {
        "declined": "the card was declined",
        "cancelled": "the card payment was cancelled on the terminal",
        "timeout": "the payment terminal did not answer in time (the payment was cancelled on it)",
        "failed": "the payment terminal failed",
        # The answer to an earlier charge was lost and the terminal has not said how it
        # ended (hw/caisse_ap_terminal.py): nothing new is charged until it has.
        "unknown": "the payment terminal has not said how the card payment ended",
    }.get(result.outcome, f"the card payment ended with {result.outcome}")
    if result.outcome == "unknown" and result.message:
        what = f"{what} ({result.message})"
    return what
