"""``pair``: a device typing the one-time code store IT read out gets its token.

The codes are written by ``laneserver pair … --code`` (another process) and read here
from the database when a code is typed (rules/pairing.py says what a code is). Guessing
is bounded three ways:

- every wrong code counts on every live code, durably, and a code is burnt after
  ``MAX_WRONG`` of them (whichever connections typed them);
- one connection gets ``PER_CONNECTION`` wrong codes, then no further try;
- the whole server takes at most ``GLOBAL_PER_MINUTE`` wrong codes a minute: past
  that every ``pair`` is refused at once, nothing read or written.

A wrong, expired, spent or burnt code all get the same ``wrong_code`` error and nothing
else (no tries left, nothing that tells them apart). Checking and spending a code is
one step under one lock, so two devices typing the same code cannot both get a token.
"""

from __future__ import annotations

from collections import deque
from functools import partial

import trio

from laneserver.actors.journal import CommitFailed, ReadFailed, commit, read
from laneserver.actors.runtime import Address
from laneserver.clock import Clock
from laneserver.log import get_logger
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.rules.auth import hash_token, new_token
from laneserver.rules.pairing import PER_CONNECTION, matching, well_formed
from laneserver.store import access

GLOBAL_PER_MINUTE = 30
WRONG = "unknown, expired or used pairing code: check the 6 digits, or ask store IT for a new code"


class PairingGate:
    def __init__(self, journal: Address, clock: Clock, *, per_minute: int = GLOBAL_PER_MINUTE) -> None:
        self.journal = journal
        self.clock = clock
        self.per_minute = per_minute
        self._lock = trio.Lock()
        self._wrong_at: deque[float] = deque()  # trio.current_time() of the last minute's wrong codes
        self.log = get_logger("pairing")

    def _busy(self) -> bool:
        now = trio.current_time()
        while self._wrong_at and self._wrong_at[0] <= now - 60:
            self._wrong_at.popleft()
        return len(self._wrong_at) >= self.per_minute

    async def pair(self, request: wire.Pair, wrong_here: int) -> tuple[bytes, bool]:
        """The reply to ``request`` and whether it was a wrong code (the caller counts
        them per connection: ``wrong_here`` so far)."""
        if wrong_here >= PER_CONNECTION:
            return error_frame(request, wire.Code.FORBIDDEN,
                               f"{PER_CONNECTION} wrong pairing codes on this connection: no further try here"), False
        if not well_formed(request.code):
            return error_frame(request, wire.Code.BAD_REQUEST, "a pairing code is 6 digits", field="code"), True
        if self._busy():
            return error_frame(request, wire.Code.FORBIDDEN,
                               "too many wrong pairing codes on this server in the last minute: wait a minute"), False
        try:
            async with self._lock:
                now = self.clock.now()
                codes = await read(self.journal, partial(access.pairing_codes, now=now))
                found = matching(codes, request.code, now)
                if found is None:
                    self._wrong_at.append(trio.current_time())
                    if codes:  # something to burn: counted durably on every live code
                        await commit(self.journal, access.CountWrongCode(at=now))
                    self.log.warning("pairing_code_wrong", live_codes=len(codes))
                    return error_frame(request, wire.Code.WRONG_CODE, WRONG), True
                if request.kind is not None and request.kind != found.kind:
                    # The right code on the wrong page: said, and the code stays for the right one.
                    return error_frame(request, wire.Code.CONFLICT,
                                       f"this code pairs a {found.kind}, not a {request.kind}: open the "
                                       f"{'till' if found.kind == 'till' else 'PDA'} page to type it",
                                       field="kind"), False
                token = new_token()
                (device,) = await commit(self.journal, access.PairWithCode(at=now, code=found.id,
                                                                           token_hash=hash_token(token)))
        except (ReadFailed, CommitFailed) as error:
            self.log.error("pairing_failed", error=str(error))
            return error_frame(request, wire.Code.UNAVAILABLE, "the code could not be checked; try again"), False
        if device is None:  # not live any more (cannot happen under the lock; said the same way)
            return error_frame(request, wire.Code.WRONG_CODE, WRONG), True
        self.log.info("device_paired", device=device, kind=found.kind, lane=found.lane)
        return encode(wire.PairOk(re=request.id, token=token, device=device, kind=found.kind, lane=found.lane)), False
