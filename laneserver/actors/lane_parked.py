"""The lane's side of a parked basket in transit (``LaneState.given``): given to another
lane's till and not known taken yet, it is settled from the journal — dropped when the
other lane's take (``ParkedTaken``) is there, held here again when it is not — at the
lane's start for what an earlier run left, and when the edge asks (``SettleParked``).

Not an actor of its own: methods of ``LaneActor`` (actors/lane.py), moved here as they
were, run in the lane's task on its state.
"""

from __future__ import annotations

from functools import partial

from laneserver.actors.journal import commit, read
from laneserver.rules import lane as rules
from laneserver.rules import lane_journal
from laneserver.rules.outcome import Refused
from laneserver.store import reads
from laneserver.store.ops import AppendLaneChange, RecordEvent


class LaneParkedSteps:
    """``LaneActor``'s parked-basket settling (see the module's text)."""

    async def _settled(self, given: rules.InTransit) -> rules.DropParked | rules.RestoreParked:
        """What becomes of a parked basket in transit: the journal has the other lane's
        take (``ParkedTaken``, in the take's own unit): dropped here; it has not: held here
        again."""
        held = given.held
        taken = await read(self.journal, partial(reads.parked_taken, lane=self.lane, held=held.held))
        seller = held.ticket.seller or ""
        return rules.DropParked(seller, held.held) if taken else rules.RestoreParked(seller, held)

    async def _settle_given(self) -> None:
        """At start, before the reservations are reported (they then count what came
        back): each parked basket an earlier run gave away and left in transit (the server
        stopped between the give and the take, or before it heard of the take) is
        dropped or held again (``_settled``), so exactly one lane has it. This run's are
        left to its edge, which carries their hand-over through (an actor restarted by
        its supervisor meanwhile does not settle them)."""
        for given in self.state.given:
            if given.run == self.run_id:
                continue
            command = await self._settled(given)
            now = self.clock.now()
            result = rules.apply(self.state, command, now=now)
            if isinstance(result, Refused):  # held here already (it cannot be): left as it is
                self.log.error("parked_basket_not_settled", held=given.held.held, reason=result.message)
                continue
            state = rules.revised(self.state, result.state)
            await commit(self.journal, *(RecordEvent(at=now, source=f"lane:{self.lane}", kind=type(e).__name__,
                                                     data=e) for e in result.events),
                         AppendLaneChange(change=lane_journal.diff(self.state, state), state=state, at=now))
            self.state = state
            self.log.warning("parked_basket_settled", held=given.held.held, to=given.to,
                             taken=isinstance(command, rules.DropParked))
