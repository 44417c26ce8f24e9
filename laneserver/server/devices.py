"""The lane devices at the edge: a scanner's code as the lane's ``scan``, the lane's
signed-in seller, the display told when the lane opens or closes, and their states
for ``/status``, ``laneserver device list`` and ``/metrics``.

A code read by a scanner (actors/scanner.py) goes to its lane exactly as a till's
``scan`` does (server/edge_lane.py ``build``: the catalog's lookup, a customer's
card, the roles table), as a ``Do`` whose caller is the scanner (``scanner:ID``,
what the journal records as the device) with the lane's signed-in seller: the lane
applies it and publishes the ``ticket`` event to every till of the lane. A code that
makes no line — nobody signed in, an unknown code, the lane out of service — is
told to the lane's tills as a ``scan_refused`` event, with the error a till's own
``scan`` would have had.

The lane's signed-in seller is the one signed in on the lane's till that said
``hello`` last (a lane usually has one till); none when no till of the lane has a
seller signed in, and then the lane's display says the lane is closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from operator import attrgetter
from typing import Any

import trio

from laneserver.actors.cradle import Outcome
from laneserver.actors.device_messages import DeviceState, LaneOpen
from laneserver.actors.messages import Caller, Do
from laneserver.actors.runtime import ActorFailed
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, fingerprint
from laneserver.rules import roles
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.server import edge_lane
from laneserver.server.routes import out_of_service_message
from laneserver.server.shop import Shop

SCAN_REFUSED = "scan_refused"

log = get_logger("devices")


def lane_seller(sessions: Iterable[Any], lane: str) -> tuple[str, str | None] | None:
    """``(seller, role)`` signed in on ``lane``'s till that said hello last, or None."""
    chosen = None
    for session in sessions:
        device = session.device
        if device is None or device.kind != "till" or device.lane != lane or session.seller is None:
            continue
        if chosen is None or session.hello_at > chosen.hello_at:
            chosen = session
    return None if chosen is None else (chosen.seller, chosen.role)


def presence_changed(shop: Shop, lane: str | None) -> None:
    """A seller signed in or out on ``lane``'s till, or a till came or went: its display
    is told whether the lane is open (never waits; a display that misses it is told
    again at the next change, and a restarted one asks ``lane_seller`` itself)."""
    if lane is None:
        return
    display = shop.displays.get(lane)
    if display is not None:
        display.tell_nowait(LaneOpen(lane_seller(shop.open_sessions, lane) is not None))


async def deliver_code(shop: Shop, lane: str, scanner: str, code: str) -> None:
    """``code`` from ``scanner`` as a ``scan`` on ``lane`` by its signed-in seller; a
    refusal told to the lane's tills (``scan_refused``). Bounded by ``[server]
    ask_timeout``; never raises for a refusal or a lane that does not answer."""
    signed = lane_seller(shop.open_sessions, lane)
    seller, role = signed if signed is not None else (None, None)
    caller = Caller(device=f"scanner:{scanner}", seller=seller, role=role, lane=lane)
    request = wire.Scan(code=code)
    result: Any
    if seller is None:
        result = refused(Code.NOT_SIGNED_IN, "a code was scanned but no seller is signed in on this lane")
    else:
        denied = roles.check(shop.roles, "scan", role, takes_pin=False, pin_given=False)
        result = refused(denied.code, denied.message) if denied is not None else edge_lane.build(request, caller, shop)
    address = shop.lanes[lane]
    if not isinstance(result, Refused):
        with trio.move_on_after(shop.config.server.ask_timeout) as waited:
            try:
                result = await address.ask(Do(caller, result))
            except ActorFailed as failed:
                result = refused(Code.UNAVAILABLE, out_of_service_message(address.name)
                                 if address.name in shop.out_of_service else
                                 f"lane {lane} did not answer: {failed}")
        if waited.cancelled_caught:
            result = refused(Code.UNAVAILABLE, f"lane {lane} did not answer in time; the code may have been added")
    if isinstance(result, Refused):
        log.info("scanned_code_refused", lane=lane, scanner=scanner, code=code, error=result.code)
        publisher = shop.publishers.get(address.name)
        if publisher is not None:
            publisher.publish(encode(wire.ScanRefusedEvent(lane=lane, scanner=scanner, code=code, error=result.code,
                                                          message=result.message)), SCAN_REFUSED)


