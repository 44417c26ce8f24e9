"""Idempotency: the replies an actor already gave to keyed requests.

A mutating request may carry a ``key``; its reply is journaled in the same
transaction as its effect (``Remember`` / ``RecordSale.reply``), with the request's
fingerprint (its verb and fields, protocol/codec.py ``fingerprint``). The actor that
executed it keeps the replies in memory, loaded from the database at start, so a
repeated key from the same device is answered from here, after a reconnect or a
restart, and applies nothing twice. The same key with a different request (another
verb, other fields) is refused with ``conflict`` (``key_reused: true``) and applies
nothing either: an integration that reset its key counter must not be told that its
new payment was taken. Rows written before fingerprints were kept (NULL) replay as
before. Rows older than ``KEEP`` are not loaded (a client does not retry a request for
a week).
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from laneserver.actors.journal import CommitFailed, read
from laneserver.actors.runtime import Address
from laneserver.protocol.codec import error_frame, fingerprint, with_re
from laneserver.protocol.messages import Code, Request
from laneserver.store import reads

KEEP = dt.timedelta(days=7)


class ReplyMemory:
    def __init__(self, actor: str) -> None:
        self.actor = actor
        # (device, key) → (the fingerprint of the request it answered or None, the reply)
        self._replies: dict[tuple[str, str], tuple[str | None, bytes]] = {}

    async def load(self, journal: Address, now: dt.datetime) -> None:
        since = (now - KEEP).isoformat()
        self._replies = await read(journal, partial(reads.replies, actor=self.actor, since=since))

    def recall(self, device: str, request: Request) -> bytes | None:
        """The first reply again (addressed to this request's ``id``), a ``conflict``
        when the key answered a different request, or None: a new request."""
        if request.key is None:
            return None
        stored = self._replies.get((device, request.key))
        if stored is None:
            return None
        first, reply = stored
        if first is not None and first != fingerprint(request):
            return error_frame(
                request, Code.CONFLICT,
                f"key {request.key!r} was already used for a different request on this device; nothing was "
                "applied: send a new request with a new key", key_reused=True)
        return with_re(reply, request.id)

    @staticmethod
    def failed(request: Request, error: CommitFailed, message: str, code: str = Code.INTERNAL) -> bytes:
        """The answer to a request whose unit was rolled back: ``conflict`` with
        ``key_reused`` when its key was already used by this device for another
        request (on another lane or stock point, or too long ago to be in memory),
        else ``code`` with ``message``. Either way nothing was applied."""
        if error.key_reused:
            return error_frame(
                request, Code.CONFLICT,
                f"key {request.key!r} was already used by this device for another request; nothing was applied: "
                "send a new request with a new key", key_reused=True)
        return error_frame(request, code, message)

    def fingerprint(self, request: Request) -> str | None:
        """What is journaled with a keyed request's reply (None without a key)."""
        return None if request.key is None else fingerprint(request)

    def remember(self, device: str, request: Request, reply: bytes) -> None:
        if request.key is not None:
            self._replies[(device, request.key)] = (fingerprint(request), reply)
