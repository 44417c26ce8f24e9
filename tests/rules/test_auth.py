"""Seller PINs, device tokens and the wrong-PIN lockout.

Pure and synchronous: no I/O, no mocks. Times given to ``PinGuard`` are plain
monotonic seconds. Hashing a PIN is deliberately slow (scrypt), so the hashes are
made once per module.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from laneserver.rules.auth import ROLES, PinGuard, check_pin, hash_pin, hash_token, new_token, valid_pin

SALT = bytes(range(16))


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_pin("1234")


@pytest.fixture(scope="module")
def stored_again() -> str:
    return hash_pin("1234")


# --- PIN hashing ------------------------------------------------------------------------


def test_hash_pin_format(stored):
    match = re.fullmatch(r"scrypt\$16384\$8\$1\$([0-9a-f]{32})\$([0-9a-f]{64})", stored)
    assert match, stored


def test_the_pin_itself_is_not_in_the_hash(stored):
    salt, digest = stored.split("$")[4:]
    assert b"1234".hex() not in digest
    assert hashlib.sha256(b"1234").hexdigest() != digest  # not a bare, unsalted hash


def test_check_the_right_pin(stored):
    assert check_pin("1234", stored) is True


@pytest.mark.parametrize("pin", ["1235", "4321", "12345", "123", "", "1234 ", " 1234", "01234"])
def test_check_a_wrong_pin(stored, pin):
    assert check_pin(pin, stored) is False


def test_two_hashes_of_the_same_pin_differ_and_both_check(stored, stored_again):
    assert stored != stored_again
    assert stored.split("$")[4] != stored_again.split("$")[4]  # the salts
    assert check_pin("1234", stored_again)


def test_hash_pin_with_a_given_salt_is_reproducible():
    first = hash_pin("987654", salt=SALT)
    assert first == hash_pin("987654", salt=SALT)
    assert first.split("$")[4] == SALT.hex()
    assert check_pin("987654", first)
    assert not check_pin("987655", first)


def test_check_pin_reads_the_parameters_from_the_stored_string():
    # A hash made with other scrypt parameters (an older, cheaper setting) still checks.
    digest = hashlib.scrypt(b"5678", salt=SALT, n=2**10, r=8, p=1, dklen=32).hex()
    stored = f"scrypt$1024$8$1${SALT.hex()}${digest}"
    assert check_pin("5678", stored)
    assert not check_pin("5679", stored)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "garbage",
        "1234",
        "scrypt",
        "scrypt$16384$8$1$00",  # too few parts
        "scrypt$16384$8$1$00$00$00",  # too many parts
        "bcrypt$16384$8$1$00112233$" + "00" * 32,  # another scheme
        "scrypt$x$8$1$00112233$" + "00" * 32,  # n not a number
        "scrypt$16384$r$1$00112233$" + "00" * 32,
        "scrypt$16384$8$$00112233$" + "00" * 32,
        "scrypt$16384$8$1$zz$" + "00" * 32,  # salt not hex
        "scrypt$16384$8$1$001$" + "00" * 32,  # odd-length salt
        "scrypt$16384$8$1$00112233$",  # no digest
        "scrypt$1000$8$1$00112233$" + "00" * 32,  # n not a power of two
        "scrypt$-16384$8$1$00112233$" + "00" * 32,  # negative n
        f"scrypt${2**70}$8$1$00112233$" + "00" * 32,  # n too large for scrypt
        f"scrypt$1048576${2**40}$1$00112233$" + "00" * 32,  # r too large
        "scrypt$16384$8$1$00112233$" + "zz" * 32,  # digest not hex
        "scrypt$1024$8$1$00112233$" + "é" * 64,  # digest not even ASCII
        "scrypt$16384$8$1$00112233$" + "00" * 32,  # well formed, wrong digest
    ],
)
def test_check_pin_with_a_malformed_stored_string_is_false(bad):
    assert check_pin("1234", bad) is False


# --- valid_pin ------------------------------------------------------------------------------


@pytest.mark.parametrize("pin", ["1234", "0000", "12345", "123456", "1234567", "12345678", "00000000"])
def test_valid_pins(pin):
    assert valid_pin(pin)


@pytest.mark.parametrize(
    "pin",
    ["", "1", "123", "123456789", "12a4", "abcd", "12 34", " 1234", "1234 ", "1234\n", "\n1234", "-1234",
     "12.4", "١٢٣٤", "１２３４"],  # Arabic-Indic and full-width digits are not ASCII digits
)
def test_invalid_pins(pin):
    assert not valid_pin(pin)


def test_roles():
    assert ROLES == ("cashier", "supervisor", "manager")


# --- device tokens ---------------------------------------------------------------------------


def test_new_token_is_random_and_url_safe():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token), token


def test_hash_token_is_stable_sha256():
    token = "abcDEF123_-xyz"
    assert hash_token(token) == hash_token(token)
    assert hash_token(token) == hashlib.sha256(token.encode()).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(token))


def test_hash_token_differs_per_token():
    a, b = new_token(), new_token()
    assert hash_token(a) != hash_token(b)
    assert hash_token(a) != a


# --- PinGuard ---------------------------------------------------------------------------------


def test_a_new_device_may_try():
    assert PinGuard().locked_for("pda-1", 0.0) == 0.0


def test_four_failures_do_not_lock():
    guard = PinGuard()
    for t in range(4):
        guard.failed("till-1", float(t))
    assert guard.locked_for("till-1", 4.0) == 0.0


def test_five_failures_lock_for_60_seconds_then_allow_again():
    guard = PinGuard()
    for t in (0.0, 1.0, 2.0, 3.0, 10.0):
        guard.failed("till-1", t)
    assert guard.locked_for("till-1", 10.0) == 60.0
    assert guard.locked_for("till-1", 40.0) == 30.0
    assert guard.locked_for("till-1", 69.5) == 0.5
    assert guard.locked_for("till-1", 70.0) == 0.0
    assert guard.locked_for("till-1", 500.0) == 0.0


def test_after_a_lockout_the_count_starts_again():
    guard = PinGuard()
    for _ in range(5):
        guard.failed("till-1", 0.0)
    for t in range(4):
        guard.failed("till-1", 100.0 + t)
    assert guard.locked_for("till-1", 104.0) == 0.0
    guard.failed("till-1", 104.0)
    assert guard.locked_for("till-1", 104.0) == 60.0


def test_success_resets_the_count():
    guard = PinGuard()
    for t in range(4):
        guard.failed("till-1", float(t))
    guard.succeeded("till-1")
    for t in range(4):
        guard.failed("till-1", 10.0 + t)
    assert guard.locked_for("till-1", 14.0) == 0.0
    guard.failed("till-1", 14.0)
    assert guard.locked_for("till-1", 14.0) == 60.0


def test_success_clears_a_lockout():
    guard = PinGuard()
    for _ in range(5):
        guard.failed("till-1", 0.0)
    guard.succeeded("till-1")
    assert guard.locked_for("till-1", 1.0) == 0.0


def test_success_on_an_unknown_device_is_harmless():
    guard = PinGuard()
    guard.succeeded("never-seen")
    assert guard.locked_for("never-seen", 0.0) == 0.0


def test_devices_are_counted_apart():
    guard = PinGuard()
    for _ in range(4):
        guard.failed("till-1", 0.0)
        guard.failed("till-2", 0.0)
    guard.failed("till-1", 1.0)
    assert guard.locked_for("till-1", 1.0) == 60.0
    assert guard.locked_for("till-2", 1.0) == 0.0
    guard.succeeded("till-2")
    assert guard.locked_for("till-1", 1.0) == 60.0


def test_custom_limits():
    guard = PinGuard(max_failures=2, lockout=5.0)
    guard.failed("pda", 0.0)
    assert guard.locked_for("pda", 0.0) == 0.0
    guard.failed("pda", 1.0)
    assert guard.locked_for("pda", 1.0) == 5.0
    assert guard.locked_for("pda", 6.0) == 0.0


def test_failures_while_locked_extend_nothing_until_the_fifth():
    # Callers refuse to check a PIN while locked; if failures are still reported, a
    # new lockout only starts after another full run of failures.
    guard = PinGuard()
    for _ in range(5):
        guard.failed("till-1", 0.0)
    guard.failed("till-1", 30.0)
    assert guard.locked_for("till-1", 30.0) == 30.0
