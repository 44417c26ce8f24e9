"""The HTTP side: one Starlette app on one port (Hypercorn's HTTP and websocket
protocols, run per connection by http_edge.serve).

  /ws                      the websocket protocol (one Session per connection)
  /healthz                 200 + JSON when the journal answers, else 503
  /readyz                  200 only once every lane and the journal answer, else 503 (server/status.py)
  /metrics                 Prometheus text (docs/operations.md, "Metrics")
  /status                  store IT's status as JSON (``laneserver status``), to the box itself only
  /protocol/schema.json    JSON Schema of every frame
  /till/, /pda/            the web clients (static files shipped in laneserver/clients/)
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import trio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from laneserver.actors.journal import read
from laneserver.actors.runtime import ActorFailed
from laneserver.protocol.schema import protocol_schema
from laneserver.server.http_edge import Edge, Unauthenticated, guard
from laneserver.server.session import Session
from laneserver.server.shop import Shop
from laneserver.server.status import live_status, local_client, readiness, refresh_facts
from laneserver.store import reads

CLIENTS = Path(__file__).resolve().parent.parent / "clients"


async def healthy(shop: Shop, within: float = 2.0) -> dict | None:
    """The journal answers a read within ``within`` seconds: the shop can sell."""
    with trio.move_on_after(within):
        try:
            sales = await read(shop.journal, reads.sale_count)
        except ActorFailed:
            return None
        # A part out of service after repeated failures leaves the rest selling: still
        # 200 (a restart by the watchdog would not mend a bug), but said, for store IT.
        body = {"status": "degraded" if shop.out_of_service else "ok", "lanes": sorted(shop.lanes),
                "stock_points": sorted(shop.stock_points), "articles": len(shop.catalog), "sales": sales}
        if shop.out_of_service:
            body["out_of_service"] = sorted(shop.out_of_service)
        return body
    return None


def origin_allowed(shop: Shop, websocket: WebSocket) -> bool:
    """Browsers send Origin: accept our own host and the configured origins.
    Programs (device bridges, integrations) send none and are accepted: they
    still need a device token."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in shop.config.server.allowed_origins:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


def build_app(shop: Shop, edge: Edge, host_names: frozenset[str]) -> Callable:
    """The ASGI app of the port: the routes below behind ``http_edge.guard``."""
    hello_timeout = shop.config.server.hello_timeout

    async def ws_endpoint(websocket: WebSocket) -> None:
        if not shop.accepting:
            await websocket.close(code=1001)
            return
        if not origin_allowed(shop, websocket):
            # Refused before the websocket opens: HTTP 403 with a plain reason.
            origin = websocket.headers.get("origin", "")[:200]
            await websocket.send_denial_response(PlainTextResponse(
                f"origin not allowed: {origin} (see [server] allowed_origins)\n", status_code=403))
            return
        # Beyond ``max_unauthenticated`` not yet past hello, the handshake waits for a
        # place (http_edge.py): a reconnect storm gets in at the pace hellos are
        # checked. The server's stop ends the wait (1001, the page reconnects).
        place: Unauthenticated | None = None
        with trio.CancelScope() as waiting:
            shop.sessions.add(waiting)
            try:
                place = await edge.websocket_place(websocket.scope.get("client"), within=hello_timeout)
            finally:
                shop.sessions.discard(waiting)
        if waiting.cancelled_caught:  # a wait cancelled took no place
            await websocket.close(code=1001)
            return
        if place is None:
            await websocket.accept()
            await _close(websocket, 1013, f"too many connections waiting for hello for {hello_timeout:g} s; "
                                          "try again")
            return
        try:  # from here on, whatever ends this (its connection failing too) gives the place back
            await websocket.accept()
            session = Session(shop, websocket)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(hello_deadline, session, websocket, place, nursery.cancel_scope)
                await session.run()
                nursery.cancel_scope.cancel()
        finally:
            place.release(said_hello=False)
        if not shop.accepting:
            await _close(websocket, 1001, "")  # going away: the till reconnects

    async def hello_deadline(session: Session, websocket: WebSocket, place: Unauthenticated,
                             connection: trio.CancelScope) -> None:
        with trio.move_on_after(hello_timeout):
            await session.said_hello.wait()
            place.release(said_hello=True)
            return
        await _close(websocket, 1008, f"say hello within {hello_timeout:g} s")
        connection.cancel()

    async def healthz(request: Request) -> Response:
        body = await healthy(shop)
        if body is None or not shop.accepting:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse(body)

    async def readyz(request: Request) -> Response:
        answers = await readiness(shop)
        ready = shop.accepting and all(answer == "ok" for answer in answers.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "answers": answers},
                            status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        await refresh_facts(shop)  # the books' part: paired devices, last backup, last closure
        return PlainTextResponse(shop.metrics.render(), media_type="text/plain; version=0.0.4")

    async def status(request: Request) -> Response:
        if not local_client(request.scope.get("client"), request.scope.get("server")):
            return PlainTextResponse("the status is for the box itself: run `laneserver status` on it\n",
                                     status_code=403)
        return JSONResponse(await live_status(shop))

    schema = protocol_schema()

    async def schema_json(request: Request) -> Response:
        return JSONResponse(schema)

    async def root(request: Request) -> Response:
        return RedirectResponse("/till/")

    routes = [
        Route("/", root),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/status", status),
        Route("/protocol/schema.json", schema_json),
        WebSocketRoute("/ws", ws_endpoint),
        Mount("/till", StaticFiles(directory=CLIENTS / "web_till", html=True), name="till"),
        Mount("/pda", StaticFiles(directory=CLIENTS / "pda", html=True), name="pda"),
    ]
    return guard(Starlette(routes=routes), host_names)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    """Close a websocket within a second, whether or not the peer still reads."""
    with trio.move_on_after(1):
        try:
            await websocket.close(code=code, reason=reason)
        except (RuntimeError, OSError):
            pass  # the connection is already gone
