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


def walk(chain: str, rows: Iterable[ChainRow], *, first_number: int = 1,
         prev_hash: str = GENESIS) -> ChainEnd | Broken:
    """Check a chain in number order. Returns its end, or the first broken record.

    ``first_number`` and ``prev_hash`` start the walk after a record already checked
    (its number + 1 and its hash); ``count`` is then the number of records walked.
    """
    prev = prev_hash
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


# --- the head anchor ---------------------------------------------------------------
#
# A chain proves that no record inside it was changed, removed or moved, but not
# that none is missing at its END: drop the last records, or put an older backup
# back, and what is left is a shorter chain that is intact as far as it goes. The
# anchor closes that gap: the journal keeps the heads of the three chains (sale,
# payment, and money: the money taken outside sales; last number and hash) in a file
# outside the database, rewritten after every commit that moved a head. The
# anchor may lag the database by one batch (a crash between the
# COMMIT and the anchor write), never lead it; so the check is a prefix check:
# the database must still hold the anchored record, with the anchored hash.

# Format 2 (this release) signs the heads: ``key`` is the signer's Ed25519 public key
# (64 hex digits) and ``signature`` its signature (128 hex digits) of ``signed_bytes``,
# the canonical encoding of the format, the key and every head. Rewriting the database
# and the anchor together then needs the shop's private key (store/shop_key.py). A
# format-1 anchor (unsigned, from an earlier release) still reads: the journal accepts
# it once, at the first start of a release that signs, and replaces it with a signed one.
ANCHOR_FORMAT = 2
UNSIGNED_FORMAT = 1
MAX_ANCHORED_CHAINS = 32


class AnchorHead(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    number: int
    hash: str


class Anchor(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    format: int = ANCHOR_FORMAT
    sale: AnchorHead
    payment: AnchorHead
    # The chain of the money taken outside sales (top-ups, deposits, vouchers sold:
    # ``money_in``). An anchor written before that chain existed has none: read as
    # nothing anchored yet.
    money: AnchorHead = AnchorHead(0, GENESIS)
    # The heads of the chains added with the closures (store/fiscal.py FISCAL_CHAINS),
    # by name; an anchor written before them has none.
    chains: dict[str, AnchorHead] = {}
    # Format 2: the signer's public key (hex) and its signature of ``signed_bytes``;
    # empty in a format-1 anchor.
    key: str = ""
    signature: str = ""

    def heads(self) -> tuple[tuple[str, AnchorHead], ...]:
        return (("sale", self.sale), ("payment", self.payment), ("money", self.money), *sorted(self.chains.items()))

    @property
    def signed(self) -> bool:
        return self.format >= ANCHOR_FORMAT

    def same_heads(self, other: "Anchor") -> bool:
        """Do both anchor the same heads (whatever their format and signature)?"""
        return _heads_map(self) == _heads_map(other)


def _heads_map(anchor: Anchor) -> dict[str, tuple[int, str]]:
    return {chain: (head.number, head.hash) for chain, head in anchor.heads() if head.number}


def signed_bytes(anchor: Anchor) -> bytes:
    """What the anchor's signature covers: its format, its key and every head, in the
    canonical encoding (sorted keys). An empty chain (number 0) is left out, so an
    anchor means the same whether or not it names chains that have no record yet."""
    heads = {chain: {"number": number, "hash": digest} for chain, (number, digest) in _heads_map(anchor).items()}
    return canonical({"format": anchor.format, "key": anchor.key, "heads": heads})


class AnchorUnreadable(ValueError):
    """The anchor file is not an anchor (edited, truncated or replaced)."""


class AnchorProblem(msgspec.Struct, frozen=True):
    chain: str
    number: int
    reason: str

    def __str__(self) -> str:
        return f"{self.chain} record {self.number}: {self.reason}"


_anchor_decoder = msgspec.json.Decoder(Anchor)
_anchor_encoder = msgspec.json.Encoder()
_HEX = frozenset("0123456789abcdef")


def encode_anchor(anchor: Anchor) -> bytes:
    return _anchor_encoder.encode(anchor) + b"\n"


def decode_anchor(data: bytes) -> Anchor:
    """Raises ``AnchorUnreadable`` for anything but a well-formed anchor (format 2,
    signed; or format 1, unsigned). Whether the signature checks is the reader's
    business (it needs the shop's public key)."""
    try:
        anchor = _anchor_decoder.decode(data)
    except msgspec.DecodeError as error:
        raise AnchorUnreadable(f"not a fiscal anchor: {error}") from None
    if len(anchor.chains) > MAX_ANCHORED_CHAINS or any(not name.isascii() or not name.replace("_", "").isalpha() or len(name) > 32
                                                        for name in anchor.chains):
        raise AnchorUnreadable("not a fiscal anchor: bad chain names")
    if anchor.format == UNSIGNED_FORMAT:
        if anchor.key or anchor.signature:
            raise AnchorUnreadable("not a fiscal anchor: a format-1 anchor carries no signature")
    elif anchor.format == ANCHOR_FORMAT:
        if not (_is_hex(anchor.key, 64) and _is_hex(anchor.signature, 128)):
            raise AnchorUnreadable("not a fiscal anchor: a format-2 anchor needs its key (64 hex digits) and "
                                   "signature (128 hex digits)")
    else:
        raise AnchorUnreadable(f"anchor format {anchor.format} is not {ANCHOR_FORMAT} (or {UNSIGNED_FORMAT})")
    for _, head in anchor.heads():
        if head.number < 0 or len(head.hash) != 64 or (head.number == 0) != (head.hash == GENESIS):
            raise AnchorUnreadable(f"not a fiscal anchor: bad head {head.number} {head.hash[:16]!r}")
    return anchor


def _is_hex(text: str, digits: int) -> bool:
    return len(text) == digits and set(text) <= _HEX


def check_head(chain: str, head: AnchorHead, last_number: int, stored_hash: str | None) -> AnchorProblem | None:
    """Does the database still hold the anchored head of one chain?

    Args:
        chain: ``"sale"``, ``"payment"`` or ``"money"``.
        head: the anchored head of that chain.
        last_number: the number of the chain's last stored record (0 when empty).
        stored_hash: the stored hash of record ``head.number`` (None if absent;
            ``GENESIS`` stands for record 0).

    Returns:
        None when the database holds the anchored record with the anchored hash
        (it may hold more records after it), else the problem.
    """
    if head.number == 0:
        return None
    if stored_hash is None:
        return AnchorProblem(
            chain, head.number,
            f"missing: the anchor holds {chain} record {head.number} but the database ends at {last_number} "
            "(the last records were removed, or an older backup was restored)",
        )
    if stored_hash != head.hash:
        return AnchorProblem(
            chain, head.number,
            f"its hash {stored_hash[:16]}… is not the anchored {head.hash[:16]}… "
            "(the record, or the chain up to it, was rewritten)",
        )
    return None
