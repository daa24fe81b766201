"""``--json FILE`` on ``send-test`` and ``diagnose``: the verdict and the interpretation (its
words, why, and what to do) as the printed lines say them, in a file a script can parse, with
no secret in it."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from contracts import sign
from contracts.receiver.testing import RunningStubSite
from tests.cli.running import clean_environment, run_cli

SECRET = "json report secret 6b3f"
WRONG = "json report wrong secret 0c2e"


def send_test(
    tmp_path: Path, url: str, secret: str, *args: str
) -> tuple[int, str, dict[str, Any], str]:
    report = tmp_path / "out" / "send-test.json"
    run = run_cli(
        tmp_path,
        "send-test",
        "--url",
        url,
        "--token",
        "LSCOR",
        "--json",
        str(report),
        *args,
        env=clean_environment(tmp_path / "cache", WEBHOOK_SECRET=secret),
    )
    text = report.read_text(encoding="utf-8")
    return run.returncode, run.stdout, json.loads(text), text


def test_send_test_writes_the_accepted_verdict_and_the_state_read_after_it(
    tmp_path: Path, site: RunningStubSite
) -> None:
    code, out, report, text = send_test(
        tmp_path, site.webhook_url, SECRET, "--state-url", site.state_url_template
    )
    assert code == 0
    assert report["ok"] is True and report["verdict"] == "ACCEPTED"
    assert f"result: ACCEPTED: {report['why']}\n" in out
    assert report["answer"]["status"] == 200
    assert report["state"]["registered"] is True and report["state"]["status"] == "REGISTERED"
    assert report["request"]["method"] == "POST" and report["token"] == "LSCOR"
    assert f"JSON report: {tmp_path / 'out' / 'send-test.json'}" in out
    assert SECRET not in text


def test_send_test_writes_why_a_signature_was_refused_and_what_to_do(
    tmp_path: Path, site: RunningStubSite
) -> None:
    code, out, report, text = send_test(tmp_path, site.webhook_url, WRONG)
    assert code == 1
    assert report["ok"] is False and report["verdict"] == "SIGNATURE_REJECTED"
    assert report["outcome"] == "signature_rejected"
    assert f"result: SIGNATURE_REJECTED: {report['why']}\n" in out
    assert report["fix"] and all(step in out for step in report["fix"])
    assert report["answer"]["status"] == 401
    assert WRONG not in text


def test_send_test_writes_the_report_when_nothing_answers(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/webhooks/model-registration"
    code, _, report, _ = send_test(tmp_path, url, SECRET)
    assert code == 3
    assert report["verdict"] == "CONNECTION_REFUSED" and report["answer"] is None


def diagnose(tmp_path: Path, header: str) -> tuple[int, str, dict[str, Any], str]:
    body = tmp_path / "body.json"
    body.write_bytes(b'{"token_id": "LSCOR"}')
    report = tmp_path / "diagnosis.json"
    run = run_cli(
        tmp_path,
        "diagnose",
        "--body",
        str(body),
        "--header",
        header,
        "--json",
        str(report),
        env=clean_environment(tmp_path / "cache", WEBHOOK_SECRET=SECRET),
    )
    text = report.read_text(encoding="utf-8")
    return run.returncode, run.stdout, json.loads(text), text


def test_diagnose_writes_the_cause_why_and_fix_it_prints(tmp_path: Path) -> None:
    code, out, report, text = diagnose(tmp_path, sign(b'{"token_id": "LSCOR"}', WRONG))
    assert code == 1
    assert report["ok"] is False and report["verdict"] == "wrong_secret"
    assert out.startswith(f"cause: {report['verdict']}\n")
    assert report["causes"][0] == "wrong_secret"
    assert " ".join(report["why"].split()) in " ".join(out.split())
    assert report["fix"] and " ".join(report["fix"].split()) in " ".join(out.split())
    assert SECRET not in text and WRONG not in text


def test_diagnose_writes_ok_for_a_signature_that_verifies(tmp_path: Path) -> None:
    code, _, report, _ = diagnose(tmp_path, sign(b'{"token_id": "LSCOR"}', SECRET))
    assert code == 0
    assert report["ok"] is True and report["verdict"] == "verifies"
