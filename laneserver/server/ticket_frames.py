"""The open ticket as the wire carries it, encoded once per revision and shared: the
reply to the request that changed it (``ticket_json``, spliced into the reply frame) and
the ``ticket`` event every other session of the lane gets (``ticket_event``). Used by the
lane's edge (server/edge_lane.py) and the documents' (server/edge_documents.py)."""

from __future__ import annotations

import msgspec

from laneserver.actors.lane_messages import LaneTicket
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode
from laneserver.protocol.views import TicketEncoder


# Per lane: the last ticket value encoded, its view (``msgspec.Raw``, spliced into each
# frame as it is) and its ``ticket`` event frame. Keyed by identity: the lane makes one
# value per revision and hands that same object to the reply and to every subscriber.
_encoded: dict[str, tuple[LaneTicket, msgspec.Raw, bytes | None]] = {}
# Per lane: its ticket's JSON kept line by line from one revision to the next
# (protocol/views.py ``TicketEncoder``: only the lines a change touched are encoded).
_encoders: dict[str, TicketEncoder] = {}


def ticket_json(value: LaneTicket) -> msgspec.Raw:
    """The open ticket's view with its ``rev``, encoded once per value."""
    kept = _encoded.get(value.lane)
    if kept is not None and kept[0] is value:
        return kept[1]
    encoder = _encoders.get(value.lane)
    if encoder is None:
        encoder = _encoders[value.lane] = TicketEncoder()
    raw = msgspec.Raw(encoder.encode(value.ticket, rev=value.rev))
    _encoded[value.lane] = (value, raw, None)
    return raw


def ticket_event(value: LaneTicket) -> bytes:
    """The ``ticket`` event of ``value``: one frame shared by every session of the lane."""
    raw = ticket_json(value)
    kept = _encoded[value.lane]
    if kept[0] is value and kept[2] is not None:
        return kept[2]
    frame = encode(wire.TicketEvent(lane=value.lane, ticket=raw))
    if kept[0] is value:
        _encoded[value.lane] = (value, raw, frame)
    return frame
