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
from laneserver.rules.auth import check_pin
from laneserver.store.reads import approvers


def _first_match(pin: str, approvers: list[tuple[str, str]]) -> str | None:
    return next((name for name, pin_hash in approvers if check_pin(pin, pin_hash)), None)


async def approving_supervisor(journal: Address, pin: str) -> str | None:
    """The name of the active supervisor or manager whose PIN is ``pin``, or None.

    Raises:
        ReadFailed, ActorFailed: as ``journal.read``.
    """
    candidates = await read(journal, approvers)
    return await trio.to_thread.run_sync(_first_match, pin, candidates)
