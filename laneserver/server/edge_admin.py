"""A manager's verbs on sellers and devices: the wire in, the journal's ops out.

``sellers``, ``seller_add``, ``seller_disable``, ``seller_pin``, ``devices`` and
``device_revoke`` are the websocket's side of store IT's ``laneserver seller …`` and
``laneserver device …`` commands (the same rows, store/access.py). Who may send them is
the roles table's (rules/roles.py: a manager by default), checked by the session before
they get here. A revoke or a disable acts on the open sessions at once
(server/access.py ``apply_access``), not at the next second's check.
"""

from __future__ import annotations

import trio

from laneserver.actors.journal import CommitFailed, ReadFailed, commit, read
from laneserver.actors.replies import key_reused
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.rules.auth import hash_pin, seller_name_problem, valid_pin
from laneserver.server import edge_keys
from laneserver.server.access import apply_access
from laneserver.server.outcomes import refusal_frame
from laneserver.server.shop import Shop
from laneserver.store import access, reads

log = get_logger("admin")


# Who answered a keyed ``seller_disable`` / ``device_revoke`` (server/edge_keys.py).
ACTOR = "admin"


async def handle(shop: Shop, request: wire.Request, *, device: str, seller: str | None) -> bytes:
    """The reply to one manager verb sent from ``device`` by ``seller``; a keyed
    ``seller_disable`` or ``device_revoke`` asked again gets its first reply
    (``changed: true``), from the journal, before anything is checked again."""
    if isinstance(request, wire.SellerDisable | wire.DeviceRevoke):
        async with edge_keys.one_at_a_time(shop.journal, device, request):
            first = await edge_keys.first_frame(shop.journal, device, request, ACTOR)
            if first is not None:
                return first
            return await _answered(shop, request, device, seller)
    return await _answered(shop, request, device, seller)


async def _answered(shop: Shop, request: wire.Request, device: str, seller: str | None) -> bytes:
    try:
        return await _answer(shop, request, device, seller)
    except CommitFailed as error:
        if error.key_reused and request.key is not None:
            return refusal_frame(request, key_reused(request.key))
        log.error("admin_failed", verb=request.__struct_config__.tag, error=str(error))
        return error_frame(request, wire.Code.UNAVAILABLE, "the database did not answer; nothing was changed")
    except ReadFailed as error:
        log.error("admin_failed", verb=request.__struct_config__.tag, error=str(error))
        return error_frame(request, wire.Code.UNAVAILABLE, "the database did not answer; nothing was changed")


async def _answer(shop: Shop, request: wire.Request, device: str, seller: str | None) -> bytes:
    now = shop.clock.now()
    match request:
        case wire.Sellers():
            rows = await read(shop.journal, access.sellers)
            return encode(wire.SellersOk(re=request.id, sellers=[
                wire.SellerView(seller=r.name, role=r.role, active=r.active, created_at=r.created_at) for r in rows]))
        case wire.Devices():
            rows = await read(shop.journal, reads.devices)
            return encode(wire.DevicesOk(re=request.id, devices=[
                wire.DeviceView(device=d.device, kind=d.kind, lane=d.lane, paired_at=d.paired_at,
                                last_seen=d.last_seen, revoked=d.revoked) for d in rows]))
        case wire.SellerAdd(seller=name, pin=pin, role=role):
            problem = seller_name_problem(name)
            if problem is not None:
                return error_frame(request, wire.Code.BAD_REQUEST, f"{problem}: nothing was added", field="seller")
            if not valid_pin(pin):
                return error_frame(request, wire.Code.BAD_REQUEST, "a PIN is 4 to 8 digits", field="pin")
            pin_hash = await trio.to_thread.run_sync(hash_pin, pin)  # scrypt: never on the event loop
            (added,) = await commit(shop.journal, access.AddSeller(at=now, by=seller, device=device, name=name,
                                                                   role=role, pin_hash=pin_hash))
            if not added:
                return error_frame(request, wire.Code.CONFLICT, f"seller {name!r} already exists", field="seller")
            log.info("seller_added", seller=name, role=role, by=seller)
            return encode(wire.SellerOk(re=request.id, seller=name, role=role))
        case wire.SellerPin(seller=name, pin=pin):
            if not valid_pin(pin):
                return error_frame(request, wire.Code.BAD_REQUEST, "a PIN is 4 to 8 digits", field="pin")
            pin_hash = await trio.to_thread.run_sync(hash_pin, pin)
            (found,) = await commit(shop.journal, access.SetSellerPin(at=now, by=seller, device=device, name=name,
                                                                      pin_hash=pin_hash))
            if not found:
                return error_frame(request, wire.Code.NOT_FOUND, f"no seller {name!r}", field="seller")
            shop.pins.memory.forget(name)  # the old PIN recalled nowhere
            log.info("seller_pin_reset", seller=name, by=seller)
            return encode(wire.SellerOk(re=request.id, seller=name))
        case wire.SellerDisable(seller=name):
            if name == seller:
                return error_frame(request, wire.Code.CONFLICT, "you cannot disable yourself: another manager, or "
                                   "store IT (laneserver seller disable), can", field="seller")
            done = encode(wire.SellerOk(re=request.id, seller=name, changed=True))  # kept when it changed
            (changed,) = await commit(shop.journal, edge_keys.remembered(
                access.DisableSeller(at=now, by=seller, device=device, name=name), device, request, ACTOR, done, now))
            if changed is None:
                return error_frame(request, wire.Code.NOT_FOUND, f"no seller {name!r}", field="seller")
            shop.pins.memory.forget(name)
            apply_access(shop, frozenset(), frozenset({name}))  # signed out everywhere, now
            log.info("seller_disabled", seller=name, by=seller)
            return encode(wire.SellerOk(re=request.id, seller=name, changed=changed))
        case wire.DeviceRevoke(device=target):
            if target == device:
                return error_frame(request, wire.Code.CONFLICT, "this is the device you are using: revoke it from "
                                   "another one, or with laneserver device revoke", field="device")
            done = encode(wire.DeviceOk(re=request.id, device=target, changed=True))  # kept when it changed
            (changed,) = await commit(shop.journal, edge_keys.remembered(
                access.RevokeDevice(at=now, by=seller, device=device, target=target), device, request, ACTOR, done,
                now))
            if changed is None:
                return error_frame(request, wire.Code.NOT_FOUND, f"no device {target!r}", field="device")
            apply_access(shop, frozenset({target}), frozenset())  # its open sessions closed, now
            log.info("device_revoked", device=target, by=seller)
            return encode(wire.DeviceOk(re=request.id, device=target, changed=changed))
    return error_frame(request, wire.Code.BAD_REQUEST, f"{request.__struct_config__.tag} is not handled here")

