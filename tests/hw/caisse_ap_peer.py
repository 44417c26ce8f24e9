"""A Caisse-AP payment terminal over loopback TCP, for the tests: written from the
public protocol description (see laneserver/hw/caisse_ap.py's doc), sharing no code
with the driver but the field codec's rules, which it applies by hand.

It serves one request per connection, as a terminal on IP does, and answers a debit
as its ``script`` says (one behaviour a debit, popped in order; ``approve`` when
empty):

    =============  ===============================================================
    approve        charges the card; answers AE 10 with AC, AA (masked), AL, CF
    refuse         AE 01, AF 04 (the bank refused)
    abandon        AE 01, AF 06 (the cardholder abandoned)
    silent         never answers (until the client closes)
    drop           charges the card, then closes the connection without answering
    drop_before    closes the connection without charging
    vanish         charges the card, closes without answering, and goes ``down``
    garbage        bytes that are not Caisse-AP
    non_ascii      a field whose value is not ASCII
    bad_length     a length that is not three digits
    overlong       a length longer than what follows, then silence
    flood          valid-looking fields without a status, without end
    old_version    a whole approval, in protocol version 0200
    =============  ===============================================================

A duplicata (CD 3) is answered with the last transaction's fields (its CB and CF
included), or with AE 01 and nothing else when ``busy`` or when there is none.
``down``: every connection is closed at once, unread. ``delay``: seconds before a
debit's answer (the customer typing the PIN).
"""

from __future__ import annotations

import trio

APPROVAL = "A00395"
PAN = "***********0674"


def tlv(*fields: tuple[str, str]) -> bytes:
    return b"".join(tag.encode() + b"%03d" % len(value.encode()) + value.encode() for tag, value in fields)


def untlv(data: bytes) -> list[tuple[str, str]]:
    fields, at = [], 0
    while at < len(data):
        length = int(data[at + 2:at + 5])
        fields.append((data[at:at + 2].decode(), data[at + 5:at + 5 + length].decode()))
        at += 5 + length
    return fields


class CaisseApPeer:
    def __init__(self) -> None:
        self.script: list[str] = []
        self.delay = 0.0
        self.busy = False
        self.down = False
        self.port = 0
        #: Every request received, decoded, in order.
        self.requests: list[dict[str, str]] = []
        #: The debits the card was charged for: (amount in cents, CF).
        self.charged: list[tuple[str, str | None]] = []
        self.last: list[tuple[str, str]] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self)
        await trio.serve_listeners(self._serve, listeners)

    async def _read_request(self, stream: trio.SocketStream) -> dict[str, str] | None:
        data = b""
        while True:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return None
            data += chunk
            try:
                fields = untlv(data)
            except (ValueError, IndexError):
                continue
            if sum(5 + len(v) for _, v in fields) == len(data) and any(t == "CD" for t, _ in fields):
                with trio.move_on_after(0.05):
                    more = await stream.receive_some(4096)
                    if more:
                        data += more
                        continue
                return dict(untlv(data))

    async def _serve(self, stream: trio.SocketStream) -> None:
        async with stream:
            if self.down:
                return
            try:
                request = await self._read_request(stream)
                if request is None:
                    return
                self.requests.append(request)
                head = [("CZ", "0300"), ("CJ", request["CJ"]), ("CA", request["CA"])]
                if request["CD"] == "3":
                    if self.busy or self.last is None:
                        await stream.send_all(tlv(*head, ("AE", "01")))
                    else:
                        await stream.send_all(tlv(*head, *self.last))
                    return
                await self._debit(stream, request, head)
            except trio.BrokenResourceError:
                return

    async def _debit(self, stream: trio.SocketStream, request: dict[str, str], head: list[tuple[str, str]]) -> None:
        behaviour = self.script.pop(0) if self.script else "approve"
        await trio.sleep(self.delay)
        echo = [("CB", request["CB"]), ("CD", request["CD"]), ("CE", request["CE"])]
        private = [("CF", request["CF"])] if "CF" in request else []
        approved = [*echo, ("AE", "10"), ("AF", "01"), ("AC", APPROVAL), ("AA", PAN), ("AL", "1"), ("CI", "2"),
                    *private]
        match behaviour:
            case "approve" | "drop" | "vanish":
                self.charged.append((request["CB"], request.get("CF")))
                self.last = approved
                self.down = behaviour == "vanish"
                if behaviour == "approve":
                    await stream.send_all(tlv(*head, *approved))
            case "refuse" | "abandon":
                complement = "04" if behaviour == "refuse" else "06"
                self.last = [*echo, ("AE", "01"), ("AF", complement), *private]
                await stream.send_all(tlv(*head, *self.last))
            case "silent":
                while await stream.receive_some(4096):
                    pass
            case "drop_before":
                pass
            case "garbage":
                await stream.send_all(b"\x00\xffHELLO THIS IS NOT CAISSE-AP")
            case "non_ascii":
                await stream.send_all(tlv(*head) + b"AE0021\xe9")
            case "bad_length":
                await stream.send_all(tlv(*head) + b"AE0x210")
            case "overlong":
                await stream.send_all(tlv(*head) + b"AE99910")
                while await stream.receive_some(4096):
                    pass
            case "flood":
                with trio.move_on_after(10):
                    while True:
                        await stream.send_all(tlv(("AK", "A" * 900)) * 8)
            case "old_version":
                self.charged.append((request["CB"], request.get("CF")))
                self.last = approved
                await stream.send_all(tlv(("CZ", "0200"), *head[1:], *approved))
            case other:
                raise AssertionError(f"no behaviour {other!r}")
