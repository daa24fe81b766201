"""``hokusai-contract check-receiver`` end to end: progress, a table that fits 100 columns,
JUnit and JSON reports, exit codes, and no secret anywhere in what it prints or writes."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts import SEED_PATH
from contracts.cli import main
from contracts.cli.conformance import write_report
from contracts.cli.options import CommandError
from contracts.conformance import RECEIVER_CHECKS
from contracts.receiver.testing import RunningStubSite, running_stub_site
from contracts.support.server import serving
from tests.conformance.receivers import WEBHOOK_PATH, Flaw, FlawedReceiver

SECRET = "check-receiver secret 0d7c"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def secret_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def check_receiver(url: str, *options: str) -> int:
    return main(["check-receiver", "--url", url, "--secret-env", "HOOK_SECRET", *options])


@pytest.fixture
def stub_site(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, ["LSCOR", "OTHER", "SPARE"]) as site:
        yield site


def test_checking_the_stub_passes_and_writes_reports_that_fit_and_parse(
    stub_site: RunningStubSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, report = tmp_path / "out" / "receiver.xml", tmp_path / "out" / "receiver.json"
    seed = stub_site.server.url(SEED_PATH)
    code = check_receiver(
        stub_site.webhook_url,
        "--also-url",
        seed,
        "--token",
        "lscor",
        "--state-url",
        stub_site.state_url_template,
        "--junit",
        str(junit),
        "--json",
        str(report),
        "--max-examples",
        "15",
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"Checking {stub_site.webhook_url}\n  and {seed}\n" in out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "check" in out and "verdict" in out and "why" in out
    assert f"{len(RECEIVER_CHECKS) + 2} checks: {len(RECEIVER_CHECKS) + 2} pass" in out
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases][: len(RECEIVER_CHECKS)] == RECEIVER_CHECKS.ids
    assert {case.get("name") for case in cases} >= {
        "schemathesis-positive",
        "schemathesis-negative",
    }
    assert suite.get("failures") == "0"
    document = json.loads(report.read_text())
    assert document["ok"] is True and document["token"] == "LSCOR"
    for text in (out, junit.read_text(), report.read_text()):
        assert SECRET not in text


def test_a_failing_receiver_exits_one_with_the_fix_in_the_junit_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "receiver.xml"
    with serving(FlawedReceiver(SECRET, ["LSCOR"], Flaw.CASE_SENSITIVE_TOKEN_IDS)) as server:
        code = check_receiver(
            server.url(WEBHOOK_PATH), "--token", "LSCOR", "--junit", str(junit), "--no-schemathesis"
        )
    out = capsys.readouterr().out
    assert code == 1
    assert "How to fix:" in out and "upper-case the token id" in out
    failures = {
        case.get("name"): case.find("failure")
        for case in ElementTree.parse(junit).getroot().iter("testcase")
    }
    failure = failures["lowercase-token-id"]
    assert failure is not None
    assert "looks the id up as sent" in str(failure.get("message"))
    assert "fix: upper-case the token id" in str(failure.get("message"))


def test_progress_is_printed_one_line_per_check_as_they_finish(
    stub_site: RunningStubSite, capsys: pytest.CaptureFixture[str]
) -> None:
    check_receiver(stub_site.webhook_url, "--token", "LSCOR", "--no-schemathesis")
    lines = capsys.readouterr().out.splitlines()
    progress = [line for line in lines if line.startswith(("PASS  ", "FAIL  ", "WARN  ", "SKIP  "))]
    assert [line.split()[1] for line in progress] == [
        *RECEIVER_CHECKS.ids,
        "schemathesis-positive",
        "schemathesis-negative",
    ]
    assert all(line.split()[2].endswith("s") for line in progress)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--url", "example.com/hook", "--token", "LSCOR"], "does not start with http"),
        (["--url", "http://127.0.0.1:9/x", "--token", "LS_COR"], "--token: token id"),
        (
            ["--url", "http://127.0.0.1:9/x", "--token", "LSCOR", "--secret-env", "UNSET_X"],
            "UNSET_X is not set",
        ),
        (
            ["--url", "http://127.0.0.1:9/x", "--token", "LSCOR", "--state-url", "/api/{token_id}"],
            "--state-url '/api/TOKEN' is not an http(s) URL",
        ),
        (
            [
                "--url",
                "http://127.0.0.1:9/x",
                "--token",
                "LSCOR",
                "--state-url",
                "http://h/t/LSCOR",
            ],
            "has no {token_id} in it",
        ),
        (
            ["--url", "http://127.0.0.1:9/x", "--token", "LSCOR", "--spare-token", "OTHER_1"],
            "--spare-token: token id",
        ),
        (
            ["--url", "http://127.0.0.1:9/x", "--token", "LSCOR", "--spare-token", "lscor"],
            "--spare-token LSCOR: each spare token must be a different DRAFT token",
        ),
        (
            [
                "--url",
                "http://127.0.0.1:9/x",
                "--token",
                "A",
                "--spare-token",
                "B",
                "--spare-token",
                "b",
            ],
            "--spare-token B: each spare token",
        ),
        (
            ["--url", "http://127.0.0.1:9/x", "--token", "LSCOR", "--also-url", "seed/path"],
            "--also-url 'seed/path' is not an http(s) URL",
        ),
        (
            [
                "--url",
                "http://127.0.0.1:9/x",
                "--token",
                "LSCOR",
                "--also-url",
                "http://127.0.0.1:9/x",
            ],
            "--also-url http://127.0.0.1:9/x: each must be another URL of the handler",
        ),
    ],
)
def test_bad_arguments_are_clear_usage_errors(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-receiver", "--secret-env", "HOOK_SECRET", *arguments]) == 2
    assert message in capsys.readouterr().err


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_password_in_the_url_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://user:hunter2-pass@127.0.0.1:{closed_port()}{WEBHOOK_PATH}"
    assert check_receiver(url, "--token", "LSCOR", "--no-schemathesis") == 3
    captured = capsys.readouterr()
    assert "connection refused" in captured.err and "//***@127.0.0.1" in captured.err
    assert "hunter2-pass" not in captured.out + captured.err


@pytest.mark.parametrize(
    ("url", "why", "hint"),
    [
        (
            "http://127.0.0.1:{port}/api/mlflow/registered",
            "(connection refused)",
            "nothing listens at that host and port",
        ),
        (
            "http://no-such-host.invalid/api/mlflow/registered",
            "(the host name does not resolve)",
            "check its spelling and DNS",
        ),
    ],
)
def test_an_unreachable_receiver_is_one_line_with_a_hint_and_exit_3(
    url: str, why: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = url.format(port=closed_port())
    assert check_receiver(url, "--token", "LSCOR", "--no-schemathesis") == 3
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert line.startswith("hokusai-contract check-receiver: error: no answer from ")
    assert why in line and hint in line
    assert "verdict" not in captured.out and "How to fix" not in captured.out


def json_results(report: Path) -> dict[str, dict[str, str]]:
    """Each check's result in a JSON report, by check id."""
    results = json.loads(report.read_text())["suites"][0]["results"]
    return {result["check_id"]: result for result in results}


