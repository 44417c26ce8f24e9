"""The backups actor on a real SQLite file, beside a real journal: the first backup comes
``every`` after the newest in the folder (at once without one), ``BackupNow`` takes one,
the ``keep`` newest are kept, each written one is journaled, a failure is counted and the
actor goes on. Real time (the work is in worker threads), bounded by ``fail_after``."""

from __future__ import annotations

import datetime as dt
import sqlite3

import trio

from laneserver.actors.backups import BackupNow, BackupsActor, BackupStatus
from laneserver.actors.journal import JournalActor
from laneserver.actors.runtime import open_mailbox
from laneserver.clock import FixedClock
from laneserver.store.backups import Backup, BackupFailed, backup_anchor, backup_name, backups_in
from laneserver.store.schema import DB_NAME, MIGRATIONS
from tests.fixtures import old_database

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
HOUR = 3600.0


async def _run(tmp_path, body, *, create_folder=True, folder_name="backups", existing=()):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    old_database.build(data / DB_NAME, len(MIGRATIONS))
    folder = data / folder_name if create_folder else tmp_path / folder_name
    for name in existing:
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes(b"x")
    status = BackupStatus()
    clock = FixedClock(NOW)
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            journal, journal_inbox = open_mailbox("journal", 16)
            await nursery.start(JournalActor(data / DB_NAME).run, journal_inbox)
            backups, inbox = open_mailbox("backups", 4)
            actor = BackupsActor(data / DB_NAME, folder=folder, every=HOUR, keep=2, journal=journal, clock=clock,
                                 status=status, create_folder=create_folder)
            await nursery.start(actor.run, inbox)
            await body(backups, folder, status, clock)
            backups.close()
            journal.close()
    return data, status


async def test_without_a_backup_the_first_is_taken_at_start_and_keep_holds(tmp_path):
    async def body(backups, folder, status, clock):
        while status.last is None:  # noqa: ASYNC110 (the first backup is due at once)
            await trio.sleep(0.01)
        for _ in range(2):
            clock.advance(minutes=1)
            reply = await backups.ask(BackupNow())
            assert isinstance(reply, Backup), reply
        assert [p.name for p in backups_in(folder)] == [
            backup_name(NOW + dt.timedelta(minutes=1)), backup_name(NOW + dt.timedelta(minutes=2))]
        assert all(backup_anchor(p).exists() for p in backups_in(folder))

    data, status = await _run(tmp_path, body)
    assert status.failures == 0 and status.last.heads.sale_number == old_database.SALES
    db = sqlite3.connect(data / DB_NAME)
    assert db.execute("SELECT count(*) FROM events WHERE kind = 'backup_written'").fetchone()[0] == 3
    db.close()


async def test_a_recent_backup_puts_the_first_one_period_after_it(tmp_path):
    recent = backup_name(NOW - dt.timedelta(minutes=10))

    async def body(backups, folder, status, clock):
        await trio.sleep(0.3)
        assert status.last is None
        assert [p.name for p in backups_in(folder)] == [recent]

    await _run(tmp_path, body, existing=[recent])


async def test_a_missing_folder_is_a_counted_failure_and_the_actor_goes_on(tmp_path):
    async def body(backups, folder, status, clock):
        reply = await backups.ask(BackupNow())
        assert isinstance(reply, BackupFailed) and "no folder" in str(reply)
        folder.mkdir()
        assert isinstance(await backups.ask(BackupNow()), Backup)

    _, status = await _run(tmp_path, body, create_folder=False)
    assert status.failures >= 1 and "no folder" in status.last_error and status.last is not None
