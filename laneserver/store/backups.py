"""Backups that restore: a consistent copy of the live database, checked after it is
written, with its fiscal anchor beside it; and putting one back.

Blocking functions, called by the command line (``laneserver backup``, ``restore``) and
by the backups actor (actors/backups.py) in its own worker thread, on its own
connection: never on the journal's.

The copy (``copy_database``) uses SQLite's online backup API in steps of
``STEP_PAGES`` pages inside ONE read transaction held on the source connection. In WAL
mode a reader never blocks the writer, so the journal keeps committing while the copy
runs; and the held transaction pins the snapshot, so the copy is the database as it
was at the start of the transaction. (Without it, SQLite restarts a stepped backup
whenever another connection writes between two steps: under a busy shop it would
never end. Measured: 102,169 steps and 3 s for a 9 MB file under a busy writer, against
126 steps and 20 ms in one snapshot.) Between steps the copy can be abandoned
(``abort``): a stopping server does not wait for a large copy.

A backup ``laneserver-….sqlite3`` is written as ``….partial``, checked
(``check_copy``: ``PRAGMA quick_check`` and every fiscal chain walked), given its
anchor ``….sqlite3.fiscal-anchor.json`` (the heads of the copy itself, store/fiscal.py)
and only then renamed to its name: a file without ``.partial`` is a checked backup.
Both anchors (beside a backup, and the one ``restore`` writes) are signed with the shop
key of the data folder (unsigned when it has none yet).

``restore`` puts one back on a stopped server (docs/operations.md, "Restoring a
backup").
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import threading
import time
from pathlib import Path

import msgspec

from laneserver.rules.fiscal import AnchorUnreadable, Broken
from laneserver.store import books_check
from laneserver.store.fiscal import (
    ANCHOR_NAME,
    Heads,
    anchor_path,
    check_anchor,
    encode,
    load_heads,
    read_anchor,
    shop_key_of,
    verify_chains,
    write_anchor,
)
from laneserver.store.schema import DB_MODE, DB_NAME, MIGRATIONS, SchemaTooNew, connect

# Pages copied per step of the backup API (4 KiB pages: 4 MiB a step).
STEP_PAGES = 1024
# A scheduled backup's file name; the time is when its copy began (UTC).
NAME_PREFIX = "laneserver-"
NAME_SUFFIX = ".sqlite3"
_NAME = re.compile(r"laneserver-\d{8}T\d{6}\.\d{6}Z\.sqlite3")
PARTIAL = ".partial"
ANCHOR_SUFFIX = "." + ANCHOR_NAME


class BackupFailed(Exception):
    """The copy could not be written, or it did not pass its check; nothing is kept."""


class RestoreRefused(Exception):
    """``restore`` will not put this backup in place; nothing was changed."""


class Backup(msgspec.Struct, frozen=True):
    """A checked backup: its file, the heads it holds, its size and how long it took."""

    path: Path
    heads: Heads
    size: int
    seconds: float


def backup_name(at: dt.datetime) -> str:
    """A scheduled backup's file name: ``laneserver-20261206T101500.123456Z.sqlite3``."""
    return f"{NAME_PREFIX}{at.astimezone(dt.timezone.utc):%Y%m%dT%H%M%S.%fZ}{NAME_SUFFIX}"


def backup_anchor(backup: Path) -> Path:
    """The anchor kept beside a backup: ``<backup>.fiscal-anchor.json``."""
    return backup.with_name(backup.name + ANCHOR_SUFFIX)


def read_only(path: Path) -> sqlite3.Connection:
    """A connection of our own to a database that exists, neither migrated nor created."""
    if not path.exists():
        raise FileNotFoundError(f"no database at {path}")
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    db.execute("PRAGMA busy_timeout=10000")
    return db


def database_file(db: sqlite3.Connection) -> Path:
    """The file of a connection's main database (its data folder holds the shop key)."""
    return Path(db.execute("PRAGMA database_list").fetchone()[2])


def copy_database(source: sqlite3.Connection, dest: Path, *, abort: threading.Event | None = None,
                  pages: int = STEP_PAGES) -> None:
    """Copy ``source`` into the new file ``dest`` (0600; refused if it exists) as one snapshot,
    ``pages`` pages a step.

    Raises:
        BackupFailed: ``dest`` exists or cannot be created, or ``abort`` was set.
        sqlite3.Error: the copy failed (``dest`` is removed).
    """
    try:
        os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DB_MODE))
    except FileExistsError:
        raise BackupFailed(f"{dest} already exists: choose a new file") from None
    except OSError as error:
        raise BackupFailed(f"cannot create {dest}: {error.strerror}") from None

    def progress(_status: int, _remaining: int, _total: int) -> None:
        if abort is not None and abort.is_set():
            raise BackupFailed("the backup was abandoned (the server is stopping)")

    target = sqlite3.connect(dest)
    try:
        # The read transaction pins the snapshot across the steps (see the module's doc).
        source.execute("BEGIN")
        try:
            source.execute("SELECT count(*) FROM sqlite_schema").fetchone()
            source.backup(target, pages=pages, progress=progress)
        finally:
            source.execute("ROLLBACK")
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    except BaseException:
        target.close()
        dest.unlink(missing_ok=True)
        raise
    target.close()
    _fsync(dest)


