"""What lanes ask of the customers' money: a payment line's hold on a customer's credit
or wallet, or on a voucher (``AskHold``); at finish, the movements a sale writes in
its own unit (``AskSettle``: spends, voucher uses and remainders, refunds, its top-up
lines); a sale cancelled, what goes back (``AskGiveBack``); and a sale's coupons
settled (``AskCouponSettle``, carried out by actors/coupons.py).

Not an actor of its own: the customers actor owns it (actors/customers.py) and
answers its lanes' asks with it. It reads the directory and the books (``rules.customers
.Books``: balances and holds) the actor keeps, and decides nothing the rules do not
(rules/customers.py); it writes nothing itself: a settle returns the journal ops the
sale's unit writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import msgspec

from laneserver.actors.coupons import Coupons
from laneserver.actors.customers_messages import (
    AskCouponSettle,
    AskGiveBack,
    AskHold,
    AskSettle,
)
from laneserver.actors.customers_money import new_voucher_code
from laneserver.actors.journal import read
from laneserver.actors.runtime import Address
from laneserver.config import Config
from laneserver.rules import customers as rules
from laneserver.store import reads
from laneserver.store.ops import (
    IssueVoucher,
    MoveAccount,
    UseVoucher,
)

if TYPE_CHECKING:
    from laneserver.actors.hq_holds import HqHolds


class LaneMoney:
    """The customers actor's answers to lanes (owned by ``CustomersActor``)."""

    def __init__(self, *, journal: Address, config: Config, directory: dict[str, rules.Customer], books: rules.Books,
                 coupons: Coupons, today: Callable[..., dt.date],
                 opened: Callable[[rules.Customer | None], rules.Customer | None],
                 hq_holds: HqHolds | None = None) -> None:
        self.journal = journal
        # [head_office]: a top-up taken back off the wallet is first held at head office
        # (the customer may have spent it in another shop): actors/hq_holds.py.
        self.hq_holds = hq_holds
        self.config = config
        self.directory = directory  # the actor's, read here
        self.books = books
        self.coupons = coupons
        self._today = today
        self._opened = opened

    async def hold(self, ask: AskHold) -> rules.Hold | rules.Refused:
        today = self._today()
        if ask.mode in rules.ACCOUNTS:
            customer = self.directory.get(ask.customer or "")
            if customer is None:
                return rules.Refused("conflict", f"{ask.mode} pays from the ticket's customer: select one first")
            if ask.mode == "wallet" and not self._opened(customer).wallet_enabled:
                return rules.Refused("conflict", f"{customer.name}'s wallet is not enabled")
            amount = ask.due if ask.amount is None else ask.amount
            if (refusal := rules.check_amount(amount, "a payment")) is not None:
                return refusal
            hold = rules.Hold(lane=ask.lane, payment=ask.payment, mode=ask.mode, amount=amount,
                              customer=customer.customer)
        elif ask.mode == rules.VOUCHER:
            code = (ask.code or "").strip()
            if not code:
                return rules.Refused("bad_request", "a voucher payment needs the voucher's code as reference")
            voucher = await read(self.journal, partial(reads.voucher, code=code))
            holder = self.books.voucher_holder(code)
            held = holder is not None and holder != (ask.lane, ask.payment)
            if (refusal := rules.voucher_refusal(voucher, code, today, held)) is not None:
                return refusal
            assert voucher is not None
            split = rules.voucher_split(voucher.amount, ask.due, ask.amount)
            if isinstance(split, rules.Refused):
                return split
            hold = rules.Hold(lane=ask.lane, payment=ask.payment, mode=rules.VOUCHER, amount=split[0],
                              customer=voucher.customer, code=code, value=voucher.amount,
                              valid_until=voucher.valid_until)
        else:
            raise ValueError(f"not a customer payment mode: {ask.mode!r}")
        if hold.mode in rules.ACCOUNTS and self.config.head_office.dsn:
            # The chain-wide ledger: head office holds the money, not this shop's own
            # balance (the lane asks it next: actors/hq_holds.py; docs/head_office.md).
            self.books.holds[(hold.lane, hold.payment)] = hold
            return hold
        refusal = self.books.ask(hold)
        return hold if refusal is None else refusal

    async def settle(self, ask: AskSettle) -> tuple[Any, ...] | rules.Refused:
        """The ops of a lane's sale; what its top-up cancel lines take off the wallet is
        held (the lane's hold ``TOPUP_CANCEL``) until the lane releases it, the sale
        written or not (a restarted lane's report drops it)."""
        common = dict(at=ask.at, lane=ask.lane, device=ask.device, seller=ask.seller)
        ops: list[Any] = []
        self.books.release(ask.lane, (rules.TOPUP_CANCEL,))  # an earlier settle's, never released
        cancel: MoveAccount | None = None
        if ask.topup or ask.topup_cancel:
            customer = self.directory.get(ask.customer or "")
            if customer is None:
                return rules.Refused("conflict", "a top-up line goes to the ticket's customer: select one first")
            if not self._opened(customer).wallet_enabled:
                return rules.Refused("conflict", f"{customer.name}'s wallet is not enabled: remove the top-up line")
            topup = dict(customer=customer.customer, account="wallet", mode=ask.topup_mode, **common)
            if ask.topup:  # first: the money is there before anything else moves
                ops.append(MoveAccount(delta=ask.topup, kind="topup", **topup))
            if ask.topup_cancel:
                refusal = self.books.can_take(customer.customer, "wallet", ask.topup_cancel)
                if refusal is not None:
                    return rules.Refused(refusal.code, f"the wallet no longer holds the {ask.topup_cancel} of the "
                                                       f"top-up cancelled: {refusal.details['available']} available",
                                         refusal.details)
                cancel = MoveAccount(delta=-ask.topup_cancel, kind="topup_cancel", **topup)
        for payment, mode, amount in ask.payments:
            if amount < 0:  # a refund (returns): nothing was held, money goes to the customer
                refund = self._refund(ask, mode, -amount, common)
                if isinstance(refund, rules.Refused):
                    return refund
                ops.append(refund)
                continue
            hold = self.books.holds.get((ask.lane, payment))
            if hold is None or hold.mode != mode or hold.amount != amount:
                return rules.Refused("conflict", f"payment {payment} ({mode} {amount}) is not held any more: "
                                                 "remove it and pay again", {"payment": payment})
            if mode in rules.ACCOUNTS:
                assert hold.customer is not None
                ops.append(MoveAccount(customer=hold.customer, account=mode, delta=-amount, kind="spend",
                                       payment=payment, **common))
                continue
            assert hold.code is not None
            voucher = await read(self.journal, partial(reads.voucher, code=hold.code))
            if voucher is None or voucher.used:
                return rules.Refused("conflict", f"voucher {hold.code} cannot be used any more",
                                     {"payment": payment, "reference": hold.code})
            rest = voucher.amount - amount
            remainder = None
            if rest > 0:
                remainder = new_voucher_code()
                ops.append(IssueVoucher(code=remainder, amount=rest, valid_until=voucher.valid_until,
                                        origin="remainder", customer=voucher.customer, **common))
            ops.append(UseVoucher(code=hold.code, amount=amount, remainder=remainder, **common))
        if cancel is not None:  # last: after the sale's own spends (held, so counted already)
            # Held here until the sale is written or not (the lane's release: its plan's
            # ``ReleasePayments`` of ``TOPUP_CANCEL``, told back too when not written).
            refusal = self.books.ask(rules.Hold(lane=ask.lane, payment=rules.TOPUP_CANCEL, mode="wallet",
                                                amount=-cancel.delta, customer=cancel.customer))
            if refusal is not None:
                return refusal
            # Held at head office once nothing else of the sale is refused here; the hold
            # goes with the movement, settled in the sale's unit (or given back by the
            # lane when the sale is not written: actors/lane_steps.py ``undo``).
            try:
                hold = await self._chain_wide(cancel.customer, -cancel.delta, "the top-up cancelled")
            except BaseException:  # crashing on it (its holds outlive it): the lane is told nothing was granted
                self.books.release(ask.lane, (rules.TOPUP_CANCEL,))
                raise
            if isinstance(hold, rules.Refused):
                self.books.release(ask.lane, (rules.TOPUP_CANCEL,))
                return hold
            ops.append(msgspec.structs.replace(cancel, hold=hold))
        return tuple(ops)

    async def settle_coupons(self, ask: AskCouponSettle) -> tuple[Any, ...] | rules.Refused:
        if self.directory.get(ask.customer) is None:
            return rules.Refused("not_found", f"no customer {ask.customer!r}")
        return await self.coupons.settle(ask)

    async def give_back(self, ask: AskGiveBack) -> tuple[Any, ...] | rules.Refused:
        """The ops that give a cancelled sale's customer money back; what they take back
        off an account is held here (``Books.giving_back``) until the asker's
        ``GiveBackDone``, and at head office too (``[head_office]``: the movement's
        ``hold``, settled in the cancel's unit). Refused: nothing is held."""
        common = dict(at=ask.at, lane=ask.lane, device=ask.device, seller=ask.seller)
        ops: list[Any] = []
        # A cancel of this sale asked before and never ended (its asker gave up): replaced.
        self.books.end_giving_back(ask.sale)
        # Head office's holds of the money taken off (``[head_office]``), settled in the
        # cancel's unit, given back at once when the cancel is refused after all.
        held: list[int] = []

        async def take(customer: str, account: str, amount: Decimal, what: str) -> int | rules.Refused | None:
            """``amount`` about to leave the account: the shop's own books must have it
            available (with what this cancel holds already) and hold it, then head
            office across the shops."""
            refusal = self.books.giving_back(ask.sale, customer, account, amount)
            if refusal is not None:
                return rules.Refused(refusal.code, f"the {account} no longer holds the {amount} of {what}: "
                                                   f"{refusal.details['available']} available", refusal.details)
            hold = await self._chain_wide(customer, amount, what, account)
            if isinstance(hold, int):
                held.append(hold)
            return hold

        for mode, amount, reference in ask.back:
            if mode in rules.ACCOUNTS:
                customer = reference if reference in self.directory else ask.customer
                if customer is None or customer not in self.directory:
                    await self._dropped(held, ask.sale)
                    return rules.Refused("conflict", f"the {mode} payment of {amount} names no customer to give it "
                                                     "back to")
                hold = None
                if amount < 0:  # a refund the sale put on the account, taken back off it
                    hold = await take(customer, mode, -amount, f"the refund of sale {ask.sale}")
                    if isinstance(hold, rules.Refused):
                        await self._dropped(held, ask.sale)
                        return hold
                ops.append(MoveAccount(customer=customer, account=mode, delta=amount, kind="sale_cancel",
                                       approved_by=ask.approved_by, reason=ask.reason, hold=hold, **common))
            elif mode == rules.VOUCHER:
                used = await read(self.journal, partial(reads.voucher, code=reference or ""))
                days = self.config.shop.voucher_valid_days
                ops.append(IssueVoucher(code=new_voucher_code(), amount=amount,
                                        valid_until=rules.valid_until(self._today(ask.at), days), origin="refund",
                                        customer=used.customer if used is not None else ask.customer, **common))
            else:
                raise ValueError(f"not a customer payment mode: {mode!r}")
        if ask.sale is not None:
            coupons = await self.coupons.back(ask)
            if isinstance(coupons, rules.Refused):
                await self._dropped(held, ask.sale)
                return coupons
            ops.extend(coupons)
            # Its top-up lines: a top-up goes back out of the wallet, a top-up cancel back in.
            # A top-up already given back (wallet_topup_cancel): the sale's payments would
            # give it back a second time. Read again here: the asker read the sale before,
            # and such a give-back is written by this actor (none is under way now).
            if ask.topup_cancelled or await read(self.journal, partial(reads.topup_cancelled,
                                                                       ref=f"sale-topup:{ask.sale}")):
                await self._dropped(held, ask.sale)
                return rules.Refused("conflict", f"the wallet top-up of sale {ask.sale} was already given back "
                                                 "(wallet_topup_cancel): correct its payments instead")
            for customer, account, delta in await read(self.journal, partial(reads.sale_topups, number=ask.sale)):
                hold = None
                if delta > 0:
                    hold = await take(customer, account, delta, f"the top-up of sale {ask.sale}")
                    if isinstance(hold, rules.Refused):
                        await self._dropped(held, ask.sale)
                        return hold
                ops.append(MoveAccount(customer=customer, account=account, delta=-delta, kind="sale_cancel",
                                       approved_by=ask.approved_by, reason=ask.reason, hold=hold, **common))
        return tuple(ops)

    async def _chain_wide(self, customer: str, amount: Decimal, what: str,
                          account: str = "wallet") -> int | rules.Refused | None:
        """With ``[head_office]``: money taken back off an account inside a sale (a top-up,
        a refund put on it) must be held at head office first, else refused: head office's
        hold number, carried by the movement (``MoveAccount.hold``) and settled in the
        sale's unit with the record's ``kind|ref`` and number (the ref is the sale's, known
        once written: store/writes.py). None without ``[head_office]``."""
        if self.hq_holds is None:
            return None
        return await self.hq_holds.hold_movement(customer, account, amount, f"taking back {what}")

    async def _dropped(self, holds: list[int], sale: int | None) -> None:
        """A give-back refused after all: what it held here dropped, head office's holds
        given back at once."""
        self.books.end_giving_back(sale)
        if self.hq_holds is not None:
            for hold in holds:
                await self.hq_holds.movement_dropped(hold)

    def _refund(self, ask: AskSettle, mode: str, amount: Decimal,
                common: dict[str, Any]) -> MoveAccount | IssueVoucher | rules.Refused:
        """A sale's refund of ``amount``: onto its customer's ``credit``/``wallet``, or a
        new voucher (``origin`` refund, valid ``shop.voucher_valid_days``, the sale's
        customer's if it has one)."""
        if mode in rules.ACCOUNTS:
            customer = self.directory.get(ask.customer or "")
            if customer is None:
                return rules.Refused("conflict", f"a refund by {mode} goes to the ticket's customer: select one first")
            if mode == "wallet" and not self._opened(customer).wallet_enabled:
                return rules.Refused("conflict", f"{customer.name}'s wallet is not enabled")
            return MoveAccount(customer=customer.customer, account=mode, delta=amount, kind="refund", **common)
        until = rules.valid_until(self._today(ask.at), self.config.shop.voucher_valid_days)
        return IssueVoucher(code=new_voucher_code(), amount=amount, valid_until=until, origin="refund",
                            customer=ask.customer, **common)
