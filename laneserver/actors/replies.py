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
a week), and a running actor forgets a reply ``KEEP`` after it remembered (or loaded) it,
so its memory holds about a week of keyed requests, not every one since it started: a
key older than that is answered as after a restart (``conflict``, ``key_reused``: the
journal still holds it), never applied twice.

Every actor's ``Do`` starts with ``answered``: a retry gets its first reply before
anything is checked again (the state its first try changed, the catalog, a refusal the
edge found, a supervisor's PIN: the edge asks here first, server/outcomes.py).

Every actor takes domain commands (``Do``, issue 12) and remembers its domain results
(``recall_result``, ``remember_result``; journaled as MessagePack by ``stored``,
decoded with the actor's result type); the edge encodes them again for the repeated
request. A row journaled as an encoded frame, before its actor spoke the domain, comes
back as ``Replayed``: the edge re-addresses it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from fractions import Fraction
from functools import partial
from typing import Any

import msgspec

from laneserver.actors.journal import CommitFailed, commit, log_commit_failed, read
from laneserver.actors.messages import Keyed
from laneserver.actors.runtime import Address
from laneserver.rules.outcome import Code, Refused
from laneserver.store import reads
from laneserver.store.ops import Remember

KEEP = dt.timedelta(days=7)
# The seconds a reply's age in memory is counted in (monotonic: a wall clock set back
# keeps nothing longer).
_seconds = time.monotonic


class Replayed(msgspec.Struct, frozen=True):
    """A reply journaled as a wire frame: the edge sends it again, re-addressed."""

    frame: bytes


def _enc_hook(value: Any) -> Any:
    if isinstance(value, Fraction):  # exact stock quantities
        return f"{value.numerator}/{value.denominator}"
    raise NotImplementedError(f"cannot store a {type(value).__name__} in a remembered result")


def _dec_hook(kind: type, value: Any) -> Any:
    if kind is Fraction and isinstance(value, str):
        return Fraction(value)
    raise NotImplementedError(f"cannot read a {kind!r} from a remembered result")


_encoder = msgspec.msgpack.Encoder(enc_hook=_enc_hook)


def key_reused(key: str) -> Refused:
    """The refusal of a key this device already used for a different request."""
    return Refused(Code.CONFLICT,
                   f"key {key!r} was already used for a different request on this device; nothing was applied: "
                   "send a new request with a new key", {"key_reused": True})


class ReplyMemory:
    def __init__(self, actor: str, result_type: Any = None) -> None:
        self.actor = actor
        # (device, key) → (the fingerprint of the request it answered or None, the reply:
        # an encoded frame or a stored result as journaled, or a domain result)
        self._replies: dict[tuple[str, str], tuple[str | None, Any]] = {}
        # (when it was remembered or loaded, its key), oldest first: forgotten ``KEEP`` after.
        self._born: deque[tuple[float, tuple[str, str]]] = deque()
        # The actor's domain results (a tagged union), for ``recall_result``.
        self._decoder = None if result_type is None else msgspec.msgpack.Decoder(result_type, dec_hook=_dec_hook)

    # --- domain results (actors that take ``Do``) -------------------------------------

    def recall_result(self, device: str, key: str | None, fingerprint: str | None) -> Any:
        """The first result again, ``Replayed`` (a frame journaled before), a ``Refused``
        (``conflict``, ``key_reused``) when the key answered a different request, or
        None: a new request."""
        if key is None:
            return None
        stored = self._replies.get((device, key))
        if stored is None:
            return None
        first, result = stored
        if first is not None and first != fingerprint:
            return key_reused(key)
        if isinstance(result, bytes):
            if result[:1] == b"{" or self._decoder is None:
                return Replayed(result)
            return self._decoder.decode(result)
        return result

    def answered(self, device: str, key: str | None, fingerprint: str | None, command: Any) -> Any:
        """What a ``Do`` gets before anything else is looked at — THE first step of every
        actor's ``Do``: the first reply to its key again (or ``key_reused``), so a retry
        is never refused by a check on state its first time changed (the sale it
        cancelled, the balance it moved, the article since made inactive); else, when
        its command is a ``Refused`` (the edge refused a keyed request, or asks whether
        the key was answered: server/outcomes.py), that refusal; else None: carry it out."""
        remembered = self.recall_result(device, key, fingerprint)
        if remembered is not None:
            return remembered
        return command if isinstance(command, Refused) else None

    def remember_result(self, device: str, key: str | None, fingerprint: str | None, result: Any) -> None:
        if key is not None:
            now = _seconds()
            self._forget_before(now - KEEP.total_seconds())
            self._replies[(device, key)] = (fingerprint, result)
            self._born.append((now, (device, key)))

    def _forget_before(self, cutoff: float) -> None:
        born = self._born
        while born and born[0][0] < cutoff:
            self._replies.pop(born.popleft()[1], None)

    @staticmethod
    def stored(result: Any) -> bytes:
        """A domain result as the journal keeps it (``Remember.reply``, ``RecordSale.reply``)."""
        return _encoder.encode(result)

    async def commit(self, journal: Address, log: Any, unit: list[Any], *, device: str, keyed: Keyed, answer: Any,
                     at: dt.datetime, failure: str) -> tuple[Any, ...] | Refused:
        """``unit`` journaled with, given a key and an ``answer``, that answer remembered in
        the same unit: the unit's results; or, when it was rolled back, its refusal
        (``failed_result`` with ``failure``), logged. The caller remembers the answer in
        memory once it has applied it (``remember_result``)."""
        if keyed.key is not None and answer is not None:
            unit = [*unit, Remember(device=device, key=keyed.key, actor=self.actor, reply=self.stored(answer), at=at,
                                    fingerprint=keyed.fingerprint)]
        try:
            return await commit(journal, *unit)
        except CommitFailed as error:
            log_commit_failed(log, error)
            return self.failed_result(error, keyed.key, failure)

    @staticmethod
    def failed_result(error: CommitFailed, key: str | None, message: str, code: str = Code.INTERNAL) -> Refused:
        """The refusal of a request whose unit was rolled back: ``conflict`` with
        ``key_reused`` when its key was already used by this device for another
        request (on another lane or stock point, or too long ago to be in memory);
        ``conflict`` naming what changed when another request was written first
        (``changed``: the money it gives back spent meanwhile, …); else ``code`` with
        ``message``. Either way nothing was applied."""
        if error.key_reused and key is not None:
            return Refused(Code.CONFLICT,
                           f"key {key!r} was already used by this device for another request; nothing was applied: "
                           "send a new request with a new key", {"key_reused": True})
        if error.changed:
            return Refused(Code.CONFLICT, f"{error} while this was being saved (another request came first): "
                                          "nothing was changed, look again and try again")
        return Refused(code, message)

    # --- loading ---------------------------------------------------------------------------

    async def load(self, journal: Address, now: dt.datetime) -> None:
        since = (now - KEEP).isoformat()
        self._replies = await read(journal, partial(reads.replies, actor=self.actor, since=since))
        loaded = _seconds()
        self._born = deque((loaded, key) for key in self._replies)

