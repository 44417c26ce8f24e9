"""In-process envelopes between the session layer and the actors.

These carry context a wire frame does not (which device, which seller) and are
never sent over the network; the wire vocabulary is ``laneserver.protocol``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import msgspec

from laneserver.protocol.messages import Request


class Caller(msgspec.Struct, frozen=True):
    """Who sent a request: the paired device and the seller signed in on it."""

    device: str
    seller: str | None = None
    role: str | None = None
    lane: str | None = None
    # The supervisor whose PIN the session checked for this one request (a discount above the cap).
    approved_by: str | None = None
    # Opaque: the subscriber (session) that sent the request, or None. The lane gets its
    # reply to it and leaves it out of the ``ticket`` event of that change.
    origin: object = None

    @property
    def source(self) -> str:
        """Where a stock movement came from, for the history: a lane or a PDA."""
        return f"lane:{self.lane}" if self.lane else f"device:{self.device}"


class Subscriber(Protocol):
    def deliver(self, frame: bytes, kind: str = "ticket") -> None:
        """Queue a pushed event frame of ``kind``; must never block: a slow
        subscriber keeps only the newest frame of each kind."""

    def deliver_ticket(self, ticket: object) -> None:
        """A lane's open ticket (``lane_messages.LaneTicket``), as a domain value: the
        subscriber (the session) encodes it; must never block either."""


class Handle(msgspec.Struct, frozen=True):
    """A client request for an actor; the reply is the encoded frame (bytes).
    Being replaced by ``Do``: an actor converted to domain commands takes ``Do``."""

    caller: Caller
    request: Request


class Do(msgspec.Struct, frozen=True):
    """A domain command for an actor, from the edge (laneserver/server/): the actor
    answers a domain result — a result value of its domain, or ``rules.outcome.Refused``
    — which the edge encodes. ``key`` and ``fingerprint`` are the request's idempotency
    key and what it asks (computed by the edge: protocol/codec.py ``fingerprint``): the
    actor journals its result under the key with the effect (actors/replies.py)."""

    caller: Caller
    command: object
    key: str | None = None
    fingerprint: str | None = None


class Subscribe(msgspec.Struct, frozen=True):
    subscriber: object


class Unsubscribe(msgspec.Struct, frozen=True):
    subscriber: object


# --- lane → stock point -----------------------------------------------------------

class Reserve(msgspec.Struct, frozen=True):
    """What the lane's tickets hold back now (a tell, never refused: a release,
    or the lane re-reporting after a restart)."""

    lane: str
    quantities: dict[str, Decimal]


class AskReserve(msgspec.Struct, frozen=True):
    """The lane wants to go from holding ``before`` to ``after`` (an ask: some
    article grows). Answered with ``rules.stock.Granted`` or ``OutOfStock``."""

    lane: str
    before: dict[str, Decimal]
    after: dict[str, Decimal]


class Taken(msgspec.Struct, frozen=True):
    """Stock a committed sale took (already journaled by the lane), and what the
    lane holds back after it (``reserved``), applied together."""

    quantities: dict[str, Decimal]
    lane: str | None = None
    reserved: dict[str, Decimal] | None = None


class Moved(msgspec.Struct, frozen=True):
    """A movement another stock point already journaled into this one (a transfer)."""

    article: str
    delta: Decimal


class GetLevel(msgspec.Struct, frozen=True):
    article: str


# --- device → lane --------------------------------------------------------------------

class DeviceStatus(msgspec.Struct, frozen=True):
    frame: bytes
    kind: str = "printer"
