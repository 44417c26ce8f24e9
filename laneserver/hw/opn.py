"""The batch scanners' upload protocol (Opticon OPN-2001 / OPN-2006 "companion"
scanners in their cradle, the host protocol they share with Symbol's CS1504), sans-I/O:
bytes to send and bytes received → values; no trio, no port (actors/cradle.py drives it).

Written from the public descriptions of the protocol (docs/protocol.md, "Batch scanners
in a cradle", says what is taken from them and what is our choice):

* a command is a frame: ``opcode``, ``STX`` (02), a length byte (its low 5 bits the
  payload's length, its high 3 bits flags, sent 0), the payload, one 00 pad byte when
  there is a payload, then the CRC-16 of every byte before it, high byte first;
* the device answers a command with a frame of the same shape and the same opcode;
* the CRC is CRC-16 with the reflected polynomial A001 (8005), initial value FFFF, the
  result complemented (CRC-16/USB);
* opcodes: 01 interrogate (the answer's payload: one byte, the device's 8-byte serial
  number high byte first, its 8-byte firmware version), 02 clear the stored codes,
  07 upload the stored codes, 09 set the clock (payload: second, minute, hour, day,
  month, year − 2000), 0A read the clock;
* the upload's answer is not a short frame: ``07``, ``STX``, the 8-byte serial number,
  then one record per stored code — a length byte N (the bytes that follow in the
  record), the symbology byte, the code (N − 5 bytes), its 4-byte time stamp — then a
  00 length byte, then the CRC of every byte before it;
* a time stamp packs, from the high bit down: second (6 bits), minute (6), hour (5),
  day (5), month (4), year − 2000 (6), in the device's own clock (local time).

Invariants (tests/hw/test_opn.py, with hypothesis):
  - any bytes, cut anywhere into reads, never raise: a decoder answers ``None`` (more
    needed), a value, or ``Bad`` (a wrong byte, a CRC that does not match, a record
    cut short, too many bytes) and keeps nothing after;
  - memory is bounded: an upload is at most ``MAX_UPLOAD_BYTES`` and ``MAX_RECORDS``
    records, a short frame at most 3 + 31 + 1 + 2 bytes;
  - a record is kept as the device sent it (its time stamp as the raw 32-bit value, so
    a stamp that is not a real date still identifies it); a code that is not printable
    ASCII, or longer than ``MAX_CODE``, is left out of the upload's ``codes`` and counted
    in its ``refused`` (the same on every re-read of the same bytes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

STX = 0x02
INTERROGATE = 0x01
CLEAR = 0x02
UPLOAD = 0x07
SET_TIME = 0x09
GET_TIME = 0x0A

MAX_PAYLOAD = 31
MAX_CODE = 64
MAX_RECORDS = 5000
MAX_UPLOAD_BYTES = 8 + 1 + MAX_RECORDS * 256 + 3


def crc16(data: bytes | bytearray) -> int:
    """CRC-16/USB: reflected polynomial 0xA001, initial 0xFFFF, complemented."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return ~crc & 0xFFFF


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """A command (or a short answer) as its bytes."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a payload is at most {MAX_PAYLOAD} bytes")
    body = bytes((opcode, STX, len(payload))) + payload + (b"\x00" if payload else b"")
    return body + crc16(body).to_bytes(2, "big")


def set_time(at: dt.datetime) -> bytes:
    """The command that sets the device's clock to ``at`` (its wall clock, naive)."""
    return frame(SET_TIME, bytes((at.second, at.minute, at.hour, at.day, at.month, at.year - 2000)))


def pack_stamp(at: dt.datetime) -> int:
    """``at`` (2000–2063) as a record's 32-bit time stamp."""
    return (at.second << 26 | at.minute << 20 | at.hour << 15 | at.day << 10 | at.month << 6
            | (at.year - 2000))


def unpack_stamp(stamp: int) -> dt.datetime | None:
    """A record's time stamp as the device's wall-clock time; None when it is no real date."""
    try:
        return dt.datetime((stamp & 0x3F) + 2000, stamp >> 6 & 0x0F, stamp >> 10 & 0x1F, stamp >> 15 & 0x1F,
                           stamp >> 20 & 0x3F, stamp >> 26 & 0x3F)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Bad:
    """Bytes refused: ``reason`` is ``unexpected`` (not the answer to the command),
    ``crc``, ``malformed`` (a record cut short or too short) or ``too_large``."""

    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Frame:
    opcode: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Record:
    """One stored code: its symbology byte, its code, its raw time stamp, and ``seq``:
    how many records of the same code and stamp come before it in the upload (two scans
    of one code in the same second are two records)."""

    symbology: int
    code: str
    stamp: int
    seq: int = 0

    @property
    def at(self) -> dt.datetime | None:
        return unpack_stamp(self.stamp)


@dataclass(frozen=True, slots=True)
class Upload:
    """The device's stored codes: ``serial`` its serial number (decimal), ``records``
    in the device's order, ``refused`` the records left out (not printable, too long)."""

    serial: str
    records: tuple[Record, ...]
    refused: int = 0


@dataclass(frozen=True, slots=True)
class Identity:
    serial: str
    firmware: str


