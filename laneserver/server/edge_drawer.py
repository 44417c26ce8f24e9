"""The drawer verbs at the edge: wire requests in, the drawer actor's domain results out.

``build`` turns a request into a command of actors/drawer_messages.py (the amount
parsed here), ``answer`` a ``DrawerResult`` into the reply frame, and ``handle``
asks the drawer in between (the session has checked the device and the PIN).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from laneserver.actors.drawer_messages import (
    CountDrawer,
    Counted,
    DrawerAlert,
    DrawerNow,
    MoveCash,
    OpenedWithoutSale,
    OpenWithoutSale,
    ShowDrawer,
)
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import Address
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.rules import drawer as rules
from laneserver.rules.money import BadValue, fmt_money, parse_money
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.server import outcomes
from laneserver.server.outcomes import refusal_frame


def build(request: wire.Request) -> Any:
    """The drawer command for ``request``, or ``Refused`` (a bad amount)."""
    match request:
        case wire.GetDrawer():
            return ShowDrawer()
        case wire.DrawerMovement():
            try:
                amount = parse_money(request.amount)
            except BadValue as error:
                return refused(Code.BAD_REQUEST, str(error), field="amount")
            return MoveCash(kind=request.kind, amount=amount, reason=request.reason, detail=request.detail,
                            destination=request.destination,
                            count=None if request.count is None else dict(request.count))
        case wire.DrawerOpen():
            return OpenWithoutSale(request.reason)
        case wire.DrawerCount():
            return CountDrawer(dict(request.count))
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a drawer request")


def answer(request: wire.Request, result: Any) -> bytes:
    """The reply frame for a drawer result."""
    match result:
        case DrawerNow(period=period, threshold=threshold):
            return encode(wire.DrawerOk(re=request.id, drawer=drawer_view(period, threshold)))
        case OpenedWithoutSale(lane=lane, approved_by=approved_by):
            return encode(wire.DrawerOpenOk(re=request.id, lane=lane, approved_by=approved_by))
        case Counted(counted=counted, period=period, threshold=threshold):
            return encode(wire.DrawerCountOk(
                re=request.id, lane=counted.lane, expected=fmt_money(counted.expected),
                counted=fmt_money(counted.counted), difference=fmt_money(counted.difference),
                drawer=drawer_view(period, threshold)))
    raise TypeError(f"the drawer answered {result!r}")


def refusal(request: wire.Request, result: Refused) -> bytes:
    """A drawer refusal: a ``balance`` detail (money) as the wire writes it."""
    if isinstance(result.details.get("balance"), Decimal):
        details = {**result.details, "balance": fmt_money(result.details["balance"])}
        result = Refused(result.code, result.message, details)
    return refusal_frame(request, result)


async def handle(address: Address, caller: Caller, request: wire.Request) -> bytes:
    """Ask the drawer at ``address`` for ``request`` on behalf of ``caller``; the reply frame."""
    return await outcomes.ask(address, caller, request, build(request), answer, refusal=refusal)


def alert_frame(alert: DrawerAlert) -> bytes:
    """The ``drawer_alert`` event the lane's sessions are pushed."""
    return encode(wire.DrawerAlertEvent(lane=alert.lane, expected=fmt_money(alert.expected),
                                        threshold=fmt_money(alert.threshold)))


def drawer_view(period: rules.Period, threshold: Decimal | None) -> wire.DrawerView:
    totals = rules.totals(period)
    return wire.DrawerView(
        lane=period.lane,
        since=None if period.since is None else period.since.isoformat(),
        float=fmt_money(totals.float),
        added=fmt_money(totals.added),
        expenses=fmt_money(totals.expenses),
        withdrawals=fmt_money(totals.withdrawals),
        cash_sales=fmt_money(totals.cash_sales),
        sales=period.sales,
        cash_in=fmt_money(totals.cash_in),
        expected=fmt_money(totals.expected),
        alert_threshold=None if threshold is None else fmt_money(threshold),
        alert=threshold is not None and totals.expected > threshold,
        movements=[
            wire.DrawerMovementView(
                at=m.at.isoformat(), kind=m.kind, amount=fmt_money(m.amount), reason=m.reason, seller=m.seller,
                detail=m.detail, destination=m.destination, count=count_view(m.count), approved_by=m.approved_by)
            for m in period.movements
        ],
    )


def count_view(count: rules.CountRows) -> dict[str, int]:
    return {fmt_money(value): pieces for value, pieces in count}
