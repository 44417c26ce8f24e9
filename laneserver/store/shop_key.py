"""The shop's signing key: an Ed25519 key pair that signs the fiscal anchor and every
archive (docs/fiscal.md).

The private key is ``shop-key.pem`` (PKCS#8 PEM, mode 0600) in the data folder, next to
the database; it is made at the first start and never replaced by laneserver. Its public
part is what an auditor checks signatures with: 32 raw bytes, shown as 64 hex digits, and
a short fingerprint (the first 16 hex digits of their SHA-256) that ``laneserver status``
prints and every archive carries.

Signing and checking need the ``cryptography`` package (Ed25519: fast, deterministic,
small signatures); checking needs only the public key, so an archive is verified on a
machine that has no laneserver data folder.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from laneserver.files import write_atomically

KEY_NAME = "shop-key.pem"
PUBLIC_HEX_DIGITS = 64
SIGNATURE_HEX_DIGITS = 128


class KeyUnreadable(ValueError):
    """The key file exists but is not an Ed25519 private key (edited, truncated, replaced)."""


def key_path(db_path: Path) -> Path:
    """The key lives next to the database, in the same data folder."""
    return db_path.with_name(KEY_NAME)


def load_key(path: Path) -> Ed25519PrivateKey | None:
    """The shop's private key; None when there is none yet.

    Raises:
        KeyUnreadable: the file is there but is not an Ed25519 private key.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise KeyUnreadable(f"cannot read the shop key {path}: {error}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise KeyUnreadable(f"{path} is not a private key: {error}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyUnreadable(f"{path} is not an Ed25519 key")
    return key


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """The shop's private key, made (0600, written atomically) if there is none yet."""
    key = load_key(path)
    if key is None:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        write_atomically(path, pem)
    return key


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The public key as 64 hex digits (its 32 raw bytes)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def fingerprint(public: str) -> str:
    """A public key's short name: the first 16 hex digits of the SHA-256 of its raw bytes."""
    return hashlib.sha256(bytes.fromhex(public)).hexdigest()[:16]


def describe(data: Path) -> str | None:
    """The shop key in the data folder ``data`` as ``laneserver status`` shows it: its
    fingerprint and public key; None when there is none yet, ``unreadable: …`` when the
    file is not an Ed25519 key."""
    try:
        key = load_key(data / KEY_NAME)
    except KeyUnreadable as error:
        return f"unreadable: {error}"
    if key is None:
        return None
    public = public_hex(key)
    return f"{fingerprint(public)} (public key {public})"


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """An Ed25519 signature of ``message``, as 128 hex digits."""
    return key.sign(message).hex()


def parse_public(text: str) -> Ed25519PublicKey:
    """A public key from its 64 hex digits, or from a PEM public key (``--key PUBFILE``).

    Raises:
        ValueError: it is neither.
    """
    text = text.strip()
    if len(text) == PUBLIC_HEX_DIGITS and all(c in "0123456789abcdefABCDEF" for c in text):
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    try:
        key = serialization.load_pem_public_key(text.encode("ascii", "replace"))
    except (ValueError, TypeError) as error:
        raise ValueError(f"not an Ed25519 public key (64 hex digits or a PEM public key): {error}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def signed_by(public: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    """Is ``signature`` (hex) a signature of ``message`` by ``public``?"""
    if len(signature) != SIGNATURE_HEX_DIGITS:
        return False
    try:
        public.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True
