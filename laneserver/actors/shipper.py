"""The shipper: sends the shop's journal to head office's PostgreSQL, in bounded
batches, exactly once (docs/head_office.md).

A loop, never in the way of a sale:

* its blocking work (its own read-only SQLite connection, psycopg) runs in its own
  worker thread through its own ``CapacityLimiter(1)``: never the journal's thread,
  never the journal's connection;
* a round reads at most ``batch`` records (and about ``batch_bytes`` of them) after
  head office's position, sends them in one PostgreSQL transaction (insert or ignore
  on (shop, chain, sequence)), then notes the new position in the shop's ``meta``
  through the journal (one small statement);
* when head office cannot be reached it waits (``Backoff``: doubling, capped, with
  jitter) and tries again; the records wait on the shop's disk meanwhile;
* on connecting it reads head office's schema version: older than this shop's (a shop
  upgraded before its head office) is said as such, ``head_office_schema_too_old``,
  not as head office not answering; the records are shipped all the same (their table
  is the first migration's), unless head office has no schema at all (``hq init``
  never run there: nothing to ship into, tried again with the backoff);
* on (re)connecting it asks head office what it holds of the shop and starts from
  there, so a batch lost with a crash is sent again and one head office already has
  is not (and a head office restored from an older backup is filled up again).

``stats`` is what ``/metrics`` shows: lag in records and seconds per chain, whether
head office is reachable, records shipped. Closing the mailbox stops it.

Cancellation: a thread hop that is cancelled is abandoned (``abandon_on_cancel``): a
hung TCP connection to head office never holds up the shop's shutdown; the limiter
keeps the next hop from running before the abandoned one ends.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import trio

from laneserver.actors.customers_messages import (
    ApplyPublished,
    PublishedApplied,
    PublishedVersion,
)
from laneserver.actors.journal import ReadFailed, read
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock
from laneserver.config import HeadOfficeConfig
from laneserver.log import get_logger
from laneserver.rules.customers_csv import CustomersCsvError, parse_customers_csv
from laneserver.rules.head_office import Backoff
from laneserver.store import hq, outbox
from laneserver.store.schema import DB_NAME

MAILBOX = 4
CUSTOMERS_PER_ROUND = 20  # customers versions applied per round at most (the rest: the next rounds)


@dataclass
class ShipperStats:
    """What the shipper shows (``/metrics``); outlives a restart of the actor."""

    lag: dict[str, outbox.Lag] = field(default_factory=dict)
    connected: bool = False
    shipped: int = 0  # records head office took (new to it)
    sent: int = 0  # records sent (a resend counts again)
    failures: int = 0
    last_error: str | None = None
    catalog_version: int = 0
    customers_version: int = 0
    schema_too_old: str | None = None  # head office's schema older than the shop's (store/hq.py ``SchemaTooOld``)


class _Round:
    """The thread side of the shipper: its SQLite reader and its PostgreSQL connection,
    used only from its own worker thread (one at a time, through its limiter)."""

    def __init__(self, db_path: Path, config: HeadOfficeConfig) -> None:
        self.db_path = db_path
        self.config = config
        self.db: sqlite3.Connection | None = None
        self.pg: psycopg.Connection | None = None
        self.position: dict[str, int] = {}
        self.anchor_sent: bytes | None = None
        self.too_old: hq.SchemaTooOld | None = None  # head office's schema, at the last connection

    def reader(self) -> sqlite3.Connection:
        if self.db is None:
            self.db = outbox.open_reader(self.db_path)
        return self.db

    def local_position(self) -> dict[str, int]:
        return outbox.read_position(self.reader())

    def connect(self) -> dict[str, int]:
        """Reach head office; its position of this shop becomes ours. ``too_old``: its
        schema is older than this shop's, records shipped all the same.

        Raises:
            hq.SchemaTooOld: head office has no schema (``hq init`` never run there).
            psycopg.Error, OSError: head office cannot be reached or read.
        """
        self.drop()
        self.pg = hq.connect(self.config.dsn)
        try:
            hq.check_schema(self.pg)
            self.too_old = None
        except hq.SchemaTooOld as error:
            if error.version < 1:  # no ``records`` table: nothing to ship into
                raise
            self.too_old = error
        self.position = hq.positions(self.pg, self.config.shop)
        self.anchor_sent = None
        return dict(self.position)

    def drop(self) -> None:
        if self.pg is not None:
            try:
                self.pg.close()
            except psycopg.Error:
                pass  # a connection already broken: nothing to close cleanly
            self.pg = None

    def ship(self, now: dt.datetime) -> tuple[int, int, bool, dict[str, outbox.Lag]]:
        """One batch: (records sent, new at head office, more waiting, lag after it)."""
        assert self.pg is not None
        anchor_file = self.db_path.with_name("fiscal-anchor.json")
        # Read before the records: the anchor never leads the database, so once the
        # records are read to their end, head office holds at least what it anchors.
        try:
            anchor = anchor_file.read_bytes()
        except OSError:
            anchor = None
        found = outbox.batch(self.reader(), self.position, limit=self.config.batch,
                             max_bytes=self.config.batch_bytes)
        send_anchor = anchor if found.complete and anchor is not None and anchor != self.anchor_sent else None
        new = 0
        if found.records or send_anchor is not None:
            key = _public_key(self.db_path) if send_anchor is not None else None
            new = hq.ship(self.pg, self.config.shop, found.records, send_anchor, key)
        for item in found.records:
            self.position[item.chain] = max(self.position.get(item.chain, 0), item.sequence)
        if send_anchor is not None:
            self.anchor_sent = send_anchor
        return len(found.records), new, not found.complete, outbox.lag(self.reader(), self.position, now)

    def lag(self, position: dict[str, int], now: dt.datetime) -> dict[str, outbox.Lag]:
        return outbox.lag(self.reader(), position, now)

    def catalog(self, applied: int) -> tuple[int, str] | None:
        assert self.pg is not None
        return hq.latest_catalog(self.pg, self.config.shop, applied)

    def customers(self, applied: int) -> tuple[int, str] | None:
        assert self.pg is not None
        return hq.next_customers(self.pg, self.config.shop, applied)

    def close(self) -> None:
        self.drop()
        if self.db is not None:
            self.db.close()
            self.db = None


def _public_key(db_path: Path) -> str | None:
    """The shop's public key (hex), when the data folder has its signing key."""
    from laneserver.store import shop_key

    try:
        key = shop_key.load_key(shop_key.key_path(db_path))
    except (OSError, ValueError):
        return None
    return None if key is None else shop_key.public_hex(key)


