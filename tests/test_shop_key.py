"""store/shop_key.py: the shop's Ed25519 key, made once, private, and what it signs."""

from __future__ import annotations

import pytest

from laneserver.store import shop_key


def test_the_key_is_made_once_private_and_signs(tmp_path):
    path = tmp_path / shop_key.KEY_NAME
    key = shop_key.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    public = shop_key.public_hex(key)
    assert len(public) == 64 and len(shop_key.fingerprint(public)) == 16
    assert shop_key.public_hex(shop_key.load_or_create(path)) == public  # not replaced
    signature = shop_key.sign(key, b"heads")
    checker = shop_key.parse_public(public)
    assert shop_key.signed_by(checker, b"heads", signature)
    assert not shop_key.signed_by(checker, b"head", signature)
    last = "01" if signature.endswith("00") else "00"  # a changed last byte (1 in 256 ends in 00)
    assert not shop_key.signed_by(checker, b"heads", signature[:-2] + last)
    assert not shop_key.signed_by(checker, b"heads", "zz" * 64)
    other = shop_key.parse_public(shop_key.public_hex(shop_key.load_or_create(tmp_path / "other.pem")))
    assert not shop_key.signed_by(other, b"heads", signature)


@pytest.mark.parametrize("content", [b"", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                     b"\xff" * 100])
def test_a_damaged_key_file_is_named(tmp_path, content):
    path = tmp_path / shop_key.KEY_NAME
    path.write_bytes(content)
    with pytest.raises(shop_key.KeyUnreadable, match="shop-key.pem"):
        shop_key.load_or_create(path)


@pytest.mark.parametrize("text", ["", "00" * 31, "xy" * 32, "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----"])
def test_a_bad_public_key_is_refused(text):
    with pytest.raises(ValueError):
        shop_key.parse_public(text)
