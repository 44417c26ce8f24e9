"""Scanners' bytes as codes (hw/scanner_input.py): serial framing and HID POS reports,
with hostile input (over-long codes, control bytes, binary noise, codes cut anywhere)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from laneserver.hw.scanner_input import (
    Code,
    HidAssembler,
    Refused,
    SerialFramer,
    parse_hid_report,
)

EAN = "3760245001015"


def codes(events) -> list[str]:
    return [e.text for e in events if isinstance(e, Code)]


def fed(framer, *chunks: bytes) -> list:
    return [event for chunk in chunks for event in framer.feed(chunk)]


def test_each_suffix_ends_a_code_and_cr_lf_always_do():
    for suffix, sent in (("\r", b"123\r"), ("\n", b"123\n"), ("\r\n", b"123\r\n"), ("\t", b"123\t")):
        assert fed(SerialFramer(suffix=suffix), sent + sent) == [Code("123"), Code("123")], suffix
    # A scanner sending CR LF to a shop file that says CR: no stray LF in the next code.
    assert codes(fed(SerialFramer(suffix="\r"), b"111\r\n222\r\n")) == ["111", "222"]
    assert fed(SerialFramer(), b"\r\n\r  \r") == []  # blank: nothing


def test_a_code_cut_across_reads_is_put_back_together():
    framer = SerialFramer()
    assert framer.feed(EAN[:5].encode()) == []
    assert framer.feed(EAN[5:].encode()) == []
    assert framer.feed(b"\r") == [Code(EAN)]


def test_an_over_long_code_is_refused_once_and_the_next_one_is_read():
    framer = SerialFramer(max_length=16)
    events = fed(framer, b"9" * 10, b"9" * 10_000, b"\r" + EAN.encode() + b"\r")
    assert events == [Refused("too_long", 17), Code(EAN)]
    assert len(framer._code.data) == 0


def test_control_bytes_and_binary_noise_refuse_the_code():
    assert fed(SerialFramer(), b"12\x1b34\r", b"\xff\xfe\x00\r", EAN.encode() + b"\r") == [
        Refused("not_printable", 5), Refused("not_printable", 3), Code(EAN)]


def test_stx_etx_framing():
    framer = SerialFramer(suffix="", stx_etx=True)
    assert fed(framer, b"\x02" + EAN.encode() + b"\x03\r\n") == [Code(EAN)]
    assert fed(framer, b"junk\x02123", b"45\x03") == [Refused("noise", 4), Code("12345")]
    # A frame cut short by a new STX: refused, the new frame read.
    assert fed(framer, b"\x02999\x02777\x03") == [Refused("noise", 3), Code("777")]


def test_hid_pos_reports():
    def report(data: bytes, continued: bool = False, report_id: int = 2, size: int | None = None) -> bytes:
        body = bytes([report_id, len(data) if size is None else size]) + b"]E0" + data
        body = body.ljust(63, b"\x00")
        return body + bytes([1 if continued else 0])

    piece = parse_hid_report(report(EAN.encode()))
    assert piece is not None and piece.data == EAN.encode() and piece.symbology == b"]E0" and not piece.continued
    assembler = HidAssembler(max_length=128)
    long = bytes(range(0x30, 0x30 + 60))  # 60 printable bytes: 56 in the first report, 4 in the next
    assert assembler.feed(report(long[:56], continued=True)) == []
    assert assembler.feed(report(long[56:])) == [Code(long.decode())]
    assert assembler.feed(report(b"1", report_id=1)) == [Refused("noise", 64)]  # another report kind
    assert assembler.feed(b"\x02") == [Refused("noise", 1)]  # too short
    assert parse_hid_report(report(b"12", size=255)).data == b"12" + b"\x00" * 54  # capped at 56, within the report
    assert parse_hid_report(b"\x02\xff]E0ab") .data == b"ab"  # a length past the report's end
    assert HidAssembler(max_length=8).feed(report(b"123456789")) == [Refused("too_long", 9)]


@settings(max_examples=300, deadline=None)
@given(found=st.lists(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                              max_size=20), max_size=8),
       cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
       suffix=st.sampled_from(["\r", "\n", "\r\n", "\t"]), framed=st.booleans())
def test_codes_cut_anywhere_come_out_the_same(found, cuts, suffix, framed):
    stream = b"".join((b"\x02" + c.encode() + b"\x03" if framed else c.encode()) + suffix.encode() for c in found)
    pieces, last = [], 0
    for cut in sorted({min(c, len(stream)) for c in cuts}):
        pieces.append(stream[last:cut])
        last = cut
    pieces.append(stream[last:])
    framer = SerialFramer(suffix=suffix, stx_etx=framed)
    assert codes(fed(framer, *pieces)) == found


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(max_size=300), max_size=20), framed=st.booleans(),
       max_length=st.integers(min_value=1, max_value=64))
def test_any_bytes_never_crash_and_stay_bounded(chunks, framed, max_length):
    framer = SerialFramer(stx_etx=framed, max_length=max_length)
    hid = HidAssembler(max_length=max_length)
    for chunk in chunks:
        for event in framer.feed(chunk) + hid.feed(chunk):
            if isinstance(event, Code):
                assert 0 < len(event.text) <= max_length and event.text.isprintable() and event.text.isascii()
        assert len(framer._code.data) <= max_length + 1 and len(hid._code.data) <= max_length + 1
