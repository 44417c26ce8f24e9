"""Caisse-AP (the "Concert" protocol of the Association du Paiement) over IP: the bytes.

Sans-I/O: this module builds the cash register's requests and reads the terminal's
answers; it does no I/O and imports nothing from trio, so every byte is tested
synchronously (tests/hw/test_caisse_ap_codec.py). The driver that moves these
bytes over a TCP socket is ``hw/caisse_ap_terminal.py``.

The protocol, as the public descriptions give it (protocol version 3.x, the one with
an IP transport): a message is a run of fields, each

    TT LLL VVV…    two-letter tag, three ASCII digits giving the value's length, the value

in plain ASCII with no framing around them (``CZ0040300`` is the tag ``CZ``, length
4, value ``0300``). The cash register sends:

    ====  =======================================================  ==========
    tag   meaning                                                   example
    ====  =======================================================  ==========
    CZ    protocol version (4 digits)                               CZ0040300
    CJ    the cash register protocol's identifier (12 digits)       CJ012…
    CA    cash register number (1 or 2 digits)                     CA00201
    CB    amount in cents (2 to 12 digits)                          CB0042500
    CD    action: 0 debit, 1 refund (credit), 3 duplicata            CD0010
    CE    currency, ISO 4217 numeric (978 = euro)                   CE003978
    CF    private data, echoed back by the terminal (1 to 99)       CF…
    ====  =======================================================  ==========

and the terminal answers with the request's fields and its own:

    ====  =======================================================
    AE    status of the action: ``10`` performed, ``01`` not performed
    AF    complementary status: ``01`` authorised, ``04`` refused,
          ``06`` abandoned by the cardholder, ``07`` not completed,
          ``08`` input time-out on the terminal, ``09`` message error, …
    AC    authorisation number (at most 10)
    AA    card number: masked (or a token) for EMV cards, at most 64
    AL    type of AA: ``1`` a partial (masked) card number
    CI    how the card was read (1 contact, 2 contactless, …)
    ====  =======================================================

Invariants (what this module guarantees to its driver):
  - nothing here trusts the terminal's bytes: a tag is two of ``A-Z0-9``, a length
    three ASCII digits, a value printable ASCII; anything else is ``CaisseApError``
    with a message for people, never another exception;
  - an answer is bounded: ``Reader`` refuses to hold more than ``MAX_MESSAGE`` bytes;
  - a card number never leaves this module whole: ``masked_card`` keeps the last four
    digits at most, whatever the terminal sent (card data stays out of the shop's
    systems, SPEC §3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

#: The protocol version the cash register speaks; a terminal may answer any 03xx.
VERSION = "0300"
#: ISO 4217 numeric code of the euro.
EURO = "978"
DEBIT, REFUND, DUPLICATA = "0", "1", "3"
PERFORMED, NOT_PERFORMED = "10", "01"
#: The most bytes one answer may take (a ticket in ZT is at most 999 characters).
MAX_MESSAGE = 8192

_TAG = re.compile(rb"[A-Z0-9]{2}")
_PRINTABLE = re.compile(rb"[\x20-\x7e]*")
_DIGITS = re.compile(r"[0-9]+")

#: What the complementary status (AF) of an action not performed says, for people,
#: and which outcome of the driver interface (hw/terminal.py) it is.
COMPLEMENTS: dict[str, tuple[str, str]] = {
    "04": ("declined", "the card was refused"),
    "06": ("cancelled", "the payment was abandoned on the terminal"),
    "07": ("declined", "the payment was not completed on the terminal"),
    "08": ("cancelled", "no card was presented in time on the terminal"),
    "09": ("failed", "the terminal could not read the cash register's message"),
}


class CaisseApError(ValueError):
    """The bytes are not a Caisse-AP message this driver can use; the message says why."""


@dataclass(frozen=True, slots=True)
class Answer:
    """What a terminal answered, checked. ``card`` is masked already."""

    status: str
    complement: str | None = None
    authorisation: str | None = None
    card: str | None = None
    amount_cents: int | None = None
    action: str | None = None
    currency: str | None = None
    private: str | None = None
    version: str | None = None

    @property
    def performed(self) -> bool:
        return self.status == PERFORMED


def field(tag: str, value: str) -> bytes:
    """One field's bytes: ``field("CB", "2500") == b"CB0042500"``.

    Raises:
        CaisseApError: a tag not of two ``A-Z0-9``, or a value not printable ASCII or
            longer than 999.
    """
    raw = value.encode("ascii", errors="replace")
    if not _TAG.fullmatch(tag.encode("ascii", errors="replace")):
        raise CaisseApError(f"{tag!r} is not a Caisse-AP tag")
    if not _PRINTABLE.fullmatch(raw) or raw != value.encode("utf-8"):
        raise CaisseApError(f"the value of {tag} is not printable ASCII")
    if len(raw) > 999:
        raise CaisseApError(f"the value of {tag} is longer than 999 characters")
    return tag.encode("ascii") + b"%03d" % len(raw) + raw


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """A whole message from ``(tag, value)`` pairs, in order."""
    return b"".join(field(tag, value) for tag, value in fields)


def parse(buffer: bytes) -> tuple[list[tuple[str, str]], int]:
    """The whole fields at the start of ``buffer`` and how many bytes they take; a
    field cut short at the end is left for more bytes to complete.

    Raises:
        CaisseApError: bytes that cannot start a field (a bad tag, a length that is
            not three digits, a value that is not printable ASCII).
    """
    fields: list[tuple[str, str]] = []
    at = 0
    while len(buffer) - at >= 5:
        tag, length = buffer[at:at + 2], buffer[at + 2:at + 5]
        if not _TAG.fullmatch(tag):
            raise CaisseApError(f"byte {at}: {tag!r} is not a Caisse-AP tag")
        if not length.isdigit() or not length.isascii():
            raise CaisseApError(f"byte {at + 2}: the length of {tag.decode()} is {length!r}, not three digits")
        end = at + 5 + int(length)
        if end > len(buffer):
            break
        value = buffer[at + 5:end]
        if not _PRINTABLE.fullmatch(value):
            raise CaisseApError(f"byte {at + 5}: the value of {tag.decode()} is not printable ASCII")
        fields.append((tag.decode("ascii"), value.decode("ascii")))
        at = end
    return fields, at


def decode(message: bytes) -> list[tuple[str, str]]:
    """Every field of a whole message.

    Raises:
        CaisseApError: bad bytes, or a message that ends inside a field.
    """
    fields, used = parse(message)
    if used != len(message):
        raise CaisseApError(f"the message ends inside a field ({len(message) - used} bytes left over)")
    return fields


def parse_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:8888`` for IPv6) as a pair.

    Raises:
        ValueError: not ``host:port`` with a port from 1 to 65535.
    """
    host, sep, port = address.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or any(c.isspace() for c in host) or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        raise ValueError(f"{address!r} is not host:port (a port from 1 to 65535)")
    return host, int(port)


