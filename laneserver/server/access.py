"""Store IT's decisions reach open sessions at once.

``laneserver device revoke`` and ``laneserver seller disable`` run in another process
and only write the database. This task reads, every ``CHECK_SECONDS``, which devices
are revoked and which sellers disabled, and acts on the open sessions: a revoked
device's sessions are closed (websocket code 1008, the reason said); a disabled
seller's sessions are signed out (a ``signed_out`` event tells the page). It also
keeps the resume secrets of open sessions fresh (``TOUCH_SECONDS``), so a page open
all day keeps its seller through a reconnect however long ago it signed in.
"""

from __future__ import annotations

import trio

from laneserver.actors.journal import CommitFailed, ReadFailed, commit, read
from laneserver.actors.runtime import ActorFailed
from laneserver.log import get_logger
from laneserver.server.shop import Shop
from laneserver.store import reads
from laneserver.store.ops import TouchResume

CHECK_SECONDS = 1.0
TOUCH_SECONDS = 60.0

REVOKED = "this device was revoked by store IT: pair it again"
DISABLED = "this seller was disabled by store IT"


def apply_access(shop: Shop, revoked: frozenset[str], disabled: frozenset[str]) -> int:
    """Close or sign out the open sessions ``revoked`` and ``disabled`` name; how many."""
    acted = 0
    for session in list(shop.open_sessions):
        if session.device is not None and session.device.device in revoked:
            session.close_revoked(REVOKED)
            acted += 1
        elif session.seller is not None and session.seller in disabled:
            session.sign_out_disabled(DISABLED)
            acted += 1
    return acted


async def watch_access(shop: Shop) -> None:
    """Run until cancelled (the listener's shutdown). A failed read is logged and tried
    again at the next tick: the sessions keep going meanwhile.

    Cancellation: safe at any point (it only reads, and touches resume secrets).
    """
    log = get_logger("access")
    next_touch = trio.current_time() + TOUCH_SECONDS
    while True:
        await trio.sleep(CHECK_SECONDS)
        if not shop.open_sessions:
            continue
        try:
            revoked, disabled = await read(shop.journal, reads.access_state)
            acted = apply_access(shop, revoked, disabled)
            if acted:
                log.info("access_applied", sessions=acted)
            if trio.current_time() >= next_touch:
                next_touch = trio.current_time() + TOUCH_SECONDS
                hashes = tuple(s.resume_hash for s in shop.open_sessions if s.resume_hash is not None)
                if hashes:
                    await commit(shop.journal, TouchResume(secret_hashes=hashes, at=shop.clock.now()))
        except (ReadFailed, CommitFailed, ActorFailed) as error:
            log.error("access_check_failed", error=str(error))
