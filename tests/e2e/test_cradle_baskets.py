"""A cradle's basket at the edge (server/devices.py ``deliver_basket``) against the demo
shop's real lane actors, in process: emptied into the open ticket once per basket id
(handed again, as after a crash between the lane's answer and the upload marked done:
the lane's first reply, nothing added), parked once, waiting while it cannot go in,
refused for good with an unknown code."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import trio

from laneserver.actors.lane_messages import GetHeld, GetTicket
from laneserver.actors.messages import Caller, Do
from laneserver.config import CradleConfig
from laneserver.server.devices import deliver_basket
from tests.e2e.in_process import serving

GALETS = "3760245001015"  # A001
LAMOTHE = "3451203000279"  # A002
EMPTY = CradleConfig(id="c1", address="/dev/ttyUSB3", lane="1")
PARK = CradleConfig(id="c2", address="/dev/ttyUSB4", lane="2", park=True)


class TillSession:
    """What ``lane_seller`` reads of a till's session: marie signed in on ``lane``."""

    def __init__(self, lane: str) -> None:
        self.device = SimpleNamespace(kind="till", lane=lane)
        self.seller, self.role, self.hello_at = "marie", "cashier", 1.0


async def test_a_cradle_basket_is_emptied_or_parked_once_per_id(tmp_path):
    with trio.fail_after(30):
        async with serving(tmp_path) as running:
            shop = running.shop
            lines = ((GALETS, 2), (LAMOTHE, 1))
            waiting = await deliver_basket(shop, EMPTY, "1", "c1-71-1", lines)
            assert not waiting.taken and not waiting.final and "no seller" in waiting.error
            shop.open_sessions.update({TillSession("1"), TillSession("2")})

            assert (await deliver_basket(shop, EMPTY, "1", "c1-71-1", lines)).taken
            assert (await deliver_basket(shop, EMPTY, "1", "c1-71-1", lines)).taken  # again: nothing added
            caller = Caller(device="test", seller="marie", lane="1")
            ticket = (await shop.lanes["1"].ask(Do(caller, GetTicket()))).ticket
            assert [(line.article, line.qty) for line in ticket.lines] == [("A001", Decimal(2)), ("A002", Decimal(1))]
            assert all(line.source is not None and line.source.device == "cradle:c1" for line in ticket.lines)

            # Another basket while the ticket has lines: it waits (the next poll hands it again).
            later = await deliver_basket(shop, EMPTY, "1", "c1-71-2", ((LAMOTHE, 1),))
            assert not later.taken and not later.final and later.error.startswith("conflict")
            # A code nobody knows: never taken, kept as refused by the actor.
            unknown = await deliver_basket(shop, EMPTY, "1", "c1-71-3", (("0000000000000", 1),))
            assert not unknown.taken and unknown.final and unknown.error.startswith("unknown_code")

            # Parked (park = true): a held ticket on lane 2, once.
            assert (await deliver_basket(shop, PARK, "2", "c2-71-1", lines)).taken
            assert (await deliver_basket(shop, PARK, "2", "c2-71-1", lines)).taken
            held = (await shop.lanes["2"].ask(Do(caller, GetHeld()))).tickets
            assert len(held) == 1 and len(held[0].ticket.lines) == 2
            open_two = (await shop.lanes["2"].ask(Do(caller, GetTicket()))).ticket
            assert open_two.lines == ()
