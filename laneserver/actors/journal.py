"""The journal actor: the only writer of the database.

It owns one SQLite connection and reaches it through one worker thread
(``trio.to_thread.run_sync`` with a ``CapacityLimiter(1)``). Its loop is a group
commit: it takes the first unit of work waiting in its mailbox plus every other
one already queued (up to ``MAX_BATCH``), writes them all in ONE transaction —
each unit in its own savepoint, so one failing unit does not sink the others —
commits, and only then answers each asker. Units that arrive while a commit is
in flight wait in the mailbox and go into the next transaction.

Commands (actors/journal_messages.py, the journal's vocabulary):
  Commit(ops)  → CommitResult(results)   durable once answered
  Read(fn)     → fn(connection)          on the same thread, after the writes
                                          queued before it, in a savepoint of its
                                          own (a fn that writes then raises leaves
                                          nothing)
``commit`` and ``read`` below ask it and raise ``CommitFailed`` / ``ReadFailed``;
those two are importable from here with them (``__all__``: the journal's face).

The fiscal anchor: after each COMMIT that moved a head of the fiscal chains,
the worker thread rewrites ``fiscal-anchor.json`` next to the database (temp
file, fsync, rename, fsync of the folder; none for batches without a sale),
signed with the shop's Ed25519 key (store/shop_key.py). It
does so between batches, after the askers are answered, at most once every
``ANCHOR_MAX_LAG`` seconds: the anchor may lag the database anyway (a crash
right after the COMMIT), so its fsyncs need not delay the tills' replies nor
be paid per batch. At start, before anything is written, the books are opened
(actors/journal_open.py): ``PRAGMA quick_check``, the fiscal chains walked from where
the last start left off, the anchor and the shop key checked; any of them failing
refuses the start (``BooksRefused``: exit 3, docs/operations.md "A refused start-up").

Shutdown: when the mailbox is closed the loop drains what is queued, then
checkpoints and closes the database under a shielded, bounded scope.

The technical event journal (JET, chain ``jet``; store/jet.py), when the journal is
given ``jet`` (the running shop's version and configuration digest; tests of other
parts leave it out): its ``start`` entries at start, in one transaction before it
answers anyone, and ``stop`` at a clean stop (the mailbox drained):
actors/journal_jet.py. Every batch that carries a JET entry passes the
clock watch (rules/jet.py ``ClockWatch``): a wall clock that moved more than a minute
against the monotonic one since the last entry gets a ``clock_jump`` entry first. The
inbox is chained again every ``INBOX_EVERY`` seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import time
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any, Callable

import trio

from laneserver.actors.journal_jet import jet_start, jet_stop, jet_unit
from laneserver.actors.journal_messages import Commit, CommitFailed, CommitResult, JetStart, Read, ReadFailed
from laneserver.actors.journal_open import BooksOpening, DatabaseDamaged, FiscalAnchorError, is_damaged
from laneserver.actors.runtime import Address, Envelope
from laneserver.clock import Clock, SystemClock
from laneserver.histogram import BATCH_BOUNDS, LATENCY_BOUNDS, Histogram
from laneserver.log import get_logger
from laneserver.rules import jet as jet_rules
from laneserver.store import books_check, schema, shop_key
from laneserver.store import jet as jet_store
from laneserver.store.fiscal import Heads, write_anchor
from laneserver.store.ops import ChainRecord, Op
from laneserver.store.writes import BooksChanged, KeyReused, Writer

__all__ = ["ANCHOR_MAX_LAG", "CommitFailed", "JournalActor", "JournalStats", "MAILBOX", "MAX_BATCH", "ReadFailed",
           "commit", "log_commit_failed", "read"]

MAX_BATCH = 256
# Its mailbox (server/run.py): a batch's worth, so the lanes asking at once queue without waiting for room.
MAILBOX = 256
# How far (seconds) the anchor may fall behind while batches keep coming back to back.
ANCHOR_MAX_LAG = 0.25
FINAL_FLUSH_SECONDS = 5.0


def log_commit_failed(log: Any, error: CommitFailed, **fields: Any) -> None:
    """An actor's unit rolled back: an error for store IT, unless it was only a device
    reusing an idempotency key for another request (answered ``conflict`` with
    ``key_reused``: a client's mistake or a hostile frame, not the server's), logged at
    info as ``key_reused``; or what it was decided on changed meanwhile (answered
    ``conflict``), a warning ``commit_conflict``."""
    if error.key_reused:
        log.info("key_reused", error=str(error), **fields)
    elif error.changed:  # two requests on the same money at once: the later one is refused
        log.warning("commit_conflict", error=str(error), **fields)
    else:
        log.error("commit_failed", error=str(error), **fields)


class JournalStats:
    """What ``/metrics`` shows of the journal's batches: units per transaction and the
    seconds each took to write and commit (the worker thread's time, fsync included).
    Made by the server and handed to each journal it starts, so it outlives restarts."""

    def __init__(self) -> None:
        self.batch_size = Histogram(BATCH_BOUNDS)
        self.commit_seconds = Histogram(LATENCY_BOUNDS)


class JournalActor:
    def __init__(self, path: Path, zone: dt.tzinfo = dt.timezone.utc, stats: JournalStats | None = None, *,
                 jet: JetStart | None = None, clock: Clock | None = None) -> None:
        self.path = path
        self.stats = stats if stats is not None else JournalStats()
        self.zone = zone  # the shop's time zone (the writer checks coupon validity by its days)
        # The JET's start, stop, recovery, clock jumps and inbox (None: not kept by this journal).
        self.jet = jet
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._clock_watch = jet_rules.ClockWatch()
        self._inbox_at = float("-inf")  # trio time the inbox was last chained
        self._limiter = trio.CapacityLimiter(1)
        self._writer: Writer | None = None
        self._log = get_logger("journal", db=str(path))
        self._books = BooksOpening(path, self._log)  # the start-up checks (actors/journal_open.py)
        self.anchor_file = self._books.anchor_file
        self.key_file = self._books.key_file
        self._key: shop_key.Ed25519PrivateKey | None = None  # the shop's signing key, loaded at start
        self._anchored: Heads | None = None  # what the anchor file holds
        self.commits = 0
        self.units = 0
        self.anchor_writes = 0
        self.batches_redone = 0  # batches written again unit by unit because one unit failed
        self.anchor_seconds = 0.0  # time spent writing the anchor, for metrics and benches
        self._anchor_at = float("-inf")  # trio time of the last anchor write between batches

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        try:
            db = await self._in_thread(schema.connect, self.path)
        except sqlite3.DatabaseError as error:
            if not is_damaged(error):
                raise
            self._log.error("database_damaged", message=str(error))
            raise DatabaseDamaged(self._books.damaged([str(error)])) from None
        drained = False  # the mailbox was closed and emptied: a clean stop
        try:
            ends = await self._in_thread(self._books.check_books, db)
            self._writer = await self._in_thread(partial(Writer, db, zone=self.zone, on_busy=self._busy))
            try:
                opened, self._key, self._anchored = await self._in_thread(self._books.open_anchor, self._writer)
            except FiscalAnchorError as error:
                self._log.error("fiscal_anchor_refused", anchor=str(self.anchor_file), message=str(error))
                raise
            await self._in_thread(books_check.mark_checked, db, ends)
            if self.jet is not None:
                now = self.clock.now()
                self._clock_watch.observe(now, trio.current_time())
                await self._in_thread(jet_start, self._writer, self.jet, now, self._log)
                self._inbox_at = trio.current_time()
            if opened == "reset":
                self._log.warning("fiscal_anchor_reset", anchor=str(self.anchor_file),
                                  sales=self._writer.heads.sale_number,
                                  message="the anchor file was missing: the database's heads are anchored as they are")
            task_status.started()
            self._log.info("journal_started", sales=self._writer.heads.sale_number, anchor=opened)
            while True:
                try:
                    first = await self._next_unit(inbox)
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    drained = True
                    break
                if first is None:  # the anchor was due: written, wait again
                    continue
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(inbox.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                        break
                await self._process(batch)
        finally:
            with trio.CancelScope(shield=True, deadline=trio.current_time() + FINAL_FLUSH_SECONDS):
                if drained and self.jet is not None and self._writer is not None:
                    await self._in_thread(jet_stop, self._writer, self.jet, self.clock.now())
                if self._anchored is not None:
                    await self._in_thread(self._anchor_if_moved)
                await self._in_thread(_close, db)
                self._log.info("journal_closed", commits=self.commits, units=self.units,
                               anchor_writes=self.anchor_writes, anchor_ms=round(self.anchor_seconds * 1000, 1))

    async def _next_unit(self, inbox: trio.MemoryReceiveChannel) -> Envelope | None:
        """The next unit of work; or, when the anchor is behind the heads and its
        time has come before any unit arrives, None once the anchor is written.

        The anchor is rewritten between batches, at most once per
        ``ANCHOR_MAX_LAG`` seconds: a busy shop pays its two fsyncs a few times a
        second, not once per batch, and an idle one at most ``ANCHOR_MAX_LAG``
        after its last sale. It may lag the database anyway (a crash right after
        a COMMIT), so a lagging anchor is still a valid prefix of the chain for
        ``verify`` and for the start-up check.
        """
        writer = self._writer
        anchor_due = writer is not None and writer.heads != self._anchored
        due = self._anchor_at + ANCHOR_MAX_LAG if anchor_due else float("inf")
        if self.jet is not None:
            due = min(due, self._inbox_at + jet_store.INBOX_EVERY)
        if due == float("inf"):
            return await inbox.receive()
        wait = due - trio.current_time()
        if wait > 0:
            with trio.move_on_after(wait):
                return await inbox.receive()
        if self.jet is not None and trio.current_time() >= self._inbox_at + jet_store.INBOX_EVERY:
            await self._in_thread(self._chain_inbox)
            self._inbox_at = trio.current_time()
        if anchor_due and trio.current_time() >= self._anchor_at + ANCHOR_MAX_LAG:
            await self._in_thread(self._anchor_if_moved)
            self._anchor_at = trio.current_time()
        return None

    async def _process(self, batch: list[Envelope]) -> None:
        with ExitStack() as stack:
            for envelope in batch:
                # Closes every reply channel on the way out, answered or not, so
                # an asker never waits on a batch whose transaction failed. (Not
                # ``with envelope``: that would make one unit's request id the batch's.)
                stack.callback(envelope.done)
            commands = [e.command for e in batch]
            jump = self._clock_jump(commands)
            if jump is not None:  # chained before the entry that found it; its answer is nobody's
                commands.insert(0, Commit((jump,)))
            started = time.perf_counter()
            answers = await self._in_thread(self._write_batch, commands)
            seconds = time.perf_counter() - started
            if jump is not None:
                answers.pop(0)
            self.commits += 1
            self.units += len(batch)
            self.stats.batch_size.observe(len(batch))
            self.stats.commit_seconds.observe(seconds)
            for envelope, answer in zip(batch, answers):
                envelope.reply(answer)
            if self._log.is_enabled_for(logging.DEBUG):
                self._log.debug("batch_committed", units=len(batch), ms=round(seconds * 1000, 2),
                                request_ids=[e.request_id for e in batch if e.request_id is not None])

    def _clock_jump(self, commands: list[Any]) -> ChainRecord | None:
        """The ``clock_jump`` entry to write first when the batch carries a JET entry and
        the wall clock moved more than a minute against the monotonic one since the
        last JET entry (rules/jet.py ``ClockWatch``)."""
        if self.jet is None or not any(isinstance(c, Commit) and any(
                isinstance(op, ChainRecord) and op.chain == jet_store.CHAIN for op in c.ops) for c in commands):
            return None
        jump = self._clock_watch.observe(self.clock.now(), trio.current_time())
        if jump is None:
            return None
        self._log.warning("clock_jump", seconds=jump.seconds, expected=jump.expected.isoformat(),
                          found=jump.found.isoformat())
        return ChainRecord(chain=jet_store.CHAIN, at=jump.found, record=jump.record())

    # --- the technical event journal (worker thread) ---------------------------------

    def _chain_inbox(self) -> None:
        """Chain what tools left in the inbox (a look first: usually nothing)."""
        writer = self._writer
        if writer is not None and jet_store.inbox_waiting(writer.db):
            jet_unit(writer, jet_store.chain_inbox)

    def _write_batch(self, commands: list[Any]) -> list[Any]:
        """Worker thread: the whole batch in one transaction.

        First without savepoints, the units' events and lane states kept back and
        written at the end in one statement each (``Writer.defer``/``flush``): every
        SQLite call costs a GIL hand-over while the event loop is busy, and a
        savepoint is two of them per unit. Units almost never fail; when one does
        (or the final rows do), the transaction is rolled back and the batch is
        written again with a savepoint a unit and nothing kept back, so only the
        failing unit is lost (and the fiscal heads move only for the units written).
        """
        writer = self._writer
        assert writer is not None

        def write(db: sqlite3.Connection, _heads: Heads) -> list[Any]:
            before = writer.snapshot()
            try:
                writer.defer()  # events and lane states: one statement each, at the end
                answers = [self._run(writer, command, unit=_write_ops) for command in commands]
                try:
                    writer.flush()
                except (sqlite3.Error, ValueError, TypeError) as error:
                    raise _UnitFailed() from error  # whose rows? the redo below tells
            except _UnitFailed:
                db.execute("ROLLBACK")
                writer.restore(before)
                self.batches_redone += 1
                writer.begin()
                answers = [self._run(writer, command, unit=self._write_unit) for command in commands]
            return answers

        return writer.transaction(write)

    @staticmethod
    def _run(writer: Writer, command: Any, *, unit: Callable[[Writer, tuple[Op, ...]], Any]) -> Any:
        match command:
            case Commit(ops=ops):
                return unit(writer, ops)
            case Read(fn=fn):
                # A read function may write (the demo seed, head office's holds): in a
                # savepoint of its own, so one that raises leaves nothing of it in the
                # batch's transaction, which commits the other units.
                db = writer.db
                writer.forget_levels()
                db.execute("SAVEPOINT read")
                try:
                    answer = fn(db)
                except Exception as error:  # a bad query is the asker's bug: box it
                    db.execute("ROLLBACK TO read")
                    db.execute("RELEASE read")
                    return ReadFailed(repr(error))
                finally:
                    writer.forget_levels()
                db.execute("RELEASE read")
                return answer
        return CommitFailed(f"not a journal command: {command!r}")

    def _busy(self) -> None:
        """Worker thread: another process held the write lock a whole busy timeout (10 s)
        while a batch waited to begin; it waits on (store/writes.py ``Writer.begin``)."""
        self._log.warning("journal_waiting_for_write_lock",
                          message="another process (a laneserver command: a catalog import?) holds the "
                                  "database's write lock; the tills' requests wait for it")

    # --- the fiscal anchor (worker thread) -------------------------------------------

    def _anchor_if_moved(self) -> None:
        """Rewrite the anchor if the heads moved since it was last written.

        Called after a COMMIT: the anchor never leads the database. A failed
        write is logged and retried after the next commit; the sale itself is
        durable already, and a lagging anchor is still a valid prefix.
        """
        writer = self._writer
        if writer is None or writer.heads == self._anchored:
            return
        heads = writer.snapshot()
        assert self._key is not None
        started = time.perf_counter()
        try:
            write_anchor(self.anchor_file, heads, self._key)
        except OSError as error:
            self._log.error("fiscal_anchor_write_failed", anchor=str(self.anchor_file), error=str(error))
            return
        self.anchor_seconds += time.perf_counter() - started
        self.anchor_writes += 1
        self._anchored = heads

    @staticmethod
    def _write_unit(writer: Writer, ops: tuple[Op, ...]) -> CommitResult | CommitFailed:
        db = writer.db
        heads = writer.snapshot()
        db.execute("SAVEPOINT unit")
        try:
            results = tuple(writer.apply(op) for op in ops)
        except (sqlite3.Error, ValueError, TypeError) as error:
            db.execute("ROLLBACK TO unit")
            db.execute("RELEASE unit")
            writer.restore(heads)
            if isinstance(error, BooksChanged):  # its words go to the client: what changed
                return CommitFailed(str(error), changed=True)
            return CommitFailed(repr(error), key_reused=isinstance(error, KeyReused))
        db.execute("RELEASE unit")
        return CommitResult(results)


class _UnitFailed(Exception):
    """A unit failed in a batch written without savepoints: write it again with them."""


def _write_ops(writer: Writer, ops: tuple[Op, ...]) -> CommitResult:
    try:
        return CommitResult(tuple(writer.apply(op) for op in ops))
    except (sqlite3.Error, ValueError, TypeError) as error:
        raise _UnitFailed() from error


def _close(db: sqlite3.Connection) -> None:
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


async def commit(journal: Address, *ops: Op) -> tuple[Any, ...]:
    """Write ``ops`` as one durable unit; returns one result per op.

    Raises:
        CommitFailed: the unit was rolled back (nothing of it was written).
        ActorFailed: the journal stopped before answering.
    """
    answer = await journal.ask(Commit(tuple(ops)))
    if isinstance(answer, CommitFailed):
        raise answer
    return answer.results


async def read(journal: Address, fn: Callable[[sqlite3.Connection], Any]) -> Any:
    """Run ``fn(connection)`` on the journal's thread and return its value."""
    answer = await journal.ask(Read(fn))
    if isinstance(answer, ReadFailed):
        raise answer
    return answer
