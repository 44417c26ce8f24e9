"""Who a supervisor PIN belongs to.

A discount above the shop's cap carries a supervisor's PIN, not a name, so the PIN
is checked against every active seller allowed to approve (role ``supervisor`` or
``manager``). PIN hashes are slow on purpose (scrypt), so the checks run in a
worker thread, never on the event loop; a shop has a handful of supervisors.
"""

from __future__ import annotations

import trio

from laneserver.actors.journal import read
from laneserver.actors.runtime import Address
from laneserver.rules.auth import PinMemory, check_pin
from laneserver.store.reads import approvers


def _first_match(pin: str, approvers: list[tuple[str, str]]) -> str | None:
    return next((name for name, pin_hash in approvers if check_pin(pin, pin_hash)), None)


def recalled_approver(pin: str, approvers: list[tuple[str, str]], memory: PinMemory) -> str | None:
    """The approver whose PIN ``pin`` was last checked good against their stored hash
    (a sign-in or an approval in this process), or None: microseconds, no scrypt."""
    return next((name for name, pin_hash in approvers if memory.recalls(name, pin_hash, pin)), None)


async def approving_supervisor(journal: Address, pin: str, memory: PinMemory | None = None) -> str | None:
    """The name of the active supervisor or manager whose PIN is ``pin``, or None.

    With ``memory`` (server/pins.py's), a PIN checked good before is recalled without a
    scrypt and a PIN found good by scrypt is remembered; a PIN that matches no one
    still costs a scrypt per approver, as before.

    Raises:
        ReadFailed, ActorFailed: as ``journal.read``.
    """
    candidates = await read(journal, approvers)
    if memory is not None:
        known = recalled_approver(pin, candidates, memory)
        if known is not None:
            return known
    name = await trio.to_thread.run_sync(_first_match, pin, candidates)
    if name is not None and memory is not None:
        memory.remember(name, dict(candidates)[name], pin)
    return name