def test_an_https_url_to_a_plain_http_handler_is_named_a_tls_failure(tmp_path: Path) -> None:
    report = tmp_path / "receiver.json"
    with serving(FlawedReceiver(SECRET, ["LSCOR"])) as server:
        url = server.url(WEBHOOK_PATH).replace("http://", "https://")
        options = ("--token", "LSCOR", "--no-schemathesis", "--json", str(report))
        assert check_receiver(url, *options) == 3
    why = json_results(report)["receiver-ready"]["why"]
    assert f"no answer from {url} (the TLS handshake failed" in why
    assert "check http:// against https://" in why


def test_an_acceptance_refused_as_invalid_says_the_receivers_validation_disagrees(
    tmp_path: Path,
) -> None:
    report = tmp_path / "receiver.json"
    with serving(FlawedReceiver(SECRET, ["LSCOR"], Flaw.CASE_SENSITIVE_STATUS)) as server:
        options = ("--token", "LSCOR", "--no-schemathesis", "--json", str(report))
        assert check_receiver(server.url(WEBHOOK_PATH), *options) == 1
    why = json_results(report)["lowercase-status"]["why"]
    assert "the receiver's validation disagrees with the contract" in why
    assert "It said: status must be REGISTERED" in why


def test_a_receiver_without_a_secret_gets_the_same_fix_from_check_receiver_and_send_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "receiver.json"
    with running_stub_site(tmp_path / "site.sqlite3", None) as site:
        options = ("--token", "LSCOR", "--no-schemathesis", "--json", str(report))
        assert check_receiver(site.webhook_url, *options) == 1
        capsys.readouterr()
        send = ["send-test", "--url", site.webhook_url, "--secret-env", "HOOK_SECRET"]
        assert main([*send, "--token", "LSCOR"]) == 1
    fix = json_results(report)["receiver-ready"]["fix"]
    assert "the same secret as the one in $HOOK_SECRET" in fix
    assert fix in [line.strip() for line in capsys.readouterr().out.splitlines()]


