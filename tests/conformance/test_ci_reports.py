"""What a CI run shows of ``check-receiver`` and ``check-sender``, read back by parsing it: the
Markdown appended to ``$GITHUB_STEP_SUMMARY`` (a verdict, a table of the checks, why and how to fix
each finding) and the JUnit XML (each check's title, why and fix in the failure's body, real
times), both from the same results as the JSON report. Each command runs as a real process
against a real receiver or sender."""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.conformance.report import markdown_summary
from contracts.conformance.results import CheckResult, SuiteResult, Verdict
from tests.conformance.step_summary import Summary, parse_summary
from tests.handlers.running import running_handler
from tests.reliability.processes import run_command

SECRET = "ci reports secret 5e1f"
TOKENS = ["LSCOR", "OTHER", "SPARE", "THIRD"]
EARLIER_STEP = "## an earlier step's summary\n"
WEBHOOK_SENDER = Path(__file__).resolve().parents[1] / "senders" / "webhook_sender.py"
COMMAND_TIMEOUT_S = 300.0
"""A safety net only."""


@dataclass(frozen=True)
class Run:
    """One real run of a command: its exit status and what it wrote."""

    exit_status: int
    output: str
    summary: str
    junit: ElementTree.Element
    report: dict[str, Any]

    @property
    def results(self) -> list[dict[str, Any]]:
        (suite,) = self.report["suites"]
        return list(suite["results"])


def run_in_ci(folder: Path, *arguments: str, env: dict[str, str] | None = None) -> Run:
    """``python -m contracts ARGUMENTS --junit ... --json ...`` as GitHub Actions runs it, with
    ``$GITHUB_STEP_SUMMARY`` holding an earlier step's summary already."""
    summary = folder / "step-summary.md"
    summary.write_text(EARLIER_STEP, encoding="utf-8")
    junit, report = folder / "reports" / "run.xml", folder / "reports" / "run.json"
    command, sender = list(arguments), []
    if "--" in command:
        command, sender = command[: command.index("--")], command[command.index("--") :]
    reports = ["--junit", str(junit), "--json", str(report)]
    environment = {**(env or {}), "GITHUB_STEP_SUMMARY": str(summary)}
    process = run_command([*command, *reports, *sender], environment, COMMAND_TIMEOUT_S)
    return Run(
        process.returncode,
        process.stdout + process.stderr,
        summary.read_text(encoding="utf-8"),
        ElementTree.parse(junit).getroot(),
        json.loads(report.read_text(encoding="utf-8")),
    )


@pytest.fixture(scope="module")
def receiver_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """check-receiver judging a handler that looks token ids up in the case sent."""
    folder = tmp_path_factory.mktemp("check-receiver")
    with running_handler("case-sensitive-token-ids", SECRET, TOKENS) as handler:
        yield run_in_ci(
            folder,
            "check-receiver",
            "--url",
            handler.webhook_url,
            "--secret-env",
            "HOOK_SECRET",
            "--token",
            "LSCOR",
            *("--spare-token", "OTHER", "--spare-token", "SPARE", "--spare-token", "THIRD"),
            *("--state-url", handler.state_url_template, "--no-schemathesis"),
            env={"HOOK_SECRET": SECRET},
        )


@pytest.fixture(scope="module")
def sender_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """check-sender judging a sender that delivers a flat body, then exits 3."""
    folder = tmp_path_factory.mktemp("check-sender")
    sender = [sys.executable, str(WEBHOOK_SENDER), "--style", "v1", "--exit", "3"]
    return run_in_ci(folder, "check-sender", "--", *sender)


# --- the Markdown summary -------------------------------------------------------------------


def one_line(text: str) -> str:
    return " ".join(text.split())


def own_summary(run: Run) -> str:
    """What the command appended, after the earlier step's summary it kept."""
    assert run.summary.startswith(EARLIER_STEP), run.summary[:200]
    return run.summary[len(EARLIER_STEP) :]


def assert_summary_matches_the_json_report(summary: Summary, run: Run) -> None:
    assert summary.counts == run.report["summary"]
    assert summary.headers == ["check", "title", "result"]
    expected_rows = [[r["check_id"], r["title"], r["verdict"].upper()] for r in run.results]
    assert summary.rows == expected_rows
    findings = {r["check_id"]: r for r in run.results if r["verdict"] in ("fail", "warn")}
    assert set(summary.findings) == set(findings)
    for check_id, result in findings.items():
        shown = summary.findings[check_id]
        assert shown["verdict"] == result["verdict"].upper()
        assert shown["title"] == result["title"]
        assert shown["why"] == one_line(result["why"])
        assert shown.get("fix") == (one_line(result["fix"]) if result["fix"] else None)


@pytest.mark.parametrize(
    ("command", "finding"),
    [("check-receiver", "lowercase-token-id"), ("check-sender", "sender-command")],
)
def test_the_command_appends_its_verdict_its_checks_and_each_fix_to_the_step_summary(
    command: str, finding: str, request: pytest.FixtureRequest
) -> None:
    run: Run = request.getfixturevalue(
        "receiver_run" if command == "check-receiver" else "sender_run"
    )
    assert run.exit_status == 1, run.output
    summary = parse_summary(own_summary(run))
    assert summary.heading == f"hokusai-contract {command}"
    assert summary.verdict.startswith("FAILED: ")
    assert_summary_matches_the_json_report(summary, run)
    assert finding in summary.findings
    assert SECRET not in run.summary


def test_a_pipe_in_a_fix_is_escaped_so_the_finding_reads_whole(sender_run: Run) -> None:
    assert "(above, marked \\|) says why" in sender_run.summary
    fix = parse_summary(own_summary(sender_run)).findings["sender-command"]["fix"]
    assert fix == "its own output (above, marked |) says why"


