"""The sales actor: till money after the sale (rules/corrections.py).

One per shop. A finished sale belongs to no lane any more: it may be corrected,
cancelled or paid from any till, so the changes to finished sales are serialised
here rather than in the lane that rang them (two tills cancelling the same sale,
or paying the same debt, are answered one after the other; the writer's unique
indexes — one cancel per sale, one ANL per payment row — are the last line).

Verbs: ``sale`` (a sale with its payment rows and their statuses), ``unpaid``,
``pay_later``, and, with a supervisor's PIN (checked by the session; journaled
with both the seller and the supervisor), ``payment_correct``, ``sale_cancel``
and ``debt_abandon``. Every change is new rows in the payments chain (and, for a
cancel, a counter-entry in the sales chain), journaled with its event and the
remembered reply in one unit before the answer.

After a cancel: the stock points are told the stock put back, the customers actor
the balances that moved, and the drawer of the lane that cancelled the cash given
back (the counter-entry is a sale of that lane).

Parts of it, run in this actor's task: copies of a sale's receipt and a document's
duplicates (``Reprint``, ``ReprintDocument``) are actors/sales_copies.py, the slips
of the changes printed on the till's printer actors/sales_slips.py.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

import msgspec
import trio

from laneserver.actors.customers_messages import AskGiveBack, GiveBackDone, Refresh
from laneserver.actors.drawer_messages import RowsWritten
from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.messages import Caller, Do, Keyed
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.actors.sales_copies import SaleCopies
from laneserver.actors.sales_messages import (
    AbandonDebt,
    CancelSale,
    CorrectPayment,
    Debts,
    ListDebts,
    PayDebt,
    Reprint,
    ReprintDocument,
    SaleCancelled,
    SaleNow,
    SalesResult,
    ShowSale,
    VoucherIssued,
)
from laneserver.actors.sales_slips import SaleSlips
from laneserver.actors.stock_messages import Moved
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.rules import corrections as rules
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.money import ZERO, fmt_money, parse_money
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.receipt import VatRow
from laneserver.rules.ticket import Line
from laneserver.store import reads
from laneserver.store.ops import (
    CancelRecorded,
    IssueVoucher,
    MoveAccount,
    MoveStock,
    PaymentRow,
    Printed,
    RecordCancel,
    RecordEvent,
    RecordPayments,
)

if TYPE_CHECKING:
    from laneserver.actors.hq_holds import HqHolds

SOURCE = "sales"
_lines = msgspec.json.Decoder(tuple[Line, ...])
_vat = msgspec.json.Decoder(tuple[VatRow, ...])


class SalesActor:
    def __init__(
        self,
        *,
        journal: Address,
        config: Config,
        clock: Clock,
        modes: tuple[str, ...],
        customers: Address | None = None,
        stock_points: dict[str, Address] | None = None,
        drawers: dict[str, Address] | None = None,
        printers: dict[str, Address] | None = None,
        hq_holds: HqHolds | None = None,
    ) -> None:
        self.journal = journal
        # [head_office]: the holds a cancel's give-back took (``MoveAccount.hold``) are
        # settled in its unit, or given back at once when the unit fails (actors/hq_holds.py).
        self.hq_holds = hq_holds
        self.config = config
        self.clock = clock
        self.modes = modes  # the shop's payment modes (built-in and its own)
        # A debt paid later in cash rounds to it as a payment at the till does.
        self.cash_step = parse_money(config.shop.cash_rounding, "shop.cash_rounding")
        # The modes that give change: a payment of theirs that gave it keeps its mode.
        self.change_modes = (rules.CASH, *(m.id for m in config.payment_modes if m.change))
        self.customers = customers
        self.stock_points = stock_points or {}
        self.drawers = drawers or {}
        self.printers = printers or {}  # lane → its printer: the slips of the changes made there
        self.replies = ReplyMemory(SOURCE, SalesResult)
        self.log = get_logger("sales")
        self.copies = SaleCopies(journal=journal, config=config, clock=clock, printers=self.printers,
                                 replies=self.replies, log=self.log, event=self._event, failed=self._failed)
        self.slips = SaleSlips(config=config, clock=clock, printers=self.printers)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        await self.replies.load(self.journal, self.clock.now())
        if self.customers is not None:
            # A cancel under way when this actor stopped (a crash) is not any more: what
            # its give-back held of customers' accounts is let go (balances re-read).
            await self.customers.tell(GiveBackDone(every=True))
        task_status.started()
        self.log.info("sales_started")
        try:
            async for envelope in inbox:
                with envelope:
                    match envelope.command:
                        case Do(caller=caller, command=command, key=key, fingerprint=fingerprint):
                            envelope.reply(await self._do(caller, command, key, fingerprint))
                        case other:
                            raise TypeError(f"sales got {other!r}")
        except Exception:
            # Crashed (maybe on a cancel under way): what its give-back held is let go now,
            # not at a restart that may never come (past its restart budget it stays stopped).
            if self.customers is not None:
                await self.customers.tell(GiveBackDone(every=True))
            raise

    async def _do(self, caller: Caller, command: Any, key: str | None, fingerprint: str | None) -> Any:
        """Answer a ``Do``: a ``SalesResult`` (what was read or applied, or the refusal)."""
        first = self.replies.answered(caller.device, key, fingerprint, command)
        if first is not None:  # a retry's first reply, or the edge's refusal (actors/replies.py)
            return first
        if caller.seller is None:
            return refused(Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        keyed = Keyed(key, fingerprint)
        match command:
            case ShowSale(sale=number):
                sale = await self._sale(number)
                if sale is None:
                    return _no_sale(number)
                others = await read(self.journal, partial(reads.superseding, payments=[r.number for r in sale.rows]))
                names = await read(self.journal, partial(reads.customer_names, customers=[sale.customer or ""]))
                return SaleNow(sale, others, names.get(sale.customer or ""))
            case ListDebts(customer=customer):
                found = await read(self.journal, partial(reads.unpaid_sales, customer=customer))
                names = await read(self.journal, partial(reads.customer_names,
                                                         customers=[s.customer or "" for s in found]))
                return Debts(tuple(found), names)
            case PayDebt():
                return await self._pay_later(caller, command, keyed)
            case Reprint():
                return await self.copies.reprint(caller, command, keyed)
            case ReprintDocument():
                return await self.copies.reprint_document(caller, command, keyed)
            case CorrectPayment() | CancelSale() | AbandonDebt():
                if caller.approved_by is None:
                    return refused(Code.SUPERVISOR_REQUIRED,
                                   f"{VERBS[type(command)]} needs a supervisor's PIN (supervisor_pin)")
                reason = rules.check_reason(command.reason)
                if isinstance(reason, Refused):
                    return refused(reason.code, reason.message, field="reason")
                match command:
                    case CorrectPayment():
                        return await self._correct(caller, command, reason, keyed)
                    case CancelSale():
                        return await self._cancel(caller, command, reason, keyed)
                return await self._abandon(caller, command, reason, keyed)
        return refused(Code.BAD_REQUEST, f"{type(command).__name__} is not a sales command")

    async def _sale(self, number: int) -> rules.SaleMoney | None:
        return await read(self.journal, partial(reads.sale_money, number=number, topups=True))

    # --- rows on a sale ------------------------------------------------------------------

    async def _pay_later(self, caller: Caller, command: PayDebt, keyed: Keyed) -> Any:
        sale = await self._sale(command.sale)
        if sale is None:
            return _no_sale(command.sale)
        rows = rules.pay_later(sale, mode=command.mode, amount=command.amount, modes=self.modes,
                               step=self.cash_step)
        if isinstance(rows, Refused):
            return rows
        rows = tuple(r if r.mode == rules.ROUNDING else msgspec.structs.replace(r, reference=command.reference)
                     for r in rows)
        # The money is taken at this till: its lane's drawer (from a PDA: the sale's lane).
        return await self._record(caller, keyed, sale, rows, "DebtPaid", reason=None,
                                  lane=caller.lane or sale.lane)

    async def _correct(self, caller: Caller, command: CorrectPayment, reason: str, keyed: Keyed) -> Any:
        sale = await self._sale(command.sale)
        if sale is None:
            return _no_sale(command.sale)
        rows = rules.correct(sale, command.payment, mode=command.mode, amount=command.amount, modes=self.modes,
                             change_modes=self.change_modes)
        if isinstance(rows, Refused):
            return rows
        # A correction puts right what the sale's lane took: its drawer held the cash or not.
        return await self._record(caller, keyed, sale, rows, "PaymentCorrected", reason=reason, lane=sale.lane)

    async def _abandon(self, caller: Caller, command: AbandonDebt, reason: str, keyed: Keyed) -> Any:
        sale = await self._sale(command.sale)
        if sale is None:
            return _no_sale(command.sale)
        row = rules.abandon(sale)
        if isinstance(row, Refused):
            return row
        return await self._record(caller, keyed, sale, (row,), "DebtAbandoned", reason=reason,
                                  lane=caller.lane or sale.lane)

    async def _record(self, caller: Caller, keyed: Keyed, sale: rules.SaleMoney,
                      rows: tuple[rules.NewRow, ...], kind: str, *, reason: str | None, lane: str) -> Any:
        """Write ``rows`` on ``sale`` with the event ``kind``; the answer is the sale as it is then.
        ``lane``: the lane whose drawer the rows' cash moves in (the rows' ``lane``)."""
        now = self.clock.now()

        def result(numbers: tuple[int, ...]) -> SaleNow:
            return SaleNow(_with_rows(sale, rows, numbers, now))

        debtor = None
        if sale.due - sum((r.amount for r in rows), ZERO) > 0:
            debtor = sale.customer  # a correction that leaves the sale owing: listed with the debts
        op = RecordPayments(
            sale=sale.number, at=now, rows=tuple(PaymentRow(**msgspec.structs.asdict(r)) for r in rows),
            lane=lane, device=caller.device, seller=caller.seller, approved_by=caller.approved_by,
            reason=reason, debtor=debtor, key=keyed.key, actor=self.replies.actor,
            # The row numbers come from the writer: it puts them in the stored result.
            reply=None if keyed.key is None else ReplyMemory.stored(result((0,) * len(rows))),
            holes=tuple((i, ("sale", "rows", len(sale.rows) + i, "number")) for i in range(len(rows))),
            fingerprint=keyed.fingerprint,
        )
        event = self._event(caller, kind, {
            "sale": sale.number, "rows": [msgspec.structs.asdict(r) for r in rows], "reason": reason,
            "approved_by": caller.approved_by,
        })
        try:
            [numbers, _] = await commit(self.journal, op, event)
        except CommitFailed as error:
            return self._failed(kind, keyed, error)
        answer = result(numbers)
        self.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, answer)
        self.log.info(kind, sale=sale.number, rows=len(rows), seller=caller.seller, approved_by=caller.approved_by)
        await self._tell_drawer(lane, numbers, rows, ZERO)
        await self.slips.print_rows(caller, sale, rows, kind, reason, numbers)
        return answer

    # --- cancel ----------------------------------------------------------------------------

    async def _cancel(self, caller: Caller, command: CancelSale, reason: str, keyed: Keyed) -> Any:
        sale = await self._sale(command.sale)
        if sale is None:
            return _no_sale(command.sale)
        rows = rules.cancel(sale)
        if isinstance(rows, Refused):
            return rows
        now = self.clock.now()
        lane = caller.lane or sale.lane
        stored_lines, stored_vat = await read(self.journal, partial(reads.sale_lines, number=sale.number))
        lines = tuple(msgspec.structs.replace(line, qty=-line.qty) for line in _lines.decode(stored_lines))
        vat = tuple(VatRow(v.rate, -v.base, -v.vat, -v.total) for v in _vat.decode(stored_vat))
        settled = sum((r.amount for r in rows), ZERO)  # minus what the original's rows add up to
        counter = SaleCompleted(
            lane=lane, seller=caller.seller or sale.seller, customer=sale.customer, at=now, lines=lines, vat=vat,
            total=-sale.total, paid=settled, change=-sale.change, payments=(), due=-sale.due,
        )
        # What goes back: the customers' money and coupons through the customers actor.
        back = tuple((r.mode, -r.amount, r.reference) for r in rows if r.mode in rules.CUSTOMER_MODES)
        customer_moves: tuple[Any, ...] = ()
        if back or (sale.customer is not None and self.customers is not None):
            if self.customers is None:
                return refused(Code.NOT_SUPPORTED, "giving customer money back needs the customer directory")
            try:
                given = await self.customers.ask(AskGiveBack(
                    back=back, customer=sale.customer, at=now, lane=lane, device=caller.device, seller=caller.seller,
                    approved_by=caller.approved_by, reason=reason, sale=sale.number,
                    topup_cancelled=sale.topup_cancelled))
            except ActorFailed as failed:
                if failed.maybe_applied:  # it may have held money before it failed: let go (after the ask)
                    await self._give_back_done(sale.number)
                return refused(Code.UNAVAILABLE, "the customer directory did not answer; nothing was changed, "
                                                 "try again")
            if isinstance(given, Refused):
                return given  # with its details (``available`` and ``short`` of money not there); nothing held
            customer_moves = given  # what they take off accounts is held until ``GiveBackDone``
        takes = await read(self.journal, partial(reads.sale_takes, number=sale.number))
        stock = tuple(
            MoveStock(at=now, stock_point=point, article=article, delta=qty, reason="sale_cancel",
                      device=caller.device, seller=caller.seller, source=caller.source)
            for point, article, qty in takes
        )
        given_back = rules.given_back(rows, sale.change)
        vouchers = tuple(
            VoucherIssued(code=m.code, amount=m.amount, valid_until=m.valid_until, at=m.at, origin=m.origin,
                          customer=m.customer)
            for m in customer_moves if isinstance(m, IssueVoucher)
        )

        def result(number: int, numbers: tuple[int, ...]) -> SaleCancelled:
            original = msgspec.structs.replace(sale, cancelled_by=number)
            others = {r.refers: (n, r.type) for r, n in zip(rows, numbers) if r.refers is not None}
            return SaleCancelled(number=number, sale=original, others=others, given_back=given_back,
                                 vouchers=vouchers)

        # The counter-entry's receipt prints on the till's printer: its first print.
        printed = Printed(lane=lane, device=caller.device, seller=caller.seller) \
            if caller.lane in self.printers else None
        op = RecordCancel(
            original=sale.number, printed=printed, sale=counter, rows=tuple(PaymentRow(**msgspec.structs.asdict(r)) for r in rows),
            reason=reason, approved_by=caller.approved_by or "", stock=stock, customer_moves=customer_moves,
            device=caller.device, key=keyed.key, actor=self.replies.actor,
            # The numbers come from the writer: it puts them in the stored result.
            reply=None if keyed.key is None else ReplyMemory.stored(result(0, (0,) * len(rows))),
            holes=((0, ("number",)), (0, ("sale", "cancelled_by")),
                   *((i + 1, ("others", r.refers, 0)) for i, r in enumerate(rows) if r.refers is not None)),
            fingerprint=keyed.fingerprint,
        )
        event = self._event(caller, "SaleCancelled", {
            "sale": sale.number, "total": sale.total,
            "given_back": {mode: fmt_money(amount) for mode, amount in given_back.items()}, "reason": reason,
            "approved_by": caller.approved_by,
        })
        held = tuple(m.hold for m in customer_moves if isinstance(m, MoveAccount) and m.hold is not None)
        try:
            [recorded, _] = await commit(self.journal, op, event)
        except CommitFailed as error:
            if self.hq_holds is not None:  # not written: head office's holds given back, not left to lapse
                for hold in held:
                    await self.hq_holds.movement_dropped(hold)
            if customer_moves:
                await self._give_back_done(sale.number)  # what the give-back held here, let go
            return self._failed("SaleCancelled", keyed, error)
        assert isinstance(recorded, CancelRecorded)
        if customer_moves:  # written: what it held here let go, the accounts' balances re-read with it
            await self._give_back_done(sale.number, written=True)
        if held and self.hq_holds is not None:
            self.hq_holds.movements_written()  # its unit settled them: head office is told now
        answer = result(recorded.number, recorded.payments)
        self.replies.remember_result(caller.device, keyed.key, keyed.fingerprint, answer)
        self.log.info("sale_cancelled", sale=sale.number, counter=recorded.number, seller=caller.seller,
                      approved_by=caller.approved_by)
        # After the answer: what others hold in memory learns of it.
        for point, article, qty in takes:
            address = self.stock_points.get(point)
            if address is not None:
                await address.tell(Moved(article, qty))
        touched = tuple(sorted({m.customer for m in customer_moves if getattr(m, "account", None) is not None}))
        if touched and self.customers is not None:
            await self.customers.tell(Refresh(touched))
        await self._tell_drawer(lane, recorded.payments, rows, counter.change)
        await self.slips.print_cancel(caller, sale, counter, recorded, given_back, reason)
        return answer

    # --- helpers ---------------------------------------------------------------------------

    async def _give_back_done(self, sale: int, *, written: bool = False) -> None:
        """The cancel of ``sale`` is ``written`` or will not be: the customers actor lets
        go of what its give-back held (``AskGiveBack``)."""
        if self.customers is not None:
            await self.customers.tell(GiveBackDone(sale, written=written))

    async def _tell_drawer(self, lane: str, numbers: tuple[int, ...], rows: tuple[rules.NewRow, ...],
                           change: Decimal) -> None:
        """The cash ``rows`` (numbered ``numbers``) moved, less ``change`` (a counter-entry's),
        into ``lane``'s drawer, which counts it and opens (as ``reads.cash_rows`` rebuilds it).
        A counter-entry's change is cash even with no cash row: the change a shop mode with
        ``change = true`` gave comes back into the drawer."""
        cash = [r.amount for r in rows if r.mode == rules.CASH]
        drawer = self.drawers.get(lane)
        if drawer is None or (not cash and not change) or not numbers:
            return
        await drawer.tell(RowsWritten(max(numbers), sum(cash, ZERO) - change))

    def _event(self, caller: Caller, kind: str, data: Any) -> RecordEvent:
        return RecordEvent(at=self.clock.now(), source=SOURCE, kind=kind, data=data, device=caller.device,
                           seller=caller.seller)

    def _failed(self, kind: str, keyed: Keyed, error: CommitFailed) -> Refused:
        """A unit rolled back: ``conflict`` only on the writer's own word that another
        request came first (``changed``: the sale cancelled or its payment annulled
        meanwhile, the money given back spent; ``key_reused``), else ``internal``."""
        log_commit_failed(self.log, error, command=kind)
        return ReplyMemory.failed_result(error, keyed.key, "the change could not be saved; nothing was changed")


#: The verbs, for messages that name them.
VERBS = {CorrectPayment: "payment_correct", CancelSale: "sale_cancel", AbandonDebt: "debt_abandon"}


def _with_rows(sale: rules.SaleMoney, rows: tuple[rules.NewRow, ...], numbers: tuple[int, ...],
               at: dt.datetime) -> rules.SaleMoney:
    added = tuple(rules.Row(number=n, type=r.type, mode=r.mode, amount=r.amount, reference=r.reference,
                            refers=r.refers, at=at.isoformat()) for r, n in zip(rows, numbers))
    return msgspec.structs.replace(sale, rows=sale.rows + added)



def _no_sale(number: int) -> Refused:
    return refused(Code.NOT_FOUND, f"no sale {number}", field="sale")
