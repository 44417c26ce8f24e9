"""The fiscal chain: canonical encoding, chain_hash, and walking a stored chain.

Pure and synchronous: no I/O, no mocks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.rules.fiscal import GENESIS, Broken, ChainEnd, ChainRow, canonical, chain_hash, walk

D = Decimal


def sale_record(number: int) -> dict:
    """A record shaped like the sales the journal chains."""
    return {
        "number": number,
        "at": f"2024-03-15T10:{number:02d}:00+00:00",
        "lane": "1",
        "seller": "marie",
        "customer": None,
        "total": f"{number}.50",
        "paid": f"{number + 1}.00",
        "change": "0.50",
        "lines": [{"line": 1, "article": "W1", "qty": "2", "unit_price": "1.20", "vat_rate": "5.5"}],
        "vat": [{"rate": "5.5", "base": "2.27", "vat": "0.13", "total": "2.40"}],
    }


def build_chain(count: int, *, first: int = 1) -> list[ChainRow]:
    rows: list[ChainRow] = []
    prev = GENESIS
    for number in range(first, first + count):
        record = sale_record(number)
        digest = chain_hash(prev, record)
        rows.append(ChainRow(number=number, record=record, prev_hash=prev, hash=digest))
        prev = digest
    return rows


def with_record(row: ChainRow, **changes) -> ChainRow:
    return ChainRow(number=row.number, record={**row.record, **changes}, prev_hash=row.prev_hash, hash=row.hash)


# --- canonical ---------------------------------------------------------------------------


def test_canonical_sorts_keys_and_has_no_whitespace():
    assert canonical({"b": 1, "a": 2, "c": "x"}) == b'{"a":2,"b":1,"c":"x"}'


def test_canonical_sorts_nested_keys():
    assert canonical({"z": {"y": 1, "x": [{"b": 2, "a": 1}]}, "a": None}) == (
        b'{"a":null,"z":{"x":[{"a":1,"b":2}],"y":1}}'
    )


def test_canonical_does_not_depend_on_insertion_order():
    record = sale_record(3)
    reversed_record = dict(reversed(list(record.items())))
    assert list(reversed_record) != list(record)
    assert canonical(reversed_record) == canonical(record)


def test_canonical_is_stable():
    record = sale_record(4)
    first = canonical(record)
    assert canonical(record) == first
    assert canonical(sale_record(4)) == first
    assert record == sale_record(4)  # not modified


def test_canonical_decimals_are_strings_and_keep_their_places():
    assert canonical({"amount": D("12.50")}) == b'{"amount":"12.50"}'
    assert canonical({"amount": D("12.5")}) == b'{"amount":"12.5"}'


def test_canonical_datetimes_are_iso_8601():
    at = dt.datetime(2024, 3, 15, 10, 30, 5, tzinfo=dt.timezone.utc)
    assert canonical({"at": at}) == b'{"at":"2024-03-15T10:30:05Z"}'


def test_canonical_keeps_utf8_text():
    assert canonical({"name": "Côtes du Rhône"}) == '{"name":"Côtes du Rhône"}'.encode()


keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
leaves = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(alphabet="abcé€ 0123", max_size=10))


@settings(max_examples=200)
@given(st.dictionaries(keys, leaves, max_size=8).flatmap(lambda d: st.tuples(st.just(d), st.permutations(list(d.items())))))
def test_canonical_is_order_independent_property(pair):
    record, items = pair
    assert canonical(dict(items)) == canonical(record)


# --- chain_hash ----------------------------------------------------------------------------


def test_chain_hash_is_sha256_of_prev_newline_canonical():
    record = sale_record(1)
    expected = hashlib.sha256(GENESIS.encode() + b"\n" + canonical(record)).hexdigest()
    assert chain_hash(GENESIS, record) == expected
    assert len(expected) == 64 and all(c in "0123456789abcdef" for c in expected)


def test_genesis_is_64_zeros():
    assert GENESIS == "0" * 64


def test_chain_hash_is_deterministic_and_ignores_key_order():
    record = sale_record(2)
    assert chain_hash(GENESIS, record) == chain_hash(GENESIS, dict(reversed(list(record.items()))))


def test_chain_hash_depends_on_the_previous_hash():
    record = sale_record(2)
    assert chain_hash(GENESIS, record) != chain_hash("1" * 64, record)
    assert chain_hash("a" * 64, record) != chain_hash("b" * 64, record)


@pytest.mark.parametrize("field", sorted(sale_record(1)))
def test_chain_hash_depends_on_every_field(field):
    record = sale_record(1)
    original = chain_hash(GENESIS, record)
    changed = {**record, field: "tampered"}
    assert chain_hash(GENESIS, changed) != original
    removed = {k: v for k, v in record.items() if k != field}
    assert chain_hash(GENESIS, removed) != original


def test_chain_hash_depends_on_nested_fields_and_on_added_fields():
    record = sale_record(1)
    original = chain_hash(GENESIS, record)
    nested = {**record, "lines": [{**record["lines"][0], "qty": "3"}]}
    assert chain_hash(GENESIS, nested) != original
    assert chain_hash(GENESIS, {**record, "extra": 1}) != original


def test_chain_hash_sees_a_change_of_decimal_places():
    # "12.5" and "12.50" are the same amount but not the same record.
    assert chain_hash(GENESIS, {"total": D("12.5")}) != chain_hash(GENESIS, {"total": D("12.50")})


# --- walk ------------------------------------------------------------------------------------


def test_walk_an_intact_chain():
    rows = build_chain(5)
    assert walk("sale", rows) == ChainEnd(count=5, last_number=5, last_hash=rows[-1].hash)


def test_walk_accepts_any_iterable():
    rows = build_chain(5)
    assert walk("sale", iter(rows)) == walk("sale", rows)
    assert walk("sale", (r for r in rows)).count == 5


def test_walk_an_empty_chain():
    assert walk("sale", []) == ChainEnd(count=0, last_number=0, last_hash=GENESIS)


def test_walk_a_chain_of_one():
    rows = build_chain(1)
    assert walk("payment", rows) == ChainEnd(count=1, last_number=1, last_hash=rows[0].hash)


def test_walk_a_chain_numbered_from_elsewhere():
    rows = build_chain(3, first=101)
    assert walk("sale", rows, first_number=101) == ChainEnd(count=3, last_number=103, last_hash=rows[-1].hash)
    broken = walk("sale", rows)
    assert isinstance(broken, Broken) and broken.number == 1 and broken.reason.startswith("missing")


@pytest.mark.parametrize("field", ["total", "seller", "at", "customer", "number"])
def test_walk_a_changed_field_breaks_that_record_by_content(field):
    rows = build_chain(5)
    rows[2] = with_record(rows[2], **{field: "tampered"})
    result = walk("sale", rows)
    assert isinstance(result, Broken)
    assert (result.chain, result.number) == ("sale", 3)
    assert result.reason.startswith("content")


def test_walk_a_changed_nested_field():
    rows = build_chain(5)
    rows[2] = with_record(rows[2], lines=[{**rows[2].record["lines"][0], "unit_price": "0.01"}])
    result = walk("sale", rows)
    assert isinstance(result, Broken) and result.number == 3 and result.reason.startswith("content")


def test_walk_a_changed_stored_hash():
    rows = build_chain(5)
    rows[2] = ChainRow(rows[2].number, rows[2].record, rows[2].prev_hash, "f" * 64)
    result = walk("sale", rows)
    assert isinstance(result, Broken) and result.number == 3 and result.reason.startswith("content")


def test_walk_a_forged_record_with_a_recomputed_hash_breaks_the_next_link():
    rows = build_chain(5)
    forged = {**rows[2].record, "total": "0.01"}
    rows[2] = ChainRow(3, forged, rows[2].prev_hash, chain_hash(rows[2].prev_hash, forged))
    result = walk("sale", rows)
    assert isinstance(result, Broken)
    assert result.number == 4
    assert result.reason.startswith("previous-hash")


def test_walk_a_removed_record_is_missing():
    rows = build_chain(5)
    del rows[2]
    result = walk("sale", rows)
    assert result == Broken("sale", 3, "missing (next stored record is 4)")
    assert result.reason.startswith("missing")


def test_walk_a_removed_record_with_the_rest_renumbered_breaks_the_link():
    rows = build_chain(5)
    del rows[2]
    renumbered = [*rows[:2], *(ChainRow(r.number - 1, r.record, r.prev_hash, r.hash) for r in rows[2:])]
    result = walk("sale", renumbered)
    assert isinstance(result, Broken)
    assert result.number == 3
    assert result.reason.startswith("previous-hash")


def test_walk_two_swapped_records():
    rows = build_chain(5)
    rows[1], rows[2] = rows[2], rows[1]
    result = walk("sale", rows)
    assert isinstance(result, Broken)
    assert result.number == 2


def test_walk_two_swapped_records_keeping_their_positions_numbers():
    rows = build_chain(5)
    two, three = rows[1], rows[2]
    rows[1] = ChainRow(2, three.record, three.prev_hash, three.hash)
    rows[2] = ChainRow(3, two.record, two.prev_hash, two.hash)
    result = walk("sale", rows)
    assert isinstance(result, Broken)
    assert result.number == 2
    assert result.reason.startswith("previous-hash")


def test_walk_a_duplicated_record():
    rows = build_chain(5)
    rows.insert(3, rows[2])
    result = walk("sale", rows)
    assert isinstance(result, Broken) and result.number == 4 and result.reason.startswith("missing")


def test_walk_cannot_see_a_missing_last_record():
    # The documented limit: without an external anchor (the head kept elsewhere, a
    # signed closure), dropping the tail leaves a chain that is intact as far as it goes.
    rows = build_chain(5)
    result = walk("sale", rows[:-1])
    assert result == ChainEnd(count=4, last_number=4, last_hash=rows[3].hash)
    assert result.last_hash != rows[4].hash  # comparing with an anchor would reveal it


def test_walk_a_first_record_with_a_wrong_previous_hash():
    rows = build_chain(5)
    first = rows[0]
    rows[0] = ChainRow(1, first.record, "1" * 64, chain_hash("1" * 64, first.record))
    result = walk("sale", rows)
    assert isinstance(result, Broken)
    assert result.number == 1
    assert result.reason.startswith("previous-hash")


def test_walk_a_chain_whose_first_record_was_removed():
    rows = build_chain(5)
    result = walk("sale", rows[1:])
    assert result == Broken("sale", 1, "missing (next stored record is 2)")


def test_broken_names_the_chain_and_the_record():
    assert str(Broken("payment", 7, "missing (next stored record is 8)")) == (
        "payment record 7: missing (next stored record is 8)"
    )


@settings(max_examples=200)
@given(st.integers(min_value=1, max_value=12), st.data())
def test_walk_names_the_first_changed_record(length, data):
    rows = build_chain(length)
    assert walk("sale", rows) == ChainEnd(length, length, rows[-1].hash)
    position = data.draw(st.integers(min_value=0, max_value=length - 1))
    field = data.draw(st.sampled_from(sorted(rows[position].record)))
    rows[position] = with_record(rows[position], **{field: "changed"})
    result = walk("sale", rows)
    assert isinstance(result, Broken)
    assert result.number == position + 1
    assert result.reason.startswith("content")
