"""The HTTP edge: what stands between the public port and the Starlette app.

Hypercorn parses HTTP and websockets; this module owns everything around it:

* ``serve`` listens and runs one Hypercorn ``TCPServer`` per connection, like
  Hypercorn's own trio worker, but each connection runs inside ``Edge.handle``, which
  catches whatever that connection raises. Hypercorn 0.18 lets one connection's
  protocol error (h11 "Got data when expecting EOF", then a 400 sent while another
  task sends: ``BusyResourceError``) escape its task group into the listener's
  nursery and end the process (pgjones/hypercorn#203, #225). Here it ends that
  connection only, logged as ``connection_failed``.
* ``Edge`` counts connections against the open-file limit (raised to the hard limit
  at start, a reserve kept for the database, printers and logs): at capacity the
  oldest connection that is not a signed-in websocket is closed to make room, so a
  flood of idle sockets can neither exhaust the process's files nor lock out
  ``/healthz`` and the tills. It also bounds the websockets that have not said
  ``hello`` (``[server] max_unauthenticated`` at once): one beyond the bound waits,
  before its handshake is answered, for a place (first come, first served) for at
  most ``hello_timeout``; only then is it closed with 1013. A reconnect storm of
  legitimate devices (a restart: every till at once) is let in at the pace hellos
  are checked, none refused; a flood of sockets that never say hello holds at most
  ``max_unauthenticated`` places, each for ``hello_timeout``, and its waiting
  sockets are bounded in number by the open files (the oldest shed first) and in
  time by ``hello_timeout``. A socket waiting for its place holds only its parsed
  handshake (≤ 16 KiB): Hypercorn answers data sent before the handshake's answer
  with 400 and closes.
* ``guard`` is the ASGI middleware in front of the app: the Host allow-list (a
  DNS-rebinding page names a foreign host) and the security headers of every response.

Invariants: every accepted connection is in ``Edge._open`` exactly while its task
runs, and ends at most ``PEER_GONE_GRACE`` seconds after its peer is gone; a connection's exception never leaves ``Edge.handle`` (``Cancelled`` does:
it belongs to the server's shutdown); ``Edge.unauthenticated`` counts the websockets
given a place by ``websocket_place`` and not yet released (hello said, or closed), never
more than ``max_unauthenticated``; ``Edge.waiting`` those waiting for a place.
"""

from __future__ import annotations

import ipaddress
import os
import resource
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.protocol import ws_stream
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import parse_socket_addr, repr_socket_addr, wrap_app
from wsproto.extensions import PerMessageDeflate

from laneserver.log import get_logger

log = get_logger("http")

# File descriptors kept free for everything that is not a connection: the database
# and its WAL, backups, invoices, network printers, logs.
FD_RESERVE = 64
# At most this many ``connection_failed`` lines a second (a flood logs a count).
FAILURES_LOGGED_PER_SECOND = 10
# Connections the kernel queues before they are accepted (Hypercorn's default is 100;
# Linux caps it at net.core.somaxconn, 4096 by default). A reconnect storm, every till
# and PDA of a large store at once after a restart, must not lose its SYNs: a client
# whose SYN finds the queue full retries only after 1, 3, 7, 15, 31 s.
LISTEN_BACKLOG = 4096
# Seconds a connection may go on once its peer is gone (a reset, an end of stream):
# Hypercorn can wait for ever on a pipelined request whose response could not be sent.
PEER_GONE_GRACE = 5.0

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
     b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


# --- open files -------------------------------------------------------------------------

def raise_open_files_limit() -> int:
    """Raise the soft limit of open files to the hard limit; returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # the kernel's ceiling (fs.nr_open) is lower: keep what we have
    return soft


def open_files() -> int:
    """How many files the process holds now (Linux; a guess elsewhere)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 64


def connection_capacity(reserve: int = FD_RESERVE) -> int:
    """How many connections may be open at once: the open-file limit (raised) less
    what is open now and the reserve; at least 16."""
    return max(16, raise_open_files_limit() - open_files() - reserve)


