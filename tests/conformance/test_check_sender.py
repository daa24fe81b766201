"""``hokusai-contract check-sender`` judges real senders, each run as its own process against a
judging receiver over real HTTP: a sender that keeps the contract passes and exits 0, and each
mistake real senders made fails the check that names it, with the run exiting 1.

The senders are tests/senders/webhook_sender.py with the options that reproduce each sender.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.cli import main

SENDERS = Path(__file__).resolve().parents[1] / "senders"
WEBHOOK_SENDER = SENDERS / "webhook_sender.py"
V1 = ("--style", "v1")
WITHOUT_SECRET = ("env", "-u", "HOKUSAI_SITE_WEBHOOK_SECRET", "-u", "WEBHOOK_SECRET")
WITHOUT_URL = ("env", "-u", "HOKUSAI_SITE_WEBHOOK_URL", "-u", "WEBHOOK_URL")


@dataclass(frozen=True)
class Judged:
    """One check-sender run: its exit status, its output and its JSON report."""

    exit_status: int
    output: str
    report: dict[str, Any]

    @property
    def results(self) -> dict[str, dict[str, Any]]:
        (suite,) = self.report["suites"]
        return {result["check_id"]: result for result in suite["results"]}

    def verdict(self, check_id: str) -> str:
        return str(self.results[check_id]["verdict"])

    def why(self, check_id: str) -> str:
        return str(self.results[check_id]["why"])

    @property
    def failed(self) -> set[str]:
        return {check for check, result in self.results.items() if result["verdict"] == "fail"}


def sender(*options: str, prefix: tuple[str, ...] = ()) -> list[str]:
    return [*prefix, sys.executable, str(WEBHOOK_SENDER), *options]


def check_sender(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
    *options: str,
) -> Judged:
    report = tmp_path / "check-sender.json"
    status = main(["check-sender", "--json", str(report), *options, "--", *command])
    output = capsys.readouterr().out
    return Judged(status, output, json.loads(report.read_text(encoding="utf-8")))


def test_a_v1_sender_that_keeps_the_contract_passes_every_check_it_can_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(
        tmp_path,
        capsys,
        sender(*V1, "--retries", "3"),
        "--fail-first",
        "1",
        "--retry-after",
        "1",
    )
    assert judged.exit_status == 0, judged.output
    skipped = {"sender-matches-mlflow", "sender-api-schema"}
    assert {c for c, r in judged.results.items() if r["verdict"] == "skip"} == skipped
    assert judged.failed == set()
    assert "LSCOR v4: 2 attempts (503/200)" in judged.why("sender-retry")
    assert "(Retry-After 1), the same signed bytes resent" in judged.why("sender-retry")
    assert judged.report["command_exit_status"] == 0
    assert judged.output.startswith(
        f"Judging the sender {sys.executable} {WEBHOOK_SENDER} --style v1"
    )
    assert judged.report["command"].endswith("webhook_sender.py --style v1 --retries 3")
    assert "delivery 1: POST /api/webhooks/model-registration" in judged.output
    assert "-> 503 (injected)" in judged.output and "-> 200" in judged.output
    assert "  | version 4: attempt 2 answered 200" in judged.output


def test_a_sender_without_its_secret_is_judged_unsigned_and_refused_with_401(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, prefix=WITHOUT_SECRET))
    assert judged.exit_status == 1
    assert "unsigned: no X-Hokusai-Signature header" in judged.why("sender-signature")
    assert "attempts answered [401]" in judged.why("sender-delivered")
    assert "token LSCOR is DRAFT" in judged.why("sender-token-registered")
    assert "  | warning: no webhook secret set; sending unsigned" in judged.output
    assert judged.failed == {
        "sender-command",
        "sender-delivered",
        "sender-signature",
        "sender-token-registered",
    }


def test_a_delivery_to_a_wrong_path_is_judged_naming_the_path_used_and_the_contracts_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--path", "/webhook"))
    assert judged.exit_status == 1
    why = judged.why("sender-path")
    assert "LSCOR v4 (attempt 1): POST /webhook" in why
    assert "/api/webhooks/model-registration (the current default)" in why
    assert "/api/mlflow/registered (the seed path)" in why
    assert "attempts answered [404]" in judged.why("sender-delivered")
    assert judged.verdict("sender-signature") == "pass"  # judged, not dropped


def test_a_signature_over_re_serialized_bytes_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--sign", "reserialized"))
    assert judged.exit_status == 1
    assert "body_reserialized" in judged.why("sender-signature")
    assert "serialize once, sign those bytes" in judged.results["sender-signature"]["fix"]


def test_a_token_left_draft_by_refused_deliveries_is_blamed_on_the_refusal_not_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--sign", "reserialized"))
    why = judged.why("sender-token-registered")
    assert "because the receiver refused every delivery for it (401)" in why
    fix = str(judged.results["sender-token-registered"]["fix"])
    assert "--token" not in fix
    assert "the token in them is right" in fix


def test_an_aware_timestamp_with_z_added_fails_the_schema_and_the_timestamp_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--timestamp", "aware"))
    assert {"sender-schema-valid", "sender-timestamp"} <= judged.failed
    assert "+00:00Z' has an offset and a Z" in judged.why("sender-timestamp")


def test_local_time_written_as_utc_fails_the_timestamp_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--timestamp", "local-as-utc"))
    assert judged.failed == {"sender-timestamp"}
    assert "+2.0 h from when it arrived" in judged.why("sender-timestamp")


def test_a_v1_token_id_sent_lower_cased_fails_the_token_case_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--token-case", "lower"))
    assert judged.failed == {"sender-token-case"}
    assert "v1 token_id 'lscor' not upper-cased" in judged.why("sender-token-case")


def test_a_sender_that_gives_up_after_the_injected_503_fails_the_retry_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--retries", "0"), "--fail-first", "1")
    assert "LSCOR v4: gave up after 1 503 answer(s) ([503])" in judged.why("sender-retry")
    assert {"sender-retry", "sender-delivered", "sender-token-registered"} <= judged.failed


def test_a_sender_that_retries_before_retry_after_has_passed_fails_the_retry_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = sender(*V1, "--retries", "2", "--ignore-retry-after", "--retry-wait", "0.05")
    judged = check_sender(tmp_path, capsys, command, "--fail-first", "1", "--retry-after", "5")
    assert judged.failed == {"sender-retry"}
    assert "after a 503 with Retry-After: 5" in judged.why("sender-retry")


def test_a_new_idempotency_key_on_each_retry_fails_the_key_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = sender(*V1, "--retries", "2", "--key", "fresh")
    judged = check_sender(tmp_path, capsys, command, "--fail-first", "1")
    assert judged.failed == {"sender-idempotency-key"}
    assert "LSCOR v4: the key changed between attempts" in judged.why("sender-idempotency-key")


def test_a_token_the_judge_does_not_hold_is_named_and_the_seeded_one_left_draft(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--token", "OTHER"), "--token", "lscor")
    why = judged.why("sender-token-registered")
    assert "token OTHER is not on the receiver (it has LSCOR)" in why
    assert "token LSCOR is DRAFT: no delivery named it" in why


def test_every_token_given_is_seeded_and_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(
        tmp_path, capsys, sender(*V1, "--token", "other"), "--token", "OTHER", "--token", "lscor"
    )
    assert judged.why("sender-token-registered") == "token LSCOR is DRAFT: no delivery named it"
    assert judged.report["tokens"] == ["OTHER", "LSCOR"]


def test_the_commands_own_failing_exit_status_is_reported_and_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--exit", "3"))
    assert judged.exit_status == 1
    assert judged.failed == {"sender-command"}
    assert "exited with status 3" in judged.why("sender-command")
    assert judged.report["command_exit_status"] == 3


def test_a_command_that_delivers_nothing_fails_with_no_delivery_and_skips_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, [sys.executable, "-c", "pass"])
    assert judged.exit_status == 1
    assert judged.why("sender-delivered") == "no delivery arrived before COMMAND exited (status 0)"
    later = [c for c in judged.results if c not in ("sender-command", "sender-delivered")]
    assert {judged.verdict(check) for check in later} == {"skip"}
    assert judged.report["deliveries"] == 0


@pytest.mark.parametrize(
    "unset",
    [
        ("HOKUSAI_SITE_WEBHOOK_URL", "HOKUSAI_SITE_WEBHOOK_SECRET"),
        ("WEBHOOK_URL", "WEBHOOK_SECRET"),
    ],
    ids=["reads WEBHOOK_URL and WEBHOOK_SECRET", "reads the HOKUSAI_SITE_ names"],
)
def test_a_sender_reading_either_name_of_the_url_and_secret_is_given_both(
    unset: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = ("env", "-u", unset[0], "-u", unset[1])
    judged = check_sender(tmp_path, capsys, sender(prefix=prefix))
    assert judged.exit_status == 0, judged.output


def test_the_url_placeholder_in_an_argument_becomes_the_judges_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(*V1, "--url", "{url}", prefix=WITHOUT_URL))
    assert judged.exit_status == 0, judged.output
    assert judged.report["deliveries"] == 1


def process_gone(pid: int) -> bool:
    """No such process, or only its zombie (killed; its reaper has not collected it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_a_hanging_command_is_killed_with_its_whole_process_group_at_the_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    child_pid = tmp_path / "child.pid"
    command = sender(*V1, "--hang", "3600", "--hang-child", str(child_pid))
    judged = check_sender(tmp_path, capsys, command, "--timeout", "8")
    assert judged.exit_status == 1
    assert "still running after --timeout 8 s; its process group was killed" in judged.why(
        "sender-command"
    )
    assert judged.report["command_exit_status"] is None
    assert process_gone(int(child_pid.read_text(encoding="utf-8")))


def test_a_child_that_left_the_group_and_holds_the_output_open_does_not_hold_the_judge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    child_pid = tmp_path / "escaped.pid"
    try:
        judged = check_sender(
            tmp_path, capsys, sender(*V1, "--escaped-child", str(child_pid)), "--timeout", "60"
        )
    finally:
        if child_pid.exists():
            os.kill(int(child_pid.read_text(encoding="utf-8")), signal.SIGKILL)
    assert judged.exit_status == 0, judged.output
    assert "exited with status 0" in judged.why("sender-command")


def test_a_command_that_does_not_exist_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["check-sender", "--", "no-such-sender-command", "--register"])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.err.splitlines() == [
        "hokusai-contract check-sender: error: COMMAND 'no-such-sender-command' was not found "
        "on PATH; check its spelling or give its full path"
    ]
    assert captured.out == ""


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        ([], "no COMMAND given"),
        (["--listen", "--", "true"], "--listen judges a sender started elsewhere"),
        (["--retry-after", "2", "--", "true"], "--retry-after only applies with --fail-first"),
        (["--token", "not_a_token", "--", "true"], '--token: token id "not_a_token"'),
        (["--", "./no/such/sender"], "COMMAND './no/such/sender' does not exist"),
    ],
)
def test_a_usage_mistake_exits_2_with_one_line_before_anything_runs(
    arguments: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["check-sender", *arguments])
    (line,) = capsys.readouterr().err.splitlines()
    assert status == 2
    assert line.startswith("hokusai-contract check-sender: error: ") and words in line


