"""A lane's sessions, with one owner: the publisher.

Pushed events (a lane's ``ticket``, its printer status, drawer alerts, the lane
going out of service) reach the sessions of a lane through its ``Publisher``. The
publisher alone holds the set of subscribers: sessions tell it ``subscribe`` and
``unsubscribe``; the lane, its drawer and the supervisor tell it ``publish``. None
of them sees the set, so no two actors mutate the same object.

It is made once per lane by the shop (server/run.py) and outlives every restart of
the lane and of its drawer: a lane that crashes and starts again loses no session,
and a session that subscribes while the lane restarts still gets the newest ticket
and printer status (the kinds in ``sticky`` are kept and given to each newcomer).

It is a plain object, not an actor with its own task, on purpose: every call is
synchronous and runs on the Trio thread, so a ``publish`` reaches every session's
outbox before the lane answers the request that made the change — a session never
gets the reply of revision N before the event of revision N − 1 (an actor hop
between the lane and the sessions could reorder them) — and a publish never waits
(each session's ``deliver`` never blocks: server/session.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from laneserver.actors.messages import Subscriber

TICKET = "ticket"


class Publisher:
    def __init__(self, name: str, *, sticky: Iterable[str] = (TICKET, "printer")) -> None:
        self.name = name
        self._subscribers: set[Subscriber] = set()
        # The newest value of each sticky kind: what a new subscriber is given at once.
        self._newest: dict[str, Any] = {kind: None for kind in sticky}

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, subscriber: Subscriber) -> None:
        """Add ``subscriber``; it is given the newest value of each sticky kind at once
        (the lane's ticket first, then its printer status)."""
        self._subscribers.add(subscriber)
        for kind, value in self._newest.items():
            if value is not None:
                _deliver(subscriber, value, kind)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    def publish(self, value: object, kind: str = TICKET, *, skip: object = None) -> None:
        """``value`` (a ``LaneTicket``, an encoded frame, an alert) to every subscriber
        but ``skip`` (the session whose request made the change: its reply carries it)."""
        if kind in self._newest:
            self._newest[kind] = value
        for subscriber in list(self._subscribers):
            if subscriber is not skip:
                _deliver(subscriber, value, kind)

    def newest(self, kind: str = TICKET) -> Any:
        """The newest value published of a sticky ``kind``, or None."""
        return self._newest.get(kind)


def _deliver(subscriber: Subscriber, value: object, kind: str) -> None:
    if kind == TICKET:
        subscriber.deliver_ticket(value)
    else:
        subscriber.deliver(value, kind)