class Reader:
    """Fields out of a byte stream, bounded: feed it what the socket gives.

    ``fields`` grows as whole fields arrive; ``at_boundary`` says whether the bytes
    fed so far end exactly at a field's end (a message may end there).
    """

    def __init__(self, limit: int = MAX_MESSAGE) -> None:
        self.limit = limit
        self.fields: list[tuple[str, str]] = []
        self._pending = b""
        self._size = 0

    def feed(self, data: bytes) -> None:
        """Raises ``CaisseApError``: bad bytes, or more than ``limit`` bytes in all."""
        self._size += len(data)
        if self._size > self.limit:
            raise CaisseApError(f"the terminal sent more than {self.limit} bytes for one answer")
        self._pending += data
        fields, used = parse(self._pending)
        self.fields.extend(fields)
        self._pending = self._pending[used:]

    @property
    def at_boundary(self) -> bool:
        return not self._pending

    def has(self, tag: str) -> bool:
        return any(t == tag for t, _ in self.fields)


def cents(amount: Decimal) -> str:
    """An amount as CB wants it: whole cents, at least two digits, at most twelve.

    Raises:
        CaisseApError: a negative amount, one with fractions of a cent, or too large.
    """
    value = amount * 100
    if value < 0 or value != value.to_integral_value():
        raise CaisseApError(f"{amount} is not a whole number of cents")
    text = f"{int(value):02d}"
    if len(text) > 12:
        raise CaisseApError(f"{amount} is too large for the terminal")
    return text


