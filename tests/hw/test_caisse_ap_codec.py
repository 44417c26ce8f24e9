"""The Caisse-AP bytes (laneserver/hw/caisse_ap.py), synchronously: every request
checked byte for byte against the protocol's published examples (``CZ0040300``,
``CB0042500``, ``CD0010``, ``CE003978``, ``AC006A00395``, ``AE00210``,
``AA015***********0674``), a round trip over any fields, and hostile bytes refused
with a message, never another exception."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from laneserver.hw import caisse_ap
from laneserver.hw.caisse_ap import Answer, CaisseApError, Reader, parse_address

D = Decimal
HEAD = b"CZ0040300CJ012000000000000CA00201"


def test_the_published_field_examples():
    assert caisse_ap.field("CZ", "0300") == b"CZ0040300"
    assert caisse_ap.field("CB", "2500") == b"CB0042500"
    assert caisse_ap.field("CD", "0") == b"CD0010"
    assert caisse_ap.field("CE", "978") == b"CE003978"
    assert caisse_ap.field("AC", "A00395") == b"AC006A00395"
    assert caisse_ap.field("AE", "10") == b"AE00210"
    # The published AA example reads "AA016***********0674": its value has 15
    # characters, not 16, so it is not a whole field; with its true length:
    assert caisse_ap.decode(b"AA015***********0674") == [("AA", "***********0674")]
    assert caisse_ap.parse(b"AA016***********0674") == ([], 0)


def test_a_debit_of_25_euros():
    message = caisse_ap.debit(D("25.00"), register="01", protocol_id="000000000000", private="1-20240301-2")
    assert message == HEAD + b"CB0042500CD0010CE003978CF0121-20240301-2"


def test_a_refund_and_a_duplicata():
    refund = caisse_ap.debit(D("-3.05"), register="1", protocol_id="323540032810", private=None)
    assert refund == b"CZ0040300CJ012323540032810CA0011CB003305CD0011CE003978"
    assert caisse_ap.duplicata(register="01", protocol_id="000000000000") == HEAD + b"CD0013"


@pytest.mark.parametrize(("amount", "cb"), [("0.05", "05"), ("0.50", "50"), ("1", "100"), ("9999999999.99", "999999999999")])
def test_amounts_are_whole_cents_of_two_to_twelve_digits(amount, cb):
    assert caisse_ap.cents(D(amount)) == cb


@pytest.mark.parametrize("amount", ["0.001", "-1", "10000000000.00"])
def test_amounts_the_terminal_cannot_take(amount):
    with pytest.raises(CaisseApError):
        caisse_ap.cents(D(amount))


def test_the_private_reference_is_cut_to_printable_ascii():
    message = caisse_ap.debit(D("1"), register="01", protocol_id="000000000000", private="caisse-é" + "x" * 200)
    [cf] = [v for t, v in caisse_ap.decode(message) if t == "CF"]
    assert cf.startswith("caisse-?x") and len(cf) == 99


def test_an_approval_is_read_and_the_card_masked():
    fields = caisse_ap.decode(HEAD + b"CB0042500CD0010CE003978AE00210AF00201AC006A00395AA015***********0674AL0011")
    reply = caisse_ap.answer(fields)
    assert reply == Answer(status="10", complement="01", authorisation="A00395", card="****0674", amount_cents=2500,
                           action="0", currency="978", version="0300")
    assert caisse_ap.outcome(reply) == ("approved", "approved by the terminal")


def test_a_whole_card_number_never_gets_through():
    reply = caisse_ap.answer([("AE", "10"), ("AA", "4970101234560674")])
    assert reply.card == "****0674"


@pytest.mark.parametrize(("af", "outcome"), [("04", "declined"), ("06", "cancelled"), ("08", "cancelled"),
                                             ("09", "failed"), ("07", "declined"), ("99", "declined"), (None, "declined")])
def test_what_a_payment_not_performed_says(af, outcome):
    fields = [("AE", "01")] + ([("AF", af)] if af else [])
    kind, why = caisse_ap.outcome(caisse_ap.answer(fields))
    assert kind == outcome and "AE 01" in why


@pytest.mark.parametrize("version", ["0300", "0320", "0399"])
def test_any_03xx_answer_is_accepted(version):
    assert caisse_ap.answer([("CZ", version), ("AE", "10")]).version == version


@pytest.mark.parametrize(("fields", "says"), [
    ([("CZ", "0200"), ("AE", "10")], "version"),
    ([("AC", "A1")], "no status"),
    ([("AE", "1")], "not two digits"),
    ([("AE", "XX")], "not two digits"),
    ([("AE", "10"), ("AC", "A" * 11)], "authorisation"),
    ([("AE", "10"), ("AA", "1" * 65)], "card number"),
    ([("AE", "10"), ("CB", "12,50")], "amount"),
])
def test_answers_of_the_wrong_form(fields, says):
    with pytest.raises(CaisseApError, match=says):
        caisse_ap.answer(fields)


@pytest.mark.parametrize(("data", "says"), [
    (b"\x00\xffHELLO", "not a Caisse-AP tag"),
    (b"ae00210", "not a Caisse-AP tag"),
    (b"AE0x210", "not three digits"),
    (b"AE-0110", "not three digits"),
    (b"AE002\xe91", "not printable ASCII"),
    (b"AE002\n1", "not printable ASCII"),
])
def test_hostile_bytes_are_refused_with_a_reason(data, says):
    with pytest.raises(CaisseApError, match=says):
        caisse_ap.parse(data)


def test_a_field_cut_short_waits_for_more():
    assert caisse_ap.parse(b"AE00210AC006A00") == ([("AE", "10")], 7)
    with pytest.raises(CaisseApError, match="ends inside a field"):
        caisse_ap.decode(b"AE00210AC006A00")


def test_the_reader_is_bounded_and_knows_where_a_message_may_end():
    reader = Reader(limit=40)
    reader.feed(b"AE0021")
    assert (reader.fields, reader.at_boundary) == ([], False)
    reader.feed(b"0AC006A00395")
    assert reader.has("AE") and reader.at_boundary
    with pytest.raises(CaisseApError, match="more than 40 bytes"):
        reader.feed(b"AK999" + b"A" * 30)


@pytest.mark.parametrize(("text", "host", "port"), [("127.0.0.1:8888", "127.0.0.1", 8888),
                                                    ("tpe.local:5000", "tpe.local", 5000), ("[::1]:8888", "::1", 8888)])
def test_addresses(text, host, port):
    assert parse_address(text) == (host, port)


@pytest.mark.parametrize("text", ["127.0.0.1", ":8888", "host:0", "host:65536", "host:88a", "my host:1", ""])
def test_bad_addresses(text):
    with pytest.raises(ValueError, match="host:port"):
        parse_address(text)


tags = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=2)
values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=999)


@given(st.lists(st.tuples(tags, values), max_size=8), st.integers(min_value=1, max_value=50))
def test_round_trip_in_any_chunks(fields, chunk):
    message = caisse_ap.encode(fields)
    assert caisse_ap.decode(message) == fields
    reader = Reader(limit=len(message))
    for at in range(0, len(message), chunk):
        reader.feed(message[at:at + chunk])
    assert reader.fields == fields and reader.at_boundary


@given(st.binary(max_size=200))
def test_any_bytes_parse_or_are_refused(data):
    try:
        fields, used = caisse_ap.parse(data)
    except CaisseApError:
        return
    assert caisse_ap.encode(fields) == data[:used]
