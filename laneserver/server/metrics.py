"""Counters and gauges for ``/metrics`` (Prometheus text format, version 0.0.4).

Plain integers bumped from tasks of the one event loop: no locks needed.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable


class Metrics:
    def __init__(self) -> None:
        self.sessions_open = 0
        self.sessions_total = 0
        self.frames_in = 0
        self.frames_out = 0
        self.events_conflated = 0
        self.errors: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.gauges: dict[str, Callable[[], float]] = {}

    def render(self) -> str:
        out: list[str] = []

        def metric(name: str, kind: str, help_: str, samples: list[tuple[str, float]]) -> None:
            out.append(f"# HELP laneserver_{name} {help_}")
            out.append(f"# TYPE laneserver_{name} {kind}")
            for labels, value in samples:
                out.append(f"laneserver_{name}{labels} {value}")

        metric("sessions_open", "gauge", "Websocket sessions open now.", [("", self.sessions_open)])
        metric("sessions_total", "counter", "Websocket sessions opened.", [("", self.sessions_total)])
        metric("frames_in_total", "counter", "Frames received.", [("", self.frames_in)])
        metric("frames_out_total", "counter", "Frames sent.", [("", self.frames_out)])
        metric("events_conflated_total", "counter",
               "Pushed events replaced by a newer one because a session was slow.", [("", self.events_conflated)])
        metric("requests_total", "counter", "Requests by verb.",
               [(f'{{verb="{verb}"}}', n) for verb, n in sorted(self.requests.items())])
        metric("errors_total", "counter", "Error replies by code.",
               [(f'{{code="{code}"}}', n) for code, n in sorted(self.errors.items())])
        for name, read in sorted(self.gauges.items()):
            metric(name, "gauge", name.replace("_", " ") + ".", [("", read())])
        return "\n".join(out) + "\n"
