"""``python -m bench.slow_reader``: does a session that never reads slow its lane?

One server process (one lane, the demo catalog), one cashier's till scanning, in
three phases measured in the same run:

  alone      the cashier's till is the lane's only session;
  reader     a second session on the same lane that reads every frame;
  stalled    a second session on the same lane that said hello and never reads
             again: a raw socket with a small receive buffer that did the
             websocket handshake by hand (wsproto), so the server's sends to it
             back up at once.

Each phase is ``--rounds`` rounds of ``--scans`` scans then ``cancel_ticket`` (so the
ticket, and the events it sends, stay the same size in every phase). A scan's time
is from sending it to its reply. Prints p50/p95 per phase and, for the stalled
session, whether the server closed it. Bounded: every wait is under a deadline.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import trio
from trio_websocket import open_websocket_url
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Message, Request

from bench.server import cpu_seconds, demo_articles, laneserver_process, prepare_shop, scannable
from bench.stats import p50, percentile

DEADLINE = 120.0


class Till:
    """A till's websocket: ``call`` sends a request and waits for its reply, reading
    (and counting) the events in between."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events = 0

    async def call(self, verb: str, **fields) -> dict:
        request_id = next(self.ids)
        await self.ws.send_message(json.dumps({"type": verb, "id": request_id, **fields}))
        while True:
            frame = json.loads(await self.ws.get_message())
            if frame.get("re") == request_id or (frame.get("type") == "error" and frame.get("re") is None):
                return frame
            self.events += 1