# --- a cradle's basket (actors/cradle.py) --------------------------------------------------

# A refusal that waiting cannot change: the basket is kept in the journal, marked refused.
FINAL_REFUSALS = frozenset({Code.UNKNOWN_CODE, Code.AMBIGUOUS_CODE, Code.BAD_REQUEST, Code.NOT_FOUND})


async def deliver_basket(shop: Shop, cradle: Any, lane: str, basket: str,
                         lines: tuple[tuple[str, int], ...]) -> Outcome:
    """A cradle's upload as a PDA's basket on ``lane`` by its signed-in seller: emptied
    into its open ticket as ``basket_empty`` (refused while that ticket has other
    lines: it waits, and goes in once the ticket is empty), or parked as a held ticket
    as ``basket_park`` (``park = true``). Exactly once per ``basket``: it is the
    request's key (``basket:<id>``, the caller ``cradle:ID``), so the lane answers a
    basket handed again with its first reply. Bounded by ``[server] ask_timeout``;
    never raises."""
    signed = lane_seller(shop.open_sessions, lane)
    if signed is None:
        return Outcome(False, error=f"no seller is signed in on lane {lane}")
    seller, role = signed
    request = basket_request(cradle, lane, basket, lines)
    denied = roles.check(shop.roles, request.__struct_config__.tag, role, takes_pin=False, pin_given=False)
    if denied is not None:
        return Outcome(False, error=denied.message)
    caller = Caller(device=f"cradle:{cradle.id}", seller=seller, role=role, lane=lane)
    result: Any = edge_lane.basket_command(shop, caller, basket, request.lines, park=cradle.park)
    address = shop.lanes[lane]
    if not isinstance(result, Refused):
        with trio.move_on_after(shop.config.server.ask_timeout) as waited:
            try:
                result = await address.ask(Do(caller, result, request.key, fingerprint(request)))
            except ActorFailed as failed:
                return Outcome(False, error=f"lane {lane} did not answer: {failed}")
        if waited.cancelled_caught:
            return Outcome(False, error=f"lane {lane} did not answer in time")
    if isinstance(result, Refused):
        return Outcome(False, final=result.code in FINAL_REFUSALS, error=f"{result.code}: {result.message}")
    return Outcome(True)


def basket_request(cradle: Any, lane: str, basket: str,
                   lines: tuple[tuple[str, int], ...]) -> wire.BasketEmpty | wire.BasketPark:
    """The PDA request a cradle's basket stands for (its key and fingerprint)."""
    basket_lines = [wire.BasketLine(code=code, qty=qty) for code, qty in lines]
    if cradle.park:
        return wire.BasketPark(basket=basket, lane=lane, lines=basket_lines, key=f"basket:{basket}")
    return wire.BasketEmpty(basket=basket, lane=lane, lines=basket_lines, key=f"basket:{basket}")


# --- states: /status, device list, /metrics -------------------------------------------------


def _counters(state: DeviceState) -> dict[str, Any]:
    match state.kind:
        case "display":
            return {"screens": state.screens, "skipped": state.skipped}
        case "cradle":
            return {"present": state.present, "uploads": state.uploads, "baskets": state.baskets,
                    "waiting": state.waiting, "codes": state.codes, "refused": state.refused}
        case "terminal":
            return {"charges": state.charges}
    return {"codes": state.codes, "refused": state.refused, "dropped": state.dropped}


def device_rows(shop: Shop) -> list[dict[str, Any]]:
    """Each display's, scanner's, cradle's and terminal's state now (``/status``'s
    ``hardware``)."""
    rows = []
    for state in shop.device_states.values():
        rows.append({"device": state.device, "kind": state.kind, "lane": state.lane, "address": state.address,
                     "state": "up" if state.up else "down", "error": state.error, **_counters(state)})
    return rows


