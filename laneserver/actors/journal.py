"""The journal actor: the only writer of the database.

It owns one SQLite connection and reaches it through one worker thread
(``trio.to_thread.run_sync`` with a ``CapacityLimiter(1)``). Its loop is a group
commit: it takes the first unit of work waiting in its mailbox plus every other
one already queued (up to ``MAX_BATCH``), writes them all in ONE transaction —
each unit in its own savepoint, so one failing unit does not sink the others —
commits, and only then answers each asker. Units that arrive while a commit is
in flight wait in the mailbox and go into the next transaction.

Commands:
  Commit(ops)  → CommitResult(results)   durable once answered
  Read(fn)     → fn(connection)          on the same thread, after the writes
                                          queued before it

Shutdown: when the mailbox is closed the loop drains what is queued, then
checkpoints and closes the database under a shielded, bounded scope.
"""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

import msgspec
import trio

from laneserver.actors.runtime import Address, Envelope
from laneserver.log import get_logger
from laneserver.store import schema
from laneserver.store.ops import Op
from laneserver.store.writes import Writer

MAX_BATCH = 256
FINAL_FLUSH_SECONDS = 5.0


class Commit(msgspec.Struct, frozen=True):
    ops: tuple[Op, ...]


class Read(msgspec.Struct, frozen=True):
    fn: Callable[[sqlite3.Connection], Any]


class CommitResult(msgspec.Struct, frozen=True):
    results: tuple[Any, ...]


class CommitFailed(Exception):
    """A unit of work was rolled back; nothing of it was written."""


class JournalActor:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._limiter = trio.CapacityLimiter(1)
        self._writer: Writer | None = None
        self._log = get_logger("journal", db=str(path))
        self.commits = 0
        self.units = 0

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await trio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        db = await self._in_thread(schema.connect, self.path)
        try:
            self._writer = await self._in_thread(Writer, db)
            task_status.started()
            self._log.info("journal_started", sales=self._writer.heads.sale_number)
            while True:
                try:
                    first = await inbox.receive()
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    break
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(inbox.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                        break
                await self._process(batch)
        finally:
            with trio.CancelScope(shield=True, deadline=trio.current_time() + FINAL_FLUSH_SECONDS):
                await self._in_thread(_close, db)
                self._log.info("journal_closed", commits=self.commits, units=self.units)

    async def _process(self, batch: list[Envelope]) -> None:
        with ExitStack() as stack:
            for envelope in batch:
                # Closes every reply channel on the way out, answered or not, so
                # an asker never waits on a batch whose transaction failed.
                stack.enter_context(envelope)
            answers = await self._in_thread(self._write_batch, [e.command for e in batch])
            self.commits += 1
            self.units += len(batch)
            for envelope, answer in zip(batch, answers):
                envelope.reply(answer)

    def _write_batch(self, commands: list[Any]) -> list[Any]:
        """Worker thread: the whole batch in one transaction, a savepoint a unit."""
        writer = self._writer
        assert writer is not None
        db = writer.db
        before = writer.snapshot()
        answers: list[Any] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            for command in commands:
                match command:
                    case Commit(ops=ops):
                        answers.append(self._write_unit(writer, ops))
                    case Read(fn=fn):
                        try:
                            answers.append(fn(db))
                        except Exception as error:  # a bad query is the asker's bug: box it
                            answers.append(ReadFailed(repr(error)))
                    case _:
                        answers.append(CommitFailed(f"not a journal command: {command!r}"))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            writer.restore(before)
            raise
        return answers

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
            return CommitFailed(repr(error))
        db.execute("RELEASE unit")
        return CommitResult(results)


class ReadFailed(Exception):
    """A read function raised; the journal itself is fine."""


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