def test_the_junit_report_has_one_testcase_per_check_with_the_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "reports" / "sender.xml"
    judged = check_sender(tmp_path, capsys, sender(*V1, "--exit", "3"), "--junit", str(junit))
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    assert len(suite.findall("testcase")) == len(judged.results)
    assert "How to fix:\n- sender-command: its own output" in judged.output


def test_the_secret_never_reaches_the_output_even_when_the_sender_prints_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "noisy.sh"
    script.write_text(
        f'#!/bin/sh\necho "debug: secret is $WEBHOOK_SECRET"\nexec {sys.executable} '
        f"{WEBHOOK_SENDER} --style v1\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    judged = check_sender(tmp_path, capsys, [str(script)])
    assert judged.exit_status == 0, judged.output
    assert "  | debug: secret is ***" in judged.output


def test_the_secret_never_reaches_the_output_or_reports_even_when_sent_in_a_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept, junit = tmp_path / "secret.txt", tmp_path / "check-sender.xml"
    script = tmp_path / "leaky.sh"
    script.write_text(
        f'#!/bin/sh\nprintf %s "$WEBHOOK_SECRET" > {kept}\nexec {sys.executable} '
        f'{WEBHOOK_SENDER} --path "/hook/$WEBHOOK_SECRET"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    judged = check_sender(tmp_path, capsys, [str(script)], "--junit", str(junit))
    secret = kept.read_text(encoding="utf-8")
    assert "LSCOR v4 (attempt 1): POST /hook/***" in judged.why("sender-path")
    assert "delivery 1: POST /hook/***: v2 body" in judged.output
    for shown in (judged.output, json.dumps(judged.report), junit.read_text(encoding="utf-8")):
        assert secret not in shown


# --- v2 (nested) senders, as the SDK sends today ----------------------------------------------


def test_a_cli_style_v2_sender_conforms_without_event_header_or_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender())
    assert judged.exit_status == 0, judged.output
    assert judged.why("sender-schema-valid") == "1 body valid, shape v2 (nested)"
    assert judged.why("sender-token-case") == "v2 model.id lower-cased"
    assert "whole seconds, Z" in judged.why("sender-timestamp")
    assert judged.why("sender-event-header") == "X-Hokusai-Event: not sent (v2 needs none)"
    assert "without a key (v2 needs none)" in judged.why("sender-idempotency-key")
    assert "model-registration: v2 body, LSCOR v4, signed -> 200" in judged.output


def test_a_publisher_style_v2_sender_honours_retry_after_and_resends_the_same_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(
        tmp_path,
        capsys,
        sender("--style", "publisher"),
        "--fail-first",
        "2",
        "--retry-after",
        "1",
    )
    assert judged.exit_status == 0, judged.output
    retry = judged.why("sender-retry")
    assert "LSCOR v4: 3 attempts (503/503/200)" in retry
    assert "(Retry-After 1), the same signed bytes resent" in retry
    assert "6-digit fractions, Z" in judged.why("sender-timestamp")
    assert "1 registration with a stable UUID key of its own" in judged.why(
        "sender-idempotency-key"
    )


def test_a_v2_retry_stamped_anew_is_judged_a_second_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    command = sender("--style", "publisher", "--re-stamp")
    judged = check_sender(tmp_path, capsys, command, "--fail-first", "1")
    assert judged.failed == {"sender-retry"}
    assert "a retry was stamped anew" in judged.why("sender-retry")


def test_a_v2_aware_timestamp_with_z_added_is_refused_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender("--timestamp", "aware"))
    assert judged.exit_status == 1
    assert "v2 (nested) body: invalid model_registered payload: $.timestamp" in judged.why(
        "sender-schema-valid"
    )
    assert "+00:00Z' has an offset and a Z" in judged.why("sender-timestamp")
    assert "attempts answered [400]" in judged.why("sender-delivered")


