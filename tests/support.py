"""Test support: a real server process on a loopback port, a real websocket client.

``LiveServer`` runs ``python -m laneserver serve`` on a data folder, reads the
URL it prints, and can kill it (-9) and start it again on the same port and data.
``WsClient`` speaks the protocol over trio-websocket: ``await c.call("scan", code=...)``
returns the reply for that request's id; pushed events are collected in ``c.events``.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import trio
from trio_websocket import open_websocket_url

REPO = Path(__file__).resolve().parent.parent
DEMO_SELLER = ("marie", "1234")


class LiveServer:
    def __init__(self, data: Path, *, config: Path | None = None, env: dict[str, str] | None = None,
                 serve_args: tuple[str, ...] = ()) -> None:
        self.data = data
        self.config = config
        self.serve_args = serve_args  # e.g. ("--log-level", "debug")
        self.env = {**os.environ, **(env or {})}
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.output: list[str] = []

    def _base_args(self) -> list[str]:
        args = ["--data", str(self.data)]
        if self.config is not None:
            args += ["--config", str(self.config)]
        return args

    def start(self, timeout: float = 30.0) -> "LiveServer":
        cmd = [sys.executable, "-m", "laneserver", "serve", *self._base_args(), "--port", str(self.port),
               *self.serve_args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=REPO, env=self.env)
        ready = threading.Event()
        lines: list[str] = self.output

        def pump_stdout(stream) -> None:
            for line in stream:
                lines.append(line.rstrip("\n"))
                match = re.search(r"till page:\s+(https?://\S+)/till/", line)
                if match:
                    self.url = match.group(1)
                    ready.set()

        def pump_stderr(stream) -> None:
            for line in stream:
                lines.append(line.rstrip("\n"))

        threading.Thread(target=pump_stdout, args=(self.proc.stdout,), daemon=True).start()
        threading.Thread(target=pump_stderr, args=(self.proc.stderr,), daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("server did not start:\n" + "\n".join(lines[-40:]))
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    @property
    def ws_url(self) -> str:
        return self.url.replace("http", "ws", 1) + "/ws"  # https → wss

    def kill(self) -> None:
        """kill -9: no shutdown, no flush."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, as systemd stops it; returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise

    def restart(self) -> "LiveServer":
        return self.start()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "laneserver", *args, *self._base_args()]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=self.env, timeout=60)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result

    def pair(self, kind: str, lane: str | None = None) -> str:
        args = ["pair", kind] + (["--lane", lane] if lane else [])
        return self.cli(*args).stdout.strip().splitlines()[-1]


class WsClient:
    def __init__(self, ws) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._replies: dict[Any, dict[str, Any]] = {}
        self._new = trio.Event()

    async def _pump(self) -> None:
        async for raw in _messages(self.ws):
            frame = json.loads(raw)
            if "re" in frame or frame.get("type") == "error":
                self._replies[frame.get("re")] = frame
            else:
                self.events.append(frame)
            self._new.set()
            self._new = trio.Event()

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send_message(text)

    async def reply_to(self, request_id: Any) -> dict[str, Any]:
        while request_id not in self._replies:
            await self._new.wait()
        return self._replies.pop(request_id)

    async def next_unaddressed_error(self) -> dict[str, Any]:
        while None not in self._replies:
            await self._new.wait()
        return self._replies.pop(None)

    async def call(self, verb: str, **fields: Any) -> dict[str, Any]:
        request_id = fields.pop("id", None) or f"r{next(self._ids)}"
        await self.ws.send_message(json.dumps({"type": verb, "id": request_id, **fields}))
        return await self.reply_to(request_id)

    async def ok(self, verb: str, **fields: Any) -> dict[str, Any]:
        reply = await self.call(verb, **fields)
        assert reply["type"] == "ok", reply
        return reply

    async def wait_event(self, predicate) -> dict[str, Any]:
        while True:
            for event in self.events:
                if predicate(event):
                    return event
            await self._new.wait()


async def _messages(ws):
    from trio_websocket import ConnectionClosed

    while True:
        try:
            yield await ws.get_message()
        except ConnectionClosed:
            return


@asynccontextmanager
async def connect(url: str, token: str | None = None, *, seller: tuple[str, str] | None = DEMO_SELLER):
    """``async with connect(server.ws_url, token) as client`` — hello (and sign_in) done."""
    async with open_websocket_url(url) as ws:
        async with trio.open_nursery() as nursery:
            client = WsClient(ws)
            nursery.start_soon(client._pump)
            if token is not None:
                hello = await client.ok("hello", token=token)
                client.hello = hello
                if seller is not None and hello.get("seller") != seller[0]:
                    await client.ok("sign_in", seller=seller[0], pin=seller[1])
            yield client
            nursery.cancel_scope.cancel()


def demo_articles() -> list[dict[str, str]]:
    import csv

    with open(REPO / "laneserver" / "demo" / "catalog.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def until(check, *, interval: float = 0.05):
    """Run ``check()`` (a plain function: a file or a log another process writes) in a
    worker thread until it returns something true; that value is returned. The
    caller's ``trio.fail_after`` bounds it."""
    while not (found := await trio.to_thread.run_sync(check)):  # noqa: ASYNC110 (remote state)
        await trio.sleep(interval)
    return found


async def eventually(probe, expected, *, interval: float = 0.01) -> None:
    """Ask ``await probe()`` again until it returns ``expected``.

    The state lives in the server process, so there is no event to wait on here:
    polling a real request is the honest way. The caller's ``trio.fail_after`` bounds it.
    """
    while await probe() != expected:  # noqa: ASYNC110 (remote state: see above)
        await trio.sleep(interval)