# --- connections --------------------------------------------------------------------------

Peer = tuple[str, int]


@dataclass(eq=False)
class Connection:
    peer: Peer | None
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    signed_in: bool = False  # a websocket whose device said hello


class Edge:
    """Every open connection of the port, and the rules that keep the port usable.

    Args:
        capacity: connections open at once (see ``connection_capacity``).
        max_unauthenticated: websockets open at once that have not said ``hello``
            (more wait for a place, see ``websocket_place``).
    """

    def __init__(self, *, capacity: int, max_unauthenticated: int) -> None:
        self.capacity = capacity
        self.max_unauthenticated = max_unauthenticated
        self.unauthenticated = 0
        self.waiting = 0           # websockets waiting for a place (handshake not answered)
        self.waited_out = 0        # websockets that waited ``within`` seconds in vain (closed 1013)
        self._places = trio.Semaphore(max_unauthenticated)  # FIFO: the first to come is the first in
        self.failed = 0   # connections that ended on an exception (contained)
        self.shed = 0     # connections closed to make room for a new one
        self.refused = 0  # connections refused: full of signed-in websockets
        self._open: dict[Connection, None] = {}  # oldest first
        self._by_peer: dict[Peer, Connection] = {}
        self._serve: Callable[[trio.abc.Stream], Awaitable[None]] | None = None
        self._log_window = (0.0, 0, 0)  # (second, lines logged in it, lines suppressed)

    @property
    def open(self) -> int:
        return len(self._open)

    def bind(self, serve_connection: Callable[[trio.abc.Stream], Awaitable[None]]) -> None:
        """What runs one connection (Hypercorn's ``TCPServer(...).run``, given its stream)."""
        self._serve = serve_connection

    async def handle(self, stream: trio.SocketStream) -> None:
        """Run one connection; whatever it raises stays here.

        Cancellation: the connection's own scope is cancelled when it is shed; the
        server's shutdown cancels it from outside (``Cancelled`` passes through).
        """
        assert self._serve is not None
        if len(self._open) >= self.capacity and not self._shed_one():
            self.refused += 1
            self._log_limited("connection_refused", open=len(self._open))
            return  # trio.serve_listeners closes the stream
        connection = Connection(peer=_peer(stream))
        self._open[connection] = None
        if connection.peer is not None:
            self._by_peer[connection.peer] = connection
        failure: BaseException | None = None
        try:
            with connection.scope:
                await self._serve(_Watched(stream, partial(_peer_gone, connection.scope)))
        except* Exception as group:
            failure = group
        finally:
            self._open.pop(connection, None)
            if connection.peer is not None and self._by_peer.get(connection.peer) is connection:
                del self._by_peer[connection.peer]
        if failure is not None:
            self.failed += 1
            self._log_limited("connection_failed", peer=_show(connection.peer), error=_describe(failure))

    def _shed_one(self) -> bool:
        for connection in self._open:
            if not connection.signed_in and not connection.scope.cancel_called:
                connection.scope.cancel()
                self.shed += 1
                return True
        return False

    # --- websockets (called by the app, with the ASGI scope's ``client``) ----------------

    async def websocket_place(self, client: Any, within: float) -> Unauthenticated | None:
        """A websocket is about to be accepted: its place among those waiting for
        ``hello``, waited for (first come, first served) when ``max_unauthenticated``
        hold one; None when none came within ``within`` seconds.

        Cancellation: a wait cancelled takes no place.
        """
        try:
            self._places.acquire_nowait()
        except trio.WouldBlock:
            self.waiting += 1
            try:
                with trio.move_on_after(within) as waited:
                    await self._places.acquire()
                if waited.cancelled_caught:
                    self.waited_out += 1
                    self._log_limited("websocket_waited_out", waited=within, waiting=self.waiting)
                    return None
            finally:
                self.waiting -= 1
        self.unauthenticated += 1
        return Unauthenticated(self, tuple(client) if client else None)

    # --- logs ----------------------------------------------------------------------------

    def _log_limited(self, event: str, **fields: Any) -> None:
        second, logged, suppressed = self._log_window
        now = trio.current_time()
        if now - second >= 1.0:
            second, logged = now, 0
        if logged < FAILURES_LOGGED_PER_SECOND:
            log.warning(event, **fields, **({"suppressed_before": suppressed} if suppressed else {}))
            self._log_window = (second, logged + 1, 0)
        else:
            self._log_window = (second, logged, suppressed + 1)


