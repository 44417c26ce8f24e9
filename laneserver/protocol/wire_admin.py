"""Store IT's frames on the websocket: ``pair`` (a device gets its token with a
one-time code, before ``hello``) and a manager's verbs on sellers and devices."""

from __future__ import annotations

from typing import Literal

import msgspec

from laneserver.protocol.frames import Reply, Request


class Pair(Request, tag="pair"):
    """``pair``: the 6-digit code ``laneserver pair … --code`` printed."""

    code: str
    # The kind of device the page is (a till page, a PDA page): a code made for the other
    # kind is refused (``conflict``) and stays unspent.
    kind: Literal["till", "pda"] | None = None


class PairOk(Reply):
    token: str
    device: str
    kind: Literal["till", "pda"]
    lane: str | None = None


class Sellers(Request, tag="sellers"):
    """``sellers``: every seller, active or not (manager)."""


class SellerView(msgspec.Struct, frozen=True):
    seller: str
    role: str
    active: bool
    created_at: str


class SellersOk(Reply):
    sellers: list[SellerView]


class SellerAdd(Request, tag="seller_add"):
    seller: str
    pin: str
    role: Literal["cashier", "supervisor", "manager"] = "cashier"


class SellerDisable(Request, tag="seller_disable"):
    seller: str


class SellerPin(Request, tag="seller_pin"):
    """``seller_pin``: a seller's new PIN (a manager resets a forgotten one)."""

    seller: str
    pin: str


class SellerOk(Reply):
    seller: str
    role: str | None = None
    changed: bool = True


class Devices(Request, tag="devices"):
    """``devices``: every paired device (manager)."""


class DeviceView(msgspec.Struct, frozen=True):
    device: str
    kind: str
    lane: str | None
    paired_at: str
    last_seen: str | None
    revoked: bool


class DevicesOk(Reply):
    devices: list[DeviceView]


class DeviceRevoke(Request, tag="device_revoke"):
    device: str


class DeviceOk(Reply):
    device: str
    changed: bool = True
