"""The GitHub Action (action.yml) runs commands that exist, keeps its inputs out of its shell code,
and works: its install step builds a hokusai-contract from this checkout, and its run step, run
by bash as GitHub runs it, judges a real receiver and a real sender, and sets its outputs."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.receiver.testing import RunningStubSite, running_stub_site
from tests.docs.commands import options_of, subcommand
from tests.docs.github_action import COMMANDS, action, flags_by_command, input_of_variable, step
from tests.handlers.running import running_handler

REPO = Path(__file__).resolve().parents[2]
SECRET = "action secret 77c2"
TOKENS = ["LSCOR", "OTHER", "SPARE", "THIRD"]
WEBHOOK_SENDER = REPO / "tests" / "senders" / "webhook_sender.py"
PROGRAM = Path(sys.executable).parent / "hokusai-contract"
HARNESS_INPUTS = {"command", "reports", "python-version"}
"""Inputs that choose the command, the reports' folder and the Python, not a flag."""
RUN_TIMEOUT_S = 300.0
"""A safety net only."""


def test_the_action_is_a_composite_action_with_an_input_for_every_flag_it_passes() -> None:
    document = action()
    assert document["runs"]["using"] == "composite"
    inputs = set(document["inputs"])
    variables = input_of_variable()
    # every input but the Python's reaches the script, as a variable
    assert set(variables.values()) == inputs - {"python-version"}
    assert step("python")["with"]["python-version"] == "${{ inputs.python-version }}"
    passed = {name for flags in flags_by_command().values() for _, name, _ in flags}
    assert passed | HARNESS_INPUTS | {"schemathesis", "strict", "sender-command"} == inputs


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_the_action_passes_is_a_real_flag_of_the_command(command: str) -> None:
    real = options_of(subcommand(command))
    flags = flags_by_command()[command]
    assert flags, command
    for flag, _, repeated in flags:
        assert flag in real, f"action.yml passes {flag} to {command}, which has no such flag"
        # an input of several words is passed as a flag that may be repeated, and only then
        assert isinstance(real[flag], argparse._AppendAction) == repeated, flag
    assert {"--junit", "--json"} <= set(real)
    script = step("check")["run"]
    if command == "check-receiver":
        assert {"--strict", "--no-schemathesis"} <= set(real)
        assert "--strict" in script and "--no-schemathesis" in script


def test_no_step_puts_an_expression_into_its_shell_code() -> None:
    """Inputs reach bash through environment variables only: ${{ }} in a script is injection."""
    for each in action()["runs"]["steps"]:
        if "run" in each:
            assert "${{" not in each["run"], each.get("name")
            assert each["shell"] == "bash"


def test_the_outputs_come_from_the_run_step() -> None:
    outputs = action()["outputs"]
    assert set(outputs) == {"verdict", "exit-code", "junit", "json"}
    for name, output in outputs.items():
        assert output["value"] == f"${{{{ steps.check.outputs.{name} }}}}"
        assert f'echo "{name}=$' in step("check")["run"]


def test_python_and_uv_are_set_up_with_the_lock_file_as_the_cache_key() -> None:
    setup_uv = next(s for s in action()["runs"]["steps"] if "setup-uv" in str(s.get("uses")))
    assert setup_uv["with"]["enable-cache"] is True
    assert setup_uv["with"]["cache-dependency-glob"] == "${{ github.action_path }}/uv.lock"
    assert str(step("python")["uses"]).startswith("actions/setup-python@")
    assert "--extra check" in step("install")["run"]


# --- the steps, run ---------------------------------------------------------------------


