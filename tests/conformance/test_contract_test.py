"""``hokusai-contract contract-test``: the whole run as one subprocess (real MLflow server,
reference sender, stub site, Node.js handler), its options, and its receiver part against a
chosen receiver."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from contracts.cli import build_parser, main
from contracts.cli.conformance import external_receiver, finish_run
from contracts.cli.options import CommandError
from contracts.conformance import Receiver, SuiteResult, Verdict
from contracts.conformance.contract_test import receiver_heading, receiver_suites
from contracts.support.server import serving
from tests.conformance.receivers import STATE_URL_TEMPLATE, WEBHOOK_PATH, Flaw, FlawedReceiver
from tests.conformance.step_summary import parse_summary

REPOSITORY = Path(__file__).resolve().parents[2]
RECEIVER_URL = "https://example.com/api/mlflow/registered"


@pytest.mark.mlflow
def test_the_contract_test_passes_end_to_end_and_reports_per_suite(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "contracts",
            "contract-test",
            "--reports",
            str(tmp_path),
            "--max-examples",
            "10",
        ],
        cwd=REPOSITORY,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")},
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
    summary = parse_summary((tmp_path / "summary.md").read_text(encoding="utf-8"))
    assert summary.heading == "hokusai-contract contract-test" and summary.verdict == "passed"
    assert {row[0] for row in summary.rows} == {"sender", *receivers}
    assert ["sender", "sender-retry"] in [row[:2] for row in summary.rows]
    assert not summary.findings


def contract_test_options(*options: str) -> argparse.Namespace:
    return build_parser().parse_args(["contract-test", *options])


def test_the_receiver_options_name_the_receiver_to_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THEIR_SECRET", "their secret")
    options = [
        "--receiver-url",
        RECEIVER_URL,
        "--receiver-secret-env",
        "THEIR_SECRET",
        "--receiver-token",
        "abc",
        "--receiver-spare-token",
        "other",
        "--receiver-spare-token",
        "spare",
        "--receiver-state-url",
        "https://example.com/api/tokens/{token_id}",
    ]
    assert external_receiver(contract_test_options(*options)) == Receiver(
        RECEIVER_URL,
        "their secret",
        "ABC",
        ("OTHER", "SPARE"),
        "https://example.com/api/tokens/{token_id}",
        secret_env="THEIR_SECRET",
    )
    assert external_receiver(contract_test_options()) is None
    with pytest.raises(CommandError, match=r"NOPE is not set.*--receiver-secret-env"):
        external_receiver(contract_test_options(*options, "--receiver-secret-env", "NOPE"))


def test_the_receiver_token_defaults_to_the_stubs_token_under_test(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", "a secret")
    receiver = external_receiver(contract_test_options("--receiver-url", RECEIVER_URL))
    assert receiver == Receiver(RECEIVER_URL, "a secret", "LSCOR")


@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [
        ("--receiver-token", "LS_COR", "--receiver-token: token id"),
        (
            "--receiver-url",
            "localhost:8000/api/mlflow/registered",
            "--receiver-url 'localhost:8000",
        ),
        (
            "--receiver-state-url",
            "/api/tokens/{token_id}",
            "--receiver-state-url '/api/tokens/TOKEN'",
        ),
        ("--receiver-spare-token", "LSCOR", "--receiver-spare-token LSCOR: each spare"),
    ],
)
def test_a_bad_receiver_option_exits_2_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    option: str,
    value: str,
    complaint: str,
) -> None:
    monkeypatch.setenv("THEIR_SECRET", "their secret")
    argv = ["contract-test", "--reports", str(tmp_path), "--receiver-secret-env", "THEIR_SECRET"]
    argv += ["--receiver-url", "http://127.0.0.1:9/api/mlflow/registered", option, value]
    assert main(argv) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert complaint in line
    assert "MLflow" not in captured.out


@pytest.mark.parametrize(
    "option", ["--receiver-token", "--receiver-spare-token", "--receiver-state-url"]
)
def test_a_receiver_option_without_the_receiver_url_is_refused_before_anything_starts(
    option: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["contract-test", "--reports", str(tmp_path), option, "OTHER"]) == 2
    captured = capsys.readouterr()
    assert f"{option} only applies with --receiver-url" in captured.err
    assert "MLflow" not in captured.out


def test_the_receiver_heading_shows_the_url_without_its_credentials() -> None:
    url = "https://site-user:site-password@example.com/api/mlflow/registered?key=query-secret"
    heading = receiver_heading(Receiver(url, "secret", "LSCOR"))
    assert "example.com/api/mlflow/registered" in heading
    assert "site-password" not in heading and "query-secret" not in heading


def test_a_reports_path_that_is_a_file_exits_2_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "reports").write_text("a file")
    assert main(["contract-test", "--reports", str(tmp_path / "reports")]) == 2
    captured = capsys.readouterr()
    assert "--reports" in captured.err
    assert "MLflow" not in captured.out


def test_an_external_receiver_replaces_the_stub_and_its_failures_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
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
    summary = parse_summary((tmp_path / "summary.md").read_text(encoding="utf-8"))
    assert summary.heading == "hokusai-contract contract-test"
    assert summary.verdict.startswith("FAILED: ")
    assert summary.headers == ["check", "title", "result"]  # one suite: no suite column
    results = suites[0].results
    assert summary.rows == [[r.check_id, r.title, r.verdict.value.upper()] for r in results]
    failing = summary.findings["lowercase-token-id"]
    (result,) = [r for r in suites[0].results if r.check_id == "lowercase-token-id"]
    assert failing["why"] == " ".join(result.why.split())
    assert failing["fix"] == " ".join(str(result.fix).split())


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
