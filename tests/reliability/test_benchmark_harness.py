"""The benchmark harness measures fairly and reports honestly (no timing is asserted here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.contract_test import parse_time_line, parse_time_split
from benchmarks.loadgen import run_load
from benchmarks.receiver import noop_app, signed_deliveries
from benchmarks.results import Direction, Figure, Goal, Report, render_markdown, render_table
from benchmarks.setup import folder_bytes
from benchmarks.timing import interleaved
from contracts.support.server import serving


def test_interleaving_times_every_case_once_per_round_in_rotating_order() -> None:
    calls: list[str] = []
    cases = {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")}

    samples = interleaved(cases, rounds=3, batch=1)

    assert {name: len(sample.per_round_ns) for name, sample in samples.items()} == dict.fromkeys(
        "abc", 3
    )
    timed = calls[3:]  # after one warm-up call each
    assert timed == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]


def test_a_goal_is_judged_on_the_ratio_in_its_direction() -> None:
    ceiling = Goal(Direction.AT_MOST, 1.3, "at most 1.3x")
    floor = Goal(Direction.AT_LEAST, 0.6, "at least 0.6x")

    def figure(candidate: float, goal: Goal) -> Figure:
        return Figure("g", "n", "ours", "base", "ns/op", candidate, 100.0, goal)

    assert figure(129.0, ceiling).goal_met is True
    assert figure(131.0, ceiling).goal_met is False
    assert figure(60.0, floor).goal_met is True
    assert figure(59.0, floor).goal_met is False


def test_the_report_carries_machine_figures_and_verdicts(tmp_path: Path) -> None:
    missed = Figure(
        "receiver", "c1", "stub", "noop", "deliveries/s", 50.0, 100.0,
        Goal(Direction.AT_LEAST, 0.6, "at least 0.6x"),
    )  # fmt: skip
    report = Report(machine={"cpu_model": "x"}, mode="quick", figures=[missed])

    report.write(tmp_path / "bench.json")
    written = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))

    assert written["machine"] == {"cpu_model": "x"}
    assert written["goals_met"] is False
    assert written["figures"][0]["ratio"] == 0.5
    assert "NOT met" in render_table(report.figures)
    assert "**0.50x**" in render_markdown(report.figures)


def test_the_contract_test_time_line_is_read_into_its_parts() -> None:
    output = (
        "57 checks: 57 pass\nTime: 9.8 s; critical path: MLflow start 7.1 s + sender suite "
        "2.6 s; receiver suites 6.2 s ran meanwhile\n"
    )

    assert parse_time_split(output) == {
        "MLflow start": 7.1,
        "sender suite": 2.6,
        "receiver suites": 6.2,
        "total": 9.8,
    }
    assert parse_time_line(output)[1] == ["MLflow start", "sender suite"]
    assert parse_time_split("no time line") == {}


def test_the_load_generator_sends_every_prepared_delivery_over_real_http() -> None:
    requests = signed_deliveries([f"LOAD-{number}" for number in range(12)])

    with serving(noop_app) as server:
        result = run_load(server.host, server.port, requests, concurrency=3, time_limit_s=30)

    assert result.errors == []
    assert result.completed == 12
    assert dict(result.statuses) == {200: 12}


def test_a_folders_size_counts_each_hard_linked_file_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 1000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 300)
    os.link(tmp_path / "a", tmp_path / "sub" / "same-as-a")  # as uv links from its cache

    assert folder_bytes(tmp_path) == 1300


def test_only_the_chosen_part_is_measured(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "core", "--output", str(output)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    written = json.loads(output.read_text(encoding="utf-8"))
    groups = {figure["group"] for figure in written["figures"]}
    assert groups and groups <= {"signing", "validation"}
    assert written["mode"] == "quick" and "verify_profile" in written["sections"]
    assert "receiver" not in written["sections"]
