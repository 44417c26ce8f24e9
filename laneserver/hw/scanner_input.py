"""Barcode scanners' bytes as codes (sans-I/O: no trio, no device; the scanner actor
feeds whatever its port read).

Two inputs:

* a serial scanner (``SerialFramer``): a code is the bytes before a suffix. CR, LF
  and CR LF always end a code (a scanner set to CR LF under a shop file saying CR
  leaves no stray LF in the next code); ``suffix`` may add another terminator (TAB).
  With ``stx_etx`` framing, a code is what comes between STX (02) and ETX (03), and
  what comes outside a frame is noise;
* a USB HID POS scanner (``parse_hid_report``, ``HidAssembler``): input reports of
  the Bar Code Scanner usage page (0x8C) as HID POS scanners send them (the USB HID
  Point of Sale usage tables; the scanners' manuals give the layout):
  byte 0 the report id (2), byte 1 how many data bytes this report carries (at
  most 56), bytes 2–4 the AIM symbology identifier (``]E0``…), bytes 5–60 the data,
  and bit 0 of byte 63 set when the code goes on in the next report.

Invariants (tests/hw/test_scanner_input.py, with hypothesis):
  - any byte stream, cut anywhere into reads, gives the same codes (a code split
    across two reads is put back together) and never raises;
  - memory is bounded: at most ``max_length`` bytes of a code are ever kept; a code
    longer than that is refused once (``Refused("too_long")``) and its bytes
    dropped up to its end;
  - a code is printable ASCII (20–7E) and not blank, trimmed of spaces; anything
    else (another control byte, a byte above 7E: binary noise) refuses that code
    (``Refused("not_printable")``), never silently changes it.
"""

from __future__ import annotations

from dataclasses import dataclass

STX, ETX, CR, LF = 0x02, 0x03, 0x0D, 0x0A
HID_REPORT_ID = 0x02
HID_DATA_MAX = 56
HID_CONTINUED_AT = 63


@dataclass(frozen=True, slots=True)
class Code:
    text: str


@dataclass(frozen=True, slots=True)
class Refused:
    """A code refused: ``reason`` is ``too_long``, ``not_printable`` or ``noise``
    (bytes outside an STX/ETX frame, or a HID report of another kind); ``size`` how
    many bytes it had (counted up to ``max_length + 1`` for a long one)."""

    reason: str
    size: int


Event = Code | Refused


class _Collector:
    """The bytes of the code being read, bounded."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self.data = bytearray()
        self.overflow = False

    def add(self, chunk: bytes | bytearray) -> None:
        if self.overflow:
            return
        room = self.max_length + 1 - len(self.data)
        self.data += chunk[:room]
        if len(self.data) > self.max_length:
            self.overflow = True

    def take(self) -> Event | None:
        """The code collected (None for nothing but spaces), and a fresh start."""
        data, overflow = bytes(self.data), self.overflow
        self.data.clear()
        self.overflow = False
        if overflow:
            return Refused("too_long", len(data))
        return _code(data)


def _code(data: bytes) -> Event | None:
    if any(byte < 0x20 or byte > 0x7E for byte in data):
        return Refused("not_printable", len(data))
    text = data.decode("ascii").strip(" ")
    return Code(text) if text else None


class SerialFramer:
    """A serial scanner's stream of bytes → codes (see the module's docstring)."""

    def __init__(self, *, suffix: str = "\r", stx_etx: bool = False, max_length: int = 64) -> None:
        if max_length < 1:
            raise ValueError("max_length must be at least 1")
        self._ends = frozenset({CR, LF} | set(suffix.encode("ascii")))
        self._stx_etx = stx_etx
        self._code = _Collector(max_length)
        self._inside = False  # within an STX … ETX frame
        self._noise = 0  # bytes outside a frame since the last one counted

    def feed(self, chunk: bytes) -> list[Event]:
        """The codes (and refusals) ``chunk`` completes; the rest is kept for the next."""
        return self._framed(chunk) if self._stx_etx else self._suffixed(chunk)

    def _suffixed(self, chunk: bytes) -> list[Event]:
        events: list[Event] = []
        start = 0
        for at, byte in enumerate(chunk):
            if byte in self._ends:
                self._code.add(chunk[start:at])
                event = self._code.take()
                if event is not None:
                    events.append(event)
                start = at + 1
        self._code.add(chunk[start:])
        return events

    def _framed(self, chunk: bytes) -> list[Event]:
        events: list[Event] = []
        for byte in chunk:
            if byte == STX:
                if self._inside and (self._code.data or self._code.overflow):
                    events.append(Refused("noise", len(self._code.data)))  # a frame cut short
                    self._code.take()
                self._flush_noise(events)
                self._inside = True
            elif not self._inside:
                if byte not in self._ends:
                    self._noise += 1
            elif byte == ETX:
                self._inside = False
                event = self._code.take()
                if event is not None:
                    events.append(event)
            else:
                self._code.add(bytes((byte,)))
        if not self._inside:
            self._flush_noise(events)
        return events

    def _flush_noise(self, events: list[Event]) -> None:
        if self._noise:
            events.append(Refused("noise", self._noise))
            self._noise = 0


# --- USB HID POS -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HidPiece:
    """One input report's part of a code: its data bytes, its AIM symbology identifier,
    and whether the code goes on in the next report."""

    data: bytes
    symbology: bytes
    continued: bool


def parse_hid_report(report: bytes) -> HidPiece | None:
    """A HID POS scanned-data input report, or None for a report of another kind (or
    too short to be one). A length byte larger than the report holds is cut to what
    it holds (never read past the report)."""
    if len(report) < 5 or report[0] != HID_REPORT_ID:
        return None
    size = min(report[1], HID_DATA_MAX, len(report) - 5)
    continued = len(report) > HID_CONTINUED_AT and bool(report[HID_CONTINUED_AT] & 0x01)
    return HidPiece(bytes(report[5:5 + size]), bytes(report[2:5]), continued)


class HidAssembler:
    """HID POS reports → codes: the pieces of one code put together, bounded."""

    def __init__(self, *, max_length: int = 64) -> None:
        self._code = _Collector(max_length)

    def feed(self, report: bytes) -> list[Event]:
        piece = parse_hid_report(report)
        if piece is None:
            return [Refused("noise", len(report))]
        self._code.add(piece.data)
        if piece.continued:
            return []
        event = self._code.take()
        return [] if event is None else [event]
