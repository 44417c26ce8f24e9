"""The route table (server/routes.py): every request of the wire has one route, and
the failures on the way to an actor become error frames in one function."""

from __future__ import annotations

import msgspec

from laneserver.actors.runtime import ActorFailed, ActorStopped
from laneserver.protocol import messages as wire
from laneserver.rules.outcome import Refused
from laneserver.server import routes
from laneserver.server.edge_lane import LANE_REQUESTS
from laneserver.server.session import Session


def test_every_request_type_has_a_route_to_a_session_method() -> None:
    for kind in wire.REQUEST_TYPES:
        route = routes.ROUTES.get(kind)
        assert route is not None, kind
        assert callable(getattr(Session, route.handler)), route
    assert set(routes.ROUTES) == set(wire.REQUEST_TYPES)


def test_only_hello_comes_before_the_device_and_which_requests_take_a_supervisor_pin() -> None:
    # ``pair`` too (issue 14): a device with no token yet gets one with a one-time code.
    assert [k for k, r in routes.ROUTES.items() if not r.needs_device] == [wire.Hello, wire.Pair]
    assert {k for k, r in routes.ROUTES.items() if r.approval} == {
        wire.Discount, wire.Pay, wire.BalanceCorrect, *wire.SALES_VERBS,
        wire.DrawerMovement, wire.DrawerOpen, wire.DrawerCount, wire.GetDrawer, wire.Close,
        wire.StockCountValidate,  # issue 16: an inventory count applied by a supervisor, or with a PIN
        wire.SetPrice,  # issue 17: a line's price changed beyond the cap
        *wire.CATALOG_EDIT_VERBS}  # issue 17: an unknown code made sellable
    assert {k for k, r in routes.ROUTES.items() if r.handler == "_lane_request"} == set(LANE_REQUESTS)
    assert routes.ROUTES[wire.BasketEmpty].target == "lane"


def _decoded(frame: bytes) -> dict:
    return msgspec.json.decode(frame)


def test_failures_become_error_frames_in_one_function() -> None:
    request = wire.Scan(id=7, code="1")
    timed_out = _decoded(routes.failure_frame(request, routes.TimedOut()))
    assert (timed_out["re"], timed_out["code"]) == (7, "unavailable")
    stopped = _decoded(routes.failure_frame(request, ActorStopped("lane:1", "3 crashes in 60 s")))
    assert stopped["code"] == "unavailable" and stopped["message"].startswith("lane 1 is out of service")
    crashed = _decoded(routes.failure_frame(request, ActorFailed("lane:1", maybe_applied=True)))
    assert crashed["code"] == "internal" and "check the ticket" in crashed["message"]
    refused = _decoded(routes.failure_frame(request, Refused("conflict", "no", {"line": 2, "nonsense": 1})))
    assert refused == {"type": "error", "re": 7, "code": "conflict", "message": "no", "line": 2}