def identity(answer: Frame) -> Identity | Bad:
    """The interrogate answer's serial number and firmware version."""
    payload = answer.payload
    if len(payload) < 9:
        return Bad("malformed", f"an interrogate answer of {len(payload)} bytes")
    firmware = bytes(b for b in payload[9:17] if 0x20 <= b <= 0x7E).decode("ascii").strip()
    return Identity(str(int.from_bytes(payload[1:9], "big")), firmware)


class FrameDecoder:
    """The short answer to one command (``opcode``): feed what the port read."""

    def __init__(self, opcode: int) -> None:
        self._opcode = opcode
        self._data = bytearray()
        self._done = False

    def feed(self, chunk: bytes) -> Frame | Bad | None:
        if self._done:
            return None
        self._data += chunk[: 3 + MAX_PAYLOAD + 1 + 2 - len(self._data)]
        data = self._data
        if data[:1] and data[0] != self._opcode:
            return self._end(Bad("unexpected", f"answer starts with {data[0]:02X}, not {self._opcode:02X}"))
        if len(data) >= 2 and data[1] != STX:
            return self._end(Bad("unexpected", f"byte 2 is {data[1]:02X}, not STX"))
        if len(data) < 3:
            return None
        size = data[2] & 0x1F
        total = 3 + size + (1 if size else 0) + 2
        if len(data) < total:
            return None
        body, crc = bytes(data[: total - 2]), int.from_bytes(data[total - 2: total], "big")
        if crc16(body) != crc:
            return self._end(Bad("crc", f"frame CRC {crc:04X}, computed {crc16(body):04X}"))
        return self._end(Frame(self._opcode, body[3: 3 + size]))

    def _end(self, result: Frame | Bad) -> Frame | Bad:
        self._done = True
        self._data.clear()
        return result


class UploadDecoder:
    """The answer to ``UPLOAD``: feed what the port read until it gives an ``Upload``
    or a ``Bad``. Keeps at most ``MAX_UPLOAD_BYTES``."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._at = 0  # where the next record (or the end) starts, once the serial is read
        self._records: list[tuple[int, bytes, int]] = []
        self._done = False

    def feed(self, chunk: bytes) -> Upload | Bad | None:
        if self._done:
            return None
        room = MAX_UPLOAD_BYTES + 1 - len(self._data)
        self._data += chunk[:room]
        data = self._data
        if data[:1] and data[0] != UPLOAD:
            return self._end(Bad("unexpected", f"answer starts with {data[0]:02X}, not {UPLOAD:02X}"))
        if len(data) >= 2 and data[1] != STX:
            return self._end(Bad("unexpected", f"byte 2 is {data[1]:02X}, not STX"))
        if len(data) < 10:
            return None
        if not self._at:
            self._at = 10
        while self._at < len(data):
            size = data[self._at]
            if size == 0:  # the end: the CRC follows
                end = self._at + 1
                if len(data) < end + 2:
                    return None
                crc = int.from_bytes(data[end: end + 2], "big")
                if crc16(data[:end]) != crc:
                    return self._end(Bad("crc", f"upload CRC {crc:04X}, computed {crc16(data[:end]):04X}"))
                return self._end(self._upload(str(int.from_bytes(data[2:10], "big"))))
            if size < 6:
                return self._end(Bad("malformed", f"a record of {size} bytes (at least 6)"))
            if len(data) < self._at + 1 + size:
                break
            record = data[self._at + 1: self._at + 1 + size]
            self._records.append((record[0], bytes(record[1:-4]), int.from_bytes(record[-4:], "big")))
            self._at += 1 + size
            if len(self._records) > MAX_RECORDS:
                return self._end(Bad("too_large", f"more than {MAX_RECORDS} records"))
        if len(data) > MAX_UPLOAD_BYTES:
            return self._end(Bad("too_large", f"more than {MAX_UPLOAD_BYTES} bytes"))
        return None

    def _upload(self, serial: str) -> Upload:
        kept: list[Record] = []
        seen: dict[tuple[str, int], int] = {}
        refused = 0
        for symbology, raw, stamp in self._records:
            if not raw or len(raw) > MAX_CODE or any(b < 0x21 or b > 0x7E for b in raw):
                refused += 1
                continue
            code = raw.decode("ascii")
            seq = seen.get((code, stamp), 0)
            seen[code, stamp] = seq + 1
            kept.append(Record(symbology, code, stamp, seq))
        return Upload(serial, tuple(kept), refused)

    def _end(self, result: Upload | Bad) -> Upload | Bad:
        self._done = True
        self._data.clear()
        self._records.clear()
        return result


def upload_bytes(serial: int, records: list[tuple[int, bytes, int]]) -> bytes:
    """An upload answer as a device sends it (the test peer's, and the docs' example)."""
    body = bytearray((UPLOAD, STX)) + serial.to_bytes(8, "big")
    for symbology, code, stamp in records:
        body += bytes((len(code) + 5, symbology)) + code + stamp.to_bytes(4, "big")
    body += b"\x00"
    return bytes(body) + crc16(body).to_bytes(2, "big")


def identity_payload(serial: int, firmware: str) -> bytes:
    """An interrogate answer's payload (the test peer's)."""
    return b"\x00" + serial.to_bytes(8, "big") + firmware.encode("ascii")[:8].ljust(8, b" ")
