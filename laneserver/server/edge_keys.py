"""Idempotency for the verbs the edge writes itself, with no actor to remember them
(actors/replies.py is the actors' memory): the catalog's edits (``article_create``,
``barcode_attach``: server/edge_catalog.py), ``keyboard_save``, and a manager's
``seller_disable`` and ``device_revoke`` (server/edge_admin.py).

A keyed request's reply is kept in the journal with its write, in one unit
(``remembered``: store/ops.py ``KeptWith``, or the catalog edit's own ``remember``), and
a request is looked up there FIRST (``first``, one read) — before its PIN, the shop's
option or the catalog are checked — so a retry of a write that was applied gets its
first reply, not a refusal for the change it made (the code now attached, the article
now made, a keyboard key's article no longer sold). These verbs are rare, so nothing is
kept in memory. A device's keyed request is looked up and written ``one_at_a_time``:
the same key sent again on another of its connections while the first is being
written (a till reconnected before its first try's reply) waits for it, then finds
its reply — else both found none, and the second was refused for the write of the
first (``key_reused``, ``changed: false``, the article now made). ``seller_add`` and
``seller_pin`` are not remembered: their fingerprint would hash the PIN they carry,
weakly, into the ``replies`` table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import trio

from laneserver.actors.journal import ReadFailed, read
from laneserver.actors.replies import key_reused
from laneserver.actors.runtime import ActorFailed
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import fingerprint, with_re
from laneserver.rules.outcome import Code, Refused, refused
from laneserver.server.outcomes import refusal_frame
from laneserver.store import reads
from laneserver.store.ops import KeptWith, Remember

log = get_logger("session")


class _Writing:
    """The tries of one device's keyed request in flight: they go one at a time."""

    __slots__ = ("lock", "tries")

    def __init__(self) -> None:
        self.lock = trio.Lock()
        self.tries = 0


# (journal, device, key) → its tries in flight; an entry lives while one is (no growth).
_writing: dict[tuple[Any, str, str], _Writing] = {}


@asynccontextmanager
async def one_at_a_time(journal: Any, device: str, request: wire.Request) -> AsyncIterator[None]:
    """The block (``first``, then the write) run for ``request`` alone among ``device``'s
    tries of its key: a try of the same key on another connection waits until this one
    is answered (and then finds its reply). An unkeyed request does not wait."""
    if request.key is None:
        yield
        return
    name = (journal, device, request.key)
    writing = _writing.get(name)
    if writing is None:
        writing = _writing[name] = _Writing()
    writing.tries += 1
    try:
        async with writing.lock:
            yield
    finally:
        writing.tries -= 1
        if not writing.tries:
            del _writing[name]


async def first(journal: Any, device: str, request: wire.Request, actor: str) -> bytes | Refused | None:
    """What ``request`` (keyed, from ``device``) got the first time, as ``actor`` kept it;
    ``conflict`` (``key_reused``) when its key answered another request; ``unavailable``
    when the journal could not be read; None when the key is new (or there is none)."""
    if request.key is None:
        return None
    try:
        found = await read(journal, partial(reads.reply_of, device=device, key=request.key))
    except (ReadFailed, ActorFailed) as error:
        log.error("keyed_reply_unread", verb=request.__struct_config__.tag, error=str(error))
        return refused(Code.UNAVAILABLE, "the database did not answer; nothing was changed")
    if found is None:
        return None
    kept_by, first_fingerprint, reply = found
    if kept_by != actor or (first_fingerprint is not None and first_fingerprint != fingerprint(request)):
        return key_reused(request.key)
    return reply


async def first_frame(journal: Any, device: str, request: wire.Request, actor: str) -> bytes | None:
    """``first`` for a reply kept as its frame: that frame re-addressed, or the refusal's
    error frame; None: a new request."""
    found = await first(journal, device, request, actor)
    if found is None:
        return None
    if isinstance(found, Refused):
        return refusal_frame(request, found)
    return with_re(found, request.id)


def remembered(op: Any, device: str, request: wire.Request, actor: str, reply: bytes, at: Any, *,
               always: bool = False) -> Any:
    """``op`` with ``request``'s reply ``reply`` (its frame) kept when ``op`` changes
    something (or ``always``); ``op`` alone for a request without a key."""
    if request.key is None:
        return op
    return KeptWith(op=op, always=always, remember=Remember(device=device, key=request.key, actor=actor, reply=reply,
                                                           at=at, fingerprint=fingerprint(request)))