def check_copy(path: Path, *, full: bool = False) -> tuple[Heads, list[str]]:
    """Check a copy on its own: SQLite's quick check (``full``: integrity check, every
    index against its table) and every fiscal chain from its first record.

    Returns its heads and the findings ([] when it is sound). A copy of an older schema
    is checked as it is (the server migrates it when it starts on it); a newer one is a
    finding.
    """
    db = read_only(path)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            return Heads(), [f"it is at schema {version}, newer than this laneserver knows ({len(MIGRATIONS)})"]
        try:
            findings = books_check.integrity_check(db) if full else books_check.quick_check(db)
        except sqlite3.DatabaseError as error:
            return Heads(), [f"SQLite: {error}"]
        if findings:
            return Heads(), [f"SQLite {'integrity' if full else 'quick'} check: {f}" for f in findings]
    finally:
        db.close()
    # The chains are read through today's columns: walk a migrated scratch copy of an
    # older file, never the file itself.
    if version < len(MIGRATIONS):
        return _check_old(path)
    db = read_only(path)
    try:
        chains = verify_chains(db)
        heads = load_heads(db)
    except sqlite3.DatabaseError as error:
        return Heads(), [f"the fiscal chains cannot be read: {error}"]
    finally:
        db.close()
    return heads, [f"fiscal chain broken at {end}" for end in chains if isinstance(end, Broken)]


def _check_old(path: Path) -> tuple[Heads, list[str]]:
    scratch = path.with_name(path.name + ".check")
    scratch.unlink(missing_ok=True)
    try:
        source = read_only(path)
        try:
            copy_database(source, scratch)
        finally:
            source.close()
        connect(scratch, create=False).close()  # migrated as the server would
        return check_copy(scratch)
    finally:
        scratch.unlink(missing_ok=True)


