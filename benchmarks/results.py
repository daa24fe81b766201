"""Figures as ratios to their baselines, the goals they are held to, and how they are reported."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any


class Direction(str, Enum):
    """Whether a goal caps the ratio (times) or sets a floor under it (throughput)."""

    AT_MOST = "at_most"
    AT_LEAST = "at_least"


@dataclass(frozen=True)
class Goal:
    """A target for a figure's ratio, e.g. verify at most 1.3x the HMAC floor."""

    direction: Direction
    ratio: float
    description: str

    def met_by(self, ratio: float) -> bool:
        if self.direction is Direction.AT_MOST:
            return ratio <= self.ratio
        return ratio >= self.ratio


@dataclass(frozen=True)
class Figure:
    """One measurement of a candidate beside its baseline, taken in the same run."""

    group: str
    name: str
    candidate: str
    baseline: str
    unit: str
    candidate_value: float
    baseline_value: float
    goal: Goal | None = None
    details: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    """A few words printed beside the figure (latencies, what the baseline leaves out)."""

    @property
    def ratio(self) -> float:
        """Candidate divided by baseline (for times lower is better, for rates higher)."""
        return self.candidate_value / self.baseline_value if self.baseline_value else float("inf")

    @property
    def goal_met(self) -> bool | None:
        return None if self.goal is None else self.goal.met_by(self.ratio)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = round(self.ratio, 4)
        data["goal_met"] = self.goal_met
        return data


@dataclass
class Report:
    """Everything one ``python -m benchmarks`` run measured."""

    machine: dict[str, Any]
    mode: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sections: dict[str, Any] = field(default_factory=dict)

    def add(self, figures: Sequence[Figure]) -> None:
        self.figures.extend(figures)

    def as_json(self) -> dict[str, Any]:
        goals = [figure for figure in self.figures if figure.goal is not None]
        return {
            "machine": self.machine,
            "mode": self.mode,
            "goals_met": all(bool(figure.goal_met) for figure in goals),
            "figures": [figure.as_json() for figure in self.figures],
            "sections": self.sections,
            "notes": self.notes,
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")


def _value(value: float, unit: str) -> str:
    if unit == "ns/op":
        return f"{value / 1000:.2f} us/op" if value >= 1000 else f"{value:.0f} ns/op"
    if unit == "s":
        return f"{value:.1f} s"
    return f"{value:.0f} {unit}"


def _goal_text(figure: Figure) -> str:
    if figure.goal is None:
        return ""
    verdict = "met" if figure.goal_met else "NOT met"
    sign = "<=" if figure.goal.direction is Direction.AT_MOST else ">="
    return f"goal {sign} {figure.goal.ratio:g}x: {verdict}"


def render_table(figures: Sequence[Figure]) -> str:
    """A plain-text table: one row per figure, the ratio first-class."""
    header = ("group", "figure", "candidate", "baseline", "ratio", "goal", "note")
    rows = [
        (
            figure.group,
            figure.name,
            f"{figure.candidate}: {_value(figure.candidate_value, figure.unit)}",
            f"{figure.baseline}: {_value(figure.baseline_value, figure.unit)}",
            f"{figure.ratio:.2f}x",
            _goal_text(figure),
            figure.note,
        )
        for figure in figures
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def render_markdown(figures: Sequence[Figure]) -> str:
    """The same figures as a Markdown table (ratios first), for the README."""
    lines = [
        "| figure | candidate | baseline | ratio | goal |",
        "|---|---|---|---|---|",
    ]
    for figure in figures:
        lines.append(
            f"| {figure.group}: {figure.name} | {figure.candidate} "
            f"({_value(figure.candidate_value, figure.unit)}) | {figure.baseline} "
            f"({_value(figure.baseline_value, figure.unit)}) | **{figure.ratio:.2f}x** | "
            f"{_goal_text(figure)} |"
        )
    return "\n".join(lines)
