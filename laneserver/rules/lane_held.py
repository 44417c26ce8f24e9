"""The lane's held tickets: hold and recall the open ticket, and a PDA's basket (SPEC
§9) emptied onto the open ticket or parked as a held ticket with a barcode, recalled,
given to another lane (in transit until the take is known), taken from one, given
back or dropped once taken. Pure: dispatched by rules/lane.py
``apply``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from laneserver.rules.lane_lines import add_line
from laneserver.rules.lane_state import (
    MAX_BASKET_LINES,
    PARKED_PREFIX,
    BasketEmptied,
    BasketParked,
    DropParked,
    EmptyBasket,
    GiveParked,
    HeldTicket,
    InTransit,
    LaneState,
    Park,
    ParkedDropped,
    ParkedGiven,
    ParkedRestored,
    ParkedTaken,
    Recall,
    RecallParked,
    RestoreParked,
    TakeParked,
    TicketHeld,
    TicketRecalled,
    fresh_ticket,
)
from laneserver.rules.outcome import Applied, Refused
from laneserver.rules.ticket import (
    Ticket,
    totals,
)

MAX_HELD = 50


def hold(state: LaneState, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if not ticket.lines:
        return Refused("conflict", "the open ticket is empty: nothing to hold")
    if len(state.held) + len(state.given) >= MAX_HELD:
        return Refused("conflict", f"a lane holds at most {MAX_HELD} tickets: recall one (and finish or cancel it) "
                                   "before holding another")
    if ticket.payments:
        return Refused("conflict", "the ticket has payments: remove them or finish before holding it")
    held_id = f"{state.lane}-{state.next_held}"
    held = HeldTicket(held=held_id, ticket=ticket, held_at=now)
    new = msgspec.structs.replace(
        state, ticket=fresh_ticket(), held=state.held + (held,), next_held=state.next_held + 1
    )
    return Applied(new, (TicketHeld(held_id, totals(ticket).total),))


def recall(state: LaneState, command: Recall) -> Applied | Refused:
    held = state.held_ticket(command.held)
    if held is None:
        return Refused("not_found", f"no held ticket {command.held!r} on lane {state.lane}", {"held": command.held})
    if not state.ticket.is_empty:
        return Refused("conflict", "the open ticket is not empty: hold or finish it before recalling another")
    new = msgspec.structs.replace(
        state, ticket=held.ticket, held=tuple(h for h in state.held if h.held != command.held)
    )
    return Applied(new, (TicketRecalled(command.held),))


# --- PDA baskets (SPEC §9) ---------------------------------------------------------


def parked_barcode(held: str) -> str:
    """The barcode of a parked basket held as ``held`` (``<lane>-<n>``): ``PB<lane>-<n>``."""
    return f"{PARKED_PREFIX}{held}"


def parked_lane(code: str) -> str | None:
    """The lane a parked basket's barcode names (``PB<lane>-<n>``), or None: not one."""
    if not code.startswith(PARKED_PREFIX):
        return None
    lane, dash, number = code[len(PARKED_PREFIX):].rpartition("-")
    if not dash or not lane or not number.isdigit():
        return None
    return lane


def _basket_lines(ticket: Ticket, command: EmptyBasket | Park, now: dt.datetime) -> tuple[Ticket, list[Any]] | Refused:
    """``ticket`` with the basket's lines added (each tagged with its source), and their
    events; or the first line's refusal, naming the basket line (``index``, from 0)."""
    if not command.lines:
        return Refused("bad_request", "the basket has no lines")
    if len(command.lines) > MAX_BASKET_LINES:
        return Refused("bad_request", f"a basket holds at most {MAX_BASKET_LINES} lines, got {len(command.lines)}",
                       {"field": "lines"})
    scratch = LaneState(lane="", ticket=ticket)
    events: list[Any] = []
    for index, one in enumerate(command.lines):
        result = add_line(scratch, msgspec.structs.replace(one, source=command.source), now)
        if isinstance(result, Refused):
            return Refused(result.code, f"basket line {index}: {result.message}", {**result.details, "index": index})
        scratch = result.state
        events.extend(result.events)
    return scratch.ticket, events


