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
              wallet top-ups and cancels) → ops or ``Refused``; what its top-up
              cancels take off the wallet is held (the lane's ``TOPUP_CANCEL``)
              until the lane's ``Release`` of it, written or not
  Available   what an account has that open tickets do not hold → Decimal (a
              top-up cancel line is checked with it before it goes on a ticket)
  AskGiveBack (the sales actor) a sale's cancel: the ops giving its customer money back;
              what they take back off an account (a top-up of the sale, a refund
              it put on the account) is held like a lane's spend until
              GiveBackDone (tell: the cancel written or not; the accounts' balances
              re-read), so a spend in between is refused ``insufficient_funds``,
              not the cancel's unit at write time (``BooksChanged``)
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

This module is the core — the loop (``run``), the directory (customers created,
edited, head office's published customers applied), the commands (``_do``) and their
keyed commit (``_commit``). The rest is in parts it owns (not actors, called from its
loop): what lanes ask of the money (actors/customers_lanes.py: holds, settles,
give-backs), the money devices bring in or take out (actors/customers_money.py:
deposits, top-ups and their cancels, corrections, vouchers sold), what a device is
shown (actors/customers_views.py) and the coupons (actors/coupons.py).

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
from functools import partial
from typing import TYPE_CHECKING, Any, Callable

import msgspec
import trio
from msgspec import UNSET

from laneserver.actors.coupons import Coupons
from laneserver.actors.customers_lanes import LaneMoney
from laneserver.actors.customers_money import MoneyCommands
from laneserver.actors.customers_views import CustomerViews
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
    CustomersFound,
    CustomersResult,
    DepositCredit,
    EditCustomer,
    FindCustomer,
    GiveBackDone,
    PublishedApplied,
    PublishedVersion,
    Refresh,
    Release,
    ReportCouponHolds,
    ReportHolds,
    SearchCustomers,
    SellVoucher,
    ShowCustomer,
    ShowVoucher,
    TopUpWallet,
)
from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.messages import Caller, Do, Keyed
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
from laneserver.store import outbox, reads
from laneserver.store.ops import (
    PutCustomer,
    RecordEvent,
    Remember,
)

if TYPE_CHECKING:
    from laneserver.actors.hq_holds import HqHolds

SOURCE = "customers"
MAX_NAME = 200


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
        hq_holds: HqHolds | None = None,
    ) -> None:
        self.journal = journal
        self.config = config
        self.clock = clock
        self.zone = shop_zone(config.shop.timezone)  # the shop's day: validity dates
        # The modes money may come in with (cash, card…: not credit, wallet or a voucher).
        self.modes = tuple(m for m in modes if m not in rules.NOT_FOR_MONEY_IN)
        self.books = rules.Books(holds=holds if holds is not None else {})
        # Its coupons part; like ``holds``, its holds are owned by the caller to outlive a restart.
        self.coupons = Coupons(journal=journal, zone=self.zone, today=self._today, holds=coupon_holds)
        self.directory: dict[str, rules.Customer] = {}
        self.cards: dict[str, str] = {}
        self.next_customer = 1
        self.published_version = 0  # head office's customers version applied last (store/outbox.py)
        self.replies = ReplyMemory(SOURCE, CustomersResult)
        self.log = get_logger("customers")
        # Its parts (not actors: called from this loop): what devices are shown, what lanes
        # ask of the money, the money devices bring in or take out.
        self.views = CustomerViews(journal=journal, config=config, books=self.books, coupons=self.coupons,
                                   today=self._today, article_name=article_name)
        self.lanes = LaneMoney(journal=journal, config=config, directory=self.directory, books=self.books,
                               coupons=self.coupons, today=self._today, opened=self.views.opened,
                               hq_holds=hq_holds)
        self.money = MoneyCommands(journal=journal, config=config, clock=clock, books=self.books, views=self.views,
                                   printers=printers or {}, drawers=drawers or {}, customer=self._customer,
                                   mode=self._mode, event=self._event, commit=self._commit, today=self._today,
                                   hq_holds=hq_holds)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        for customer in await read(self.journal, reads.customers):
            self._put(customer)
        self.next_customer = await read(self.journal, reads.next_customer_number)
        self.money.next_topup = await read(self.journal, reads.next_topup_number)
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
                        envelope.reply(None if customer_id is None else self.views.opened(self.directory.get(customer_id)))
                    case AskHold():
                        envelope.reply(await self.lanes.hold(envelope.command))
                    case AskSettle():
                        envelope.reply(await self.lanes.settle(envelope.command))
                    case Available(customer=customer, account=account):
                        envelope.reply(self.views.available(customer, account))
                    case AskGiveBack():
                        envelope.reply(await self.lanes.give_back(envelope.command))
                    case GiveBackDone(sale=sale, written=written, every=every):
                        ended = self.books.end_giving_back(sale, every=every)
                        if written or every:  # not written: the balances did not move
                            await self._refresh(ended)
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
                        envelope.reply(await self.lanes.settle_coupons(envelope.command))
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

    def _today(self, at: dt.datetime | None = None) -> dt.date:
        """The shop's date (now, or at ``at``): vouchers and coupons are valid by it."""
        return shop_day(self.clock.now() if at is None else at, self.zone)

    def _name_of(self, customer: str) -> str:
        who = self.directory.get(customer)
        return who.name if who is not None else customer

    # --- devices' commands (from the edge, in ``Do``) ---------------------------------

    async def _do(self, do: Do) -> CustomersResult:
        first = self.replies.answered(do.caller.device, do.key, do.fingerprint, do.command)
        if first is not None:  # a retry's first reply, or the edge's refusal (actors/replies.py)
            return first
        caller, command = do.caller, do.command
        if caller.seller is None:
            return refused(Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        keyed = Keyed(do.key, do.fingerprint)
        try:
            match command:
                case ShowCustomer(customer=customer_id):
                    customer = self.directory.get(customer_id)
                    if customer is None:
                        return rules.not_found(customer_id)
                    return await self.views.file(customer)
                case SearchCustomers(text=text, limit=limit):
                    if not 1 <= limit <= 100:
                        return refused(Code.BAD_REQUEST, "limit must be between 1 and 100", field="limit")
                    return CustomersFound(tuple(rules.search(self.directory.values(), text, limit)))
                case ShowVoucher(code=code):
                    voucher = await read(self.journal, partial(reads.voucher, code=code.strip()))
                    if voucher is None:
                        return refused(Code.NOT_FOUND, f"no voucher {code!r}", reference=code)
                    return self.views.voucher_state(voucher)
                case CreateCustomer():
                    return await self._create(caller, keyed, command)
                case EditCustomer():
                    return await self._edit(caller, keyed, command)
                case DepositCredit() | TopUpWallet():
                    return await self.money.money_in(caller, keyed, command)
                case CancelTopup():
                    return await self.money.cancel_topup(caller, keyed, command)
                case CorrectBalance():
                    return await self.money.correct(caller, keyed, command)
                case SellVoucher():
                    return await self.money.sell_voucher(caller, keyed, command)
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
            log_commit_failed(self.log, error, result=type(result).__name__)
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
            return rules.not_found(command.customer)
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
        result = await self.views.file(edited)
        done = await self._commit(caller, keyed, result, PutCustomer(customer=edited, at=self.clock.now()),
                                  self._event(caller, "CustomerEdited", {"customer": edited.customer,
                                                                         "changes": changes}))
        if isinstance(done, Refused):
            self._put(customer)
            return done
        return result

    # --- what a device is shown (the edge makes views of it) ----------------------------

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

