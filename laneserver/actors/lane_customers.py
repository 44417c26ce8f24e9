"""A lane's customer commands: the part of a lane that turns a customer chosen (by id
or card), a scanned code that is no article (a customer's card, or ``unknown_code``), a
wallet top-up line and an article's linked lines (its deposit line; a coupon article
sold with the customer's coupons) into the rule commands to apply, asking the customers
actor what it needs.

Not an actor of its own: the lane actor owns it (actors/lane.py ``_do``) and awaits it
before applying a command, so what it reads and the change stay one request. It only
prepares: the command to apply, or the refusal; the lane applies it as any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from laneserver.actors.customers_messages import Available, CountCoupons, FindCustomer
from laneserver.actors.lane_messages import ChooseCustomer, ScanCard
from laneserver.actors.lane_payments import filtered, find_customer
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock
from laneserver.rules import coupons as coupon_rules
from laneserver.rules import customers as customer_rules
from laneserver.rules import lane as rules
from laneserver.rules.catalog import Catalog
from laneserver.rules.money import fmt_money
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.rules.ticket import topups_in_out


class LaneCustomers:
    """One lane's customer commands (owned by its ``LaneActor``). ``coupon_holds``: what
    a lane state's coupon lines hold (the lane's rules/lane_sums.py sums)."""

    def __init__(self, lane: str, *, catalog: Catalog, customers: Address | None, clock: Clock,
                 coupon_holds: Callable[[rules.LaneState], coupon_rules.Holds]) -> None:
        self.lane = lane
        self.catalog = catalog
        self.customers = customers  # the shop's customers actor: credit, wallet and vouchers
        self.clock = clock
        self.coupon_holds = coupon_holds

    async def command(self, state: rules.LaneState, command: Any) -> Any:
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
                return await self._topup_command(state, command)
        return command

    async def _topup_command(self, state: rules.LaneState, command: rules.AddTopup) -> rules.AddTopup | Refused:
        """A top-up line (``topup_line``): the ticket's customer's wallet must be enabled; a
        cancel (``qty`` −1) only while the wallet holds it, counting the cancel lines
        already on the ticket (checked again at finish, in the sale's unit)."""
        amount, qty = command.amount, command.qty
        trial = rules.apply(state, command, now=self.clock.now())
        if isinstance(trial, rules.Refused):
            return filtered(trial)
        customer_id = state.ticket.customer
        found = await find_customer(self.customers, FindCustomer(customer=customer_id))
        if isinstance(found, Refused):
            return found
        if found is None:
            return refused(Code.NOT_FOUND, f"no customer {customer_id!r}", field="customer")
        if not found.wallet_enabled:
            return refused(Code.CONFLICT,
                          f"{found.name}'s wallet is not enabled (customer_edit with wallet: true)")
        if qty < 0:
            wanted = amount + topups_in_out(state.ticket.lines)[1]  # with the cancels already on it
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

    async def linked(self, state: rules.LaneState, command: Any, *, with_customer: bool = True) -> Any:
        """Lines that bring others: an article's deposit line, and a coupon article sold
        to a customer who has coupons of it (at zero price, using them). A coupon
        article without a coupon sells at its price; at price 0 (and not
        ``zero_price_allowed``) it is refused: it is only ever given with a coupon."""
        if isinstance(command, list):
            linked: list[Any] = []
            for one in command:
                one = await self._linked_line(state, one, linked, with_customer=with_customer)
                if isinstance(one, Refused):
                    return one  # all or nothing, like the basket's codes
                linked.append(one)
            return linked
        return await self._linked_line(state, command, [])

    async def _linked_line(self, state: rules.LaneState, command: Any, earlier: list[Any], *,
                           with_customer: bool = True) -> Any:
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
        customer = state.ticket.customer if with_customer else None
        count = coupon_rules.whole(command.qty)
        if customer is not None and count is not None and count > 0 and self.customers is not None:
            try:
                available = await self.customers.ask(CountCoupons(self.lane, customer, article.id))
            except ActorFailed:
                return refused(Code.UNAVAILABLE, "the customer directory did not answer; try again")
            # What this lane's tickets (and the lines before this one) already hold.
            held = self.coupon_holds(state).get((customer, article.id), 0)
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
