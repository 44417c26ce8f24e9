"""One-time pairing codes: a till or a PDA gets its token by typing 6 digits.

``laneserver pair till --lane L --code`` writes a code for store IT to read out; the
device sends it in a ``pair`` request and gets its token. A code:

- is 6 random digits, valid ``VALID_SECONDS`` (10 minutes) from its making;
- is stored hashed (a random salt per code, SHA-256): the digits are shown once;
- pairs one device and is then spent, never reusable;
- is burnt after ``MAX_WRONG`` wrong tries: every wrong code typed anywhere counts on
  every live code, so all the guesses against a code, from any number of connections,
  are at most ``MAX_WRONG`` (a chance of 5 in a million);
- is compared in constant time (``hmac.compare_digest``).

A connection that types ``PER_CONNECTION`` wrong codes gets no further tries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

VALID_SECONDS = 600
MAX_WRONG = 5
PER_CONNECTION = 5
CODE_PATTERN = re.compile(r"[0-9]{6}")


def new_code() -> str:
    """Six random digits (leading zeros kept)."""
    return f"{secrets.randbelow(1_000_000):06d}"


def hash_code(code: str, salt: bytes | None = None) -> str:
    """``salt$sha256`` of a code (a new random salt unless given)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    return f"{salt.hex()}${hashlib.sha256(salt + code.encode()).hexdigest()}"


def code_matches(code: str, stored: str) -> bool:
    """``code`` is the one ``stored`` hashes, compared in constant time."""
    salt, _, digest = stored.partition("$")
    try:
        salt_bytes = bytes.fromhex(salt)
    except ValueError:
        return False
    candidate = hashlib.sha256(salt_bytes + code.encode()).hexdigest()
    return hmac.compare_digest(candidate.encode(), digest.encode())


def well_formed(code: str) -> bool:
    return bool(CODE_PATTERN.fullmatch(code))


@dataclass(frozen=True)
class PairingCode:
    """A code as stored: its hash, the device it pairs (``kind``, ``lane``), until when,
    and the wrong tries counted on it."""

    id: int
    code_hash: str
    kind: str
    lane: str | None
    expires_at: dt.datetime
    wrong: int = 0


def live(code: PairingCode, now: dt.datetime) -> bool:
    """Not expired and not burnt (a spent code is not stored as live at all)."""
    return now < code.expires_at and code.wrong < MAX_WRONG


def matching(codes: list[PairingCode], typed: str, now: dt.datetime) -> PairingCode | None:
    """The live code ``typed`` is, or None. Every live code is compared (no early exit
    on a match), so the time taken does not tell which one matched."""
    found = None
    for code in codes:
        if code_matches(typed, code.code_hash) and live(code, now) and found is None:
            found = code
    return found


def expires(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=VALID_SECONDS)
