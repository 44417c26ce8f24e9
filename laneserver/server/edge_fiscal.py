"""The closing verbs at the edge: ``x_report``, ``close`` and ``closures`` in, the
fiscal actor's results (rules/closures.py) out as ``report``, ``closure`` and
``closures`` (money as strings)."""

from __future__ import annotations

from typing import Any

from laneserver.actors.fiscal_messages import (
    AskReport,
    CloseNow,
    ClosureList,
    ListClosures,
)
from laneserver.actors.messages import Caller
from laneserver.actors.runtime import Address
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.rules.closures import Closure, Count, GrandTotals, Report, Totals
from laneserver.rules.money import ZERO, fmt_money
from laneserver.rules.outcome import Code, refused
from laneserver.server import outcomes


def build(request: wire.Request) -> Any:
    """The fiscal command for ``request``."""
    match request:
        case wire.XReport(lane=lane):
            return AskReport(lane)
        case wire.Close(period=period, date=date):
            return CloseNow(period, date)
        case wire.Closures(kind=kind, since=since):
            return ListClosures(kind, since)
    return refused(Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not a fiscal request")


def answer(request: wire.Request, result: Any) -> bytes:
    match result:
        case Report():
            return encode(wire.XReportOk(re=request.id, report=report_view(result)))
        case Closure():
            return encode(wire.CloseOk(re=request.id, closure=closure_view(result)))
        case ClosureList(closures=closures):
            return encode(wire.ClosuresOk(re=request.id, closures=[closure_view(c) for c in closures]))
    raise TypeError(f"the fiscal actor answered {result!r}")


async def handle(address: Address, caller: Caller, request: wire.Request) -> bytes:
    return await outcomes.ask(address, caller, request, build(request), answer)


def _count(count: Count) -> wire.CountView:
    return wire.CountView(count=count.count, total=fmt_money(count.total))


def _money(values: dict[str, Any]) -> dict[str, str]:
    return {key: fmt_money(value) for key, value in values.items()}


def totals_view(t: Totals) -> wire.TotalsView:
    return wire.TotalsView(
        tickets=t.tickets, sales=fmt_money(t.sales), returns=fmt_money(t.returns), net=fmt_money(t.net),
        by_vat={rate: wire.VatTotalView(base=fmt_money(v.base), vat=fmt_money(v.vat), total=fmt_money(v.total))
                for rate, v in t.by_vat.items()},
        by_mode=_money(t.by_mode), by_seller={k: _count(v) for k, v in t.by_seller.items()},
        by_lane={k: _count(v) for k, v in t.by_lane.items()}, discounts=fmt_money(t.discounts),
        cancellations=_count(t.cancellations), refunds=_count(t.refunds), cash_movements=_money(t.cash_movements),
        money_in=_money(t.money_in))


def _lanes(grand: GrandTotals) -> dict[str, wire.GrandView]:
    return {lane: wire.GrandView(gt=fmt_money(p.gt), gt_abs=fmt_money(p.gt_abs)) for lane, p in grand.lanes.items()}


def closure_view(c: Closure) -> wire.ClosureView:
    return wire.ClosureView(kind=c.kind, period=c.period, number=c.number, at=c.at.isoformat(),
                            totals=totals_view(c.totals), gt=fmt_money(c.grand.gt), gt_abs=fmt_money(c.grand.gt_abs),
                            lanes=_lanes(c.grand), hash=c.hash)


def report_view(r: Report) -> wire.ReportView:
    grand = r.grand
    if r.lane is not None:  # one lane's X carries that lane's grand totals
        pair = grand.lanes.get(r.lane)
        gt, gt_abs = (pair.gt, pair.gt_abs) if pair is not None else (ZERO, ZERO)
        lanes = {r.lane: wire.GrandView(gt=fmt_money(gt), gt_abs=fmt_money(gt_abs))}
    else:
        gt, gt_abs, lanes = grand.gt, grand.gt_abs, _lanes(grand)
    return wire.ReportView(lane=r.lane, at=r.at.isoformat(), since=r.since, totals=totals_view(r.totals),
                           gt=fmt_money(gt), gt_abs=fmt_money(gt_abs), lanes=lanes)
