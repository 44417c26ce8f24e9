"""The customer verbs at the edge: wire requests in, domain commands to the customers
actor (actors/customers.py), its domain results out as wire replies.

``build`` turns a request (``wire.CUSTOMER_VERBS``) into its command (money parsed
here: a bad amount is ``bad_request`` before the actor sees it); ``answer`` turns the
actor's result into the reply (the views: Decimals and dates as the wire's strings);
``handle`` does both around the ask, with the request's idempotency key and
fingerprint. With ``[head_office]`` (``holds``, actors/hq_holds.py), a reply carrying a
customer's file carries their chain-wide credit and wallet instead of the shop's own
(``HqHolds.balances``: head office's, or the figure last seen, within ``hold_timeout``),
with ``balance_source`` saying which (docs/head_office.md). A ``Refused`` becomes an
``error`` frame in server/outcomes.py; a reply journaled as a frame before the actor
took domain commands comes back re-addressed.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

import msgspec

from laneserver.actors.customers_messages import (
    CancelTopup,
    CorrectBalance,
    CouponsLeft,
    CreateCustomer,
    CustomerCreated,
    CustomerFile,
    CustomersFound,
    DepositCredit,
    EditCustomer,
    SearchCustomers,
    SellVoucher,
    ShowCustomer,
    ShowVoucher,
    ToppedUp,
    TopUpWallet,
    VoucherState,
)
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import Address
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.rules.money import BadValue, fmt_money, parse_money
from laneserver.rules.outcome import Code, refused
from laneserver.server import outcomes

if TYPE_CHECKING:  # psycopg is imported only with [head_office] (server/run.py)
    from laneserver.actors.hq_holds import ChainBalances, HqHolds


def build(request: wire.Request) -> object:
    """The domain command of a customer verb, or ``Refused`` (a bad amount)."""
    try:
        match request:
            case wire.GetCustomer(customer=customer):
                return ShowCustomer(customer)
            case wire.CustomerSearch(text=text, limit=limit):
                return SearchCustomers(text, limit)
            case wire.GetVoucher(code=code):
                return ShowVoucher(code)
            case wire.CustomerCreate():
                return CreateCustomer(name=request.name, card=request.card, business=request.business,
                                      contact=request.contact, notes=request.notes, wallet=request.wallet)
            case wire.CustomerEdit():
                return EditCustomer(customer=request.customer, name=request.name, card=request.card,
                                    business=request.business, contact=request.contact, notes=request.notes,
                                    wallet=request.wallet)
            case wire.CreditDeposit():
                return DepositCredit(customer=request.customer, amount=parse_money(request.amount), mode=request.mode)
            case wire.WalletTopup():
                return TopUpWallet(customer=request.customer, amount=parse_money(request.amount), mode=request.mode)
            case wire.WalletTopupCancel():
                return CancelTopup(topup=request.topup, sale=request.sale, mode=request.mode)
            case wire.BalanceCorrect():
                return CorrectBalance(customer=request.customer, account=request.account,
                                      amount=parse_money(request.amount), reason=request.reason)
            case wire.VoucherIssue():
                return SellVoucher(amount=parse_money(request.amount), mode=request.mode, customer=request.customer,
                                   valid_days=request.valid_days)
    except BadValue as error:
        return refused(Code.BAD_REQUEST, str(error))
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a customer request")


def answer(request: wire.Request, result: object, chain: ChainBalances | None = None) -> bytes:
    """The reply to ``request`` carrying the actor's ``result`` (a customer's file with
    the ``chain``-wide figures, when given)."""
    match result:
        case CustomerFile():
            return encode(wire.CustomerOk(re=request.id, customer=customer_view(result, chain)))
        case ToppedUp(topup=topup, file=file):
            return encode(wire.TopupOk(re=request.id, topup=topup, customer=customer_view(file, chain)))
        case CustomerCreated(customer=customer):
            return encode(wire.CustomerCreatedOk(re=request.id, customer=customer))
        case CustomersFound(customers=found):
            return encode(wire.CustomersOk(re=request.id, customers=[
                wire.CustomerSummaryView(customer=c.customer, name=c.name, card=c.card, business=c.business)
                for c in found]))
        case VoucherState():
            return encode(wire.VoucherOk(re=request.id, voucher=voucher_view(result)))
    raise TypeError(f"the customers actor answered {result!r}")


async def handle(address: Address, caller: Caller, request: wire.Request, holds: HqHolds | None = None) -> bytes:
    """Ask the customers actor at ``address`` to carry out ``request`` for ``caller``;
    with head office's ``holds``, a customer's file goes out with the chain-wide figures."""
    if holds is None:
        return await outcomes.ask(address, caller, request, build(request), answer)
    files: list[Any] = []

    def kept(request: wire.Request, result: object) -> bytes:
        if isinstance(result, CustomerFile | ToppedUp):
            files.append(result)  # answered below, once head office said (or did not)
            return b""
        return answer(request, result)

    frame = await outcomes.ask(address, caller, request, build(request), kept)
    if not files:
        return frame
    result = files[0]
    file = result if isinstance(result, CustomerFile) else result.file
    return answer(request, result, await holds.balances(file.customer.customer))


# --- views ---------------------------------------------------------------------------

def customer_view(file: CustomerFile, chain: ChainBalances | None = None) -> wire.CustomerView:
    customer = file.customer
    view = wire.CustomerView(
        customer=customer.customer, name=customer.name, card=customer.card, business=customer.business,
        contact=customer.contact, notes=customer.notes,
        credit=fmt_money(file.credit), wallet=fmt_money(file.wallet), wallet_enabled=customer.wallet_enabled,
        credit_available=fmt_money(file.credit_available), wallet_available=fmt_money(file.wallet_available),
        vouchers=[voucher_view(v) for v in file.vouchers],
        history=[wire.CustomerSaleView(number=s.number, at=s.at, total=s.total) for s in file.history],
        coupons=[coupon_view(c) for c in file.coupons],
        owes=fmt_money(file.owes),
    )
    if chain is None:
        return view
    figures: dict[str, str] = {"balance_source": chain.source}
    if chain.at is not None:
        figures["balance_at"] = chain.at.astimezone(dt.UTC).isoformat()
    for account, figure in chain.accounts.items():
        figures[account] = fmt_money(figure.balance)
        figures[f"{account}_available"] = fmt_money(figure.available)
    return msgspec.structs.replace(view, **figures)


def voucher_view(state: VoucherState) -> wire.VoucherView:
    v = state.voucher
    # ``VoucherView`` omits its defaults, and msgspec tells a default by identity: an
    # origin "sold" read back (from the database, or a result journaled as MessagePack)
    # is equal to the default but another object, so it went out where a fresh one did
    # not. Interned, it is the default's own object: "sold" is always left out.
    return wire.VoucherView(
        code=v.code, amount=fmt_money(v.amount), valid_until=v.valid_until.isoformat(), status=state.status,
        customer=v.customer, origin=sys.intern(v.origin), issued_at=v.issued_at, used_at=v.used_at,
        used_amount=None if v.used_amount is None else fmt_money(v.used_amount), remainder=v.remainder,
    )


def coupon_view(left: CouponsLeft) -> wire.CouponView:
    return wire.CouponView(article=left.article, name=left.name, left=left.left,
                           valid_until=None if left.valid_until is None else left.valid_until.isoformat(),
                           expired=left.expired, held=left.held)
