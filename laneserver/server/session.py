"""One websocket session: a reader that answers requests in order, the edge of the
protocol for one browser.

Its seams, each in its own module: the transport (server/transport.py: the frames in,
the bounded outbox and its writer, the pushed events that never block), who is at the
other end (server/auth.py: the device's hello, sign-in and sign-out, resume secrets,
supervisor approvals), where each request goes (server/routes.py), the read-only
answers (server/queries.py) and each domain's translation (server/edge_*.py). What
stays here is the session's life: reading and answering, subscribing to its lane's
publisher and its stock points, and being ended by the server.
"""

from __future__ import annotations

import logging
import secrets
from functools import partial
from time import perf_counter
from typing import Any

import msgspec
import trio
from starlette.websockets import WebSocket

from laneserver.actors.journal import read
from laneserver.actors.messages import Caller
from laneserver.actors.publisher import Publisher
from laneserver.actors.runtime import ActorFailed, ActorStopped, Address
from laneserver.log import request_id
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, encode_error, error_frame
from laneserver.rules import roles
from laneserver.server import (devices, edge_admin, edge_catalog, edge_customers, edge_documents, edge_drawer,
                               edge_fiscal, edge_jet, edge_keys, edge_lane, edge_sales, edge_stock, outcomes, queries,
                               routes)
from laneserver.server.auth import Auth, shop_view
from laneserver.server.routes import actor_words, out_of_service_message  # noqa: F401 (run.py, tests)
from laneserver.server.shop import Shop
from laneserver.server.transport import Transport
from laneserver.store import reads

TOO_MANY_SESSIONS = "a newer connection of this device took this one's place (at most [server] max_sessions_per_device)"


