"""Where each request goes: one table, wire type → ``Route``; and the one function
that turns what went wrong on the way (an actor failed or stopped, no answer in
time, a refusal) into an ``error`` frame.

A route names the session method that answers (``handler``: the edge of one domain,
e.g. ``_customers`` → server/edge_customers.py), the actor that carries it out
(``target``, for the reader: logs, docs), whether the device must have said hello
first, which request fields the handler takes besides the request, and whether a
``supervisor_pin`` is checked at the edge (``approval``: the session checks it and
hands the actor ``Caller.approved_by``; the actor never sees a PIN).
"""

from __future__ import annotations

from typing import Any

import msgspec

from laneserver.actors.runtime import ActorFailed, ActorStopped
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import error_frame
from laneserver.rules.outcome import Refused
from laneserver.server.edge_lane import LANE_REQUESTS
from laneserver.server.outcomes import refusal_frame


class Route(msgspec.Struct, frozen=True):
    handler: str  # the Session method that answers: ``handler(request, *fields)``
    target: str = "session"  # who carries it out: session, lane, stock, drawer, customers, sales, journal
    needs_device: bool = True  # only ``hello`` comes before the device is known
    fields: tuple[str, ...] = ()  # request fields passed to the handler after the request
    approval: bool = False  # a ``supervisor_pin`` is checked here (Caller.approved_by)


def _table() -> dict[type, Route]:
    table: dict[type, Route] = {}

    def add(types: Any, route: Route) -> None:
        for kind in types if isinstance(types, tuple) else (types,):
            table.setdefault(kind, route)  # the first route of a type wins

    add(wire.Hello, Route("_hello", needs_device=False))
    add(wire.Pair, Route("_pair", needs_device=False))
    add(wire.SignIn, Route("_sign_in"))
    add(wire.SignOut, Route("_sign_out"))
    add(wire.Stock, Route("_stock", "stock", fields=("article",)))
    add(wire.Search, Route("_search"))
    add(wire.PriceCheck, Route("_price_check", "stock", fields=("code",)))
    add(wire.Keyboard, Route("_keyboard"))
    add(wire.KeyboardSave, Route("_keyboard_save", "journal"))
    # An unknown code made sellable (issue 17): a supervisor, or a supervisor's PIN.
    add(wire.CATALOG_EDIT_VERBS, Route("_catalog_edit", "journal", approval=True))
    add(wire.AlcoholPricing, Route("_alcohol_price"))
    add((wire.StockEntry, wire.StockExit, wire.StockCount, wire.StockDelete, wire.StockTracking,
         wire.StockStateRequest, wire.StockProduce, wire.StockExpiring, wire.PurchaseOrderCreate,
         wire.Replenishment), Route("_stock_move", "stock"))
    add((wire.PurchaseReceive, wire.PurchaseCancel), Route("_on_order", "stock"))
    add(wire.PurchaseOrders, Route("_purchase_orders", "journal"))
    add(wire.StockTransfer, Route("_stock_transfer", "stock"))
    # A PDA's stock work (issue 16): counting by zone, validating (a supervisor or a PIN), labels.
    add(wire.StockCountValidate, Route("_stock_pda", "stock", approval=True))
    add((wire.StockCountZone, wire.StockCounts, wire.LabelRequest), Route("_stock_pda", "stock"))
    add(wire.LabelRequests, Route("_label_requests", "journal"))
    add(wire.StockHistory, Route("_stock_history", "journal"))
    # ``approval``: the handler finds its actor first (no drawer, no directory: refused
    # before any PIN is counted), then asks the session for the approved caller.
    add((wire.DrawerMovement, wire.DrawerOpen, wire.DrawerCount, wire.GetDrawer),
        Route("_drawer", "drawer", approval=True))
    add((wire.BasketEmpty, wire.BasketPark), Route("_basket_empty", "lane"))
    add(wire.BalanceCorrect, Route("_customers", "customers", approval=True))
    add(wire.CUSTOMER_VERBS, Route("_customers", "customers"))
    # A copy of a receipt (rules/copies.py): a cashier's, for a sale of their lane (the
    # sales actor checks the lane and the role); no PIN.
    add(wire.Reprint, Route("_sales", "sales"))
    add(wire.SALES_VERBS, Route("_sales", "sales", approval=True))
    add(wire.GetInvoice, Route("_invoice", "journal"))
    # Closing (rules/closures.py): ``close`` by a manager, or with a supervisor's PIN.
    add(wire.Close, Route("_fiscal", "fiscal", approval=True))
    add(wire.FISCAL_VERBS, Route("_fiscal", "fiscal"))
    add(wire.ADMIN_VERBS, Route("_admin", "journal"))
    add(wire.Events, Route("_events", "journal"))  # the technical event journal (server/edge_jet.py), manager
    # A discount above the cap, a refund (returns): a supervisor's PIN.
    add((wire.Discount, wire.Pay, wire.SetPrice), Route("_lane_request", "lane", approval=True))
    add(LANE_REQUESTS, Route("_lane_request", "lane"))
    # Documents (rules/documents.py): listed and cancelled by the documents actor; a
    # cancel that refunds or keeps a deposit names the seller (any role the table allows).
    add(wire.DOCUMENT_VERBS, Route("_documents", "documents"))
    # A document's A4 PDF, from its chain record (server/edge_documents.py ``pdf``).
    add(wire.DocumentPdf, Route("_document_pdf", "journal"))
    return table


