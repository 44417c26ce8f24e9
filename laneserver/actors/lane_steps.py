"""A lane's plan steps: which neighbour each step of a plan (rules/lane_plan.py) asks or
tells, with which message.

Not an actor of its own: the lane actor owns it (actors/lane.py) and runs every plan
through it the same way — the asks in order before the commit (``ask_all``: stock
reserved, coupons and customers' money held or settled, the invoice billed), each
refusal giving back what the earlier asks granted; the tells after the commit
(``tell_all``: reservations set, stock taken, holds released, wallets refreshed, the
drawer, the receipt, the invoice's PDF), or the give-backs when the change is not made.
A step for a neighbour the lane does not have is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from laneserver.actors.customers_messages import (
    AskCouponHold,
    AskCouponSettle,
    AskSettle,
    Refresh,
    Release,
    ReportCouponHolds,
)
from laneserver.actors.drawer_messages import SaleFinished
from laneserver.actors.lane_messages import StockWarning
from laneserver.actors.lane_payments import LanePayments, filtered
from laneserver.actors.lane_receipts import LaneReceipts, Written
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.actors.stock_messages import AskReserve, Reserve, Taken
from laneserver.rules import invoice as invoices
from laneserver.rules import lane as rules
from laneserver.rules import lane_plan
from laneserver.rules.catalog import Article
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.stock import OutOfStock, exact, out_of_stock_refusal
from laneserver.store.ops import MoveAccount


class Granted:
    """What a plan's asks granted: the invoice (``Bill``), the journal ops of a sale's
    settles, the stock warnings of a reservation."""

    def __init__(self) -> None:
        self.invoice: invoices.Invoice | None = None
        self.moves: list[Any] = []
        self.warnings: tuple[StockWarning, ...] = ()

    @property
    def holds(self) -> tuple[int, ...]:
        """Head office's holds the settles' movements carry (a top-up cancelled in the
        sale: ``MoveAccount.hold``), settled in the sale's unit when it is written."""
        return tuple(m.hold for m in self.moves if isinstance(m, MoveAccount) and m.hold is not None)


class LaneSteps:
    """One lane's neighbours, as its plans' steps reach them (owned by its ``LaneActor``)."""

    def __init__(self, lane: str, *, stock: Address, stock_point: str, customers: Address | None,
                 drawer: Address | None, paying: LanePayments, receipts: LaneReceipts,
                 article: Callable[[str], Article | None]) -> None:
        self.lane = lane
        self.stock = stock
        self.stock_point = stock_point
        self.customers = customers  # the shop's customers actor: credit, wallet, vouchers, coupons
        self.drawer = drawer  # the lane's cash drawer actor: takes a sale's cash and opens
        self.paying = paying
        self.receipts = receipts
        self.article = article

    async def ask_all(self, plan: lane_plan.Plan, caller: Caller,
                      sale: rules.SaleCompleted | None) -> Granted | Refused:
        """The plan's asks in order; on a refusal, what the earlier ones granted is
        given back (``Plan.give_backs``) and the refusal returned."""
        granted = Granted()
        for done, ask in enumerate(plan.asks):
            answer = await self._ask(ask.step, caller, sale, granted)
            if isinstance(answer, Refused):
                await self.undo(plan.give_backs(done), granted)
                return answer
        return granted

    async def undo(self, give_backs: Any, granted: Granted) -> None:
        """The change is not made after its asks were granted (a later ask refused, the
        commit failed): what they granted is told back (``give_backs``, the plan's), and
        head office's holds its settles took (``Granted.holds``) are given back at once,
        not left to lapse."""
        await self.tell_all(give_backs)
        hq_holds = self.paying.hq_holds
        if hq_holds is not None:
            for hold in granted.holds:
                await hq_holds.movement_dropped(hold)

    def written(self, granted: Granted) -> None:
        """The sale is written, settling the holds its movements carried: head office is
        told now."""
        if self.paying.hq_holds is not None and granted.holds:
            self.paying.hq_holds.movements_written()

    async def _ask(self, step: Any, caller: Caller, sale: rules.SaleCompleted | None,
                   granted: Granted) -> Refused | None:
        """One ask: its answer added to ``granted``, or its refusal (a neighbour that
        did not answer: ``unavailable``, nothing changed)."""
        match step:
            case lane_plan.Bill(customer=customer):
                assert sale is not None
                invoice = await self.receipts.invoice(sale, customer)
                if isinstance(invoice, Refused):
                    return invoice
                granted.invoice = invoice
            case lane_plan.ReserveStock(before=before, after=after):
                try:
                    decision = await self.stock.ask(AskReserve(self.lane, before, after))
                except ActorFailed:
                    return refused(Code.UNAVAILABLE, "the stock point did not answer; nothing was changed, try again")
                if isinstance(decision, OutOfStock):
                    article = self.article(decision.article)
                    return out_of_stock_refusal(decision, article.name if article is not None else None,
                                                self.stock_point)
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

    async def _ask_customers(self, message: Any, granted: Granted, missing: str) -> Refused | None:
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

    async def tell_all(self, steps: tuple[Any, ...], written: Written | None = None) -> None:
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
                        await self.receipts.print(written)
                case lane_plan.WriteInvoice():
                    if written is not None:
                        self.receipts.write_invoice(written)
                case other:
                    raise TypeError(f"lane {self.lane}: no tell for {other!r}")
