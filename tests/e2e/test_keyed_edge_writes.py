"""A keyed ``keyboard_save`` whose till stopped waiting is served once retried.

``keyboard_save`` is written by the edge itself (server/edge_keys.py): its layout in
the journal with its reply, then put behind ``shop.keyboard`` (what every till's
``keyboard`` is served from, never read again from the database while the server runs).
Here the journal is slow (its worker thread held while it writes the layout) and the
session's ask timeout (shortened) runs out meanwhile, the write lands. Before, the
write's wait was cancelled with the till's (told ``unavailable``: "retry with the same key"),
so the layout never reached ``shop.keyboard``, and the keyed retry, answered from the
journal since keyed edge writes keep their reply, said saved — while every till was
served the old keyboard until a restart. Now the write and the layout served go
together (the save waits for its write, shielded, as a parked basket's hand-over does):
what the till is told saved is what the tills get.

The demo shop served in this process (tests/e2e/in_process.py), real websockets, a real
SQLite file.
"""

from __future__ import annotations

import json
import threading

import trio

from laneserver.clock import SystemClock
from laneserver.server.shop import Shop
from laneserver.store import catalog_meta
from laneserver.store.admin import add_seller
from laneserver.store.schema import DB_NAME, connect as connect_db
from tests.e2e.in_process import pair_till, serving
from tests.support import connect

TIMEOUT = 0.5  # the session's ask timeout, shortened
MANAGER = ("marc", "2468")


def _add_manager(data) -> None:
    db = connect_db(data / DB_NAME, create=True)
    try:
        add_seller(db, *MANAGER, "manager", SystemClock().now())
    finally:
        db.close()


async def test_a_keyboard_save_the_till_stopped_waiting_for_is_served_once_its_retry_says_saved(tmp_path,
                                                                                              monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(Shop, "ask_timeout", lambda self, request, lane=None: TIMEOUT)
    holding, release = threading.Event(), threading.Event()
    write = catalog_meta.apply

    def slow_write(db, op):  # the journal's worker thread, held in the save's commit until released
        holding.set()
        assert release.wait(30), "never released"
        return write(db, op)

    monkeypatch.setattr(catalog_meta, "apply", slow_write)

    save = {"pages": [{"name": "Nouveautés", "keys": [{"article": "A001"}]}], "key": "kb-slow"}
    with trio.fail_after(60):
        async with serving(data) as running:
            token = await trio.to_thread.run_sync(pair_till, data, "1")
            await trio.to_thread.run_sync(_add_manager, data)
            async with connect(running.ws_url, token, seller=MANAGER) as till:
                await till.send_raw(json.dumps({"type": "keyboard_save", "id": "save", **save}))
                await trio.to_thread.run_sync(holding.wait)
                await trio.sleep(3 * TIMEOUT)  # the session's timeout runs out meanwhile
                release.set()
                told = await till.reply_to("save")  # saved, late; or unavailable: "retry with the same key"
                assert told["type"] == "ok" or told["code"] == "unavailable", told
                monkeypatch.setattr(catalog_meta, "apply", write)
                again = await till.ok("keyboard_save", **save)  # its retry, once the write landed
                assert [page["name"] for page in again["pages"]] == ["Nouveautés"]
                served = await till.ok("keyboard")
                assert [page["name"] for page in served["pages"]] == ["Nouveautés"], served
