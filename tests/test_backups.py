"""Backups and restore on real SQLite files (store/backups.py), the data folder's lock
(store/data_lock.py) and the ``[backup]`` keys: no server (the drill, tests/e2e/test_drill.py,
runs them end to end)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pytest

from laneserver.config import ConfigError, parse_config
from laneserver.rules.fiscal import decode_anchor
from laneserver.store.backups import (
    BackupFailed,
    RestoreRefused,
    backup_anchor,
    backup_name,
    backups_in,
    copy_database,
    prune,
    read_only,
    restore,
    write_backup,
)
from laneserver.store.data_lock import DataFolderBusy, DataFolderLock
from laneserver.store.fiscal import ANCHOR_NAME, write_anchor, load_heads
from laneserver.store.schema import DB_NAME, MIGRATIONS, connect
from tests.fixtures import old_database

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def data(tmp_path):
    """A data folder whose database holds chained sales (today's schema) and its anchor."""
    folder = tmp_path / "data"
    folder.mkdir()
    old_database.build(folder / DB_NAME, len(MIGRATIONS))
    db = connect(folder / DB_NAME)
    write_anchor(folder / ANCHOR_NAME, load_heads(db), None)  # no shop key yet: unsigned
    db.close()
    return folder


def _sales(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM sales").fetchone()[0]
    finally:
        db.close()


def _tamper(path) -> None:
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER sales_no_update")
    db.execute("UPDATE sales SET total = '0.01' WHERE number = 2")
    db.commit()
    db.close()


class _CommitBetweenSteps:
    """Stands in for ``abort`` (asked after every step of the copy): another connection
    commits a row each time, the busiest writer there can be."""

    def __init__(self, path, limit: int) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA synchronous=OFF")  # the copy is under test, not the disk
        self.calls, self.limit = 0, limit

    def is_set(self) -> bool:
        self.calls += 1
        if self.calls > self.limit:
            raise AssertionError(f"the copy was restarted over and over ({self.limit} steps)")
        self.db.execute("INSERT INTO filler VALUES (randomblob(100))")
        return False


def test_a_copy_under_a_busy_writer_is_one_snapshot(data, tmp_path):
    """One page a step and a commit by another connection after every step: without the
    read transaction held across the steps SQLite restarts the copy at each commit and it
    never ends; with it, the copy ends and is the database as it was when it began."""
    db = sqlite3.connect(data / DB_NAME, isolation_level=None)
    db.execute("CREATE TABLE filler (x BLOB)")
    db.execute("INSERT INTO filler SELECT randomblob(2000) FROM json_each(json_array(1,2,3,4,5,6,7,8,9,10))")
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.close()
    busy = _CommitBetweenSteps(data / DB_NAME, limit=10 * pages)
    source = read_only(data / DB_NAME)
    try:
        copy_database(source, tmp_path / "copy.sqlite3", abort=busy, pages=1)  # type: ignore[arg-type]
    finally:
        source.close()
        busy.db.close()
    assert busy.calls >= pages
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert copy.execute("SELECT count(*) FROM filler").fetchone()[0] == 10
    copy.close()


def test_a_backup_is_checked_and_anchored_before_it_gets_its_name(data, tmp_path):
    source = read_only(data / DB_NAME)
    try:
        backup = write_backup(source, tmp_path / "b.sqlite3")
        with pytest.raises(BackupFailed, match="already exists"):
            write_backup(source, tmp_path / "b.sqlite3")
    finally:
        source.close()
    assert backup.heads.sale_number == old_database.SALES
    anchor = decode_anchor(backup_anchor(backup.path).read_bytes())
    assert (anchor.sale.number, anchor.sale.hash) == (backup.heads.sale_number, backup.heads.sale_hash)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("b.")) == [
        "b.sqlite3", "b.sqlite3.fiscal-anchor.json"]
    assert oct(backup.path.stat().st_mode & 0o777) == "0o600"


def test_a_backup_of_a_broken_chain_fails_and_leaves_nothing(data, tmp_path):
    _tamper(data / DB_NAME)
    source = read_only(data / DB_NAME)
    try:
        with pytest.raises(BackupFailed, match="sale record 2"):
            write_backup(source, tmp_path / "b.sqlite3")
    finally:
        source.close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("b.")]


def test_prune_keeps_the_newest_and_clears_half_written_copies(tmp_path):
    names = [backup_name(NOW + dt.timedelta(hours=h)) for h in range(5)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
        backup_anchor(tmp_path / name).write_bytes(b"{}")
    (tmp_path / (backup_name(NOW + dt.timedelta(hours=9)) + ".partial")).write_bytes(b"x")
    (tmp_path / "laneserver.sqlite3").write_bytes(b"not a backup")
    removed = prune(tmp_path, 2)
    assert [p.name for p in removed] == names[:3]
    assert [p.name for p in backups_in(tmp_path)] == names[3:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*names[3:], *(backup_anchor(tmp_path / n).name for n in names[3:]), "laneserver.sqlite3"])


def _backup(data, dest):
    source = read_only(data / DB_NAME)
    try:
        return write_backup(source, dest)
    finally:
        source.close()


