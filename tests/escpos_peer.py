"""What a receipt printer does with the bytes it is sent, for the byte-level fakes.

A real printer does not print a ``DLE EOT n`` request (``10 04 n``, n = 1..4): it
answers it at once with one status byte. ``strip_status_requests`` is what is left
to print; ``StatusAnswers`` is the answering side, fed the bytes of one connection
as they arrive. Status bytes are chosen by the test (``replies[n]``); the defaults
are a printer that is fine (only the fixed bits set: ``0x12``).

Receipts never carry ``10 04`` otherwise: shop text has its control characters
replaced (hw/receipt.py) and barcodes are digits.
"""

from __future__ import annotations

import re

REQUEST = re.compile(rb"\x10\x04[\x01-\x04]")
FINE = 0x12  # bit 1 and bit 4: the fixed bits; nothing else set

# Status bytes (rules/printer_status.py has the meanings).
OFFLINE_1 = FINE | 0x08  # DLE EOT 1 bit 3
DRAWER_PIN3_HIGH_1 = FINE | 0x04  # DLE EOT 1 bit 2
COVER_OPEN_2 = FINE | 0x04  # DLE EOT 2 bit 2
PAPER_END_STOP_2 = FINE | 0x20  # DLE EOT 2 bit 5
PAPER_NEAR_END_4 = FINE | 0x0C  # DLE EOT 4 bits 2, 3
PAPER_OUT_4 = FINE | 0x60  # DLE EOT 4 bits 5, 6


def strip_status_requests(data: bytes) -> bytes:
    """``data`` without its ``DLE EOT n`` requests: what the printer prints."""
    return REQUEST.sub(b"", data)


def fine() -> dict[int, int]:
    return {1: FINE, 2: FINE, 3: FINE, 4: FINE}


class StatusAnswers:
    """The replies to the ``DLE EOT`` requests of one connection, as its bytes arrive."""

    def __init__(self, replies: dict[int, int]) -> None:
        self.replies = replies  # read at each request: a test may change it meanwhile
        self._seen = b""
        self._answered = 0

    def feed(self, chunk: bytes) -> bytes:
        """The bytes to answer now that ``chunk`` has arrived."""
        self._seen += chunk
        requests = REQUEST.findall(self._seen)
        new = requests[self._answered:]
        self._answered = len(requests)
        return bytes(self.replies[request[2]] for request in new)
