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
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial
from typing import Any

import msgspec
import trio

from laneserver.actors.customers import AskGiveBack, Refresh
from laneserver.actors.drawer import RowsWritten
from laneserver.actors.journal import CommitFailed, commit, read
from laneserver.actors.messages import Caller, Handle, Moved
from laneserver.actors.printer import PrintReceipt
from laneserver.actors.replies import ReplyMemory
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.hw.receipt import payment_label
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.protocol.codec import error_frame as _error
from laneserver.rules import corrections as rules
from laneserver.rules.customers import Refused as CustomerRefused
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.money import ZERO, BadValue, fmt_money, parse_money
from laneserver.rules.receipt import Receipt, ReceiptLine, ReceiptPayment, VatRow
from laneserver.rules.ticket import Line
from laneserver.store import reads
from laneserver.store.ops import (
    CancelRecorded,
    IssueVoucher,
    MoveStock,
    PaymentRow,
    RecordCancel,
    RecordEvent,
    RecordPayments,
)

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
    ) -> None:
        self.journal = journal
        self.config = config
        self.clock = clock
        self.modes = modes  # the shop's payment modes (built-in and its own)
        self.customers = customers
        self.stock_points = stock_points or {}
        self.drawers = drawers or {}
        self.printers = printers or {}  # lane → its printer: the slips of the changes made there
        self.replies = ReplyMemory(SOURCE)
        self.log = get_logger("sales")

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        await self.replies.load(self.journal, self.clock.now())
        task_status.started()
        self.log.info("sales_started")
        async for envelope in inbox:
            with envelope:
                match envelope.command:
                    case Handle(caller=caller, request=request):
                        envelope.reply(await self._handle(caller, request))
                    case other:
                        raise TypeError(f"sales got {other!r}")

    async def _handle(self, caller: Caller, request: wire.Request) -> bytes:
        remembered = self.replies.recall(caller.device, request)
        if remembered is not None:
            return remembered
        if caller.seller is None:
            return _error(request, wire.Code.NOT_SIGNED_IN, "no seller is signed in on this device")
        try:
            match request:
                case wire.GetSale(sale=number):
                    sale = await self._sale(number)
                    if sale is None:
                        return _no_sale(request, number)
                    others = await read(self.journal, partial(reads.superseding, payments=[r.number for r in sale.rows]))
                    names = await read(self.journal, partial(reads.customer_names, customers=[sale.customer or ""]))
                    return encode(wire.SaleOk(re=request.id, sale=sale_view(sale, others, names.get(sale.customer or ""))))
                case wire.Unpaid(customer=customer):
                    found = await read(self.journal, partial(reads.unpaid_sales, customer=customer))
                    names = await read(self.journal, partial(reads.customer_names,
                                                             customers=[s.customer or "" for s in found]))
                    return encode(wire.UnpaidOk(
                        re=request.id, due=fmt_money(sum((s.due for s in found), ZERO)),
                        sales=[wire.DebtView(sale=s.number, at=s.at, customer=s.customer, total=fmt_money(s.total),
                                             due=fmt_money(s.due), customer_name=names.get(s.customer or ""))
                               for s in found]))
                case wire.PayLater():
                    return await self._pay_later(caller, request)
                case wire.PaymentCorrect() | wire.SaleCancel() | wire.DebtAbandon():
                    if caller.approved_by is None:
                        return _error(request, wire.Code.SUPERVISOR_REQUIRED,
                                      f"{request.__struct_config__.tag} needs a supervisor's PIN (supervisor_pin)")
                    reason = rules.check_reason(request.reason)
                    if isinstance(reason, rules.Refused):
                        return _error(request, reason.code, reason.message, field="reason")
                    match request:
                        case wire.PaymentCorrect():
                            return await self._correct(caller, request, reason)
                        case wire.SaleCancel():
                            return await self._cancel(caller, request, reason)
                    return await self._abandon(caller, request, reason)
        except BadValue as error:
            return _error(request, wire.Code.BAD_REQUEST, str(error))
        return _error(request, wire.Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a sales request")

    async def _sale(self, number: int) -> rules.SaleMoney | None:
        return await read(self.journal, partial(reads.sale_money, number=number, topups=True))

    # --- rows on a sale ------------------------------------------------------------------

    async def _pay_later(self, caller: Caller, request: wire.PayLater) -> bytes:
        sale = await self._sale(request.sale)
        if sale is None:
            return _no_sale(request, request.sale)
        amount = None if request.amount is None else parse_money(request.amount)
        row = rules.pay_later(sale, mode=request.mode, amount=amount, modes=self.modes)
        if isinstance(row, rules.Refused):
            return _refused(request, row)
        row = msgspec.structs.replace(row, reference=request.reference)
        # The money is taken at this till: its lane's drawer (from a PDA: the sale's lane).
        return await self._record(caller, request, sale, (row,), "DebtPaid", reason=None,
                                  lane=caller.lane or sale.lane)

    async def _correct(self, caller: Caller, request: wire.PaymentCorrect, reason: str) -> bytes:
        sale = await self._sale(request.sale)
        if sale is None:
            return _no_sale(request, request.sale)
        amount = None if request.amount is None else parse_money(request.amount)
        rows = rules.correct(sale, request.payment, mode=request.mode, amount=amount, modes=self.modes)
        if isinstance(rows, rules.Refused):
            return _refused(request, rows)
        # A correction puts right what the sale's lane took: its drawer held the cash or not.
        return await self._record(caller, request, sale, rows, "PaymentCorrected", reason=reason, lane=sale.lane)

    async def _abandon(self, caller: Caller, request: wire.DebtAbandon, reason: str) -> bytes:
        sale = await self._sale(request.sale)
        if sale is None:
            return _no_sale(request, request.sale)
        row = rules.abandon(sale)
        if isinstance(row, rules.Refused):
            return _refused(request, row)
        return await self._record(caller, request, sale, (row,), "DebtAbandoned", reason=reason,
                                  lane=caller.lane or sale.lane)

    async def _record(self, caller: Caller, request: wire.Request, sale: rules.SaleMoney,
                      rows: tuple[rules.NewRow, ...], kind: str, *, reason: str | None, lane: str) -> bytes:
        """Write ``rows`` on ``sale`` with the event ``kind``; the reply is the sale as it is then.
        ``lane``: the lane whose drawer the rows' cash moves in (the rows' ``lane``)."""
        now = self.clock.now()

        def build(numbers: tuple[int, ...]) -> bytes:
            after = _with_rows(sale, rows, numbers, now)
            return encode(wire.SaleOk(re=request.id, sale=sale_view(after, {})))

        debtor = None
        if sale.due - sum((r.amount for r in rows), ZERO) > 0:
            debtor = sale.customer  # a correction that leaves the sale owing: listed with the debts
        op = RecordPayments(
            sale=sale.number, at=now, rows=tuple(PaymentRow(**msgspec.structs.asdict(r)) for r in rows),
            lane=lane, device=caller.device, seller=caller.seller, approved_by=caller.approved_by,
            reason=reason, debtor=debtor, key=request.key, actor=self.replies.actor, reply=build,
            fingerprint=self.replies.fingerprint(request),
        )
        event = self._event(caller, kind, {
            "sale": sale.number, "rows": [msgspec.structs.asdict(r) for r in rows], "reason": reason,
            "approved_by": caller.approved_by,
        })
        try:
            [numbers, _] = await commit(self.journal, op, event)
        except CommitFailed as error:
            return self._failed(request, error)
        reply = build(numbers)
        self.replies.remember(caller.device, request, reply)
        self.log.info(kind, sale=sale.number, rows=len(rows), seller=caller.seller, approved_by=caller.approved_by)
        await self._tell_drawer(lane, numbers, rows, ZERO)
        await self._print_rows(caller, sale, rows, kind, reason, numbers)
        return reply

    # --- cancel ----------------------------------------------------------------------------

    async def _cancel(self, caller: Caller, request: wire.SaleCancel, reason: str) -> bytes:
        sale = await self._sale(request.sale)
        if sale is None:
            return _no_sale(request, request.sale)
        rows = rules.cancel(sale)
        if isinstance(rows, rules.Refused):
            return _refused(request, rows)
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
                return _error(request, wire.Code.NOT_SUPPORTED, "giving customer money back needs the customer "
                                                                "directory")
            try:
                given = await self.customers.ask(AskGiveBack(
                    back=back, customer=sale.customer, at=now, lane=lane, device=caller.device, seller=caller.seller,
                    approved_by=caller.approved_by, reason=reason, sale=sale.number,
                    topup_cancelled=sale.topup_cancelled))
            except ActorFailed:
                return _error(request, wire.Code.UNAVAILABLE, "the customer directory did not answer; nothing was "
                                                              "changed, try again")
            if isinstance(given, CustomerRefused):
                return _error(request, given.code, given.message)
            customer_moves = given
        takes = await read(self.journal, partial(reads.sale_takes, number=sale.number))
        stock = tuple(
            MoveStock(at=now, stock_point=point, article=article, delta=qty, reason="sale_cancel",
                      device=caller.device, seller=caller.seller, source=caller.source)
            for point, article, qty in takes
        )
        given_back = {mode: fmt_money(amount) for mode, amount in rules.given_back(rows, sale.change).items()}
        vouchers = [
            wire.VoucherView(code=m.code, amount=fmt_money(m.amount), valid_until=m.valid_until.isoformat(),
                             status="valid", customer=m.customer, origin=m.origin, issued_at=m.at.isoformat())
            for m in customer_moves if isinstance(m, IssueVoucher)
        ]

        def build(number: int, numbers: tuple[int, ...]) -> bytes:
            original = msgspec.structs.replace(sale, cancelled_by=number)
            others = {r.refers: (n, r.type) for r, n in zip(rows, numbers) if r.refers is not None}
            extra: dict[str, Any] = {"vouchers": vouchers} if vouchers else {}
            return encode(wire.SaleCancelledOk(re=request.id, number=number, sale=sale_view(original, others),
                                               given_back=given_back, **extra))

        op = RecordCancel(
            original=sale.number, sale=counter, rows=tuple(PaymentRow(**msgspec.structs.asdict(r)) for r in rows),
            reason=reason, approved_by=caller.approved_by or "", stock=stock, customer_moves=customer_moves,
            device=caller.device, key=request.key, actor=self.replies.actor, reply=build,
            fingerprint=self.replies.fingerprint(request),
        )
        event = self._event(caller, "SaleCancelled", {
            "sale": sale.number, "total": sale.total, "given_back": given_back, "reason": reason,
            "approved_by": caller.approved_by,
        })
        try:
            [recorded, _] = await commit(self.journal, op, event)
        except CommitFailed as error:
            return self._failed(request, error)
        assert isinstance(recorded, CancelRecorded)
        reply = build(recorded.number, recorded.payments)
        self.replies.remember(caller.device, request, reply)
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
        await self._print_cancel(caller, sale, counter, recorded.number, rules.given_back(rows, sale.change), reason)
        return reply

    # --- slips ------------------------------------------------------------------------------

    async def _print(self, caller: Caller, job: str, receipt: Receipt) -> None:
        """On the printer of the till's lane, if it has one (a printer that is down keeps it)."""
        printer = self.printers.get(caller.lane or "")
        if printer is not None:
            await printer.tell(PrintReceipt(job=job, receipt=receipt))

    def _slip(self, caller: Caller, number: int, title: str, **fields: Any) -> Receipt:
        shop = self.config.shop
        base: dict[str, Any] = dict(lines=(), vat=(), total=ZERO, payments=(), change=ZERO, footer=())
        base.update(fields)
        base["footer"] = tuple(base["footer"]) + tuple(shop.footer)
        return Receipt(shop_name=shop.name, header=shop.header, lane=caller.lane or "", number=number,
                       seller=caller.seller or "", at=self.clock.now(), title=title, **base)

    async def _print_rows(self, caller: Caller, sale: rules.SaleMoney, rows: tuple[rules.NewRow, ...], kind: str,
                          reason: str | None, numbers: tuple[int, ...]) -> None:
        """A debt paid later: a receipt of the payment and what is still due. A payment
        corrected: the row cancelled and the row as corrected. (An abandoned debt: no money.)"""
        visa = (f"Visa : {caller.approved_by}",) if caller.approved_by else ()
        why = (f"Motif : {reason}",) if reason else ()
        if kind == "DebtPaid":
            (row,) = rows
            due = sale.due - row.amount
            receipt = self._slip(
                caller, sale.number, "RÈGLEMENT",
                lines=(ReceiptLine(name=f"Règlement de la vente n° {sale.number}", qty=Decimal(1),
                                   unit_price=row.amount, total=row.amount, vat_rate=ZERO),),
                total=row.amount, payments=(ReceiptPayment(mode=row.mode, amount=row.amount),),
                footer=(f"Reste dû : {fmt_money(due).replace('.', ',')} €",))
        elif kind == "PaymentCorrected":
            lines = tuple(
                ReceiptLine(name=f"{'Annulé' if r.type == rules.ANL else 'Corrigé'} : {payment_label(r.mode)}",
                            qty=Decimal(1), unit_price=r.amount, total=r.amount, vat_rate=ZERO)
                for r in rows)
            receipt = self._slip(caller, sale.number, "CORRECTION DE PAIEMENT", lines=lines,
                                 total=sum((r.amount for r in rows), ZERO),
                                 footer=(f"Vente n° {sale.number}", *why, *visa))
        else:
            return
        await self._print(caller, f"{kind}-{sale.number}-{numbers[0] if numbers else 0}", receipt)

    async def _print_cancel(self, caller: Caller, sale: rules.SaleMoney, counter: SaleCompleted, number: int,
                            given_back: dict[str, Decimal], reason: str) -> None:
        """The counter-entry's receipt: the lines and VAT negated, what was given back."""
        receipt = self._slip(
            caller, number, "ANNULATION",
            lines=tuple(ReceiptLine(name=l.name, qty=l.qty, unit_price=l.unit_price, total=l.total,
                                    vat_rate=l.vat_rate, discount_percent=l.discount_percent)
                        for l in counter.lines),
            vat=counter.vat, total=counter.total,
            payments=tuple(ReceiptPayment(mode=mode, amount=-amount) for mode, amount in given_back.items()),
            footer=(f"Annule la vente n° {sale.number}", f"Motif : {reason}", f"Visa : {caller.approved_by}"))
        await self._print(caller, f"cancel-{number}", receipt)

    # --- helpers ---------------------------------------------------------------------------

    async def _tell_drawer(self, lane: str, numbers: tuple[int, ...], rows: tuple[rules.NewRow, ...],
                           change: Decimal) -> None:
        """The cash ``rows`` (numbered ``numbers``) moved, less ``change`` (a counter-entry's),
        into ``lane``'s drawer, which counts it and opens (as ``reads.cash_rows`` rebuilds it)."""
        cash = [r.amount for r in rows if r.mode == rules.CASH]
        drawer = self.drawers.get(lane)
        if drawer is None or not cash or not numbers:
            return
        await drawer.tell(RowsWritten(max(numbers), sum(cash, ZERO) - change))

    def _event(self, caller: Caller, kind: str, data: Any) -> RecordEvent:
        return RecordEvent(at=self.clock.now(), source=SOURCE, kind=kind, data=data, device=caller.device,
                           seller=caller.seller)

    def _failed(self, request: wire.Request, error: CommitFailed) -> bytes:
        self.log.error("commit_failed", error=str(error), request=request.__struct_config__.tag)
        return self.replies.failed(request, error,
                                   "the change could not be saved (the sale changed meanwhile?); nothing was changed",
                                   wire.Code.CONFLICT if "UNIQUE" in str(error) else wire.Code.INTERNAL)


def _with_rows(sale: rules.SaleMoney, rows: tuple[rules.NewRow, ...], numbers: tuple[int, ...],
               at: dt.datetime) -> rules.SaleMoney:
    added = tuple(rules.Row(number=n, type=r.type, mode=r.mode, amount=r.amount, reference=r.reference,
                            refers=r.refers, at=at.isoformat()) for r, n in zip(rows, numbers))
    return msgspec.structs.replace(sale, rows=sale.rows + added)


def sale_view(sale: rules.SaleMoney, others: dict[int, tuple[int, str]],
              customer_name: str | None = None) -> wire.SaleView:
    """A sale with its rows; ``others``: rows of other sales (a counter-entry's ANL) that
    supersede some of its rows, number → (row, type)."""
    superseded = {n: row for n, (row, _) in others.items()}
    for r in sale.rows:  # the first row that refers to one supersedes it (an ANL, then its MAJ)
        if r.type in (rules.ANL, rules.MAJ) and r.refers is not None:
            superseded.setdefault(r.refers, r.number)
    payments = [
        wire.SalePaymentView(
            payment=r.number, type=r.type, status=rules.ANNUL if r.number in superseded else r.type, mode=r.mode,
            amount=fmt_money(r.amount), at=r.at, reference=r.reference, refers=r.refers,
            superseded_by=superseded.get(r.number),
        )
        for r in sale.rows
    ]
    return wire.SaleView(
        number=sale.number, at=sale.at, lane=sale.lane, seller=sale.seller, customer=sale.customer,
        customer_name=customer_name,
        total=fmt_money(sale.total), paid=fmt_money(sale.paid), change=fmt_money(sale.change),
        due=fmt_money(sale.due), payments=payments, cancels=sale.cancels, cancelled_by=sale.cancelled_by,
        topup=fmt_money(sale.topup) if sale.topup else None, topup_cancelled=sale.topup_cancelled,
    )


def _no_sale(request: wire.Request, number: int) -> bytes:
    return _error(request, wire.Code.NOT_FOUND, f"no sale {number}", field="sale")


def _refused(request: wire.Request, refusal: rules.Refused) -> bytes:
    known = {"payment", "balance", "modes"}
    return _error(request, refusal.code, refusal.message, **{k: v for k, v in refusal.details.items() if k in known})
