"""What a device is shown of a customer: their file (balances, what open tickets leave
available, vouchers, last sales, coupons left, what they owe), a voucher's state, and
a customer as the lanes see them (their wallet open when the shop opens every wallet).

Not an actor of its own: the customers actor owns it (actors/customers.py) and
answers ``ShowCustomer``, ``ShowVoucher``, ``FindCustomer`` and the results of its
commands with it; the edge makes the wire views of these values
(server/edge_customers.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from laneserver.actors.coupons import Coupons
from laneserver.actors.customers_messages import (
    CouponsLeft,
    CustomerFile,
    SaleSeen,
    VoucherState,
)
from laneserver.actors.journal import read
from laneserver.actors.runtime import Address
from laneserver.config import Config
from laneserver.rules import coupons as coupon_rules
from laneserver.rules import customers as rules
from laneserver.rules.money import ZERO
from laneserver.store import reads


class CustomerViews:
    """The customers actor's views (owned by ``CustomersActor``)."""

    def __init__(self, *, journal: Address, config: Config, books: rules.Books, coupons: Coupons,
                 today: Callable[..., dt.date], article_name: Callable[[str], str]) -> None:
        self.journal = journal
        self.config = config
        self.books = books
        self.coupons = coupons
        self._today = today
        self.article_name = article_name  # for the coupons a customer view lists

    async def file(self, customer: rules.Customer, delta: tuple[str, Decimal] | None = None) -> CustomerFile:
        """The customer's file; ``delta``: a movement about to be written, counted in."""
        c = customer.customer

        def load(db):
            return (reads.customer_balances(db, [c]), reads.customer_vouchers(db, c), reads.customer_history(db, c),
                    reads.customer_coupons(db, c), sum((sale.due for sale in reads.unpaid_sales(db, c)), ZERO))

        balances, vouchers, history, batches, owes = await read(self.journal, load)
        for account in rules.ACCOUNTS:
            # The database's sum is exact: it includes sales lanes wrote and have not told yet.
            self.books.set_balance(c, account, balances.get((c, account), ZERO))
        if delta is not None:
            self.books.move(c, delta[0], delta[1])
        file = CustomerFile(
            customer=self.opened(customer),
            credit=self.books.balance(c, "credit"), wallet=self.books.balance(c, "wallet"),
            credit_available=self.available(c, "credit"), wallet_available=self.available(c, "wallet"),
            vouchers=tuple(self.voucher_state(v) for v in vouchers),
            history=tuple(SaleSeen(number=n, at=at, total=total) for n, at, total in history),
            coupons=self.coupons_left(c, batches),
            owes=owes,
        )
        if delta is not None:
            # Counted for the reply only: the books take it once it is written (``_moved``).
            self.books.move(c, delta[0], -delta[1])
        return file

    def coupons_left(self, customer: str, batches: list[coupon_rules.Batch]) -> tuple[CouponsLeft, ...]:
        return tuple(
            CouponsLeft(article=s.article, name=self.article_name(s.article), left=s.left, valid_until=s.valid_until,
                        expired=s.expired, held=self.coupons.held(customer, s.article))
            for s in coupon_rules.summaries(batches, self._today())
        )

    def opened(self, customer: rules.Customer | None) -> rules.Customer | None:
        """``customer`` with their wallet open when the shop takes the wallet for every
        customer (``[shop] wallet``, rules/customers.py ``wallet_opened``)."""
        return None if customer is None else rules.wallet_opened(customer, self.config.shop.wallet)

    def available(self, customer: str, account: str) -> Decimal:
        """What open tickets have not held; a sale written but not told yet is counted
        in both the balance and its hold, so never show less than zero."""
        return max(self.books.available(customer, account), ZERO)

    def voucher_state(self, voucher: rules.Voucher) -> VoucherState:
        if voucher.used:
            status = "used"
        elif self._today() > voucher.valid_until:
            status = "expired"
        elif self.books.voucher_holder(voucher.code) is not None:
            status = "held"
        else:
            status = "valid"
        return VoucherState(voucher, status)