def request(action: str, *, amount: Decimal | None, register: str, protocol_id: str,
            private: str | None = None, currency: str = EURO) -> bytes:
    """The bytes of a request: ``CZ CJ CA`` then, for a debit or refund, ``CB CD CE``
    (and ``CF`` with ``private``); a duplicata is ``CZ CJ CA CD``.

    ``private`` is cut to the 99 printable ASCII characters CF holds.
    """
    fields = [("CZ", VERSION), ("CJ", protocol_id), ("CA", register)]
    if amount is not None:
        fields.append(("CB", cents(amount)))
    fields.append(("CD", action))
    if amount is not None:
        fields.append(("CE", currency))
    if private:
        fields.append(("CF", private_field(private)))
    return encode(fields)


def private_field(text: str) -> str:
    """``text`` as CF holds it: printable ASCII (others become ``?``), at most 99."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:99]


def debit(amount: Decimal, **keys: str | None) -> bytes:
    """A debit of ``amount`` (positive) or, for a negative amount, a refund of its size."""
    action = REFUND if amount < 0 else DEBIT
    return request(action, amount=amount.copy_abs(), **keys)  # type: ignore[arg-type]


def duplicata(*, register: str, protocol_id: str) -> bytes:
    """Asks the terminal for its last transaction again (action 3)."""
    return request(DUPLICATA, amount=None, register=register, protocol_id=protocol_id)


def masked_card(number: str, kind: str | None = None) -> str | None:
    """The card as a label the server may keep: ``****`` and the last four digits.

    Whatever the terminal sent (a masked number, a token, a whole number by a badly
    configured terminal), at most the last four digits are kept. ``kind`` is AL.
    """
    digits = [c for c in number if c.isdigit()]
    if not digits:
        return None
    return "****" + "".join(digits[-4:])


def answer(fields: list[tuple[str, str]]) -> Answer:
    """The terminal's answer, checked.

    Raises:
        CaisseApError: no status (AE), a status or other field of the wrong form, or a
            protocol version other than 03xx.
    """
    values: dict[str, str] = {}
    for tag, value in fields:
        values.setdefault(tag, value)  # a tag given twice: the first counts
    version = values.get("CZ")
    if version is not None and not re.fullmatch(r"03[0-9]{2}", version):
        raise CaisseApError(f"the terminal speaks protocol version {version!r}, not 03xx")
    status = values.get("AE")
    if status is None:
        raise CaisseApError("the answer has no status (AE)")
    if not re.fullmatch(r"[0-9]{2}", status):
        raise CaisseApError(f"the status (AE) is {status!r}, not two digits")
    complement = values.get("AF")
    if complement is not None and not 2 <= len(complement) <= 50:
        raise CaisseApError("the complementary status (AF) is not 2 to 50 characters")
    authorisation = values.get("AC")
    if authorisation is not None and not 1 <= len(authorisation) <= 10:
        raise CaisseApError("the authorisation number (AC) is not 1 to 10 characters")
    card = values.get("AA")
    if card is not None and len(card) > 64:
        raise CaisseApError("the card number (AA) is longer than 64 characters")
    amount = values.get("CB")
    if amount is not None and not (_DIGITS.fullmatch(amount) and 1 <= len(amount) <= 12):
        raise CaisseApError(f"the amount (CB) is {amount!r}, not 1 to 12 digits")
    return Answer(
        status=status, complement=complement, authorisation=authorisation.strip() if authorisation else None,
        card=masked_card(card, values.get("AL")) if card else None,
        amount_cents=int(amount) if amount is not None else None, action=values.get("CD"),
        currency=values.get("CE"), private=values.get("CF"), version=version,
    )


def outcome(reply: Answer) -> tuple[str, str]:
    """The driver outcome (``approved``, ``declined``, ``cancelled``, ``failed``) of a
    debit's answer and why, for people."""
    if reply.performed:
        return "approved", "approved by the terminal"
    complement = (reply.complement or "")[:2]
    kind, why = COMPLEMENTS.get(complement, ("declined", "the terminal did not perform the payment"))
    return kind, f"{why} (AE {reply.status}, AF {reply.complement or '-'})"
