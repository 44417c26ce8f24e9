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


class Subscriber(Protocol):
    def deliver(self, frame: bytes, kind: str = "ticket") -> None:
        """Queue a pushed event frame of ``kind``; must never block: a slow
        subscriber keeps only the newest frame of each kind."""


class Handle(msgspec.Struct, frozen=True):
    """A client request for an actor; the reply is the encoded frame (bytes)."""

    caller: Caller
    request: Request


class Subscribe(msgspec.Struct, frozen=True):
    subscriber: object


class Unsubscribe(msgspec.Struct, frozen=True):
    subscriber: object


# --- lane → stock point -----------------------------------------------------------

class Reserve(msgspec.Struct, frozen=True):
    lane: str
    quantities: dict[str, Decimal]


class Taken(msgspec.Struct, frozen=True):
    """Stock a committed sale took (already journaled by the lane)."""

    quantities: dict[str, Decimal]


class GetLevel(msgspec.Struct, frozen=True):
    article: str


# --- device → lane --------------------------------------------------------------------

class DeviceStatus(msgspec.Struct, frozen=True):
    frame: bytes
    kind: str = "printer"
