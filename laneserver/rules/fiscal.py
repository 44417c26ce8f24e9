"""The fiscal chain: canonical encoding and SHA-256 chaining of fiscal records.

Each fiscal record (a completed sale, a payment) is hashed over its canonical
encoding — JSON with sorted keys, money and quantities as decimal strings,
timestamps in ISO 8601 — together with the previous record's hash:

    hash = sha256(prev_hash + "\\n" + canonical(record))

The first record of a chain has ``GENESIS`` as its previous hash. ``walk`` checks a
chain in order and names the first record that breaks it: a changed field (its
hash no longer matches), a removed or re-ordered record (its ``prev_hash`` is not
the previous record's hash), or a gap in the numbering.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec

GENESIS = "0" * 64

_encoder = msgspec.json.Encoder(order="sorted", decimal_format="string")


def canonical(record: dict[str, Any]) -> bytes:
    return _encoder.encode(record)


def chain_hash(prev_hash: str, record: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical(record))
    return digest.hexdigest()


class ChainRow(msgspec.Struct, frozen=True):
    """One stored record as read back: its number, fields, and the stored hashes."""

    number: int
    record: dict[str, Any]
    prev_hash: str
    hash: str


class Broken(msgspec.Struct, frozen=True):
    chain: str
    number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.chain} record {self.number}: {self.reason}"


class ChainEnd(msgspec.Struct, frozen=True):
    count: int
    last_number: int
    last_hash: str


def walk(chain: str, rows: Iterable[ChainRow], *, first_number: int = 1) -> ChainEnd | Broken:
    """Check a chain in number order. Returns its end, or the first broken record."""
    prev = GENESIS
    expected = first_number
    count = 0
    for row in rows:
        if row.number != expected:
            return Broken(chain, expected, f"missing (next stored record is {row.number})")
        if row.prev_hash != prev:
            return Broken(chain, row.number, "previous-hash link broken (a record before it was removed, changed or reordered)")
        if chain_hash(prev, row.record) != row.hash:
            return Broken(chain, row.number, "content does not match its hash (a field was changed)")
        prev = row.hash
        expected += 1
        count += 1
    return ChainEnd(count=count, last_number=expected - 1, last_hash=prev)
