"""The opening of the books: what the journal checks at start, before it writes anything.

Run on the journal's worker thread (actors/journal.py), in this order: SQLite's
``PRAGMA quick_check`` and the fiscal chains walked from where the last start left off
(store/books_check.py), then the fiscal anchor (``fiscal-anchor.json`` next to the
database) checked against the database and against the shop's Ed25519 key
(``shop-key.pem``, made at the first start, its public part recorded in ``meta``;
store/shop_key.py). The journal refuses to run on a damaged file, a broken chain, a
database that no longer holds the anchored heads (last records removed, older backup
put back), an anchor not signed by the shop key, or a key file missing or replaced:
``BooksRefused``, exit 3 (docs/operations.md "A refused start-up"; docs/reliability.md
says how store IT accepts a restored backup).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path
from typing import Any, NamedTuple

from laneserver.rules.fiscal import AnchorUnreadable, Broken
from laneserver.store import books_check, shop_key
from laneserver.store.fiscal import (
    ALL_CHAINS,
    Heads,
    anchor_of,
    anchor_path,
    check_anchor,
    is_anchored,
    mark_anchored,
    missing_key,
    read_anchor,
    record_key,
    recorded_key,
    replaced_key,
    signature_checks,
    write_anchor,
)
from laneserver.store.ops import RecordEvent
from laneserver.store.writes import Writer


class BooksRefused(RuntimeError):
    """The journal will not open the books: writing on them would bury the evidence
    under new records. ``serve`` exits 3 (the unit does not restart it)."""


class FiscalAnchorError(BooksRefused):
    """The database does not hold the heads its anchor file records."""


class FiscalChainBroken(BooksRefused):
    """A fiscal record written since the last start no longer matches its chain."""


class DatabaseDamaged(BooksRefused):
    """SQLite finds the database file malformed."""


RECOVERY = "docs/operations.md, \"A refused start-up\""


class Opened(NamedTuple):
    """What ``BooksOpening.open_anchor`` did (``checked``, ``created`` or ``reset``),
    the shop's signing key and the heads the anchor file now holds."""

    how: str
    key: shop_key.Ed25519PrivateKey
    anchored: Heads


