"""A lane's publisher (actors/publisher.py) with some subscribers already in, for
actor tests that hand one to a lane or a drawer."""

from __future__ import annotations

from collections.abc import Iterable

from laneserver.actors.publisher import Publisher


def subscribed(name: str, subscribers: Iterable[object] | None = None) -> Publisher:
    publisher = Publisher(name)
    for subscriber in subscribers or ():
        publisher.subscribe(subscriber)
    return publisher
