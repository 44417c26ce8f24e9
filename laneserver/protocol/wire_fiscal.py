"""Fiscal verbs (PROTOCOL.md "Fiscal verbs and commands"), one block per part of issue 13."""

from __future__ import annotations

from typing import Any

from laneserver.protocol.frames import Reply, Request

# --- the technical event journal (JET): ``events`` ------------------------------------


class Events(Request, tag="events"):
    """The technical event journal, oldest first: the entries numbered above ``since``
    (0: from the first), of ``kind`` only when given (rules/jet.py ``KINDS``). Manager."""

    since: int = 0
    kind: str | None = None


class EventsOk(Reply):
    """At most 500 entries (store/jet.py ``MAX_ENTRIES``), each ``{seq, at, kind, …}`` (``seq``: its number in
    the chain ``jet``; the other keys are its kind's fields); ``more``: entries follow the
    last one (ask again with ``since`` = its ``seq``)."""

    events: list[dict[str, Any]]
    more: bool = False

# --- end of the JET block ---------------------------------------------------------------
