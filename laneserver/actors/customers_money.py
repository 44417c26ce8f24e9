"""Money a customer brings in or takes out at a till, outside a sale: credit deposited,
the wallet topped up (numbered) or a top-up cancelled (from the card, or a sale's
top-up lines), a balance corrected (a supervisor's), a voucher sold. Each is journaled
in one unit — the movement, the money taken (``money_in``, hash-chained), the event,
the remembered reply — then the books take the new balances, the lane's drawer is told
the cash, and the slip printed (rules/receipt.py ``money_slip``).

Not an actor of its own: the customers actor owns it (actors/customers.py ``_do``) and
lends it its keyed commit (``_commit``), its events and its views.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from laneserver.actors.customers_messages import (
    CancelTopup,
    CorrectBalance,
    CustomersResult,
    DepositCredit,
    SellVoucher,
    ToppedUp,
    TopUpWallet,
)
from laneserver.actors.customers_views import CustomerViews
from laneserver.actors.drawer_messages import CashReceived
from laneserver.actors.journal import read
from laneserver.actors.messages import Caller, Keyed
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.runtime import Address
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.rules import corrections
from laneserver.rules import customers as rules
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.receipt import money_slip
from laneserver.store import reads
from laneserver.store.ops import (
    AccountMoved,
    IssueVoucher,
    MoveAccount,
    ReceiveMoney,
    RecordEvent,
)

if TYPE_CHECKING:
    from laneserver.actors.hq_holds import HqHolds

# A top-up found for wallet_topup_cancel: (ref, customer, amount, mode, words, given back already).
_TopupFound = tuple[str, str, Decimal, str, str, bool]


def new_voucher_code() -> str:
    """A voucher's code: ``V`` and 12 random digits (scannable, not guessable in practice)."""
    return f"V{secrets.randbelow(10**12):012d}"


