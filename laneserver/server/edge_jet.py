"""The ``events`` verb at the edge: the technical event journal (JET, chain ``jet``),
read through the journal (store/jet.py ``entries``), for a manager (rules/roles.py).

Each entry goes out as ``{seq, at, kind, …}``: ``seq`` is its number in the chain,
``at`` its time, ``kind`` one of rules/jet.py ``KINDS``, then its kind's fields. At
most ``MAX_ENTRIES`` a reply; ``more`` says more follow (ask again from the last ``seq``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from laneserver.actors.journal import read
from laneserver.protocol import messages as wire
from laneserver.protocol.codec import encode, error_frame
from laneserver.rules.jet import KIND_NAMES
from laneserver.store import jet as jet_store

# The largest ``since`` SQLite can compare with (a chain number is a 64-bit integer).
MAX_SINCE = 2**63 - 1


def entry_view(entry: jet_store.Entry) -> dict[str, Any]:
    """An entry on the wire: ``seq``, ``at``, ``kind`` first, then its fields (its
    stored ``number`` is the ``seq``)."""
    record = entry.record
    view: dict[str, Any] = {"seq": entry.number, "at": record.get("at"), "kind": record.get("kind")}
    view.update((key, value) for key, value in sorted(record.items()) if key not in ("number", "at", "kind"))
    return view


async def events(shop: Any, request: wire.Events, *, seller: str | None) -> bytes:
    """The entries after ``since`` (of ``kind``), or why not: no seller, a ``since`` out
    of range, an unknown ``kind`` (each refused with nothing read). Who may ask is the
    roles table's (rules/roles.py: a manager unless the shop says otherwise), checked by
    the session before this."""
    if seller is None:
        return error_frame(request, wire.Code.NOT_SIGNED_IN, "no seller is signed in on this device")
    if not 0 <= request.since <= MAX_SINCE:
        return error_frame(request, wire.Code.BAD_REQUEST, "since must be a sequence number, 0 or more",
                           field="since")
    if request.kind is not None and request.kind not in KIND_NAMES:
        return error_frame(request, wire.Code.BAD_REQUEST,
                           f"no event kind {request.kind[:40]!r} (kinds: {', '.join(KIND_NAMES)})", field="kind")
    found, more = await read(shop.journal, partial(jet_store.entries, since=request.since, kind=request.kind))
    return encode(wire.EventsOk(re=request.id, events=[entry_view(entry) for entry in found], more=more))
