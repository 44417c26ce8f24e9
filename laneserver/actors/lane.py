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
actor executes any plan the same way (``_plan``, the asks, the commit, the tells),
giving back what was granted when the change is not made.

This module is the core — the loop (``run``), the commands (``_do``), a change and its
commit (``_apply``, ``_document``) and what is published after. The rest is in parts
the lane owns (not actors: awaited from its loop, so a request stays one request):

- actors/lane_steps.py: which neighbour each step of a plan asks or tells (stock
  point, customers actor, drawer, printer, invoices actor);
- actors/lane_payments.py: a payment charged on the lane's card terminal or held on a
  customer's account, prepared before it is applied;
- actors/lane_customers.py: a customer chosen or a card scanned, a wallet top-up, an
  article's deposit and coupon lines, as the rule commands to apply;
- actors/lane_receipts.py: a sale's receipt (built in rules/sale_receipt.py) printed
  and kept for the till's screen, its invoice made and its PDF written by the invoices
  actor (actors/invoices.py), off this task;
- actors/lane_documents.py: quotes, orders, delivery notes made from the ticket or
  recalled onto it, through the documents actor, and their slips printed.
- actors/lane_cards.py and actors/lane_parked.py: steps of this actor itself (its
  methods, kept apart by subject): a card payment's removal refunded on the terminal
  first and a card charged for a refused sale kept on the ticket; a parked basket in
  transit settled from the journal.

