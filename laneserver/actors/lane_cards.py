"""The lane's steps around its card terminal: a card payment's removal given back on the
terminal first (its refund marked under way in the journal before the terminal is
asked), a keyed request checked for a key already used before any money moves, a sale
that cannot be made found before the card is charged, and a card charged for a sale
then refused kept on the ticket all the same.

Not an actor of its own: methods of ``LaneActor`` (actors/lane.py), moved here as they
were, run in the lane's task on its state (``self.state``, ``self.paying``: the
terminal's side, actors/lane_payments.py; ``self._apply``: the lane's change).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import msgspec

from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.lane_payments import filtered
from laneserver.actors.messages import Caller
from laneserver.rules import lane as rules
from laneserver.rules.outcome import Refused
from laneserver.store import reads
from laneserver.store.ops import PutLaneState


class LaneCardSteps:
    """``LaneActor``'s card steps (see the module's text)."""

    async def _reverse_card(self, envelope, caller: Caller, asked: Any, command: rules.RemovePayment,
                            payment: Any) -> None:
        """``remove_payment`` of a card payment the lane's terminal took: the terminal gives
        the money back first (actors/lane_payments.py ``reverse``), and the line is removed
        only once it approved; refused there, the line stays and the refusal is the answer.
        (``cancel_ticket`` is refused while the ticket has payments: the same way.)"""
        trial = rules.apply(self.state, command, now=self.clock.now())
        if isinstance(trial, Refused):  # refused the usual way, before the terminal is asked
            envelope.reply(filtered(trial))
            return
        # Marked under way in the journal before the terminal is asked: a server stopped
        # before the removal's save finds it at start (LanePayments ``recovered``).
        reference = self.paying.refund_reference(self.state, payment)
        failed = await self._mark_refund(rules.refund_started(self.state, payment.payment, reference))
        if failed is not None:  # not marked: the terminal is not asked
            envelope.reply(failed)
            return
        refusal = await self.paying.reverse(payment, reference)
        if refusal is not None:
            if refusal.details.get("outcome") != "unknown":  # not given back: the mark goes
                await self._mark_refund(rules.refund_ended(self.state, payment.payment))
            envelope.reply(refusal)
            return
        before = self.state
        self.paying.refunded.add(payment)
        await self._apply(envelope, caller, asked, command)
        if self.state is not before:
            self.paying.refunded.discard(payment)
        else:
            # Given back but still on the ticket (the journal refused the unit): say so
            # loudly; no sale is finished with it until it is removed again, and that
            # removal does not ask the terminal (LanePayments ``refunded``).
            self.log.error("card_refunded_not_recorded", payment=payment.payment, amount=str(payment.amount),
                           reference=payment.reference)

    async def _mark_refund(self, state: rules.LaneState) -> Refused | None:
        """The lane's state with a card refund's mark set or cleared (``rules.Refunding``),
        written whole (a snapshot, ``PutLaneState``): the open ticket is unchanged, so is
        its ``rev`` — a refused removal changes nothing a client sees. The refusal when the
        journal refused it (the lane is left as it was)."""
        if state is self.state:
            return None
        try:
            await commit(self.journal, PutLaneState(state=state, at=self.clock.now()))
        except CommitFailed as error:
            log_commit_failed(self.log, error, command="RefundMark")
            return self.replies.failed_result(error, None, "the card refund could not be prepared; nothing was "
                                                           "changed, the terminal was not asked")
        self.state = state
        return None

    async def _key_reused(self, caller: Caller, asked: Any) -> Refused | None:
        """``key_reused`` for a keyed request about to ask the card terminal when the
        journal already has its key from this device (another actor's request, or one
        this lane forgot): refused before the money moves, not by the unit after."""
        if asked.key is None:
            return None
        taken = await read(self.journal, partial(reads.reply_actor, device=caller.device, key=asked.key))
        if taken is None:
            return None
        return self.replies.failed_result(CommitFailed(f"key {asked.key!r} taken by {taken}", key_reused=True),
                                          asked.key, "")

    def _unwritable(self, command: Any, asked: Any) -> Refused | None:
        """Why the sale ``command`` would finish (``auto_finish``) cannot be made, found
        before a card is charged for it (a subscription with no customer): the plan's
        refusal, or None (no sale, or a plan)."""
        trial = rules.apply(self.state, command, now=self.clock.now())
        if isinstance(trial, Refused):
            return None  # refused the usual way, before any charge
        sale = next((e for e in trial.events if isinstance(e, rules.SaleCompleted)), None)
        if sale is None:
            return None
        plan = self._plan(rules.revised(self.state, trial.state), sale, receipt=asked.receipt, holding=None)
        return plan if isinstance(plan, Refused) else None

    async def _refuse(self, envelope, caller: Caller, asked: Any, command: Any, refusal: Refused, *,
                      charged: bool) -> None:
        """``refusal`` answered, the change not made — unless the card was ``charged`` for a
        payment whose sale is refused: then ``_keep_charged``."""
        if charged and isinstance(command, rules.Pay):
            await self._keep_charged(envelope, caller, asked, command, refusal)
            return
        envelope.reply(refusal)

    async def _keep_charged(self, envelope, caller: Caller, asked: Any, command: rules.Pay,
                            refusal: Refused) -> None:
        """A card the terminal charged for a payment that would finish the sale
        (``auto_finish``), when a later step of that sale refused it after the charge — a
        top-up cancel line the wallet no longer covers, a customer payment no longer held,
        the invoice's customer not read, the sale's unit refused by the journal: the money
        was taken, so the payment is recorded
        on the ticket all the same, without finishing. The answer is the refusal, saying
        so and naming the payment (``payment``); the cashier puts it right and finishes
        (or removes the payment: its card is refunded, ``_reverse_card``)."""
        kept = msgspec.structs.replace(command, policy=msgspec.structs.replace(command.policy, auto_finish=False))
        trial = rules.apply(self.state, kept, now=self.clock.now())
        if isinstance(trial, Refused):  # the payment was applied a moment ago: cannot happen
            envelope.reply(refusal)
            return
        number = next(e.payment.payment for e in trial.events if isinstance(e, rules.PaymentAdded))
        self.log.warning("card_payment_kept_unfinished", payment=number, code=refusal.code, reason=refusal.message)
        answer = Refused(refusal.code, f"the card payment is recorded on the ticket (payment {number}) but the sale "
                                       f"is not finished: {refusal.message}; put it right, then finish",
                         {**refusal.details, "payment": number, "recorded": True})
        await self._apply(envelope, caller, asked, kept, answer=answer)
