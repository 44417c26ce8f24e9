"""The demo shop served by ``run_shop`` in this process (a loopback port chosen by the
system, a real SQLite file), for the tests that reach inside it: a bug planted in an
actor's factory, a module constant shortened, the shop's metrics read directly.

``async with serving(data) as running`` runs it for the block and stops it after;
``pair_till(data, lane)`` pairs a till straight in the database (blocking: call it
from a worker thread while the shop runs).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import trio

from laneserver.clock import SystemClock
from laneserver.config import demo_config
from laneserver.server.run import run_shop
from laneserver.server.shop import Shop
from laneserver.store.admin import pair_device
from laneserver.store.schema import DB_NAME, connect as connect_db


@dataclass
class Running:
    shop: Shop
    url: str  # http://127.0.0.1:PORT

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.url.split("//", 1)[1].split(":")
        return host, int(port)


@asynccontextmanager
async def serving(data: Path) -> AsyncIterator[Running]:
    """The demo shop on ``data`` (a folder that exists), ready, until the block ends."""
    stop = trio.Event()
    ready = trio.Event()
    started: list[Running] = []

    def on_ready(shop: Shop, binds: list[str]) -> None:
        started.append(Running(shop, binds[0]))
        ready.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(run_shop, demo_config(), data, SystemClock(), host="127.0.0.1", port=0,
                                   stop=stop, on_ready=on_ready, handle_signals=False))
        await ready.wait()
        try:
            yield started[0]
        finally:
            stop.set()


def pair_till(data: Path, lane: str) -> str:
    """A till paired on ``lane`` of the demo shop; its token."""
    db = connect_db(data / DB_NAME, create=True)
    try:
        return pair_device(db, "till", lane, SystemClock().now(), ["1", "2"])[1]
    finally:
        db.close()
