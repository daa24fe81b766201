"""``hokusai-contract contract-test``: the whole run as one subprocess (real MLflow server,
reference sender, stub site, Node.js handler), its options, and its receiver part against a
chosen receiver."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from contracts.cli import build_parser, main
from contracts.cli.conformance import external_receiver, finish_run
from contracts.cli.options import CommandError
from contracts.conformance import Receiver, SuiteResult, Verdict
from contracts.conformance.contract_test import (
    PlannedSuite,
    SuiteInputs,
    receiver_heading,
    receiver_suites,
    run_contract_test,
    time_line,
)
from contracts.conformance.results import Finding
from contracts.support.server import serving
from tests.conformance.receivers import STATE_URL_TEMPLATE, WEBHOOK_PATH, Flaw, FlawedReceiver
from tests.conformance.step_summary import parse_summary
from tests.reliability.processes import interruptible
from tests.sender.test_mlflow_server import processes_using

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
    (time_line,) = [line for line in out.splitlines() if line.startswith("Time: ")]
    assert "; critical path: " in time_line and " ran meanwhile" in time_line
    for part in ("MLflow start", "sender suite", "receiver suites"):
        assert part in time_line, time_line
    assert "WARNING" not in run.stderr, run.stderr
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
    assert {row[0] for row in summary.rows} == {"sender", "bridge", *receivers}
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


# --- how the run is laid out ------------------------------------------------------------------


def test_the_time_line_names_the_critical_path_and_what_ran_meanwhile() -> None:
    timings = {"receiver suites": 6.24, "MLflow start": 7.1, "sender suite": 2.6}
    line = time_line(timings, 9.8, ("MLflow start", "sender suite"))
    assert line == (
        "Time: 9.8 s; critical path: MLflow start 7.1 s + sender suite 2.6 s; "
        "receiver suites 6.2 s ran meanwhile"
    )
    sequential = time_line({"receiver suite": 1.0}, 1.0, ())
    assert sequential == "Time: 1.0 s; critical path: receiver suite 1.0 s"


def answered_health(inputs: SuiteInputs) -> list[SuiteResult]:
    """A suite that needs MLflow: passes when the tracking server it is given answers."""
    assert inputs.tracking_uri is not None
    with urllib.request.urlopen(inputs.tracking_uri + "/health", timeout=10) as answer:
        finding = Finding.passed(f"{inputs.tracking_uri} answered {answer.status}")
    result = finding.result("mlflow-answers", "the tracking server answers", 0.0)
    inputs.progress_for("late")(result)
    return [SuiteResult("late", (result,))]


def ran_without_mlflow(inputs: SuiteInputs) -> list[SuiteResult]:
    """A suite that needs no MLflow: it is given no tracking server."""
    assert inputs.tracking_uri is None
    result = Finding.passed("no tracking server given").result("no-mlflow", "runs first", 0.0)
    inputs.progress_for("early")(result)
    return [SuiteResult("early", (result,))]


@pytest.mark.mlflow
def test_a_suite_that_needs_mlflow_plugs_in_and_runs_once_the_server_answers() -> None:
    prepared: list[str] = []
    suites = (
        PlannedSuite(
            "late suite",
            True,
            lambda inputs: "Late suite",
            answered_health,
            prepare=lambda inputs: prepared.append(str(inputs.workdir)),
        ),
        PlannedSuite("early suite", False, lambda inputs: "Early suite", ran_without_mlflow),
    )
    said: list[str] = []

    run = run_contract_test(None, None, said.append, suites=suites)

    assert [suite.name for suite in run.suites] == ["early", "late"]
    assert all(not suite.failed for suite in run.suites)
    headings = [line for line in said if line.endswith(" suite") or line.startswith("MLflow at")]
    assert [line.split(" ")[0] for line in headings] == ["Early", "MLflow", "Late"]
    assert len(prepared) == 1
    assert set(run.timings) == {"early suite", "MLflow start", "late suite"}
    # the early suite takes no time, so the run waited for MLflow, then ran the late suite
    assert tuple(run.critical_path) == ("MLflow start", "late suite")


@pytest.mark.mlflow
@pytest.mark.parametrize(
    "moment",
    ["PASS  [stub] valid-delivery", "Sender suite: "],
    ids=["while-mlflow-starts", "during-the-sender-suite"],
)
def test_ctrl_c_prints_one_line_stops_everything_it_started_and_exits_130(
    tmp_path: Path, moment: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    process = subprocess.Popen(
        interruptible("contract-test", "--reports", str(tmp_path / "reports")),
        cwd=REPOSITORY,
        env={**os.environ, "TMPDIR": str(work)},  # every folder the run makes is in here
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # progress comes line by line
        if line.startswith(moment):
            break
    else:
        pytest.fail(f"the run ended before {moment!r}: exit {process.wait()}")
    assert processes_using(work) != []  # the MLflow server, at least
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)

    # 130 as the command's exit code, or ended by SIGINT itself (which a shell reports as 130)
    assert process.returncode in (130, -signal.SIGINT), err
    (line,) = err.splitlines()
    assert line.startswith("hokusai-contract contract-test: interrupted; ")
    assert processes_using(work) == []
    assert list(work.iterdir()) == []
    assert list((tmp_path / "reports").iterdir()) == []  # made empty when the options were checked
