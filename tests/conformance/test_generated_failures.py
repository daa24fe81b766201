"""Schemathesis' failures explained by what the checks found, and reproduced exactly: a curl
command with the request's headers, and its body in a file beside the reports."""

from __future__ import annotations

import base64
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts import sign
from contracts.conformance import Receiver, Recorder, Verdict
from contracts.conformance.report import REPRODUCTIONS, write_reproductions
from contracts.conformance.results import CheckResult, SuiteResult
from contracts.conformance.runner import explained_by_the_checks, receiver_suite
from tests.handlers.running import running_handler

SECRET = "generated failures secret 2c4f"
TOKENS = ["LSCOR", "OTHER", "SPARE", "THIRD"]


def test_every_401_from_a_compact_only_handler_is_blamed_on_spacing_not_on_the_secret() -> None:
    with running_handler("express-json-stringify", SECRET, TOKENS) as handler:
        receiver = Receiver(handler.webhook_url, SECRET, "LSCOR", (), handler.state_url_template)
        suite = receiver_suite(receiver, max_examples=5)
    positive = {result.check_id: result for result in suite.results}["schemathesis-positive"]
    assert positive.verdict is Verdict.FAIL
    assert set(positive.details["statuses"]) == {401}
    assert "Schemathesis sends spaced JSON" in positive.why
    assert "accepts only compact JSON" in positive.why
    assert "secret" not in str(positive.fix)
    assert str(positive.fix).startswith("compute the HMAC over the raw request bytes")


def every_401(fix: str = "use the same secret on both sides") -> CheckResult:
    return CheckResult(
        "schemathesis-positive",
        "title",
        Verdict.FAIL,
        "positive: every signed request got 401",
        fix,
        details={"statuses": {401: 50}, "requests": 50},
    )


def test_every_401_stays_a_secret_problem_when_the_raw_body_is_verified() -> None:
    raw_body = CheckResult("raw-body-verified", "title", Verdict.PASS, "the raw body is verified")
    assert explained_by_the_checks(every_401(), [raw_body]) == every_401()


def test_a_reproduction_sends_the_exact_bytes_and_headers_again(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    body = b'{"token_id": "LSCOR", "model_name": "Mod\xc3\xa8le \\u00e8", "n": 1.0}\n'
    with Recorder() as receiver:
        reproduction = {
            "title": "status outside the contract",
            "method": "POST",
            "url": receiver.url,
            "headers": {
                "Content-Type": "application/json",
                "X-Hokusai-Signature": sign(body, SECRET),
                "Content-Length": str(len(body)),
            },
            "body_base64": base64.b64encode(body).decode(),
        }
        result = CheckResult(
            "schemathesis-positive",
            "title",
            Verdict.FAIL,
            "why",
            details={REPRODUCTIONS: [reproduction]},
        )
        comment, command = write_reproductions([SuiteResult("receiver", (result,))], tmp_path)
        assert comment == "# schemathesis-positive: status outside the contract"
        (body_file,) = tmp_path.glob("*.body")
        assert body_file.read_bytes() == body
        subprocess.run(shlex.split(command), check=True, capture_output=True, timeout=30)
        (sent,) = receiver.requests
    assert sent.body == body
    assert sent.header("X-Hokusai-Signature") == sign(body, SECRET)
    assert sent.header("Content-Type") == "application/json"
    assert SECRET not in command


def test_a_reproduction_never_writes_the_urls_credentials(tmp_path: Path) -> None:
    reproduction = {
        "method": "POST",
        "url": "https://hook:pa55word@example.com/api/mlflow/registered?token=s3cret",
        "headers": {},
        "body_base64": base64.b64encode(b"{}").decode(),
    }
    result = CheckResult(
        "schemathesis-negative", "t", Verdict.FAIL, "w", None, 0.0, {REPRODUCTIONS: [reproduction]}
    )
    commands = write_reproductions([SuiteResult("receiver", (result,))], tmp_path)
    assert "pa55word" not in "".join(commands) and "s3cret" not in "".join(commands)
