"""The slips of the changes to finished sales, printed on the till's printer: a debt paid
later (the payment and what is still due), a payment corrected (the row cancelled and
the row as corrected) and a sale cancelled (its counter-entry's receipt).

Not an actor of its own: the sales actor owns it (actors/sales.py) and has a slip
printed after the change is journaled and answered; a till with no printer prints none,
a printer that is down keeps the job.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from laneserver.actors.messages import Caller
from laneserver.actors.printer_messages import PrintReceipt
from laneserver.actors.runtime import Address
from laneserver.clock import Clock
from laneserver.config import Config
from laneserver.hw.receipt import payment_label
from laneserver.rules import copies
from laneserver.rules import corrections as rules
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.money import ZERO, fmt_money
from laneserver.rules.receipt import Receipt, ReceiptLine, ReceiptPayment
from laneserver.store.ops import CancelRecorded


class SaleSlips:
    """The sales actor's slips (owned by ``SalesActor``)."""

    def __init__(self, *, config: Config, clock: Clock, printers: dict[str, Address]) -> None:
        self.config = config
        self.clock = clock
        self.printers = printers  # lane → its printer: the slips of the changes made there

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

    async def print_rows(self, caller: Caller, sale: rules.SaleMoney, rows: tuple[rules.NewRow, ...], kind: str,
                         reason: str | None, numbers: tuple[int, ...]) -> None:
        """A debt paid later: a receipt of the payment and what is still due. A payment
        corrected: the row cancelled and the row as corrected. (An abandoned debt: no money.)"""
        visa = (f"Visa : {caller.approved_by}",) if caller.approved_by else ()
        why = (f"Motif : {reason}",) if reason else ()
        if kind == "DebtPaid":
            # The payment, and in cash the rounding row that settles the debt with it:
            # the slip's total is what they settle, its rounding total + rounding = paid.
            settled = sum((r.amount for r in rows), ZERO)
            paid = tuple(r for r in rows if r.mode != rules.ROUNDING)
            due = sale.due - settled
            receipt = self._slip(
                caller, sale.number, "RÈGLEMENT",
                lines=(ReceiptLine(name=f"Règlement de la vente n° {sale.number}", qty=Decimal(1),
                                   unit_price=settled, total=settled, vat_rate=ZERO),),
                total=settled, payments=tuple(ReceiptPayment(mode=r.mode, amount=r.amount) for r in paid),
                rounding=sum((r.amount for r in paid), ZERO) - settled,
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

    async def print_cancel(self, caller: Caller, sale: rules.SaleMoney, counter: SaleCompleted,
                           recorded: CancelRecorded, given_back: dict[str, Decimal], reason: str) -> None:
        """The counter-entry's receipt: the lines and VAT negated, what was given back,
        and the footer of a sale's receipt (the software, its record's hash)."""
        number = recorded.number
        receipt = self._slip(
            caller, number, "ANNULATION", software=copies.SOFTWARE, signature=copies.signature(recorded.hash),
            lines=tuple(ReceiptLine(name=l.name, qty=l.qty, unit_price=l.unit_price, total=l.total,
                                    vat_rate=l.vat_rate, discount_percent=l.discount_percent)
                        for l in counter.lines),
            vat=counter.vat, total=counter.total,
            payments=tuple(ReceiptPayment(mode=mode, amount=-amount) for mode, amount in given_back.items()),
            footer=(f"Annule la vente n° {sale.number}", f"Motif : {reason}", f"Visa : {caller.approved_by}"))
        await self._print(caller, f"cancel-{number}", receipt)