def test_spare_tokens_each_see_a_transition_of_their_own(
    stub_site: RunningStubSite, capsys: pytest.CaptureFixture[str]
) -> None:
    code = check_receiver(
        stub_site.webhook_url,
        "--token", "LSCOR", "--spare-token", "other", "--spare-token", "SPARE",
        "--state-url", stub_site.state_url_template, "--no-schemathesis",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "token LSCOR; spare tokens OTHER, SPARE;" in out
    assert [stub_site.token(t)["status"] for t in ("OTHER", "SPARE")] == ["REGISTERED"] * 2


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize(
    ("option", "where", "complaint"),
    [
        ("--json", "{tmp}", "it is a folder; name a file in it"),
        ("--junit", "/proc/nope/x.xml", "its folder /proc/nope cannot be created"),
        ("--junit", "{tmp}/a-file/x.xml", "{tmp}/a-file is not a folder"),
        # a folder that exists and says it is writable, even to root, but takes no files
        ("--junit", "/proc/x.xml", "it cannot be written there (No such file or directory)"),
    ],
)
def test_report_paths_that_cannot_be_written_are_refused_before_any_request(
    stub_site: RunningStubSite,
    a_file: Path,
    option: str,
    where: str,
    complaint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = where.format(tmp=a_file.parent)
    code = check_receiver(stub_site.webhook_url, "--token", "LSCOR", option, path)
    captured = capsys.readouterr()
    assert code == 2
    assert f"{option} {path}: {complaint.format(tmp=a_file.parent)}" in captured.err
    assert "Checking" not in captured.out
    assert stub_site.deliveries() == []


def test_a_report_that_cannot_be_written_after_the_run_is_a_clear_error(a_file: Path) -> None:
    a_file.chmod(0o444)
    with pytest.raises(
        CommandError, match=r"--json .*a-file/x.json: the report could not be written"
    ):
        write_report("--json", a_file / "x.json", "{}")


def run_make(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``make`` in the repository, as a real child process."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    return subprocess.run(
        [make, "--no-print-directory", "-C", str(REPO), *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_refuses_a_secret_value_on_its_command_line_and_never_prints_it() -> None:
    value = "mk-value-seen-by-ps-4b1e"
    result = run_make(
        "check-receiver", f"SECRET={value}", "URL=http://127.0.0.1:9/api/mlflow/registered"
    )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "SECRET=... is refused" in line and "SECRET_ENV=NAME" in line
    assert value not in result.stdout + result.stderr


def test_make_hands_over_the_name_of_the_variable_holding_the_secret() -> None:
    result = run_make(
        "-n", "check-receiver", "SECRET_ENV=HOOK_SECRET", f"URL=http://127.0.0.1:9{WEBHOOK_PATH}"
    )
    assert result.returncode == 0, result.stderr
    assert '--secret-env "HOOK_SECRET"' in result.stdout
