"""The lane actor: one checkout's open ticket and held tickets.

A thin loop around ``rules.lane.apply``: receive a request, translate it into a
rule command, apply it, journal the events and the new state (durably, before
answering), answer, then publish the ticket to every session of the lane, report
reservations to the stock point and hand a receipt to the printer.

The lane's state lives in the journal (``lane_states``), so a restart — of the
actor by its supervisor, or of the whole process after ``kill -9`` — rebuilds it
exactly as the last acknowledged request left it.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

import trio

from laneserver.actors.journal import CommitFailed, commit, read
from laneserver.actors.messages import (
    AskReserve,
    Caller,
    DeviceStatus,
    Handle,
    Reserve,
    Subscribe,
    Taken,
    Unsubscribe,
)
from laneserver.actors.printer import PrintReceipt
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.protocol.codec import error_frame as _error
from laneserver.protocol.views import held_view, ticket_view
from laneserver.rules import lane as rules
from laneserver.rules.catalog import Ambiguous, Catalog, Found
from laneserver.rules.money import BadValue, fmt_money, parse_money, parse_percent, parse_qty
from laneserver.rules.stock import OutOfStock, fmt_stock, stock_quantities, stock_takes_all
from laneserver.rules.receipt import Receipt, ReceiptLine, ReceiptPayment
from laneserver.rules.ticket import reserved_quantities
from laneserver.store import reads
from laneserver.store.ops import PutLaneState, RecordEvent, RecordSale, Remember, SaleRecorded

# The payment modes of the spine; the till-money issue adds the others.
PAYMENT_MODES = ("cash", "card")


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
    ) -> None:
        self.lane = lane
        self.config = config
        self.journal = journal
        self.catalog = catalog
        self.stock = stock
        self.stock_point = config.stock_point_of(lane)
        self.printer = printer
        self.clock = clock
        # Owned by the supervisor's closure so sessions stay subscribed across
        # a restart of this actor.
        self.subscribers = subscribers
        self.state = rules.LaneState(lane=lane)
        self.replies = ReplyMemory(f"lane:{lane}")
        self.log = get_logger("lane", lane=lane)
        self.last_printer_frame: bytes | None = None

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        stored = await read(self.journal, partial(reads.lane_state, lane=self.lane))
        if stored is not None:
            self.state = stored
        await self.replies.load(self.journal, self.clock.now())
        await self._report_reservations()
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
                    case DeviceStatus(frame=frame, kind=kind):
                        self.last_printer_frame = frame
                        self._publish(frame, kind)
                    case other:
                        raise TypeError(f"lane {self.lane} got {other!r}")
        self.log.info("lane_stopped")

    # --- requests ------------------------------------------------------------------

    async def _handle(self, envelope, caller: Caller, request: wire.Request) -> None:
        remembered = self.replies.recall(caller.device, request.key, request.id)
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
            command = self._command(caller.seller, request, approved_by=caller.approved_by)
        except BadValue as error:
            envelope.reply(_error(request, wire.Code.BAD_REQUEST, str(error)))
            return
        if isinstance(command, bytes):  # a refusal found while translating
            envelope.reply(command)
            return
        await self._apply(envelope, caller, request, command)

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
                return rules.AddLine(seller, article, _qty(qty))
            case wire.SetQty(line=line, qty=qty):
                return rules.SetQty(seller, line, parse_qty(qty))
            case wire.RemoveLine(line=line):
                return rules.RemoveLine(seller, line)
            case wire.CancelTicket():
                return rules.CancelTicket(seller)
            case wire.Pay(mode=mode, amount=amount, reference=reference):
                if mode not in PAYMENT_MODES:
                    return _error(request, wire.Code.NOT_SUPPORTED,
                                  f"payment mode {mode!r} is not available (this server takes {', '.join(PAYMENT_MODES)})")
                value = None if amount is None else parse_money(amount)
                return rules.Pay(seller, mode, value, reference)
            case wire.RemovePayment(payment=payment):
                return rules.RemovePayment(seller, payment)
            case wire.Hold():
                return rules.Hold(seller)
            case wire.Recall(held=held):
                return rules.Recall(seller, held)
            case wire.Finish(receipt=receipt):
                if receipt == "invoice":
                    return _error(request, wire.Code.NOT_SUPPORTED, "invoices come with business customers; use ticket or none")
                return rules.Finish(seller)
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
                return rules.AddLine(seller, article, _qty(qty) * pack)
            case Ambiguous(candidates=candidates):
                return _error(
                    request, wire.Code.AMBIGUOUS_CODE, f"code {code!r} matches {len(candidates)} articles: choose one",
                    candidates=[wire.Candidate(article=a.id, name=a.name) for a in candidates],
                )
        return _error(request, wire.Code.UNKNOWN_CODE, f"unknown code {code!r}")

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

        sale = next((e for e in events if isinstance(e, rules.SaleCompleted)), None)
        # Stock: a ticket that holds back more asks the stock point first, so two
        # lanes cannot both take the last bottle when the shop refuses negative
        # stock. A finish never asks: its quantities were reserved already.
        before = self._reserved(self.state)
        after = self._reserved(state)
        grows = sale is None and any(qty > before.get(article, 0) for article, qty in after.items())
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
        ops: list[Any] = [
            RecordEvent(at=now, source=f"lane:{self.lane}", kind=type(e).__name__, data=e,
                        device=caller.device, seller=caller.seller)
            for e in events
        ]
        ops.append(PutLaneState(state=state, at=now))
        reply: bytes | None = None
        if sale is not None:
            build = partial(_finish_reply, request.id, sale)
            # What the sale takes from stock, line by line: a part of a unit of its stock
            # article, a kit's components.
            takes = tuple(take for line in sale.lines for take in stock_takes_all(line.article, line.qty,
                                                                                  self.catalog.get))
            ops.append(RecordSale(sale=sale, stock_point=self.stock_point, device=caller.device,
                                  key=request.key, actor=self.replies.actor, reply=build, takes=takes))
        else:
            reply = encode(self._reply_for(request, state, events, warnings))
            if request.key is not None:
                ops.append(Remember(device=caller.device, key=request.key, actor=self.replies.actor,
                                    reply=reply, at=now))
        try:
            results = await commit(self.journal, *ops)
        except CommitFailed as error:
            self.log.error("commit_failed", error=str(error), request=request.__struct_config__.tag)
            envelope.reply(_error(request, wire.Code.INTERNAL, "the change could not be saved; nothing was changed"))
            if grows:  # give back what the stock point granted for nothing
                await self.stock.tell(Reserve(self.lane, before))
            return
        self.state = state
        recorded: SaleRecorded | None = next((r for r in results if isinstance(r, SaleRecorded)), None)
        if sale is not None and recorded is not None:
            reply = _finish_reply(request.id, sale, recorded.number)
        assert reply is not None
        self.replies.remember(caller.device, request.key, reply)
        envelope.reply(reply)
        # After the answer: what others learn from it. None of it can undo the sale.
        self._publish_ticket()
        if sale is not None and recorded is not None:
            # One message: the stock taken and the reservation released together.
            taken = stock_quantities(_quantities(sale.lines), self.catalog.get)
            await self.stock.tell(Taken(taken, lane=self.lane, reserved=after))
            self.log.info("sale_completed", number=recorded.number, total=str(sale.total), seller=sale.seller)
            if isinstance(request, wire.Finish) and request.receipt == "ticket":
                await self._print(recorded.number, sale)
        elif not grows and after != before:
            await self.stock.tell(Reserve(self.lane, after))

    def _reply_for(self, request: wire.Request, state: rules.LaneState, events: list[Any],
                   warnings: list[wire.StockWarningView]) -> Any:
        extra: dict[str, Any] = {"stock_warnings": warnings} if warnings else {}
        match request:
            case wire.Hold():
                held = next(e.held for e in events if isinstance(e, rules.TicketHeld))
                return wire.HoldOk(re=request.id, held=held, ticket=ticket_view(state.ticket))
            case wire.BasketEmpty(basket=basket):
                return wire.BasketOk(re=request.id, basket=basket, lane=self.lane, lines=len(events),
                                     ticket=ticket_view(state.ticket), **extra)
        return wire.TicketOk(re=request.id, lane=self.lane, ticket=ticket_view(state.ticket), **extra)

    # --- after a change ------------------------------------------------------------

    def _ticket_ok(self, request: wire.Request) -> wire.TicketOk:
        return wire.TicketOk(re=request.id, lane=self.lane, ticket=ticket_view(self.state.ticket))

    def _ticket_frame(self) -> bytes:
        return encode(wire.TicketEvent(lane=self.lane, ticket=ticket_view(self.state.ticket)))

    def _publish_ticket(self) -> None:
        self._publish(self._ticket_frame())

    def _publish(self, frame: bytes, kind: str = "ticket") -> None:
        for subscriber in list(self.subscribers):
            subscriber.deliver(frame, kind)

    def _reserved(self, state: rules.LaneState) -> dict[str, Any]:
        """What the tickets hold back, per stock article (a glass: 1/6 of its bottle)."""
        return stock_quantities(reserved_quantities(rules.reserved_tickets(state)), self.catalog.get)

    async def _report_reservations(self) -> None:
        """At start: what the lane's tickets hold (a tell: it was granted before)."""
        await self.stock.tell(Reserve(self.lane, self._reserved(self.state)))

    async def _print(self, number: int, sale: rules.SaleCompleted) -> None:
        if self.printer is None:
            return
        shop = self.config.shop
        receipt = Receipt(
            shop_name=shop.name,
            header=shop.header,
            lane=self.lane,
            number=number,
            seller=sale.seller,
            at=sale.at,
            lines=tuple(
                ReceiptLine(name=l.name, qty=l.qty, unit_price=l.unit_price, total=l.total,
                            vat_rate=l.vat_rate, discount_percent=l.discount_percent)
                for l in sale.lines
            ),
            vat=sale.vat,
            total=sale.total,
            payments=tuple(ReceiptPayment(mode=p.mode, amount=p.amount) for p in sale.payments),
            change=sale.change,
            footer=shop.footer,
        )
        # The printer's mailbox is drained into its own job queue at once, so
        # this waits at most for a moment; a printer that is down keeps the job.
        await self.printer.tell(PrintReceipt(job=f"sale-{number}", receipt=receipt))


def _qty(raw: Any) -> Decimal:
    return Decimal(1) if raw is None else parse_qty(raw)


def _quantities(lines) -> dict[str, Decimal]:
    taken: dict[str, Decimal] = {}
    for line in lines:
        taken[line.article] = taken.get(line.article, Decimal(0)) + line.qty
    return taken


def _finish_reply(re: wire.Id, sale: rules.SaleCompleted, number: int) -> bytes:
    return encode(wire.FinishOk(re=re, number=number, total=fmt_money(sale.total), change=fmt_money(sale.change)))


def _details(details: dict[str, Any]) -> dict[str, Any]:
    known = {"balance", "line", "payment", "held", "article", "cap", "reasons"}
    return {k: v for k, v in details.items() if k in known}
