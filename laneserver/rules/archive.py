"""The signed archive of a period: its format, and its check (no database, no data folder).

An archive is a text file of JSON lines, each in canonical form (keys sorted, no spaces,
UTF-8; what rules/fiscal.py ``canonical`` writes) and ended by ``\\n``:

1. the header: ``{"type": "archive", "format": 1, "software": …, "version": …, "shop": …,
   "period": "YYYY-MM", "partial": bool, "why_partial"?: …, "created_at": …,
   "public_key": 64 hex digits, "fingerprint": …, "chains": [names]}``;
2. for each chain, in the header's order: a ``{"type": "chain", "chain": …, "after": N,
   "prev_hash": …}`` line (the archive's records of that chain follow record N, whose hash
   is ``prev_hash``), then its records, each ``{"type": "record", "chain": …,
   "number": …, "record": {…}, "prev_hash": …, "hash": …}``, with no gap;
3. the trailer: ``{"type": "trailer", "lines": L, "header_hash": …, "digest": …,
   "signature": …}``: L the lines before it, ``header_hash`` the SHA-256 of the header
   line, ``digest`` the SHA-256 of every byte before the trailer, ``signature`` the shop
   key's Ed25519 signature of the digest's 32 bytes (hex).

``check`` walks the lines and names the first bad one: a line that is not canonical
JSON, a record whose hash does not match its content or its previous record, a gap, a
changed header, a trailer that does not match, a signature that does not check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import msgspec

from laneserver.rules.fiscal import canonical, chain_hash

ARCHIVE_FORMAT = 1
# A line longer than this is not an archive line (a sale of 200 lines is ~60 kB).
MAX_LINE = 4 * 1024 * 1024
HEX = frozenset("0123456789abcdef")


class ArchiveRow(msgspec.Struct, frozen=True):
    """One chained record as it goes into an archive."""

    chain: str
    number: int
    record: dict[str, Any]
    prev_hash: str
    hash: str


def line(value: dict[str, Any]) -> bytes:
    return canonical(value) + b"\n"


def build(header: dict[str, Any], chains: Iterable[tuple[str, int, str, Iterable[ArchiveRow]]],
          sign: Callable[[bytes], str]) -> Iterator[bytes]:
    """The archive's lines: ``header`` (type and format added), then per chain ``(name,
    after, prev_hash, rows)`` its start line and rows, then the signed trailer."""
    digest = hashlib.sha256()
    count = 0
    head = line({**header, "type": "archive", "format": ARCHIVE_FORMAT})
    for data in _chain_lines(head, chains):
        digest.update(data)
        count += 1
        yield data
    value = digest.digest()
    yield line({"type": "trailer", "lines": count, "header_hash": hashlib.sha256(head).hexdigest(),
                "digest": value.hex(), "signature": sign(value)})


def _chain_lines(head: bytes, chains: Iterable[tuple[str, int, str, Iterable[ArchiveRow]]]) -> Iterator[bytes]:
    yield head
    for name, after, prev_hash, rows in chains:
        yield line({"type": "chain", "chain": name, "after": after, "prev_hash": prev_hash})
        for row in rows:
            yield line({"type": "record", "chain": row.chain, "number": row.number, "record": row.record,
                        "prev_hash": row.prev_hash, "hash": row.hash})


class Problem(Exception):
    """The first bad line of an archive: ``line`` (1-based) and why."""

    def __init__(self, number: int, reason: str) -> None:
        super().__init__(f"line {number}: {reason}")
        self.line = number
        self.reason = reason


class Checked(msgspec.Struct, frozen=True):
    header: dict[str, Any]
    records: dict[str, int]  # per chain, the records checked
    signed_by: str  # the public key (hex) whose signature checked


_decoder = msgspec.json.Decoder()


def check(lines: Iterable[bytes], signed: Callable[[str, bytes, str], bool],
          public_key: str | None = None) -> Checked:
    """Check an archive's lines; ``signed(public_hex, message, signature_hex)`` checks a
    signature. The signature must be by ``public_key`` when given, else by the key the
    header names.

    Raises:
        Problem: the first bad line.
    """
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    header_hash = ""
    chains: list[str] = []
    records: dict[str, int] = {}
    current: str | None = None
    expected, prev = 0, ""
    trailer: dict[str, Any] | None = None
    number = 0
    for number, data in enumerate(lines, 1):
        if trailer is not None:
            raise Problem(number, "a line after the trailer")
        value = _parse(number, data)
        kind = value.get("type")
        if header is None:
            if kind != "archive" or value.get("format") != ARCHIVE_FORMAT:
                raise Problem(number, f"not a laneserver archive header (format {ARCHIVE_FORMAT})")
            header, header_hash = value, hashlib.sha256(data).hexdigest()
            chains = _names(number, value.get("chains"))
        elif kind == "chain":
            name = value.get("chain")
            if name not in chains or name in records:
                raise Problem(number, f"chain {name!r} is not expected here")
            current, records[name] = name, 0
            expected, prev = _int(number, value.get("after")) + 1, _hash(number, value.get("prev_hash"))
        elif kind == "record":
            if current is None or value.get("chain") != current:
                raise Problem(number, f"a record of chain {value.get('chain')!r} outside its chain's section")
            got = _int(number, value.get("number"))
            what = f"{current} record {got}"
            if got != expected:
                raise Problem(number, f"{current} record {expected} is missing (next is {got})")
            record = value.get("record")
            if not isinstance(record, dict) or value.get("prev_hash") != prev:
                raise Problem(number, f"{what}: previous-hash link broken (a record was removed, changed or moved)")
            if chain_hash(prev, record) != value.get("hash"):
                raise Problem(number, f"{what}: content does not match its hash (a field was changed)")
            prev, expected = value["hash"], expected + 1
            records[current] += 1
        elif kind == "trailer":
            trailer = value
            _check_trailer(number, trailer, digest.hexdigest(), header_hash, number - 1)
            continue
        else:
            raise Problem(number, f"unknown line type {kind!r}")
        digest.update(data)
    if header is None:
        raise Problem(1, "empty: not a laneserver archive")
    if trailer is None:
        raise Problem(number + 1, "no trailer: the archive was cut short")
    missing = [name for name in chains if name not in records]
    if missing:
        raise Problem(number, f"chain {missing[0]!r} named in the header has no section")
    key = public_key if public_key is not None else str(header.get("public_key", ""))
    if public_key is not None and header.get("public_key") != public_key:
        raise Problem(number, "signed, by the header's account, with another key than the one given (--key)")
    signature = trailer.get("signature")
    if not isinstance(signature, str) or len(signature) != 128 or not set(signature) <= HEX:
        raise Problem(number, "the trailer's signature is not 128 lowercase hex digits")
    if not signed(key, bytes.fromhex(trailer["digest"]), signature):
        raise Problem(number, "the signature does not check with the shop's public key")
    return Checked(header, records, key)


def _check_trailer(number: int, trailer: dict[str, Any], digest: str, header_hash: str, lines: int) -> None:
    if trailer.get("header_hash") != header_hash:
        raise Problem(1, "the header was changed (its hash is not the one the trailer holds)")
    if trailer.get("lines") != lines:
        raise Problem(number, f"the trailer counts {trailer.get('lines')!r} lines, the archive has {lines}")
    if trailer.get("digest") != digest:
        raise Problem(number, "the lines do not match the trailer's digest (a line was changed)")


def _parse(number: int, data: bytes) -> dict[str, Any]:
    if len(data) > MAX_LINE:
        raise Problem(number, f"longer than {MAX_LINE} bytes")
    try:
        value = _decoder.decode(data)
    except msgspec.DecodeError as error:
        raise Problem(number, f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise Problem(number, "not a JSON object")
    if line(value) != data:
        raise Problem(number, "not in canonical form (a byte was changed, added or removed)")
    return value


def _names(number: int, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(set(value)) != len(value):
        raise Problem(number, "the header's chain list is not a list of names")
    return value


def _int(number: int, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Problem(number, f"{value!r} is not a record number")
    return value


def _hash(number: int, value: Any) -> str:
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= HEX:
        raise Problem(number, f"{value!r} is not a SHA-256 hash")
    return value