class ShipperActor:
    def __init__(self, data_dir: Path, config: HeadOfficeConfig, *, journal: Address, clock: Clock,
                 stats: ShipperStats, draw: Callable[[], float] = random.random,
                 apply_catalog: Callable[[sqlite3.Connection, int, str], Any] | None = None,
                 customers: Address | None = None) -> None:
        self.config = config
        self.journal = journal
        self.clock = clock
        self.stats = stats
        self._draw = draw
        self._apply_catalog = apply_catalog
        self._customers_actor = customers  # applies head office's customers (actors/customers.py)
        self._limiter = trio.CapacityLimiter(1)
        self._round = _Round(data_dir / DB_NAME, config)
        self._backoff = Backoff(first=min(1.0, config.backoff_max), cap=config.backoff_max)
        self._log = get_logger("shipper", shop=config.shop)
        self._catalog_applied: int | None = None  # the catalog version the shop applied last

    async def _hop(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter, abandon_on_cancel=True)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with inbox:
            try:
                position = await self._hop(self._round.local_position)
                self.stats.lag = await self._hop(self._round.lag, position, self.clock.now())
                task_status.started()
                while True:
                    wait = await self._step()
                    if wait > 0:
                        with trio.move_on_after(wait):
                            try:
                                await inbox.receive()  # nothing is sent: closing the mailbox stops the shipper
                            except (trio.EndOfChannel, trio.ClosedResourceError):
                                return
            finally:
                with trio.CancelScope(shield=True):
                    await self._hop(self._round.close)

    async def _step(self) -> float:
        """One round; returns how long to wait before the next (0: more is waiting)."""
        try:
            if not self.stats.connected:
                position = await self._hop(self._round.connect)
                self.stats.connected = True
                self._log.info("head_office_connected", position=position)
                self._schema(self._round.too_old)
            sent, new, more, lag = await self._hop(self._round.ship, self.clock.now())
        except (psycopg.Error, OSError, hq.SchemaTooOld) as error:
            self.stats.connected = False
            self.stats.failures += 1
            self.stats.last_error = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            await self._hop(self._round.drop)
            wait = self._backoff.next_wait(self._draw())
            if isinstance(error, hq.SchemaTooOld):
                self._schema(error, retry_in=round(wait, 2))
            else:
                self._log.warning("head_office_unreachable", error=self.stats.last_error, retry_in=round(wait, 2))
            position = await self._hop(self._round.local_position)
            self.stats.lag = await self._hop(self._round.lag, position, self.clock.now())
            return wait
        self._backoff.reset()
        self.stats.lag = lag
        self.stats.sent += sent
        self.stats.shipped += new
        if sent:
            await self._note(dict(self._round.position))
        if not more:
            await self._catalog()
            await self._customers()
        return 0.0 if more else self.config.every

    def _schema(self, too_old: hq.SchemaTooOld | None, **fields: Any) -> None:
        """Head office answered: its schema older than this shop's is an error in the log
        (once while it lasts) and in ``stats``, in its own words, never "unreachable"."""
        if too_old is not None and self.stats.schema_too_old != str(too_old):
            self._log.error("head_office_schema_too_old", version=too_old.version, needed=too_old.needed,
                            error=str(too_old), **fields)
        self.stats.schema_too_old = None if too_old is None else str(too_old)

    async def _note(self, position: dict[str, int]) -> None:
        """Head office acknowledged up to ``position``: note it in ``meta`` (through the
        journal, the one writer). A failure here loses nothing: head office is asked
        again at the next connection."""
        at = self.clock.now().astimezone(dt.UTC).isoformat(timespec="seconds")
        try:
            with trio.fail_after(10):
                await read(self.journal, partial(outbox.note_position, shop=self.config.shop, chains=position, at=at))
        except (ActorFailed, ReadFailed, trio.TooSlowError) as error:
            self._log.warning("head_office_position_not_noted", error=repr(error))

    async def _catalog(self) -> None:
        """A catalog newer than the one applied, published by head office: applied
        through the journal (``apply_catalog``)."""
        if self._apply_catalog is None:
            return
        version = None
        try:
            with trio.fail_after(30):
                if self._catalog_applied is None:  # read once; this actor writes it afterwards
                    self._catalog_applied = await read(self.journal, outbox.read_catalog_version)
                applied = self._catalog_applied
                found = await self._hop(self._round.catalog, applied)
                if found is None:
                    self.stats.catalog_version = applied
                    return
                version, content = found
                await read(self.journal, partial(self._apply_catalog, version=version, content=content))
        except (psycopg.Error, OSError, ActorFailed, trio.TooSlowError) as error:
            self._log.warning("head_office_catalog_not_applied", error=repr(error))
            return
        except ReadFailed as error:
            self._log.error("head_office_catalog_refused", version=version, error=repr(error.__cause__ or error))
            return
        self.stats.catalog_version = self._catalog_applied = version
        self._log.info("head_office_catalog_applied", version=version)

    async def _customers(self) -> None:
        """Head office's customers versions after the one the shop applied, one by one
        (at most ``CUSTOMERS_PER_ROUND`` a round), each sent to the customers actor, the
        directory's one writer, which applies it once (by version) through the journal."""
        if self._customers_actor is None:
            return
        for _ in range(CUSTOMERS_PER_ROUND):
            try:
                with trio.fail_after(30):
                    applied = await self._customers_actor.ask(PublishedVersion())
                    self.stats.customers_version = applied
                    found = await self._hop(self._round.customers, applied)
                    if found is None:
                        return
                    version, content = found
                    try:
                        apply = ApplyPublished(version, parse_customers_csv(content))
                    except CustomersCsvError as error:
                        apply = ApplyPublished(version, problem=str(error))
                    done = await self._customers_actor.ask(apply)
            except (psycopg.Error, OSError, ActorFailed, trio.TooSlowError) as error:
                self._log.warning("head_office_customers_not_applied", error=repr(error))
                return
            if not isinstance(done, PublishedApplied):
                self._log.warning("head_office_customers_not_applied", version=version, error=repr(done))
                return
            self.stats.customers_version = version
