"""``python -m bench.journal_batch``: one journal batch written the two ways, side by side.

A batch of 13 scans (an event and a lane state each, as 64 lanes send them) written
in one durable transaction on a fresh WAL ``synchronous=FULL`` database, while another
thread keeps the GIL busy as the server's event loop does: each row by its own
statement (the baseline, what the journal did before) and kept back then written with
one ``json_each`` statement per table (``Writer.defer``/``flush``, what it does now).
The two are interleaved, the same count each; it prints p50/p90 of a batch's wall
time. Bounded: ``--batches`` (default 200) per way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.stats import p50, percentile
from laneserver.cli import GIL_SWITCH_INTERVAL
from laneserver.rules import lane as rules
from laneserver.store import schema
from laneserver.store.ops import PutLaneState, RecordEvent
from laneserver.store.writes import Writer

NOW = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.timezone.utc)
UNITS = 13  # scans per batch at 64 lanes + 32 PDAs (docs/performance.md)


def write_batch(writer: Writer, deferred: bool) -> float:
    """One batch; its wall time in seconds."""
    started = time.perf_counter()
    writer.db.execute("BEGIN IMMEDIATE")
    if deferred:
        writer.defer()
    for i in range(UNITS):
        writer.apply(RecordEvent(at=NOW, source=f"lane:{i}", kind="LineAdded", device=f"till-{i}", seller="marie",
                                 data={"line": i, "article": "A100", "name": "Baguette tradition", "qty": "1"}))
        writer.apply(PutLaneState(state=rules.LaneState(lane=str(i)), at=NOW))
    if deferred:
        writer.flush()
    writer.db.execute("COMMIT")
    return time.perf_counter() - started


def measure(batches: int) -> dict[str, list[float]]:
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)  # as `laneserver serve` sets it
    stop = threading.Event()

    def busy() -> None:  # the event loop's share of the GIL
        while not stop.is_set():
            sum(range(200))

    times: dict[str, list[float]] = {"one statement a row": [], "deferred (json_each)": []}
    with tempfile.TemporaryDirectory(prefix="laneserver-journal-batch-") as folder:
        db = schema.connect(Path(folder) / "batch.sqlite3")
        thread = threading.Thread(target=busy)
        thread.start()
        try:
            writer = Writer(db)
            for _ in range(batches):
                times["one statement a row"].append(write_batch(writer, deferred=False))
                times["deferred (json_each)"].append(write_batch(writer, deferred=True))
        finally:
            stop.set()
            thread.join()
            db.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.journal_batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=200, help="batches written each way (default 200)")
    args = parser.parse_args(argv)
    times = measure(args.batches)
    print(f"a batch of {UNITS} scans (event + lane state), durable, beside a busy thread; {args.batches} each way")
    for name, samples in times.items():
        print(f"  {name:22} p50 {p50(samples) * 1e3:6.2f} ms   p90 {percentile(samples, 90) * 1e3:6.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
