"""Domain outcomes as wire frames: the one place a ``Refused`` becomes an ``error``,
and the one ask every domain's edge makes (``ask``).

Actors answer domain values (rules/outcome.py); the edge encodes them. A refusal's
``details`` are the ``error`` frame's optional fields (``line``, ``article``,
``available``…); a detail the frame has no field for stays out of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from laneserver.actors.messages import Caller, Do
from laneserver.actors.replies import Replayed
from laneserver.actors.runtime import Address
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import error_frame, fingerprint, with_re
from laneserver.rules.outcome import Refused

# The error frame's optional fields: what a refusal's details may set.
ERROR_DETAILS = frozenset(f.name for f in msgspec.structs.fields(wire.Error)) - {"re", "code", "message"}


def refusal_frame(request: wire.Request | None, refused: Refused) -> bytes:
    """The ``error`` reply to ``request`` for ``refused`` (nothing was applied)."""
    details = {k: v for k, v in refused.details.items() if k in ERROR_DETAILS}
    return error_frame(request, refused.code, refused.message, **details)


def replayed_frame(request: wire.Request, replayed: Replayed) -> bytes:
    """A reply journaled as a frame (before its actor took domain commands), re-addressed."""
    return with_re(replayed.frame, request.id)


async def ask(address: Address, caller: Caller, request: wire.Request, command: Any,
              answer: Callable[[wire.Request, Any], bytes], *,
              refusal: Callable[[wire.Request, Refused], bytes] = refusal_frame,
              keyed_refusals_asked: bool = True) -> bytes:
    """THE round trip of a domain's edge (server/edge_<domain>.py ``handle``): the
    ``command`` built from ``request`` (or its ``Refused``) asked of the actor at
    ``address`` in a ``Do`` with the request's key and fingerprint; its result as the
    reply frame — ``refusal`` for a ``Refused``, the journaled frame re-addressed for a
    ``Replayed``, else ``answer(request, result)``.

    A refusal found while translating a KEYED request goes to the actor all the same
    (``keyed_refusals_asked``, every edge's): the actor looks its reply memory up first
    (actors/replies.py ``answered``), so a retry of a request it already answered gets
    that answer again though translating it is refused now (the catalog changed since:
    a counted code no longer known, an article no longer active). Unkeyed, or with
    ``keyed_refusals_asked=False``, the refusal is answered here.
    """
    key = request.key
    if isinstance(command, Refused) and not (keyed_refusals_asked and key is not None):
        return refusal(request, command)
    result = await address.ask(Do(caller, command, key, None if key is None else fingerprint(request)))
    if isinstance(result, Refused):
        return refusal(request, result)
    if isinstance(result, Replayed):
        return replayed_frame(request, result)
    return answer(request, result)


# The probe ``answered_before`` sends: a ``Refused`` command, which an actor answers with
# itself unless its reply memory holds the key (actors/replies.py ``answered``).
_PROBE = Refused("unanswered", "no first reply under this key")


async def answered_before(address: Address, caller: Caller, request: wire.Request) -> bool:
    """Whether the actor at ``address`` already answered ``request``'s key from this
    device (the first reply again, or ``key_reused``). The session asks it before a
    check on state that a first try may have changed — a supervisor's PIN (changed,
    locked, its supervisor disabled since) — so that the actor, asked then without the
    approval, answers the retry from its memory and the PIN is not counted again."""
    key = request.key
    if key is None:
        return False
    found = await address.ask(Do(caller, _PROBE, key, fingerprint(request)))
    return found != _PROBE
