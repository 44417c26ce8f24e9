"""The disaster-recovery drill of docs/operations.md, run for real: a shop sells on three
tills (websocket clients) while the server takes its scheduled backups; the server is
killed and its database deleted; ``laneserver restore`` puts the newest backup back;
``laneserver verify`` passes; every sale acknowledged before that backup began is in the
restored database, under its number; the server starts on it and sells on."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import urllib.request

import trio

from laneserver.store.schema import DB_NAME
from tests.e2e.configured import DEMO_CATALOG, configured_server, lane, stock_point, table, toml
from tests.support import connect

GALETS = "3760245001015"
LANES = ("1", "2", "3")
LOAD_SECONDS = 4.0


def _backup_began(path) -> dt.datetime:
    """When a scheduled backup began: its name says it (store/backups.py ``backup_name``)."""
    stamp = path.name.removeprefix("laneserver-").removesuffix(".sqlite3")
    return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.UTC)


def test_backup_under_load_kill_delete_restore_verify(tmp_path):
    config = toml(table("backup", every="1s", keep=3), stock_point(), *(lane(i) for i in LANES))
    server = configured_server(tmp_path, config, DEMO_CATALOG, sellers=[("paul", "5678", "cashier")]).start()
    tokens = {i: server.pair("till", i) for i in LANES}
    acknowledged: list[tuple[dt.datetime, int, str]] = []  # (when the till had the reply, number, lane)

    async def till(lane_id: str, until: float) -> None:
        async with connect(server.ws_url, tokens[lane_id], seller=("paul", "5678")) as client:
            while trio.current_time() < until:
                await client.ok("scan", code=GALETS)
                await client.ok("pay", mode="cash", amount="10.00")
                sale = await client.ok("finish", receipt="none")
                acknowledged.append((dt.datetime.now(dt.UTC), sale["number"], lane_id))

    async def load() -> None:
        with trio.fail_after(LOAD_SECONDS + 30):
            async with trio.open_nursery() as nursery:
                for lane_id in LANES:
                    nursery.start_soon(till, lane_id, trio.current_time() + LOAD_SECONDS)

    try:
        trio.run(load)
        backups = sorted((server.data / "backups").glob("laneserver-*.sqlite3"))
        assert 1 <= len(backups) <= 3, backups  # keep = 3
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
            metrics = response.read().decode()
        assert "laneserver_backups_failed 0" in metrics
        age = float(re.search(r"^laneserver_backup_age_seconds (\S+)$", metrics, re.M)[1])
        assert 0 <= age < 30
    finally:
        server.kill()
    last_ack = acknowledged[-1][0]
    taken_under_load = [b for b in backups if _backup_began(b) < last_ack]
    assert taken_under_load, (backups, last_ack)
    backup = taken_under_load[-1]
    began = _backup_began(backup)
    before = {(number, lane_id) for at, number, lane_id in acknowledged if at < began}
    after = [number for at, number, _ in acknowledged if at > began]
    assert before and after, "the backup was not taken while the tills sold"

    # The machine's copy is lost: the database, its WAL and shared-memory file.
    for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm"):
        (server.data / name).unlink(missing_ok=True)

    restored = server.cli("restore", str(backup))
    assert "integrity and fiscal chains checked" in restored.stdout
    assert "fiscal-anchor.json.replaced-" in restored.stdout  # the lost database's anchor, kept aside
    verified = server.cli("verify")
    assert "fiscal chains intact" in verified.stdout
    db = sqlite3.connect(server.data / DB_NAME)
    try:
        present = set(db.execute("SELECT number, lane FROM sales").fetchall())
        last = db.execute("SELECT max(number) FROM sales").fetchone()[0]
    finally:
        db.close()
    assert before <= present, sorted(before - present)[:5]

    # The next start accepts the restored books and numbers on from the backup.
    server.restart()
    try:
        async def one_more() -> dict:
            with trio.fail_after(30):
                async with connect(server.ws_url, tokens["1"], seller=("paul", "5678")) as client:
                    # The lane's open ticket is back as the backup had it: empty, or a
                    # line scanned, or paid too (the backup fell between two requests).
                    ticket = (await client.ok("ticket"))["ticket"]
                    if not ticket["lines"]:
                        await client.ok("scan", code=GALETS)
                    if not ticket["payments"]:
                        await client.ok("pay", mode="cash", amount="10.00")
                    return await client.ok("finish", receipt="none")

        assert trio.run(one_more)["number"] == last + 1
    finally:
        assert server.stop() == 0
    assert "fiscal chains intact" in server.cli("verify").stdout
