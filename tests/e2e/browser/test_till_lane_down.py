"""The till tells its cashier when its lane is out of service (issue 11, "Hardening").

Past its restart budget a lane stops serving and its tills get a ``lane_status``
event. The page shows it as a red banner that says what to do (sell on another lane,
call store IT), instead of leaving the cashier with one refusal per scan.

The shop runs in a thread of this process (``run_shop`` on a loopback port, the demo
shop, a real SQLite file) so that lane 1's actor can carry a planted bug (see
tests/e2e/test_lane_down.py: no natural input crashes a lane); Chromium drives the
real page against it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import trio
from playwright.sync_api import expect

from laneserver.actors.runtime import CORE_POLICY
from laneserver.server import run as run_module
from tests.e2e.in_process import pair_till, serving
from tests.e2e.test_lane_down import BUG_CODE, BuggyLane

GALETS = "3760245001015"


class InProcessShop:
    """The demo shop served by ``run_shop`` in a thread; ``url`` and ``pair`` as the
    pages' fixtures expect of a server."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.url = ""
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with serving(self.data) as running:
            self.url = running.url
            self._ready.set()
            await self._stop.wait()

    def start(self) -> "InProcessShop":
        self._thread.start()
        assert self._ready.wait(60), "the shop did not start"
        return self

    def pair(self, kind: str, lane: str) -> str:
        assert kind == "till"
        return pair_till(self.data, lane)

    def stop(self) -> None:
        if self._token is not None and self._stop is not None:
            trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(30)


@pytest.fixture
def buggy_shop(tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "LaneActor", BuggyLane)
    data = tmp_path / "data"
    data.mkdir()
    shop = InProcessShop(data).start()
    try:
        yield shop
    finally:
        shop.stop()


def test_a_lane_out_of_service_shows_a_banner_and_the_other_lane_does_not(buggy_shop, tills):
    till1 = tills(buggy_shop, "1").start()
    till2 = tills(buggy_shop, "2").start()
    till1.scan(GALETS, lines=1)
    expect(till1.by("lane-banner")).to_be_hidden()
    for _ in range(CORE_POLICY.max_restarts + 1):
        till1.wedge(BUG_CODE)
        expect(till1.by("error")).to_be_visible()
    banner = till1.by("lane-banner")
    expect(banner).to_be_visible()
    expect(banner).to_have_text("Caisse 1 hors service après des pannes répétées : encaissez sur une autre "
                                "caisse et prévenez le service informatique.")
    assert "out of service" in (banner.get_attribute("title") or "")
    # Lane 2 sells on and shows nothing of it.
    till2.scan(GALETS, lines=1)
    expect(till2.by("lane-banner")).to_be_hidden()