def test_a_v2_model_id_sent_upper_cased_fails_the_token_case_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender("--token-case", "upper"))
    assert judged.failed == {"sender-token-case"}
    assert "v2 model.id 'LSCOR' not lower-cased" in judged.why("sender-token-case")


def test_an_unsigned_v2_sender_gets_401_and_is_judged_unsigned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender(prefix=WITHOUT_SECRET))
    assert "unsigned: no X-Hokusai-Signature header" in judged.why("sender-signature")
    assert "attempts answered [401]" in judged.why("sender-delivered")


def test_a_v2_signature_over_re_serialized_bytes_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender("--sign", "reserialized"))
    assert "body_reserialized" in judged.why("sender-signature")
    assert "attempts answered [401]" in judged.why("sender-delivered")


def test_a_v2_delivery_to_the_seed_path_conforms_and_to_another_path_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = check_sender(tmp_path, capsys, sender("--path", "/api/mlflow/registered"))
    assert seed.exit_status == 0, seed.output
    wrong = check_sender(tmp_path, capsys, sender("--path", "/api/webhooks/model_registration"))
    assert "POST /api/webhooks/model_registration" in wrong.why("sender-path")
    assert "attempts answered [404]" in wrong.why("sender-delivered")


def test_two_v2_versions_stamped_in_the_same_second_are_judged_to_collide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judged = check_sender(tmp_path, capsys, sender("--versions", "4,5", "--timestamp", "once"))
    assert judged.failed == {"sender-timestamp"}
    assert "LSCOR v5 and LSCOR v4 carry the same timestamp" in judged.why("sender-timestamp")
    assert judged.why("sender-delivered") == "2 registrations, each delivered and answered 2xx"
