"""Idempotency: the replies an actor already gave to keyed requests.

A mutating request may carry a ``key``; its reply is journaled in the same
transaction as its effect (``Remember`` / ``RecordSale.reply``). The actor that
executed it keeps the replies in memory, loaded from the database at start, so
a repeated key from the same device is answered from here, after a reconnect
or a restart, and applies nothing twice. Rows older than ``KEEP`` are not
loaded (a client does not retry a request for a week).
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from laneserver.actors.journal import read
from laneserver.actors.runtime import Address
from laneserver.protocol.codec import with_re
from laneserver.protocol.messages import Id
from laneserver.store import reads

KEEP = dt.timedelta(days=7)


class ReplyMemory:
    def __init__(self, actor: str) -> None:
        self.actor = actor
        self._replies: dict[tuple[str, str], bytes] = {}

    async def load(self, journal: Address, now: dt.datetime) -> None:
        since = (now - KEEP).isoformat()
        self._replies = await read(journal, partial(reads.replies, actor=self.actor, since=since))

    def recall(self, device: str, key: str | None, re: Id) -> bytes | None:
        if key is None:
            return None
        stored = self._replies.get((device, key))
        return None if stored is None else with_re(stored, re)

    def remember(self, device: str, key: str | None, reply: bytes) -> None:
        if key is not None:
            self._replies[(device, key)] = reply
