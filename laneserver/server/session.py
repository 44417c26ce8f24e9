"""One websocket session: a reader that answers requests in order, and a writer
that owns the socket's send side.

Everything the session sends goes through its bounded outbox. Replies wait for
room (that only slows this session's own reader); pushed events never wait: when
the outbox is full the newest ticket is kept aside and sent once the outbox has
drained (earlier ticket events are superseded by it) — likewise the newest printer
status — so a slow or gone browser never blocks its lane and always ends on the
lane's current ticket.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import msgspec
import trio
from starlette.websockets import WebSocket, WebSocketDisconnect

from laneserver.actors.lane import payment_policy
from laneserver.actors.journal import CommitFailed, ReadFailed, commit, read
from laneserver.actors.lane_messages import LaneTicket
from laneserver.actors.messages import Caller, Subscribe, Unsubscribe
from laneserver.actors.publisher import Publisher
from laneserver.actors.runtime import ActorFailed, ActorStopped, Address
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import decode_request, encode, error_frame
from laneserver.rules.auth import hash_token, new_resume_secret
from laneserver.server import edge_lane, queries, routes
from laneserver.server import edge_customers, edge_drawer, edge_sales, edge_stock
from laneserver.server.edge_events import event_frame
from laneserver.server.pins import PinRefused
from laneserver.server.routes import actor_words, out_of_service_message  # noqa: F401 (run.py, tests)
from laneserver.server.shop import Shop
from laneserver.store import reads
from laneserver.store.ops import DropResume, PutResume, RecordEvent, SeenDevice, SetSignedIn, TouchResume

TOO_MANY_SESSIONS = "a newer connection of this device took this one's place (at most [server] max_sessions_per_device)"


class Session:
    def __init__(self, shop: Shop, websocket: WebSocket) -> None:
        self.shop = shop
        self.ws = websocket
        self.device: reads.Device | None = None
        # When the device said hello (the oldest of a device's sessions goes first).
        self.hello_at = 0.0
        # Set once a device token is accepted: the HTTP edge's hello deadline (app.py).
        self.said_hello = trio.Event()
        self.seller: str | None = None
        self.role: str | None = None
        # The hash of this page's resume secret (sign_in's ``resume``), while signed in.
        self.resume_hash: str | None = None
        # Set when the server ends the session (a revoked device): the close's reason.
        self._closing: str | None = None
        self._scope: trio.CancelScope | None = None
        self._lane: Address | None = None
        # The lane's publisher (actors/publisher.py) this session is subscribed to.
        self._publisher: Publisher | None = None
        # Stock points whose ``stock_alert`` events this session receives.
        self._points: list[Address] = []
        size = shop.config.server.session_outbox
        self._out_send, self._out_recv = trio.open_memory_channel[bytes](size)
        # Newest pushed frame of each kind that found the outbox full.
        self._pending: dict[str, bytes] = {}
        self.log = get_logger("session")

    # --- pushed events (called from lane actors; never blocks) -------------------------

    def deliver(self, frame: Any, kind: str = "ticket") -> None:
        if not isinstance(frame, bytes):  # a domain value (an alert): its frame, encoded once for all sessions
            frame = event_frame(frame)
        if kind in self._pending:
            # Already behind on this kind: keep only the newest, in order after
            # what is queued.
            self._pending[kind] = frame
            self.shop.metrics.events_conflated += 1
            return
        try:
            self._out_send.send_nowait(frame)
        except trio.WouldBlock:
            self._pending[kind] = frame
            self.shop.metrics.events_conflated += 1
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    def deliver_ticket(self, ticket: LaneTicket) -> None:
        """The lane's open ticket changed (or was asked for on subscribing): its
        ``ticket`` event, encoded once for every session of the lane (server/edge_lane.py)."""
        self.deliver(edge_lane.ticket_event(ticket), "ticket")

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
                nursery.start_soon(self._writer)
                await self._reader()
                nursery.cancel_scope.cancel()
        finally:
            self.shop.sessions.discard(nursery.cancel_scope)
            self.shop.open_sessions.discard(self)
            metrics.sessions_open -= 1
            with trio.CancelScope(shield=True):
                await self._leave_lane()
                await self._left()

    # --- ended or changed by the server (server/access.py) --------------------------------

    def close_revoked(self, reason: str) -> None:
        """End the session at once and close the websocket with 1008 and ``reason``."""
        self._closing = reason
        if self._scope is not None:
            self._scope.cancel()

    def sign_out_disabled(self, reason: str) -> None:
        """Sign the seller out and tell the page (a ``signed_out`` event)."""
        if self.seller is None:
            return
        seller, self.seller, self.role, self.resume_hash = self.seller, None, None, None
        self.deliver(encode(wire.SignedOutEvent(seller=seller, reason=reason)), kind="signed_out")

    async def _left(self) -> None:
        """Shielded, bounded: the websocket closed for a revoke; the resume secret's idle
        time starts now (a page that comes back within ``resume_idle`` keeps its seller)."""
        if self._closing is not None:
            with trio.move_on_after(1):
                try:
                    await self.ws.close(code=1008, reason=self._closing)
                except (RuntimeError, OSError, WebSocketDisconnect):
                    pass  # the connection is already gone
        if self.resume_hash is not None and self._closing is None:
            with trio.move_on_after(2):
                try:
                    await commit(self.shop.journal, TouchResume(secret_hashes=(self.resume_hash,),
                                                                at=self.shop.clock.now()))
                except (CommitFailed, ActorFailed) as error:
                    self.log.error("resume_touch_failed", error=str(error))

    async def _writer(self) -> None:
        try:
            async for frame in self._out_recv:
                await self._send(frame)
                while self._pending and self._out_recv.statistics().current_buffer_used == 0:
                    kind = next(iter(self._pending))
                    await self._send(self._pending.pop(kind))
        except (WebSocketDisconnect, RuntimeError, OSError):
            pass  # the browser is gone: the reader sees it too and ends the session

    async def _send(self, frame: bytes) -> None:
        await self.ws.send_text(frame.decode())
        self.shop.metrics.frames_out += 1

    async def _reader(self) -> None:
        max_bytes = self.shop.config.server.max_frame_bytes
        while True:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError, OSError):
                return
            if message["type"] == "websocket.disconnect":
                return
            self.shop.metrics.frames_in += 1
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            request = decode_request(raw, max_bytes=max_bytes)
            if isinstance(request, wire.Error):
                reply = encode(request)
            else:
                self.shop.metrics.requests[request.__struct_config__.tag] += 1
                reply = await self._answer(request)
            if reply.startswith(b'{"type":"error"'):
                code = msgspec.json.decode(reply).get("code", "?")
                self.shop.metrics.errors[code] += 1
            try:
                await self._out_send.send(reply)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return

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
        handler = getattr(self, route.handler)
        return await handler(request, *(getattr(request, name) for name in route.fields))

    async def _approved_caller(self, request: wire.Request) -> Caller | bytes:
        """The caller, with the supervisor a ``supervisor_pin`` names when the request's
        route asks for approval (checked here, never by the actor); or the PIN's refusal."""
        caller = self._caller()
        route = routes.route_of(request)
        pin = getattr(request, "supervisor_pin", None)
        if route is not None and route.approval and pin is not None and self.seller is not None:
            approval = await self._approve(request, pin)
            if isinstance(approval, bytes):
                return approval
            caller = msgspec.structs.replace(caller, approved_by=approval)
        return caller

    # --- the lane (server/edge_lane.py) -------------------------------------------------

    async def _lane_request(self, request: wire.Request) -> bytes:
        """A till's request on its own lane."""
        if self._lane is None:
            return error_frame(request, wire.Code.FORBIDDEN, "this device has no lane (a PDA empties baskets into a lane)")
        caller = await self._approved_caller(request)
        if isinstance(caller, bytes):
            return caller
        return await edge_lane.handle(self._lane, caller, request, self.shop)

    async def _basket_empty(self, request: wire.BasketEmpty) -> bytes:
        """A PDA's basket into the lane it names."""
        lane = self.shop.lanes.get(request.lane)
        if lane is None:
            return error_frame(request, wire.Code.NOT_FOUND, f"no lane {request.lane!r}")
        if request.key is None:
            # Emptying a basket happens once per basket, key or not.
            request = msgspec.structs.replace(request, key=f"basket:{request.basket}")
        return await edge_lane.handle(lane, self._caller(), request, self.shop)

    # --- catalog queries ----------------------------------------------------------------

    async def _search(self, request: wire.Search) -> bytes:
        return await queries.search(self.shop, request)

    async def _keyboard(self, request: wire.Keyboard) -> bytes:
        return await queries.keyboard(self.shop, request)

    async def _stock_transfer(self, request: wire.StockTransfer) -> bytes:
        if request.to not in self.shop.stock_points:
            return error_frame(request, wire.Code.NOT_FOUND, f"no stock point {request.to!r}", field="to")
        point = self.shop.stock_points.get(request.from_)
        if point is None:
            return error_frame(request, wire.Code.NOT_FOUND, f"no stock point {request.from_!r}", field="from")
        return await edge_stock.handle(point, self._caller(), request)

    def _caller(self) -> Caller:
        assert self.device is not None
        # origin: this session, so the lane leaves it out of the ticket event of a change it
        # made (the reply carries the ticket).
        return Caller(device=self.device.device, seller=self.seller, role=self.role, lane=self.device.lane,
                      origin=self)

    async def _hello(self, request: wire.Hello) -> bytes:
        device = await read(self.shop.journal, partial(reads.device_by_token_hash, token_hash=hash_token(request.token)))
        if device is None or device.revoked:
            return error_frame(request, wire.Code.UNAUTHENTICATED, "unknown or revoked device token: pair this device again")
        await self._leave_lane()
        self.device = device
        self.hello_at = trio.current_time()
        self.said_hello.set()
        self._make_room(device.device)
        # A token alone never signs anyone in (a copied token must type a PIN): only the
        # page's own resume secret, used within ``resume_idle``, brings its seller back.
        self.seller, self.role, self.resume_hash = None, None, None
        now = self.shop.clock.now()
        ops: list = [SeenDevice(device=device.device, at=now)]
        if request.resume is not None:
            secret_hash = hash_token(request.resume)
            used_since = now - dt.timedelta(seconds=self.shop.config.server.resume_idle)
            seller = await read(self.shop.journal, partial(
                reads.resumed_seller, secret_hash=secret_hash, device=device.device, used_since=used_since.isoformat()))
            if seller is not None:
                self.seller, self.role, self.resume_hash = seller.name, seller.role, secret_hash
                ops.append(TouchResume(secret_hashes=(secret_hash,), at=now))
        try:
            await commit(self.shop.journal, *ops)
        except CommitFailed as error:  # only bookkeeping: the hello still holds
            self.log.error("device_seen_failed", error=str(error))
        if device.kind == "till" and device.lane in self.shop.lanes:
            lane = self.shop.lanes[device.lane]
            if lane.name in self.shop.out_of_service:  # past its restart budget: say so at once
                raise ActorStopped(lane.name, "out of service")
            self._lane, self._publisher = lane, self.shop.publishers.get(device.lane)
            if self._publisher is not None:  # the lane's ticket and printer status, then each change
                self._publisher.subscribe(self)
        # Stock alerts: a till hears its lane's stock point, a PDA every point.
        if device.kind == "till" and device.lane in self.shop.lanes:
            point = self.shop.stock_points.get(self.shop.config.stock_point_of(device.lane))
            self._points = [point] if point is not None else []
        elif device.kind == "pda":
            self._points = list(self.shop.stock_points.values())
        for point in self._points:
            await point.ask(Subscribe(self))
        self.log = get_logger("session", device=device.device)
        return encode(wire.HelloOk(re=request.id, device=device.device, kind=device.kind, lane=device.lane,
                                   seller=self.seller, role=self.role, shop=_shop_view(self.shop)))

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

    async def _leave_lane(self) -> None:
        points, self._points = self._points, []
        for point in points:
            with trio.move_on_after(2):
                try:
                    await point.ask(Unsubscribe(self))
                except ActorFailed:
                    pass
        self._lane = None
        if self._publisher is not None:
            publisher, self._publisher = self._publisher, None
            publisher.unsubscribe(self)

    async def _sign_in(self, request: wire.SignIn) -> bytes:
        """Checked and counted by the shop's PIN gate (server/pins.py); a good PIN gets
        a new resume secret (its hash stored, the secret only in the reply)."""
        assert self.device is not None
        try:
            checked = await self.shop.pins.check_sign_in(self.device.device, request.seller, request.pin)
        except (ReadFailed, CommitFailed) as error:
            self.log.error("pin_check_failed", error=str(error))
            return error_frame(request, wire.Code.UNAVAILABLE, "the PIN could not be checked; try again")
        if isinstance(checked, PinRefused):
            return _pin_refusal(request, checked, wire.Code.WRONG_PIN, "unknown seller or wrong PIN")
        resume = new_resume_secret()
        await self._record_sign(checked.name, "SignedIn", resume=hash_token(resume))
        self.seller, self.role = checked.name, checked.role
        return encode(wire.SignInOk(re=request.id, seller=checked.name, role=checked.role, resume=resume))

    async def _approve(self, request: wire.Request, pin: str) -> str | bytes:
        """The supervisor a PIN names (checked in a worker thread), or the error frame.

        Every supervisor PIN comes here (discount, refund, drawer, balance correction,
        sales corrections) and is counted like a sign-in's (server/pins.py).
        """
        assert self.device is not None
        try:
            checked = await self.shop.pins.check_supervisor(self.device.device, pin)
        except (ReadFailed, CommitFailed) as error:
            self.log.error("pin_check_failed", error=str(error))
            return error_frame(request, wire.Code.UNAVAILABLE, "the PIN could not be checked; nothing was changed")
        if isinstance(checked, PinRefused):
            return _pin_refusal(request, checked, wire.Code.SUPERVISOR_REQUIRED,
                                "that PIN is not an active supervisor's or manager's: nothing was changed")
        return checked

    async def _sign_out(self, request: wire.SignOut) -> bytes:
        if self.seller is not None:
            await self._record_sign(None, "SignedOut")
        self.seller, self.role, self.resume_hash = None, None, None
        return encode(wire.Ok(re=request.id))

    async def _record_sign(self, seller: str | None, kind: str, *, resume: str | None = None) -> None:
        """Journal a sign-in (with its resume secret's hash) or a sign-out (the session's
        resume secret forgotten: the page must sign in again)."""
        assert self.device is not None
        now = self.shop.clock.now()
        who = seller or self.seller
        ops: list = [SetSignedIn(device=self.device.device, seller=seller),
                     RecordEvent(at=now, source="session", kind=kind, data={"seller": who},
                                 device=self.device.device, seller=who)]
        if self.resume_hash is not None:
            ops.append(DropResume(secret_hash=self.resume_hash))
        self.resume_hash = None
        if seller is not None and resume is not None:
            expired = now - dt.timedelta(seconds=self.shop.config.server.resume_idle)
            ops.append(PutResume(secret_hash=resume, device=self.device.device, seller=seller, at=now,
                                 expired_before=expired))
        try:
            await commit(self.shop.journal, *ops)
        except CommitFailed as error:  # the sign-in still holds for this session (no resume)
            self.log.error("sign_record_failed", error=str(error))
            return
        if seller is not None:
            self.resume_hash = resume

    async def _stock(self, request: wire.Stock, article: str) -> bytes:
        return await edge_stock.stock(self.shop, request)

    async def _price_check(self, request: wire.PriceCheck, code: str) -> bytes:
        """The article a code names, its price and stock; the ticket is not touched."""
        return await queries.price_check(self.shop, request)

    async def _stock_move(self, request: Any) -> bytes:
        assert self.device is not None
        return await edge_stock.move(self.shop, self._caller(), request, self.device.lane)

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
        ``supervisor_pin`` names. The PIN is always typed, even by a supervisor
        signed in on the till: opening the drawer is a second person's decision."""
        assert self.device is not None
        drawer = self.shop.drawers.get(self.device.lane) if self.device.kind == "till" and self.device.lane else None
        if drawer is None:
            return error_frame(request, wire.Code.FORBIDDEN,
                               "the cash drawer is a till's: this device has no lane with a drawer")
        caller = await self._approved_caller(request)  # the route's supervisor_pin
        if isinstance(caller, bytes):
            return caller
        return await edge_drawer.handle(drawer, caller, request)

    async def _customers(self, request: wire.Request) -> bytes:
        """Hand a customer verb to the customers actor; ``balance_correct`` with the
        supervisor its ``supervisor_pin`` names (checked here, like a discount's: its
        route asks for approval)."""
        if self.shop.customers is None:
            return error_frame(request, wire.Code.NOT_SUPPORTED, "this server has no customer directory")
        caller = await self._approved_caller(request)  # the route's supervisor_pin
        if isinstance(caller, bytes):
            return caller
        return await edge_customers.handle(self.shop.customers, caller, request)

    async def _alcohol_price(self, request: wire.AlcoholPricing) -> bytes:
        return queries.alcohol_price(self.shop, request)

    async def _invoice(self, request: wire.GetInvoice) -> bytes:
        return await queries.invoice(self.shop, request)

    async def _sales(self, request: wire.Request) -> bytes:
        """Hand a verb on finished sales to the sales actor (actors/sales.py), with the
        supervisor a ``supervisor_pin`` names (corrections, cancels, abandoned debts)."""
        if self.shop.sales is None:
            return error_frame(request, wire.Code.NOT_SUPPORTED, "this server does not change finished sales")
        caller = await self._approved_caller(request)  # the route's supervisor_pin
        if isinstance(caller, bytes):
            return caller
        return await edge_sales.handle(self.shop.sales, caller, request)


