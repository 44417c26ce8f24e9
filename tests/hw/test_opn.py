"""The batch scanners' upload protocol (hw/opn.py): frames, CRC, records, time stamps,
and hostile bytes (hypothesis: any bytes, cut anywhere, never raise)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from laneserver.hw import opn

SERIAL = 1234567890123
AT = dt.datetime(2026, 12, 6, 10, 15, 30)


def test_the_crc_is_crc16_usb():
    assert opn.crc16(b"123456789") == 0xB4C8  # the catalogue's check value of CRC-16/USB
    assert opn.crc16(b"") == 0x0000


def test_commands_bytes():
    # opcode, STX, length, (payload, 00 pad), CRC high byte first
    assert opn.frame(opn.INTERROGATE) == bytes.fromhex("01 02 00") + opn.crc16(b"\x01\x02\x00").to_bytes(2, "big")
    assert opn.frame(opn.CLEAR)[:3] == bytes.fromhex("02 02 00")
    assert opn.frame(opn.UPLOAD)[:3] == bytes.fromhex("07 02 00")
    clock = opn.set_time(AT)
    assert clock[:10] == bytes.fromhex("09 02 06") + bytes((30, 15, 10, 6, 12, 26)) + b"\x00"
    assert int.from_bytes(clock[-2:], "big") == opn.crc16(clock[:-2])


def test_a_time_stamp_packs_and_unpacks():
    stamp = opn.pack_stamp(AT)
    assert stamp >> 26 == 30 and stamp & 0x3F == 26
    assert opn.unpack_stamp(stamp) == AT
    assert opn.unpack_stamp(0) is None  # month 0: no date, but still the record's identity


def test_a_short_answer_whole_or_cut_anywhere():
    answer = opn.frame(opn.INTERROGATE, opn.identity_payload(SERIAL, "RBBV0242"))
    for cut in range(len(answer) + 1):
        decoder = opn.FrameDecoder(opn.INTERROGATE)
        first = decoder.feed(answer[:cut])
        result = first if first is not None else decoder.feed(answer[cut:])
        assert result == opn.Frame(opn.INTERROGATE, opn.identity_payload(SERIAL, "RBBV0242"))
    assert opn.identity(result) == opn.Identity(str(SERIAL), "RBBV0242")


def test_a_short_answer_with_a_bad_crc_or_another_opcode_is_refused():
    answer = bytearray(opn.frame(opn.CLEAR))
    answer[-1] ^= 0xFF
    assert opn.FrameDecoder(opn.CLEAR).feed(bytes(answer)).reason == "crc"
    assert opn.FrameDecoder(opn.CLEAR).feed(b"\x15garbage").reason == "unexpected"
    assert opn.FrameDecoder(opn.CLEAR).feed(b"\x02\x03").reason == "unexpected"
    assert opn.identity(opn.Frame(opn.INTERROGATE, b"\x00\x01")).reason == "malformed"


def upload(*records: tuple[int, bytes, int], serial: int = SERIAL) -> bytes:
    return opn.upload_bytes(serial, list(records))


def test_an_upload_gives_its_records_with_their_seq():
    stamp = opn.pack_stamp(AT)
    data = upload((0x16, b"3017620422003", stamp), (0x16, b"3017620422003", stamp),
                  (0x0A, b"5449000000996", stamp + 1))
    for cut in (1, 5, 11, 20, len(data) - 1):
        decoder = opn.UploadDecoder()
        assert decoder.feed(data[:cut]) is None
        result = decoder.feed(data[cut:])
        assert result == opn.Upload(str(SERIAL), (
            opn.Record(0x16, "3017620422003", stamp, 0),
            opn.Record(0x16, "3017620422003", stamp, 1),  # the same code in the same second: a second record
            opn.Record(0x0A, "5449000000996", stamp + 1, 0)), 0)
    assert result.records[0].at == AT
    assert opn.UploadDecoder().feed(upload()) == opn.Upload(str(SERIAL), (), 0)


def test_an_upload_with_a_bad_crc_a_short_record_or_a_flood_is_refused():
    data = bytearray(upload((0x16, b"123", 5)))
    data[-2] ^= 0x01
    assert opn.UploadDecoder().feed(bytes(data)).reason == "crc"
    short = bytes((opn.UPLOAD, opn.STX)) + SERIAL.to_bytes(8, "big") + b"\x03\x16AB"
    assert opn.UploadDecoder().feed(short).reason == "malformed"
    flood = opn.UploadDecoder()
    head = bytes((opn.UPLOAD, opn.STX)) + SERIAL.to_bytes(8, "big")
    record = bytes((9, 0x16)) + b"1234" + (5).to_bytes(4, "big")
    assert flood.feed(head) is None
    result = None
    for _ in range(opn.MAX_RECORDS + 2):
        result = flood.feed(record)
        if result is not None:
            break
    assert result == opn.Bad("too_large", f"more than {opn.MAX_RECORDS} records")
    assert flood.feed(record) is None  # done: keeps nothing more


def test_codes_that_are_not_printable_are_left_out_and_counted():
    data = upload((0x16, b"OK1", 5), (0x16, b"\x00\xff", 6), (0x16, b"A B", 7))
    assert opn.UploadDecoder().feed(data) == opn.Upload(str(SERIAL), (opn.Record(0x16, "OK1", 5, 0),), 2)


@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=6))
def test_any_bytes_cut_anywhere_never_raise(data, cuts):
    for decoder in (opn.UploadDecoder(), opn.FrameDecoder(opn.INTERROGATE), opn.FrameDecoder(opn.CLEAR)):
        start = 0
        for cut in sorted(cuts) + [len(data)]:
            result = decoder.feed(data[start:cut])
            assert result is None or isinstance(result, (opn.Upload, opn.Frame, opn.Bad))
            start = max(start, cut)


@given(st.lists(st.tuples(st.integers(0, 255), st.binary(min_size=1, max_size=40), st.integers(0, 2**32 - 1)),
                max_size=30))
def test_any_upload_round_trips(records):
    result = opn.UploadDecoder().feed(upload(*records))
    assert isinstance(result, opn.Upload)
    assert len(result.records) + result.refused == len(records)
