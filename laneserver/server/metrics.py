"""Counters, gauges and histograms for ``/metrics`` (Prometheus text format, version
0.0.4; every series is listed in docs/operations.md, "Metrics").

Plain integers bumped from tasks of the one event loop: no locks needed. Gauges are
read when ``/metrics`` is asked: ``gauges`` one value each, ``labelled`` one value
per label set (the mailboxes' depths, sessions by kind, …), ``histograms`` those
kept elsewhere (the journal's).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable

from laneserver.histogram import LATENCY_BOUNDS, Histogram


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
        # name → (help, label name(s), read() → {label value(s): value})
        self.labelled: dict[str, tuple[str, tuple[str, ...], Callable[[], dict]]] = {}
        self.histograms: dict[str, tuple[str, Callable[[], Histogram]]] = {}
        # Seconds from a request frame read to its reply handed to the outbox, per verb.
        self.latency: dict[str, Histogram] = {}

    def observe(self, verb: str, seconds: float) -> None:
        histogram = self.latency.get(verb)
        if histogram is None:
            histogram = self.latency[verb] = Histogram(LATENCY_BOUNDS)
        histogram.observe(seconds)

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
            value = read()  # None: nothing to tell yet (no backup, no closure): the series is absent
            if value is not None:
                metric(name, "gauge", name.replace("_", " ") + ".", [("", value)])
        for name, (help_, labels, read_all) in sorted(self.labelled.items()):
            metric(name, "gauge", help_, [(_labels(labels, key), value) for key, value in sorted(read_all().items())])

        def histogram(name: str, help_: str, series: list[tuple[str, Histogram]]) -> None:
            out.append(f"# HELP laneserver_{name} {help_}")
            out.append(f"# TYPE laneserver_{name} histogram")
            for labels, h in series:
                inner = labels[1:-1] + "," if labels else ""
                for le, n in h.cumulative():
                    out.append(f'laneserver_{name}_bucket{{{inner}le="{le}"}} {n}')
                out.append(f"laneserver_{name}_sum{labels} {h.total}")
                out.append(f"laneserver_{name}_count{labels} {h.count}")

        histogram("request_seconds", "Seconds from a request read to its reply queued, by verb.",
                  [(f'{{verb="{verb}"}}', h) for verb, h in sorted(self.latency.items())])
        for name, (help_, read_one) in sorted(self.histograms.items()):
            histogram(name, help_, [("", read_one())])
        return "\n".join(out) + "\n"


def _labels(names: tuple[str, ...], values: object) -> str:
    values = values if isinstance(values, tuple) else (values,)
    return "{" + ",".join(f'{name}="{_escape(str(value))}"' for name, value in zip(names, values)) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
