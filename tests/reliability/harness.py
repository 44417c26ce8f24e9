"""Tools of the reliability harness: database checks, a load driver, a cutting proxy,
and a portal that lets synchronous Hypothesis tests use one live websocket.

Everything here talks to a real server process (``tests.support.LiveServer``) on
loopback only, and every loop is bounded in count or in time.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from tests.support import DEMO_SELLER, WsClient, demo_articles

DB_NAME = "laneserver.sqlite3"
ANCHOR_NAME = "fiscal-anchor.json"
FISCAL_TRIGGERS = ("sales_no_update", "sales_no_delete", "payments_no_update", "payments_no_delete",
                   "money_in_no_update", "money_in_no_delete")


# --- the database, read from outside ---------------------------------------------------


def open_db(data: Path) -> sqlite3.Connection:
    """A plain connection to a server's database (WAL: it never blocks the server)."""
    db = sqlite3.connect(data / DB_NAME, timeout=10.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout=10000")
    return db


SNAPSHOT_TABLES = {
    "sales": "SELECT * FROM sales ORDER BY number",
    "payments": "SELECT * FROM payments ORDER BY number",
    "lane_states": "SELECT * FROM lane_states ORDER BY lane",
    "lane_changes": "SELECT * FROM lane_changes ORDER BY lane, seq",
    "stock_levels": "SELECT * FROM stock_levels ORDER BY stock_point, article",
    "stock_movements": "SELECT count(*), max(seq) FROM stock_movements",
    "replies": "SELECT device, key, actor, at, reply FROM replies ORDER BY device, key",
}


def snapshot(data: Path) -> dict[str, list[tuple]]:
    """Rows (counts and content) of the tables a request could change, in one read."""
    db = open_db(data)
    try:
        db.execute("BEGIN")
        rows = {name: db.execute(sql).fetchall() for name, sql in SNAPSHOT_TABLES.items()}
        db.execute("ROLLBACK")
        return rows
    finally:
        db.close()


def stock_mismatches(db: sqlite3.Connection) -> list[str]:
    """Stock levels that are not the sum of their movements, and sales whose lines
    were not taken from stock exactly once."""
    problems: list[str] = []
    moved: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for point, article, delta in db.execute("SELECT stock_point, article, delta FROM stock_movements"):
        moved[(point, article)] += Decimal(delta)
    levels = {(p, a): Decimal(r) for p, a, r in db.execute("SELECT stock_point, article, real FROM stock_levels")}
    for key in sorted(set(moved) | set(levels)):
        if levels.get(key) != moved.get(key, Decimal(0)):
            problems.append(f"stock {key}: real {levels.get(key)} but movements sum to {moved.get(key)}")
    sold: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for number, lines in db.execute("SELECT number, lines FROM sales"):
        for line in json.loads(lines):
            sold[(number, line["article"])] += Decimal(line["qty"])
    taken: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for ref, article, delta in db.execute("SELECT ref, article, delta FROM stock_movements WHERE reason='sale'"):
        taken[(int(ref.split(":", 1)[1]), article)] -= Decimal(delta)
    for key in sorted(set(sold) | set(taken)):
        if sold.get(key) != taken.get(key):
            problems.append(f"sale {key[0]} article {key[1]}: sold {sold.get(key)} but stock took {taken.get(key)}")
    return problems


def tamper(data: Path, *statements: str | tuple[str, tuple]) -> None:
    """Run SQL on a stopped server's database with the fiscal triggers dropped."""
    db = sqlite3.connect(data / DB_NAME, isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute("BEGIN")
        for trigger in FISCAL_TRIGGERS:
            db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in statements:
            sql, args = (statement, ()) if isinstance(statement, str) else statement
            db.execute(sql, args)
        db.execute("COMMIT")
    finally:
        db.close()


# --- catalog facts for the drivers -----------------------------------------------------


def unique_barcodes() -> list[str]:
    """Barcodes of active articles that name exactly one article, packs excluded."""
    owners: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in demo_articles():
        for code in filter(None, row["barcodes"].split("|")):
            owners[code.split("*")[0]].append((row["id"], row["status"]))
    return sorted(code for code, rows in owners.items()
                  if len(rows) == 1 and rows[0][1] == "active" and "*" not in code)


def known_codes() -> set[str]:
    """Every string the catalog resolves (barcodes, supplier refs, ids), upper-cased."""
    codes: set[str] = set()
    for row in demo_articles():
        codes.add(row["id"].upper())
        codes.update(c.split("*")[0].upper() for c in row["barcodes"].split("|") if c)
        codes.update(c.upper() for c in row.get("supplier_refs", "").split("|") if c)
    return codes


# --- the load driver ---------------------------------------------------------------------


@dataclass
class Finished:
    lane: str
    key: str
    number: int
    total: str
    change: str


@dataclass
class Pending:
    """A keyed request sent (or about to be) whose reply was not read yet."""

    verb: str
    fields: dict[str, Any]
    key: str
    before: dict[str, Any] | None  # the acknowledged open ticket when it was sent


class Unexpected(AssertionError):
    pass


@dataclass
class LaneModel:
    """What the acknowledged replies say about one lane, and its driver's progress.

    ``ticket`` is the open ticket of the last acknowledged reply that carried one
    (None until a reply or a ``ticket`` request told it). ``held`` maps each held
    id to what is known of it: from a ``hold`` reply (the ticket held) or, more
    exactly, from a ``held`` reply (``held_at`` too).
    """

    lane: str
    token: str
    ticket: dict[str, Any] | None = None
    held: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: Pending | None = None
    finished: list[Finished] = field(default_factory=list)
    requests: int = 0
    seq: int = 0

    def next_key(self, tag: str) -> str:
        self.seq += 1
        return f"{tag}-lane{self.lane}-{self.seq}"


EMPTY_TICKET = {"seller": None, "customer": None, "lines": [], "total": "0.00", "paid": "0.00",
                "balance": "0.00", "change": "0.00", "payments": []}


def apply_reply(model: LaneModel, pending: Pending, reply: dict[str, Any]) -> None:
    """Update the model with the acknowledged reply to ``pending``."""
    if reply["type"] != "ok":
        raise Unexpected(f"lane {model.lane}: {pending.verb} {pending.fields} refused: {reply}")
    match pending.verb:
        case "finish":
            model.finished.append(Finished(model.lane, pending.key, reply["number"], reply["total"], reply["change"]))
            model.ticket = reply["ticket"]  # the new empty ticket, with its rev
        case "hold":
            assert pending.before is not None
            model.held[reply["held"]] = {"held": reply["held"], "seller": pending.before["seller"],
                                         "total": pending.before["total"], "lines": pending.before["lines"]}
            model.ticket = reply["ticket"]
        case "recall":
            model.held.pop(pending.fields["held"], None)
            model.ticket = reply["ticket"]
        case _:
            model.ticket = reply["ticket"]


def next_request(model: LaneModel, rng: random.Random, codes: list[str], tag: str) -> Pending:
    """The driver's next step, chosen from the acknowledged state of its lane."""
    ticket = model.ticket or EMPTY_TICKET
    key = model.next_key(tag)

    def make(verb: str, **fields: Any) -> Pending:
        return Pending(verb, fields, key, ticket)

    if not ticket["lines"]:
        if model.held and rng.random() < 0.35:
            return make("recall", held=rng.choice(sorted(model.held)))
        return make("scan", code=rng.choice(codes), qty=rng.choice([1, 1, 1, 2, 3, "2"]))
    balance = Decimal(ticket["balance"])
    if not ticket["payments"]:
        if len(ticket["lines"]) < rng.randint(1, 5) and rng.random() < 0.6:  # 1 to 5 articles
            return make("scan", code=rng.choice(codes), qty=rng.choice([1, 1, 2]))
        roll = rng.random()
        if roll < 0.12 and len(model.held) < 3:
            return make("hold")
        # A deposit line (consigne) follows its article's line: only those are edited.
        own = [line["line"] for line in ticket["lines"] if not line.get("deposit_for")]
        if roll < 0.17:
            return make("set_qty", line=rng.choice(own), qty=rng.choice([1, 2, "3"]))
        if roll < 0.20 and len(own) > 1:
            return make("remove_line", line=rng.choice(own))
        if roll < 0.22:
            return make("cancel_ticket")
    if balance > 0:
        roll = rng.random()
        if roll < 0.45:
            return make("pay", mode="card")
        if roll < 0.80:
            tendered = (balance / 5).to_integral_value(rounding=ROUND_CEILING) * 5
            return make("pay", mode="cash", amount=f"{tendered:.2f}")
        part = (balance / 2).quantize(Decimal("0.01"))
        if part > 0:
            return make("pay", mode="card", amount=f"{part:.2f}")
        return make("pay", mode="cash")
    return make("finish", receipt="none")


async def exchange(client: WsClient, pending: Pending, *, timeout: float = 10.0) -> dict[str, Any]:
    with trio.fail_after(timeout):
        return await client.call(pending.verb, key=pending.key, **pending.fields)


async def drive_lane(model: LaneModel, client: WsClient, rng: random.Random, codes: list[str], tag: str,
                     *, max_requests: int = 100_000) -> None:
    """Sell on one lane until cancelled (or ``max_requests``): each request keyed,
    recorded as pending until its reply is read, then applied to the model."""
    for _ in range(max_requests):
        if model.pending is None:
            model.pending = next_request(model, rng, codes, tag)
        pending = model.pending
        try:
            reply = await exchange(client, pending)
        except (ConnectionClosed, trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            await trio.sleep_forever()  # the server was killed: wait for the round to end
        if reply["type"] == "error" and reply.get("code") == "unavailable":
            continue  # the same key again: it may or may not have been applied
        apply_reply(model, pending, reply)
        model.pending = None
        model.requests += 1


# --- a proxy that loses replies ------------------------------------------------------------


class CutProxy:
    """A loopback TCP proxy in front of the server that can lose a reply.

    It forwards both ways. Once ``arm(marker)`` is called, bytes from the server
    are swallowed instead of forwarded until ``marker`` has gone by (the server
    sent the reply), then both connections are cut: the client never reads it.
    Websocket frames from a server are not masked, so the reply's JSON is plain
    in the byte stream.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._marker: bytes | None = None
        self.swallowed = b""
        self.cut = trio.Event()

    def arm(self, marker: bytes) -> None:
        self._marker = marker
        self.swallowed = b""
        self.cut = trio.Event()

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        await trio.serve_listeners(self._handle, listeners, task_status=task_status)

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client, await trio.open_tcp_stream("127.0.0.1", self.upstream_port) as server:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._pump, client, server, False, nursery.cancel_scope)
                nursery.start_soon(self._pump, server, client, True, nursery.cancel_scope)

    async def _pump(self, source: trio.SocketStream, sink: trio.SocketStream, from_server: bool,
                    scope: trio.CancelScope) -> None:
        try:
            while True:
                data = await source.receive_some(65536)
                if not data:
                    break
                if from_server and self._marker is not None:
                    self.swallowed += data
                    if self._marker in self.swallowed:
                        self._marker = None
                        self.cut.set()
                        break  # cut: the reply never reaches the client
                    continue
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        scope.cancel()  # one side is done: close both

    def swallowed_reply(self, re: str) -> dict[str, Any]:
        """The reply to request ``re`` that was swallowed."""
        text = self.swallowed.decode("utf-8", "replace")
        for start in range(len(text)):
            if text.startswith('{"type":', start):
                try:
                    candidate, _ = json.JSONDecoder().raw_decode(text, start)
                except ValueError:
                    continue
                if isinstance(candidate, dict) and candidate.get("re") == re:
                    return candidate
        raise AssertionError(f"no reply to {re!r} in the swallowed bytes: {text[:500]!r}")


# --- a portal for synchronous tests --------------------------------------------------------


class WsPortal:
    """One websocket connection, held open by a Trio loop in its own thread, so a
    synchronous test (Hypothesis) can exchange frames through it one by one.

    ``exchange(frame)`` sends a frame and returns the next reply (an ``ok`` or
    ``error`` frame), keeping pushed events aside; it raises if the connection
    closes or nothing comes back within ``timeout`` seconds.
    """

    def __init__(self, url: str, token: str | None = None, seller: tuple[str, str] | None = DEMO_SELLER) -> None:
        self.url = url
        self.token = token
        self.seller = seller
        self.hello: dict[str, Any] | None = None
        self.events = 0
        self.closed_after: str | None = None  # the frame the server closed the connection on
        self._ws = None
        self._trio_token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="ws-portal", daemon=True)

    def start(self, timeout: float = 20.0) -> "WsPortal":
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the portal did not connect in time")
        if self._error is not None:
            raise RuntimeError("the portal could not connect") from self._error
        return self

    def _main(self) -> None:
        try:
            trio.run(self._run)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            self._error = error
            self._ready.set()

    async def _run(self) -> None:
        self._stop = trio.Event()
        async with open_websocket_url(self.url, max_message_size=4 << 20) as ws:
            self._ws = ws
            self._trio_token = trio.lowlevel.current_trio_token()
            if self.token is not None:
                self.hello = await self._exchange(json.dumps({"type": "hello", "id": "h", "token": self.token}), 10)
                assert self.hello["type"] == "ok", self.hello
                if self.seller is not None and self.hello.get("seller") != self.seller[0]:
                    reply = await self._exchange(json.dumps(
                        {"type": "sign_in", "id": "s", "seller": self.seller[0], "pin": self.seller[1]}), 10)
                    assert reply["type"] == "ok", reply
            self._ready.set()
            await self._stop.wait()

    async def _exchange(self, frame: str | bytes, timeout: float) -> dict[str, Any]:
        assert self._ws is not None
        if self.closed_after is not None:
            raise AssertionError(f"the server closed the connection earlier, after {self.closed_after}")
        try:
            with trio.fail_after(timeout):
                await self._ws.send_message(frame)
                for _ in range(1000):  # events may come first; a reply comes within a few frames
                    message = json.loads(await self._ws.get_message())
                    if message.get("type") in ("ok", "error"):
                        return message
                    self.events += 1
        except ConnectionClosed as closed:
            shown = frame if len(frame) < 300 else frame[:300]
            self.closed_after = f"{shown!r} ({len(frame)} bytes): {closed.reason}"
            raise AssertionError(f"the server closed the connection on {self.closed_after}") from None
        raise AssertionError("no reply among 1000 frames")

    def exchange(self, frame: str | bytes, timeout: float = 10.0) -> dict[str, Any]:
        return trio.from_thread.run(self._exchange, frame, timeout, trio_token=self._trio_token)

    def request(self, verb: str, **fields: Any) -> dict[str, Any]:
        return self.exchange(json.dumps({"type": verb, "id": f"p-{verb}", **fields}))

    def close(self) -> None:
        if self._trio_token is not None and self._stop is not None and self._thread.is_alive():
            try:
                trio.from_thread.run_sync(self._stop.set, trio_token=self._trio_token)
            except trio.RunFinishedError:
                pass
        self._thread.join(10)
