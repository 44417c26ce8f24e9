"""Domain outcomes as wire frames: the one place a ``Refused`` becomes an ``error``.

Actors answer domain values (rules/outcome.py); the edge encodes them. A refusal's
``details`` are the ``error`` frame's optional fields (``line``, ``article``,
``available``…); a detail the frame has no field for stays out of it.
"""

from __future__ import annotations

import msgspec

from laneserver.actors.replies import Replayed
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import error_frame, with_re
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
