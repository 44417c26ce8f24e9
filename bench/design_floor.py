"""``python -m bench.design_floor``: what the decided design costs before any shop work.

Issue 12's target 1 compares the server's CPU per request with the *protocol floor*: a
Hypercorn + Starlette echo that decodes each JSON request and answers with the two
frames of a scan (bench/baselines.py). laneserver's decided shape (STYLE.md,
SPEC.md) adds, on every change, before any rule runs:

* ``lane``: the session asks the lane's actor (laneserver's own runtime: a bounded
  mailbox, ``Address.ask``, a ``ReplySlot``) and waits for its answer;
* ``journal``: the lane asks the journal actor in turn (a mailbox of the journal's
  size, 256), which takes the units queued (up to 256, as the journal does), writes
  them in one durable transaction (SQLite, WAL, ``synchronous=FULL``) in its worker
  thread (``trio.to_thread.run_sync`` behind a ``CapacityLimiter(1)``) and answers each.

This runs the three shapes one after the other as separate processes, with the same
connections and pacing as the ``lanes64`` scenario (64 busy + 32 paced), and prints
each one's CPU per request beside the protocol floor's. The skeletons do nothing else:
no rules, no ticket, no logging, a 200 B row per unit. Whatever they cost above the
floor, laneserver pays too, on top of its own work. The three shapes run in turn,
``--rounds`` times (default 3), and the table gives the medians: the rounds spread a
change of the machine's load over all three. Bounded: ``--seconds`` of load per shape
and round (default 20), a hard deadline in ``echo_load``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from statistics import median
from pathlib import Path

import trio

from bench.baselines import EchoStats, measure_process, protocol_frames, serve_app
from bench.report import fmt
from laneserver.actors.journal import MAILBOX as JOURNAL_MAILBOX
from laneserver.actors.journal import MAX_BATCH

SHAPES = ("protocol", "lane", "journal")
ROW = "y" * 200     # one unit's row


def _write(db: sqlite3.Connection, count: int) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.executemany("INSERT INTO units(data) VALUES (?)", ((ROW,) for _ in range(count)))
    db.execute("COMMIT")


async def journal_actor(inbox: trio.MemoryReceiveChannel, db: sqlite3.Connection) -> None:
    """Batches what is queued, writes it durably in one thread, answers each unit."""
    limiter = trio.CapacityLimiter(1)
    while True:
        try:
            batch = [await inbox.receive()]
        except (trio.EndOfChannel, trio.ClosedResourceError):
            return
        while len(batch) < MAX_BATCH:
            try:
                batch.append(inbox.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        await trio.to_thread.run_sync(_write, db, len(batch), limiter=limiter)
        for envelope in batch:
            envelope.reply(True)
            envelope.done()


def journal_mailbox():
    """The journal actor's mailbox, as large as the server's (laneserver/actors/journal.py
    ``MAILBOX``): its address and its receiving end."""
    from laneserver.actors.runtime import Address

    send, receive = trio.open_memory_channel(JOURNAL_MAILBOX)
    return Address("journal", send), receive


async def lane_actor(inbox: trio.MemoryReceiveChannel, journal) -> None:
    """Answers each command, after the journal's answer when there is a journal."""
    async for envelope in inbox:
        with envelope:
            envelope.reply(await journal.ask(envelope.command) if journal is not None else True)


def build_app(shape: str, frame_bytes: int, journal):
    """The protocol floor's websocket route, with a lane actor per connection asked
    for each request (``lane``, ``journal``)."""
    import msgspec
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute

    from laneserver.actors.runtime import MAILBOX_SIZE, Address

    decode = msgspec.json.Decoder(dict).decode
    reply_to, event = protocol_frames(frame_bytes, msgspec.json.Encoder().encode)

    async def session(websocket) -> None:
        await websocket.accept()
        send, receive = trio.open_memory_channel(MAILBOX_SIZE)
        lane = Address("lane", send)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(lane_actor, receive, journal)
            try:
                while True:
                    message = await websocket.receive()
                    if message["type"] == "websocket.disconnect":
                        return
                    request = decode(message.get("text") or "{}")
                    await lane.ask(request)
                    await websocket.send_text(reply_to(request.get("id")))
                    await websocket.send_text(event)
            finally:
                lane.close()

    async def healthz(request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[WebSocketRoute("/ws", session), Route("/healthz", healthz)])


