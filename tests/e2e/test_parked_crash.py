"""A parked basket handed from lane to lane is in exactly one lane after a kill at any
point of the hand-over.

The hand-over is two lanes' units (server/edge_lane.py ``recall_parked``): lane 1 gives
the basket (``ParkedGiven``: in transit in its journal), lane 2 takes it (``ParkedTaken``),
lane 1 drops it (``ParkedDropped``). A ``kill -9`` leaves the database as its last
committed unit left it; here each such moment is caught exactly: the lane actors' commit
is wrapped so that around each unit of the hand-over the database is copied from another
connection (SQLite's backup: only committed units, what a kill leaves). Each copy
is served again (a new run: lane 1 settles what it left in transit at its start) and the
basket must be on lane 1's held tickets or on lane 2's open ticket, never on neither (as
before the fix, killed between the give and the take) nor on both; its stock reserved
once; the till's retry of its scan (same key) recalls it onto lane 2 exactly once.

The demo shop served in this process (tests/e2e/in_process.py), real websockets, real
SQLite files.
"""

from __future__ import annotations

import shutil
import sqlite3
from functools import partial
from pathlib import Path

import trio

from laneserver.actors import lane as lane_actor
from laneserver.actors.journal import read
from laneserver.store import reads
from laneserver.store.ops import RecordEvent
from laneserver.store.schema import DB_NAME
from tests.e2e.in_process import pair_till, serving
from tests.e2e.test_parked_handover import GALETS, pair_pda
from tests.support import connect

# Where the server is "killed": the data folder as each of these left it.
POINTS = ("given", "taken", "before_give", "after")  # first the one that lost it before


def _copy(data: Path, dest: Path) -> None:
    """The data folder as a kill would leave it now, into ``dest``: its files, the fiscal
    anchor first (written after the units it anchors), then what the database holds
    committed (a backup from a connection of this worker thread)."""
    shutil.copytree(data, dest, ignore=shutil.ignore_patterns(f"{DB_NAME}*"))
    db, target = sqlite3.connect(data / DB_NAME), sqlite3.connect(dest / DB_NAME)
    try:
        db.backup(target)
    finally:
        target.close()
        db.close()


async def _reserved(till) -> str:
    return (await till.ok("stock", article="A001"))["points"][0]["reserved"]


