"""The lane actor: one checkout's open ticket and held tickets.

A thin loop around ``rules.lane.apply``: receive a request, translate it into a
rule command, apply it, journal the events and the new state (durably, before
answering), answer, then publish the ticket to every other session of the lane (the
one that asked has it in its reply: ``Caller.origin``), report reservations to the
stock point and hand a receipt to the printer. Each change is one more ``rev`` of the
open ticket (``rules.lane.revised``), journaled with the state.

The lane's state lives in the journal (each request appends what it changed to
``lane_changes``, rules/lane_journal.py; now and then the state is written whole to
``lane_states``), so a restart — of the actor by its supervisor, or of the whole
process after ``kill -9`` — rebuilds it exactly as the last acknowledged request left
it.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
from msgspec import UNSET
import trio

from laneserver.actors.customers_messages import AskHold, AskSettle, Available, FindCustomer, Refresh, Release, ReportHolds
from laneserver.actors.customers_messages import AskCouponHold, AskCouponSettle, CountCoupons, ReportCouponHolds
from laneserver.actors.drawer_messages import SaleFinished
from laneserver.actors.journal import CommitFailed, commit, read
from laneserver.actors.messages import Caller, DeviceStatus, Handle, Subscribe, Unsubscribe
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.actors.stock_messages import AskReserve, CostsChanged, Reserve, Taken
from laneserver.actors.terminal import ABORT_SECONDS
from laneserver.actors.terminal_messages import Charge
from laneserver.clock import Clock, shop_day, shop_zone
from laneserver.config import Config
from laneserver.hw.invoice_pdf import write_invoice
from laneserver.hw.terminal import TerminalResult
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.protocol.codec import error_frame as _error
from laneserver.protocol.views import TicketEncoder, held_view
from laneserver.rules import lane as rules
from laneserver.rules import payment as payments
from laneserver.rules import customers as customer_rules
from laneserver.rules import coupons as coupon_rules
from laneserver.rules import invoice as invoices
from laneserver.rules import lane_journal
from laneserver.rules.invoice import invoice_name
from laneserver.rules.catalog import Ambiguous, Catalog, Found, Unknown
from laneserver.rules.costs import CostBook, unit_cost
from laneserver.rules.money import BadValue, fmt_money, parse_money, parse_percent, parse_qty
from laneserver.rules.stock import OutOfStock, StockTakes, effective_policy, fmt_stock
from laneserver.rules.receipt import Receipt, ReceiptInstalment, ReceiptLine, ReceiptPayment
from laneserver.rules.lane_sums import LaneSums, coupon_contributions, stock_contributions, ticket_customer
from laneserver.rules.ticket import topups_in_out, totals
from laneserver.store import reads
from laneserver.store.ops import AppendLaneChange, IssueVoucher, RecordEvent, RecordSale, Remember, SaleRecorded

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
        subscribers: set[Any],
        terminal: Address | None = None,
        drawer: Address | None = None,
        customers: Address | None = None,
        costs: CostBook | None = None,
        data_folder: Path | None = None,
    ) -> None:
        self.lane = lane
        self.config = config
        self.journal = journal
        self.catalog = catalog
        self.stock = stock
        self.stock_point = config.stock_point_of(lane)
        self.payments = payment_policy(config)
        self.printer = printer
        self.terminal = terminal  # the lane's payment terminal actor (card), if it has one
        self.drawer = drawer  # the lane's cash drawer actor: takes a sale's cash and opens
        self.customers = customers  # the shop's customers actor: credit, wallet and vouchers
        # The purchase costs of the lane's stock point (its actor writes them): read on
        # each line added to flag a sale below cost, with no round trip (rules/costs.py).
        self.costs = costs if costs is not None else CostBook()
        self.clock = clock
        self.zone = shop_zone(config.shop.timezone)  # the shop's day (cheque instalments)
        # Owned by the supervisor's closure so sessions stay subscribed across
        # a restart of this actor.
        self.subscribers = subscribers
        self.state = rules.LaneState(lane=lane)
        self.replies = ReplyMemory(f"lane:{lane}")
        self.log = get_logger("lane", lane=lane)
        self.last_printer_frame: bytes | None = None
        self._takes = StockTakes(catalog.get)  # what reserving / selling a quantity takes from stock
        # What the tickets hold (stock, coupons), kept from one state to the next (rules/lane_sums.py).
        self._reservations: LaneSums[str] = LaneSums(stock_contributions(self._takes.takes))
        self._coupons: LaneSums[tuple[str, str]] = LaneSums(coupon_contributions, context=ticket_customer)
        self._last_ticket_json: tuple[Any, msgspec.Raw] | None = None
        self._ticket_encoder = TicketEncoder()  # the open ticket's JSON, kept line by line
        self.data_folder = data_folder  # where invoices are written (the server's data folder)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        stored = await read(self.journal, partial(reads.lane_state, lane=self.lane))
        if stored is not None:
            self.state = stored
        await self.replies.load(self.journal, self.clock.now())
        await self._report_reservations()
        await self._report_customer_holds()
        await self._report_coupon_holds()
        task_status.started()
        self.log.info("lane_started", lines=len(self.state.ticket.lines), held=len(self.state.held))
        self._publish_ticket()
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case Handle(caller=caller, request=request):
                        await self._handle(envelope, caller, request)
                    case Subscribe(subscriber=subscriber):
                        self.subscribers.add(subscriber)
                        subscriber.deliver(self._ticket_frame())
                        if self.last_printer_frame is not None:
                            subscriber.deliver(self.last_printer_frame, "printer")
                        envelope.reply(None)
                    case Unsubscribe(subscriber=subscriber):
                        self.subscribers.discard(subscriber)
                        envelope.reply(None)
                    case CostsChanged(costs=costs, whole=whole):  # from the stock point (rules/costs.py)
                        self.costs.update(costs, whole=whole)
                    case DeviceStatus(frame=frame, kind=kind):
                        self.last_printer_frame = frame
                        self._publish(frame, kind)
                    case other:
                        raise TypeError(f"lane {self.lane} got {other!r}")
        self.log.info("lane_stopped")

    # --- requests ------------------------------------------------------------------

    async def _handle(self, envelope, caller: Caller, request: wire.Request) -> None:
        remembered = self.replies.recall(caller.device, request)
        if remembered is not None:
            envelope.reply(remembered)
            return
        match request:
            case wire.GetTicket():
                envelope.reply(encode(self._ticket_ok(request)))
                return
            case wire.Held():
                tickets = [held_view(h) for h in self.state.held]
                envelope.reply(encode(wire.HeldOk(re=request.id, tickets=tickets)))
                return
        if caller.seller is None:
            envelope.reply(_error(request, wire.Code.NOT_SIGNED_IN, "no seller is signed in on this device"))
            return
        try:
            command = await self._customer_command(caller.seller, request)
            if command is None:
                command = self._command(caller.seller, request, approved_by=caller.approved_by)
        except BadValue as error:
            envelope.reply(_error(request, wire.Code.BAD_REQUEST, str(error)))
            return
        if isinstance(command, bytes):  # a refusal found while translating
            envelope.reply(command)
            return
        command = await self._linked(request, command)  # deposits, coupons
        if isinstance(command, bytes):
            envelope.reply(command)
            return
        drawing = self._customer_payment_numbers()
        if self._pays_on_terminal(command):
            await self._pay_on_terminal(envelope, caller, request, command)
        elif self._pays_from_customer(command):
            held = await self._pay_from_customer(envelope, caller, request, command)
            if held is not None:
                drawing.add(held)
        else:
            await self._apply(envelope, caller, request, command)
        # Payment lines gone (removed, or written with the sale): their holds go.
        await self._release_customer_money(drawing)

    def _command(self, seller: str, request: wire.Request, *,
                 approved_by: str | None = None) -> rules.Command | list[rules.Command] | bytes:
        """Translate a wire request into rule commands (or an error frame)."""
        match request:
            case wire.Scan(code=code, qty=qty):
                return self._add_by_code(seller, request, code, qty)
            case wire.Add(article=article_id, qty=qty):
                article = self.catalog.get(article_id)
                if article is None:
                    return _error(request, wire.Code.NOT_FOUND, f"no article {article_id!r}", article=article_id)
                return self._add_line(seller, article, _qty(qty))
            case wire.SetQty(line=line, qty=qty):
                return rules.SetQty(seller, line, parse_qty(qty))
            case wire.RemoveLine(line=line):
                return rules.RemoveLine(seller, line)
            case wire.CancelTicket():
                return rules.CancelTicket(seller)
            case wire.Pay(mode=mode, amount=amount, reference=reference, instalments=instalments, excess=excess,
                          receipt=receipt):
                policy = self.payments
                if policy.mode(mode) is None:
                    return _error(request, wire.Code.NOT_SUPPORTED,
                                  f"payment mode {mode!r} is not available (this lane takes {', '.join(policy.mode_ids)})",
                                  modes=policy.mode_ids)
                value = None if amount is None else parse_money(amount)
                return rules.Pay(seller, mode, value, reference, instalments=instalments, excess=excess, policy=policy,
                                 approved_by=approved_by, invoice=receipt == "invoice",
                                 today=shop_day(self.clock.now(), self.zone))
            case wire.RemovePayment(payment=payment):
                return rules.RemovePayment(seller, payment)
            case wire.Hold():
                return rules.Hold(seller)
            case wire.Recall(held=held):
                return rules.Recall(seller, held)
            case wire.Finish(receipt=receipt, unpaid=unpaid):
                return rules.Finish(seller, unpaid=unpaid, deferred=self.config.shop.deferred_payment,
                                    invoice=receipt == "invoice")
            case wire.BasketEmpty(lines=lines):
                commands: list[rules.Command] = []
                for i, basket_line in enumerate(lines):
                    one = self._add_by_code(seller, request, basket_line.code, basket_line.qty)
                    if isinstance(one, bytes):
                        return one  # all or nothing: one bad code refuses the basket
                    commands.append(one)
                if not commands:
                    return _error(request, wire.Code.BAD_REQUEST, "the basket has no lines")
                return commands
            case wire.Discount(line=line, percent=percent, amount=amount, mode=mode, reason=reason):
                shop = self.config.shop
                return rules.Discount(
                    seller=seller, line=line, mode=mode, reason=reason, approved_by=approved_by,
                    percent=None if percent is None else parse_percent(percent),
                    amount=None if amount is None else parse_money(amount),
                    cap=parse_percent(shop.discount_cap, "shop.discount_cap"), reasons=shop.discount_reasons,
                )
            case wire.SetCustomer():
                return _error(request, wire.Code.NOT_SUPPORTED,
                              f"{request.__struct_config__.tag} is not available on this server yet")
        return _error(request, wire.Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a lane request")

    def _add_by_code(self, seller: str, request: wire.Request, code: str, qty: Any) -> rules.AddLine | bytes:
        found = self.catalog.lookup(code)
        match found:
            case Found(article=article, qty=pack):
                return self._add_line(seller, article, _qty(qty) * pack)
            case Ambiguous(candidates=candidates):
                return _error(
                    request, wire.Code.AMBIGUOUS_CODE, f"code {code!r} matches {len(candidates)} articles: choose one",
                    candidates=[wire.Candidate(article=a.id, name=a.name) for a in candidates],
                )
        return _error(request, wire.Code.UNKNOWN_CODE, f"unknown code {code!r}")

    def _add_line(self, seller: str, article: Any, qty: Decimal) -> rules.AddLine:
        """A line of ``article`` (``qty`` negative: returned), with its unit cost at the
        lane's stock point so a sale below cost is flagged."""
        return rules.AddLine(seller, article, qty, cost=unit_cost(article.id, self.catalog.get, self.costs))

    async def _apply(self, envelope, caller: Caller, request: wire.Request, command) -> None:
        now = self.clock.now()
        state = self.state
        events: list[Any] = []
        for one in command if isinstance(command, list) else [command]:
            result = rules.apply(state, one, now=now)
            if isinstance(result, rules.Refused):
                envelope.reply(_error(request, result.code, result.message, **_details(result.details)))
                return
            state = result.state
            events.extend(result.events)
        state = rules.revised(self.state, state)  # one request, one change: rev + 1

        sale = next((e for e in events if isinstance(e, rules.SaleCompleted)), None)
        # Finished with an invoice: what it shows, numbered in the sale's unit.
        invoice = await self._invoice(request, sale) if _invoiced(request) and sale is not None else None
        if isinstance(invoice, bytes):
            envelope.reply(invoice)
            return
        # What its credit / wallet / voucher payments take, written with the sale.
        customer_moves = await self._settle_customer_money(request, caller, sale)
        if isinstance(customer_moves, bytes):
            envelope.reply(customer_moves)
            return
        # What its coupon lines use and its subscriptions credit, written with the sale.
        coupon_moves = await self._settle_coupons(request, caller, sale)
        if isinstance(coupon_moves, bytes):
            envelope.reply(coupon_moves)
            return
        customer_moves = tuple(customer_moves) + coupon_moves
        # Stock: a ticket that holds back more asks the stock point first, so two
        # lanes cannot both take the last bottle when the shop refuses negative
        # stock. A finish never asks: its quantities were reserved already.
        before = self._reserved(self.state)
        after = self._reserved(state)
        # Under "allow" (the shop's or the article's) the stock point grants every
        # growth: it is told after the commit like a release, with no round trip.
        grows = sale is None and any(qty > before.get(article, 0) and self._checked(article)
                                     for article, qty in after.items())
        warnings: list[wire.StockWarningView] = []
        if grows:
            try:
                decision = await self.stock.ask(AskReserve(self.lane, before, after))
            except ActorFailed:
                envelope.reply(_error(request, wire.Code.UNAVAILABLE,
                                      "the stock point did not answer; nothing was changed, try again"))
                return
            if isinstance(decision, OutOfStock):
                article = self.catalog.get(decision.article)
                name = f" ({article.name})" if article is not None else ""
                envelope.reply(_error(
                    request, wire.Code.OUT_OF_STOCK,
                    f"only {fmt_stock(decision.available)} of {decision.article}{name} available at "
                    f"{self.stock_point}: this shop does not sell below zero stock",
                    article=decision.article, available=fmt_stock(decision.available), stock_point=self.stock_point,
                ))
                return
            warnings = [wire.StockWarningView(article=a, stock_point=self.stock_point, available=fmt_stock(v))
                        for a, v in decision.warnings]
        # Coupons: lines that use more of a customer's coupons ask the customers actor
        # first, so two lanes cannot both use the last one (rules/coupons.py).
        coupons_before = self._coupon_holds(self.state)
        coupons_after = self._coupon_holds(state)
        coupons_grow = any(n > coupons_before.get(key, 0) for key, n in coupons_after.items())
        if coupons_grow:
            refused = await self._hold_coupons(request, coupons_after)
            if refused is not None:
                envelope.reply(refused)
                if grows:  # give back what the stock point granted for nothing
                    await self.stock.tell(Reserve(self.lane, before))
                return
        ops: list[Any] = [
            RecordEvent(at=now, source=f"lane:{self.lane}", kind=type(e).__name__, data=e,
                        device=caller.device, seller=caller.seller)
            for e in events
        ]
        ops.append(AppendLaneChange(change=lane_journal.diff(self.state, state), state=state, at=now))
        reply: bytes | None = None
        vouchers = _remainder_vouchers(customer_moves)
        takes: tuple[tuple[str, Any], ...] = ()
        if sale is not None:
            build = partial(_finish_reply, request.id, sale, vouchers=vouchers, ticket=self._ticket_json(state))
            # What the sale takes from stock, line by line: a part of a unit of its stock
            # article, a kit's components.
            takes = tuple(take for line in sale.lines if line.article is not None  # a top-up: no stock
                          for take in self._takes.takes(line.article, line.qty))
            ops.append(RecordSale(sale=sale, stock_point=self.stock_point, device=caller.device,
                                  key=request.key, actor=self.replies.actor, reply=build, takes=takes,
                                  fingerprint=self.replies.fingerprint(request),
                                  customer_moves=customer_moves, invoice=invoice))
        else:
            reply = encode(self._reply_for(request, state, events, warnings))
            if request.key is not None:
                ops.append(Remember(device=caller.device, key=request.key, actor=self.replies.actor,
                                    fingerprint=self.replies.fingerprint(request),
                                    reply=reply, at=now))
        try:
            results = await commit(self.journal, *ops)
        except CommitFailed as error:
            self.log.error("commit_failed", error=str(error), request=request.__struct_config__.tag)
            envelope.reply(self.replies.failed(request, error, "the change could not be saved; nothing was changed"))
            if grows:  # give back what the stock point granted for nothing
                await self.stock.tell(Reserve(self.lane, before))
            if coupons_grow:
                await self.customers.tell(ReportCouponHolds(self.lane, coupons_before))
            return
        self.state = state
        recorded: SaleRecorded | None = next((r for r in results if isinstance(r, SaleRecorded)), None)
        if sale is not None and recorded is not None:
            reply = build(recorded.number, invoice=recorded.invoice)
        assert reply is not None
        self.replies.remember(caller.device, request, reply)
        envelope.reply(reply)
        # After the answer: what others learn from it. None of it can undo the sale.
        # The session that asked has the ticket in its reply: it gets no event for it.
        self._publish_ticket(skip=caller.origin)
        if sale is not None and recorded is not None:
            # One message: the stock taken and the reservation released together.
            taken = _summed(takes)
            await self.stock.tell(Taken(taken, lane=self.lane, reserved=after))
            self.log.info("sale_completed", number=recorded.number, total=str(sale.total), seller=sale.seller)
            if self.drawer is not None:  # cash in the drawer, which opens (actors/drawer.py)
                await self.drawer.tell(SaleFinished(recorded.number, sale.payments, sale.change))
            if sale.customer is not None and self.customers is not None and any(
                    l.topup is not None for l in sale.lines):
                # Its top-ups are written: the customers actor re-reads the wallet (as a Release does).
                await self.customers.tell(Refresh((sale.customer,)))
            # A finish, or a pay the shop's auto_finish finished.
            if isinstance(request, (wire.Finish, wire.Pay)) and request.receipt in ("ticket", "invoice"):
                title = "" if recorded.invoice is None else f"FACTURE n° {invoice_name(recorded.invoice)}"
                await self._print(recorded.number, sale, vouchers, recorded.balances, title=title)
            if invoice is not None and recorded.invoice is not None:
                await self._render_invoice(msgspec.structs.replace(invoice, number=recorded.invoice,
                                                                   sale=recorded.number))
        elif not grows and after != before:
            await self.stock.tell(Reserve(self.lane, after))
        if not coupons_grow and coupons_after != coupons_before and self.customers is not None:
            await self.customers.tell(ReportCouponHolds(self.lane, coupons_after))

    def _reply_for(self, request: wire.Request, state: rules.LaneState, events: list[Any],
                   warnings: list[wire.StockWarningView]) -> Any:
        extra: dict[str, Any] = {"stock_warnings": warnings} if warnings else {}
        match request:
            case wire.Hold():
                held = next(e.held for e in events if isinstance(e, rules.TicketHeld))
                return wire.HoldOk(re=request.id, held=held, ticket=self._ticket_json(state))
            case wire.BasketEmpty(basket=basket):
                return wire.BasketOk(re=request.id, basket=basket, lane=self.lane, lines=len(events),
                                     ticket=self._ticket_json(state), **extra)
        return wire.TicketOk(re=request.id, lane=self.lane, ticket=self._ticket_json(state), **extra)

    def _ticket_json(self, state: rules.LaneState) -> Any:
        """The open ticket's view (with its ``rev``), encoded once per state: the reply
        to the request that changed it and the ``ticket`` event to the other sessions
        of the lane carry the same bytes (``msgspec.Raw`` is spliced into each frame as
        it is). States are frozen values: the same object always shows the same ticket.
        Only the lines a change touched are encoded again (protocol/views.py
        ``TicketEncoder``)."""
        last = self._last_ticket_json
        if last is not None and last[0] is state:
            return last[1]
        raw = msgspec.Raw(self._ticket_encoder.encode(state.ticket, rev=state.rev))
        self._last_ticket_json = (state, raw)
        return raw

    # --- after a change ------------------------------------------------------------

    def _ticket_ok(self, request: wire.Request) -> wire.TicketOk:
        return wire.TicketOk(re=request.id, lane=self.lane, ticket=self._ticket_json(self.state))

    def _ticket_frame(self) -> bytes:
        return encode(wire.TicketEvent(lane=self.lane, ticket=self._ticket_json(self.state)))

    def _publish_ticket(self, *, skip: object = None) -> None:
        """The open ticket to the lane's sessions, but ``skip`` (the session whose
        request made the change: its reply carries the ticket)."""
        self._publish(self._ticket_frame(), skip=skip)

    def _publish(self, frame: bytes, kind: str = "ticket", *, skip: object = None) -> None:
        for subscriber in list(self.subscribers):
            if subscriber is not skip:
                subscriber.deliver(frame, kind)

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

    async def _print(self, number: int, sale: rules.SaleCompleted,
                     vouchers: tuple[wire.VoucherView, ...] = (),
                     balances: tuple[tuple[str, str, Decimal], ...] = (), title: str = "") -> None:
        if self.printer is None:
            return
        shop = self.config.shop
        # A refund by voucher, or what a voucher did not pay (a remainder voucher): the
        # voucher's code and validity, for the customer to keep.
        issued = tuple(text for v in vouchers if v.origin in ("refund", "remainder")
                       for text in (("Bon d'achat" if v.origin == "refund" else "Reste : bon d'achat")
                                    + f" n° {v.code} : {v.amount.replace('.', ',')} €",
                                    f"Valable jusqu'au {v.valid_until}"))
        # Coupon lines: the coupons the customer has left of each coupon article.
        left: dict[str, str] = {}
        for l in sale.lines:
            if l.coupon and l.coupon_left is not None:
                left[l.name] = f"{l.name} : {l.coupon_left} coupon(s) restant(s)"
        issued = tuple(left.values()) + issued
        if any(l.topup == "wallet" for l in sale.lines):
            # Topped up (or a top-up cancelled): the wallet's new balance, as the sale left it.
            wallet = [b for c, account, b in balances if c == sale.customer and account == "wallet"]
            if wallet:
                issued = (f"Porte-monnaie : nouveau solde {fmt_money(wallet[-1]).replace('.', ',')} €",) + issued
        receipt = Receipt(
            shop_name=shop.name,
            header=shop.header,
            lane=self.lane,
            number=number,
            seller=sale.seller,
            at=sale.at,
            lines=tuple(
                ReceiptLine(name=f"{l.name} (coupon)" if l.coupon else l.name, qty=l.qty,
                            unit_price=l.unit_price, total=l.total, vat_rate=l.vat_rate,
                            discount_percent=l.discount_percent)
                for l in sale.lines
            ),
            vat=sale.vat,
            total=sale.total,
            payments=tuple(
                ReceiptPayment(
                    mode=p.mode, amount=p.amount, label=_label(self.payments, p.mode), tendered=p.tendered,
                    instalments=tuple(ReceiptInstalment(i.due, i.amount) for i in p.instalments),
                )
                for p in sale.payments
            ),
            change=sale.change,
            footer=issued + shop.footer,
            rounding=sale.rounding,
            title=title,
        )
        # The printer's mailbox is drained into its own job queue at once, so
        # this waits at most for a moment; a printer that is down keeps the job.
        await self.printer.tell(PrintReceipt(job=f"sale-{number}", receipt=receipt))

    # --- invoices (business customers; rules/invoice.py) -------------------------------

    async def _invoice(self, request: wire.Request, sale: rules.SaleCompleted) -> invoices.Invoice | bytes:
        """What the sale's invoice shows: the customer as the directory has them now."""
        assert sale.customer is not None  # rules.lane refuses an invoice with no customer
        found = await self._find_customer(request, FindCustomer(customer=sale.customer))
        if isinstance(found, bytes):
            return found
        if found is None:
            return _error(request, wire.Code.NOT_FOUND, f"no customer {sale.customer!r}", field="customer")
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

    async def _render_invoice(self, invoice: invoices.Invoice) -> None:
        """The invoice's PDF in the data folder, in a worker thread (after the sale is
        durable). A failure is logged and changes nothing: the ``invoice`` verb renders
        a missing PDF again from the database."""
        if self.data_folder is None:
            return  # an actor without a data folder (tests): the invoice verb renders it
        try:
            path, _ = await trio.to_thread.run_sync(write_invoice, invoice, self.data_folder)
        except Exception as error:  # noqa: BLE001 - never undoes the sale
            self.log.error("invoice_render_failed", invoice=invoice.number, sale=invoice.sale, error=repr(error))
            return
        self.log.info("invoice_written", invoice=invoice.number, sale=invoice.sale, path=str(path))

    # --- card payments on the lane's terminal ---------------------------------------

    def _pays_on_terminal(self, command: Any) -> bool:
        # A card refund is made by the cashier on the terminal and recorded as they
        # confirm it (like a standalone terminal's payment): the lane charges no card.
        return (self.terminal is not None and isinstance(command, rules.Pay) and command.mode == "card"
                and not self._refunds())

    def _refunds(self) -> bool:
        """Is a payment now a refund (returns: the shop owes the open ticket's balance)?"""
        return totals(self.state.ticket).balance < 0

    async def _pay_on_terminal(self, envelope, caller: Caller, request: wire.Request, command: rules.Pay) -> None:
        """A card payment on a lane with a terminal: the card is charged first,
        and only an approved charge is recorded (its authorisation code as the
        payment's ``reference``).

        The payment rule is tried on the current state before the terminal is
        asked, so a payment the rule refuses (nothing to pay, more than the
        balance) never reaches the card; and the amount charged is the amount
        recorded. A keyed retry never gets here: ``_handle`` answered it from
        the reply memory, so a card is not charged twice for one request.

        The lane waits for its own terminal (its requests queue meanwhile); the
        terminal actor bounds the wait, and so does the ``move_on_at`` here in
        case the terminal actor itself is stuck or gone.
        """
        trial = rules.apply(self.state, command, now=self.clock.now())
        if isinstance(trial, rules.Refused):
            await self._apply(envelope, caller, request, command)  # refused there, the usual way
            return
        payment = next(e.payment for e in trial.events if isinstance(e, rules.PaymentAdded))
        terminal = self.config.terminal_of(self.lane)
        timeout = terminal.timeout_seconds if terminal is not None else 60.0
        reference = f"{self.lane}-{self.clock.now():%Y%m%d%H%M%S}-{payment.payment}"
        deadline = trio.current_time() + timeout
        result: TerminalResult | None = None
        with trio.move_on_at(deadline + ABORT_SECONDS + 1):
            try:
                result = await self.terminal.ask(Charge(payment.amount, reference, deadline))
            except ActorFailed:
                result = TerminalResult(outcome="failed", message="the payment terminal did not answer")
        if result is None:
            result = TerminalResult(outcome="timeout", message=f"the payment terminal did not answer within {timeout:g} s")
        if not result.approved:
            self.log.info("card_payment_not_approved", reference=reference, outcome=result.outcome,
                          amount=str(payment.amount))
            envelope.reply(_error(request, wire.Code.PAYMENT_DECLINED, _declined_message(result, payment.amount),
                                  outcome=result.outcome))
            return
        self.log.info("card_payment_approved", reference=reference, authorisation=result.authorisation,
                      amount=str(payment.amount))
        before = self.state
        await self._apply(envelope, caller, request,
                          msgspec.structs.replace(command, amount=payment.amount, reference=result.authorisation))
        if self.state is before:
            # Charged but not recorded (the journal refused the unit): the money was
            # taken. Say so loudly, with what the terminal's own journal shows.
            self.log.error("card_charged_not_recorded", reference=reference, authorisation=result.authorisation,
                           amount=str(payment.amount))


    # --- customers: the ticket's customer, credit, wallet and vouchers -------------------

    async def _customer_command(self, seller: str,
                                request: wire.Request) -> rules.SetCustomer | rules.AddTopup | bytes | None:
        """``set_customer`` (by id or card), a scanned code that is no article but a
        customer's card, or a top-up line; None: not a customer request (translated the
        usual way)."""
        match request:
            case wire.SetCustomer(customer=customer_id, card=card):
                if customer_id is UNSET:
                    if card is None:
                        return _error(request, wire.Code.BAD_REQUEST,
                                      "set_customer needs customer (an id, or null to clear it) or card", field="customer")
                    customer_id = None
                if customer_id is None and card is None:
                    return rules.SetCustomer(seller, None)
                if customer_id is not None and card is not None:
                    return _error(request, wire.Code.BAD_REQUEST, "give customer or card, not both")
                found = await self._find_customer(request, FindCustomer(customer=customer_id, card=card))
                if found is None:
                    what, field = (f"customer {customer_id!r}", "customer") if card is None else (f"card {card!r}", "card")
                    return _error(request, wire.Code.NOT_FOUND, f"no {what}", field=field)
                return found if isinstance(found, bytes) else rules.SetCustomer(seller, found.customer,
                                                                                business=found.business)
            case wire.TopupLine(amount=raw, qty=raw_qty):
                return await self._topup_command(seller, request, parse_money(raw), _qty(raw_qty))
            case wire.Scan(code=code) if self.customers is not None and isinstance(self.catalog.lookup(code), Unknown):
                found = await self._find_customer(request, FindCustomer(card=code))
                return None if found is None else found if isinstance(found, bytes) else rules.SetCustomer(
                    seller, found.customer, business=found.business)
        return None

    async def _topup_command(self, seller: str, request: wire.Request, amount: Decimal,
                             qty: Decimal) -> rules.AddTopup | bytes:
        """A top-up line (``topup_line``): the ticket's customer's wallet must be enabled; a
        cancel (``qty`` −1) only while the wallet holds it, counting the cancel lines
        already on the ticket (checked again at finish, in the sale's unit)."""
        command = rules.AddTopup(seller, amount, qty)
        trial = rules.apply(self.state, command, now=self.clock.now())
        if isinstance(trial, rules.Refused):
            return _error(request, trial.code, trial.message, **_details(trial.details))
        customer_id = self.state.ticket.customer
        found = await self._find_customer(request, FindCustomer(customer=customer_id))
        if isinstance(found, bytes):
            return found
        if found is None:
            return _error(request, wire.Code.NOT_FOUND, f"no customer {customer_id!r}", field="customer")
        if not found.wallet_enabled:
            return _error(request, wire.Code.CONFLICT,
                          f"{found.name}'s wallet is not enabled (customer_edit with wallet: true)")
        if qty < 0:
            wanted = amount + topups_in_out(self.state.ticket.lines)[1]  # with the cancels already on it
            try:
                available = await self.customers.ask(Available(found.customer))
            except ActorFailed:
                return _error(request, wire.Code.UNAVAILABLE, "the customer directory did not answer; try again")
            if wanted > available:
                return _error(request, customer_rules.INSUFFICIENT_FUNDS,
                              f"the wallet no longer holds the {fmt_money(amount)} to cancel: "
                              f"{fmt_money(available)} available", available=fmt_money(available),
                              short=fmt_money(wanted - available))
        return command

    async def _find_customer(self, request: wire.Request, find: FindCustomer) -> customer_rules.Customer | bytes | None:
        if self.customers is None:
            return _error(request, wire.Code.NOT_SUPPORTED, "this lane has no customer directory")
        try:
            return await self.customers.ask(find)
        except ActorFailed:
            return _error(request, wire.Code.UNAVAILABLE, "the customer directory did not answer; try again")

    def _customer_payment_numbers(self) -> set[int]:
        return {p.payment for p in self.state.ticket.payments if p.mode in customer_rules.CUSTOMER_MODES}

    def _pays_from_customer(self, command: Any) -> bool:
        return isinstance(command, rules.Pay) and command.mode in customer_rules.CUSTOMER_MODES

    async def _pay_from_customer(self, envelope, caller: Caller, request: wire.Request,
                                 command: rules.Pay) -> int | None:
        """A ``credit``, ``wallet`` or ``voucher`` payment: the customers actor holds the
        money (or the voucher) for the payment line first, like stock for a line.

        The payment rule is tried first, so a payment it refuses asks for nothing. A
        voucher given no amount pays what it is worth, at most the balance. Returns
        the payment number held (released by the caller if the line did not stay).
        """
        trial = rules.apply(self.state, command, now=self.clock.now())
        if isinstance(trial, rules.Refused) or self.customers is None:
            if self.customers is None:
                envelope.reply(_error(request, wire.Code.NOT_SUPPORTED,
                                      f"{command.mode} payments need the customer directory"))
            else:
                await self._apply(envelope, caller, request, command)  # refused there, the usual way
            return None
        payment = next(e.payment for e in trial.events if isinstance(e, rules.PaymentAdded))
        ticket = self.state.ticket
        if payment.amount < 0:
            await self._refund_to_customer(envelope, caller, request, command)
            return None  # a refund holds nothing: money goes to the customer at finish
        wanted = None if command.mode == customer_rules.VOUCHER and command.amount is None else payment.amount
        ask = AskHold(lane=self.lane, payment=payment.payment, mode=command.mode, amount=wanted,
                      due=totals(ticket).balance, customer=ticket.customer, code=command.reference)
        try:
            granted = await self.customers.ask(ask)
        except ActorFailed:
            envelope.reply(_error(request, wire.Code.UNAVAILABLE,
                                  "the customer directory did not answer; nothing was paid, try again"))
            return None
        if isinstance(granted, customer_rules.Refused):
            envelope.reply(_error(request, granted.code, granted.message, **_details(granted.details)))
            return None
        reference = granted.code if granted.code is not None else ticket.customer
        await self._apply(envelope, caller, request,
                          msgspec.structs.replace(command, amount=granted.amount, reference=reference))
        return payment.payment

    async def _refund_to_customer(self, envelope, caller: Caller, request: wire.Request,
                                  command: rules.Pay) -> None:
        """A refund (returns) by ``credit`` or ``wallet``: onto the ticket's customer's
        account; by ``voucher``: a voucher of the amount is issued at finish
        (``AskSettle``, in the sale's unit). Nothing is held: no one can spend it before."""
        ticket = self.state.ticket
        if command.mode in customer_rules.ACCOUNTS:
            if ticket.customer is None:
                envelope.reply(_error(request, wire.Code.CONFLICT,
                                      f"a refund by {command.mode} goes to the ticket's customer: select one first"))
                return
            found = await self._find_customer(request, FindCustomer(customer=ticket.customer))
            if isinstance(found, bytes) or found is None:
                envelope.reply(found or _error(request, wire.Code.NOT_FOUND, f"no customer {ticket.customer!r}"))
                return
            if command.mode == "wallet" and not found.wallet_enabled:
                envelope.reply(_error(request, wire.Code.CONFLICT, f"{found.name}'s wallet is not enabled"))
                return
            command = msgspec.structs.replace(command, reference=ticket.customer)
        await self._apply(envelope, caller, request, command)

    async def _settle_customer_money(self, request: wire.Request, caller: Caller,
                                     sale: rules.SaleCompleted | None) -> tuple[Any, ...] | bytes:
        """The journal ops of a sale's credit / wallet / voucher payments (spends, voucher
        uses, remainder vouchers), from the customers actor's holds; or an error frame."""
        if sale is None:
            return ()
        drawn = tuple((p.payment, p.mode, p.amount) for p in sale.payments
                      if p.mode in customer_rules.CUSTOMER_MODES)
        # Top-up lines: credited (cancels: taken back) in the sale's unit too.
        topup, cancel = topups_in_out(sale.lines)
        if not drawn and not topup and not cancel:
            return ()
        if self.customers is None:
            return _error(request, wire.Code.NOT_SUPPORTED, "customer payments need the customer directory")
        modes = {p.mode for p in sale.payments}
        try:
            settled = await self.customers.ask(AskSettle(lane=self.lane, payments=drawn, at=sale.at,
                                                         device=caller.device, seller=sale.seller,
                                                         customer=sale.customer, topup=topup, topup_cancel=cancel,
                                                         topup_mode=modes.pop() if len(modes) == 1 else None))
        except ActorFailed:
            return _error(request, wire.Code.UNAVAILABLE,
                          "the customer directory did not answer; nothing was changed, try again")
        if isinstance(settled, customer_rules.Refused):
            return _error(request, settled.code, settled.message, **_details(settled.details))
        return settled

    async def _release_customer_money(self, drawing: set[int]) -> None:
        gone = drawing - self._customer_payment_numbers()
        if gone and self.customers is not None:
            await self.customers.tell(Release(self.lane, tuple(sorted(gone))))

    async def _report_customer_holds(self) -> None:
        """At start: what the open ticket's payment lines hold (a tell: granted before).
        Held tickets carry no payments (rules.lane refuses to hold a paid ticket)."""
        if self.customers is None:
            return
        ticket = self.state.ticket
        holds = tuple(
            customer_rules.Hold(
                lane=self.lane, payment=p.payment, mode=p.mode, amount=p.amount,
                customer=ticket.customer if p.mode != customer_rules.VOUCHER else None,
                code=p.reference if p.mode == customer_rules.VOUCHER else None,
            )
            for p in ticket.payments if p.mode in customer_rules.CUSTOMER_MODES and p.amount > 0  # refunds hold nothing
        )
        await self.customers.tell(ReportHolds(self.lane, holds))


    # --- deposits and coupons (rules/coupons.py) -------------------------------------

    async def _linked(self, request: wire.Request, command: Any) -> Any:
        """Lines that bring others: an article's deposit line, and a coupon article sold
        to a customer who has coupons of it (at zero price, using them). A coupon
        article without a coupon sells at its price; at price 0 (and not
        ``zero_price_allowed``) it is refused: it is only ever given with a coupon."""
        if isinstance(command, list):
            linked: list[Any] = []
            for one in command:
                one = await self._linked_line(request, one, linked)
                if isinstance(one, bytes):
                    return one  # all or nothing, like the basket's codes
                linked.append(one)
            return linked
        return await self._linked_line(request, command, [])

    async def _linked_line(self, request: wire.Request, command: Any, earlier: list[Any]) -> Any:
        if not isinstance(command, rules.AddLine):
            return command
        article = command.article
        if article.deposit:
            deposit = self.catalog.get(article.deposit)
            if deposit is None:
                return _error(request, wire.Code.NOT_FOUND,
                              f"article {article.id}'s deposit article {article.deposit!r} is not in the catalog",
                              article=article.id)
            command = msgspec.structs.replace(command, deposit=deposit)
        if not self.catalog.is_coupon_article(article.id):
            return command
        customer = self.state.ticket.customer
        count = coupon_rules.whole(command.qty)
        if customer is not None and count is not None and count > 0 and self.customers is not None:
            try:
                available = await self.customers.ask(CountCoupons(self.lane, customer, article.id))
            except ActorFailed:
                return _error(request, wire.Code.UNAVAILABLE, "the customer directory did not answer; try again")
            # What this lane's tickets (and the lines before this one) already hold.
            held = self._coupon_holds(self.state).get((customer, article.id), 0)
            held += sum(int(c.qty) for c in earlier if isinstance(c, rules.AddLine) and c.coupon
                        and c.article.id == article.id)
            left = available - held - count
            if left >= 0:
                return msgspec.structs.replace(command, coupon=True, coupon_left=left)
        if article.price == 0 and not article.zero_price_allowed:
            who = "the ticket has no customer" if customer is None else "the customer has no coupon of it left"
            return _error(request, wire.Code.CONFLICT,
                          f"{article.name} is sold with a coupon only and {who}", article=article.id)
        return command

    def _coupon_holds(self, state: rules.LaneState) -> coupon_rules.Holds:
        """What the coupon lines hold (rules/coupons.py ``lane_holds``), kept like ``_reserved``."""
        return self._coupons.of(state)

    async def _hold_coupons(self, request: wire.Request, holds: coupon_rules.Holds) -> bytes | None:
        if self.customers is None:
            return _error(request, wire.Code.NOT_SUPPORTED, "coupons need the customer directory")
        try:
            refused = await self.customers.ask(AskCouponHold(self.lane, holds))
        except ActorFailed:
            return _error(request, wire.Code.UNAVAILABLE,
                          "the customer directory did not answer; nothing was changed, try again")
        if refused is None:
            return None
        return _error(request, refused.code, refused.message, **_details(refused.details))

    async def _settle_coupons(self, request: wire.Request, caller: Caller,
                              sale: rules.SaleCompleted | None) -> tuple[Any, ...] | bytes:
        """The journal ops of a sale's coupon uses and subscription credits, or an error frame."""
        if sale is None:
            return ()
        credits = coupon_rules.credits(sale.lines, self.catalog.get)
        if isinstance(credits, str):
            return _error(request, wire.Code.CONFLICT, credits)
        uses = coupon_rules.uses(sale.lines)
        if not credits and not uses:
            return ()
        if sale.customer is None:
            line = credits[0].line if credits else None
            return _error(request, wire.Code.CONFLICT, f"line {line} is a subscription: select the customer it is "
                                                       "for before finishing", line=line)
        if self.customers is None:
            return _error(request, wire.Code.NOT_SUPPORTED, "subscriptions and coupons need the customer directory")
        try:
            settled = await self.customers.ask(AskCouponSettle(
                lane=self.lane, customer=sale.customer, uses=uses, credits=tuple(credits), at=sale.at,
                device=caller.device, seller=sale.seller))
        except ActorFailed:
            return _error(request, wire.Code.UNAVAILABLE,
                          "the customer directory did not answer; nothing was changed, try again")
        if isinstance(settled, customer_rules.Refused):
            return _error(request, settled.code, settled.message, **_details(settled.details))
        return settled

    async def _report_coupon_holds(self) -> None:
        """At start: what the lane's coupon lines hold (a tell: granted before)."""
        if self.customers is not None:
            await self.customers.tell(ReportCouponHolds(self.lane, self._coupon_holds(self.state)))