def _shop_view(shop: Shop) -> msgspec.Raw:
    """The shop as ``hello`` shows it, encoded once per running shop (its config does
    not change while it runs): with 1,000 lanes it is ~10 KB, and a reconnect storm
    says hello 1,200 times at once."""
    view = getattr(shop, "_wire_shop_view", None)
    if view is None:
        config = shop.config
        view = msgspec.Raw(encode(wire.ShopView(
            name=config.shop.name, currency=config.shop.currency, locale=config.shop.locale,
            payment_modes=shop.payment_modes, lanes=[lane.id for lane in config.lanes],
            payment_mode_labels=[wire.PaymentModeView(mode=m.id, label=m.label)
                                 for m in payment_policy(config).modes],
            denominations=list(config.shop.denominations), discount_reasons=list(config.shop.discount_reasons),
            deferred_payment=config.shop.deferred_payment, auto_finish=config.shop.auto_finish,
        )))
        shop._wire_shop_view = view  # type: ignore[attr-defined]
    return view


def _pin_refusal(request: wire.Request, refused: PinRefused, code: str, message: str) -> bytes:
    """The error frame of a PIN not accepted: locked (``forbidden``) or wrong (``code``),
    with the tries left and how long the lock lasts."""
    if refused.locked:
        return error_frame(request, wire.Code.FORBIDDEN,
                           f"too many wrong PINs: PINs are locked for {refused.locked_seconds} s",
                           tries_left=0, locked_seconds=refused.locked_seconds)
    if refused.locked_seconds:
        return error_frame(request, code, f"{message}; too many wrong PINs: locked for {refused.locked_seconds} s",
                           tries_left=0, locked_seconds=refused.locked_seconds)
    return error_frame(request, code, f"{message} ({refused.tries_left} tries left)", tries_left=refused.tries_left)


