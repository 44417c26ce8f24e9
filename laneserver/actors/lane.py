"""The lane actor: one checkout's open ticket and held tickets.

A thin loop around ``rules.lane.apply``: receive a domain command (``Do`` with a rule
command of rules/lane.py or one of actors/lane_messages.py's), apply it, journal the
events and the new state (durably, before answering), answer a domain result
(lane_messages: ``TicketChanged``, ``SaleDone``…, or ``Refused``), then deliver the
ticket to every other session of the lane (the one that asked has it in its reply:
``Caller.origin``), then tell the others what the change did. Each change is one more
``rev`` of the open ticket (``rules.lane.revised``), journaled with the state. The wire
is the edge's (server/edge_lane.py): it builds the commands from requests and encodes
the results.

What a change needs from the lane's neighbours — stock reserved, coupons and money
held, a sale's settles, what it took, the drawer, the receipt, the invoice — is a plan
computed by a pure function (rules/lane_plan.py) from the states before and after; the
actor executes any plan the same way (``_ask_all``, the commit, ``_tell_all``), giving
back what was granted when the change is not made. A payment charged on the lane's
card terminal or held on a customer's account is prepared first by the lane's
payments part (actors/lane_payments.py). A sale's receipt is built in
rules/sale_receipt.py; its invoice's PDF is written by the invoices actor
(actors/invoices.py), off this task.

The lane's state lives in the journal (each request appends what it changed to
``lane_changes``, rules/lane_journal.py; now and then the state is written whole to
``lane_states``), so a restart — of the actor by its supervisor, or of the whole
process after ``kill -9`` — rebuilds it exactly as the last acknowledged request left
it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec
import trio

from laneserver.actors.customers_messages import AskSettle, Available, FindCustomer, Refresh, Release
from laneserver.actors.customers_messages import AskCouponHold, AskCouponSettle, CountCoupons, ReportCouponHolds
from laneserver.actors.device_messages import ShowTicket
from laneserver.actors.documents_messages import (
    CloseDocuments,
    DocumentMade,
    FindDocument,
    InvoiceNotes,
    IssueDocument,
    LaneResults,
    MakeDocument,
    RecallDocument,
    ReplyTo,
)
from laneserver.actors.drawer_messages import SaleFinished
from laneserver.actors.invoice_messages import RenderInvoice
from laneserver.actors.journal import CommitFailed, ReadFailed, commit, read
from laneserver.actors.lane_payments import LanePayments, filtered, find_customer
from laneserver.actors.lane_messages import (
    Basket,
    BasketAdded,
    BasketArrived,
    BasketParkedResult,
    CanTakeParked,
    ChooseCustomer,
    GetHeld,
    GetReceipt,
    GetTicket,
    HeldTickets,
    LaneWork,
    OpenWork,
    IssuedVoucher,
    ParkedHandOver,
    LaneResult,
    LaneTicket,
    Receipted,
    SaleDone,
    SaleReceipt,
    ScanCard,
    StockWarning,
    TicketChanged,
    TicketHeld,
)
from laneserver.actors.messages import Caller, DeviceStatus, Do
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.publisher import Publisher
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.actors.stock_messages import AskReserve, CostsChanged, Reserve, Taken
from laneserver.clock import Clock, shop_day, shop_zone
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.rules import lane as rules
from laneserver.rules import payment as payments
from laneserver.rules import customers as customer_rules
from laneserver.rules import coupons as coupon_rules
from laneserver.rules import invoice as invoices
from laneserver.rules import documents
from laneserver.rules import lane_journal, lane_plan
from laneserver.rules.catalog import Catalog
from laneserver.rules.costs import CostBook, unit_cost
from laneserver.rules.customer_display import Sale
from laneserver.rules.money import ZERO, fmt_money, parse_money
from laneserver.rules.receipt import Receipt, ReceiptLine, ReceiptPayment
from laneserver.rules.ticket import vat_breakdown
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.stock import OutOfStock, StockTakes, effective_policy, exact, fmt_stock
from laneserver.rules.copies import signature
from laneserver.rules.sale_receipt import sale_receipt
from laneserver.rules.lane_sums import LaneSums, coupon_contributions, stock_contributions, ticket_customer
from laneserver.rules.ticket import topups_in_out
from laneserver.store import reads
from laneserver.store.documents import invoice_of_return
from laneserver.store.ops import AppendLaneChange, ChainRecord, IssueVoucher, Printed, RecordEvent, RecordSale, Remember, SaleRecorded

# The built-in payment modes the lane handles (rules/payment.py's one table); the
# shop's own modes ([[payment_modes]]) come on top, see ``payment_policy``.
PAYMENT_MODES = tuple(mode.id for mode in payments.BUILTIN_MODES)


def payment_policy(config: Config) -> payments.Policy:
    """The shop's payment settings as the lane's rules apply them."""
    shop = config.shop
    own = tuple(payments.Mode(m.id, m.label or m.id, change=m.change) for m in config.payment_modes)
    return payments.Policy(
        cash_step=parse_money(shop.cash_rounding, "shop.cash_rounding"),
        meal_voucher_cap=parse_money(shop.meal_voucher_cap, "shop.meal_voucher_cap"),
        modes=payments.BUILTIN_MODES + own,
        auto_finish=shop.auto_finish,
    )


class _Asked(msgspec.Struct, frozen=True):
    """A command as the edge sent it (``Receipted``, ``Basket``, a rule command…), with
    its idempotency key and fingerprint: what the result and its journaling depend on."""

    command: Any
    key: str | None = None
    fingerprint: str | None = None

    @property
    def receipt(self) -> str | None:
        return self.command.receipt if isinstance(self.command, Receipted) else None


class _Granted:
    """What a plan's asks granted: the invoice (``Bill``), the journal ops of a sale's
    settles, the stock warnings of a reservation."""

    def __init__(self) -> None:
        self.invoice: invoices.Invoice | None = None
        self.moves: list[Any] = []
        self.warnings: tuple[StockWarning, ...] = ()


@dataclass(frozen=True, slots=True)
class _Written:
    """A sale the journal wrote, as the tells after it need it."""

    sale: rules.SaleCompleted
    recorded: SaleRecorded
    vouchers: tuple[IssuedVoucher, ...]
    invoice: invoices.Invoice | None


#: How many of its last sales' receipts a lane keeps for ``receipt`` (the till asks right after finish).
RECEIPTS_KEPT = 20


class LaneActor:
    def __init__(
        self,
        lane: str,
        *,
        config: Config,
        journal: Address,
        catalog: Catalog,
        stock: Address,
        printer: Address | None,
        clock: Clock,
        publisher: Publisher | None = None,
        terminal: Address | None = None,
        drawer: Address | None = None,
        customers: Address | None = None,
        costs: CostBook | None = None,
        invoices: Address | None = None,
        display: Address | None = None,
        documents: Address | None = None,
        hq_holds: Any = None,
    ) -> None:
        self.lane = lane
        self.config = config
        self.journal = journal
        self.catalog = catalog
        self.stock = stock
        self.stock_point = config.stock_point_of(lane)
        self.payments = payment_policy(config)
        self.printer = printer
        self.drawer = drawer  # the lane's cash drawer actor: takes a sale's cash and opens
        self.customers = customers  # the shop's customers actor: credit, wallet and vouchers
        # The purchase costs of the lane's stock point (its actor writes them): read on
        # each line added to flag a sale below cost, with no round trip (rules/costs.py).
        self.costs = costs if costs is not None else CostBook()
        # One unit's cost per article (``unit_cost``: its stock articles' costs, its kit's
        # components), worked out on its first line and kept until the costs change.
        self._unit_costs: dict[str, Any] = {}
        self.clock = clock
        self.zone = shop_zone(config.shop.timezone)  # the shop's day (cheque instalments)
        self._receipts: dict[int, Receipt] = {}  # the last sales' receipts, for the till's screen
        # The lane's sessions (actors/publisher.py): made by the shop, it outlives a
        # restart of this actor; the lane only tells it each new ticket and device status.
        self.publisher = publisher if publisher is not None else Publisher(f"lane:{lane}")
        self.state = rules.LaneState(lane=lane)
        self.replies = ReplyMemory(f"lane:{lane}", LaneResults)  # its results and the documents it made
        self.log = get_logger("lane", lane=lane)
        # Its card terminal and customers' money: what a payment is charged or held first.
        self.paying = LanePayments(lane, config=config, clock=clock, terminal=terminal, customers=customers,
                                   log=self.log, hq_holds=hq_holds)  # hq_holds: actors/hq_holds.py, [head_office]
        self._takes = StockTakes(catalog.get)  # what reserving / selling a quantity takes from stock
        # What the tickets hold (stock, coupons), kept from one state to the next (rules/lane_sums.py).
        self._reservations: LaneSums[str] = LaneSums(stock_contributions(self._takes.takes))
        self._coupons: LaneSums[tuple[str, str]] = LaneSums(coupon_contributions, context=ticket_customer)
        self._last_ticket: LaneTicket | None = None
        self._last_ticket_state: rules.LaneState | None = None
        self.invoices = invoices  # the invoices actor: writes an invoice's PDF off this task
        self.display = display  # the lane's customer display (actors/display.py): told, never waited on
        self.documents = documents  # quotes, orders, delivery notes (actors/documents.py)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        stored = await read(self.journal, partial(reads.lane_state, lane=self.lane))
        if stored is not None:
            self.state = stored
        await self.replies.load(self.journal, self.clock.now())
        await self._report_reservations()
        await self.paying.report_holds(self.state)
        await self._report_coupon_holds()
        task_status.started()
        self.log.info("lane_started", lines=len(self.state.ticket.lines), held=len(self.state.held))
        self._publish_ticket()
        self._show()
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case Do(caller=caller, command=command, key=key, fingerprint=fingerprint):
                        await self._do(envelope, caller, _Asked(command, key, fingerprint))
                    case CostsChanged(costs=costs, whole=whole):  # from the stock point (rules/costs.py)
                        self.costs.update(costs, whole=whole)
                        self._unit_costs.clear()
                    case DeviceStatus(frame=frame, kind=kind):  # the publisher keeps the newest for newcomers
                        self.publisher.publish(frame, kind)
                    case other:
                        raise TypeError(f"lane {self.lane} got {other!r}")
        self.log.info("lane_stopped")

    # --- commands --------------------------------------------------------------------

    async def _do(self, envelope, caller: Caller, asked: _Asked) -> None:
        remembered = self.replies.recall_result(caller.device, asked.key, asked.fingerprint)
        if remembered is not None:
            envelope.reply(remembered)
            return
        command = asked.command
        match command:
            case Refused():  # refused by the edge; keyed, it came here to be recalled first
                envelope.reply(command)
                return
            case GetTicket():
                envelope.reply(self.ticket(self.state))
                return
            case GetReceipt(sale=number):
                receipt = self._receipts.get(number)
                envelope.reply(SaleReceipt(number, receipt) if receipt is not None else refused(
                    Code.NOT_FOUND, f"sale {number} is not one of lane {self.lane}'s last sales since it started",
                    field="sale"))
                return
            case GetHeld():
                envelope.reply(HeldTickets(self.state.held))
                return
            case CanTakeParked():
                envelope.reply(None if self.state.ticket.is_empty else refused(
                    Code.CONFLICT, "the open ticket is not empty: hold or finish it before recalling a parked basket"))
                return
            case OpenWork():
                ticket = self.state.ticket
                envelope.reply(LaneWork(self.lane, len(ticket.lines), len(ticket.payments),
                                        tuple(h.held for h in self.state.held)))
                return
            case Receipted():  # a pay or finish with the receipt asked for: the rule command inside
                command = command.command
            case MakeDocument() | RecallDocument() | InvoiceNotes():
                await self._document(envelope, caller, asked)
                return
            case Basket(lines=lines):
                if not lines:
                    envelope.reply(refused(Code.BAD_REQUEST, "the basket has no lines"))
                    return
                if command.source is None:  # the edge tags every basket (server/edge_lane.py)
                    raise TypeError(f"lane {self.lane}: a basket without its source")
                command = list(lines)
        command = await self._customer_command(command)
        if isinstance(command, Refused):  # a refusal found while looking the customer up
            envelope.reply(command)
            return
        basket = asked.command if isinstance(asked.command, Basket) else None
        # costs, deposits, coupons (a parked basket has no customer: no coupon of the open ticket's)
        command = await self._linked(self._costed(command), with_customer=basket is None or not basket.park)
        if isinstance(command, Refused):
            envelope.reply(command)
            return
        if basket is not None:  # the basket's lines as one rule command (rules/lane.py)
            assert basket.source is not None
            lines = tuple(command)
            command = (rules.Park(seller=basket.source.seller, source=basket.source, lines=lines) if basket.park
                       else rules.EmptyBasket(seller=basket.source.seller, source=basket.source, lines=lines,
                                              append=basket.append))
        if not self.paying.handles(self.state, command):
            await self._apply(envelope, caller, asked, command)
            return
        # A card charged, or a customer's money held, first (actors/lane_payments.py).
        prepared = await self.paying.prepare(self.state, command)
        if isinstance(prepared, Refused):
            envelope.reply(prepared)
            return
        before = self.state
        await self._apply(envelope, caller, asked, prepared.command, holding=prepared.holding)
        charged = prepared.charged
        if charged is not None and self.state is before:
            # Charged but not recorded (the journal refused the unit): the money was
            # taken. Say so loudly, with what the terminal's own journal shows.
            self.log.error("card_charged_not_recorded", reference=charged.reference,
                           authorisation=charged.authorisation, amount=str(charged.amount))

    def _costed(self, command: Any) -> Any:
        """Lines with their unit cost at the lane's stock point, so a sale below cost is
        flagged (``AddLine.cost``)."""
        if isinstance(command, list):
            return [self._costed(one) for one in command]
        if isinstance(command, rules.AddLine):
            article = command.article.id
            kept = self._unit_costs
            if article in kept:
                cost = kept[article]
            else:
                cost = kept[article] = unit_cost(article, self.catalog.get, self.costs)
            return msgspec.structs.replace(command, cost=cost)
        return command

    async def _apply(self, envelope, caller: Caller, asked: _Asked, command, *, holding: int | None = None) -> None:
        """Apply ``command``, then run its plan (rules/lane_plan.py): the asks, the
        commit, the answer, the tells. ``holding``: a customer payment held for it
        (``_pay_from_customer``), let go if the change is not made."""
        now = self.clock.now()
        state = self.state
        events: list[Any] = []
        for one in command if isinstance(command, list) else [command]:
            result = rules.apply(state, one, now=now)
            if isinstance(result, Refused):
                envelope.reply(filtered(result))
                await self._tell_all(lane_plan.not_made(holding))
                return
            state = result.state
            events.extend(result.events)
        state = rules.revised(self.state, state)  # one request, one change: rev + 1
        sale = next((e for e in events if isinstance(e, rules.SaleCompleted)), None)
        plan = lane_plan.plan(
            lane_plan.Change(before=self.state, after=state, sale=sale,
                             reserved_before=self._reserved(self.state), reserved_after=self._reserved(state),
                             coupons_before=self._coupon_holds(self.state), coupons_after=self._coupon_holds(state),
                             receipt=asked.receipt, holding=holding),
            takes=self._takes.takes, checked=self._checked, article=self.catalog.get,
        )
        if isinstance(plan, Refused):
            envelope.reply(plan)
            await self._tell_all(lane_plan.not_made(holding))
            return
        granted = await self._ask_all(plan, caller, sale)
        if isinstance(granted, Refused):
            envelope.reply(granted)
            return
        ops: list[Any] = [
            RecordEvent(at=now, source=f"lane:{self.lane}", kind=type(e).__name__, data=e,
                        device=caller.device, seller=caller.seller)
            for e in events
        ]
        ops.append(AppendLaneChange(change=lane_journal.diff(self.state, state), state=state, at=now))
        moves = tuple(granted.moves)
        vouchers = _remainder_vouchers(moves)
        if sale is not None and granted.invoice is not None and sale.total < 0 and sale.customer is not None:
            # A return billed to a customer: a credit note referring to their invoice (rules/documents.py).
            returned = frozenset(l.article for l in sale.lines if l.qty < 0 and l.article is not None)
            try:
                names = frozenset(l.name for l in sale.lines if l.qty < 0)
                refers = await read(self.journal, partial(invoice_of_return, customer=sale.customer,
                                                          articles=returned, names=names))
            except (ReadFailed, ActorFailed):
                envelope.reply(refused(Code.UNAVAILABLE, "the invoices could not be read; nothing was changed, "
                                                         "try again"))
                await self._tell_all(plan.give_backs())
                return
            ops.append(ChainRecord(chain="credit_note", at=now, record=documents.credit_note_record(
                customer=sale.customer, lane=self.lane, seller=sale.seller, lines=sale.lines, total=sale.total,
                refers=refers)))
        if sale is not None:
            # Its numbers come from the journal's unit, which sets them in the stored result.
            done: LaneResult = SaleDone(number=0, total=sale.total, change=sale.change, due=sale.due,
                                        vouchers=vouchers, now=self.ticket(state))
            ops.append(RecordSale(sale=sale, stock_point=self.stock_point, device=caller.device,
                                  key=asked.key, actor=self.replies.actor, takes=plan.takes,
                                  reply=None if asked.key is None else self.replies.stored(done),
                                  fingerprint=asked.fingerprint,
                                  customer_moves=moves, invoice=granted.invoice,
                                  printed=self._printed(plan, caller)))
        else:
            done = self._result(asked, state, events, granted.warnings)
            if asked.key is not None:
                ops.append(Remember(device=caller.device, key=asked.key, actor=self.replies.actor,
                                    fingerprint=asked.fingerprint, reply=self.replies.stored(done), at=now))
        try:
            results = await commit(self.journal, *ops)
        except CommitFailed as error:
            self.log.error("commit_failed", error=str(error), command=type(asked.command).__name__)
            envelope.reply(self.replies.failed_result(error, asked.key,
                                                      "the change could not be saved; nothing was changed"))
            await self._tell_all(plan.give_backs())  # what was granted for nothing
            return
        self.state = state
        recorded: SaleRecorded | None = next((r for r in results if isinstance(r, SaleRecorded)), None)
        written: _Written | None = None
        if sale is not None and recorded is not None:
            done = msgspec.structs.replace(done, number=recorded.number, invoice=recorded.invoice)
            written = _Written(sale, recorded, vouchers, granted.invoice)
            # Its receipt, for the till's screen (``receipt``): the last few sales' only.
            self._receipts[recorded.number] = self._receipt(written, local=True)
            while len(self._receipts) > RECEIPTS_KEPT:
                del self._receipts[next(iter(self._receipts))]
            self.log.info("sale_completed", number=recorded.number, total=str(sale.total), seller=sale.seller)
        self.replies.remember_result(caller.device, asked.key, asked.fingerprint, done)
        envelope.reply(done)
        # After the answer: what others learn from it. None of it can undo the change.
        # The session that asked has the ticket in its reply: it gets no event for it.
        self._publish_ticket(skip=caller.origin)
        self._show(sale)
        for event in events:  # the till's banner: a PDA's basket is on its ticket
            if isinstance(event, rules.BasketEmptied):
                self.publisher.publish(BasketArrived(lane=self.lane, basket=event.basket, device=event.device,
                                                     seller=event.seller, lines=event.lines,
                                                     appended=event.appended), "basket")
        await self._tell_all(plan.tells, written)

    # --- the plan's steps (rules/lane_plan.py): which neighbour, which message ----------

    async def _ask_all(self, plan: lane_plan.Plan, caller: Caller,
                       sale: rules.SaleCompleted | None) -> _Granted | Refused:
        """The plan's asks in order; on a refusal, what the earlier ones granted is
        given back (``Plan.give_backs``) and the refusal returned."""
        granted = _Granted()
        for done, ask in enumerate(plan.asks):
            answer = await self._ask(ask.step, caller, sale, granted)
            if isinstance(answer, Refused):
                await self._tell_all(plan.give_backs(done))
                return answer
        return granted

    async def _ask(self, step: Any, caller: Caller, sale: rules.SaleCompleted | None,
                   granted: _Granted) -> Refused | None:
        """One ask: its answer added to ``granted``, or its refusal (a neighbour that
        did not answer: ``unavailable``, nothing changed)."""
        match step:
            case lane_plan.Bill(customer=customer):
                assert sale is not None
                invoice = await self._invoice(sale, customer)
                if isinstance(invoice, Refused):
                    return invoice
                granted.invoice = invoice
            case lane_plan.ReserveStock(before=before, after=after):
                try:
                    decision = await self.stock.ask(AskReserve(self.lane, before, after))
                except ActorFailed:
                    return refused(Code.UNAVAILABLE, "the stock point did not answer; nothing was changed, try again")
                if isinstance(decision, OutOfStock):
                    return self._out_of_stock(decision)
                granted.warnings = tuple(StockWarning(article=a, stock_point=self.stock_point, available=exact(v))
                                         for a, v in decision.warnings)
            case lane_plan.HoldCoupons(holds=holds):
                return await self._ask_customers(AskCouponHold(self.lane, holds), granted,
                                                 "coupons need the customer directory")
            case lane_plan.SettleAccounts():
                return await self._ask_customers(
                    AskSettle(lane=self.lane, payments=step.payments, at=step.at, device=caller.device,
                              seller=step.seller, customer=step.customer, topup=step.topup,
                              topup_cancel=step.topup_cancel, topup_mode=step.topup_mode),
                    granted, "customer payments need the customer directory")
            case lane_plan.SettleCoupons():
                return await self._ask_customers(
                    AskCouponSettle(lane=self.lane, customer=step.customer, uses=step.uses, credits=step.credits,
                                    at=step.at, device=caller.device, seller=step.seller),
                    granted, "subscriptions and coupons need the customer directory")
            case other:
                raise TypeError(f"lane {self.lane}: no ask for {other!r}")
        return None

    async def _ask_customers(self, message: Any, granted: _Granted, missing: str) -> Refused | None:
        """Ask the customers actor: None (a hold) or journal ops (a settle) granted."""
        if self.customers is None:
            return refused(Code.NOT_SUPPORTED, missing)
        try:
            answer = await self.customers.ask(message)
        except ActorFailed:
            return refused(Code.UNAVAILABLE, "the customer directory did not answer; nothing was changed, try again")
        if isinstance(answer, Refused):
            return filtered(answer)
        if answer is not None:
            granted.moves.extend(answer)
        return None

    def _out_of_stock(self, decision: OutOfStock) -> Refused:
        article = self.catalog.get(decision.article)
        name = f" ({article.name})" if article is not None else ""
        return refused(
            Code.OUT_OF_STOCK,
            f"only {fmt_stock(decision.available)} of {decision.article}{name} available at "
            f"{self.stock_point}: this shop does not sell below zero stock",
            article=decision.article, available=fmt_stock(decision.available), stock_point=self.stock_point,
        )

    async def _tell_all(self, steps: tuple[Any, ...], written: _Written | None = None) -> None:
        """The tells in order (after a commit: ``written`` is the sale it wrote, if any).
        A step for a neighbour the lane does not have is skipped."""
        for step in steps:
            match step:
                case lane_plan.SetReservations(quantities=quantities):
                    await self.stock.tell(Reserve(self.lane, quantities))
                case lane_plan.TakeStock(taken=taken, reserved=reserved):
                    if written is not None:
                        await self.stock.tell(Taken(taken, lane=self.lane, reserved=reserved))
                case lane_plan.SetCouponHolds(holds=holds):
                    if self.customers is not None:
                        await self.customers.tell(ReportCouponHolds(self.lane, holds))
                case lane_plan.ReleasePayments(payments=numbers):
                    await self.paying.released(numbers)  # head office's holds (actors/hq_holds.py)
                    if self.customers is not None:
                        await self.customers.tell(Release(self.lane, numbers))
                case lane_plan.RefreshWallets(customers=touched):
                    if self.customers is not None and written is not None:
                        await self.customers.tell(Refresh(touched))
                case lane_plan.DrawSale(payments=paid, change=change):
                    if self.drawer is not None and written is not None:  # cash in the drawer, which opens
                        await self.drawer.tell(SaleFinished(written.recorded.number, paid, change))
                case lane_plan.PrintReceipt():
                    if written is not None:
                        await self._print(written)
                case lane_plan.WriteInvoice():
                    if written is not None:
                        self._write_invoice(written)
                case other:
                    raise TypeError(f"lane {self.lane}: no tell for {other!r}")

    def _result(self, asked: _Asked, state: rules.LaneState, events: list[Any],
                warnings: tuple[StockWarning, ...]) -> LaneResult:
        match asked.command:
            case rules.Hold():
                held = next(e.held for e in events if isinstance(e, rules.TicketHeld))
                return TicketHeld(held=held, now=self.ticket(state))
            case Basket(basket=basket, lines=lines, park=False):
                return BasketAdded(basket=basket, lines=len(lines), now=self.ticket(state), warnings=warnings)
            case Basket(basket=basket, lines=lines, park=True):
                parked = next(e for e in events if isinstance(e, rules.BasketParked))
                return BasketParkedResult(basket=basket, lane=self.lane, held=parked.held, barcode=parked.barcode,
                                          lines=len(lines), total=parked.total, warnings=warnings)
            case rules.GiveParked():
                given = next(e for e in events if isinstance(e, rules.ParkedGiven))
                return ParkedHandOver(held=given.held)
        return TicketChanged(now=self.ticket(state), warnings=warnings)

    def ticket(self, state: rules.LaneState) -> LaneTicket:
        """The open ticket of ``state`` with its ``rev``: one value per state, shared by
        the reply to the change and the ``ticket`` event to the other sessions (the
        edge encodes it once). States are frozen values: the same object always shows
        the same ticket."""
        if self._last_ticket is not None and self._last_ticket_state is state:
            return self._last_ticket
        value = LaneTicket(lane=self.lane, ticket=state.ticket, rev=state.rev)
        self._last_ticket, self._last_ticket_state = value, state
        return value

    # --- after a change ------------------------------------------------------------

    def _publish_ticket(self, *, skip: object = None) -> None:
        """The open ticket to the lane's sessions, but ``skip`` (the session whose
        request made the change: its reply carries the ticket)."""
        self.publisher.publish(self.ticket(self.state), "ticket", skip=skip)

    def _show(self, sale: rules.SaleCompleted | None = None) -> None:
        """The open ticket (and the sale the change finished) to the lane's customer
        display, which works out what to show (rules/customer_display.py). Never waits:
        a display that is slow or gone leaves its mailbox full, and the display shows
        only the newest anyway (a restarted one starts from the publisher's ticket)."""
        if self.display is None:
            return
        shown = ShowTicket(self.state.ticket, None if sale is None else Sale(sale.total, sale.change))
        if not self.display.tell_nowait(shown):
            self.log.debug("display_update_dropped")

    def _checked(self, stock_article: str) -> bool:
        """Whether the stock point must be asked before this article's reservation grows."""
        article = self.catalog.get(stock_article)
        return effective_policy(self.config.shop.negative_stock,
                                article.negative_stock if article is not None else "") != "allow"

    def _reserved(self, state: rules.LaneState) -> dict[str, Any]:
        """What the tickets hold back, per stock article (a glass: 1/6 of its bottle).

        Asked twice per request (before and after); the state before is the one the
        previous request ended with, so the last answer is kept, and a scan only adds
        its line to it (rules/lane_sums.py: not every line of every ticket again).
        """
        return self._reservations.of(state)

    async def _report_reservations(self) -> None:
        """At start: what the lane's tickets hold (a tell: it was granted before)."""
        await self.stock.tell(Reserve(self.lane, self._reserved(self.state)))

    def _printed(self, plan: lane_plan.Plan, caller: Caller) -> Printed | None:
        """Whether the sale's receipt is printed after its commit: then the sale's unit
        writes its first print in the ``copy`` chain (rules/copies.py), counter 1."""
        if self.printer is None or not any(isinstance(t, lane_plan.PrintReceipt) for t in plan.tells):
            return None
        return Printed(lane=self.lane, device=caller.device, seller=caller.seller)

    def _ticket_text(self, article_id: str) -> str:
        """The text the catalog prints under an article's lines ("" for none)."""
        article = self.catalog.get(article_id)
        return article.ticket_text if article is not None else ""

    async def _print(self, written: _Written) -> None:
        """The sale's receipt to the lane's printer (rules/sale_receipt.py)."""
        if self.printer is None:
            return
        number = written.recorded.number
        receipt = self._receipt(written)
        # The printer's mailbox is drained into its own job queue at once, so
        # this waits at most for a moment; a printer that is down keeps the job.
        await self.printer.tell(PrintReceipt(job=f"sale-{number}", receipt=receipt))

    def _receipt(self, written: _Written, *, local: bool = False) -> Receipt:
        """The sale's receipt (rules/sale_receipt.py); ``local``: its time in the shop's
        zone, as the printer prints it (the finish reply carries its text)."""
        shop = self.config.shop
        receipt = sale_receipt(written.sale, number=written.recorded.number, shop_name=shop.name, header=shop.header,
                               footer=shop.footer, policy=self.payments, vouchers=written.vouchers,
                               balances=written.recorded.balances, invoice=written.recorded.invoice,
                               signature=signature(written.recorded.hash), ticket_text=self._ticket_text)
        if local:
            receipt = msgspec.structs.replace(receipt, at=receipt.at.astimezone(self.zone))
        return receipt

    # --- invoices (business customers; rules/invoice.py) -------------------------------

    async def _invoice(self, sale: rules.SaleCompleted, customer: str) -> invoices.Invoice | Refused:
        """What the sale's invoice shows: the customer as the directory has them now."""
        found = await find_customer(self.customers, FindCustomer(customer=customer))
        if isinstance(found, Refused):
            return found
        if found is None:
            return refused(Code.NOT_FOUND, f"no customer {customer!r}", field="customer")
        shop = self.config.shop
        return invoices.make_invoice(
            # Its date: the shop's (timestamps are UTC).
            lines=sale.lines, at=sale.at.astimezone(self.zone), lane=sale.lane, seller=sale.seller,
            customer=found.customer,
            customer_name=found.name, customer_contact=found.contact, shop_name=shop.name, header=shop.header,
            payments=tuple(invoices.InvoicePayment(self._mode_label(p), p.amount) for p in sale.payments),
            change=sale.change, rounding=sale.rounding, due=sale.due,
        )

    def _mode_label(self, payment) -> str:
        mode = self.payments.mode(payment.mode)
        label = mode.label if mode is not None else payment.mode
        return f"{label} ({payment.reference})" if payment.reference and payment.mode == "cheque" else label

    def _write_invoice(self, written: _Written) -> None:
        """The invoice's PDF, written by the invoices actor (actors/invoices.py) off the
        lane's task once the sale is durable. Never waits: a full mailbox (or no
        invoices actor: tests) leaves it to the ``invoice`` request, which renders a
        missing PDF from the database."""
        invoice, number = written.invoice, written.recorded.invoice
        if self.invoices is None or invoice is None or number is None:
            return
        invoice = msgspec.structs.replace(invoice, number=number, sale=written.recorded.number)
        if not self.invoices.tell_nowait(RenderInvoice(invoice)):
            self.log.warning("invoice_render_deferred", invoice=number, sale=written.recorded.number)

    # --- documents: quotes, orders, delivery notes (rules/documents.py) ----------------

    async def _document(self, envelope, caller: Caller, asked: _Asked) -> None:
        """The open ticket made a document, or a document made the open ticket: the
        lane's new state is written by the documents actor in the same unit as the
        document's records (actors/documents.py) and, for a keyed request, as its reply
        (remembered like any lane change's: a retry gets it, ``_do``), then the plan's
        tells run."""
        command = asked.command
        if self.documents is None:
            envelope.reply(refused(Code.NOT_SUPPORTED, "this server keeps no documents"))
            return
        now = self.clock.now()
        if isinstance(command, MakeDocument):
            made = documents.issue(
                self.state.ticket, kind=command.kind, at=now, lane=self.lane, seller=command.seller,
                stock_point=self.stock_point, zone_day=shop_day(now, self.zone), valid_months=command.valid_months,
                deposit=command.deposit, due=command.due, delivery=command.delivery, address=command.address,
                shipping=command.shipping)
            if isinstance(made, Refused):
                envelope.reply(made)
                return
            ticket = rules.Ticket()
        else:
            found = await self._documents_to_recall(command)
            if isinstance(found, Refused):
                envelope.reply(found)
                return
            ticket = found
        state = rules.revised(self.state, msgspec.structs.replace(self.state, ticket=ticket))
        plan = lane_plan.plan(
            lane_plan.Change(before=self.state, after=state, sale=None,
                             reserved_before=self._reserved(self.state), reserved_after=self._reserved(state),
                             coupons_before=self._coupon_holds(self.state), coupons_after=self._coupon_holds(state),
                             receipt=None, holding=None),
            takes=self._takes.takes, checked=self._checked, article=self.catalog.get,
        )
        if isinstance(plan, Refused):
            envelope.reply(plan)
            return
        if isinstance(command, RecallDocument) and command.kind == "order":
            # The order's stock is reserved already (by the documents actor, which lets go
            # of it in the recall's unit): the ticket takes that reservation over unasked,
            # so a shop that refuses to sell below zero never refuses its own order.
            plan = msgspec.structs.replace(
                plan, asks=tuple(a for a in plan.asks if not isinstance(a.step, lane_plan.ReserveStock)),
                tells=(*plan.tells, lane_plan.SetReservations(self._reserved(state))))
        granted = await self._ask_all(plan, caller, None)
        if isinstance(granted, Refused):
            envelope.reply(granted)
            return
        ops: tuple[Any, ...] = (AppendLaneChange(change=lane_journal.diff(self.state, state), state=state, at=now),)
        recalled = TicketChanged(now=self.ticket(state), warnings=granted.warnings)
        if asked.key is not None and not isinstance(command, MakeDocument):
            ops += (Remember(device=caller.device, key=asked.key, actor=self.replies.actor,
                             fingerprint=asked.fingerprint, reply=self.replies.stored(recalled), at=now),)
        try:
            if isinstance(command, MakeDocument):
                stock: dict[str, Any] = {}
                if made.kind == "delivery_note":
                    for line in made.lines:
                        if line.article is not None:
                            for article, qty in self._takes.takes(line.article, line.qty):
                                stock[article] = stock.get(article, 0) + qty
                reply_to = None if asked.key is None else ReplyTo(caller.device, asked.key, self.replies.actor,
                                                                  asked.fingerprint, self.ticket(state))
                answer = await self.documents.ask(IssueDocument(made, ops, tuple(stock.items()), caller.device,
                                                                reply_to))
            else:
                keys = ((command.kind, command.number),) if isinstance(command, RecallDocument) else tuple(
                    ("delivery_note", n) for n in command.notes)
                event = "recalled" if isinstance(command, RecallDocument) and command.kind != "delivery_note" \
                    else "invoiced"
                answer = await self.documents.ask(CloseDocuments(keys, event, self.lane, command.seller, ops))
        except ActorFailed:
            answer = refused(Code.UNAVAILABLE, "the documents did not answer; nothing was changed, try again")
        if isinstance(answer, Refused):
            await self._tell_all(plan.give_backs())
            envelope.reply(answer)
            return
        self.state = state
        result: Any = DocumentMade(answer, self.ticket(state)) if isinstance(command, MakeDocument) else recalled
        self.replies.remember_result(caller.device, asked.key, asked.fingerprint, result)
        envelope.reply(result)
        self._publish_ticket(skip=caller.origin)
        await self._tell_all(plan.tells)
        if isinstance(command, MakeDocument):
            await self._print_document(answer)

    async def _print_document(self, document: documents.Document) -> None:
        """A document on the lane's receipt printer: its title, number, lines, total,
        deposit, and its barcode (scanned to recall it)."""
        if self.printer is None:
            return
        shop = self.config.shop
        footer = [f"{documents.TITLES[document.kind]} {document.name}"]
        if document.valid_until is not None:
            footer.append(f"Valable jusqu'au {document.valid_until.strftime('%d/%m/%Y')}")
        if document.due is not None:
            footer.append(f"Pour le {document.due.strftime('%d/%m/%Y')}")
        if document.address:
            footer.append(f"Livraison : {document.address}")
        if document.deposit > 0:
            footer.append(f"Acompte {fmt_money(document.deposit)} (facture d'acompte "
                          f"{documents.name('deposit_invoice', document.deposit_invoice or 0)})")
            footer.append(f"Reste à payer : {fmt_money(documents.left_to_pay(document))}")
        receipt = Receipt(
            shop_name=shop.name, header=shop.header, lane=self.lane, number=document.number, seller=document.seller,
            at=document.at.astimezone(self.zone),
            lines=tuple(ReceiptLine(name=l.name, qty=l.qty, unit_price=l.unit_price, total=l.total,
                                    vat_rate=l.vat_rate, discount_percent=l.discount_percent)
                        for l in document.lines),
            vat=vat_breakdown(document.lines), total=document.total,
            payments=tuple(ReceiptPayment(mode=p.mode, amount=p.amount) for p in document.deposit_payments),
            change=ZERO, footer=(*footer, *shop.footer), title=documents.TITLES[document.kind],
            document=document.name, code=document.barcode,
        )
        await self.printer.tell(PrintReceipt(job=f"document-{document.name}", receipt=receipt))

    async def _documents_to_recall(self, command: RecallDocument | InvoiceNotes) -> rules.Ticket | Refused:
        """The ticket a recalled quote or order, or delivery notes to invoice, become."""
        if not self.state.ticket.is_empty:
            return refused(Code.CONFLICT, "the open ticket is not empty: finish or hold it before recalling a document")
        wanted = ((command.kind, command.number),) if isinstance(command, RecallDocument) else tuple(
            ("delivery_note", n) for n in command.notes)
        today = shop_day(self.clock.now(), self.zone)  # a quote is recalled through its last valid day
        found = []
        for kind, number in wanted:
            try:
                opened = await self.documents.ask(FindDocument(kind, number))
            except ActorFailed:
                return refused(Code.UNAVAILABLE, "the documents did not answer; nothing was changed, try again")
            if opened is None:
                return refused(Code.NOT_FOUND, f"no document {documents.name(kind, number)}",
                               document=documents.name(kind, number))
            refusal = documents.recall_refusal(opened, today)
            if refusal is not None:
                return refusal
            found.append(opened.document)
        business = False
        customer = found[0].customer
        if customer is not None and self.customers is not None:
            who = await find_customer(self.customers, FindCustomer(customer=customer))
            if isinstance(who, Refused):
                return who
            business = who is not None and who.business
        if isinstance(command, InvoiceNotes) or found[0].kind == "delivery_note":
            return documents.notes_ticket(tuple(found), command.seller, business)
        ticket = documents.recalled_ticket(found[0], command.seller)
        return msgspec.structs.replace(ticket, business=business, opened_at=self.clock.now())

    # --- customers: the ticket's customer, credit, wallet and vouchers -------------------

    async def _customer_command(self, command: Any) -> Any:
        """A customer chosen by id or card (``ChooseCustomer``), a scanned code that is
        no article (``ScanCard``: a customer's card, or ``unknown_code``), or a top-up
        line (checked against the customer's wallet) as the rule command to apply, or
        their refusal; any other command as it is."""
        match command:
            case ChooseCustomer(seller=seller, customer=customer_id, card=card):
                found = await find_customer(self.customers, FindCustomer(customer=customer_id, card=card))
                if found is None:
                    what, field = (f"customer {customer_id!r}", "customer") if card is None else (f"card {card!r}", "card")
                    return refused(Code.NOT_FOUND, f"no {what}", field=field)
                return found if isinstance(found, Refused) else rules.SetCustomer(seller, found.customer,
                                                                                  business=found.business)
            case ScanCard(seller=seller, code=code):
                found = await find_customer(self.customers, FindCustomer(card=code)) if self.customers is not None else None
                if found is None:
                    return refused(Code.UNKNOWN_CODE, f"unknown code {code!r}")
                return found if isinstance(found, Refused) else rules.SetCustomer(seller, found.customer,
                                                                                  business=found.business)
            case rules.AddTopup():
                return await self._topup_command(command)
        return command

    async def _topup_command(self, command: rules.AddTopup) -> rules.AddTopup | Refused:
        """A top-up line (``topup_line``): the ticket's customer's wallet must be enabled; a
        cancel (``qty`` −1) only while the wallet holds it, counting the cancel lines
        already on the ticket (checked again at finish, in the sale's unit)."""
        amount, qty = command.amount, command.qty
        trial = rules.apply(self.state, command, now=self.clock.now())
        if isinstance(trial, rules.Refused):
            return filtered(trial)
        customer_id = self.state.ticket.customer
        found = await find_customer(self.customers, FindCustomer(customer=customer_id))
        if isinstance(found, Refused):
            return found
        if found is None:
            return refused(Code.NOT_FOUND, f"no customer {customer_id!r}", field="customer")
        if not found.wallet_enabled:
            return refused(Code.CONFLICT,
                          f"{found.name}'s wallet is not enabled (customer_edit with wallet: true)")
        if qty < 0:
            wanted = amount + topups_in_out(self.state.ticket.lines)[1]  # with the cancels already on it
            try:
                available = await self.customers.ask(Available(found.customer))
            except ActorFailed:
                return refused(Code.UNAVAILABLE, "the customer directory did not answer; try again")
            if wanted > available:
                return refused(customer_rules.INSUFFICIENT_FUNDS,
                              f"the wallet no longer holds the {fmt_money(amount)} to cancel: "
                              f"{fmt_money(available)} available", available=fmt_money(available),
                              short=fmt_money(wanted - available))
        return command

    # --- deposits and coupons (rules/coupons.py) -------------------------------------

    async def _linked(self, command: Any, *, with_customer: bool = True) -> Any:
        """Lines that bring others: an article's deposit line, and a coupon article sold
        to a customer who has coupons of it (at zero price, using them). A coupon
        article without a coupon sells at its price; at price 0 (and not
        ``zero_price_allowed``) it is refused: it is only ever given with a coupon."""
        if isinstance(command, list):
            linked: list[Any] = []
            for one in command:
                one = await self._linked_line(one, linked, with_customer=with_customer)
                if isinstance(one, Refused):
                    return one  # all or nothing, like the basket's codes
                linked.append(one)
            return linked
        return await self._linked_line(command, [])

    async def _linked_line(self, command: Any, earlier: list[Any], *, with_customer: bool = True) -> Any:
        if not isinstance(command, rules.AddLine):
            return command
        article = command.article
        if article.deposit:
            deposit = self.catalog.get(article.deposit)
            if deposit is None:
                return refused(Code.NOT_FOUND,
                              f"article {article.id}'s deposit article {article.deposit!r} is not in the catalog",
                              article=article.id)
            command = msgspec.structs.replace(command, deposit=deposit)
        if not self.catalog.is_coupon_article(article.id):
            return command
        customer = self.state.ticket.customer if with_customer else None
        count = coupon_rules.whole(command.qty)
        if customer is not None and count is not None and count > 0 and self.customers is not None:
            try:
                available = await self.customers.ask(CountCoupons(self.lane, customer, article.id))
            except ActorFailed:
                return refused(Code.UNAVAILABLE, "the customer directory did not answer; try again")
            # What this lane's tickets (and the lines before this one) already hold.
            held = self._coupon_holds(self.state).get((customer, article.id), 0)
            held += sum(int(c.qty) for c in earlier if isinstance(c, rules.AddLine) and c.coupon
                        and c.article.id == article.id)
            left = available - held - count
            if left >= 0:
                return msgspec.structs.replace(command, coupon=True, coupon_left=left)
        if article.price == 0 and not article.zero_price_allowed:
            who = "the ticket has no customer" if customer is None else "the customer has no coupon of it left"
            return refused(Code.CONFLICT,
                          f"{article.name} is sold with a coupon only and {who}", article=article.id)
        return command

    def _coupon_holds(self, state: rules.LaneState) -> coupon_rules.Holds:
        """What the coupon lines hold (rules/coupons.py ``lane_holds``), kept like ``_reserved``."""
        return self._coupons.of(state)

    async def _report_coupon_holds(self) -> None:
        """At start: what the lane's coupon lines hold (a tell: granted before)."""
        if self.customers is not None:
            await self.customers.tell(ReportCouponHolds(self.lane, self._coupon_holds(self.state)))


def _remainder_vouchers(moves: tuple[Any, ...]) -> tuple[IssuedVoucher, ...]:
    """The vouchers a sale issues for what used vouchers did not pay (for its reply)."""
    return tuple(
        IssuedVoucher(code=m.code, amount=m.amount, valid_until=m.valid_until, origin=m.origin, issued_at=m.at,
                      customer=m.customer)
        for m in moves if isinstance(m, IssueVoucher)
    )
