"""The one table of a bench run: each figure beside its same-run baseline, the ratio,
the target and PASS/MISS.

Printed as a Markdown table, so that docs/performance.md can hold it as printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HEADER = ("scenario", "metric", "value", "baseline", "baseline is", "ratio", "target", "result")


@dataclass(frozen=True)
class Target:
    """``kind``: "ratio_max" (value ÷ baseline ≤ bound), "ratio_min" (≥ bound) or
    "value_max" (value ≤ bound, in the row's unit).

    ``info``: an old target kept for information (issue 12 replaced it): shown as
    "info: …" with "info" as the result, never PASS/MISS and not in the verdicts."""

    kind: str
    bound: float
    info: bool = False

    def describe(self) -> str:
        match self.kind:
            case "ratio_max":
                text = f"ratio ≤ {fmt(self.bound)}"
            case "ratio_min":
                text = f"ratio ≥ {fmt(self.bound)}"
            case "value_max":
                text = f"≤ {fmt(self.bound)}"
            case _:
                raise ValueError(self.kind)
        return f"info: {text}" if self.info else text

    def met(self, value: float, baseline: float) -> bool:
        match self.kind:
            case "ratio_max":
                return value / baseline <= self.bound
            case "ratio_min":
                return value / baseline >= self.bound
            case "value_max":
                return value <= self.bound
        raise ValueError(self.kind)


@dataclass(frozen=True)
class Row:
    scenario: str
    metric: str
    value: float
    baseline: float
    baseline_is: str
    target: Target | None = None

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.nan

    @property
    def result(self) -> str:
        if self.target is None:
            return ""
        if self.target.info:
            return "info"
        if math.isnan(self.value) or math.isnan(self.baseline):
            return "MISS"
        return "PASS" if self.target.met(self.value, self.baseline) else "MISS"

    def cells(self) -> tuple[str, ...]:
        return (self.scenario, self.metric, fmt(self.value), fmt(self.baseline), self.baseline_is,
                fmt(self.ratio), self.target.describe() if self.target else "", self.result)


def fmt(number: float) -> str:
    """Three significant digits, never in exponent notation."""
    if number is None or math.isnan(number):
        return "nan"
    if number == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(number)))
    decimals = max(0, 2 - magnitude)
    return f"{number:.{decimals}f}"


def render(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def verdicts(rows: list[Row]) -> list[str]:
    return [f"{row.result}: {row.scenario} — {row.metric} {fmt(row.value)} ({row.target.describe()}, "
            f"baseline {fmt(row.baseline)} = {row.baseline_is})"
            for row in rows if row.target is not None and not row.target.info]
