"""The customers actor: the shop's customer directory and their money.

One per shop. It owns the directory and every account's balance (``credit`` and
``wallet``, each the sum of its movements in ``customer_movements``), loaded at
start, and the holds lanes put on that money and on vouchers
(``rules.customers.Books``). Every change is serialised here and journaled
durably (movement, money taken, event, remembered reply, in one unit) before
the answer.

Lanes, like with stock (``actors/stock_point.py``):
  AskHold     a ``credit``/``wallet``/``voucher`` payment line wants money or a
              voucher held → the ``Hold`` granted, or ``Refused``
              (``insufficient_funds`` with ``available`` and ``short``); with
              ``[head_office]`` a credit/wallet line is not checked against this
              shop's balance: head office holds it (the lane asks it next,
              actors/hq_holds.py)
  AskSettle   at finish: the journal ops the sale writes in its own unit
              (spends, voucher uses, remainder vouchers, and its top-up lines'
              wallet top-ups and cancels) → ops or ``Refused``
  Available   what an account has that open tickets do not hold → Decimal (a
              top-up cancel line is checked with it before it goes on a ticket)
  Release     payment lines gone (removed, or written with the sale): their
              holds are dropped and those customers' balances re-read from the
              database, which holds the sale's movements by then (tell)
  ReportHolds at a lane's start: what its tickets hold (tell, never refused)
  FindCustomer by id or card barcode → ``Customer`` or None
  CountCoupons, AskCouponHold, ReportCouponHolds, AskCouponSettle: the same for
              coupons, carried out by its ``Coupons`` part (actors/coupons.py).

Devices (through the edge, server/edge_customers.py): domain commands in ``Do``
(``ShowCustomer``, ``CreateCustomer``, ``DepositCredit``, ``TopUpWallet``,
``CancelTopup``, ``CorrectBalance``, ``SellVoucher``…) answered with domain results
(``CustomerFile``, ``ToppedUp``, ``VoucherState``…) or ``Refused``; nothing here
knows the wire. A keyed command's result is journaled with its effect and answered
again for the same key (actors/replies.py).

The messages are in actors/customers_messages.py (imported from here too: lanes and
the sales actor import them from this module).

A sale's spend is written by the lane, so between its commit and its
``Release`` the in-memory balance still counts the money the hold also counts:
``available`` is then too low for a moment, never too high. The writer refuses
any movement that takes an account below zero, as a last line.

The holds dict is owned by the supervisor's closure, so a restart of this
actor keeps them (lanes re-report only when they themselves restart).
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from functools import partial
from typing import Any, Callable

import msgspec
import trio
from msgspec import UNSET

from laneserver.actors.coupons import Coupons
from laneserver.actors.customers_messages import (
    ApplyPublished,
    AskCouponHold,
    AskCouponSettle,
    AskGiveBack,
    AskHold,
    AskSettle,
    Available,
    CancelTopup,
    CorrectBalance,
    CountCoupons,
    CreateCustomer,
    CustomerCreated,
    CustomerFile,
    CustomersFound,
    CustomersResult,
    CouponsLeft,
    DepositCredit,
    EditCustomer,
    FindCustomer,
    PublishedApplied,
    PublishedVersion,
    Refresh,
    Release,
    ReportCouponHolds,
    ReportHolds,
    SaleSeen,
    SearchCustomers,
    SellVoucher,
    ShowCustomer,
    ShowVoucher,
    ToppedUp,
    TopUpWallet,
    VoucherState,
)
from laneserver.actors.journal import CommitFailed, commit, read
from laneserver.actors.messages import Caller, Do, Keyed
from laneserver.actors.drawer_messages import CashReceived
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.clock import Clock, shop_day, shop_zone
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.rules import customers as rules
from laneserver.rules.customers_csv import published_changes
from laneserver.rules import coupons as coupon_rules
from laneserver.rules.money import ZERO, BadValue
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.receipt import Receipt, ReceiptLine, ReceiptPayment
from laneserver.store import outbox, reads
from laneserver.store.ops import (
    AccountMoved,
    IssueVoucher,
    MoveAccount,
    PutCustomer,
    ReceiveMoney,
    RecordEvent,
    Remember,
    UseVoucher,
)

SOURCE = "customers"
MAX_NAME = 200


# A top-up found for wallet_topup_cancel: (ref, customer, amount, mode, words, given back already).
_TopupFound = tuple[str, str, Decimal, str, str, bool]


def new_voucher_code() -> str:
    """A voucher's code: ``V`` and 12 random digits (scannable, not guessable in practice)."""
    return f"V{secrets.randbelow(10**12):012d}"