def open_journal_db(data: Path) -> sqlite3.Connection:
    """The journal shape's database: a fresh file each start (the same size every run),
    WAL, ``synchronous=FULL``."""
    for leftover in data.glob("design-floor.sqlite3*"):
        leftover.unlink()
    db = sqlite3.connect(data / "design-floor.sqlite3", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE units (id INTEGER PRIMARY KEY, data TEXT NOT NULL)")
    return db


async def serve(shape: str, frame_bytes: int, db: sqlite3.Connection | None) -> None:
    """Serve ``shape`` until SIGTERM; ``db``: the journal shape's database."""
    from bench.baselines import build_echo_app

    if shape == "protocol":
        await serve_app(build_echo_app("protocol", frame_bytes))
        return
    journal = None
    async with trio.open_nursery() as nursery:
        if db is not None:
            journal, receive = journal_mailbox()
            nursery.start_soon(journal_actor, receive, db)
        await serve_app(build_app(shape, frame_bytes, journal))
        nursery.cancel_scope.cancel()


def measure(workdir: Path, shape: str, *, busy: int = 64, paced: int = 32, think: tuple[float, float] = (0.1, 0.5),
            frame_bytes: int, seconds: float, seed: int) -> EchoStats:
    """Start a process serving ``shape``, drive it as ``echo_load`` does the protocol
    floor (``busy`` back-to-back connections, ``paced`` ones waiting ``think`` s), stop it."""
    cmd = [sys.executable, "-m", "bench.design_floor", "serve", "--shape", shape, "--frame-bytes",
           str(frame_bytes), "--data", str(workdir)]
    return measure_process(cmd, workdir / f"design-{shape}-{busy}-{paced}.log", busy=busy, paced=paced, think=think,
                           duration=seconds, max_round_trips=2_000_000, seed=seed, shape="protocol",
                           payload_bytes=frame_bytes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.design_floor", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="measure the three shapes and print the table (the default)")
    for p in (parser, run):
        p.add_argument("--seconds", type=float, default=20.0, help="seconds of load per shape (default 20)")
        p.add_argument("--frame-bytes", type=int, default=1763,
                       help="each frame back (default 1763 B: the server's in a lanes64 run)")
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--rounds", type=int, default=3, help="rounds of the three shapes in turn (default 3)")
        p.add_argument("--busy", type=int, default=64, help="connections sending back to back (default 64)")
        p.add_argument("--paced", type=int, default=32, help="connections waiting 0.1–0.5 s between requests (default 32)")
    serve_cmd = sub.add_parser("serve", help="serve one shape on 127.0.0.1 until SIGTERM")
    serve_cmd.add_argument("--shape", choices=SHAPES, required=True)
    serve_cmd.add_argument("--frame-bytes", type=int, default=1763)
    serve_cmd.add_argument("--data", type=Path, required=True, help="folder of the journal shape's database")
    args = parser.parse_args(argv)
    if not 1 <= args.frame_bytes <= 1 << 20:
        parser.error("--frame-bytes must be between 1 and 1048576")
    if args.command == "serve":
        from laneserver.cli import GIL_SWITCH_INTERVAL
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)  # as laneserver serve sets it
        db = open_journal_db(args.data) if args.shape == "journal" else None
        trio.run(serve, args.shape, args.frame_bytes, db)
        return 0
    if not 1 <= args.seconds <= 600:
        parser.error("--seconds must be between 1 and 600")
    if not (1 <= args.busy <= 1000 and 0 <= args.paced <= 1000):
        parser.error("--busy must be between 1 and 1000, --paced between 0 and 1000")
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    rounds: list[dict[str, EchoStats]] = []
    with tempfile.TemporaryDirectory(prefix="design-floor-") as tmp:
        for number in range(1, args.rounds + 1):
            results: dict[str, EchoStats] = {}
            for shape in SHAPES:  # the shapes in turn in each round: a change of load falls on all three
                print(f"round {number}/{args.rounds}, {shape}: {args.busy} busy + {args.paced} paced connections, "
                      f"{args.seconds:.0f} s", flush=True)
                results[shape] = measure(Path(tmp), shape, busy=args.busy, paced=args.paced,
                                         frame_bytes=args.frame_bytes, seconds=args.seconds, seed=args.seed)
            rounds.append(results)
    print(table(rounds))
    return 0


def table(rounds: list[dict[str, EchoStats]]) -> str:
    """Each shape's medians over the rounds, its ratio to the protocol floor of the same
    round (the median of those), and each round's ratio."""
    lines = ["", "| shape | requests/s | CPU per request (ms) | × the protocol floor | each round |",
             "|---|---|---|---|---|"]
    for shape in SHAPES:
        ratios = [r[shape].cpu_per_round_trip / r["protocol"].cpu_per_round_trip for r in rounds]
        lines.append(f"| {shape} | {median(r[shape].per_second for r in rounds):.0f} | "
                     f"{fmt(median(r[shape].cpu_per_round_trip for r in rounds) * 1000)} | {median(ratios):.2f} | "
                     f"{' '.join(f'{ratio:.2f}' for ratio in ratios)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
