"""``--header NAME:VALUE``: every request to a receiver behind a staging gateway carries it, and
its value (a secret) appears nowhere in what the commands print or write."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from contracts import CURRENT_PATH
from contracts.cli import build_parser
from contracts.cli.conformance import external_receiver
from contracts.receiver.app import create_app
from contracts.signing import SIGNATURE_HEADER
from contracts.support.server import RunningServer
from tests.cli.running import clean_environment, run_cli

SECRET = "extra headers secret 81d0"
GATEWAY_TOKEN = "staging-gateway-token-5f2b9c"
AUTHORIZATION = f"Authorization: Bearer {GATEWAY_TOKEN}"


class Gateway:
    """The stub site behind a gateway that answers 401 to any request without the bearer
    token, as staging environments do; it counts the requests it let through and refused.
    With ``crash_unsigned``, the site behind it answers 500 in plain text to unsigned
    requests, so that Schemathesis has failures to reproduce."""

    def __init__(self, site: Any, *, crash_unsigned: bool = False) -> None:
        self.site = site
        self.crash_unsigned = crash_unsigned
        self.passed = 0
        self.refused = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.headers.get("Authorization") != f"Bearer {GATEWAY_TOKEN}":
            self.refused += 1
            answer = Response('{"error": "gateway: sign in"}', 401, mimetype="application/json")
            return answer(environ, start_response)
        self.passed += 1
        if self.crash_unsigned and SIGNATURE_HEADER not in request.headers:
            return Response("boom", 500, mimetype="text/plain")(environ, start_response)
        return self.site(environ, start_response)


@pytest.fixture
def gateway(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Gateway, str]]:
    crash = bool(getattr(request, "param", False))
    app = Gateway(
        create_app(tmp_path / "site.sqlite3", secrets=SECRET, tokens=["LSCOR"]),
        crash_unsigned=crash,
    )
    server = RunningServer(app)
    try:
        yield app, server.base_url
    finally:
        server.stop()


def env_for(tmp_path: Path) -> dict[str, str]:
    return clean_environment(tmp_path / "cache", WEBHOOK_SECRET=SECRET)


def judge(tmp_path: Path, command: str, base: str, *args: str) -> CompletedProcess[str]:
    """``hokusai-contract COMMAND`` for token LSCOR at the gateway's webhook URL."""
    url = base + CURRENT_PATH
    return run_cli(
        tmp_path, command, "--url", url, "--token", "LSCOR", *args, env=env_for(tmp_path)
    )


def test_check_receiver_sends_the_header_with_every_request_and_never_shows_its_value(
    tmp_path: Path, gateway: tuple[Gateway, str]
) -> None:
    app, base = gateway
    junit, report = tmp_path / "receiver.xml", tmp_path / "receiver.json"
    run = judge(
        tmp_path,
        "check-receiver",
        base,
        "--state-url",
        base + "/api/tokens/{token_id}",
        "--header",
        AUTHORIZATION,
        "--max-examples",
        "5",
        "--junit",
        str(junit),
        "--json",
        str(report),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert app.refused == 0 and app.passed > 20
    assert "with header(s) Authorization on every request (values not shown)" in run.stdout
    assert json.loads(report.read_text())["headers"] == ["Authorization"]
    ElementTree.parse(junit)
    for text in (run.stdout, run.stderr, junit.read_text(), report.read_text()):
        assert GATEWAY_TOKEN not in text and SECRET not in text


def test_without_the_header_the_gateway_refuses_every_request(
    tmp_path: Path, gateway: tuple[Gateway, str]
) -> None:
    app, base = gateway
    run = judge(
        tmp_path,
        "check-receiver",
        base,
        "--no-schemathesis",
    )
    assert run.returncode == 1
    assert app.passed == 0 and app.refused > 0


@pytest.mark.parametrize("gateway", [True], indirect=True)
def test_the_reproduction_of_a_failing_generated_request_masks_the_header_value(
    tmp_path: Path, gateway: tuple[Gateway, str]
) -> None:
    _, base = gateway
    report = tmp_path / "reports" / "receiver.json"
    run = judge(
        tmp_path,
        "check-receiver",
        base,
        "--header",
        AUTHORIZATION,
        "--max-examples",
        "5",
        "--json",
        str(report),
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "-H 'Authorization: ***'" in run.stdout
    reproductions = [
        reproduction
        for suite in json.loads(report.read_text())["suites"]
        for result in suite["results"]
        for reproduction in result["details"].get("reproductions", ())
    ]
    assert reproductions and all(r["headers"]["Authorization"] == "***" for r in reproductions)
    written = [path.read_bytes() for path in report.parent.iterdir()]
    for text in (run.stdout.encode(), run.stderr.encode(), *written):
        assert GATEWAY_TOKEN.encode() not in text


def test_send_test_sends_the_header_and_names_it_without_its_value(
    tmp_path: Path, gateway: tuple[Gateway, str]
) -> None:
    app, base = gateway
    run = judge(
        tmp_path,
        "send-test",
        base,
        "--state-url",
        base + "/api/tokens/{token_id}",
        "--header",
        AUTHORIZATION,
        "--json",
        str(tmp_path / "send-test.json"),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert app.refused == 0
    assert "  Authorization: (from --header, not shown)" in run.stdout
    report = (tmp_path / "send-test.json").read_text()
    assert json.loads(report)["headers"] == ["Authorization"]
    for text in (run.stdout, run.stderr, report):
        assert GATEWAY_TOKEN not in text


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (f"Bearer {GATEWAY_TOKEN}", "--header takes NAME:VALUE"),
        (f"Bad Name: {GATEWAY_TOKEN}", "--header takes NAME:VALUE"),
        (f"X-Hokusai-Signature: {GATEWAY_TOKEN}", "sets X-Hokusai-Signature itself"),
        (f"content-type: {GATEWAY_TOKEN}", "sets Content-Type itself"),
    ],
)
def test_a_malformed_header_is_one_line_that_never_repeats_its_value(
    tmp_path: Path, given: str, said: str
) -> None:
    for command in ("check-receiver", "send-test"):
        run = run_cli(
            tmp_path,
            command,
            "--url",
            "http://127.0.0.1:9/api/webhooks/model-registration",
            "--token",
            "LSCOR",
            "--header",
            given,
            env=env_for(tmp_path),
        )
        assert run.returncode == 2, run.stderr
        assert run.stderr.count("\n") == 1 and said in run.stderr, run.stderr
        assert GATEWAY_TOKEN not in run.stdout + run.stderr


def test_a_header_given_twice_is_refused(tmp_path: Path) -> None:
    run = run_cli(
        tmp_path,
        "send-test",
        "--url",
        "http://127.0.0.1:9/api/webhooks/model-registration",
        "--token",
        "LSCOR",
        "--header",
        "X-Staging: one",
        "--header",
        "x-staging: two",
        env=env_for(tmp_path),
    )
    assert run.returncode == 2
    assert "--header x-staging is given twice" in run.stderr


def test_contract_test_hands_its_receiver_header_to_the_receiver_it_judges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    args = build_parser().parse_args(
        [
            "contract-test",
            "--receiver-url",
            "https://staging.example.com" + CURRENT_PATH,
            "--receiver-header",
            AUTHORIZATION,
        ]
    )
    receiver = external_receiver(args)
    assert receiver is not None
    assert receiver.headers == (("Authorization", f"Bearer {GATEWAY_TOKEN}"),)
    assert GATEWAY_TOKEN not in repr(receiver)
