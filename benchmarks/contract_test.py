"""Wall time of ``make contract-test``, split as the command itself reports it.

The command runs as a subprocess, exactly as ``make contract-test`` runs it (reports go to a
temporary folder so the real ones are left alone). Its last line reads ``Time: 9.8 s; critical
path: MLflow start 7.1 s + sender suite 2.6 s; receiver suites 6.2 s ran meanwhile``; the wall
time measured here also counts interpreter start and imports. The baseline is the 60 s budget.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.results import Direction, Figure, Goal

BUDGET_SECONDS = 60.0
BUDGET_GOAL = Goal(Direction.AT_MOST, 1.0, "make contract-test within 60 s on a 2-core machine")
COMMAND = (sys.executable, "-m", "contracts", "contract-test")
_TIME_LINE = re.compile(r"^Time: (?P<total>[\d.]+) s; critical path: (?P<path>[^;]*)(?P<rest>.*)$")
_PART = re.compile(r"(?P<name>[A-Za-z][\w ]*?) (?P<seconds>[\d.]+) s")
_TIMEOUT_S = 600


def parse_time_split(output: str) -> dict[str, float]:
    """The ``Time:`` line of the output as ``{"MLflow start": 7.1, ..., "total": 9.8}``."""
    return parse_time_line(output)[0]


def parse_time_line(output: str) -> tuple[dict[str, float], list[str]]:
    """The ``Time:`` line's parts (and ``total``), and the names on its critical path."""
    for line in reversed(output.splitlines()):
        match = _TIME_LINE.match(line.strip())
        if match:
            path = [part["name"].strip() for part in _PART.finditer(match["path"])]
            split = {
                part["name"].strip(): float(part["seconds"])
                for part in _PART.finditer(match["path"] + match["rest"])
            }
            split["total"] = float(match["total"])
            return split, path
    return {}, []


def run_section(wall_s: float, completed: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """One timed run for the JSON report: its wall time, exit code and time line (and the end
    of its output when it failed or printed no time line)."""
    split, critical_path = parse_time_line(completed.stdout)
    section: dict[str, Any] = {
        "exit_code": completed.returncode,
        "wall_seconds": round(wall_s, 2),
        "split_seconds": split,
        "critical_path": critical_path,
    }
    if completed.returncode != 0 or not split:
        tail = (completed.stdout + completed.stderr).strip().splitlines()[-15:]
        section["output_tail"] = tail
    return section


def contract_test_figures() -> tuple[list[Figure], dict[str, Any]]:
    """Run the contract test once; its wall time against the budget, and its own split."""
    with tempfile.TemporaryDirectory(prefix="hokusai-bench-reports-") as reports:
        started = time.perf_counter_ns()
        completed = subprocess.run(
            [*COMMAND, "--reports", str(Path(reports))],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
        wall_s = (time.perf_counter_ns() - started) / 1e9
    section = {
        "command": "make contract-test (hokusai-contract contract-test)",
        **run_section(wall_s, completed),
    }
    split = section["split_seconds"]
    figure = Figure(
        group="contract-test",
        name="wall time",
        candidate="make contract-test",
        baseline="60 s budget",
        unit="s",
        candidate_value=wall_s,
        baseline_value=BUDGET_SECONDS,
        goal=BUDGET_GOAL,
        details={
            **{f"{name} s": seconds for name, seconds in split.items()},
            "exit_code": completed.returncode,
        },
    )
    return [figure], section
