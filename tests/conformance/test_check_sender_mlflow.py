"""``check-sender --tracking-uri`` asks a real MLflow server about what a real sender says it
registered: the sender (tests/senders/mlflow_sender.py) registers a version first, as the SDK's
CLI does, then notifies; a body naming another version, or an API schema other than the one
the version's signature maps to, fails the check that names it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from contracts.cli import main
from tests.conformance.test_check_sender import SENDERS, Judged, check_sender

pytestmark = pytest.mark.mlflow
MLFLOW_SENDER = SENDERS / "mlflow_sender.py"


def judged_with_mlflow(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    mlflow_server: Any,
    *options: str,
) -> Judged:
    command = [sys.executable, str(MLFLOW_SENDER), *options]
    return check_sender(
        tmp_path, capsys, command, "--tracking-uri", mlflow_server.tracking_uri, "--timeout", "120"
    )


def test_a_sender_that_sends_what_mlflow_registered_and_the_mapped_schema_conforms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hokusai_mlflow_server: Any
) -> None:
    judged = judged_with_mlflow(
        tmp_path, capsys, hokusai_mlflow_server, "--model-name", "Judged model"
    )
    assert judged.exit_status == 0, judged.output
    assert judged.why("sender-matches-mlflow").startswith(
        "every body names what MLflow registered (Judged model v"
    )
    assert judged.verdict("sender-api-schema") == "pass"
    assert ": equal)" in judged.why("sender-api-schema")


def test_a_version_mlflow_does_not_have_fails_the_mlflow_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hokusai_mlflow_server: Any
) -> None:
    judged = judged_with_mlflow(
        tmp_path,
        capsys,
        hokusai_mlflow_server,
        "--model-name",
        "Claimed model",
        "--claim-version",
        "99",
    )
    assert judged.failed == {"sender-matches-mlflow"}
    assert "MLflow has no version 99 of model 'Claimed model'" in judged.why(
        "sender-matches-mlflow"
    )


def test_an_api_schema_left_out_for_a_column_signature_fails_the_api_schema_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hokusai_mlflow_server: Any
) -> None:
    judged = judged_with_mlflow(
        tmp_path,
        capsys,
        hokusai_mlflow_server,
        "--model-name",
        "Schema model",
        "--api-schema",
        "absent",
    )
    assert judged.failed == {"sender-api-schema"}
    assert "model.api_schema is missing, but the version has a column-based signature" in (
        judged.why("sender-api-schema")
    )


def test_without_a_signature_api_schema_is_left_out_and_null_would_clear_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], hokusai_mlflow_server: Any
) -> None:
    name = ("--model-name", "Unsigned model", "--signature", "none")
    left_out = judged_with_mlflow(tmp_path, capsys, hokusai_mlflow_server, *name)
    assert left_out.exit_status == 0, left_out.output
    assert ": absent)" in left_out.why("sender-api-schema")
    nulled = judged_with_mlflow(
        tmp_path, capsys, hokusai_mlflow_server, *name, "--api-schema", "null"
    )
    assert nulled.failed == {"sender-api-schema"}
    assert "model.api_schema is null" in nulled.why("sender-api-schema")


def test_a_tracking_uri_nothing_answers_at_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["check-sender", "--tracking-uri", "http://127.0.0.1:9", "--", "true"])
    (line,) = capsys.readouterr().err.splitlines()
    assert status == 2
    assert line.startswith("hokusai-contract check-sender: error: --tracking-uri: MLflow at ")
    assert "connection refused" in line
