"""Seller PINs and device tokens: only hashes are stored, never the secrets.

PINs are short, so they get a slow, salted, memory-hard hash (scrypt). Device
tokens are long random strings, so a plain SHA-256 is enough to store them.
Hashing a PIN costs tens of milliseconds: callers on an event loop run it in a
worker thread, and remember a good PIN in memory only (``PinMemory``, a keyed hash)
so the same seller signing in again with the same PIN costs microseconds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
import unicodedata
from dataclasses import dataclass, replace

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
PIN_PATTERN = re.compile(r"^[0-9]{4,8}$")
ROLES = ("cashier", "supervisor", "manager")


def valid_pin(pin: str) -> bool:
    return bool(PIN_PATTERN.fullmatch(pin))  # fullmatch: "$" alone lets "1234\n" through


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    try:
        candidate = hashlib.scrypt(
            pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
        )
    except (ValueError, TypeError, OverflowError):
        # A malformed stored hash (bad number, bad hex, bad scrypt parameters) matches no PIN.
        return False
    # As bytes: compare_digest raises TypeError on non-ASCII str.
    return hmac.compare_digest(candidate.hex().encode(), digest.encode())


class PinMemory:
    """Good PINs remembered in memory only, so a seller signing in again with the same
    PIN is checked in microseconds instead of a scrypt (~45 ms of CPU).

    After a successful scrypt check of ``pin`` against the seller's ``stored`` hash,
    ``remember`` keeps HMAC-SHA256(key, seller, stored, pin) under the seller's name,
    with ``key`` random per process (never stored, never sent): the PIN itself is not
    kept, and the value is worthless outside this process. ``recalls`` is true only
    for the very same seller, stored hash and PIN:

    - a changed PIN (or any new hash of it: a new salt) is a different ``stored``,
      so the old entry never answers for it; an entry is per seller, so at most one
      per seller exists (the newest good PIN);
    - a wrong PIN is not recalled: the caller checks it with the full scrypt, so
      guessing costs what it cost before, and the lock-out counts it as before;
    - whether the seller may sign in (active, role) is not decided here: the caller
      reads the seller's row each time.

    Not thread-safe: used from the event loop only (a dict's get and set).
    """

    def __init__(self, key: bytes | None = None, *, max_sellers: int = 10_000) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._max = max_sellers
        self._known: dict[str, bytes] = {}

    def _mac(self, seller: str, stored: str, pin: str) -> bytes:
        message = "\x00".join((seller, stored, pin)).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def recalls(self, seller: str, stored: str, pin: str) -> bool:
        """True when ``pin`` was remembered as good for ``seller`` with this ``stored`` hash."""
        known = self._known.get(seller)
        return known is not None and hmac.compare_digest(known, self._mac(seller, stored, pin))

    def remember(self, seller: str, stored: str, pin: str) -> None:
        """``pin`` was just checked good against ``stored`` (by scrypt): remember it."""
        if seller not in self._known and len(self._known) >= self._max:
            self._known.pop(next(iter(self._known)))  # the oldest seller remembered
        self._known[seller] = self._mac(seller, stored, pin)

    def forget(self, seller: str) -> None:
        self._known.pop(seller, None)

    def __len__(self) -> int:
        return len(self._known)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_resume_secret() -> str:
    """A page's resume secret (32 random bytes, URL-safe): it keeps the seller signed in
    across the page's own reconnects. Stored hashed (``hash_token``), like a token."""
    return secrets.token_urlsafe(32)


# --- seller names --------------------------------------------------------------------------

SELLER_NAME_MAX = 40


def seller_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a seller's name, or None when it can.

    A name is shown on the till, printed on receipts and written in logs and the event
    journal: no control characters (newlines, tabs, escapes; Unicode category C:
    format characters such as bidi overrides too), no spaces at either end, 1 to
    ``SELLER_NAME_MAX`` characters.
    """
    if not name:
        return "a seller needs a name"
    if len(name) > SELLER_NAME_MAX:
        return f"a seller's name has at most {SELLER_NAME_MAX} characters ({len(name)} given)"
    bad = next((c for c in name if unicodedata.category(c).startswith("C")), None)
    if bad is not None:
        return f"a seller's name cannot hold control characters (U+{ord(bad):04X} found)"
    if name != name.strip():
        return "a seller's name cannot start or end with a space"
    return None


# --- wrong PINs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class PinPolicy:
    """How wrong PINs are limited (``[server] pin_failures``, ``pin_lockout``,
    ``pin_lockout_max``).

    After ``max_failures`` wrong PINs counted on one key (a seller, a device), the key
    is locked for ``lockout`` seconds; each further lock-out of the same key doubles
    it, up to ``lockout_max``. A key with no wrong PIN for ``forget`` seconds (and not
    locked) starts again from nothing.
    """

    max_failures: int = 5
    lockout: float = 60.0
    lockout_max: float = 3600.0
    forget: float = 24 * 3600.0


@dataclass(frozen=True)
class PinRecord:
    """The wrong PINs counted on one key: ``failures`` since the last lock-out,
    ``lockouts`` in a row, the lock's end and the last wrong PIN (UTC datetimes)."""

    failures: int = 0
    lockouts: int = 0
    locked_until: dt.datetime | None = None
    last_failure: dt.datetime | None = None


def pin_current(record: PinRecord | None, now: dt.datetime, policy: PinPolicy) -> PinRecord:
    """``record`` as it stands at ``now``: forgotten after ``policy.forget`` quiet seconds."""
    if record is None:
        return PinRecord()
    if locked_seconds(record, now) > 0:
        return record
    if record.last_failure is None or (now - record.last_failure).total_seconds() >= policy.forget:
        return PinRecord()
    return record


def locked_seconds(record: PinRecord, now: dt.datetime) -> int:
    """Whole seconds ``record`` is still locked (0: it may try), rounded up."""
    if record.locked_until is None:
        return 0
    left = (record.locked_until - now).total_seconds()
    return max(0, math.ceil(left))


def tries_left(record: PinRecord, policy: PinPolicy) -> int:
    return max(0, policy.max_failures - record.failures)


def pin_failed(record: PinRecord, now: dt.datetime, policy: PinPolicy) -> tuple[PinRecord, bool]:
    """``record`` after one more wrong PIN at ``now``, and whether that locked it."""
    failures = record.failures + 1
    if failures < policy.max_failures:
        return replace(record, failures=failures, last_failure=now), False
    seconds = min(policy.lockout * 2 ** min(record.lockouts, 32), policy.lockout_max)
    return PinRecord(failures=0, lockouts=record.lockouts + 1, locked_until=now + dt.timedelta(seconds=seconds),
                     last_failure=now), True