The lane's state lives in the journal (each request appends what it changed to
``lane_changes``, rules/lane_journal.py; now and then the state is written whole to
``lane_states``), so a restart — of the actor by its supervisor, or of the whole
process after ``kill -9`` — rebuilds it exactly as the last acknowledged request left
it. A parked basket it gave another lane and left in transit (``given``: the server
stopped between the give and the take) is settled at its start (``_settle_given``):
dropped if the journal has the take, held again if not.
"""

from __future__ import annotations

import secrets
from functools import partial
from typing import Any

import msgspec
import trio

from laneserver.actors.customers_messages import ReportCouponHolds
from laneserver.actors.device_messages import ShowTicket
from laneserver.actors.documents_messages import (
    DocumentMade,
    InvoiceNotes,
    LaneResults,
    MakeDocument,
    RecallDocument,
    ReplyTo,
)
from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.lane_cards import LaneCardSteps
from laneserver.actors.lane_customers import LaneCustomers
from laneserver.actors.lane_documents import LaneDocuments
from laneserver.actors.lane_parked import LaneParkedSteps
from laneserver.actors.lane_payments import LanePayments, filtered
from laneserver.actors.lane_receipts import LaneReceipts, Written, remainder_vouchers
from laneserver.actors.lane_steps import LaneSteps
from laneserver.actors.lane_messages import (
    Basket,
    BasketAdded,
    BasketArrived,
    BasketParkedResult,
    CanTakeParked,
    GetHeld,
    GetReceipt,
    GetTicket,
    HeldTickets,
    LaneWork,
    OpenWork,
    ParkedHandOver,
    LaneResult,
    LaneTicket,
    Receipted,
    SaleDone,
    SaleReceipt,
    SettleParked,
    StockWarning,
    TicketChanged,
    TicketHeld,
)
from laneserver.actors.messages import Caller, DeviceStatus, Do
from laneserver.actors.publisher import Publisher
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import Address
from laneserver.actors.stock_messages import CostsChanged, Reserve
from laneserver.clock import Clock, shop_zone
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.rules import lane as rules
from laneserver.rules import payment as payments
from laneserver.rules import coupons as coupon_rules
from laneserver.rules import lane_journal, lane_plan
from laneserver.rules.catalog import Catalog
from laneserver.rules.costs import CostBook, unit_cost
from laneserver.rules.customer_display import Sale
from laneserver.rules.money import parse_money
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.stock import StockTakes, effective_policy
from laneserver.rules.lane_sums import LaneSums, coupon_contributions, stock_contributions, ticket_customer
from laneserver.store import reads
from laneserver.store.ops import AppendLaneChange, RecordEvent, RecordSale, Remember, SaleRecorded

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


class LaneActor(LaneCardSteps, LaneParkedSteps):
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
        run_id: str | None = None,
    ) -> None:
        self.lane = lane
        # This server run (one per process: its restarts of the actor share it), stamped
        # on the parked baskets it gives away: the edge of this run carries their
        # hand-over through; what an earlier run left in transit is settled at start.
        self.run_id = run_id if run_id is not None else secrets.token_hex(8)
        self.config = config
        self.journal = journal
        self.catalog = catalog
        self.stock = stock
        self.stock_point = config.stock_point_of(lane)
        self.payments = payment_policy(config)
        # The purchase costs of the lane's stock point (its actor writes them): read on
        # each line added to flag a sale below cost, with no round trip (rules/costs.py).
        self.costs = costs if costs is not None else CostBook()
        # One unit's cost per article (``unit_cost``: its stock articles' costs, its kit's
        # components), worked out on its first line and kept until the costs change.
        self._unit_costs: dict[str, Any] = {}
        self.clock = clock
        self.zone = shop_zone(config.shop.timezone)  # the shop's day (cheque instalments)
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
        self.display = display  # the lane's customer display (actors/display.py): told, never waited on
        # Its parts (not actors: awaited from this loop): receipts and invoices, the plans'
        # steps to its neighbours, customer commands, documents.
        self.receipts = LaneReceipts(lane, config=config, journal=journal, policy=self.payments, zone=self.zone, article=catalog.get,
                                     printer=printer, invoices=invoices, customers=customers, log=self.log)
        self.steps = LaneSteps(lane, stock=stock, stock_point=self.stock_point, customers=customers, drawer=drawer,
                               paying=self.paying, receipts=self.receipts, article=catalog.get)
        self.customer_commands = LaneCustomers(lane, catalog=catalog, customers=customers, clock=clock,
                                                coupon_holds=self._coupon_holds)
        self.customers = customers  # the shop's customers actor: told the coupon holds at start
        self.documents = None if documents is None else LaneDocuments(
            lane, config=config, documents=documents, customers=customers, printer=printer, clock=clock,
            zone=self.zone, stock_point=self.stock_point, takes=self._takes.takes)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        stored = await read(self.journal, partial(reads.lane_state, lane=self.lane))
        if stored is not None:
            self.state = stored
        await self.replies.load(self.journal, self.clock.now())
        self.paying.recovered(self.state)  # card refunds an earlier run left under way: unsure
        await self._settle_given()
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
        first = self.replies.answered(caller.device, asked.key, asked.fingerprint, asked.command)
        if first is not None:  # a retry's first reply, or the edge's refusal (actors/replies.py)
            envelope.reply(first)
            return
        command = asked.command
        match command:
            case GetTicket():
                envelope.reply(self.ticket(self.state))
                return
            case GetReceipt(sale=number):
                receipt = self.receipts.kept(number)
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
                # A parked basket in transit to another till is still this lane's until its
                # take is known (it comes back here otherwise): held, for the day's close.
                envelope.reply(LaneWork(self.lane, len(ticket.lines), len(ticket.payments),
                                        tuple(h.held for h in self.state.held)
                                        + tuple(g.held.held for g in self.state.given)))
                return
            case Receipted():  # a pay or finish with the receipt asked for: the rule command inside
                command = command.command
            case rules.GiveParked():  # in transit, stamped with this run (``_settle_given``)
                command = msgspec.structs.replace(command, run=self.run_id)
            case SettleParked(held=held_id, hand=hand):
                given = rules.in_transit(self.state, held_id)
                if given is None or (hand is not None and given.hand != hand):
                    envelope.reply(None)
                    return
                command = await self._settled(given)
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
        command = await self.customer_commands.command(self.state, command)
        if isinstance(command, Refused):  # a refusal found while looking the customer up
            envelope.reply(command)
            return
        basket = asked.command if isinstance(asked.command, Basket) else None
        # costs, deposits, coupons (a parked basket has no customer: no coupon of the open ticket's)
        command = await self.customer_commands.linked(self.state, self._costed(self._listed(command)),
                                                      with_customer=basket is None or not basket.park)
        if isinstance(command, Refused):
            envelope.reply(command)
            return
        if basket is not None:  # the basket's lines as one rule command (rules/lane.py)
            assert basket.source is not None
            lines = tuple(command)
            command = (rules.Park(seller=basket.source.seller, source=basket.source, lines=lines) if basket.park
                       else rules.EmptyBasket(seller=basket.source.seller, source=basket.source, lines=lines,
                                              append=basket.append))
        if isinstance(command, (rules.Pay, rules.Finish)) and (unsaved := self.paying.given_back(self.state)):
            envelope.reply(unsaved)  # a card payment given back is still on the ticket: no sale with it
            return
        taken = self.paying.taken_on_terminal(self.state, command)
        if (taken is not None or self.paying.charges_card(self.state, command)) and \
                (reused := await self._key_reused(caller, asked)) is not None:
            envelope.reply(reused)  # the unit would be refused for its key after the terminal took (gave) the money
            return
        if taken is not None:  # a card payment the terminal took: given back on it first
            await self._reverse_card(envelope, caller, asked, command, taken)
            return
        if not self.paying.handles(self.state, command):
            await self._apply(envelope, caller, asked, command)
            return
        if self.paying.charges_card(self.state, command):
            refusal = self._unwritable(command, asked)
            if refusal is not None:  # a sale this payment would finish cannot be written: no card is charged
                envelope.reply(refusal)
                return
        # A card charged, or a customer's money held, first (actors/lane_payments.py).
        prepared = await self.paying.prepare(self.state, command)
        if isinstance(prepared, Refused):
            envelope.reply(prepared)
            return
        before = self.state
        charged = prepared.charged
        await self._apply(envelope, caller, asked, prepared.command, holding=prepared.holding,
                          charged=charged is not None)
        if charged is not None and self.state is before:
            # Charged but not recorded (the journal refused the unit): the money was
            # taken. Say so loudly, with what the terminal's own journal shows.
            self.log.error("card_charged_not_recorded", reference=charged.reference,
                           authorisation=charged.authorisation, amount=str(charged.amount))

    def _listed(self, command: Any) -> Any:
        """A price override with its article's catalog price, what the shop's cap is
        measured from (``SetPrice.listed``)."""
        if not isinstance(command, rules.SetPrice):
            return command
        line = next((l for l in self.state.ticket.lines if l.line == command.line), None)
        article = None if line is None or line.article is None else self.catalog.get(line.article)
        return command if article is None else msgspec.structs.replace(command, listed=article.price)

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

    async def _apply(self, envelope, caller: Caller, asked: _Asked, command, *, holding: int | None = None,
                     charged: bool = False, answer: Refused | None = None) -> None:
        """Apply ``command``, then run its plan (rules/lane_plan.py): the asks, the
        commit, the answer, the tells. ``holding``: a customer payment held for it
        (``_pay_from_customer``), let go if the change is not made. ``charged``: a card
        payment the terminal took: when the sale it would finish is refused, it is
        recorded all the same (``_keep_charged``). ``answer``: the reply of a change made
        all the same (a refusal saying why), sent and remembered instead of its result."""
        now = self.clock.now()
        state = self.state
        events: list[Any] = []
        for one in command if isinstance(command, list) else [command]:
            result = rules.apply(state, one, now=now)
            if isinstance(result, Refused):
                envelope.reply(filtered(result))
                await self.steps.tell_all(lane_plan.not_made(holding))
                return
            state = result.state
            events.extend(result.events)
        state = rules.revised(self.state, state)  # one request, one change: rev + 1
        sale = next((e for e in events if isinstance(e, rules.SaleCompleted)), None)
        plan = self._plan(state, sale, receipt=asked.receipt, holding=holding)
        if isinstance(plan, Refused):
            await self._refuse(envelope, caller, asked, command, plan, charged=charged and sale is not None)
            await self.steps.tell_all(lane_plan.not_made(holding))
            return
        if isinstance(command, rules.RestoreParked):
            # The basket's stock was reserved until its give: it comes home unasked.
            plan = lane_plan.take_over_reservations(plan, self._reserved(state))
        granted = await self.steps.ask_all(plan, caller, sale)
        if isinstance(granted, Refused):
            await self._refuse(envelope, caller, asked, command, granted, charged=charged and sale is not None)
            return
        ops: list[Any] = [
            RecordEvent(at=now, source=f"lane:{self.lane}", kind=type(e).__name__, data=e,
                        device=caller.device, seller=caller.seller)
            for e in events
        ]
        ops.append(AppendLaneChange(change=lane_journal.diff(self.state, state), state=state, at=now))
        moves = tuple(granted.moves)
        vouchers = remainder_vouchers(moves)
        if sale is not None and granted.invoice is not None and sale.total < 0 and sale.customer is not None:
            # A return billed to a customer: a credit note referring to their invoice.
            note = await self.receipts.credit_note(sale, now)
            if isinstance(note, Refused):
                await self.steps.undo(plan.give_backs(), granted)
                await self._refuse(envelope, caller, asked, command, note, charged=charged)
                return
            ops.append(note)
        if sale is not None:
            # Its numbers come from the journal's unit, which sets them in the stored result.
            done: LaneResult = SaleDone(number=0, total=sale.total, change=sale.change, due=sale.due,
                                        vouchers=vouchers, now=self.ticket(state))
            ops.append(RecordSale(sale=sale, stock_point=self.stock_point, device=caller.device,
                                  key=asked.key, actor=self.replies.actor, takes=plan.takes,
                                  reply=None if asked.key is None else self.replies.stored(done),
                                  fingerprint=asked.fingerprint,
                                  customer_moves=moves, invoice=granted.invoice,
                                  printed=self.receipts.printed(plan, caller)))
        else:
            done = answer if answer is not None else self._result(asked, state, events, granted.warnings)
            if asked.key is not None:
                ops.append(Remember(device=caller.device, key=asked.key, actor=self.replies.actor,
                                    fingerprint=asked.fingerprint, reply=self.replies.stored(done), at=now))
        try:
            results = await commit(self.journal, *ops)
        except CommitFailed as error:
            log_commit_failed(self.log, error, command=type(asked.command).__name__)
            failed = self.replies.failed_result(error, asked.key, "the change could not be saved; nothing was changed")
            if charged and (sale is not None or error.key_reused) and isinstance(command, rules.Pay):
                # The card was charged for the sale (the payment: its key another request
                # took meanwhile) refused: kept on the ticket, without that key.
                await self.steps.undo(plan.give_backs(), granted)
                await self._keep_charged(envelope, caller, _Asked(asked.command) if error.key_reused else asked,
                                         command, failed)
                return
            envelope.reply(failed)
            await self.steps.undo(plan.give_backs(), granted)  # what was granted for nothing
            return
        self.state = state
        self.steps.written(granted)
        recorded: SaleRecorded | None = next((r for r in results if isinstance(r, SaleRecorded)), None)
        written: Written | None = None
        if sale is not None and recorded is not None:
            done = msgspec.structs.replace(done, number=recorded.number, invoice=recorded.invoice)
            written = Written(sale, recorded, vouchers, granted.invoice)
            self.receipts.keep(written)  # its receipt, for the till's screen (``receipt``)
            self.log.info("sale_completed", number=recorded.number, total=str(sale.total), seller=sale.seller)
        self.replies.remember_result(caller.device, asked.key, asked.fingerprint, done)
        envelope.reply(done)
        # After the answer: what others learn from it. None of it can undo the change.
        # The session that asked has the ticket in its reply: it gets no event for it
        # (unless its reply is a refusal: a change made all the same, ``answer``).
        self._publish_ticket(skip=caller.origin if answer is None else None)
        self._show(sale)
        for event in events:  # the till's banner: a PDA's basket is on its ticket
            if isinstance(event, rules.BasketEmptied):
                self.publisher.publish(BasketArrived(lane=self.lane, basket=event.basket, device=event.device,
                                                     seller=event.seller, lines=event.lines,
                                                     appended=event.appended), "basket")
        await self.steps.tell_all(plan.tells, written)

    def _plan(self, state: rules.LaneState, sale: rules.SaleCompleted | None, *, receipt: str | None,
              holding: int | None) -> lane_plan.Plan | Refused:
        """What the change from the lane's state to ``state`` needs of its neighbours
        (rules/lane_plan.py), from the sums of what the tickets hold before and after."""
        return lane_plan.plan(
            lane_plan.Change(before=self.state, after=state, sale=sale,
                             reserved_before=self._reserved(self.state), reserved_after=self._reserved(state),
                             coupons_before=self._coupon_holds(self.state), coupons_after=self._coupon_holds(state),
                             receipt=receipt, holding=holding),
            takes=self._takes.takes, checked=self._checked, article=self.catalog.get,
        )

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

    # --- documents: quotes, orders, delivery notes (rules/documents.py) ----------------

    async def _document(self, envelope, caller: Caller, asked: _Asked) -> None:
        """The open ticket made a document, or a document made the open ticket
        (actors/lane_documents.py): the lane's new state is written by the documents
        actor in the same unit as the document's records (actors/documents.py) and, for a
        keyed request, as its reply (remembered like any lane change's: a retry gets it,
        ``_do``), then the plan's tells run."""
        command = asked.command
        if self.documents is None:
            envelope.reply(refused(Code.NOT_SUPPORTED, "this server keeps no documents"))
            return
        now = self.clock.now()
        opened = await self.documents.opened(self.state, command, now)
        if isinstance(opened, Refused):
            envelope.reply(opened)
            return
        made, ticket = opened
        state = rules.revised(self.state, msgspec.structs.replace(self.state, ticket=ticket))
        plan = self._plan(state, None, receipt=None, holding=None)
        if isinstance(plan, Refused):
            envelope.reply(plan)
            return
        if isinstance(command, RecallDocument) and command.kind == "order":
            # The order's stock is reserved already: the ticket takes it over unasked.
            plan = lane_plan.take_over_reservations(plan, self._reserved(state))
        granted = await self.steps.ask_all(plan, caller, None)
        if isinstance(granted, Refused):
            envelope.reply(granted)
            return
        ops: tuple[Any, ...] = (AppendLaneChange(change=lane_journal.diff(self.state, state), state=state, at=now),)
        recalled = TicketChanged(now=self.ticket(state), warnings=granted.warnings)
        if asked.key is not None and not isinstance(command, MakeDocument):
            ops += (Remember(device=caller.device, key=asked.key, actor=self.replies.actor,
                             fingerprint=asked.fingerprint, reply=self.replies.stored(recalled), at=now),)
        reply_to = None
        if isinstance(command, MakeDocument) and asked.key is not None:
            reply_to = ReplyTo(caller.device, asked.key, self.replies.actor, asked.fingerprint, self.ticket(state))
        answer = await self.documents.write(command, made, ops, caller.device, reply_to)
        if isinstance(answer, Refused):
            await self.steps.undo(plan.give_backs(), granted)
            envelope.reply(answer)
            return
        self.state = state
        result: Any = DocumentMade(answer, self.ticket(state)) if isinstance(command, MakeDocument) else recalled
        self.replies.remember_result(caller.device, asked.key, asked.fingerprint, result)
        envelope.reply(result)
        self._publish_ticket(skip=caller.origin)
        await self.steps.tell_all(plan.tells)
        if isinstance(command, MakeDocument):
            await self.documents.print(answer)

    def _coupon_holds(self, state: rules.LaneState) -> coupon_rules.Holds:
        """What the coupon lines hold (rules/coupons.py ``lane_holds``), kept like ``_reserved``."""
        return self._coupons.of(state)

    async def _report_coupon_holds(self) -> None:
        """At start: what the lane's coupon lines hold (a tell: granted before)."""
        if self.customers is not None:
            await self.customers.tell(ReportCouponHolds(self.lane, self._coupon_holds(self.state)))

