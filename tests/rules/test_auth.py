"""Seller PINs, device tokens, resume secrets, seller names and the wrong-PIN lockout.

Pure and synchronous: no I/O, no mocks. Times are plain UTC datetimes. Hashing a PIN is deliberately slow (scrypt), so the hashes are
made once per module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest

from laneserver.rules.auth import (
    ROLES,
    SELLER_NAME_MAX,
    PinMemory,
    PinPolicy,
    PinRecord,
    check_pin,
    hash_pin,
    hash_token,
    locked_seconds,
    new_resume_secret,
    new_token,
    pin_current,
    pin_failed,
    seller_name_problem,
    tries_left,
    valid_pin,
)

SALT = bytes(range(16))


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_pin("1234")


@pytest.fixture(scope="module")
def stored_again() -> str:
    return hash_pin("1234")


# --- good PINs remembered in memory -----------------------------------------------------


def test_a_remembered_pin_is_recalled_for_the_same_seller_and_hash(stored):
    memory = PinMemory()
    assert not memory.recalls("paul", stored, "1234")  # nothing remembered yet
    memory.remember("paul", stored, "1234")
    assert memory.recalls("paul", stored, "1234")


@pytest.mark.parametrize("seller, pin", [("paul", "1235"), ("paul", ""), ("marie", "1234"), ("paul ", "1234")])
def test_another_pin_or_seller_is_not_recalled(stored, seller, pin):
    memory = PinMemory()
    memory.remember("paul", stored, "1234")
    assert not memory.recalls(seller, stored, pin)


def test_a_changed_hash_is_not_served_from_memory(stored, stored_again):
    """A PIN changed (or the same PIN hashed again: a new salt) is a new stored hash:
    the entry made for the old one never answers for it."""
    memory = PinMemory()
    memory.remember("paul", stored, "1234")
    assert not memory.recalls("paul", stored_again, "1234")
    assert not memory.recalls("paul", hash_pin("9999", salt=SALT), "9999")


def test_the_memory_keeps_no_pin_and_depends_on_its_key(stored):
    """The PIN itself is not kept; what is kept is worthless to another process (its
    own random key): the same seller, hash and PIN are not recalled there."""
    memory, other = PinMemory(), PinMemory()
    memory.remember("paul", stored, "1234")
    assert b"1234" not in b"".join(memory._known.values())
    assert memory._known["paul"] != hashlib.sha256(b"paul\x001234").digest()
    assert not other.recalls("paul", stored, "1234")
    assert PinMemory(key=b"k" * 32)._mac("paul", stored, "1234") == PinMemory(key=b"k" * 32)._mac(
        "paul", stored, "1234")


def test_one_entry_per_seller_the_newest_pin_and_a_bounded_size(stored, stored_again):
    memory = PinMemory(max_sellers=2)
    memory.remember("paul", stored, "1234")
    memory.remember("paul", stored_again, "1234")
    assert len(memory) == 1 and memory.recalls("paul", stored_again, "1234")
    assert not memory.recalls("paul", stored, "1234")
    memory.remember("marie", stored, "1234")
    memory.remember("sophie", stored, "1234")  # past the bound: the oldest seller goes
    assert len(memory) == 2 and not memory.recalls("paul", stored_again, "1234")
    memory.forget("sophie")
    assert len(memory) == 1 and memory.recalls("marie", stored, "1234")


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


# --- wrong PINs (PinPolicy, PinRecord) --------------------------------------------------------

T0 = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.timezone.utc)
POLICY = PinPolicy()


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def fail(record: PinRecord, times: int, start: float = 0.0, policy: PinPolicy = POLICY) -> tuple[PinRecord, bool]:
    locked = False
    for n in range(times):
        record, locked = pin_failed(pin_current(record, at(start + n), policy), at(start + n), policy)
    return record, locked


def test_a_new_key_may_try_five_times():
    fresh = pin_current(None, T0, POLICY)
    assert locked_seconds(fresh, T0) == 0 and tries_left(fresh, POLICY) == 5


def test_four_failures_do_not_lock_and_say_what_is_left():
    record, locked = fail(PinRecord(), 4)
    assert not locked and tries_left(record, POLICY) == 1 and locked_seconds(record, at(4)) == 0


def test_the_fifth_failure_locks_for_60_seconds_then_allows_again():
    record, locked = fail(PinRecord(), 5)
    assert locked and record.failures == 0 and record.lockouts == 1
    assert locked_seconds(record, at(4)) == 60
    assert locked_seconds(record, at(33.5)) == 31  # rounded up
    assert locked_seconds(record, at(64)) == 0
    assert tries_left(pin_current(record, at(64), POLICY), POLICY) == 5


def test_each_further_lock_out_doubles_up_to_the_longest():
    record = PinRecord()
    lengths = []
    start = 0.0
    for _ in range(8):
        record, locked = fail(record, 5, start)
        assert locked
        lengths.append(locked_seconds(record, at(start + 4)))
        start += 4 + lengths[-1]
    assert lengths == [60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_a_quiet_day_forgets_the_count_and_the_escalation():
    record, _ = fail(PinRecord(), 5)
    record, _ = fail(record, 3, 100)
    assert pin_current(record, at(102 + 86399), POLICY) == record
    assert pin_current(record, at(102 + 86400), POLICY) == PinRecord()


def test_a_lock_is_never_forgotten_while_it_runs():
    policy = PinPolicy(max_failures=1, lockout=7200, lockout_max=7200, forget=60)
    record, locked = fail(PinRecord(), 1, 0, policy)
    assert locked and pin_current(record, at(3600), policy) == record


def test_custom_limits():
    policy = PinPolicy(max_failures=2, lockout=5)
    record, locked = fail(PinRecord(), 1, 0, policy)
    assert not locked and tries_left(record, policy) == 1
    record, locked = fail(record, 1, 1, policy)
    assert locked and locked_seconds(record, at(1)) == 5


# --- seller names -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["marie", "Jean-Pierre", "Zoë Ørsted", "李小龍", "o'brien", "a" * SELLER_NAME_MAX])
def test_ordinary_names_are_accepted(name):
    assert seller_name_problem(name) is None


@pytest.mark.parametrize("name,problem", [
    ("", "needs a name"),
    ("marie\nroot", "control characters (U+000A"),
    ("marie\r", "control characters"),
    ("tab\there", "control characters"),
    ("esc\x1b[31m", "control characters (U+001B"),
    ("nul\x00", "control characters"),
    ("del\x7f", "control characters"),
    ("bidi\u202eevil", "control characters (U+202E"),
    ("zero\u200bwidth", "control characters"),
    ("a" * (SELLER_NAME_MAX + 1), "at most 40"),
    (" marie", "start or end with a space"),
    ("marie ", "start or end with a space"),
])
def test_names_that_would_break_a_receipt_or_a_log_are_refused(name, problem):
    found = seller_name_problem(name)
    assert found is not None and problem in found


def test_a_resume_secret_is_32_random_bytes():
    a, b = new_resume_secret(), new_resume_secret()
    assert a != b and len(a) == 43 and re.fullmatch(r"[A-Za-z0-9_-]+", a)