class CustomersActor:
    def __init__(
        self,
        *,
        journal: Address,
        config: Config,
        clock: Clock,
        modes: tuple[str, ...],
        printers: dict[str, Address] | None = None,
        drawers: dict[str, Address] | None = None,
        holds: dict[tuple[str, int], rules.Hold] | None = None,
        coupon_holds: dict[str, coupon_rules.Holds] | None = None,
        article_name: Callable[[str], str] = str,
    ) -> None:
        self.journal = journal
        self.article_name = article_name  # for the coupons a customer view lists
        self.config = config
        self.clock = clock
        self.zone = shop_zone(config.shop.timezone)  # the shop's day: validity dates
        # The modes money may come in with (cash, card…: not credit, wallet or a voucher).
        self.modes = tuple(m for m in modes if m not in rules.NOT_FOR_MONEY_IN)
        self.printers = printers or {}  # lane → its printer
        self.drawers = drawers or {}  # lane → its cash drawer: told the cash taken in there
        self.books = rules.Books(holds=holds if holds is not None else {})
        # Its coupons part; like ``holds``, its holds are owned by the caller to outlive a restart.
        self.coupons = Coupons(journal=journal, zone=self.zone, today=self._today, holds=coupon_holds)
        self.directory: dict[str, rules.Customer] = {}
        self.cards: dict[str, str] = {}
        self.next_customer = 1
        self.next_topup = 1
        self.published_version = 0  # head office's customers version applied last (store/outbox.py)
        self.replies = ReplyMemory(SOURCE, CustomersResult)
        self.log = get_logger("customers")

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        for customer in await read(self.journal, reads.customers):
            self._put(customer)
        self.next_customer = await read(self.journal, reads.next_customer_number)
        self.next_topup = await read(self.journal, reads.next_topup_number)
        self.books.balances = await read(self.journal, reads.customer_balances)
        self.published_version = await read(self.journal, outbox.read_customers_version)
        await self.replies.load(self.journal, self.clock.now())
        task_status.started()
        self.log.info("customers_started", customers=len(self.directory), holds=len(self.books.holds))
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case FindCustomer(customer=customer_id, card=card):
                        if customer_id is None and card is not None:
                            customer_id = self.cards.get(card.strip())
                        envelope.reply(None if customer_id is None else self._opened(self.directory.get(customer_id)))
                    case AskHold():
                        envelope.reply(await self._hold(envelope.command))
                    case AskSettle():
                        envelope.reply(await self._settle(envelope.command))
                    case Available(customer=customer, account=account):
                        envelope.reply(self._available(customer, account))
                    case AskGiveBack():
                        envelope.reply(await self._give_back(envelope.command))
                    case Refresh(customers=touched):
                        await self._refresh([rules.Hold(lane="", payment=0, mode=account, amount=ZERO, customer=c)
                                             for c in touched for account in rules.ACCOUNTS])
                    case Release(lane=lane, payments=payments):
                        await self._refresh(self.books.release(lane, payments))
                    case ReportHolds(lane=lane, holds=holds):
                        await self._refresh(self.books.report(lane, holds))
                    case CountCoupons(lane=lane, customer=customer, article=article):
                        envelope.reply(await self.coupons.count(lane, customer, article))
                    case AskCouponHold(lane=lane, holds=holds):
                        envelope.reply(await self.coupons.hold(lane, holds, self._name_of))
                    case ReportCouponHolds(lane=lane, holds=holds):
                        self.coupons.report(lane, holds)
                    case AskCouponSettle():
                        envelope.reply(await self._settle_coupons(envelope.command))
                    case Do():
                        envelope.reply(await self._do(envelope.command))
                    case PublishedVersion():
                        envelope.reply(self.published_version)
                    case ApplyPublished():
                        envelope.reply(await self._apply_published(envelope.command))
                    case other:
                        raise TypeError(f"customers got {other!r}")

    def _put(self, customer: rules.Customer) -> None:
        old = self.directory.get(customer.customer)
        if old is not None and old.card is not None:
            self.cards.pop(old.card, None)
        self.directory[customer.customer] = customer
        if customer.card is not None:
            self.cards[customer.card] = customer.customer

    async def _refresh(self, gone: list[rules.Hold]) -> None:
        """Re-read from the database the balances of the accounts released holds were on."""
        touched = sorted({h.customer for h in gone if h.mode in rules.ACCOUNTS and h.customer is not None})
        if not touched:
            return
        balances = await read(self.journal, partial(reads.customer_balances, customers=touched))
        for customer in touched:
            for account in rules.ACCOUNTS:
                self.books.set_balance(customer, account, balances.get((customer, account), ZERO))

    async def _apply_published(self, apply: ApplyPublished) -> PublishedApplied | Refused:
        """Head office's customers version, applied once (by version): the customers it
        adds or changes, the version noted and an event (``CustomersPublished``, shipped
        back to head office: which shop applied what) in one unit. A version the shop
        cannot apply (``problem``, or a card another customer carries here) is noted too,
        with a ``CustomersPublishRefused`` event, and changes no customer. ``Refused``:
        the unit failed; nothing was written, the shipper tries again later."""
        if apply.version <= self.published_version:
            return PublishedApplied(apply.version, already=True)
        problem = apply.problem
        changed: tuple[rules.Customer, ...] = ()
        if problem is None:
            found = published_changes(self.directory, self.cards, apply.customers)
            if isinstance(found, str):
                problem = found
            else:
                changed = found
        at = self.clock.now()
        ids = tuple(c.customer for c in changed)
        if problem is None:
            event = RecordEvent(at=at, source=SOURCE, kind="CustomersPublished",
                                data={"version": apply.version, "changed": list(ids)})
        else:
            event = RecordEvent(at=at, source=SOURCE, kind="CustomersPublishRefused",
                                data={"version": apply.version, "reason": problem})
        try:
            await commit(self.journal, *(PutCustomer(customer=c, at=at) for c in changed),
                         outbox.NoteCustomersVersion(apply.version), event)
        except CommitFailed as error:
            self.log.error("published_customers_not_saved", version=apply.version, error=str(error))
            return refused(Code.CONFLICT, f"customers version {apply.version} could not be saved: {error}")
        for customer in changed:
            self._put(customer)
        self.published_version = apply.version
        if problem is not None:
            self.log.error("published_customers_refused", version=apply.version, reason=problem)
        else:
            self.log.info("published_customers_applied", version=apply.version, changed=len(ids))
        return PublishedApplied(apply.version, ids, problem)

    # --- lanes -----------------------------------------------------------------------

    async def _hold(self, ask: AskHold) -> rules.Hold | rules.Refused:
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

    async def _settle(self, ask: AskSettle) -> tuple[Any, ...] | rules.Refused:
        common = dict(at=ask.at, lane=ask.lane, device=ask.device, seller=ask.seller)
        ops: list[Any] = []
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
            ops.append(cancel)
        return tuple(ops)

    def _today(self, at: dt.datetime | None = None) -> dt.date:
        """The shop's date (now, or at ``at``): vouchers and coupons are valid by it."""
        return shop_day(self.clock.now() if at is None else at, self.zone)

    def _name_of(self, customer: str) -> str:
        who = self.directory.get(customer)
        return who.name if who is not None else customer

    async def _settle_coupons(self, ask: AskCouponSettle) -> tuple[Any, ...] | rules.Refused:
        if self.directory.get(ask.customer) is None:
            return rules.Refused("not_found", f"no customer {ask.customer!r}")
        return await self.coupons.settle(ask)

    async def _give_back(self, ask: AskGiveBack) -> tuple[Any, ...] | rules.Refused:
        common = dict(at=ask.at, lane=ask.lane, device=ask.device, seller=ask.seller)
        ops: list[Any] = []
        for mode, amount, reference in ask.back:
            if mode in rules.ACCOUNTS:
                customer = reference if reference in self.directory else ask.customer
                if customer is None or customer not in self.directory:
                    return rules.Refused("conflict", f"the {mode} payment of {amount} names no customer to give it "
                                                     "back to")
                ops.append(MoveAccount(customer=customer, account=mode, delta=amount, kind="sale_cancel",
                                       approved_by=ask.approved_by, reason=ask.reason, **common))
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
                return coupons
            ops.extend(coupons)
            # Its top-up lines: a top-up goes back out of the wallet, a top-up cancel back in.
            # A top-up already given back (wallet_topup_cancel): the sale's payments would
            # give it back a second time.
            if ask.topup_cancelled:
                return rules.Refused("conflict", f"the wallet top-up of sale {ask.sale} was already given back "
                                                 "(wallet_topup_cancel): correct its payments instead")
            for customer, account, delta in await read(self.journal, partial(reads.sale_topups, number=ask.sale)):
                if delta > 0 and (refusal := self.books.can_take(customer, account, delta)) is not None:
                    return rules.Refused(refusal.code, f"the wallet no longer holds the {delta} this sale topped "
                                                       f"up: {refusal.details['available']} available",
                                         refusal.details)
                ops.append(MoveAccount(customer=customer, account=account, delta=-delta, kind="sale_cancel",
                                       approved_by=ask.approved_by, reason=ask.reason, **common))
        return tuple(ops)

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

    # --- devices' commands (from the edge, in ``Do``) ---------------------------------

    async def _do(self, do: Do) -> CustomersResult:
        remembered = self.replies.recall_result(do.caller.device, do.key, do.fingerprint)
        if remembered is not None:
            return remembered
        caller, command = do.caller, do.command
        if caller.seller is None:
            return refused(Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        keyed = Keyed(do.key, do.fingerprint)
        try:
            match command:
                case ShowCustomer(customer=customer_id):
                    customer = self.directory.get(customer_id)
                    if customer is None:
                        return _not_found(customer_id)
                    return await self._file(customer)
                case SearchCustomers(text=text, limit=limit):
                    if not 1 <= limit <= 100:
                        return refused(Code.BAD_REQUEST, "limit must be between 1 and 100", field="limit")
                    return CustomersFound(tuple(rules.search(self.directory.values(), text, limit)))
                case ShowVoucher(code=code):
                    voucher = await read(self.journal, partial(reads.voucher, code=code.strip()))
                    if voucher is None:
                        return refused(Code.NOT_FOUND, f"no voucher {code!r}", reference=code)
                    return self._voucher_state(voucher)
                case CreateCustomer():
                    return await self._create(caller, keyed, command)
                case EditCustomer():
                    return await self._edit(caller, keyed, command)
                case DepositCredit() | TopUpWallet():
                    return await self._money_in(caller, keyed, command)
                case CancelTopup():
                    return await self._cancel_topup(caller, keyed, command)
                case CorrectBalance():
                    return await self._correct(caller, keyed, command)
                case SellVoucher():
                    return await self._sell_voucher(caller, keyed, command)
        except BadValue as error:
            return refused(Code.BAD_REQUEST, str(error))
        raise TypeError(f"customers got the command {command!r}")

    async def _commit(self, caller: Caller, keyed: Keyed, result: CustomersResult,
                      *ops: Any) -> tuple[Any, ...] | Refused:
        """Journal ``ops`` with the result remembered under the command's key, in one
        unit; the journal's results, or ``Refused`` (nothing was written)."""
        key, fingerprint = keyed.key, keyed.fingerprint
        all_ops = list(ops)
        if key is not None:
            all_ops.append(Remember(device=caller.device, key=key, actor=self.replies.actor,
                                    reply=self.replies.stored(result), fingerprint=fingerprint, at=self.clock.now()))
        try:
            results = await commit(self.journal, *all_ops)
        except CommitFailed as error:
            self.log.error("commit_failed", error=str(error), result=type(result).__name__)
            return self.replies.failed_result(error, key, "the change could not be saved; nothing was changed")
        self.replies.remember_result(caller.device, key, fingerprint, result)
        return results

    def _event(self, caller: Caller, kind: str, data: Any) -> RecordEvent:
        return RecordEvent(at=self.clock.now(), source=SOURCE, kind=kind, data=data, device=caller.device,
                           seller=caller.seller)

    def _mode(self, mode: str) -> str:
        if mode not in self.modes:
            raise BadValue(f"mode {mode!r} cannot bring money in (this shop takes {', '.join(self.modes)})")
        return mode

    def _customer(self, customer_id: str) -> rules.Customer | None:
        return self.directory.get(customer_id)

    def _card(self, card: str | None, customer_id: str | None) -> str | None:
        if card is None:
            return None
        card = card.strip()
        if not card:
            return None
        owner = self.cards.get(card)
        if owner is not None and owner != customer_id:
            raise _Conflict(f"card {card} belongs to customer {owner}")
        return card

    async def _create(self, caller: Caller, keyed: Keyed, command: CreateCustomer) -> CustomersResult:
        name = _name(command.name)
        try:
            card = self._card(command.card, None)
        except _Conflict as conflict:
            return refused(Code.CONFLICT, str(conflict), field="card")
        customer = rules.Customer(customer=f"C{self.next_customer}", name=name, card=card, business=command.business,
                                  contact=_text(command.contact), notes=_text(command.notes),
                                  wallet_enabled=command.wallet)
        result = CustomerCreated(customer.customer)
        done = await self._commit(caller, keyed, result, PutCustomer(customer=customer, at=self.clock.now()),
                                  self._event(caller, "CustomerCreated", customer))
        if isinstance(done, Refused):
            return done
        self.next_customer += 1
        self._put(customer)
        return result

    async def _edit(self, caller: Caller, keyed: Keyed, command: EditCustomer) -> CustomersResult:
        customer = self._customer(command.customer)
        if customer is None:
            return _not_found(command.customer)
        changes: dict[str, Any] = {}
        if command.name is not UNSET:
            changes["name"] = _name(command.name)
        if command.card is not UNSET:
            try:
                changes["card"] = self._card(command.card, customer.customer)
            except _Conflict as conflict:
                return refused(Code.CONFLICT, str(conflict), field="card")
        for field in ("business", "contact", "notes"):
            value = getattr(command, field)
            if value is not UNSET:
                changes[field] = _text(value) if field != "business" else value
        if command.wallet is not UNSET:
            changes["wallet_enabled"] = command.wallet
        edited = msgspec.structs.replace(customer, **changes)
        self._put(edited)  # for the file; put back below if the commit fails
        result = await self._file(edited)
        done = await self._commit(caller, keyed, result, PutCustomer(customer=edited, at=self.clock.now()),
                                  self._event(caller, "CustomerEdited", {"customer": edited.customer,
                                                                         "changes": changes}))
        if isinstance(done, Refused):
            self._put(customer)
            return done
        return result

    async def _money_in(self, caller: Caller, keyed: Keyed, command: DepositCredit | TopUpWallet) -> CustomersResult:
        customer = self._customer(command.customer)
        if customer is None:
            return _not_found(command.customer)
        amount = command.amount
        if (refusal := rules.check_amount(amount)) is not None:
            return refusal
        mode = self._mode(command.mode)
        topup = isinstance(command, TopUpWallet)
        account, kind = ("wallet", "topup") if topup else ("credit", "deposit")
        if topup and not self._opened(customer).wallet_enabled:
            return refused(Code.CONFLICT, f"{customer.name}'s wallet is not enabled (customer_edit with wallet: true)")
        now = self.clock.now()
        number = self.next_topup if topup else None
        ref = f"topup:{number}" if topup else None
        common = dict(at=now, customer=customer.customer, lane=caller.lane, device=caller.device, seller=caller.seller)
        ops = [
            MoveAccount(account=account, delta=amount, kind=kind, ref=ref, mode=mode, **common),
            ReceiveMoney(kind=kind, mode=mode, amount=amount, ref=ref, **common),
            self._event(caller, "WalletToppedUp" if topup else "CreditDeposited",
                        {"customer": customer.customer, "amount": amount, "mode": mode, "topup": number}),
        ]
        file = await self._file(customer, delta=(account, amount))
        result: CustomersResult = ToppedUp(number, file) if number is not None else file
        done = await self._commit(caller, keyed, result, *ops)
        if isinstance(done, Refused):
            return done
        self._moved(ops, done)
        await self._cash_in(ops, done)
        if number is not None:
            self.next_topup += 1
            await self._print(caller, f"topup-{number}", number, now, "Recharge porte-monnaie", amount, mode,
                              (customer.name,))
        return result

    async def _cancel_topup(self, caller: Caller, keyed: Keyed, command: CancelTopup) -> CustomersResult:
        """A top-up taken back out of the wallet and given back in the mode that paid it."""
        if (command.topup is None) == (command.sale is None):
            return refused(Code.BAD_REQUEST, "wallet_topup_cancel needs either topup (a top-up's number) or sale "
                                             "(a sale with top-up lines)", field="topup")
        found = await (self._directory_topup(command) if command.topup is not None else self._sale_topup(command))
        if isinstance(found, Refused):
            return found
        ref, customer_id, amount, mode, what, cancelled = found
        if cancelled:
            return refused(Code.CONFLICT, f"{what} was already cancelled")
        customer = self._customer(customer_id)
        assert customer is not None
        if (refusal := self.books.can_take(customer.customer, "wallet", amount)) is not None:
            return Refused(refusal.code, f"the wallet no longer holds the {amount} of {what}: "
                                         f"{refusal.details['available']} available", refusal.details)
        now = self.clock.now()
        common = dict(at=now, customer=customer.customer, lane=caller.lane, device=caller.device, seller=caller.seller)
        ops = [
            MoveAccount(account="wallet", delta=-amount, kind="topup_cancel", ref=ref, mode=mode, **common),
            ReceiveMoney(kind="topup_cancel", mode=mode, amount=-amount, ref=ref, **common),
            self._event(caller, "WalletTopupCancelled", {"customer": customer.customer, "topup": command.topup,
                                                         "sale": command.sale, "amount": amount, "mode": mode}),
        ]
        result = await self._file(customer, delta=("wallet", -amount))
        done = await self._commit(caller, keyed, result, *ops)
        if isinstance(done, Refused):
            return done
        self._moved(ops, done)
        await self._cash_in(ops, done)
        number = command.topup if command.topup is not None else command.sale
        assert number is not None
        await self._print(caller, f"topup-cancel-{ref.replace(':', '-')}", number, now,
                          "Annulation recharge porte-monnaie", -amount, mode,
                          (customer.name, f"Annule la recharge n° {command.topup}" if command.topup is not None
                           else f"Annule la recharge de la vente n° {command.sale}"))
        return result

    async def _directory_topup(self, command: CancelTopup) -> _TopupFound | Refused:
        """A top-up made from the customer's card: (ref, customer, amount, mode, words,
        given back already)."""
        ref = f"topup:{command.topup}"
        topup = await read(self.journal, partial(reads.topup, ref=ref))
        if topup is None:
            return refused(Code.NOT_FOUND, f"no wallet top-up {command.topup}", field="topup")
        if command.mode is not None and command.mode != (topup.mode or "cash"):
            return refused(Code.CONFLICT, f"top-up {command.topup} was paid by {topup.mode or 'cash'}: "
                                          "it is given back that way", field="mode")
        cancelled = await read(self.journal, partial(reads.topup_cancelled, ref=ref))
        return ref, topup.customer, topup.delta, topup.mode or "cash", f"top-up {command.topup}", cancelled

    async def _sale_topup(self, command: CancelTopup) -> _TopupFound | Refused:
        """The top-up lines of a finished sale, given back in the mode that paid the sale
        (or, for a sale paid by several, the one of them ``mode`` names)."""
        assert command.sale is not None
        sale = await read(self.journal, partial(reads.sale_money, number=command.sale, topups=True))
        if sale is None:
            return refused(Code.NOT_FOUND, f"no sale {command.sale}", field="sale")
        if sale.cancelled_by is not None:
            return refused(Code.CONFLICT, f"sale {command.sale} was cancelled (by sale {sale.cancelled_by}): its "
                                          "top-up went with it", field="sale")
        if not sale.topup or sale.customer is None:  # a top-up goes to the sale's customer
            return refused(Code.NOT_FOUND, f"sale {command.sale} topped up no wallet", field="sale")
        # The modes that brought the money in (the customer's own money never pays a top-up).
        modes = sorted({r.mode for r in sale.rows if r.amount > 0 and r.mode not in rules.NOT_FOR_MONEY_IN})
        if command.mode is not None and command.mode not in modes:
            return refused(Code.CONFLICT, f"sale {command.sale} was paid by {', '.join(modes) or 'no money'}: its "
                                          "top-up is given back one of those ways", field="mode", modes=modes)
        if command.mode is None and len(modes) != 1:
            return refused(Code.BAD_REQUEST, f"sale {command.sale} was paid by {', '.join(modes)}: say which gives "
                                             "the top-up back (mode)", field="mode", modes=modes)
        mode = command.mode or modes[0]
        return (f"sale-topup:{command.sale}", sale.customer, sale.topup, mode, f"the top-up of sale {command.sale}",
                sale.topup_cancelled)

    async def _correct(self, caller: Caller, keyed: Keyed, command: CorrectBalance) -> CustomersResult:
        if caller.approved_by is None:
            return refused(Code.SUPERVISOR_REQUIRED, "correcting a balance needs a supervisor's PIN (supervisor_pin)")
        customer = self._customer(command.customer)
        if customer is None:
            return _not_found(command.customer)
        amount = command.amount
        if amount == 0:
            return refused(Code.BAD_REQUEST, "a correction of 0.00 changes nothing", field="amount")
        reason = command.reason.strip()
        if not reason:
            return refused(Code.BAD_REQUEST, "a correction needs a reason", field="reason")
        if amount < 0 and (refusal := self.books.can_take(customer.customer, command.account, -amount)) is not None:
            return refusal
        now = self.clock.now()
        ops = [
            MoveAccount(at=now, customer=customer.customer, account=command.account, delta=amount, kind="correction",
                        lane=caller.lane, device=caller.device, seller=caller.seller, approved_by=caller.approved_by,
                        reason=reason),
            # In the money chain as a balance correction (COR): no money moved, mode "correction".
            ReceiveMoney(kind="COR", mode="correction", amount=amount, customer=customer.customer,
                         ref=command.account, at=now, lane=caller.lane, device=caller.device, seller=caller.seller),
            self._event(caller, "BalanceCorrected", {"customer": customer.customer, "account": command.account,
                                                     "amount": amount, "reason": reason,
                                                     "approved_by": caller.approved_by}),
        ]
        result = await self._file(customer, delta=(command.account, amount))
        done = await self._commit(caller, keyed, result, *ops)
        if isinstance(done, Refused):
            return done
        self._moved(ops, done)
        return result

    async def _sell_voucher(self, caller: Caller, keyed: Keyed, command: SellVoucher) -> CustomersResult:
        amount = command.amount
        if (refusal := rules.check_amount(amount)) is not None:
            return refusal
        mode = self._mode(command.mode)
        if command.customer is not None and self._customer(command.customer) is None:
            return _not_found(command.customer)
        days = self.config.shop.voucher_valid_days if command.valid_days is None else command.valid_days
        if not 1 <= days <= 3650:
            return refused(Code.BAD_REQUEST, "valid_days must be 1 to 3650", field="valid_days")
        now = self.clock.now()
        code = new_voucher_code()
        until = rules.valid_until(self._today(now), days)
        common = dict(at=now, lane=caller.lane, device=caller.device, seller=caller.seller)
        ops = [
            IssueVoucher(code=code, amount=amount, valid_until=until, origin="sold", customer=command.customer,
                         mode=mode, **common),
            ReceiveMoney(kind="voucher", mode=mode, amount=amount, customer=command.customer, ref=f"voucher:{code}",
                         **common),
            self._event(caller, "VoucherIssued", {"code": code, "amount": amount, "mode": mode,
                                                  "customer": command.customer, "valid_until": until}),
        ]
        voucher = rules.Voucher(code=code, amount=amount, issued_at=now.isoformat(), valid_until=until,
                                customer=command.customer)
        result = self._voucher_state(voucher)
        done = await self._commit(caller, keyed, result, *ops)
        if isinstance(done, Refused):
            return done
        await self._cash_in(ops, done)
        await self._print(caller, f"voucher-{code}", 0, now, f"Bon d'achat {code}", amount, mode,
                          (f"Bon d'achat n° {code}", f"Valable jusqu'au {until.isoformat()}"))
        return result

    async def _cash_in(self, ops: list[Any], results: tuple[Any, ...]) -> None:
        """Tell the lane's drawer the cash its ``money_in`` rows took (or gave back): it
        counts it, opens, and may raise its alert (a drawer also reads what it was not
        told before each of its requests)."""
        for op, result in zip(ops, results):
            if isinstance(op, ReceiveMoney) and op.mode == "cash" and isinstance(result, int):
                drawer = self.drawers.get(op.lane or "")
                if drawer is not None:
                    await drawer.tell(CashReceived(result, op.amount))

    def _moved(self, ops: list[Any], results: tuple[Any, ...]) -> None:
        """Take into the books the balances the journal summed after our movements
        (results follow the ops one to one)."""
        for op, result in zip(ops, results):
            if isinstance(op, MoveAccount) and isinstance(result, AccountMoved):
                self.books.set_balance(op.customer, op.account, result.balance)

    # --- what a device is shown (the edge makes views of it) ----------------------------

    async def _file(self, customer: rules.Customer, delta: tuple[str, Decimal] | None = None) -> CustomerFile:
        """The customer's file; ``delta``: a movement about to be written, counted in."""
        c = customer.customer

        def load(db):
            return (reads.customer_balances(db, [c]), reads.customer_vouchers(db, c), reads.customer_history(db, c),
                    reads.customer_coupons(db, c), sum((sale.due for sale in reads.unpaid_sales(db, c)), ZERO))

        balances, vouchers, history, batches, owes = await read(self.journal, load)
        for account in rules.ACCOUNTS:
            # The database's sum is exact: it includes sales lanes wrote and have not told yet.
            self.books.set_balance(c, account, balances.get((c, account), ZERO))
        if delta is not None:
            self.books.move(c, delta[0], delta[1])
        file = CustomerFile(
            customer=self._opened(customer),
            credit=self.books.balance(c, "credit"), wallet=self.books.balance(c, "wallet"),
            credit_available=self._available(c, "credit"), wallet_available=self._available(c, "wallet"),
            vouchers=tuple(self._voucher_state(v) for v in vouchers),
            history=tuple(SaleSeen(number=n, at=at, total=total) for n, at, total in history),
            coupons=self._coupons_left(c, batches),
            owes=owes,
        )
        if delta is not None:
            # Counted for the reply only: the books take it once it is written (``_moved``).
            self.books.move(c, delta[0], -delta[1])
        return file

    def _coupons_left(self, customer: str, batches: list[coupon_rules.Batch]) -> tuple[CouponsLeft, ...]:
        return tuple(
            CouponsLeft(article=s.article, name=self.article_name(s.article), left=s.left, valid_until=s.valid_until,
                        expired=s.expired, held=self.coupons.held(customer, s.article))
            for s in coupon_rules.summaries(batches, self._today())
        )

    def _opened(self, customer: rules.Customer | None) -> rules.Customer | None:
        """``customer`` with their wallet open when the shop takes the wallet for every
        customer (``[shop] wallet``, rules/customers.py ``wallet_opened``)."""
        return None if customer is None else rules.wallet_opened(customer, self.config.shop.wallet)

    def _available(self, customer: str, account: str) -> Decimal:
        """What open tickets have not held; a sale written but not told yet is counted
        in both the balance and its hold, so never show less than zero."""
        return max(self.books.available(customer, account), ZERO)

    def _voucher_state(self, voucher: rules.Voucher) -> VoucherState:
        if voucher.used:
            status = "used"
        elif self._today() > voucher.valid_until:
            status = "expired"
        elif self.books.voucher_holder(voucher.code) is not None:
            status = "held"
        else:
            status = "valid"
        return VoucherState(voucher, status)

    async def _print(self, caller: Caller, job: str, number: int, at: dt.datetime, label: str, amount: Decimal,
                     mode: str, footer: tuple[str, ...]) -> None:
        printer = self.printers.get(caller.lane or "")
        if printer is None:
            return
        shop = self.config.shop
        receipt = Receipt(
            shop_name=shop.name, header=shop.header, lane=caller.lane or "", number=number,
            seller=caller.seller or "", at=at,
            lines=(ReceiptLine(name=label, qty=Decimal(1), unit_price=amount, total=amount, vat_rate=ZERO),),
            vat=(), total=amount, payments=(ReceiptPayment(mode=mode, amount=amount),), change=ZERO,
            footer=footer + shop.footer,
        )
        # The printer's mailbox is drained into its job queue at once; a printer that
        # is down keeps the job.
        await printer.tell(PrintReceipt(job=job, receipt=receipt))


class _Conflict(Exception):
    pass


def _name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise BadValue("a customer needs a name")
    if len(name) > MAX_NAME:
        raise BadValue(f"a name has at most {MAX_NAME} characters")
    return name


def _text(raw: str | None) -> str | None:
    if raw is None:
        return None
    return raw.strip() or None


def _not_found(customer: str) -> Refused:
    return refused(Code.NOT_FOUND, f"no customer {customer!r}", field="customer")