@dataclass(frozen=True)
class StepRun:
    """One run of the action's run step: its exit status, output, outputs and summary."""

    exit_status: int
    output: str
    outputs: dict[str, str]
    summary: str

    def report(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(Path(self.outputs["json"]).read_text())
        return document


def run_step(step_id: str, folder: Path, **variables: str) -> StepRun:
    """The step's script, run as GitHub runs a bash step, with its env set as the action would."""
    script = folder / f"{step_id}.sh"
    script.write_text(step(step_id)["run"], encoding="utf-8")
    outputs, summary = folder / "github-output", folder / "step-summary.md"
    outputs.write_text("", encoding="utf-8")
    defaults = dict.fromkeys(step(step_id).get("env", {}), "")
    for name, value in step(step_id).get("env", {}).items():
        match = re.fullmatch(r"\$\{\{ inputs\.([a-z-]+) \}\}", str(value))
        if match:  # the action's default for the input
            defaults[name] = str(action()["inputs"][match[1]].get("default", ""))
    environment = {
        **os.environ,
        **defaults,
        "HOKUSAI_CONTRACT": str(PROGRAM),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(folder),
        **variables,
    }
    bash = shutil.which("bash")
    assert bash is not None
    process = subprocess.run(
        [bash, "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    written = dict(
        line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines() if line
    )
    shown = summary.read_text(encoding="utf-8") if summary.exists() else ""
    return StepRun(process.returncode, process.stdout + process.stderr, written, shown)


@pytest.fixture
def stub_site(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, TOKENS) as site:
        yield site


def receiver_inputs(base_url: str, webhook_url: str) -> dict[str, str]:
    return {
        "INPUT_COMMAND": "check-receiver",
        "INPUT_URL": webhook_url,
        "INPUT_TOKEN": "LSCOR",
        "INPUT_SPARE_TOKENS": "OTHER\nSPARE THIRD",
        "INPUT_STATE_URL": base_url + "/api/tokens/{token_id}",
        "INPUT_SECRET_ENV": "HOOK_SECRET",
        "INPUT_SCHEMATHESIS": "false",
        "HOOK_SECRET": SECRET,
    }


def test_the_run_step_judges_the_stub_site_and_sets_verdict_reports_and_summary(
    stub_site: RunningStubSite, tmp_path: Path
) -> None:
    inputs = receiver_inputs(stub_site.base_url, stub_site.webhook_url)
    ran = run_step("check", tmp_path, **inputs, INPUT_REPORTS="out")
    assert ran.exit_status == 0, ran.output
    assert ran.outputs == {
        "verdict": "passed",
        "exit-code": "0",
        "junit": str(tmp_path / "out" / "check-receiver.xml"),
        "json": str(tmp_path / "out" / "check-receiver.json"),
    }
    assert Path(ran.outputs["junit"]).is_file()
    report = ran.report()
    assert report["ok"] is True and report["token"] == "LSCOR"
    ids = [result["check_id"] for result in report["suites"][0]["results"]]
    assert ran.summary.startswith("## hokusai-contract check-receiver\n")
    assert all(f"| {check_id} |" in ran.summary for check_id in ids)
    assert "spare tokens OTHER, SPARE, THIRD" in ran.output
    assert SECRET not in ran.output + ran.summary


def test_the_run_step_fails_with_the_verdict_failed_on_a_broken_receiver(tmp_path: Path) -> None:
    with running_handler("case-sensitive-token-ids", SECRET, TOKENS) as handler:
        inputs = receiver_inputs(handler.base_url, handler.webhook_url)
        ran = run_step("check", tmp_path, **inputs, INPUT_STRICT="true")
    assert ran.exit_status == 1, ran.output
    assert ran.outputs["verdict"] == "failed" and ran.outputs["exit-code"] == "1"
    assert ran.report()["strict"] is True
    assert "lowercase-token-id" in ran.summary


def test_the_run_step_judges_a_sender_command_split_as_a_shell_would(tmp_path: Path) -> None:
    sender = f"{sys.executable} {WEBHOOK_SENDER} --style v1 --model-name 'Sales lead model'"
    ran = run_step(
        "check",
        tmp_path,
        INPUT_COMMAND="check-sender",
        INPUT_SENDER_COMMAND=sender,
        INPUT_TOKEN="LSCOR",
    )
    assert ran.exit_status == 0, ran.output
    assert ran.outputs["verdict"] == "passed"
    assert ran.report()["command"].endswith("--model-name 'Sales lead model'")
    assert ran.summary.startswith("## hokusai-contract check-sender\n")


def test_inputs_are_never_run_as_shell_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    sender = f"{sys.executable} {WEBHOOK_SENDER} $(touch {marker}) ; touch {marker}"
    ran = run_step(
        "check",
        tmp_path,
        INPUT_COMMAND="check-sender",
        INPUT_SENDER_COMMAND=sender,
        INPUT_TOKEN=f"$(touch {marker}) *",
    )
    assert not marker.exists()
    assert ran.exit_status == 2, ran.output
    assert ran.outputs["verdict"] == "usage-error"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"INPUT_COMMAND": "contract-test"}, "command must be check-receiver or check-sender"),
        ({"INPUT_COMMAND": "check-receiver"}, "check-receiver needs the input url"),
        ({"INPUT_COMMAND": "check-sender"}, "check-sender needs the input sender-command"),
        (
            {"INPUT_COMMAND": "check-sender", "INPUT_SENDER_COMMAND": "sender 'unclosed"},
            "sender-command cannot be split into words",
        ),
        (
            {"INPUT_COMMAND": "check-receiver", "INPUT_URL": "http://x/h", "INPUT_STRICT": "yes"},
            "strict must be true or false",
        ),
    ],
)
def test_a_wrong_input_is_one_error_annotation_and_the_verdict_usage_error(
    tmp_path: Path, inputs: dict[str, str], message: str
) -> None:
    ran = run_step("check", tmp_path, **inputs)
    assert ran.exit_status == 2
    (annotation,) = [line for line in ran.output.splitlines() if line.startswith("::error")]
    assert annotation.startswith("::error title=hokusai-contract::" + message)
    assert ran.outputs == {"verdict": "usage-error", "exit-code": "2"}


def test_an_input_cannot_start_a_workflow_command_of_its_own(tmp_path: Path) -> None:
    ran = run_step("check", tmp_path, INPUT_COMMAND="x\n::add-mask::y%")
    lines = ran.output.splitlines()
    assert not any(line.startswith("::add-mask::") for line in lines)
    assert "x%0A::add-mask::y%25" in ran.output


def test_the_install_step_builds_a_slim_hokusai_contract_that_the_run_step_runs(
    stub_site: RunningStubSite, tmp_path: Path
) -> None:
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed")
    path = f"{Path(uv).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    installed = run_step(
        "install", tmp_path, GITHUB_ACTION_PATH=str(REPO), PYTHON_PATH=sys.executable, PATH=path
    )
    assert installed.exit_status == 0, installed.output
    program = Path(installed.outputs["program"])
    packages = {p.name.lower() for p in program.parent.parent.glob("lib/python*/site-packages/*")}
    assert "schemathesis" in packages and "werkzeug" in packages
    assert "mlflow" not in packages
    inputs = receiver_inputs(stub_site.base_url, stub_site.webhook_url)
    ran = run_step("check", tmp_path, **inputs, HOKUSAI_CONTRACT=str(program))
    assert ran.exit_status == 0, ran.output
    assert ran.outputs["verdict"] == "passed"