def configured_rows(config: Any) -> list[dict[str, Any]]:
    """The displays, scanners, cradles and terminals of the shop file, with no live
    state (no server runs)."""
    lanes_of: dict[tuple[str, str], str] = {}
    for lane in config.lanes:
        if lane.display is not None:
            lanes_of["display", lane.display] = lane.id
        for scanner in lane.scanners:
            lanes_of["scanner", scanner] = lane.id
        if lane.terminal is not None:
            lanes_of["terminal", lane.terminal] = lane.id
    return ([{"device": d.id, "kind": "display", "lane": lanes_of.get(("display", d.id), "-"), "address": d.address,
              "state": "not running", "error": None} for d in config.displays]
            + [{"device": s.id, "kind": "scanner", "lane": lanes_of.get(("scanner", s.id), "-"),
                "address": s.address, "state": "not running", "error": None} for s in config.scanners]
            + [{"device": c.id, "kind": "cradle", "lane": cradle_lane(config, c), "address": c.address,
                "state": "not running", "error": None} for c in config.cradles]
            + [{"device": t.id, "kind": "terminal", "lane": lanes_of.get(("terminal", t.id), "-"),
                "address": t.address or t.kind, "state": "not running", "error": None} for t in config.terminals])


def cradle_lane(config: Any, cradle: Any) -> str:
    """The lane a cradle's baskets go to: its own, or the shop's first (``park``)."""
    return cradle.lane if cradle.lane is not None else config.lanes[0].id


def register_device_metrics(shop: Shop) -> None:
    """``device_up`` (1 up, 0 down, by kind, device and lane) and the displays',
    scanners', cradles' and terminals' counters (docs/operations.md, "Metrics")."""
    metrics = shop.metrics

    def by(kind: str | None, value) -> dict[tuple[str, ...], int]:
        return {(s.kind, s.device, s.lane): value(s) for s in shop.device_states.values()
                if kind is None or s.kind == kind}

    metrics.labelled["device_up"] = (("1 while a display's, scanner's or cradle's port is open and working (a "
                                      "terminal: unless its last charge could not reach it), else 0."),
                                     ("kind", "device", "lane"), lambda: by(None, lambda s: int(s.up)))
    for name, kind, attribute, words in DEVICE_COUNTERS:
        metrics.labelled[name] = (words, ("kind", "device", "lane"),
                                  partial(by, kind, attrgetter(attribute)))


# (series, device kind, DeviceState attribute, help): the devices' counters in /metrics.
DEVICE_COUNTERS = (
    ("display_screens", "display", "screens", "Screens written to each customer display since start."),
    ("display_updates_skipped", "display", "skipped",
     "Display updates replaced by a newer one before they were shown (never queued)."),
    ("scanner_codes", "scanner", "codes", "Codes each scanner passed to its lane since start."),
    ("scanner_codes_refused", "scanner", "refused", "Codes refused by the framer: too long, not printable, noise."),
    ("scanner_codes_waiting", "scanner", "waiting", "Codes a scanner read that its lane has not taken yet (its queue)."),
    ("scanner_codes_dropped", "scanner", "dropped", "Codes dropped: more than the lane could take (a flood)."),
    ("cradle_uploads", "cradle", "uploads", "Uploads journaled from each cradle's scanners since start."),
    ("cradle_baskets", "cradle", "baskets", "Cradle baskets the lane took (emptied or parked) since start."),
    ("cradle_baskets_waiting", "cradle", "waiting", "Cradle baskets journaled that the lane has not taken yet."),
    ("cradle_refused", "cradle", "refused",
     "Cradle answers refused (CRC, garbage, silence), codes and baskets refused."),
    ("terminal_charges", "terminal", "charges", "Charges each payment terminal answered since start."),
)

def keep_state(states: dict[str, DeviceState], state: DeviceState) -> None:
    """A device actor's ``on_state``: its newest state, under ``kind:id``."""
    states[f"{state.kind}:{state.device}"] = state
