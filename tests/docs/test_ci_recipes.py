"""The CI recipes under examples/ci/ run only commands that exist: every ``hokusai-contract``
subcommand and option they use is accepted by the real CLI parser (through the GitHub Action's
inputs too), every ``make`` target exists, and what they cache is what the harness reads."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.sender.mlflow_server import CACHE_ENV, mlflow_version, template_path
from tests.docs.commands import assert_cli_accepts, calls_of
from tests.docs.github_action import action, action_arguments
from tests.docs.markdown import REPO, read

THIS_ACTION = "hokusai/hokusai-contracts"
"""How the recipes name this repository's action (where it lives in your organisation)."""

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


def step_using(workflow: dict[Any, Any], uses: str) -> dict[str, Any]:
    (step,) = [s for s in steps(workflow) if str(s.get("uses", "")).startswith(uses + "@")]
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
        assert "run" in step or re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+(\.\d+)*", step["uses"]), step


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


def test_the_website_recipe_checks_the_receiver_through_the_action_and_keeps_the_reports() -> None:
    workflow = load_workflow(REPO / "examples" / "ci" / "website-check-receiver.yml")
    assert invocations(workflow, "hokusai-contract") == []  # the action runs it
    check = step_using(workflow, THIS_ACTION)
    inputs = check["with"]
    assert set(inputs) <= set(action()["inputs"])
    assert inputs["command"] == "check-receiver"
    parsed = assert_cli_accepts(action_arguments(inputs, workflow), "website-check-receiver.yml")
    assert parsed.secret_env == "WEBHOOK_SECRET" and parsed.token == "LSCOR"
    assert parsed.url == workflow["env"]["WEBHOOK_URL"]
    assert parsed.state_url == workflow["env"]["STATE_URL"] and "{token_id}" in parsed.state_url
    assert len(parsed.spare_token) == 3
    seeding = next(s["run"] for s in steps(workflow) if str(s.get("name", "")).startswith("Seed"))
    for token in (parsed.token, *parsed.spare_token):
        assert f"--token {token} --status DRAFT" in seeding, token
    assert not [args for args in invocations(workflow, "pip") if args[:1] == ["install"]]
    assert step_using(workflow, "actions/setup-node")["with"]["cache"] == "npm"
    upload = step_using(workflow, "actions/upload-artifact")
    assert upload["if"] == "always()"
    assert f"{inputs['reports']}/" in upload["with"]["path"].split()


def test_the_sdk_recipe_caches_uv_and_the_mlflow_template_of_the_locked_mlflow(
    tmp_path: Path,
) -> None:
    workflow = load_workflow(REPO / "examples" / "ci" / "sdk-contract-test.yml")
    uv = step_using(workflow, "astral-sh/setup-uv")["with"]
    assert uv["enable-cache"] is True and uv["cache-dependency-glob"] == "hokusai-contracts/uv.lock"
    cache = step_using(workflow, "actions/cache")["with"]
    contract_test = next(s for s in steps(workflow) if "make contract-test" in s.get("run", ""))
    assert contract_test["env"][CACHE_ENV] == cache["path"]
    (version_step,) = [s for s in steps(workflow) if s.get("id") == "mlflow"]
    assert cache["key"].endswith("${{ steps.mlflow.outputs.version }}")
    # the step's own script, run here: the version it keys on is the one installed
    outputs = tmp_path / "github-output"
    subprocess.run(
        ["bash", "-eo", "pipefail", "-c", version_step["run"]],
        cwd=REPO,
        env={**os.environ, "GITHUB_OUTPUT": str(outputs), "PATH": _with_this_python()},
        check=True,
        timeout=60,
    )
    version = outputs.read_text(encoding="utf-8").strip().removeprefix("version=")
    assert version == mlflow_version()
    assert (
        template_path().name == template_path(version).name == f"mlflow-template-{version}.sqlite3"
    )


def _with_this_python() -> str:
    """PATH with this interpreter's folder first, so that ``python`` is the one with the harness."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


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
