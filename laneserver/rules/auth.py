"""Seller PINs and device tokens: only hashes are stored, never the secrets.

PINs are short, so they get a slow, salted, memory-hard hash (scrypt). Device
tokens are long random strings, so a plain SHA-256 is enough to store them.
Hashing a PIN costs tens of milliseconds: callers on an event loop run it in a
worker thread.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

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


def new_token() -> str:
    return secrets.token_urlsafe(24)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PinGuard:
    """Limits wrong PINs: after ``max_failures`` in a row on one device, that
    device is locked out for ``lockout`` seconds. Times are monotonic seconds
    passed in by the caller."""

    def __init__(self, max_failures: int = 5, lockout: float = 60.0) -> None:
        self.max_failures = max_failures
        self.lockout = lockout
        self._failures: dict[str, int] = {}
        self._locked_until: dict[str, float] = {}

    def locked_for(self, device: str, now: float) -> float:
        """Seconds the device must still wait (0 when it may try)."""
        until = self._locked_until.get(device, 0.0)
        return max(0.0, until - now)

    def failed(self, device: str, now: float) -> None:
        count = self._failures.get(device, 0) + 1
        if count >= self.max_failures:
            self._locked_until[device] = now + self.lockout
            count = 0
        self._failures[device] = count

    def succeeded(self, device: str) -> None:
        self._failures.pop(device, None)
        self._locked_until.pop(device, None)
