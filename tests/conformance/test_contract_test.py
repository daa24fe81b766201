"""``make contract-test``: the whole run as one subprocess (real MLflow server, reference sender,
stub site, Node.js handler), and its receiver part against a chosen receiver."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from contracts.cli import CommandError
from contracts.conformance import Receiver, SuiteResult, Verdict
from contracts.conformance.contract_test import (
    external_receiver,
    finish_run,
    main,
    receiver_suites,
)
from contracts.support.server import serving
from tests.conformance.receivers import STATE_URL_TEMPLATE, WEBHOOK_PATH, Flaw, FlawedReceiver

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
    receivers = ["stub", "node"] if shutil.which("node") else ["stub"]
    for suite in ["sender", *receivers]:
        root = ElementTree.parse(tmp_path / f"contract-test-{suite}.xml").getroot()
        testsuite = root.find("testsuite")
        assert testsuite is not None and testsuite.get("name") == suite
        assert testsuite.get("failures") == "0"
        if suite in receivers:  # every check ran, the transition checks on spare tokens
            assert testsuite.get("skipped") == "0", suite
            assert int(str(testsuite.get("tests"))) >= 24, suite


def test_receiver_url_and_friends_name_the_receiver_to_judge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("THEIR_SECRET", "their secret")
    environ = {
        "RECEIVER_URL": "https://example.com/api/mlflow/registered",
        "RECEIVER_SECRET_ENV": "THEIR_SECRET",
        "RECEIVER_TOKEN": "abc",
        "RECEIVER_SPARE_TOKENS": "other, spare",
        "RECEIVER_STATE_URL": "https://example.com/api/tokens/{token_id}",
    }
    assert external_receiver(environ) == Receiver(
        "https://example.com/api/mlflow/registered",
        "their secret",
        "ABC",
        ("OTHER", "SPARE"),
        "https://example.com/api/tokens/{token_id}",
        secret_env="THEIR_SECRET",
    )
    assert external_receiver({}) is None
    with pytest.raises(CommandError, match="NOPE is not set"):
        external_receiver({**environ, "RECEIVER_SECRET_ENV": "NOPE"})


@pytest.mark.parametrize(
    ("setting", "value", "complaint"),
    [
        ("RECEIVER_TOKEN", "LS_COR", "RECEIVER_TOKEN: token id"),
        ("RECEIVER_URL", "localhost:8000/api/mlflow/registered", "RECEIVER_URL 'localhost:8000"),
        ("RECEIVER_STATE_URL", "/api/tokens/{token_id}", "RECEIVER_STATE_URL '/api/tokens/TOKEN'"),
        ("RECEIVER_SPARE_TOKENS", "OTHER,LSCOR", "RECEIVER_SPARE_TOKENS LSCOR: each spare"),
    ],
)
def test_a_bad_receiver_setting_exits_2_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    setting: str,
    value: str,
    complaint: str,
) -> None:
    monkeypatch.setenv("THEIR_SECRET", "their secret")
    monkeypatch.setenv("RECEIVER_SECRET_ENV", "THEIR_SECRET")
    monkeypatch.setenv("RECEIVER_URL", "http://127.0.0.1:9/api/mlflow/registered")
    monkeypatch.setenv(setting, value)
    assert main(["--reports", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert complaint in captured.err
    assert "MLflow" not in captured.out


def test_a_reports_path_that_is_a_file_exits_2_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RECEIVER_URL", raising=False)
    (tmp_path / "reports").write_text("a file")
    assert main(["--reports", str(tmp_path / "reports")]) == 2
    assert "--reports" in capsys.readouterr().err


def test_an_external_receiver_replaces_the_stub_and_its_failures_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "external secret"
    with serving(FlawedReceiver(secret, ["LSCOR"], Flaw.CASE_SENSITIVE_TOKEN_IDS)) as server:
        state_url = server.base_url + STATE_URL_TEMPLATE
        receiver = Receiver(server.url(WEBHOOK_PATH), secret, "LSCOR", state_url=state_url)
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


def test_junit_files_of_an_earlier_run_are_replaced_not_left_beside_the_new_ones(
    tmp_path: Path,
) -> None:
    for old in ("node", "stub", "sender"):
        (tmp_path / f"contract-test-{old}.xml").write_text("<old/>")
    (tmp_path / "check-receiver.xml").write_text("<kept/>")
    finish_run([SuiteResult("receiver", ())], {}, 0.0, tmp_path, lambda line: None)
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "check-receiver.xml",
        "contract-test-receiver.xml",
        "contract-test.json",
    ]
