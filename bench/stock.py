"""Stock decrements per second across 8 and 64 lanes, next to the raw SQLite durable
commit rate measured in the same run (measured, not timed against a target).

    python -m bench.stock                      # 8 and 64 lanes, 5 s each
    python -m bench.stock --lanes 8 --seconds 2

Each lane is one websocket on its own till, in a shop that **refuses negative stock**,
all selling the same article from one stock point: ``add`` (the lane asks the stock
point, which grants against what is available), ``pay``, ``finish`` (durable: the
sale and its stock movement in one commit). A finished sale is one stock decrement.
The baseline is single-row ``BEGIN IMMEDIATE … COMMIT`` in WAL with
``synchronous=FULL`` in the same data folder (``bench.baselines.sqlite_commits``):
a decrement costs three durable commits (the line, the payment, the sale), so a
ratio near 1/3 means the server adds little above SQLite's fsyncs.

Everything runs on 127.0.0.1 in a temporary folder, and stops by itself (bounded
in seconds). Prints a table and, with ``--json``, the figures as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
from pathlib import Path

import trio
from trio_websocket import open_websocket_url

from bench.baselines import sqlite_commits
from bench.server import laneserver_process, prepare_shop

ARTICLE = "A001"
INITIAL = 99999


async def _call(ws, ids, verb: str, **fields):
    rid = next(ids)
    await ws.send_message(json.dumps({"type": verb, "id": rid, **fields}))
    while True:
        frame = json.loads(await ws.get_message())
        if frame.get("re") == rid:
            return frame


async def _signed_in(ws, ids, token: str, seller: tuple[str, str]) -> None:
    assert (await _call(ws, ids, "hello", token=token))["type"] == "ok"
    assert (await _call(ws, ids, "sign_in", seller=seller[0], pin=seller[1]))["type"] == "ok"


async def _load(url: str, tills: dict[str, str], pda: str, sellers, seconds: float) -> tuple[int, int, float]:
    """(decrements, refusals, wall seconds) of all lanes selling for ``seconds``."""
    ids = itertools.count(1)
    async with open_websocket_url(url) as ws:
        await _signed_in(ws, ids, pda, sellers[0])
        entry = await _call(ws, ids, "stock_entry", article=ARTICLE, qty=INITIAL, reason="initial")
        assert entry["type"] == "ok", entry
    done = [0, 0]
    ready = [0]
    go = trio.Event()
    window: list[float] = []

    async def lane(i: int, token: str) -> None:
        lane_ids = itertools.count(1)
        async with open_websocket_url(url) as ws:
            # Connected and signed in (a PIN check costs a scrypt) before the clock starts.
            await _signed_in(ws, lane_ids, token, sellers[i % len(sellers)])
            ready[0] += 1
            if ready[0] == len(tills):
                window.append(trio.current_time() + seconds)
                go.set()
            await go.wait()
            deadline = window[0]
            while trio.current_time() < deadline:
                added = await _call(ws, lane_ids, "add", article=ARTICLE)
                if added["type"] != "ok":
                    done[1] += 1
                    continue
                assert (await _call(ws, lane_ids, "pay", mode="card"))["type"] == "ok"
                assert (await _call(ws, lane_ids, "finish", receipt="none"))["type"] == "ok"
                done[0] += 1

    with trio.fail_after(seconds + 120):
        async with trio.open_nursery() as nursery:
            for i, token in enumerate(tills.values()):
                nursery.start_soon(lane, i, token)
    started = window[0] - seconds
    return done[0], done[1], trio.current_time() - started


def run(lanes: int, seconds: float, root: Path) -> dict:
    shop = prepare_shop(root / f"lanes{lanes}", lanes=lanes, pdas=1, sellers=min(lanes, 8))
    text = shop.config.read_text(encoding="utf-8")
    shop.config.write_text(text.replace('[shop]\n', '[shop]\nnegative_stock = "refuse"\n', 1), encoding="utf-8")
    with laneserver_process(shop.data, shop.config, root / f"lanes{lanes}.log").start() as server:
        decrements, refused, wall = trio.run(_load, server.ws_url, shop.till_tokens, shop.pda_tokens[0],
                                             shop.sellers, seconds)
    commits = sqlite_commits(shop.data, count=100_000, seconds=seconds)
    return {
        "lanes": lanes,
        "decrements": decrements,
        "refused": refused,
        "seconds": round(wall, 3),
        "decrements_per_s": round(decrements / wall, 1),
        "sqlite_commits_per_s": round(commits.per_second, 1),
        "ratio": round((decrements / wall) / commits.per_second, 3) if commits.per_second else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stock", description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, action="append", help="lane counts (default: 8 and 64)")
    parser.add_argument("--seconds", type=float, default=5.0, help="selling time per lane count")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="laneserver-bench-stock-"))
    try:
        results = [run(n, args.seconds, root) for n in (args.lanes or [8, 64])]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("| lanes | stock decrements/s | SQLite durable commits/s (same run) | ratio | decrements | refused |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['lanes']} | {r['decrements_per_s']} | {r['sqlite_commits_per_s']} | {r['ratio']} "
              f"| {r['decrements']} | {r['refused']} |")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
