"""How ``check-receiver`` ends: FAIL and WARN, ``--strict``, Ctrl-C with partial reports, and
exit codes that still tell the cases apart through ``make``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from contracts.cli import main
from contracts.support.server import RunningServer, serving
from tests.handlers.running import RunningHandler, running_handler
from tests.reliability.processes import interruptible

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SECRET = "exit codes secret 93a0"
TOKENS = ["LSCOR", "OTHER", "SPARE", "THIRD"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def secret_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)


def check_receiver(handler: RunningHandler, *options: str) -> int:
    return main(
        [
            "check-receiver",
            "--url",
            handler.webhook_url,
            "--secret-env",
            "HOOK_SECRET",
            "--token",
            "LSCOR",
            "--state-url",
            handler.state_url_template,
            "--no-schemathesis",
            *options,
        ]
    )


@pytest.fixture
def plain_text_handler() -> Iterator[RunningHandler]:
    """Right in every way but one no sender minds: its errors are plain text."""
    with running_handler("express-plain-text-errors", SECRET, TOKENS) as handler:
        yield handler


def test_warnings_alone_pass_and_say_so(
    plain_text_handler: RunningHandler, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "receiver.xml"
    assert check_receiver(plain_text_handler, "--junit", str(junit)) == 0
    out = capsys.readouterr().out
    assert "passed with 1 warning(s)" in out and "--strict makes them fail" in out
    assert "- answers-are-json (warn): answer every request, errors included, with JSON" in out
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    case = cases(junit)["answers-are-json"]
    assert case.find("failure") is None
    assert str(case.findtext("system-out")).startswith("WARN: ")


def cases(junit: Path) -> dict[str, ElementTree.Element]:
    return {str(case.get("name")): case for case in ElementTree.parse(junit).iter("testcase")}


def test_strict_makes_a_warning_fail(
    plain_text_handler: RunningHandler, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, report = tmp_path / "receiver.xml", tmp_path / "receiver.json"
    options = ("--strict", "--junit", str(junit), "--json", str(report))
    assert check_receiver(plain_text_handler, *options) == 1
    assert "FAILED (--strict): 1 warning(s)" in capsys.readouterr().out
    failures = [
        c for c in ElementTree.parse(junit).iter("testcase") if c.find("failure") is not None
    ]
    assert [c.get("name") for c in failures] == ["answers-are-json"]
    document = json.loads(report.read_text())
    assert document["ok"] is False and document["strict"] is True


def test_a_fail_exits_one_whatever_the_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    with running_handler("express-raw-timing-safe-equal", SECRET, TOKENS) as handler:
        assert check_receiver(handler) == 1
    out = capsys.readouterr().out
    assert "FAILED: 4 check(s) found what breaks a known sender or is a security hole" in out
    fixes = out[out.index("How to fix:") :].splitlines()
    assert fixes[1].startswith("- signature-missing: Node's crypto.timingSafeEqual throws")
    # Every FAIL is listed before the first WARN.
    marks = [line for line in fixes if line.startswith("- ")]
    first_warn = next(i for i, line in enumerate(marks) if "(warn)" in line)
    assert all("(warn)" in line for line in marks[first_warn:])


# --- Ctrl-C -------------------------------------------------------------------------------------


class StallsAfterItsFirstAnswer:
    """Answers the first request (an unknown token: 404), then holds every later one until
    released: a run against it is always in the middle of a check."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.answered = threading.Event()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        if self.answered.is_set():
            self.release.wait(300)
        self.answered.set()
        start_response("404 NOT FOUND", [("Content-Type", "application/json")])
        return [b'{"success": false, "error": "Token not found"}']


@pytest.fixture
def stalling() -> Iterator[RunningServer]:
    app = StallsAfterItsFirstAnswer()
    with serving(app) as server:
        try:
            yield server
        finally:
            app.release.set()


def test_ctrl_c_writes_the_reports_and_says_they_are_partial(
    stalling: RunningServer, tmp_path: Path
) -> None:
    junit, report = tmp_path / "receiver.xml", tmp_path / "receiver.json"
    command = interruptible("check-receiver", "--url", stalling.url("/hook"))
    command += ["--secret-env", "HOOK_SECRET", "--token", "LSCOR", "--junit", str(junit)]
    command += ["--json", str(report), "--no-schemathesis", "--timeout", "120"]
    process = subprocess.Popen(
        command,
        env={**os.environ, "HOOK_SECRET": SECRET},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # progress comes line by line as each check finishes
        if line.startswith("PASS  receiver-ready"):
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted after" in err and "the reports written are partial" in err
    assert "Traceback" not in err
    document = json.loads(report.read_text())
    assert document["partial"] is True and document["ok"] is False
    assert "partial results" in document["note"]
    ran = [result["check_id"] for result in document["suites"][0]["results"]]
    assert ran[0] == "receiver-ready" and "answers-are-json" not in ran
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.find("properties/property[@name='partial']") is not None
    assert "partial results" in str(suite.findtext("system-out"))


# --- through make -------------------------------------------------------------------------------


def run_make(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``make check-receiver`` in the repository, as a real child process."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # The environment running these tests is the one to use, as it is: no install step.
    here = ["-o", ".venv/.installed", f"BIN={Path(sys.executable).parent}"]
    return subprocess.run(
        [make, "--no-print-directory", "-C", str(REPO), *here, "check-receiver", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "HOOK_SECRET": SECRET},
    )


def test_through_make_the_exit_codes_still_tell_the_cases_apart() -> None:
    # make itself exits 2 whenever its command fails, but names the command's own code.
    with running_handler("flask-wrong-secret", SECRET, TOKENS) as handler:
        failed = run_make(f"URL={handler.webhook_url}", "SECRET_ENV=HOOK_SECRET")
    unreachable = run_make("URL=http://127.0.0.1:9/api/mlflow/registered", "SECRET_ENV=HOOK_SECRET")
    usage = run_make("SECRET_ENV=HOOK_SECRET")
    assert "] Error 1" in failed.stderr, failed.stderr
    assert "How to fix:" in failed.stdout
    assert "] Error 3" in unreachable.stderr, unreachable.stderr
    said = [line for line in unreachable.stderr.splitlines() if "hokusai-contract" in line]
    assert len(said) == 1 and "(connection refused)" in said[0]
    assert "] Error 2" in usage.stderr and "usage: make check-receiver" in usage.stdout
    assert {failed.returncode, unreachable.returncode, usage.returncode} == {2}