class _Watched:
    """The connection's stream as Hypercorn's ``TCPServer`` uses it, telling ``on_gone``
    when the peer is gone (end of stream, reset, broken pipe). Anything else is the
    stream's own: ``socket`` of a plain one; ``do_handshake``, ``transport_stream`` of
    a TLS one (Hypercorn tells them apart by ``do_handshake``, and a TLS stream's
    missing ``send_eof`` is the ``AttributeError`` it expects)."""

    def __init__(self, stream: trio.SocketStream, on_gone: Callable[[], None]) -> None:
        self._stream = stream
        self._on_gone = on_gone

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        try:
            data = await self._stream.receive_some(max_bytes)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._on_gone()
            raise
        if not data:
            self._on_gone()
        return data

    async def send_all(self, data: bytes) -> None:
        try:
            await self._stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._on_gone()
            raise

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


def _peer_gone(scope: trio.CancelScope) -> None:
    scope.deadline = min(scope.deadline, trio.current_time() + PEER_GONE_GRACE)


class Unauthenticated:
    """One websocket's place among those waiting for ``hello``; released once."""

    def __init__(self, edge: Edge, peer: Peer | None) -> None:
        self._edge = edge
        self._peer = peer
        self._released = False

    def release(self, *, said_hello: bool) -> None:
        """The device said hello (it is then never shed), or the websocket ended."""
        if self._released:
            return
        self._released = True
        self._edge.unauthenticated -= 1
        self._edge._places.release()
        connection = self._edge._by_peer.get(self._peer) if self._peer else None
        if said_hello and connection is not None:
            connection.signed_in = True


def _peer(stream: trio.SocketStream | trio.SSLStream) -> Peer | None:
    try:
        sock = stream.transport_stream.socket if isinstance(stream, trio.SSLStream) else stream.socket
        return parse_socket_addr(sock.family, sock.getpeername())
    except (AttributeError, OSError):
        return None


def _show(peer: Peer | None) -> str:
    return f"{peer[0]}:{peer[1]}" if peer else "?"


def _describe(failure: BaseException) -> str:
    """The innermost errors of a group, as ``Type: message``; no traceback."""
    if isinstance(failure, BaseExceptionGroup):
        return "; ".join(_describe(inner) for inner in failure.exceptions)
    return f"{type(failure).__name__}: {failure}"[:300]


# --- serving --------------------------------------------------------------------------------

