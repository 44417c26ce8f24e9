"""The backups actor: scheduled online backups of the database (``[backup]`` in the
shop file), each checked after it is written, the newest ``keep`` kept.

The copy, its check and the pruning (store/backups.py) are blocking: they run in a
worker thread of this actor's own (``CapacityLimiter(1)``), on a connection of its own,
never on the journal's. The copy holds one read transaction, which in WAL mode never
blocks the journal's writes; the check reads the copy, not the live file.

When: ``every`` after the newest backup in the folder (its name says when it was
taken), so a server restarted more often than ``every`` still backs up; at start when
the newest is older than that. ``BackupNow`` takes one at once (the schedule goes on).

A backup that fails (a full disk, a folder missing, a copy that does not pass its
check) is logged ``backup_failed`` and counted (``BackupStatus``, ``/metrics``); the
next one is tried at the next period. A written one is logged ``backup_written`` and
journaled (event ``backup_written``: file, heads, size), which is what "last backup"
reads from. A device-like actor (DEVICE_POLICY): its failures never reach the tills.

Shutdown: when its mailbox is closed it ends; a copy in progress is abandoned at its
next step once the actor is cancelled (the half-written file is removed).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import msgspec
import trio

from laneserver.actors.journal import CommitFailed, commit
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock
from laneserver.log import get_logger
from laneserver.store.status import note_backup
from laneserver.store.backups import Backup, BackupFailed, backup_name, backups_in, prune, read_only, write_backup
from laneserver.store.ops import RecordEvent
from laneserver.store.schema import DATA_FOLDER_MODE

MAILBOX = 4
# Seconds the journal is given to record a written backup.
JOURNAL_SECONDS = 5.0


class BackupNow(msgspec.Struct, frozen=True):
    """Take a backup now; the reply is a ``Backup`` or the ``BackupFailed`` met."""


class BackupStatus:
    """What the backups actor did last, for ``/metrics``; written by the actor only (it
    outlives the actor's restarts)."""

    def __init__(self) -> None:
        self.last: Backup | None = None
        self.last_at: dt.datetime | None = None  # when the last good backup began
        self.failures = 0
        self.last_error = ""


class BackupsActor:
    def __init__(self, database: Path, *, folder: Path, every: float, keep: int, journal: Address, clock: Clock,
                 status: BackupStatus, create_folder: bool) -> None:
        self.database = database
        self.folder = folder
        self.every = every
        self.keep = keep
        self.journal = journal
        self.clock = clock
        self.status = status
        self.create_folder = create_folder
        self._limiter = trio.CapacityLimiter(1)
        self._log = get_logger("backups", folder=str(folder))

    async def run(self, inbox: trio.MemoryReceiveChannel, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        due = trio.current_time() + await trio.to_thread.run_sync(self._first_delay, limiter=self._limiter)
        task_status.started()
        self._log.info("backups_scheduled", every=self.every, keep=self.keep, first_in=round(due - trio.current_time()))
        while True:
            envelope = None
            with trio.move_on_at(due):
                try:
                    envelope = await inbox.receive()
                except (trio.EndOfChannel, trio.ClosedResourceError):
                    return
            if envelope is None:
                await self._take()
                due = trio.current_time() + self.every
                continue
            with envelope:
                match envelope.command:
                    case BackupNow():
                        envelope.reply(await self._take())
                    case other:
                        raise TypeError(f"backups got {other!r}")

    def _first_delay(self) -> float:
        """Seconds until the first backup: ``every`` after the newest one in the folder."""
        try:
            existing = backups_in(self.folder)
        except OSError:  # unreadable: the backup itself will say why
            return 0.0
        if not existing:
            return 0.0
        stamp = existing[-1].name.removeprefix("laneserver-").removesuffix(".sqlite3")
        taken = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.timezone.utc)
        return max(0.0, min(self.every, (taken - self.clock.now()).total_seconds() + self.every))

    async def _take(self) -> Backup | BackupFailed:
        now = self.clock.now()
        abort = threading.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_abort_when_cancelled, abort)
            try:
                done = await trio.to_thread.run_sync(self._write, now, abort, limiter=self._limiter)
            finally:
                nursery.cancel_scope.cancel()
        if isinstance(done, BackupFailed):
            self.status.failures += 1
            self.status.last_error = str(done)
            self._log.error("backup_failed", error=str(done), failures=self.status.failures)
            return done
        backup, removed = done
        self.status.last, self.status.last_at = backup, now
        self._log.info("backup_written", file=str(backup.path), sales=backup.heads.sale_number,
                       size=backup.size, seconds=round(backup.seconds, 3), removed=[p.name for p in removed])
        try:
            with trio.fail_after(JOURNAL_SECONDS):
                await commit(self.journal, RecordEvent(
                    at=now, source="backups", kind="backup_written",
                    data={"file": str(backup.path), "size": backup.size, "sale": backup.heads.sale_number,
                          "payment": backup.heads.payment_number, "money": backup.heads.money_number,
                          "seconds": round(backup.seconds, 3)}))
        except (CommitFailed, ActorFailed, trio.TooSlowError) as error:
            self._log.warning("backup_not_journaled", file=str(backup.path), error=repr(error))
        return backup

    def _write(self, now: dt.datetime, abort: threading.Event) -> tuple[Backup, list[Path]] | BackupFailed:
        """Worker thread: copy, check, anchor, then prune to the ``keep`` newest. A failure
        is returned, not raised (the caller counts it and goes on)."""
        try:
            if self.create_folder:
                self.folder.mkdir(mode=DATA_FOLDER_MODE, parents=True, exist_ok=True)
            elif not self.folder.is_dir():
                raise BackupFailed(f"no folder {self.folder} to write the backups in: create it (owned by the "
                                   "service's user) or fix backup.folder")
            source = read_only(self.database)
            try:
                backup = write_backup(source, self.folder / backup_name(now), abort=abort)
                # For ``laneserver status`` and /metrics: the meta row ``laneserver
                # backup`` writes too (not fiscal; a one-row write beside the journal's).
                note_backup(source, now.astimezone(dt.timezone.utc).isoformat(timespec="seconds"), backup.path)
            finally:
                source.close()
            return backup, prune(self.folder, self.keep)
        except BackupFailed as failed:
            return failed
        except (OSError, sqlite3.Error) as error:
            return BackupFailed(f"{type(error).__name__}: {error}")


async def _abort_when_cancelled(abort: threading.Event) -> None:
    """Set ``abort`` when cancelled: the copy in the worker thread stops at its next step."""
    try:
        await trio.sleep_forever()
    finally:
        abort.set()
