"""Who is at the other end of a session: the device (its token on ``hello``), the
seller signed in on it (``sign_in`` with a PIN, ``sign_out``, or the page's own
resume secret on ``hello``), and the supervisors whose PINs approve one request.

Every PIN goes through the shop's PIN gate (server/pins.py): counted, and locked after
too many wrong ones. A token alone never signs anyone in (a copied token must type a
PIN): only the page's resume secret, used within ``[server] resume_idle``, brings its
seller back. Sign-ins and sign-outs are journaled with the resume secret's hash.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

import msgspec
import trio

from laneserver.actors.journal import CommitFailed, ReadFailed, commit, read
from laneserver.actors.lane import payment_policy
from laneserver.actors.runtime import ActorFailed
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.rules.auth import hash_token, new_resume_secret
from laneserver.server.pins import PinRefused
from laneserver.server.shop import Shop
from laneserver.store import reads
from laneserver.rules import jet
from laneserver.store.ops import ChainRecord, DropResume, PutResume, RecordEvent, SeenDevice, SetSignedIn, TouchResume


class Auth:
    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.device: reads.Device | None = None
        # When the device said hello (the oldest of a device's sessions goes first).
        self.hello_at = 0.0
        # Set once a device token is accepted: the HTTP edge's hello deadline (app.py).
        self.said_hello = trio.Event()
        self.seller: str | None = None
        self.role: str | None = None
        # The hash of this page's resume secret (sign_in's ``resume``), while signed in.
        self.resume_hash: str | None = None
        self.log = get_logger("session")

    # --- the device ----------------------------------------------------------------------

    async def identify(self, token: str) -> reads.Device | None:
        """The paired, unrevoked device a token names, or None."""
        device = await read(self.shop.journal, partial(reads.device_by_token_hash, token_hash=hash_token(token)))
        return None if device is None or device.revoked else device

    def accept(self, device: reads.Device) -> None:
        """The session is ``device``'s from now on, with no seller (until ``resume``)."""
        self.device = device
        self.hello_at = trio.current_time()
        self.said_hello.set()
        self.seller, self.role, self.resume_hash = None, None, None

    async def resume(self, resume: str | None) -> None:
        """The seller back if ``resume`` is the page's own resume secret, used within
        ``resume_idle``; the device's last sight journaled (only bookkeeping: a failed
        write leaves the hello standing)."""
        assert self.device is not None
        device = self.device
        now = self.shop.clock.now()
        ops: list = [SeenDevice(device=device.device, at=now)]
        if resume is not None:
            secret_hash = hash_token(resume)
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
        self.log = get_logger("session", device=device.device)

    # --- the seller ----------------------------------------------------------------------

    async def sign_in(self, request: wire.SignIn) -> bytes:
        """Checked and counted by the shop's PIN gate (server/pins.py); a good PIN gets
        a new resume secret (its hash stored, the secret only in the reply)."""
        assert self.device is not None
        try:
            checked = await self.shop.pins.check_sign_in(self.device.device, request.seller, request.pin)
        except (ReadFailed, CommitFailed) as error:
            self.log.error("pin_check_failed", error=str(error))
            return error_frame(request, wire.Code.UNAVAILABLE, "the PIN could not be checked; try again")
        if isinstance(checked, PinRefused):
            return pin_refusal(request, checked, wire.Code.WRONG_PIN, "unknown seller or wrong PIN")
        resume = new_resume_secret()
        await self._record_sign(checked.name, "SignedIn", resume=hash_token(resume))
        self.seller, self.role = checked.name, checked.role
        return encode(wire.SignInOk(re=request.id, seller=checked.name, role=checked.role, resume=resume))

    async def sign_out(self, request: wire.SignOut) -> bytes:
        if self.seller is not None:
            await self._record_sign(None, "SignedOut")
        self.seller, self.role, self.resume_hash = None, None, None
        return encode(wire.Ok(re=request.id))

    def sign_out_disabled(self, reason: str) -> bytes | None:
        """Forget the seller (disabled by the shop): the ``signed_out`` event to push, or
        None when nobody was signed in."""
        if self.seller is None:
            return None
        seller, self.seller, self.role, self.resume_hash = self.seller, None, None, None
        return encode(wire.SignedOutEvent(seller=seller, reason=reason))

    async def touch_resume(self) -> None:
        """Shielded by the caller, bounded: the page left; its resume secret's idle time
        starts now (a page that comes back within ``resume_idle`` keeps its seller)."""
        if self.resume_hash is None:
            return
        with trio.move_on_after(2):
            try:
                await commit(self.shop.journal, TouchResume(secret_hashes=(self.resume_hash,),
                                                            at=self.shop.clock.now()))
            except (CommitFailed, ActorFailed) as error:
                self.log.error("resume_touch_failed", error=str(error))

    async def _record_sign(self, seller: str | None, kind: str, *, resume: str | None = None) -> None:
        """Journal a sign-in (with its resume secret's hash) or a sign-out (the session's
        resume secret forgotten: the page must sign in again)."""
        assert self.device is not None
        now = self.shop.clock.now()
        who = seller or self.seller
        ops: list = [SetSignedIn(device=self.device.device, seller=seller),
                     RecordEvent(at=now, source="session", kind=kind, data={"seller": who},
                                 device=self.device.device, seller=who)]
        if who is not None:  # the technical event journal: in the same unit as the sign-in itself
            ops.append(ChainRecord(chain="jet", at=now, record=jet.jet_record(
                jet.SIGN_IN if seller is not None else jet.SIGN_OUT, device=self.device.device, seller=who)))
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

    # --- approvals -----------------------------------------------------------------------

    async def approve(self, request: wire.Request, pin: str) -> str | bytes:
        """The supervisor a PIN names (checked in a worker thread), or the error frame.

        Every supervisor PIN comes here (discount, refund, drawer, balance correction,
        sales corrections) and is counted like a sign-in's (server/pins.py).
        """
        assert self.device is not None
        try:
            checked = await self.shop.pins.check_supervisor(self.device.device, pin,
                                                            request=request.__struct_config__.tag, seller=self.seller)
        except (ReadFailed, CommitFailed) as error:
            self.log.error("pin_check_failed", error=str(error))
            return error_frame(request, wire.Code.UNAVAILABLE, "the PIN could not be checked; nothing was changed")
        if isinstance(checked, PinRefused):
            return pin_refusal(request, checked, wire.Code.SUPERVISOR_REQUIRED,
                               "that PIN is not an active supervisor's or manager's: nothing was changed")
        return checked


def pin_refusal(request: wire.Request, refused: PinRefused, code: str, message: str) -> bytes:
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


def shop_view(shop: Shop) -> msgspec.Raw:
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
            wallet=config.shop.wallet, unknown_code=config.shop.unknown_code,
            vat_rates=list(config.shop.vat_rates),
        )))
        shop._wire_shop_view = view  # type: ignore[attr-defined]
    return view