def _declined_message(result: TerminalResult, amount: Decimal) -> str:
    what = {
        "declined": "the card was declined",
        "cancelled": "the card payment was cancelled on the terminal",
        "timeout": "the payment terminal did not answer in time (the payment was cancelled on it)",
        "failed": "the payment terminal failed",
    }.get(result.outcome, f"the card payment ended with {result.outcome}")
    return f"{what}: {fmt_money(amount)} not paid, the ticket is unchanged"


def _qty(raw: Any) -> Decimal:
    return Decimal(1) if raw is None else parse_qty(raw)


def _summed(takes: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """A sale's takes (stock article, exact quantity) summed per stock article, zeros
    dropped: what the stock point is told the sale took."""
    taken: dict[str, Any] = {}
    for article, qty in takes:
        taken[article] = taken.get(article, 0) + qty
    return {article: qty for article, qty in taken.items() if qty != 0}


def _finish_reply(re: wire.Id, sale: rules.SaleCompleted, number: int,
                  vouchers: tuple[wire.VoucherView, ...] = (), invoice: int | None = None,
                  ticket: Any = UNSET) -> bytes:
    """``ticket``: the new open ticket's view (encoded, ``msgspec.Raw``)."""
    extra: dict[str, Any] = {"vouchers": list(vouchers)} if vouchers else {}
    if sale.due:
        extra["due"] = fmt_money(sale.due)  # finished unpaid (deferred payment)
    if invoice is not None:
        extra["invoice"] = invoice
    return encode(wire.FinishOk(re=re, number=number, total=fmt_money(sale.total), change=fmt_money(sale.change),
                                ticket=ticket, **extra))


def _invoiced(request: wire.Request) -> bool:
    """A finish, or a pay the shop's auto_finish may finish, billed on an invoice."""
    return isinstance(request, (wire.Finish, wire.Pay)) and request.receipt == "invoice"


def _remainder_vouchers(moves: tuple[Any, ...]) -> tuple[wire.VoucherView, ...]:
    """The vouchers a sale issues for what used vouchers did not pay (for its reply)."""
    return tuple(
        wire.VoucherView(code=m.code, amount=fmt_money(m.amount), valid_until=m.valid_until.isoformat(),
                         status="valid", customer=m.customer, origin=m.origin, issued_at=m.at.isoformat())
        for m in moves if isinstance(m, IssueVoucher)
    )


def _label(policy: payments.Policy, mode: str) -> str:
    """A shop mode's configured label ("" for a built-in one: the receipt names it)."""
    found = policy.mode(mode)
    return found.label if found is not None and mode not in PAYMENT_MODES else ""


def _details(details: dict[str, Any]) -> dict[str, Any]:
    known = {"balance", "line", "payment", "held", "article", "cap", "reasons", "payable", "modes",
             "available", "short", "reference"}
    return {k: v for k, v in details.items() if k in known}
