"""The baselines every figure is compared to, measured in the same run on the same machine.

* A websocket echo on the server's own stack (Hypercorn's trio worker + Starlette),
  run as its own process on 127.0.0.1: what the transport alone costs per round trip.
  ``python -m bench.baselines echo-serve`` runs it; ``echo_load`` drives it with the
  same number of connections, and the same pacing, as the scenario it is compared to.
* The same echo shaped like the protocol (``--shape protocol``): each JSON request is
  decoded and answered with the two frames laneserver sends for a scan, a reply and a
  ``ticket`` event of the size the server's own frames had in the run: what any server
  speaking this protocol on this stack spends before doing any work (the floor).
* SQLite in WAL mode with ``synchronous=FULL``: single-row commits on the same
  filesystem as the server's data folder: what one durable commit costs.
"""

from __future__ import annotations

import argparse
import random
import signal
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import trio

# --- the echo process -------------------------------------------------------------------


def protocol_frames(frame_bytes: int, encode: Callable[[object], bytes]) -> tuple[Callable[[object], str], str]:
    """The frames of a scan, each padded to ``frame_bytes``: a function making the reply
    to a request id, and the ``ticket`` event. Everything but the id is built here, once."""
    head, middle, end = '{"type":"ok","re":', ',"lane":"1","ticket":"', '"}'
    padding = "x" * max(frame_bytes - len(head + middle + end), 0)  # the reply's padding less its id's length

    def reply(request_id: object) -> str:
        rid = encode(request_id).decode()
        return head + rid + middle + padding[len(rid):] + end

    event = '{"type":"ticket","lane":"1","ticket":"'
    return reply, event + "x" * max(frame_bytes - len(event + end), 0) + end


def build_echo_app(shape: str = "plain", frame_bytes: int = 2000):
    """A Starlette app with one websocket route: ``plain`` sends every text frame back;
    ``protocol`` decodes each as a JSON request and answers with a reply and an event
    of ``frame_bytes`` each (``protocol_frames``, built once)."""
    import msgspec
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route, WebSocketRoute

    decode = msgspec.json.Decoder(dict).decode
    reply_to, event = protocol_frames(frame_bytes, msgspec.json.Encoder().encode)

    async def echo(websocket) -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await websocket.send_bytes(message.get("bytes") or b"")
            elif shape == "protocol":
                await websocket.send_text(reply_to(decode(text).get("id")))
                await websocket.send_text(event)
            else:
                await websocket.send_text(text)

    async def healthz(request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[WebSocketRoute("/ws", echo), Route("/healthz", healthz)])


async def serve_echo(host: str = "127.0.0.1", port: int = 0, shape: str = "plain", frame_bytes: int = 2000) -> None:
    """Serve the echo app of ``shape`` (``serve_app``)."""
    await serve_app(build_echo_app(shape, frame_bytes), host, port)


async def serve_app(app, host: str = "127.0.0.1", port: int = 0) -> None:
    """Serve ``app`` as laneserver serves its own (same Hypercorn settings) until
    SIGTERM or SIGINT; prints ``echo ready: URL`` once listening."""
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.graceful_timeout = 5.0
    config.websocket_max_message_size = 1 << 20
    config.accesslog = None
    config.errorlog = None
    stop = trio.Event()

    async def stop_on_signal() -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                stop.set()
                return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(stop_on_signal)
        binds = await nursery.start(partial(serve, app, config,
                                            shutdown_trigger=stop.wait))
        print(f"echo ready: {binds[0]}", flush=True)


# --- the echo client ----------------------------------------------------------------------


@dataclass
class EchoStats:
    rtts: list[float]          # seconds, one per round trip
    wall: float                # seconds of the measured window
    connections: int
    payload_bytes: int
    cpu_seconds: float = float("nan")    # of the echo process, over the window
    shape: str = "plain"                 # or "protocol": a JSON request, two frames back
    hwm_kib: int = 0
    rss_kib: int = 0

    @property
    def round_trips(self) -> int:
        return len(self.rtts)

    @property
    def per_second(self) -> float:
        return self.round_trips / self.wall if self.wall > 0 else float("nan")

    @property
    def cpu_per_round_trip(self) -> float:
        return self.cpu_seconds / self.round_trips if self.round_trips else float("nan")


