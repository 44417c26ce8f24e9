"""In-process envelopes between the session layer and the actors.

These carry context a wire frame does not (which device, which seller) and are
never sent over the network; the wire vocabulary is laneserver/protocol/, which
nothing under ``laneserver/actors/`` imports (the edge, laneserver/server/, translates).
"""

from __future__ import annotations

from typing import Protocol

import msgspec


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
    def deliver(self, frame: object, kind: str = "ticket") -> None:
        """Queue a pushed event of ``kind`` (an encoded frame, or a domain value the
        session encodes: a stock or drawer alert); must never block: a slow
        subscriber keeps only the newest frame of each kind."""

    def deliver_ticket(self, ticket: object) -> None:
        """A lane's open ticket (``lane_messages.LaneTicket``), as a domain value: the
        subscriber (the session) encodes it; must never block either."""


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


class Keyed(msgspec.Struct, frozen=True):
    """A ``Do``'s idempotency key and fingerprint, handed along inside the actor that
    took it (the stock point, the sales actor): its result is journaled under them."""

    key: str | None = None
    fingerprint: str | None = None


# --- device → lane --------------------------------------------------------------------

class DeviceStatus(msgspec.Struct, frozen=True):
    frame: bytes
    kind: str = "printer"