def empty_basket(state: LaneState, command: EmptyBasket, now: dt.datetime) -> Applied | Refused:
    ticket = state.ticket
    if not ticket.is_empty and not command.append:
        return Refused("conflict", f"the open ticket of lane {state.lane} already has {len(ticket.lines)} lines "
                                   "(another customer's?): finish or hold it, or send the basket with append: true "
                                   "once the till agrees", {"ticket_not_empty": True})
    added = _basket_lines(ticket, command, now)
    if isinstance(added, Refused):
        return added
    new, events = added
    source = command.source
    events.append(BasketEmptied(basket=source.basket, device=source.device, seller=source.seller,
                                lines=len(command.lines), added=len(new.lines) - len(ticket.lines),
                                appended=bool(ticket.lines)))
    return Applied(msgspec.structs.replace(state, ticket=new), tuple(events))


def park(state: LaneState, command: Park, now: dt.datetime) -> Applied | Refused:
    if len(state.held) + len(state.given) >= MAX_HELD:
        return Refused("conflict", f"lane {state.lane} holds {MAX_HELD} tickets already: park the basket on another "
                                   "lane, or recall one first")
    added = _basket_lines(Ticket(), command, now)
    if isinstance(added, Refused):
        return added
    ticket, _ = added
    held_id = f"{state.lane}-{state.next_held}"
    barcode = parked_barcode(held_id)
    source = command.source
    held = HeldTicket(held=held_id, ticket=ticket, held_at=now, barcode=barcode, basket=source.basket)
    new = msgspec.structs.replace(state, held=state.held + (held,), next_held=state.next_held + 1)
    return Applied(new, (BasketParked(basket=source.basket, device=source.device, seller=source.seller,
                                      held=held_id, barcode=barcode, total=totals(ticket).total,
                                      lines=ticket.lines),))


def _parked(state: LaneState, barcode: str) -> HeldTicket | Refused:
    held = next((h for h in state.held if h.barcode is not None and h.barcode == barcode), None)
    if held is None:
        return Refused("not_found", f"no parked basket {barcode!r} on lane {state.lane} (recalled already?)",
                       {"held": barcode})
    return held


def recall_parked(state: LaneState, command: RecallParked) -> Applied | Refused:
    held = _parked(state, command.barcode)
    if isinstance(held, Refused):
        return held
    return recall(state, Recall(command.seller, held.held))


def give_parked(state: LaneState, command: GiveParked) -> Applied | Refused:
    """The held ticket leaves ``held`` for ``given`` (in transit): a second give, a recall
    here, find it no more; it stays in the lane's journal until the take is known."""
    held = _parked(state, command.barcode)
    if isinstance(held, Refused):
        return held
    moving = InTransit(held=held, to=command.to, run=command.run, hand=command.hand)
    new = msgspec.structs.replace(state, held=tuple(h for h in state.held if h is not held),
                                  given=state.given + (moving,))
    return Applied(new, (ParkedGiven(held=held, to=command.to),))


def take_parked(state: LaneState, command: TakeParked) -> Applied | Refused:
    if not state.ticket.is_empty:
        return Refused("conflict", "the open ticket is not empty: hold or finish it before recalling a parked basket")
    held = command.held
    new = msgspec.structs.replace(state, ticket=held.ticket)
    return Applied(new, (ParkedTaken(held=held.held, barcode=held.barcode or "", source_lane=command.source_lane),))


def in_transit(state: LaneState, held_id: str) -> InTransit | None:
    """The parked basket held as ``held_id`` that this lane gave and does not know taken."""
    return next((g for g in state.given if g.held.held == held_id), None)


def restore_parked(state: LaneState, command: RestoreParked) -> Applied | Refused:
    """The basket in transit held here again, as it was (not taken by the other lane)."""
    held_id = command.held.held
    if state.held_ticket(held_id) is not None:
        return Refused("conflict", f"lane {state.lane} already holds {held_id}")
    given = in_transit(state, held_id)
    if given is None:
        return Refused("not_found", f"no parked basket {held_id!r} in transit from lane {state.lane}",
                       {"held": held_id})
    held = given.held
    new = msgspec.structs.replace(state, held=state.held + (held,),
                                  given=tuple(g for g in state.given if g is not given))
    return Applied(new, (ParkedRestored(held=held.held, barcode=held.barcode or ""),))


def drop_parked(state: LaneState, command: DropParked) -> Applied | Refused:
    """The basket in transit, taken by the other lane, leaves this lane's journal."""
    given = in_transit(state, command.held)
    if given is None:
        return Refused("not_found", f"no parked basket {command.held!r} in transit from lane {state.lane}",
                       {"held": command.held})
    held = given.held
    new = msgspec.structs.replace(state, given=tuple(g for g in state.given if g is not given))
    return Applied(new, (ParkedDropped(held=held.held, barcode=held.barcode or "", to=given.to),))
