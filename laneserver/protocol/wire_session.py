"""The session's frames: ``hello`` (a device's token), signing a seller in and out,
the shop a till is shown on ``hello``, and the ``signed_out`` event."""

from __future__ import annotations

from typing import Literal

import msgspec

from laneserver.protocol.frames import PROTOCOL_VERSION, Reply, Request


class Hello(Request, tag="hello"):
    token: str
    # The page's resume secret (``sign_in``'s ``resume``): the seller it signed in comes back.
    resume: str | None = None


class SignIn(Request, tag="sign_in"):
    seller: str
    pin: str


class SignOut(Request, tag="sign_out"):
    """``sign_out``: the seller leaves this device."""


class PaymentModeView(msgspec.Struct, frozen=True):
    mode: str
    label: str


class ShopView(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    currency: str
    locale: str
    payment_modes: list[str]
    lanes: list[str]
    # The modes again with the shop's labels (its own modes' `label`), in the same order.
    payment_mode_labels: list[PaymentModeView] = []
    # The drawer's notes and coins (`shop.denominations`) and the discount reasons (`shop.discount_reasons`).
    denominations: list[str] = []
    discount_reasons: list[str] = []
    # `shop.deferred_payment` (finish unpaid allowed) and `shop.auto_finish`.
    deferred_payment: bool = False
    auto_finish: bool = False
    # `shop.wallet`: every customer's wallet is open (no per-customer enabling).
    wallet: bool = False
    # `shop.unknown_code`: what a supervisor may do with an unknown code (refuse, attach, create).
    unknown_code: str = "refuse"
    # `shop.vat_rates` (what `article_create`'s `vat_rate` may be).
    vat_rates: list[str] = []


class HelloOk(Reply):
    device: str
    kind: Literal["till", "pda"]
    lane: str | None
    protocol: str = PROTOCOL_VERSION
    seller: str | None = None
    role: str | None = None
    shop: ShopView | None = None


class SignInOk(Reply):
    seller: str
    role: str
    # A secret the page keeps in memory only and sends in ``hello`` when it reconnects.
    resume: str | None = None


class SignedOutEvent(msgspec.Struct, frozen=True, tag_field="type", tag="signed_out"):
    """The session's seller was signed out by the server (``laneserver seller disable``)."""

    seller: str
    reason: str
