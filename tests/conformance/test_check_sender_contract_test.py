"""``contract-test --sender-command`` (``make contract-test SENDER_CMD=...``) judges the SDK's
own registration command in the sender suite instead of the reference sender, against the real
MLflow server the contract test starts (``MLFLOW_TRACKING_URI`` exported to it): a sender that
keeps the contract passes, a broken one turns the run red."""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts.cli import build_parser, main
from contracts.cli.conformance import sender_command
from contracts.cli.options import CommandError
from contracts.conformance import Verdict
from contracts.conformance.check_sender import SenderCommand
from contracts.conformance.contract_test import command_sender_suite, sender_heading
from tests.conformance.test_check_sender import WEBHOOK_SENDER
from tests.conformance.test_check_sender_mlflow import MLFLOW_SENDER

REPOSITORY = Path(__file__).resolve().parents[2]


def options(*given: str) -> argparse.Namespace:
    return build_parser().parse_args(["contract-test", *given])


def test_the_sender_options_name_the_command_its_tokens_and_faults() -> None:
    command = f"{sys.executable} register.py --model-name 'Sales lead scoring model'"
    given = options(
        "--sender-command", command, "--sender-token", "lscor", "--sender-fail-first", "1"
    )
    assert sender_command(given) == SenderCommand(
        (sys.executable, "register.py", "--model-name", "Sales lead scoring model"),
        ("LSCOR",),
        1,
        300.0,
    )
    assert sender_command(options()) is None
    assert sender_heading(None) == "Sender suite: reference sender -> recorder -> stub site"


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        (["--sender-token", "LSCOR"], "--sender-token only applies with --sender-command"),
        (["--sender-fail-first", "1"], "--sender-fail-first only applies with --sender-command"),
        (["--sender-command", ""], "--sender-command is empty"),
        (["--sender-command", "python 'unclosed"], "--sender-command cannot be split"),
        (
            ["--sender-command", "no-such-sdk register"],
            "--sender-command: COMMAND 'no-such-sdk' was not found on PATH",
        ),
        (["--sender-command", "true", "--sender-token", "LS_COR"], "--sender-token: token id"),
    ],
)
def test_a_bad_sender_option_is_refused_before_anything_starts(
    given: list[str], complaint: str
) -> None:
    with pytest.raises(CommandError, match=complaint):
        sender_command(options(*given))


def test_a_sender_command_that_is_not_found_exits_2_before_mlflow_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["contract-test", "--reports", str(tmp_path), "--sender-command", "no-such-sdk x"]
    )
    captured = capsys.readouterr()
    assert status == 2
    assert "MLflow" not in captured.out
    (line,) = captured.err.splitlines()
    assert "--sender-command: COMMAND 'no-such-sdk' was not found on PATH" in line


def test_make_passes_the_sender_command_as_one_word_with_its_own_quotes() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    run = subprocess.run(
        [
            make,
            "--no-print-directory",
            "-C",
            str(REPOSITORY),
            "-o",
            ".venv/.installed",
            f"BIN={Path(sys.executable).parent}",
            "contract-test",
            "SENDER_CMD='no such sdk' register --token-id 'it''s'",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2
    assert "COMMAND 'no such sdk' was not found on PATH" in run.stderr
    assert "MLflow" not in run.stdout


@pytest.mark.mlflow
def test_the_sdks_command_is_judged_against_the_contract_tests_mlflow_server(
    tmp_path: Path, hokusai_mlflow_server: Any
) -> None:
    said: list[str] = []
    command = SenderCommand((sys.executable, str(MLFLOW_SENDER), "--model-name", "SDK model"))
    suite = command_sender_suite(
        command, hokusai_mlflow_server.tracking_uri, tmp_path, said.append, lambda result: None
    )
    verdicts = {result.check_id: result.verdict for result in suite.results}
    assert not suite.failed, "\n".join(said)
    assert verdicts["sender-matches-mlflow"] is Verdict.PASS
    assert verdicts["sender-api-schema"] is Verdict.PASS
    assert any("registered 'SDK model' version" in line for line in said)


@pytest.mark.mlflow
def test_a_broken_sdk_turns_make_contract_test_red(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    broken = shlex.join([sys.executable, str(WEBHOOK_SENDER), "--sign", "reserialized"])
    run = subprocess.run(
        [
            make,
            "--no-print-directory",
            "-C",
            str(REPOSITORY),
            "-o",
            ".venv/.installed",
            f"BIN={Path(sys.executable).parent}",
            "contract-test",
            f"SENDER_CMD={broken}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 2, run.stdout[-3000:] + run.stderr  # make's status for a failed recipe
    assert "Sender suite: " in run.stdout and "-> check-sender judge (stub site)" in run.stdout
    assert "FAIL  [sender] sender-signature" in run.stdout
    assert "contract-test] Error 1" in run.stderr
