"""No secret ever shows up: not in logs, output, error messages, reports or any stored file.

One flow touches every part with two distinctive secrets (the right one and a wrong one) and a
third in the webhook URL's query (``?token=...``, as some receivers want): the stub site as a
real process, the reference sender registering in the real MLflow server (one notification
accepted, two refused for the wrong secret, one of them in "required" mode, one to a receiver
that is down), ``resend``, ``send-test``, ``check-receiver`` with its JUnit and JSON reports,
``verify`` and ``diagnose`` with a pasted newline. Then every captured text and every file
written is searched for each secret as text, as UTF-8 bytes, JSON-escaped, and for its ASCII
tail alone.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import contracts
from contracts.sender import DeliveryPolicy, ModelRegistry, NotificationError
from tests.reliability.processes import StubSiteProcess, run_command

SECRET_ENV = "LEAK_CANARY_SECRET"
# The first is not ASCII, so its text and UTF-8 bytes differ; each ends in an ASCII tail found
# nowhere else, which would still give away a secret that was escaped or cut.
CANARY = "Ωmega-canary-zqxjvw-secret"
WRONG_CANARY = "wrong-canary-kwpyfh-secret"
URL_CANARY = "url-canary-vbtqzo-token"
"""In the webhook URL's query: the receiver's own access token, as secret as the others."""
TOKENS = ("LEAK-OK", "LEAK-LATE", "LEAK-REQUIRED", "LSCOR", "SEND-TEST")
MODEL = "Leak check model"
FAST_POLICY = DeliveryPolicy(
    connect_timeout=1.0, read_timeout=2.0, max_attempts=2, base_delay=0.01, deadline=5.0
)


def needles(secret: str) -> list[bytes]:
    """Every form in which a secret could leak into text or bytes."""
    tail = secret.split("-", 1)[1]
    return [
        secret.encode("utf-8"),
        json.dumps(secret).strip('"').encode("ascii"),
        tail.encode("ascii"),
    ]


def files_under(folder: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield str(path), path.read_bytes()


def register_four_ways(
    tracking_uri: str, webhook_url: str, outbox: Path, model_uri: str
) -> dict[str, str]:
    """One notification accepted, one refused (it waits in the outbox), one refused in
    "required" mode (it raises), one to a receiver that is down; returns every text the sender
    handed back."""

    def registry(secret: str, url: str = webhook_url, **options: Any) -> ModelRegistry:
        return ModelRegistry(
            tracking_uri, url, secret, delivery=FAST_POLICY, outbox_path=outbox, **options
        )

    with socket.socket() as nobody_listens:
        nobody_listens.bind(("127.0.0.1", 0))
        port = nobody_listens.getsockname()[1]
        down_url = f"http://127.0.0.1:{port}/api/mlflow/registered?access_token={URL_CANARY}"
        right, wrong, down = registry(CANARY), registry(WRONG_CANARY), registry(CANARY, down_url)
        required = registry(WRONG_CANARY, notify="required")
        try:
            accepted = right.register_tokenized_model(model_uri, MODEL, "LEAK-OK", "accuracy", 0.9)
            refused = wrong.register_tokenized_model(model_uri, MODEL, "LEAK-LATE", "accuracy", 0.9)
            unreached = down.register_tokenized_model(model_uri, MODEL, "LEAK-DOWN", "accuracy", 1)
            with pytest.raises(NotificationError) as raised:
                required.register_tokenized_model(model_uri, MODEL, "LEAK-REQUIRED", "accuracy", 1)
        finally:
            for each in (right, wrong, down, required):
                each.close()
    assert accepted.notification.delivered and not refused.notification.delivered
    assert "could not reach" in unreached.notification.message
    return {
        "sender reprs": " ".join(repr(each) for each in (right, wrong, down, required)),
        "registrations": f"{accepted!r} {refused!r} {unreached!r} {raised.value.registration!r}",
        "NotificationError": str(raised.value),
    }


def run_every_command(
    stub: StubSiteProcess, webhook_url: str, outbox: Path, workdir: Path
) -> dict[str, subprocess.CompletedProcess[str]]:
    """``resend``, ``send-test``, ``check-receiver`` (with reports and a GitHub step summary),
    ``verify`` with a wrong signature and ``diagnose`` with a secret pasted with a newline."""
    body = workdir / "body.json"
    body.write_bytes(
        contracts.serialize(
            contracts.build_payload(
                token_id="LSCOR", model_name="m", model_version=1, metric_name="a", baseline_value=1
            )
        )
    )
    wrong_header = contracts.sign(body.read_bytes(), WRONG_CANARY)
    state_url = stub.base_url + "/api/tokens/{token_id}"
    reports = workdir / "reports"
    commands = {
        "resend": [
            "resend", "--outbox", str(outbox), "--secret-env", SECRET_ENV, "--url", webhook_url,
            "--token", "LEAK-LATE",
        ],
        "send-test": [
            "send-test", "--url", webhook_url, "--token", "SEND-TEST",
            "--secret-env", SECRET_ENV, "--state-url", state_url, "--show-request",
        ],
        "check-receiver": [
            "check-receiver", "--url", webhook_url, "--token", "LSCOR",
            "--secret-env", SECRET_ENV, "--state-url", state_url, "--max-examples", "10",
            "--junit", str(reports / "check.xml"), "--json", str(reports / "check.json"),
        ],
        "verify": ["verify", str(body), "--header", wrong_header, "--secret-env", SECRET_ENV],
    }  # fmt: skip
    environment = {SECRET_ENV: CANARY, "GITHUB_STEP_SUMMARY": str(reports / "step-summary.md")}
    results = {name: run_command(arguments, environment) for name, arguments in commands.items()}
    results["diagnose"] = run_command(
        ["diagnose", "--body", str(body), "--header", wrong_header, "--secret-env", SECRET_ENV],
        {SECRET_ENV: CANARY + "\n"},
    )
    exit_codes = {name: result.returncode for name, result in results.items()}
    expected = {"resend": 0, "send-test": 0, "check-receiver": 0, "verify": 1, "diagnose": 1}
    assert exit_codes == expected, {name: result.stdout[-2000:] for name, result in results.items()}
    assert (reports / "check.json").is_file() and (reports / "check.xml").is_file()
    assert "check-receiver" in (reports / "step-summary.md").read_text(encoding="utf-8")
    return results


@pytest.mark.mlflow
def test_no_secret_appears_in_logs_output_errors_reports_or_stored_files(
    hokusai_mlflow_server: Any,
    hokusai_tiny_model_uri: str,
    tmp_path: Path,
    isolated_sender_environment: Path,
    caplog: pytest.LogCaptureFixture,
    proven: Callable[..., None],
) -> None:
    caplog.set_level(logging.DEBUG)
    outbox = isolated_sender_environment
    stub = StubSiteProcess(
        tmp_path / "stub.sqlite3", port=0, secret_env=SECRET_ENV, secret=CANARY, tokens=TOKENS
    )
    webhook_url = f"{stub.webhook_url}?token={URL_CANARY}"
    try:
        texts = register_four_ways(
            hokusai_mlflow_server.tracking_uri, webhook_url, outbox, hokusai_tiny_model_uri
        )
        for name, result in run_every_command(stub, webhook_url, outbox, tmp_path).items():
            texts[f"{name} output"] = result.stdout + result.stderr
    finally:
        stub.stop()
    texts["stub site output"] = stub.output
    texts["captured logs"] = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    # The flow really happened, so there was something to leak into.
    assert "not delivered" in texts["captured logs"]
    assert "delivery POST" in texts["stub site output"]

    sources = [(name, text.encode("utf-8")) for name, text in texts.items()]
    sources += list(files_under(tmp_path))
    mlflow_workdir = getattr(hokusai_mlflow_server, "workdir", None)
    if mlflow_workdir is not None:
        sources += list(files_under(Path(mlflow_workdir)))
    stored = [name for name, _ in sources]
    assert any(name.endswith("stub.sqlite3") for name in stored)
    assert any(name.endswith(outbox.name) for name in stored)
    secrets = (CANARY, WRONG_CANARY, URL_CANARY)
    searched = [needle for secret in secrets for needle in needles(secret)]
    leaks = [name for name, data in sources if any(needle in data for needle in searched)]
    assert leaks == []
    proven(places_searched=len(sources), leaks=len(leaks))