def test_restore_sets_the_replaced_books_aside_and_anchors_the_backup(data, tmp_path):
    backup = _backup(data, tmp_path / "b.sqlite3")
    (data / (DB_NAME + "-wal")).write_bytes(b"")  # a WAL left by a killed server goes aside with it
    replaced_anchor = (data / ANCHOR_NAME).read_bytes()
    done = restore(data, backup.path, NOW)
    assert done.database_aside == data / f"{DB_NAME}.replaced-20261206T100000Z"
    assert (data / f"{DB_NAME}.replaced-20261206T100000Z-wal").exists()
    assert done.anchor_aside is not None and done.anchor_aside.read_bytes() == replaced_anchor
    assert (data / ANCHOR_NAME).read_bytes() == backup_anchor(backup.path).read_bytes()
    db = sqlite3.connect(data / DB_NAME)
    kind, = db.execute("SELECT kind FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    db.close()
    assert kind == "backup_restored"


@pytest.mark.parametrize("fault", ["broken chain", "behind its anchor", "not a database", "newer schema"])
def test_restore_refuses_a_bad_backup_and_changes_nothing(data, tmp_path, fault):
    backup = _backup(data, tmp_path / "b.sqlite3").path
    match fault:
        case "broken chain":
            _tamper(backup)
            expected = "sale record 2"
        case "behind its anchor":
            anchor = backup_anchor(backup)
            text = anchor.read_text().replace('"number":3', '"number":5', 1)
            assert text != anchor.read_text()
            anchor.write_text(text)
            expected = "does not hold the heads of its anchor"
        case "not a database":
            backup.write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000)
            expected = "did not pass its check|cannot be"
        case "newer schema":
            db = sqlite3.connect(backup)
            db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
            db.close()
            expected = "newer than this laneserver"
    before = sorted((p.name, p.read_bytes()) for p in data.iterdir())
    with pytest.raises(RestoreRefused, match=expected):
        restore(data, backup, NOW)
    assert sorted((p.name, p.read_bytes()) for p in data.iterdir()) == before


def test_restore_of_an_old_schema_backup_migrates_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    backup = tmp_path / "old.sqlite3"
    old_database.from_dump(backup)
    done = restore(data, backup, NOW)
    assert done.heads.sale_number == old_database.SALES and not done.backup_anchor
    assert _sales(data / DB_NAME) == old_database.SALES


def test_the_data_folder_lock_is_held_by_one_at_a_time(tmp_path):
    with DataFolderLock(tmp_path).acquire():
        with pytest.raises(DataFolderBusy, match="in use by a running server"):
            DataFolderLock(tmp_path).acquire("restore")
    DataFolderLock(tmp_path).acquire("restore").release()


@pytest.mark.parametrize(("text", "key"), [
    ('every = "0s"', "backup.every"), ('every = "6 hours"', "backup.every"), ("every = 6", "backup.every"),
    ('every = "8d"', "backup.every"), ("keep = 0", "backup.keep"), ('folder = ""', "backup.folder"),
    ('often = "1h"', "backup.often"),
])
def test_bad_backup_keys_are_refused_by_name(text, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_config(f'[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\n[backup]\n{text}\n')


def test_backup_keys():
    config = parse_config('[[stock_points]]\nid = "main"\n[[lanes]]\nid = "1"\n[backup]\nevery = "1h30m"\n')
    assert (config.backup.every_seconds, config.backup.keep, config.backup.folder) == (5400.0, 7, "backups")
    assert parse_config('[[stock_points]]\nid = "m"\n[[lanes]]\nid = "1"\n').backup.every_seconds is None


def test_an_abandoned_backup_leaves_nothing(data, tmp_path):
    """A stopping server sets ``abort``: the copy stops at its next step."""
    abort = threading.Event()
    abort.set()
    source = read_only(data / DB_NAME)
    try:
        with pytest.raises(BackupFailed, match="abandoned"):
            write_backup(source, tmp_path / "b.sqlite3", abort=abort)
    finally:
        source.close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("b.")]


class _Cut(BaseException):
    """The power cut: the restore stops at this step."""


def _start(data) -> int | str:
    """What a server's journal does on ``data``: the sales it opens with, or ``refused``."""
    import trio

    from laneserver.actors.journal import JournalActor
    from laneserver.actors.journal_open import BooksRefused
    from laneserver.actors.runtime import open_mailbox

    async def main() -> int | str:
        actor = JournalActor(data / DB_NAME)
        address, inbox = open_mailbox("journal", 4)
        refused = False
        try:
            with trio.fail_after(10):
                async with trio.open_nursery() as nursery:
                    await nursery.start(actor.run, inbox)
                    address.close()
        except* BooksRefused:
            refused = True
        if refused:
            return "refused"
        assert actor._writer is not None
        return actor._writer.heads.sale_number

    return trio.run(main)


@pytest.mark.parametrize("cut", range(4))
def test_a_restore_cut_short_never_leaves_books_a_start_would_open_empty(data, tmp_path, monkeypatch, cut):
    """A power cut at each rename of ``restore`` (the database and its WAL set aside, the
    anchor set aside, the copy put in place): the next start opens the books with their
    sales or refuses, never a new empty database that would number sales from 1 again."""
    import os

    backup = _backup(data, tmp_path / "b.sqlite3").path
    (data / (DB_NAME + "-wal")).write_bytes(b"")  # a WAL left by a killed server
    renamed = []
    rename = os.rename

    def cut_short(source, dest):
        if len(renamed) == cut:
            raise _Cut()
        renamed.append(dest)
        rename(source, dest)

    monkeypatch.setattr(os, "rename", cut_short)
    with pytest.raises(_Cut):
        restore(data, backup, NOW)
    monkeypatch.undo()
    assert _start(data) in ("refused", old_database.SALES)