async def serve(app: Any, config: HypercornConfig, edge: Edge, *, shutdown_trigger: Callable[[], Awaitable[None]],
                task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """Serve ``app`` on ``config.bind`` until ``shutdown_trigger`` returns.

    Hypercorn's trio ``worker_serve`` without its per-connection weakness: the
    listener hands each connection to ``edge.handle``. HTTP, or HTTPS and WSS when
    ``config`` has a certificate and key (``[server] tls``: Hypercorn's own SSL
    context, the handshake made by its ``TCPServer``); no QUIC and no ASGI lifespan
    (the app has none). Shutdown in layers: the listeners close, idle keep-alive connections are
    told to end, open connections get ``config.graceful_timeout`` seconds.

    Returns: once the listeners are closed and every connection has ended.
    """
    decline_websocket_compression()
    context = WorkerContext(None)
    asgi = wrap_app(app, config.wsgi_max_body_size, "asgi")
    edge.bind(lambda stream: TCPServer(asgi, config, context, ConnectionState({}), stream).run())
    async with trio.open_nursery() as connections:
        sockets = config.create_sockets()
        listeners: list[trio.abc.Listener] = []
        binds = []
        ssl_context = config.create_ssl_context()
        for sock in sockets.secure_sockets:
            sock.listen(max(config.backlog, LISTEN_BACKLOG))
            listeners.append(trio.SSLListener(trio.SocketListener(trio.socket.from_stdlib_socket(sock)), ssl_context,
                                              https_compatible=True))
            binds.append(f"https://{repr_socket_addr(sock.family, sock.getsockname())}")
        for sock in sockets.insecure_sockets:
            sock.listen(max(config.backlog, LISTEN_BACKLOG))
            listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
            binds.append(f"http://{repr_socket_addr(sock.family, sock.getsockname())}")
        task_status.started(binds)
        try:
            async with trio.open_nursery() as listening:
                listening.start_soon(partial(trio.serve_listeners, edge.handle, listeners,
                                             handler_nursery=connections))
                await shutdown_trigger()
                listening.cancel_scope.cancel()
        finally:
            await context.terminated.set()
            connections.cancel_scope.deadline = trio.current_time() + config.graceful_timeout


# --- websocket compression -----------------------------------------------------------------

class _Declined(PerMessageDeflate):
    """permessage-deflate, never agreed to: a client's offer gets no answer, so its
    compressed frames are protocol errors (the connection is dropped)."""

    def accept(self, offer: str) -> None:
        return None


def decline_websocket_compression() -> None:
    """Make Hypercorn decline permessage-deflate (browsers offer it on every socket).

    Hypercorn 0.18 accepts it unconditionally and wsproto inflates each received
    chunk whole before the message size is checked: one 62 KB frame of deflate became
    a 64 MB text message (the server's peak memory +185 MB), before ``hello``, on
    every socket allowed to wait for it. Frames here are small JSON; compression buys
    nothing. Hypercorn has no setting for it: its handshake names the extension class
    at module level, which this replaces (tests/e2e/test_http_hardening.py pins it).
    """
    ws_stream.PerMessageDeflate = _Declined


# --- hosts and headers ----------------------------------------------------------------------

def host_names(configured: Iterable[str], bound_host: str) -> frozenset[str]:
    """The host names a request may name: localhost, the machine's name, the address
    the server is bound to, and ``[server] allowed_hosts``. IP addresses are always
    accepted (see ``host_allowed``)."""
    names = {"localhost", "localhost.localdomain"}
    machine = socket.gethostname().lower()
    if machine:
        names |= {machine, machine.split(".")[0], machine.split(".")[0] + ".local"}
    names.add(bound_host.strip("[]").lower())
    names |= {name.strip().lower().rstrip(".") for name in configured if name.strip()}
    return frozenset(names)


def split_host(header: str) -> str:
    """The host part of a Host header, lower case, without port or IPv6 brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return header.rstrip(".")


def host_allowed(header: str | None, names: frozenset[str]) -> bool:
    """A request without Host (an HTTP/1.0 program) or naming an IP address is
    accepted: a DNS-rebinding page can only name a host name, its own."""
    if header is None:
        return True
    host = split_host(header)
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return host in names


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def guard(app: Any, names: frozenset[str]) -> Callable:
    """ASGI middleware: refuse foreign Host names (HTTP 400, plain text; a websocket
    handshake too, before it opens) and add ``SECURITY_HEADERS`` to every response."""

    def with_security_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        headers = list(headers)
        present = {key.lower() for key, _ in headers}
        return headers + [header for header in SECURITY_HEADERS if header[0] not in present]

    async def guarded(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if not host_allowed(host, names):
            body = f"host not allowed: {split_host(host or '')[:100]} (see [server] allowed_hosts)\n".encode()
            start, part = ("http.response.start", "http.response.body") if scope["type"] == "http" else \
                ("websocket.http.response.start", "websocket.http.response.body")
            await send({"type": start, "status": 400, "headers": with_security_headers(
                [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())])})
            await send({"type": part, "body": body})
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] in ("http.response.start", "websocket.http.response.start"):
                message = {**message, "headers": with_security_headers(message.get("headers", ()))}
            await send(message)

        await app(scope, receive, send_with_headers)

    return guarded
