"""What the fiscal actor (actors/fiscal.py) takes from the edge (server/edge_fiscal.py)
and answers: the X report, a Z closure, the list of closures (rules/closures.py)."""

from __future__ import annotations

import msgspec

from laneserver.rules.closures import Closure


class AskReport(msgspec.Struct, frozen=True):
    """The X of the open period: one lane's, or every lane's (None)."""

    lane: str | None = None


class CloseNow(msgspec.Struct, frozen=True):
    """The Z of a ``kind`` (day, month, year) and ``date`` (None: the current one)."""

    kind: str
    date: str | None = None


class ListClosures(msgspec.Struct, frozen=True):
    kind: str | None = None
    since: int | None = None


class ClosureList(msgspec.Struct, frozen=True):
    closures: tuple[Closure, ...]


class Closed(msgspec.Struct, frozen=True, tag="closed"):
    """A keyed ``close`` as remembered: the Z it made, found again by its number."""

    number: int