async def reading_session(url: str, token: str, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """A second session on the lane that reads everything it is sent, until cancelled."""
    async with open_websocket_url(url) as ws:
        till = Till(ws)
        reply = await till.call("hello", token=token)
        assert reply["type"] == "ok", reply
        task_status.started()
        while True:
            await ws.get_message()


def stalled_session(host: str, port: int, token: str, receive_buffer: int) -> socket.socket:
    """A websocket that says hello and never reads again (blocking socket; call it in
    a thread). A small receive buffer makes the server's sends back up at once; 0
    keeps the system's default (the kernel then takes some hundreds of kB first)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(10)
    sock.connect((host, port))
    ws = WSConnection(ConnectionType.CLIENT)
    sock.sendall(ws.send(Request(host=f"{host}:{port}", target="/ws")))
    while True:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError("the server closed the handshake")
        ws.receive_data(data)
        if any(isinstance(event, AcceptConnection) for event in ws.events()):
            break
    sock.sendall(ws.send(Message(data=json.dumps({"type": "hello", "id": 1, "token": token}))))
    return sock


def sessions_open(url: str) -> int:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("laneserver_sessions_open "):
                return int(float(line.split()[-1]))
    raise RuntimeError("no laneserver_sessions_open in /metrics")


def seconds_until_closed(url: str, limit: float) -> float | None:
    """Seconds until the server has ended the stalled session (its /metrics count only
    the cashier's session then; the kernel ends the connection without telling the
    peer, and reading the socket would unstick the server), or None after ``limit``."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if sessions_open(url) <= 1:
            return time.monotonic() - started
        time.sleep(0.2)
    return None


async def scan_rounds(till: Till, codes: list[str], rounds: int, scans: int) -> list[float]:
    times: list[float] = []
    for _ in range(rounds):
        for code in itertools.islice(itertools.cycle(codes), scans):
            started = time.perf_counter()
            reply = await till.call("scan", code=code)
            times.append(time.perf_counter() - started)
            assert reply["type"] == "ok", reply
        reply = await till.call("cancel_ticket")
        assert reply["type"] == "ok", reply
    return times


async def measure(url: str, tokens: list[str], seller: tuple[str, str], codes: list[str], *, rounds: int,
                  scans: int, receive_buffer: int, pid: int, close_limit: float,
                  ) -> tuple[dict[str, list[float]], dict[str, float], float | None, socket.socket]:
    host, port = url.split("//", 1)[1].split(":")
    ws_url = url.replace("http://", "ws://") + "/ws"
    results: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}

    async def phase(name: str) -> None:
        before = cpu_seconds(pid)
        results[name] = await scan_rounds(till, codes, rounds, scans)
        cpu[name] = (cpu_seconds(pid) - before) / len(results[name])
    with trio.fail_after(DEADLINE + close_limit):
        async with open_websocket_url(ws_url) as ws:
            till = Till(ws)
            assert (await till.call("hello", token=tokens[0]))["type"] == "ok"
            reply = await till.call("sign_in", seller=seller[0], pin=seller[1])
            assert reply["type"] == "ok", reply
            await scan_rounds(till, codes, 1, scans)  # warm-up
            await phase("alone")
            async with trio.open_nursery() as nursery:
                await nursery.start(reading_session, ws_url, tokens[1])
                await phase("reader")
                nursery.cancel_scope.cancel()
            stalled = await trio.to_thread.run_sync(stalled_session, host, int(port), tokens[1], receive_buffer)
            await phase("stalled")
            await phase("stalled, later")
            closed = await trio.to_thread.run_sync(seconds_until_closed, url, close_limit) if close_limit else None
            await phase("after")
    return results, cpu, closed, stalled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.slow_reader", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="rounds per phase (default 10)")
    parser.add_argument("--scans", type=int, default=20, help="scans per round, then cancel_ticket (default 20)")
    parser.add_argument("--close-limit", type=float, default=40.0,
                        help="seconds to wait, after the stalled phases, for the server to close the stalled "
                             "session (default 40; the server's send deadline is 20); 0: stop the server at once")
    parser.add_argument("--receive-buffer", type=int, default=4096,
                        help="SO_RCVBUF of the stalled socket in bytes, 0: the system's default (default 4096)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="laneserver-slow-reader-") as tmp:
        root = Path(tmp)
        shop = prepare_shop(root, lanes=1, pdas=0, sellers=1)
        from laneserver.clock import SystemClock
        from laneserver.store import admin
        from laneserver.store.schema import DB_NAME, connect

        db = connect(shop.data / DB_NAME)
        try:  # a second till on lane 1 for the second session
            second = admin.pair_device(db, "till", "1", SystemClock().now(), ["1"])[1]
        finally:
            db.close()
        codes, _ = scannable(demo_articles())
        server = laneserver_process(shop.data, shop.config, root / "server.log").start()
        stalled = None
        try:
            results, cpu, closed, stalled = trio.run(lambda: measure(
                server.url, [shop.till_tokens["1"], second], shop.sellers[0], codes, rounds=args.rounds,
                scans=args.scans, receive_buffer=args.receive_buffer, pid=server.pid, close_limit=args.close_limit))
        finally:
            # Stopped while the stalled socket is still open (and, with --close-limit 0,
            # its session still stuck in a send): SIGTERM, SIGKILL after 30 s.
            stopping = time.perf_counter()
            server.stop()
            stop_seconds = time.perf_counter() - stopping
            if stalled is not None:
                stalled.close()
    print(f"{args.rounds} rounds × {args.scans} scans per phase, one lane; a scan: send → reply (ms); "
          f"stalled socket's receive buffer: {args.receive_buffer or 'default'}")
    print("| phase | scans | p50 | p95 | max | server CPU per scan |")
    print("|---|---|---|---|---|---|")
    for phase, times in results.items():
        print(f"| {phase} | {len(times)} | {p50(times) * 1000:.2f} | {percentile(times, 95) * 1000:.2f} "
              f"| {max(times) * 1000:.2f} | {cpu[phase] * 1000:.2f} |")
    if args.close_limit:
        print("stalled session closed by the server: "
              + (f"{closed:.1f} s after the stalled phases" if closed is not None
                 else f"no, not within {args.close_limit:g} s"))
    print(f"server stop (SIGTERM to exit; SIGKILL at 30 s): {stop_seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
