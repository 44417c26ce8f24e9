"""A configured (not demo) shop for the e2e tests, set up through the command line as
an operator would, and the few reads the tests make of it afterwards.

``configured_server(tmp_path, config, catalog, sellers=…)`` writes the shop file
(``tmp_path / "shop.toml"``), imports the catalog (CSV text, written to
``tmp_path / "catalog.csv"``, or the path of a CSV file such as ``DEMO_CATALOG``) and
adds the sellers, each ``(name, pin, role)`` (``(name, pin)`` takes the command line's
default role); the server is not started. ``configured_shop(…)`` is that server started,
with a till paired on each lane of ``tills`` (``server.tokens[lane]``), stopped at the end.
Either way ``server.receipts`` is where a ``file_printer`` prints.

The shop file is TOML text built from pieces: ``toml(*pieces)`` joins them;
``table("shop", name=…, …)`` is a ``[shop]`` table and ``entry("payment_modes", …)`` one
``[[payment_modes]]`` entry (Python values written as TOML, ``None`` left out);
``stock_point``, ``lane`` (on stock point ``main`` unless told), ``file_printer`` (``p1``,
printing into ``receipts.bin``), ``network_printer`` (``p1`` at a loopback port) and
``terminal`` are the entries the tests repeat.

A network printer: ``FakePrinter`` collects what each connection sends (one job per
connection); ``printer_listening()`` serves one on a loopback port, ``(printer, port)``.

Reads: ``open_db`` (the server's SQLite file), ``rows`` (a query's rows), ``counts``
(how many rows some tables hold: what a refused request must leave as it was),
``verify`` (``laneserver verify`` exits 0; returns its report) and ``printed`` (the
receipts file once it holds every text given; the caller's ``trio.fail_after`` bounds
the wait, as the printer prints after the reply).

The sellers most tests use: ``PAUL`` (a cashier, ``CASHIER`` to add him) and sophie
(a supervisor whose PIN is ``SOPHIE_PIN``, ``SUPERVISOR`` to add her).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import trio

from laneserver.store.schema import DB_NAME
from tests.escpos_peer import StatusAnswers, strip_status_requests
from tests.support import REPO, LiveServer, until

PAUL = ("paul", "5678")
SOPHIE_PIN = "4321"
CASHIER = (*PAUL, "cashier")
SUPERVISOR = ("sophie", SOPHIE_PIN, "supervisor")
DEMO_CATALOG = REPO / "laneserver" / "demo" / "catalog.csv"
RECEIPTS = "receipts.bin"


def configured_server(tmp_path: Path, config: str, catalog: str | Path,
                      sellers: Iterable[tuple[str, ...]] = (CASHIER,)) -> LiveServer:
    """The shop of ``config`` with ``catalog`` imported and ``sellers`` added; not started."""
    config_path = tmp_path / "shop.toml"
    config_path.write_text(config, encoding="utf-8")
    if isinstance(catalog, str):
        catalog_path = tmp_path / "catalog.csv"
        catalog_path.write_text(catalog, encoding="utf-8")
    else:
        catalog_path = catalog
    server = LiveServer(tmp_path / "data", config=config_path)
    server.cli("catalog", "import", str(catalog_path))
    for name, pin, *role in sellers:
        server.cli("seller", "add", name, "--pin", pin, *(["--role", *role] if role else []))
    server.receipts = tmp_path / RECEIPTS  # type: ignore[attr-defined]
    return server


@contextmanager
def configured_shop(tmp_path: Path, config: str, catalog: str | Path,
                    sellers: Iterable[tuple[str, ...]] = (CASHIER,), tills: Iterable[str] = ()) -> Iterator[LiveServer]:
    """``configured_server`` started, a till paired on each lane of ``tills``; stopped at the end."""
    server = configured_server(tmp_path, config, catalog, sellers).start()
    try:
        server.tokens = {lane: server.pair("till", lane) for lane in tills}  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()


def toml(*pieces: str) -> str:
    return "\n".join(pieces)


def _table(header: str, keys: dict[str, Any]) -> str:
    lines = [header] + [f"{key} = {json.dumps(value, ensure_ascii=False)}"
                        for key, value in keys.items() if value is not None]
    return "\n".join(lines) + "\n"


def table(name: str, /, **keys: Any) -> str:
    """``[name]`` and its keys."""
    return _table(f"[{name}]", keys)


def entry(name: str, /, **keys: Any) -> str:
    """One ``[[name]]`` entry and its keys."""
    return _table(f"[[{name}]]", keys)


def stock_point(point: str = "main") -> str:
    return entry("stock_points", id=point)


def lane(lane_id: str, stock_point: str | None = "main", **keys: Any) -> str:
    return entry("lanes", id=lane_id, stock_point=stock_point, **keys)


def file_printer(tmp_path: Path, printer: str = "p1") -> str:
    """A printer writing to ``tmp_path / "receipts.bin"`` (``server.receipts``)."""
    return entry("printers", id=printer, kind="file", address=str(tmp_path / RECEIPTS))


def network_printer(port: int, printer: str = "p1") -> str:
    """A network printer on a loopback port (a ``FakePrinter`` listening), retried quickly."""
    return entry("printers", id=printer, kind="network", address=f"127.0.0.1:{port}", retry_seconds=0.2)


class FakePrinter:
    """Collects what each connection sends until it closes: one job per connection.

    Like a real printer it does not print ``DLE EOT`` status requests (tests/escpos_peer.py):
    they are left out of the job, and a connection of requests only (a status poll) is
    no job. It answers none of them (a printer without status, as before) unless given
    ``replies`` (DLE EOT n → the status byte; ``escpos_peer.fine()``), which a test may
    change at any time (paper out, cover open, drawer open).

    ``die_after``: the next job connection to carry that many bytes of print data loses
    power there: nothing of it is kept (``torn`` counts it), the connection is dropped
    and ``died`` is set (the test then pulls the printer: ``PrinterPlug``).
    """

    def __init__(self, replies: dict[int, int] | None = None) -> None:
        self.jobs: list[bytes] = []
        self.arrived = trio.Event()
        self.replies = replies
        self.polls = 0  # connections that were status requests only
        self.die_after: int | None = None
        self.died = trio.Event()
        self.torn = 0

    async def handle(self, stream: trio.SocketStream) -> None:
        answers = StatusAnswers(self.replies) if self.replies is not None else None
        chunks = []
        async for chunk in stream:
            chunks.append(chunk)
            if self.die_after is not None and len(strip_status_requests(b"".join(chunks))) >= self.die_after:
                # Before answering what came with these bytes: the power is gone.
                self.die_after = None
                self.torn += 1
                self.died.set()
                await stream.aclose()
                return
            if answers is not None:
                answers.replies = self.replies if self.replies is not None else answers.replies
                if reply := answers.feed(chunk):
                    await stream.send_all(reply)
        job = strip_status_requests(b"".join(chunks))
        if not job:
            self.polls += 1
            return
        self.jobs.append(job)
        self.arrived.set()
        self.arrived = trio.Event()

    async def wait_for(self, count: int) -> None:
        while len(self.jobs) < count:
            await self.arrived.wait()


class PrinterPlug:
    """A ``FakePrinter`` listening on a loopback port that a test can pull and plug back
    in (the same port): ``await plug()``, ``pull()``, ``await plug()`` again. Pulling cancels the open
    connections too, as a cable pulled mid-job would."""

    def __init__(self, printer: FakePrinter, nursery: trio.Nursery) -> None:
        self.printer = printer
        self.port = 0
        self._nursery = nursery
        self._scope: trio.CancelScope | None = None

    async def plug(self) -> int:
        listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        self._scope = trio.CancelScope()
        self._nursery.start_soon(self._serve, listeners, self._scope)
        return self.port

    async def _serve(self, listeners, scope: trio.CancelScope) -> None:
        with scope:
            try:
                await trio.serve_listeners(self.printer.handle, listeners)
            finally:
                for listener in listeners:
                    await listener.aclose()

    def pull(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
            self._scope = None


@asynccontextmanager
async def printer_listening() -> AsyncIterator[tuple[FakePrinter, int]]:
    """A ``FakePrinter`` served on a loopback port (``network_printer(port)``) until the end."""
    printer = FakePrinter()
    async with trio.open_nursery() as nursery:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        nursery.start_soon(trio.serve_listeners, printer.handle, listeners)
        yield printer, listeners[0].socket.getsockname()[1]
        nursery.cancel_scope.cancel()


def terminal(terminal_id: str, **keys: Any) -> str:
    return entry("terminals", id=terminal_id, **keys)


def open_db(server: LiveServer) -> sqlite3.Connection:
    return sqlite3.connect(server.data / DB_NAME)


def rows(server: LiveServer, sql: str, *args: Any) -> list[tuple]:
    db = open_db(server)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def counts(server: LiveServer, *tables: str) -> tuple[int, ...]:
    """How many rows each of ``tables`` holds."""
    db = open_db(server)
    try:
        return tuple(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables)
    finally:
        db.close()


def verify(server: LiveServer) -> str:
    """``laneserver verify`` exits 0; its report."""
    result = server.cli("verify", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def printed(server: LiveServer, *texts: str | bytes) -> bytes:
    """The receipts file once it holds every one of ``texts`` (text is encoded as printed, cp858)."""
    wanted = [t.encode("cp858") if isinstance(t, str) else t for t in texts]
    path: Path = server.receipts  # type: ignore[attr-defined]

    def holds_them() -> bytes | None:
        data = path.read_bytes() if path.exists() else b""
        return data if all(w in data for w in wanted) else None

    return await until(holds_them)