def write_backup(source: sqlite3.Connection, dest: Path, *, abort: threading.Event | None = None) -> Backup:
    """Copy ``source`` to ``dest`` (through ``dest.partial``), check the copy, write its
    anchor beside it, then give it its name. Nothing is left behind on failure.

    Raises:
        BackupFailed: ``dest`` exists, the copy could not be written or did not pass its
            check (the message says which finding).
    """
    started = time.perf_counter()
    if dest.exists():
        raise BackupFailed(f"{dest} already exists: choose a new file")
    partial = dest.with_name(dest.name + PARTIAL)
    anchor = backup_anchor(dest)
    try:
        copy_database(source, partial, abort=abort)
        heads, findings = check_copy(partial)
        if findings:
            raise BackupFailed(f"the copy did not pass its check: {findings[0]}"
                               + (f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""))
        write_anchor(anchor, heads, shop_key_of(database_file(source)))
        os.rename(partial, dest)
        _fsync(dest.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        if not dest.exists():
            anchor.unlink(missing_ok=True)
        raise
    return Backup(dest, heads, dest.stat().st_size, time.perf_counter() - started)


def backups_in(folder: Path) -> list[Path]:
    """The scheduled backups in ``folder``, oldest first (their names sort by time)."""
    try:
        names = sorted(entry.name for entry in os.scandir(folder) if _NAME.fullmatch(entry.name))
    except FileNotFoundError:
        return []
    return [folder / name for name in names]


def prune(folder: Path, keep: int) -> list[Path]:
    """Remove all but the ``keep`` newest scheduled backups (and their anchors), and any
    copy a stopped backup left half written. Returns the backups removed."""
    for entry in os.scandir(folder):
        if entry.name.endswith(PARTIAL) and _NAME.fullmatch(entry.name.removesuffix(PARTIAL)):
            Path(entry.path).unlink(missing_ok=True)
    existing = backups_in(folder)
    removed = existing[:-keep] if keep else existing
    for old in removed:
        old.unlink(missing_ok=True)
        backup_anchor(old).unlink(missing_ok=True)
    return removed


# --- restore -------------------------------------------------------------------------

class Restored(msgspec.Struct, frozen=True):
    heads: Heads
    database_aside: Path | None  # the replaced database, renamed
    anchor_aside: Path | None  # the replaced anchor, renamed
    replaced_heads: Heads | None  # what the replaced anchor held (numbers issued again)
    backup_anchor: bool  # the backup had its anchor beside it


def restore(data: Path, backup: Path, now: dt.datetime) -> Restored:
    """Put ``backup`` in place as the database of ``data`` (the server is stopped: the
    caller holds the data folder's lock).

    The backup is copied into the data folder first and the copy is checked (integrity
    check, every chain, and its heads against the anchor beside it); only a copy that
    passes replaces anything. The database in place (with its ``-wal``) and its anchor
    are renamed ``….replaced-<time>``; the copy takes the database's name; the backup's
    heads become the anchor, so the next start accepts it; a ``backup_restored`` event
    in the restored database says what was replaced.

    Raises:
        RestoreRefused: the backup is missing, damaged, its chains are broken, it does
            not hold its anchored heads, or it is newer than this laneserver.
    """
    if not backup.is_file():
        raise RestoreRefused(f"no backup at {backup}")
    database = data / DB_NAME
    incoming = data / (DB_NAME + ".restoring")
    incoming.unlink(missing_ok=True)
    try:
        try:
            source = read_only(backup)
        except sqlite3.Error as error:
            raise RestoreRefused(f"{backup} cannot be opened: {error}") from None
        try:
            copy_database(source, incoming)
        except (sqlite3.Error, BackupFailed) as error:
            raise RestoreRefused(f"{backup} cannot be copied: {error}") from None
        finally:
            source.close()
        heads, findings = check_copy(incoming, full=True)
        if findings:
            raise RestoreRefused(f"{backup} did not pass its check: {'; '.join(findings[:3])}")
        try:
            connect(incoming, create=False).close()  # migrated now, as the server would
        except SchemaTooNew as error:
            raise RestoreRefused(str(error)) from None
        has_anchor = _check_beside(backup, incoming)
        stamp = f"replaced-{now.astimezone(dt.timezone.utc):%Y%m%dT%H%M%SZ}"
        anchor_file = anchor_path(database)
        replaced_heads = _anchored_heads(anchor_file)
        if anchor_file.with_name(f"{anchor_file.name}.{stamp}").exists():
            raise RestoreRefused(f"{anchor_file.name}.{stamp} exists already: wait a second and try again")
        database_aside = _aside(database, stamp, companions=("-wal", "-shm"))
        os.rename(incoming, database)
        _fsync(data)
        # The replaced anchor last: cut short before the copy is in place, the folder has
        # no database but its anchor, and a start refuses (it would otherwise make a new
        # empty database and number sales from 1 again); cut short after, the anchor
        # refuses the older books until store IT moves it (docs/operations.md).
        anchor_aside = _aside(anchor_file, stamp)
    except BaseException:
        incoming.unlink(missing_ok=True)
        raise
    db = connect(database, create=False)
    try:
        db.execute(
            "INSERT INTO events(at, source, kind, data) VALUES (?,?,?,?)",
            (now.isoformat(), "cli", "backup_restored", encode({
                "backup": str(backup.resolve()), "sale": heads.sale_number, "payment": heads.payment_number,
                "money": heads.money_number, "database_aside": str(database_aside) if database_aside else None,
                "anchor_aside": str(anchor_aside) if anchor_aside else None,
                "replaced_sale": replaced_heads.sale_number if replaced_heads else None,
                "replaced_payment": replaced_heads.payment_number if replaced_heads else None,
                "replaced_money": replaced_heads.money_number if replaced_heads else None,
            })))
    finally:
        db.close()
    write_anchor(anchor_file, heads, shop_key_of(database))  # signed: the next start checks it
    return Restored(heads, database_aside, anchor_aside, replaced_heads, has_anchor)


def _check_beside(backup: Path, copy: Path) -> bool:
    """The copy holds the heads of the anchor beside ``backup``; False when it has none."""
    try:
        anchor = read_anchor(backup_anchor(backup))
    except AnchorUnreadable as error:
        raise RestoreRefused(f"the anchor beside {backup} is unreadable: {error}") from None
    if anchor is None:
        return False
    db = read_only(copy)
    try:
        problems = check_anchor(db, anchor)
    finally:
        db.close()
    if problems:
        raise RestoreRefused(f"{backup} does not hold the heads of its anchor {backup_anchor(backup).name}: "
                             f"{problems[0]}")
    return True


def _anchored_heads(anchor_file: Path) -> Heads | None:
    try:
        anchor = read_anchor(anchor_file)
    except AnchorUnreadable:
        return None
    if anchor is None:
        return None
    return Heads(sale_number=anchor.sale.number, sale_hash=anchor.sale.hash,
                 payment_number=anchor.payment.number, payment_hash=anchor.payment.hash,
                 money_number=anchor.money.number, money_hash=anchor.money.hash)


def _aside(path: Path, stamp: str, companions: tuple[str, ...] = ()) -> Path | None:
    """Rename ``path`` and its companions (``path-wal``…) to ``path.<stamp>``…; returns the
    new name of ``path`` (None if it was absent).

    A database and its ``-wal`` keep their pair of names, so the one set aside still
    opens with everything committed in it; and a ``-wal`` left by a database that is
    gone is moved too: SQLite would otherwise replay it into the restored file."""
    aside = path.with_name(f"{path.name}.{stamp}")
    pairs = [(path.with_name(path.name + suffix), aside.with_name(aside.name + suffix))
             for suffix in ("", *companions)]
    if any(new.exists() for _, new in pairs):
        raise RestoreRefused(f"{aside} exists already: wait a second and try again")
    for old, new in pairs:
        if old.exists():
            os.rename(old, new)
    return aside if aside.exists() else None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

