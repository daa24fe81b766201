"""docs/performance.md cannot drift from the benchmarks and the reliability tests: its commands
and options are the real ones, each figure's ratio and verdict follow from the numbers shown and
the goals the benchmarks hold, and the counts it gives are the counts the tests run with."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

import pytest

from benchmarks.__main__ import _parser as bench_parser
from benchmarks.contract_test import BUDGET_GOAL, BUDGET_SECONDS
from benchmarks.core import BODY_SIZES, VERIFY_GOAL
from benchmarks.receiver import CONCURRENCY_LEVELS, THROUGHPUT_GOAL
from benchmarks.results import Direction, Goal
from benchmarks.setup import (
    CHECK_MEGABYTES,
    CHECK_SIZE_GOAL,
    EXTRAS,
    FRESH_CLONE_GOAL,
    FRESH_CLONE_SECONDS,
    WARM_GOAL,
    WARM_SECONDS,
)
from tests.docs.markdown import REPO, code_spans, fenced_blocks, read, section, table_rows

PAGE = "docs/performance.md"
BENCH = "`make bench`"
FIGURES = "The latest figures"
RELIABILITY = "Reliability: `make test` and `make soak`"


@pytest.fixture(scope="module")
def page() -> str:
    return read(PAGE)


def figure_rows(page: str) -> list[list[str]]:
    return table_rows(section(page, FIGURES))


def first_number(cell: str) -> float:
    match = re.search(r"(\d+(?:\.\d+)?) ?(us|ms|s\b|deliveries/s|/s|MB)", cell)
    assert match is not None, cell
    return float(match.group(1))


# --- make bench -------------------------------------------------------------------------------


def test_every_benchmark_command_shown_parses(page: str) -> None:
    (block,) = fenced_blocks(section(page, BENCH), "sh")
    lines = [line.split("#")[0].split() for line in block.splitlines()]
    runs = [words[3:] for words in lines if words[:3] == ["python", "-m", "benchmarks"]]
    assert runs
    for arguments in runs:
        bench_parser().parse_args(arguments)
    assert ["make", "bench"] in lines


def test_the_options_table_lists_exactly_the_benchmark_options(page: str) -> None:
    options = {
        option
        for action in bench_parser()._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    rows = table_rows(section(page, BENCH))
    listed = {code_spans(row[0])[0].split()[0] for row in rows if row[0].startswith("`--")}
    assert listed == options
    output = next(row[1] for row in rows if row[0].startswith("`--output"))
    assert f"(default `{bench_parser().get_default('output')}`)" in output


def test_each_shown_ratio_is_the_ratio_of_the_numbers_shown(page: str) -> None:
    rows = figure_rows(page)
    assert len(rows) == 12 + 2 + len(EXTRAS)
    for figure, ours, baseline, ratio, _ in rows:
        shown = float(ratio.strip("*x"))
        measured = first_number(ours) / first_number(baseline)
        # both numbers are rounded for the page; the ratio was computed before rounding
        assert abs(shown - measured) <= 0.01 + 0.01 * measured, figure


def stated_goal(cell: str) -> tuple[Goal, bool] | None:
    match = re.fullmatch(r"at (most|least) ([\d.]+)x: (met|NOT met)", cell)
    if match is None:
        assert cell == "", cell
        return None
    direction = Direction.AT_MOST if match.group(1) == "most" else Direction.AT_LEAST
    return Goal(direction, float(match.group(2)), ""), match.group(3) == "met"


def goal_for(figure: str) -> Goal | None:
    if figure.startswith("verify") and "(peer)" not in figure:
        return VERIFY_GOAL
    if figure.startswith("stub site"):
        return THROUGHPUT_GOAL
    if figure.startswith("fresh clone"):
        return FRESH_CLONE_GOAL
    if figure.startswith("warm"):
        return WARM_GOAL
    if figure == "installed size, `[check]`":
        return CHECK_SIZE_GOAL
    if "contract-test" in figure:
        return BUDGET_GOAL
    return None


def test_each_goal_is_the_benchmarks_goal_and_its_verdict_follows_from_the_ratio(
    page: str,
) -> None:
    for figure, _, _, ratio, goal_cell in figure_rows(page):
        stated = stated_goal(goal_cell)
        goal = goal_for(figure)
        if goal is None:
            assert stated is None, figure
            continue
        assert stated is not None, figure
        said, met = stated
        assert (said.direction, said.ratio) == (goal.direction, goal.ratio), figure
        assert goal.met_by(float(ratio.strip("*x"))) is met, figure


def test_the_figures_cover_every_body_size_and_concurrency_level(page: str) -> None:
    figures = [row[0] for row in figure_rows(page)]
    for operation in ("verify", "sign"):
        for size in BODY_SIZES:
            assert f"{operation}, {size} body" in figures
    levels = [int(f.rsplit(" ", 1)[1]) for f in figures if f.startswith("stub site")]
    assert levels == list(CONCURRENCY_LEVELS)


def test_the_contract_test_budget_is_the_benchmarks(page: str) -> None:
    (row,) = [row for row in figure_rows(page) if row[0] == "`make contract-test` wall time"]
    assert first_number(row[2]) == BUDGET_SECONDS


def test_the_set_up_figures_cover_every_extra_against_the_benchmarks_baselines(page: str) -> None:
    rows = {row[0]: row for row in figure_rows(page)}
    assert first_number(rows["fresh clone to a finished `make contract-test`"][2]) == (
        FRESH_CLONE_SECONDS
    )
    assert first_number(rows["warm `make contract-test`"][2]) == WARM_SECONDS
    for extra in EXTRAS:
        name = "installed size, core" if extra == "core" else f"installed size, `[{extra}]`"
        assert first_number(rows[name][2]) == CHECK_MEGABYTES, name
    assert "uv cache" in rows["fresh clone to a finished `make contract-test`"][1]


def test_the_figures_name_the_run_and_machine_they_came_from(page: str) -> None:
    said = section(page, FIGURES)
    assert re.search(r"One `make bench` run, \d{4}-\d\d-\d\d \d\d:\d\d UTC: .+ cores", said)


# --- reliability ------------------------------------------------------------------------------


def reliability_tests() -> dict[str, Callable[..., object]]:
    """Every test function of tests/reliability/, by name."""
    tests = {}
    for path in sorted((REPO / "tests" / "reliability").glob("test_*.py")):
        module = importlib.import_module(f"tests.reliability.{path.stem}")
        tests.update({n: f for n, f in vars(module).items() if n.startswith("test_")})
    return tests


def parameter_sets(function: Callable[..., object]) -> list[tuple[tuple[object, ...], bool]]:
    """Each parameter set of a test: its values, and whether it is the soak variant."""
    return [
        (tuple(parameter_set.values), any(mark.name == "soak" for mark in parameter_set.marks))
        for mark in getattr(function, "pytestmark", [])
        if mark.name == "parametrize"
        for parameter_set in mark.args[1]
    ]


def numbers(cell: str) -> tuple[int, ...]:
    return tuple(int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", cell))


def test_every_count_in_the_reliability_table_is_the_count_the_test_runs_with(page: str) -> None:
    tests = reliability_tests()
    rows = table_rows(section(page, RELIABILITY))
    assert rows
    for _, test, in_make_test, in_make_soak in rows:
        (name,) = code_spans(test)
        sets = parameter_sets(tests[name])
        if not sets:
            assert in_make_test and in_make_soak == "not run", name
            continue
        assert [numbers(in_make_test)] == [values for values, soak in sets if not soak], name
        assert [numbers(in_make_soak)] == [values for values, soak in sets if soak], name


def test_every_reliability_test_with_a_soak_variant_is_in_the_table(page: str) -> None:
    named = {code_spans(row[1])[0] for row in table_rows(section(page, RELIABILITY))}
    soaked = {
        name
        for name, function in reliability_tests().items()
        if any(soak for _, soak in parameter_sets(function))
    }
    assert soaked
    assert soaked <= named
