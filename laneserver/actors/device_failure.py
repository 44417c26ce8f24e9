"""A lane device going down, in the technical event journal (JET): ``device_failure``.

What the printer actor writes for a printer (actors/printer.py), the customer
displays and scanners write for themselves (actors/display.py, actors/scanner.py):
one entry per failure — when a device that was up (or never reached yet) goes down —
never one per retry. Bounded: a journal that does not answer within
``FAILURE_RECORD_SECONDS`` is logged and the device goes on without it.
"""

from __future__ import annotations

from typing import Any

import trio

from laneserver.actors.journal import CommitFailed, commit
from laneserver.actors.runtime import ActorFailed, Address
from laneserver.clock import Clock
from laneserver.rules import jet
from laneserver.store.ops import ChainRecord

FAILURE_RECORD_SECONDS = 5.0


async def record_device_failure(journal: Address | None, clock: Clock, *, device: str, reason: str,
                                lane: str, log: Any) -> None:
    """The ``device_failure`` entry of ``device`` (``display:ID``, ``scanner:ID``).

    Cancellation: safe; an entry not written by then is simply not written.
    """
    if journal is None:
        return
    record = jet.jet_record(jet.DEVICE_FAILURE, device=device, reason=reason, lanes=[lane])
    with trio.move_on_after(FAILURE_RECORD_SECONDS) as waited:
        try:
            await commit(journal, ChainRecord(chain="jet", at=clock.now(), record=record))
        except (CommitFailed, ActorFailed) as error:
            log.error("device_failure_not_journaled", error=str(error))
    if waited.cancelled_caught:
        log.error("device_failure_not_journaled", error="the journal did not answer in time")
