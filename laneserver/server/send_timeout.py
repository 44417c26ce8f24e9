"""How long a connection's sends may stay stuck before the connection is closed.

A browser that stops reading its websocket (a frozen tab, a stalled program) lets
the server's sends to it back up until the socket's buffer is full. The session
never lets that block its lane (session.py conflates that session's events), but
the send itself cannot be abandoned from the application: Hypercorn 0.18 writes
inside a *shielded* cancel scope (``TCPServer.protocol_send``), so a stuck send holds
its connection — and the server's shutdown, which waits for every connection — for
as long as the peer keeps the TCP connection alive without reading, which is for ever.

The bound is set where the bytes are: ``TCP_USER_TIMEOUT`` on the listening sockets,
inherited by every accepted socket. The kernel then ends a connection whose sent
data stayed unacknowledged, or unsent behind a zero window, for ``SEND_TIMEOUT``
seconds (tcp(7); zero-window stalls count since Linux 5.13); the stuck send fails,
Hypercorn reports the websocket closed, and the session ends and leaves its lane.
A connection with nothing to send is not affected, however long it is idle. The
page reconnects and resyncs (protocol.md, "Delivery to slow clients").
"""

from __future__ import annotations

import socket

from hypercorn.config import Config as HypercornConfig, Sockets

from laneserver.log import get_logger

# Longer than any pause of a live till (a Wi-Fi hand-over, a busy tab), short enough
# that a stalled peer is let go well within a stop's grace under systemd.
SEND_TIMEOUT = 20.0

log = get_logger("http")


def bound_sends(sock: socket.socket, seconds: float) -> bool:
    """Set ``TCP_USER_TIMEOUT`` on a TCP socket; False where the system has none."""
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if option is None or sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    sock.setsockopt(socket.IPPROTO_TCP, option, int(seconds * 1000))
    return True


class SendBoundedConfig(HypercornConfig):
    """Hypercorn's config whose listening sockets carry the send deadline
    (``SEND_TIMEOUT``, read when the sockets are made)."""

    def create_sockets(self) -> Sockets:
        sockets = super().create_sockets()
        for sock in [*sockets.secure_sockets, *sockets.insecure_sockets]:
            if not bound_sends(sock, SEND_TIMEOUT):
                log.warning("send_timeout_unsupported", reason="no TCP_USER_TIMEOUT on this system")
        return sockets