ROUTES: dict[type, Route] = _table()


def route_of(request: wire.Request) -> Route | None:
    """The route of ``request`` (by its type, or a base type's), or None: not handled here."""
    for kind in type(request).__mro__:
        route = ROUTES.get(kind)
        if route is not None:
            return route
    return None


class TimedOut(msgspec.Struct, frozen=True):
    """No answer within the session's ask timeout."""


def failure_frame(request: wire.Request, problem: ActorStopped | ActorFailed | TimedOut | Refused) -> bytes:
    """THE error frame of a request that did not get its answer: an actor out of service
    (stopped past its restart budget), an actor that failed on it (or never took it:
    the server is stopping), no answer in time, or a refusal."""
    match problem:
        case Refused():
            return refusal_frame(request, problem)
        case TimedOut():
            return error_frame(request, wire.Code.UNAVAILABLE, "the server did not answer in time; try again")
        case ActorStopped():  # past its restart budget: the request was not applied
            return error_frame(request, wire.Code.UNAVAILABLE, out_of_service_message(problem.actor))
        case ActorFailed():
            what = actor_words(problem.actor)
            if not problem.maybe_applied:  # it never reached the actor: the server is stopping
                return error_frame(request, wire.Code.UNAVAILABLE,
                                   f"{what} did not take the request (the server is stopping); nothing was "
                                   "changed: try again in a moment")
            # A bug: the actor crashed on this request and restarts from what it had
            # saved. Whatever the request saved before the crash stays.
            check = "the ticket" if problem.actor.startswith("lane:") else "the result"
            return error_frame(request, wire.Code.INTERNAL,
                               f"a fault inside the server interrupted this request; {what} restarted from what it "
                               f"had saved, so the request may or may not have been applied: check {check} before "
                               "trying again")
    raise TypeError(f"not a failure: {problem!r}")


def actor_words(actor: str) -> str:
    """An actor's mailbox name in words for a cashier: ``lane:1`` → ``lane 1``."""
    kind, _, ident = actor.partition(":")
    return {
        "lane": f"lane {ident}", "stock": f"stock point {ident}", "drawer": f"the cash drawer of lane {ident}",
        "printer": f"printer {ident}", "terminal": f"payment terminal {ident}",
        "customers": "the customer directory", "sales": "the finished sales service", "journal": "the journal",
        "fiscal": "the closing service",
    }.get(kind, actor)


def out_of_service_message(actor: str) -> str:
    """The error (and ``lane_status`` reason) for an actor stopped past its restart budget."""
    others = "the other lanes sell on" if actor.startswith("lane:") else "the rest of the shop goes on"
    return (f"{actor_words(actor)} is out of service after repeated failures; nothing was changed; {others}; "
            "store IT: see the log and restart the service")
