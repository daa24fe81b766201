"""``make contract-test``: the whole run as one subprocess (real MLflow server, reference sender,
stub site, Node.js handler), and its receiver part against a chosen receiver."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from contracts.cli import CommandError
from contracts.conformance import SuiteResult, Verdict
from contracts.conformance.contract_test import (
    ExternalReceiver,
    external_receiver,
    finish_run,
    receiver_suites,
)
from contracts.receiver.server import serving
from tests.conformance.receivers import STATE_PREFIX, WEBHOOK_PATH, Flaw, FlawedReceiver

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.mlflow
def test_the_contract_test_passes_end_to_end_and_reports_per_suite(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("RECEIVER_")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "contracts.conformance.contract_test",
            "--reports",
            str(tmp_path),
            "--max-examples",
            "10",
        ],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert (
        "registered 'Sales lead scoring model' v2 for ZKML-2: delivered after 2 attempt(s)" in out
    )
    assert "PASS  [sender] sender-retry" in out
    assert "Time: MLflow start" in out and "sender suite" in out and "receiver suite" in out
    table = out[out.index("suite  ") : out.index(" checks: ")]
    assert max(len(line) for line in table.splitlines()) <= 100
    expected = {"sender", "stub"} | (
        {"node"} if (tmp_path / "contract-test-node.xml").exists() else set()
    )
    for suite in expected:
        root = ElementTree.parse(tmp_path / f"contract-test-{suite}.xml").getroot()
        testsuite = root.find("testsuite")
        assert testsuite is not None and testsuite.get("name") == suite
        assert testsuite.get("failures") == "0"


def test_receiver_url_and_friends_name_the_receiver_to_judge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THEIR_SECRET", "their secret")
    environ = {
        "RECEIVER_URL": "https://example.com/api/mlflow/registered",
        "RECEIVER_SECRET_ENV": "THEIR_SECRET",
        "RECEIVER_TOKEN": "abc",
    }
    assert external_receiver(environ) == ExternalReceiver(
        "https://example.com/api/mlflow/registered", "their secret", "abc", None
    )
    assert external_receiver({}) is None
    with pytest.raises(CommandError, match="NOPE is not set"):
        external_receiver({**environ, "RECEIVER_SECRET_ENV": "NOPE"})


def test_an_external_receiver_replaces_the_stub_and_its_failures_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "external secret"
    with serving(FlawedReceiver(secret, ["LSCOR"], Flaw.CASE_SENSITIVE_TOKEN_IDS)) as server:
        receiver = ExternalReceiver(
            server.url(WEBHOOK_PATH), secret, "LSCOR", server.base_url + STATE_PREFIX + "{token_id}"
        )
        suites = receiver_suites(tmp_path, "unused", receiver, lambda name: lambda r: None, 10)
    assert [suite.name for suite in suites] == ["receiver"]
    verdicts = {result.check_id: result.verdict for result in suites[0].results}
    assert verdicts["lowercase-token-id"] is Verdict.FAIL
    code = finish_run(suites, {"receiver suite": 1.0}, 1.0, tmp_path / "reports", print)
    assert code == 1
    assert (tmp_path / "reports" / "contract-test-receiver.xml").is_file()
    assert "lowercase-token-id" in capsys.readouterr().out


def test_a_run_with_nothing_failed_exits_zero(tmp_path: Path) -> None:
    assert finish_run([SuiteResult("empty", ())], {}, 0.0, tmp_path, lambda line: None) == 0