def test_a_passing_run_outside_github_actions_writes_no_summary(tmp_path: Path) -> None:
    sender = [sys.executable, str(WEBHOOK_SENDER), "--style", "v1"]
    outside = {"GITHUB_STEP_SUMMARY": ""}  # as good as unset, even under GitHub Actions
    process = run_command(["check-sender", "--", *sender], outside, COMMAND_TIMEOUT_S, tmp_path)
    assert process.returncode == 0, process.stdout + process.stderr
    assert list(tmp_path.iterdir()) == []


def test_pipes_line_breaks_and_html_in_a_finding_stay_inside_their_cell_and_line() -> None:
    result = CheckResult(
        "odd-words",
        "answers | with\nbreaks",
        Verdict.FAIL,
        "the handler answered <b>500</b> | then\n\nclosed",
        "answer 401 | not 500",
    )
    markdown = markdown_summary(
        [SuiteResult("receiver", (result,))], title="hokusai-contract check-receiver"
    )
    summary = parse_summary(markdown)
    assert summary.rows == [["odd-words", "answers | with breaks", "FAIL"]]
    assert summary.findings["odd-words"] == {
        "verdict": "FAIL",
        "title": "answers | with breaks",
        "why": "the handler answered <b>500</b> | then closed",
        "fix": "answer 401 | not 500",
    }
    assert "<b>" not in markdown


def test_an_unwritable_step_summary_is_refused_in_one_line_before_the_sender_runs(
    tmp_path: Path,
) -> None:
    ran = tmp_path / "the sender ran"
    sender = [sys.executable, "-c", f"open({str(ran)!r}, 'w').close()"]
    a_folder = {"GITHUB_STEP_SUMMARY": str(tmp_path)}
    process = run_command(["check-sender", "--", *sender], a_folder, COMMAND_TIMEOUT_S)
    (line,) = process.stderr.splitlines()
    assert process.returncode == 2
    assert line.startswith("hokusai-contract check-sender: error: $GITHUB_STEP_SUMMARY: ")
    assert not ran.exists()


def test_an_unwritable_step_summary_is_refused_before_any_request_to_the_receiver(
    tmp_path: Path,
) -> None:
    from contracts.receiver import running_stub_site

    with running_stub_site(tmp_path / "stub.sqlite3", SECRET, tuple(TOKENS)) as site:
        nowhere = {"GITHUB_STEP_SUMMARY": str(tmp_path / "a-file" / "summary.md")}
        (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
        arguments = ["check-receiver", "--url", site.webhook_url, "--token", "LSCOR"]
        arguments += ["--json", str(tmp_path / "run.json")]
        process = run_command(arguments, {**nowhere, "WEBHOOK_SECRET": SECRET}, COMMAND_TIMEOUT_S)
        assert process.returncode == 2, process.stdout + process.stderr
        (line,) = process.stderr.splitlines()
        assert line.startswith("hokusai-contract check-receiver: error: $GITHUB_STEP_SUMMARY: ")
        assert site.deliveries("LSCOR") == []
        assert site.token("LSCOR")["status"] == "DRAFT"


def test_an_interrupted_runs_summary_says_interrupted_not_its_verdict_so_far() -> None:
    passed = CheckResult("receiver-ready", "the handler answers", Verdict.PASS, "answered 200")
    markdown = markdown_summary(
        [SuiteResult("receiver", (passed,))], title="hokusai-contract check-receiver", partial=True
    )
    assert parse_summary(markdown).verdict == "interrupted"


# --- JUnit ----------------------------------------------------------------------------------


def cases_by_id(run: Run) -> dict[str, ElementTree.Element]:
    return {str(case.get("name")): case for case in run.junit.iter("testcase")}


def assert_junit_matches_the_json_report(run: Run) -> None:
    cases = cases_by_id(run)
    assert list(cases) == [result["check_id"] for result in run.results]
    for result in run.results:
        case = cases[result["check_id"]]
        (title,) = case.findall("properties/property[@name='title']")
        assert title.get("value") == result["title"]
        assert abs(float(str(case.get("time"))) - result["duration_s"]) <= 0.001
        failure = case.find("failure")
        assert (failure is not None) == (result["verdict"] == "fail")
        if failure is not None:
            body = str(failure.text).splitlines()
            assert body[0] == result["title"]
            assert f"why: {result['why']}" in body
            assert f"fix: {result['fix']}" in body


def test_check_receiver_junit_carries_each_title_and_each_failures_why_and_fix_in_its_body(
    receiver_run: Run,
) -> None:
    assert_junit_matches_the_json_report(receiver_run)
    body = str(cases_by_id(receiver_run)["lowercase-token-id"].findtext("failure"))
    assert "upper-case the token id" in body
    assert SECRET not in ElementTree.tostring(receiver_run.junit, encoding="unicode")


def test_check_sender_junit_times_are_the_command_and_the_deliveries_judged(
    sender_run: Run,
) -> None:
    assert_junit_matches_the_json_report(sender_run)
    results = {result["check_id"]: result for result in sender_run.results}
    ran = re.search(r"after (\d+\.\d) s", results["sender-command"]["why"])
    assert ran is not None
    assert results["sender-command"]["duration_s"] >= float(ran[1]) - 0.05
    judged = [r for r in sender_run.results if r["verdict"] in ("pass", "fail")]
    assert len(judged) > 3 and all(result["duration_s"] > 0 for result in judged)
    suite = sender_run.junit.find("testsuite")
    assert suite is not None and float(str(suite.get("time"))) > 0