async def test_a_parked_basket_killed_at_any_point_of_its_hand_over_is_in_exactly_one_lane(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    copies = tmp_path / "copies"
    copies.mkdir()
    real_commit = lane_actor.commit

    async def kill(point: str) -> None:
        await trio.to_thread.run_sync(_copy, data, copies / point)

    async def commit(journal, *ops):
        kinds = {op.kind for op in ops if isinstance(op, RecordEvent)}
        if "ParkedGiven" in kinds:
            await kill("before_give")
        if "ParkedTaken" in kinds:  # the give is committed, the take is not
            await kill("given")
        results = await real_commit(journal, *ops)
        if "ParkedTaken" in kinds:  # the take is committed, the giving lane does not know it yet
            await kill("taken")
        return results

    with trio.fail_after(60):
        with monkeypatch.context() as patched:
            patched.setattr(lane_actor, "commit", commit)
            async with serving(data) as running:
                one_token = await trio.to_thread.run_sync(pair_till, data, "1")
                two_token = await trio.to_thread.run_sync(pair_till, data, "2")
                pda_token = await trio.to_thread.run_sync(pair_pda, data)
                async with connect(running.ws_url, two_token) as two, connect(running.ws_url, pda_token) as pda:
                    parked = await pda.ok("basket_park", basket="p-1", lane="1", lines=[{"code": GALETS, "qty": 2}])
                    barcode = parked["barcode"]
                    await two.ok("scan", code=barcode, key="recall-1")
    shutil.copytree(data, copies / "after")  # the server stopped: everything written
    for point in POINTS:
        assert (copies / point / DB_NAME).exists(), point

    for point in POINTS:
        again = copies / point
        with trio.fail_after(60):
            async with serving(again) as running, connect(running.ws_url, one_token) as one, \
                    connect(running.ws_url, two_token) as two:
                held = [h["barcode"] for h in (await one.ok("held"))["tickets"]]
                on_two = [line["qty"] for line in (await two.ok("ticket"))["ticket"]["lines"]]
                state = await read(running.shop.journal, partial(reads.lane_state, lane="1"))
                # Exactly one lane has it: held on lane 1, or lane 2's open ticket; nothing in transit.
                assert (held, on_two) in (([barcode], []), ([], ["2"])), (point, held, on_two)
                assert state.given == (), point
                assert await _reserved(one) == "2", point  # its stock reserved once
                # The till retries its scan (same key): the basket on lane 2, once.
                again_reply = await two.ok("scan", code=barcode, key="recall-1")
                assert [line["qty"] for line in again_reply["ticket"]["lines"]] == ["2"], point
                assert (await one.ok("held"))["tickets"] == [], point
                assert await _reserved(one) == "2", point


async def _recall_on_lane_two_then_retried(data: Path, monkeypatch, commit) -> dict:
    """A PDA parks a basket on lane 1; lane 2's till scans it with the lanes' journal
    commits going through ``commit`` (which fails some): the failed scan's answer is
    returned, after checking that in the same run the basket is held on lane 1 again
    (in transit nowhere, its stock reserved once) and that the scan's retry with its key
    recalls it on lane 2."""
    with trio.fail_after(60):
        with monkeypatch.context() as patched:
            patched.setattr(lane_actor, "commit", commit)
            async with serving(data) as running:
                one_token = await trio.to_thread.run_sync(pair_till, data, "1")
                two_token = await trio.to_thread.run_sync(pair_till, data, "2")
                pda_token = await trio.to_thread.run_sync(pair_pda, data)
                async with connect(running.ws_url, one_token) as one, connect(running.ws_url, two_token) as two, \
                        connect(running.ws_url, pda_token) as pda:
                    parked = await pda.ok("basket_park", basket="p-1", lane="1", lines=[{"code": GALETS, "qty": 2}])
                    barcode = parked["barcode"]
                    failed = await two.call("scan", code=barcode, key="recall-1")
                    assert failed["type"] == "error", failed
                    state = await read(running.shop.journal, partial(reads.lane_state, lane="1"))
                    assert state.given == ()
                    assert [h["barcode"] for h in (await one.ok("held"))["tickets"]] == [barcode]
                    assert await _reserved(one) == "2"
                    again = await two.ok("scan", code=barcode, key="recall-1")  # its retry
                    assert [line["qty"] for line in again["ticket"]["lines"]] == ["2"]
                    assert (await one.ok("held"))["tickets"] == [] and await _reserved(one) == "2"
    return failed


async def test_a_giving_lane_that_crashes_after_its_give_gets_the_basket_back_in_the_same_run(tmp_path, monkeypatch):
    """Lane 1's actor commits the give, then crashes before it answers (a fault after the
    unit: its supervisor restarts it, same run). The edge never got the held ticket, so no
    take is asked: the basket, in transit with this run's stamp, must not wait for the
    next start to be anywhere (a restarted actor leaves this run's transit to its edge):
    the edge settles it at once, held on lane 1 again, and the scan retried recalls it."""
    data = tmp_path / "data"
    data.mkdir()
    real_commit = lane_actor.commit
    crashed: list[str] = []

    async def commit(journal, *ops):
        results = await real_commit(journal, *ops)
        if not crashed and any(isinstance(op, RecordEvent) and op.kind == "ParkedGiven" for op in ops):
            crashed.append("given")
            raise RuntimeError("a fault after the give's unit")
        return results

    failed = await _recall_on_lane_two_then_retried(data, monkeypatch, commit)
    # Back on lane 1 in this run (before: in transit until the next start).
    assert crashed == ["given"] and failed["type"] == "error", failed


async def test_a_giving_lane_that_crashes_on_the_give_back_still_gets_the_basket_back_in_the_same_run(
        tmp_path, monkeypatch):
    """Lane 2 fails on the take before its unit, then lane 1 fails on holding the basket
    again, before its unit too (both restarted by their supervisors, same run): the edge
    asks again until lane 1 answers, so the basket is held on lane 1 in this run, not in
    transit until the next start."""
    data = tmp_path / "data"
    data.mkdir()
    real_commit = lane_actor.commit
    crashed: list[str] = []

    async def commit(journal, *ops):
        kinds = {op.kind for op in ops if isinstance(op, RecordEvent)}
        for kind in ("ParkedTaken", "ParkedRestored"):
            if kind in kinds and kind not in crashed:
                crashed.append(kind)
                raise RuntimeError(f"a fault before the unit of {kind}")
        return await real_commit(journal, *ops)

    failed = await _recall_on_lane_two_then_retried(data, monkeypatch, commit)
    assert crashed == ["ParkedTaken", "ParkedRestored"] and failed["type"] == "error", failed
