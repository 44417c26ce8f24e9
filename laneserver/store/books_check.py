"""The books checked before the server writes on them: SQLite's own checks of the file,
and the fiscal chains from the last point a start checked.

``verify`` walks every chain from its first record; a start cannot afford that on a
shop with millions of records, so the journal walks only the records written since
the last start checked (``checked_since``) and then notes the heads it reached in
``meta`` (``mark_checked``: key ``chain_checked:<chain>``, value ``"<number> <hash>"``).
A point that no longer matches the database (its record gone, or rewritten) is not
trusted: that chain is walked from its first record. So every record is checked at
least once, at the first start after it was written; a record changed after it was
checked is found by ``laneserver verify`` (and a rewritten tail by the anchor), not
by the start. docs/operations.md, "A refused start-up"; figures in docs/performance.md.
"""

from __future__ import annotations

import sqlite3
from functools import partial

from laneserver.rules.fiscal import GENESIS, Broken, ChainEnd, walk
from laneserver.store.fiscal import ALL_CHAINS, chain_rows, hash_of, unchained_money, unknown_chains

CHECKED_KEY = "chain_checked:{}"
CHAINS = tuple((chain, partial(chain_rows, chain=chain)) for chain in ALL_CHAINS)
# Findings of an integrity check shown at most (SQLite stops there).
MAX_FINDINGS = 20


def quick_check(db: sqlite3.Connection) -> list[str]:
    """SQLite's ``PRAGMA quick_check``: the b-trees and pages are well formed (it reads
    every page, but does not compare the indexes with their tables). [] when ok."""
    return _findings(db.execute(f"PRAGMA quick_check({MAX_FINDINGS})").fetchall())


def integrity_check(db: sqlite3.Connection) -> list[str]:
    """SQLite's ``PRAGMA integrity_check``: ``quick_check`` plus every index against its
    table (a damaged index or ``replies`` page shows here). [] when ok."""
    return _findings(db.execute(f"PRAGMA integrity_check({MAX_FINDINGS})").fetchall())


def _findings(rows: list[tuple]) -> list[str]:
    findings = [str(row[0]) for row in rows]
    return [] if findings == ["ok"] else findings


def checked_heads(db: sqlite3.Connection) -> dict[str, tuple[int, str]]:
    """The last record of each chain a start checked: ``{chain: (number, hash)}``."""
    heads = {}
    for chain, _ in CHAINS:
        row = db.execute("SELECT value FROM meta WHERE key=?", (CHECKED_KEY.format(chain),)).fetchone()
        if row is not None:
            number, _, digest = row[0].partition(" ")
            heads[chain] = (int(number), digest)
    return heads


def checked_since(db: sqlite3.Connection) -> list[ChainEnd | Broken]:
    """Walk each chain (store/fiscal.py ALL_CHAINS) from the last record a start checked.

    Returns, per chain, its end (``count``: the records walked now) or the first
    broken record. A checked point whose record is missing or has another hash
    is not trusted: that chain is walked from its first record.
    """
    heads = checked_heads(db)
    results: list[ChainEnd | Broken] = []
    for chain, rows in CHAINS:
        after, prev = heads.get(chain, (0, GENESIS))
        if after and hash_of(db, chain, after) != prev:
            after, prev = 0, GENESIS
        result = walk(chain, rows(db, after=after), first_number=after + 1, prev_hash=prev)
        if chain == "money" and isinstance(result, ChainEnd):
            seq = db.execute("SELECT seq FROM money_in WHERE number=?", (after,)).fetchone() if after else None
            result = unchained_money(db, seq[0] if seq else 0) or result
        results.append(result)
    stray = unknown_chains(db)
    if stray is not None:
        results.append(stray)
    return results


def mark_checked(db: sqlite3.Connection, ends: list[ChainEnd]) -> None:
    """Note the heads a start reached, in one transaction of its own."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for (chain, _), end in zip(CHAINS, ends):
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                       (CHECKED_KEY.format(chain), f"{end.last_number} {end.last_hash}"))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