class BooksOpening:
    """The start-up checks of the database at ``path`` (worker thread), logged on the
    journal's ``log``."""

    def __init__(self, path: Path, log: Any) -> None:
        self.path = path
        self._log = log
        self.anchor_file = anchor_path(path)
        self.key_file = shop_key.key_path(path)

    def open_anchor(self, writer: Writer) -> Opened:
        """At start: load (or, on a database that recorded none, make) the shop key,
        check the database against its anchor and the anchor's signature, then bring
        the anchor up to date, signed. Returns what was done: ``checked``,
        ``created`` (first start of an empty or pre-anchor database) or ``reset``
        (the anchor file was missing on an anchored database: store IT moved it away).

        An unsigned (format-1) anchor, from a release that did not sign, is accepted
        only while the database has recorded no shop key: at the first start of a
        release that signs. It is then replaced by a signed one and the key recorded.

        Raises:
            FiscalAnchorError: the shop key is unreadable, missing or replaced; the
                anchor is unreadable, unsigned or not signed by the shop key; or the
                database does not hold the anchored heads.
        """
        db = writer.db
        recorded = recorded_key(db)
        key = self._load_key(recorded)
        public = shop_key.public_hex(key)
        anchored: Heads | None = None
        try:
            anchor = read_anchor(self.anchor_file)
        except AnchorUnreadable as error:
            raise FiscalAnchorError(self._refusal(str(error))) from None
        if anchor is not None:
            if (anchor.signed or recorded is not None) and not signature_checks(anchor, public):
                raise FiscalAnchorError(
                    f"refusing to start: the fiscal anchor {self.anchor_file} is "
                    f"{'signed' if anchor.signed else 'not signed'}, and not by the shop key (fingerprint "
                    f"{shop_key.fingerprint(public)}): it was written without the shop key, so the database and the "
                    "anchor may have been rewritten together. Run `laneserver verify`, keep a copy of the data "
                    f"folder as it is, and put back the last backup that verifies ({RECOVERY}).")
            problems = check_anchor(db, anchor)
            if problems:
                raise FiscalAnchorError(self._refusal("; ".join(map(str, problems))))
            opened = "checked"
            current = anchor.signed and anchor.same_heads(anchor_of(writer.heads))
            anchored = writer.snapshot() if current else None
        else:
            had_records = any(writer.heads.head(chain)[0] for chain in ALL_CHAINS)
            opened = "reset" if had_records and is_anchored(db) else "created"
            if had_records:
                # The audit trail of an anchor (re)created on existing records.
                kind = "FiscalAnchorReset" if opened == "reset" else "FiscalAnchorCreated"
                _event(writer, kind, {"anchor": self.anchor_file.name, "sale": writer.heads.sale_number,
                                      "sale_hash": writer.heads.sale_hash, "payment": writer.heads.payment_number,
                                      "payment_hash": writer.heads.payment_hash, "money": writer.heads.money_number,
                                      "money_hash": writer.heads.money_hash})
        if anchored is None:
            # An OSError here stops the start: say so loudly.
            write_anchor(self.anchor_file, writer.heads, key)
            anchored = writer.snapshot()
        # After the file: a crash in between leaves an anchor and no mark, which
        # verify treats like any anchor; the mark alone would read as "missing".
        mark_anchored(db)
        if record_key(db, public):
            if any(writer.heads.head(chain)[0] for chain in ALL_CHAINS):
                # Recorded on existing books (the first start of a release that signs, or a
                # new key after a lost one: docs/operations.md): the audit trail says so.
                _event(writer, "ShopKeyRecorded", {"key": public, "fingerprint": shop_key.fingerprint(public)})
            self._log.info("shop_key_recorded", key=str(self.key_file), fingerprint=shop_key.fingerprint(public))
        return Opened(opened, key, anchored)

    def _load_key(self, recorded: str | None) -> shop_key.Ed25519PrivateKey:
        """The shop's signing key; made at the first start (before any anchor is
        signed), never replaced: a database that recorded a key refuses another."""
        try:
            key = shop_key.load_key(self.key_file)
        except shop_key.KeyUnreadable as error:
            raise FiscalAnchorError(self._key_refusal(f"{error}; put back the shop key from the data folder's "
                                                      "backup")) from None
        if key is None:
            if recorded is not None:
                raise FiscalAnchorError(self._key_refusal(missing_key(self.key_file, recorded)))
            key = shop_key.load_or_create(self.key_file)
            self._log.info("shop_key_created", key=str(self.key_file),
                           fingerprint=shop_key.fingerprint(shop_key.public_hex(key)))
        elif recorded is not None and shop_key.public_hex(key) != recorded:
            raise FiscalAnchorError(self._key_refusal(replaced_key(self.key_file, shop_key.public_hex(key),
                                                                   recorded)))
        return key

    def _key_refusal(self, problem: str) -> str:
        return (f"refusing to start: {problem}. Run `laneserver verify` to see what is wrong ({RECOVERY}).")

    def _refusal(self, problem: str) -> str:
        return (
            f"refusing to start: the database {self.path} does not hold the fiscal heads recorded in "
            f"{self.anchor_file} ({problem}). Records were removed, or an older backup was restored. "
            f"Run `laneserver verify` to see what is wrong. To accept a deliberately restored backup, move "
            f"{self.anchor_file.name} out of {self.anchor_file.parent} (keep it with the shop's fiscal records) "
            f"and start again: the server then anchors the restored database as it is ({RECOVERY})."
        )

    def check_books(self, db: sqlite3.Connection) -> list[Any]:
        """At start, before anything is written: SQLite's quick check of the file, then
        the fiscal chains walked from where the last start left off. Returns the
        chains' ends (``books_check.mark_checked`` notes them once the start is sure).

        Raises:
            DatabaseDamaged: the file is malformed.
            FiscalChainBroken: a record since the last checked point breaks its chain.
        """
        started = time.perf_counter()
        try:
            findings = books_check.quick_check(db)
        except sqlite3.DatabaseError as error:
            if not is_damaged(error):
                raise
            findings = [str(error)]
        if findings:
            self._log.error("database_damaged", findings=findings[:5])
            raise DatabaseDamaged(self.damaged(findings))
        checked = time.perf_counter()
        try:
            ends = books_check.checked_since(db)
        except sqlite3.DatabaseError as error:
            if not is_damaged(error):
                raise
            self._log.error("database_damaged", message=str(error))
            raise DatabaseDamaged(self.damaged([str(error)])) from None
        broken = [end for end in ends if isinstance(end, Broken)]
        if broken:
            self._log.error("fiscal_chain_refused", record=str(broken[0]))
            raise FiscalChainBroken(
                f"refusing to start: the fiscal chain is broken at {broken[0]} (in {self.path}); new records "
                "would be chained after it. Run `laneserver verify` to see every finding, keep a copy of the "
                f"data folder as it is, and put back the last backup that verifies ({RECOVERY}).")
        self._log.info("startup_check", quick_check_ms=round((checked - started) * 1000, 1),
                       chains_ms=round((time.perf_counter() - checked) * 1000, 1),
                       checked={chain: end.count for (chain, _), end in zip(books_check.CHAINS, ends)})
        return ends

    def damaged(self, findings: list[str]) -> str:
        """The refusal of a damaged database file."""
        shown = "; ".join(findings[:3]) + (f" (and {len(findings) - 3} more)" if len(findings) > 3 else "")
        return (f"refusing to start: the database {self.path} is damaged (PRAGMA quick_check: {shown}). "
                "Run `laneserver verify` on it, keep a copy of the data folder as it is, and put back the last "
                f"backup that verifies ({RECOVERY}).")


def _event(writer: Writer, kind: str, data: dict[str, Any]) -> None:
    """One journal event, in a transaction of its own (at start)."""
    writer.begin()
    try:
        writer.apply(RecordEvent(at=dt.datetime.now(dt.timezone.utc), source="journal", kind=kind, data=data))
        writer.db.execute("COMMIT")
    except BaseException:
        writer.db.execute("ROLLBACK")
        raise


def is_damaged(error: sqlite3.DatabaseError) -> bool:
    """SQLite says the file is not a (well-formed) database."""
    return getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