async def echo_load(url: str, *, busy: int, paced: int = 0, think: tuple[float, float] = (0.1, 0.5),
                    duration: float, max_round_trips: int, payload_bytes: int = 200, seed: int = 1,
                    pid: int | None = None, shape: str = "plain") -> EchoStats:
    """``busy`` connections send back to back, ``paced`` ones wait ``think`` seconds
    (uniform) between round trips, like the tills and the PDAs of a scenario.

    Bounded: the window ends after ``duration`` seconds or ``max_round_trips`` round
    trips, whichever comes first; a hard deadline of ``duration`` + 60 s covers it all.

    Args:
        url: the echo's websocket URL (``ws://127.0.0.1:PORT/ws``).
        pid: the echo process, whose CPU seconds are read at the window's edges.
        shape: ``protocol``: each round trip is a ``scan`` request and the two frames
            it gets back (the echo process must serve that shape too).
    """
    from trio_websocket import open_websocket_url

    from bench.server import cpu_seconds, memory

    rtts: list[float] = []
    go, stop = trio.Event(), trio.Event()
    total = busy + paced
    payload = "x" * payload_bytes
    frames_back = 2 if shape == "protocol" else 1

    async def connection(index: int, pace: tuple[float, float] | None, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        rng = random.Random(f"{seed}:echo:{index}")
        async with open_websocket_url(url) as ws:
            task_status.started()
            await go.wait()
            while not stop.is_set():
                if pace is not None:
                    with trio.move_on_after(rng.uniform(*pace)):
                        await stop.wait()
                    if stop.is_set():
                        break
                message = payload if shape != "protocol" else (
                    f'{{"type":"scan","id":{len(rtts)},"code":"3000000000014"}}')
                sent = time.perf_counter()
                await ws.send_message(message)
                for _ in range(frames_back):
                    await ws.get_message()
                rtts.append(time.perf_counter() - sent)
                if len(rtts) >= max_round_trips:
                    stop.set()

    wall = float("nan")
    cpu_before = cpu_after = float("nan")
    with trio.move_on_after(duration + 60):
        async with trio.open_nursery() as nursery:
            with trio.fail_after(60):
                for i in range(total):  # one at a time: connecting is not what is measured
                    await nursery.start(connection, i, None if i < busy else think)
            cpu_before = cpu_seconds(pid) if pid else float("nan")
            started = time.perf_counter()
            go.set()
            with trio.move_on_after(duration):
                await stop.wait()
            stop.set()
            wall = time.perf_counter() - started
            cpu_after = cpu_seconds(pid) if pid else float("nan")
    stats = EchoStats(rtts=rtts, wall=wall, connections=total, payload_bytes=payload_bytes,
                      cpu_seconds=cpu_after - cpu_before, shape=shape)
    if pid:
        mem = memory(pid)
        stats.hwm_kib, stats.rss_kib = mem.hwm_kib, mem.rss_kib
    return stats


# A served echo (or design floor, bench/design_floor.py) says this once it listens.
ECHO_READY = r"echo ready:\s+(http://\S+)"


def measure_process(cmd: list[str], log_path: Path, **load: Any) -> EchoStats:
    """Start ``cmd`` (a process printing ``echo ready: URL`` once listening), drive it with
    ``echo_load(**load)``, read its CPU and memory over the window, stop it."""
    import re

    from bench.server import UrlProcess

    with UrlProcess(cmd, re.compile(ECHO_READY), log_path).start() as served:
        return trio.run(partial(echo_load, served.ws_url, pid=served.pid, **load))


def measure_echo(workdir: Path, *, busy: int, paced: int = 0, think: tuple[float, float] = (0.1, 0.5),
                 duration: float, max_round_trips: int, seed: int, shape: str = "plain",
                 frame_bytes: int = 2000) -> EchoStats:
    """Start a fresh echo process (of ``shape``), drive it, read its CPU and memory, stop it."""
    sizes = {"payload_bytes": frame_bytes} if shape == "protocol" else {}  # the frames back, in that shape
    cmd = [sys.executable, "-m", "bench.baselines", "echo-serve", "--shape", shape, "--frame-bytes", str(frame_bytes)]
    return measure_process(cmd, workdir / f"echo-{shape}-{busy}-{paced}.log", busy=busy, paced=paced, think=think,
                           duration=duration, max_round_trips=max_round_trips, seed=seed, shape=shape, **sizes)


# --- SQLite commits -------------------------------------------------------------------------


@dataclass
class CommitStats:
    samples: list[float]   # seconds per commit (BEGIN IMMEDIATE … INSERT … COMMIT)
    wall: float

    @property
    def per_second(self) -> float:
        return len(self.samples) / self.wall if self.wall > 0 else float("nan")


def sqlite_commits(directory: Path, *, count: int, seconds: float) -> CommitStats:
    """Single-row durable commits, WAL + ``synchronous=FULL``, in ``directory``.

    Bounded by ``count`` commits and ``seconds``; the file is removed afterwards.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "commit-baseline.sqlite3"
    for leftover in directory.glob("commit-baseline.sqlite3*"):
        leftover.unlink()
    db = sqlite3.connect(path, isolation_level=None)
    samples: list[float] = []
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, at TEXT NOT NULL, data TEXT NOT NULL)")
        data = "y" * 200
        started = time.perf_counter()
        deadline = started + seconds
        for i in range(count):
            t0 = time.perf_counter()
            if t0 >= deadline:
                break
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO rows(at, data) VALUES (?, ?)", (str(i), data))
            db.execute("COMMIT")
            samples.append(time.perf_counter() - t0)
        wall = time.perf_counter() - started
    finally:
        db.close()
        for leftover in directory.glob("commit-baseline.sqlite3*"):
            leftover.unlink()
    return CommitStats(samples=samples, wall=wall)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baselines")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("echo-serve", help="run the websocket echo on 127.0.0.1 until SIGTERM")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--shape", choices=("plain", "protocol"), default="plain",
                       help="plain: frames sent back; protocol: a reply and an event per JSON request")
    serve.add_argument("--frame-bytes", type=int, default=2000, help="protocol: the size of each frame back")
    args = parser.parse_args(argv)
    if args.command == "echo-serve":
        trio.run(partial(serve_echo, "127.0.0.1", args.port, args.shape, args.frame_bytes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