class Session:
    def __init__(self, shop: Shop, websocket: WebSocket) -> None:
        self.shop = shop
        server = shop.config.server
        self.transport = Transport(websocket, shop.metrics, outbox=server.session_outbox,
                                   max_frame_bytes=server.max_frame_bytes)
        self.auth = Auth(shop)
        # Set when the server ends the session (a revoked device): the close's reason.
        self._closing: str | None = None
        self._scope: trio.CancelScope | None = None
        self._lane: Address | None = None
        # The publishers (actors/publisher.py) this session's transport is subscribed to:
        # its lane's (a till) and the stock points' whose ``stock_alert`` events it receives.
        self._subscribed: list[Publisher] = []
        # Request ids (laneserver/log.py): this session's tag, then its requests' count.
        self._tag = secrets.token_hex(4)
        self._requests = 0
        # Asked once: a lazy structlog logger binds anew at each call, even to do nothing.
        self._debug = self.auth.log.is_enabled_for(logging.DEBUG)
        # Wrong pairing codes typed on this connection (server/pairing.py bounds them).
        self._wrong_codes = 0

    # --- who (server/auth.py), as the server sees it (access.py, app.py) ----------------------

    @property
    def device(self) -> reads.Device | None:
        return self.auth.device

    @property
    def seller(self) -> str | None:
        return self.auth.seller

    @property
    def role(self) -> str | None:
        return self.auth.role

    @property
    def resume_hash(self) -> str | None:
        return self.auth.resume_hash

    @property
    def said_hello(self) -> trio.Event:
        return self.auth.said_hello

    @property
    def hello_at(self) -> float:
        return self.auth.hello_at

    @property
    def log(self) -> Any:
        return self.auth.log

    # --- the session's life ------------------------------------------------------------

    async def run(self) -> None:
        metrics = self.shop.metrics
        metrics.sessions_open += 1
        metrics.sessions_total += 1
        try:
            async with trio.open_nursery() as nursery:
                self._scope = nursery.cancel_scope
                self.shop.sessions.add(nursery.cancel_scope)
                self.shop.open_sessions.add(self)
                nursery.start_soon(self.transport.writer)
                await self._reader()
                nursery.cancel_scope.cancel()
        finally:
            self.shop.sessions.discard(nursery.cancel_scope)
            self.shop.open_sessions.discard(self)
            self._presence_changed()
            metrics.sessions_open -= 1
            with trio.CancelScope(shield=True):
                self._unsubscribe()
                await self._left()

    async def _reader(self) -> None:
        metrics = self.shop.metrics
        while (request := await self.transport.receive()) is not None:
            # Every line logged on this request's path, here and in the actors it
            # reaches (the envelopes carry it), names it.
            self._requests += 1
            request_id.set(f"{self._tag}-{self._requests}")
            if isinstance(request, wire.Error):
                reply = encode_error(request)
            else:
                started = perf_counter()
                reply = await self._answer(request)
                seconds = perf_counter() - started
                verb = request.__struct_config__.tag
                metrics.observe(verb, seconds)
                if self._debug:
                    self.log.debug("request_answered", verb=verb, re=request.id, ms=round(seconds * 1000, 2))
            if not await self.transport.reply(reply):
                return

    # --- ended or changed by the server (server/access.py) --------------------------------

    def close_revoked(self, reason: str) -> None:
        """End the session at once and close the websocket with 1008 and ``reason``."""
        self._closing = reason
        if self._scope is not None:
            self._scope.cancel()

    def sign_out_disabled(self, reason: str) -> None:
        """Sign the seller out and tell the page (a ``signed_out`` event)."""
        event = self.auth.sign_out_disabled(reason)
        if event is not None:
            self.transport.deliver(event, kind="signed_out")
            self._presence_changed()

    def _presence_changed(self) -> None:
        """A till's seller came or went: its lane's display is told (server/devices.py)."""
        device = self.device
        if device is not None and device.kind == "till":
            devices.presence_changed(self.shop, device.lane)

    async def _left(self) -> None:
        """Shielded, bounded: the websocket closed for a revoke; the resume secret's idle
        time starts now (a page that comes back within ``resume_idle`` keeps its seller)."""
        if self._closing is not None:
            await self.transport.close(1008, self._closing)
        else:
            await self.auth.touch_resume()

    # --- dispatch ------------------------------------------------------------------------

    async def _answer(self, request: wire.Request) -> bytes:
        try:
            with trio.move_on_after(self.shop.ask_timeout(request, self.device.lane if self.device else None)):
                return await self._dispatch(request)
            return routes.failure_frame(request, routes.TimedOut())
        except (ActorStopped, ActorFailed) as problem:
            if isinstance(problem, ActorFailed) and problem.maybe_applied:
                self.log.error("actor_failed", actor=problem.actor)
            return routes.failure_frame(request, problem)

    async def _dispatch(self, request: wire.Request) -> bytes:
        """The request's route (server/routes.py): its handler, once the device is known."""
        route = routes.route_of(request)
        if self.device is None and (route is None or route.needs_device):
            return error_frame(request, wire.Code.UNAUTHENTICATED, "say hello with the device's token first")
        if route is None:
            return error_frame(request, wire.Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not handled here")
        if route.needs_device:
            # Who may send it: the roles table (rules/roles.py), before any actor or PIN check.
            denied = roles.check(self.shop.roles, request.__struct_config__.tag, self.role, takes_pin=route.approval,
                                 pin_given=getattr(request, "supervisor_pin", None) is not None)
            if denied is not None:
                return error_frame(request, denied.code, denied.message, role=denied.role)
        handler = getattr(self, route.handler)
        return await handler(request, *(getattr(request, name) for name in route.fields))

    async def _approved_caller(self, request: wire.Request, owner: Address | None = None) -> Caller | bytes:
        """The caller, with the supervisor a ``supervisor_pin`` names when the request's
        route asks for approval (checked here, never by the actor); or the PIN's refusal.

        A keyed request whose key the ``owner`` actor already answered (a retry) is not
        checked again: the plain caller, whom the actor answers from its reply memory
        (outcomes.py ``answered_before``) — the PIN may have changed since, its
        supervisor been disabled, the PINs locked, and the first try was applied."""
        caller = self._caller()
        route = routes.route_of(request)
        pin = getattr(request, "supervisor_pin", None)
        if route is not None and route.approval and pin is not None and self.seller is not None:
            if owner is not None and await outcomes.answered_before(owner, caller, request):
                return caller
            approval = await self.auth.approve(request, pin)
            if isinstance(approval, bytes):
                return approval
            caller = msgspec.structs.replace(caller, approved_by=approval)
        elif route is not None and route.approval and roles.self_approves(self.role):
            # A supervisor or a manager signed in approves it himself (rules/roles.py).
            caller = msgspec.structs.replace(caller, approved_by=self.seller)
        return caller

    async def _approved(self, request: wire.Request, handle: Any, address: Address, *more: Any) -> bytes:
        """``handle(address, caller, request, *more)`` (a domain's edge) with the approved
        caller — the route's ``supervisor_pin`` checked first — or the PIN's refusal."""
        caller = await self._approved_caller(request, address)
        if isinstance(caller, bytes):
            return caller
        return await handle(address, caller, request, *more)

    # --- the lane (server/edge_lane.py) -------------------------------------------------

    async def _lane_request(self, request: wire.Request) -> bytes:
        """A till's request on its own lane."""
        if self._lane is None:
            return error_frame(request, wire.Code.FORBIDDEN, "this device has no lane (a PDA empties baskets into a lane)")
        if getattr(request, "supervisor_pin", None) is None and not roles.self_approves(self.role):
            # No approval to check (a supervisor signed in approves himself): the plain caller.
            return await edge_lane.handle(self._lane, self._caller(), request, self.shop)
        return await self._approved(request, edge_lane.handle, self._lane, self.shop)

    async def _basket_empty(self, request: wire.BasketEmpty | wire.BasketPark) -> bytes:
        """A PDA's basket into the lane it names (``basket_empty``), or parked on a lane
        (``basket_park``: the one it names, or the shop's first). Exactly once per basket:
        the basket's id is the request's key (``basket:<id>``, unless the request brings
        its own ``key``), so the lane that took it answers a repeat with its first reply; a basket
        another lane already took is refused ``conflict`` naming that ``lane`` (and the
        journal's key is unique per device: two lanes never both take it)."""
        name = request.lane if request.lane is not None else self.shop.config.lanes[0].id
        lane = self.shop.lanes.get(name)
        if lane is None:
            return error_frame(request, wire.Code.NOT_FOUND, f"no lane {name!r}", field="lane")
        if not request.basket or len(request.basket) > edge_lane.MAX_BASKET_ID:
            return error_frame(request, wire.Code.BAD_REQUEST,
                               f"basket must be an id of 1 to {edge_lane.MAX_BASKET_ID} characters", field="basket")
        if request.key is not None:  # the client's own key: a reuse of it is a conflict (key_reused)
            return await edge_lane.handle(lane, self._caller(), request, self.shop)
        key = f"basket:{request.basket}"
        request = msgspec.structs.replace(request, key=key)
        assert self.device is not None
        taken_by = await read(self.shop.journal, partial(reads.reply_actor, device=self.device.device, key=key))
        if taken_by is not None and taken_by != f"lane:{name}":
            other = taken_by.partition(":")[2]
            return error_frame(request, wire.Code.CONFLICT,
                               f"basket {request.basket!r} was already taken by lane {other}: nothing was changed",
                               lane=other)
        return await edge_lane.handle(lane, self._caller(), request, self.shop)

    # --- catalog queries ----------------------------------------------------------------

    async def _search(self, request: wire.Search) -> bytes:
        return await queries.search(self.shop, request)

    async def _keyboard(self, request: wire.Keyboard) -> bytes:
        return await queries.keyboard(self.shop, request)

    async def _keyboard_save(self, request: wire.KeyboardSave) -> bytes:
        """A manager's keyboard layout (server/edge_catalog.py)."""
        assert self.device is not None
        return await edge_catalog.save_keyboard(self.shop, request, device=self.device.device, seller=self.seller)

    async def _catalog_edit(self, request: wire.ArticleCreate | wire.BarcodeAttach) -> bytes:
        """An unknown code made sellable (server/edge_catalog.py ``edit_catalog``), with the
        supervisor its ``supervisor_pin`` names, or the supervisor signed in; a keyed
        retry gets its first reply before any check (``first_reply``)."""
        assert self.device is not None
        async with edge_keys.one_at_a_time(self.shop.journal, self.device.device, request):  # its twin waits
            first = await edge_catalog.first_reply(self.shop, self.device.device, request)
            if first is not None:
                return first
            caller = await self._approved_caller(request)
            if isinstance(caller, bytes):
                return caller
            return await edge_catalog.edit_catalog(self.shop, caller, request)

    async def _stock_transfer(self, request: wire.StockTransfer) -> bytes:
        if request.to not in self.shop.stock_points:
            return error_frame(request, wire.Code.NOT_FOUND, f"no stock point {request.to!r}", field="to")
        point = self.shop.stock_points.get(request.from_)
        if point is None:
            return error_frame(request, wire.Code.NOT_FOUND, f"no stock point {request.from_!r}", field="from")
        return await edge_stock.handle(point, self._caller(), request)

    def _caller(self) -> Caller:
        assert self.device is not None
        # origin: this session's transport (what the lane's publisher delivers to), so the
        # lane leaves it out of the ticket event of a change it made (the reply carries it).
        return Caller(device=self.device.device, seller=self.seller, role=self.role, lane=self.device.lane,
                      origin=self.transport)

    async def _hello(self, request: wire.Hello) -> bytes:
        """The device a token names (server/auth.py), with the seller its page's resume
        secret brings back; then its subscriptions: a till's lane publisher (its ticket
        and printer status at once, then each change) and the stock points it hears."""
        device = await self.auth.identify(request.token)
        if device is None:
            return error_frame(request, wire.Code.UNAUTHENTICATED, "unknown or revoked device token: pair this device again")
        lane = self.shop.lanes.get(device.lane) if device.kind == "till" and device.lane else None
        if lane is not None and lane.name in self.shop.out_of_service:
            # Past its restart budget: said at once, and the connection stays as it was.
            raise ActorStopped(lane.name, "out of service")
        self._unsubscribe()
        self.auth.accept(device)
        self._make_room(device.device)
        await self.auth.resume(request.resume)
        # A till hears its lane and its lane's stock point, a PDA every stock point's alerts.
        # The publishers are the shop's, not the actors': a lane or stock point that
        # restarts (or is out of service) keeps no session out.
        if lane is not None:
            self._lane = lane
            point = self.shop.stock_points.get(self.shop.config.stock_point_of(device.lane))
            heard = [lane] + ([point] if point is not None else [])
        else:
            heard = list(self.shop.stock_points.values()) if device.kind == "pda" else []
        self._subscribed = [self.shop.publishers[a.name] for a in heard if a.name in self.shop.publishers]
        for publisher in self._subscribed:  # a lane's: its ticket and printer status at once, then each change
            publisher.subscribe(self.transport)
        self._presence_changed()
        return encode(wire.HelloOk(re=request.id, device=device.device, kind=device.kind, lane=device.lane,
                                   seller=self.seller, role=self.role, shop=shop_view(self.shop)))

    def _make_room(self, device: str) -> None:
        """A device keeps at most ``[server] max_sessions_per_device`` sessions: the
        oldest others are closed (1008). A page that reconnects before its old socket
        is known dead gets in; a copied token cannot open sessions without end, each one
        receiving every event of the lane."""
        others = sorted((s for s in self.shop.open_sessions
                         if s is not self and s.device is not None and s.device.device == device),
                        key=lambda s: s.hello_at)
        excess = len(others) + 1 - self.shop.config.server.max_sessions_per_device
        for old in others[:max(0, excess)]:
            old.close_revoked(TOO_MANY_SESSIONS)

    def _unsubscribe(self) -> None:
        """Leave every publisher (a new hello, or the session's end)."""
        subscribed, self._subscribed, self._lane = self._subscribed, [], None
        for publisher in subscribed:
            publisher.unsubscribe(self.transport)

    async def _pair(self, request: wire.Pair) -> bytes:
        """A one-time code for a device token (server/pairing.py), before ``hello``."""
        frame, wrong = await self.shop.pairing.pair(request, self._wrong_codes)
        self._wrong_codes += wrong
        return frame

    async def _admin(self, request: wire.Request) -> bytes:
        """A manager's verb on sellers and devices (server/edge_admin.py)."""
        assert self.device is not None
        return await edge_admin.handle(self.shop, request, device=self.device.device, seller=self.seller)

    async def _sign_in(self, request: wire.SignIn) -> bytes:
        frame = await self.auth.sign_in(request)
        self._presence_changed()
        return frame

    async def _sign_out(self, request: wire.SignOut) -> bytes:
        frame = await self.auth.sign_out(request)
        self._presence_changed()
        return frame

    async def _stock(self, request: wire.Stock, article: str) -> bytes:
        return await edge_stock.stock(self.shop, request)

    async def _price_check(self, request: wire.PriceCheck, code: str) -> bytes:
        """The article a code names, its price and stock; the ticket is not touched."""
        return await queries.price_check(self.shop, request)

    async def _stock_move(self, request: Any) -> bytes:
        assert self.device is not None
        return await edge_stock.move(self.shop, self._caller(), request, self.device.lane)

    async def _stock_pda(self, request: Any) -> bytes:
        """A PDA's stock work (server/edge_stock.py ``pda``); validating a count with the
        supervisor its ``supervisor_pin`` names, or the supervisor signed in."""
        assert self.device is not None
        point = self.shop.stock_points.get(request.stock_point or self.shop.config.stock_point_of(self.device.lane))
        caller = await self._approved_caller(request, point)
        if isinstance(caller, bytes):
            return caller
        return await edge_stock.pda(self.shop, caller, request, self.device.lane)

    async def _label_requests(self, request: wire.LabelRequests) -> bytes:
        return await edge_stock.label_requests(self.shop, request)

    async def _on_order(self, request: wire.PurchaseReceive | wire.PurchaseCancel) -> bytes:
        """Hand a receipt or a cancel to the stock point the order belongs to."""
        return await edge_stock.on_order(self.shop, self._caller(), request)

    async def _purchase_orders(self, request: wire.PurchaseOrders) -> bytes:
        return await edge_stock.purchase_orders(self.shop, request)

    async def _stock_history(self, request: wire.StockHistory) -> bytes:
        return await edge_stock.history(self.shop, request)


    async def _drawer(self, request: wire.DrawerMovement | wire.DrawerOpen | wire.DrawerCount
                      | wire.GetDrawer) -> bytes:
        """Hand a drawer verb to the drawer of the till's lane, with the supervisor a
        ``supervisor_pin`` names, or the supervisor or manager signed in on it
        (rules/roles.py ``self_approves``)."""
        assert self.device is not None
        drawer = self.shop.drawers.get(self.device.lane) if self.device.kind == "till" and self.device.lane else None
        if drawer is None:
            return error_frame(request, wire.Code.FORBIDDEN,
                               "the cash drawer is a till's: this device has no lane with a drawer")
        return await self._approved(request, edge_drawer.handle, drawer)

    async def _customers(self, request: wire.Request) -> bytes:
        """Hand a customer verb to the customers actor; ``balance_correct`` with the
        supervisor its ``supervisor_pin`` names (checked here, like a discount's: its
        route asks for approval)."""
        if self.shop.customers is None:
            return error_frame(request, wire.Code.NOT_SUPPORTED, "this server has no customer directory")
        return await self._approved(request, edge_customers.handle, self.shop.customers, self.shop.hq_holds)

    async def _alcohol_price(self, request: wire.AlcoholPricing) -> bytes:
        return queries.alcohol_price(self.shop, request)

    async def _invoice(self, request: wire.GetInvoice) -> bytes:
        return await queries.invoice(self.shop, request)

    async def _events(self, request: wire.Events) -> bytes:
        """The technical event journal (server/edge_jet.py); the roles table let the seller ask."""
        return await edge_jet.events(self.shop, request, seller=self.seller)

    async def _sales(self, request: wire.Request) -> bytes:
        """Hand a verb on finished sales to the sales actor (actors/sales.py), with the
        supervisor a ``supervisor_pin`` names (corrections, cancels, abandoned debts)."""
        if self.shop.sales is None:
            return error_frame(request, wire.Code.NOT_SUPPORTED, "this server does not change finished sales")
        return await self._approved(request, edge_sales.handle, self.shop.sales, self.shop)

    async def _documents(self, request: wire.Request) -> bytes:
        """Hand ``documents`` or ``document_cancel`` to the documents actor (actors/documents.py)."""
        if self.shop.documents is None:
            return error_frame(request, wire.Code.NOT_SUPPORTED, "this server keeps no documents")
        return await edge_documents.handle(self.shop.documents, self._caller(), request, self.shop)

    async def _document_pdf(self, request: wire.DocumentPdf) -> bytes:
        return await edge_documents.pdf(self.shop, request)

    async def _fiscal(self, request: wire.Request) -> bytes:
        """Hand a closing verb (``x_report``, ``close``, ``closures``) to the fiscal actor
        (actors/fiscal.py), with the supervisor a ``close``'s ``supervisor_pin`` names."""
        if self.shop.fiscal is None:
            return error_frame(request, wire.Code.NOT_SUPPORTED, "this server does not close periods")
        return await self._approved(request, edge_fiscal.handle, self.shop.fiscal)

