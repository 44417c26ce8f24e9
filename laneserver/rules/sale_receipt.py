"""A sale's receipt, built from the sale (pure): what the lane hands its printer.

The lines as sold (a coupon line says so), the VAT rows, the payments (a shop's own
mode by its configured label), the change and the cash rounding; under them what the
sale left the customer with (``sale_footer``), then the shop's footer. A finish billed
on an invoice is titled with the invoice's number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Protocol

from laneserver.rules import payment as payments
from laneserver.rules.copies import SOFTWARE
from laneserver.rules.invoice import invoice_name
from laneserver.rules.lane import SaleCompleted
from laneserver.rules.money import fmt_money
from laneserver.rules.receipt import (
    Receipt,
    ReceiptInstalment,
    ReceiptLine,
    ReceiptPayment,
)


class IssuedNote(Protocol):
    """A voucher a sale issued, as its receipt mentions it (actors/lane_messages.py
    ``IssuedVoucher`` is one)."""

    origin: str
    code: str
    amount: Decimal
    valid_until: dt.date


def _euros(amount: Decimal) -> str:
    return fmt_money(amount).replace(".", ",") + " €"


def sale_footer(sale: SaleCompleted, vouchers: Iterable[IssuedNote] = (),
                balances: Iterable[tuple[str, str, Decimal]] = ()) -> tuple[str, ...]:
    """What a sale's receipt says under its payments, before the shop's own footer: the
    wallet's new balance after a top-up (``balances``: (customer, account, balance) as
    the sale left them), the coupons left of each coupon article sold, and the vouchers
    it issued (a refund by voucher, what a voucher did not pay) with their validity."""
    issued = tuple(text for v in vouchers if v.origin in ("refund", "remainder")
                   for text in (("Bon d'achat" if v.origin == "refund" else "Reste : bon d'achat")
                                + f" n° {v.code} : {_euros(v.amount)}",
                                f"Valable jusqu'au {v.valid_until.isoformat()}"))
    left: dict[str, str] = {}
    for line in sale.lines:
        if line.coupon and line.coupon_left is not None:
            left[line.name] = f"{line.name} : {line.coupon_left} coupon(s) restant(s)"
    issued = tuple(left.values()) + issued
    if any(line.topup == "wallet" for line in sale.lines):
        wallet = [b for c, account, b in balances if c == sale.customer and account == "wallet"]
        if wallet:
            issued = (f"Porte-monnaie : nouveau solde {_euros(wallet[-1])}",) + issued
    return issued


def sale_receipt(sale: SaleCompleted, *, number: int, shop_name: str, header: tuple[str, ...],
                 footer: tuple[str, ...], policy: payments.Policy, vouchers: Iterable[IssuedNote] = (),
                 balances: Iterable[tuple[str, str, Decimal]] = (), invoice: int | None = None,
                 signature: str = "", ticket_text: Callable[[str], str] | None = None) -> Receipt:
    """The receipt of sale ``number`` (``invoice``: the number of its invoice, the
    slip's title). A shop's own payment mode is named by its configured label; a
    built-in one by the printer's. It ends with the software's name and version
    (rules/copies.py SOFTWARE) and ``signature``, the start of the sale record's hash.
    ``ticket_text``: an article id → the text printed under its lines (catalog
    ``ticket_text``; "" for none)."""
    return Receipt(
        shop_name=shop_name,
        header=header,
        lane=sale.lane,
        number=number,
        seller=sale.seller,
        at=sale.at,
        lines=tuple(
            ReceiptLine(name=f"{l.name} (coupon)" if l.coupon else l.name, qty=l.qty, unit_price=l.unit_price,
                        total=l.total, vat_rate=l.vat_rate, discount_percent=l.discount_percent,
                        text=ticket_text(l.article) if ticket_text is not None and l.article else "")
            for l in sale.lines
        ),
        vat=sale.vat,
        total=sale.total,
        payments=tuple(
            ReceiptPayment(mode=p.mode, amount=p.amount, label=_label(policy, p.mode), tendered=p.tendered,
                           instalments=tuple(ReceiptInstalment(i.due, i.amount) for i in p.instalments))
            for p in sale.payments
        ),
        change=sale.change,
        footer=sale_footer(sale, vouchers, balances) + footer,
        rounding=sale.rounding,
        title="" if invoice is None else f"FACTURE n° {invoice_name(invoice)}",
        software=SOFTWARE,
        signature=signature,
    )


_BUILTIN = frozenset(mode.id for mode in payments.BUILTIN_MODES)


def _label(policy: payments.Policy, mode: str) -> str:
    """A shop mode's configured label ("" for a built-in one: the receipt names it)."""
    found = policy.mode(mode)
    return found.label if found is not None and mode not in _BUILTIN else ""
