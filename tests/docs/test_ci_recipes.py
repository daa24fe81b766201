"""The CI recipes under examples/ci/ run only commands that exist: every ``hokusai-contract``
subcommand and option they use is accepted by the real CLI parser, every ``make`` target exists."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docs.commands import assert_cli_accepts, calls_of
from tests.docs.markdown import REPO, read

RECIPES = sorted((REPO / "examples" / "ci").glob("*.yml"))


def load_workflow(path: Path) -> dict[Any, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(workflow, dict), path.name
    return workflow


def steps(workflow: dict[Any, Any]) -> Iterator[dict[str, Any]]:
    for job in workflow["jobs"].values():
        yield from job["steps"]


def invocations(workflow: dict[Any, Any], program: str) -> list[list[str]]:
    """The arguments of every call of ``program`` in the workflow's ``run:`` steps."""
    return [args for step in steps(workflow) for args in calls_of(program, step.get("run", ""))]


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9_.-]+):", read("Makefile"), re.MULTILINE))


def step_using(workflow: dict[Any, Any], action: str) -> dict[str, Any]:
    (step,) = [s for s in steps(workflow) if str(s.get("uses", "")).startswith(action + "@")]
    return step


def test_both_recipes_exist() -> None:
    assert [path.name for path in RECIPES] == [
        "sdk-contract-test.yml",
        "website-check-receiver.yml",
    ]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.name)
def test_each_recipe_is_a_workflow_with_jobs_and_pinned_actions(recipe: Path) -> None:
    workflow = load_workflow(recipe)
    assert workflow.get(True) or workflow.get("on"), "no trigger ('on:')"
    for step in steps(workflow):
        assert "run" in step or re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", step["uses"]), step


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.name)
def test_every_hokusai_contract_command_is_accepted_by_the_cli(recipe: Path) -> None:
    for args in invocations(load_workflow(recipe), "hokusai-contract"):
        assert_cli_accepts(args, recipe.name)


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.name)
def test_every_make_target_exists(recipe: Path) -> None:
    targets = makefile_targets()
    for args in invocations(load_workflow(recipe), "make"):
        wanted = [arg for arg in args if not arg.startswith("-") and "=" not in arg]
        assert wanted and set(wanted) <= targets, f"{recipe.name}: make {shlex.join(args)}"


def test_the_sdk_recipe_runs_the_contract_test_and_keeps_the_reports() -> None:
    workflow = load_workflow(REPO / "examples" / "ci" / "sdk-contract-test.yml")
    assert invocations(workflow, "make") == [["install"], ["contract-test"]]
    assert step_using(workflow, "actions/setup-python")["with"]["python-version"] == "3.11"
    assert step_using(workflow, "actions/setup-node")["with"]["node-version"] == "20"
    upload = step_using(workflow, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/").endswith("reports")


def test_the_website_recipe_checks_the_receiver_and_keeps_the_report_even_on_failure() -> None:
    workflow = load_workflow(REPO / "examples" / "ci" / "website-check-receiver.yml")
    (check,) = invocations(workflow, "hokusai-contract")
    assert check[0] == "check-receiver"
    pairs = list(zip(check[1::2], check[2::2], strict=True))
    options = dict(pairs)
    assert options["--secret-env"] == "WEBHOOK_SECRET"
    assert options["--token"] == "LSCOR"
    assert options["--state-url"] == "$STATE_URL"
    assert "{token_id}" in workflow["env"]["STATE_URL"]
    spares = [value for option, value in pairs if option == "--spare-token"]
    assert len(spares) == 3
    seeding = next(s["run"] for s in steps(workflow) if str(s.get("name", "")).startswith("Seed"))
    for token in (options["--token"], *spares):
        assert f"--token {token} --status DRAFT" in seeding, token
    install = [args for args in invocations(workflow, "pip") if args[:1] == ["install"]]
    assert install == [["install", "hokusai-contracts[harness]"]]
    upload = step_using(workflow, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert options["--junit"] in upload["with"]["path"].split()


def test_the_sdk_recipe_judges_the_sdks_own_registration_command() -> None:
    workflow = load_workflow(REPO / "examples" / "ci" / "sdk-contract-test.yml")
    command, tokens = workflow["env"]["SENDER_CMD"], workflow["env"]["SENDER_TOKENS"]
    assert shlex.split(command)[:3] == ["hokusai", "model", "register"]
    # make passes both variables on (tests/docs/test_sdk_page.py holds the Makefile to that)
    recipe = read("Makefile").split("\ncontract-test:", 1)[1].split("\n\n")[0]
    assert "$(SENDER_CMD)" in recipe and "$(SENDER_TOKENS)" in recipe
    parsed = assert_cli_accepts(
        ["contract-test", "--sender-command", command, "--sender-token", tokens],
        "sdk-contract-test.yml",
    )
    assert parsed.sender_command == command
    runs = [str(step.get("run", "")) for step in steps(workflow)]
    install = next(run for run in runs if "make install" in run)
    assert '--python .venv/bin/python -e "$GITHUB_WORKSPACE"' in install  # the SDK, beside it
    contract_test = next(run for run in runs if "make contract-test" in run)
    assert 'export PATH="$PWD/.venv/bin:$PATH"' in contract_test  # where its command landed
