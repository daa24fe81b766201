"""Read the GitHub Action (action.yml): its steps, and which input its run step passes as which
flag of which command, as its script says."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.docs.markdown import REPO

ACTION = REPO / "action.yml"
COMMANDS = ("check-receiver", "check-sender")
INPUT_EXPRESSION = re.compile(r"\$\{\{ inputs\.([a-z-]+) \}\}")


def action() -> dict[Any, Any]:
    document = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def step(step_id: str) -> dict[str, Any]:
    (found,) = [s for s in action()["runs"]["steps"] if s.get("id") == step_id]
    return found


def input_of_variable() -> dict[str, str]:
    """Each environment variable of the run step that carries an input, and that input."""
    variables = {}
    for name, value in step("check")["env"].items():
        match = INPUT_EXPRESSION.fullmatch(str(value))
        if match:
            variables[name] = match[1]
    return variables


def flags_by_command() -> dict[str, list[tuple[str, str, bool]]]:
    """For each command's branch of the run script: every (flag, input, repeated) it passes;
    ``repeated`` when each word of the input becomes the flag once (``flags``)."""
    script = step("check")["run"]
    inputs = input_of_variable()
    found: dict[str, list[tuple[str, str, bool]]] = {}
    for command in COMMANDS:
        branch = script.split(f"\n  {command})\n", 1)[1].split("\n    ;;", 1)[0]
        pairs = re.findall(r'(\bflags )?(--[a-z-]+)"? "\$\{?(INPUT_[A-Z_]+)', branch)
        found[command] = [(flag, inputs[variable], bool(many)) for many, flag, variable in pairs]
    return found


def with_env(value: str, workflow: dict[Any, Any] | None) -> str:
    """``value`` with each ``${{ env.NAME }}`` replaced by the workflow's ``NAME``."""
    if workflow is None:
        return value
    return re.sub(r"\$\{\{ env\.(\w+) \}\}", lambda m: str(workflow["env"][m[1]]), value)


def action_arguments(inputs: dict[str, Any], workflow: dict[Any, Any] | None = None) -> list[str]:
    """The ``hokusai-contract`` arguments the action's run step builds from ``inputs``."""
    command = str(inputs["command"])
    arguments = [command]
    for flag, name, repeated in flags_by_command()[command]:
        value = with_env(str(inputs.get(name, "")), workflow)
        arguments += [word for each in value.split() for word in (flag, each)] if repeated else []
        arguments += [flag, value] if value and not repeated else []
    if str(inputs.get("strict", "false")) == "true":
        arguments.append("--strict")
    if str(inputs.get("schemathesis", "true")) == "false":
        arguments.append("--no-schemathesis")
    return [*arguments, "--junit", "r.xml", "--json", "r.json"]