class MoneyCommands:
    """The customers actor's money commands (owned by ``CustomersActor``)."""

    def __init__(self, *, journal: Address, config: Config, clock: Clock, books: rules.Books,
                 views: CustomerViews, printers: dict[str, Address], drawers: dict[str, Address],
                 customer: Callable[[str], rules.Customer | None], mode: Callable[[str], str],
                 event: Callable[[Caller, str, Any], RecordEvent],
                 commit: Callable[..., Awaitable[tuple[Any, ...] | Refused]], today: Callable[..., dt.date],
                 hq_holds: HqHolds | None = None) -> None:
        self.journal = journal
        # [head_office]: money taken off a wallet or credit account here is first held at
        # head office (the customer may have spent it in another shop): actors/hq_holds.py.
        self.hq_holds = hq_holds
        self.config = config
        self.clock = clock
        self.books = books
        self.printers = printers  # lane → its printer
        self.drawers = drawers  # lane → its cash drawer: told the cash taken in there
        self.next_topup = 1  # the next wallet top-up's number (read at the actor's start)
        self._customer = customer
        self._mode = mode
        self._event = event
        self._commit = commit  # the actor's: the ops and the remembered reply in one unit
        self._today = today
        self._file = views.file
        self._opened = views.opened
        self._voucher_state = views.voucher_state

    async def money_in(self, caller: Caller, keyed: Keyed, command: DepositCredit | TopUpWallet) -> CustomersResult:
        customer = self._customer(command.customer)
        if customer is None:
            return rules.not_found(command.customer)
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

    async def cancel_topup(self, caller: Caller, keyed: Keyed, command: CancelTopup) -> CustomersResult:
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
        hold = await self._hold(customer.customer, "wallet", amount, f"giving back {what}")
        if isinstance(hold, Refused):
            return hold
        now = self.clock.now()
        common = dict(at=now, customer=customer.customer, lane=caller.lane, device=caller.device, seller=caller.seller)
        ops = [
            # Held at head office: settled in this unit with ``topup_cancel|<ref>`` (store/writes.py).
            MoveAccount(account="wallet", delta=-amount, kind="topup_cancel", ref=ref, mode=mode,
                        hold=hold if isinstance(hold, int) else None, **common),
            ReceiveMoney(kind="topup_cancel", mode=mode, amount=-amount, ref=ref, **common),
            self._event(caller, "WalletTopupCancelled", {"customer": customer.customer, "topup": command.topup,
                                                         "sale": command.sale, "amount": amount, "mode": mode}),
        ]
        result = await self._file(customer, delta=("wallet", -amount))
        done = await self._commit(caller, keyed, result, *ops)
        await self._held_done(hold, done)
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
        if self.books.giving_back_under_way(command.sale):  # its give-back holds the top-up: not twice
            return refused(Code.CONFLICT, f"sale {command.sale} is being cancelled: its top-up goes back with it",
                           field="sale")
        # One of the modes that brought the money in (the customer's own money never pays
        # a top-up), and one that brought in at least the top-up.
        mode = corrections.topup_give_back(sale, command.mode, rules.NOT_FOR_MONEY_IN)
        if isinstance(mode, Refused):
            return mode
        return (f"sale-topup:{command.sale}", sale.customer, sale.topup, mode, f"the top-up of sale {command.sale}",
                sale.topup_cancelled)

    async def correct(self, caller: Caller, keyed: Keyed, command: CorrectBalance) -> CustomersResult:
        if caller.approved_by is None:
            return refused(Code.SUPERVISOR_REQUIRED, "correcting a balance needs a supervisor's PIN (supervisor_pin)")
        customer = self._customer(command.customer)
        if customer is None:
            return rules.not_found(command.customer)
        amount = command.amount
        if amount == 0:
            return refused(Code.BAD_REQUEST, "a correction of 0.00 changes nothing", field="amount")
        reason = command.reason.strip()
        if not reason:
            return refused(Code.BAD_REQUEST, "a correction needs a reason", field="reason")
        if amount < 0 and (refusal := self.books.can_take(customer.customer, command.account, -amount)) is not None:
            return refusal
        hold = None
        if amount < 0:
            hold = await self._hold(customer.customer, command.account, -amount, "a correction taking money off")
            if isinstance(hold, Refused):
                return hold
        now = self.clock.now()
        ops = [
            MoveAccount(at=now, customer=customer.customer, account=command.account, delta=amount, kind="correction",
                        lane=caller.lane, device=caller.device, seller=caller.seller, approved_by=caller.approved_by,
                        reason=reason,
                        # Held at head office: its record is found there by this ref (the hold's
                        # settle, written in this unit: store/writes.py).
                        ref=None if hold is None else f"correction:{secrets.token_hex(8)}",
                        hold=hold if isinstance(hold, int) else None),
            # In the money chain as a balance correction (COR): no money moved, mode "correction".
            ReceiveMoney(kind="COR", mode="correction", amount=amount, customer=customer.customer,
                         ref=command.account, at=now, lane=caller.lane, device=caller.device, seller=caller.seller),
            self._event(caller, "BalanceCorrected", {"customer": customer.customer, "account": command.account,
                                                     "amount": amount, "reason": reason,
                                                     "approved_by": caller.approved_by}),
        ]
        result = await self._file(customer, delta=(command.account, amount))
        done = await self._commit(caller, keyed, result, *ops)
        await self._held_done(hold, done)
        if isinstance(done, Refused):
            return done
        self._moved(ops, done)
        return result

    async def sell_voucher(self, caller: Caller, keyed: Keyed, command: SellVoucher) -> CustomersResult:
        amount = command.amount
        if (refusal := rules.check_amount(amount)) is not None:
            return refusal
        mode = self._mode(command.mode)
        if command.customer is not None and self._customer(command.customer) is None:
            return rules.not_found(command.customer)
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

    async def _hold(self, customer: str, account: str, amount: Decimal, what: str) -> int | Refused | None:
        """With ``[head_office]``: head office's hold of ``amount`` about to leave the
        account (``Refused``: short across the shops, or no answer); None without it (the
        shop's own books decide, as ever)."""
        if self.hq_holds is None:
            return None
        return await self.hq_holds.hold_movement(customer, account, amount, what)

    async def _held_done(self, hold: int | Refused | None, done: tuple[Any, ...] | Refused) -> None:
        """The movement ``hold`` covered was written (its unit settled the hold with the
        record's ``kind|ref``, ``MoveAccount.hold``: head office is told now) or not (the
        hold given back)."""
        if self.hq_holds is None or not isinstance(hold, int):
            return
        if isinstance(done, Refused):
            await self.hq_holds.movement_dropped(hold)
        else:
            self.hq_holds.movements_written()

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

    async def _print(self, caller: Caller, job: str, number: int, at: dt.datetime, label: str, amount: Decimal,
                     mode: str, footer: tuple[str, ...]) -> None:
        printer = self.printers.get(caller.lane or "")
        if printer is None:
            return
        shop = self.config.shop
        receipt = money_slip(shop_name=shop.name, header=shop.header, footer=footer + shop.footer,
                             lane=caller.lane or "", number=number, seller=caller.seller or "", at=at, label=label,
                             amount=amount, mode=mode)
        # The printer's mailbox is drained into its job queue at once; a printer that
        # is down keeps the job.
        await printer.tell(PrintReceipt(job=job, receipt=receipt))
