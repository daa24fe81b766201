"""``hokusai-contract resend``: usage errors are clear and nothing is sent by mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

import contracts
from contracts.cli import main
from contracts.envelope import idempotency_key
from contracts.receiver.testing import RunningStubSite
from contracts.sender import Outbox
from contracts.sender.outbox import notification_key
from tests.sender.claims import claim_in_a_process_that_then_ends


@pytest.fixture(autouse=True)
def webhook_secret_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cr3t")


def test_an_empty_outbox_has_nothing_to_resend(
    hokusai_outbox_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["resend", "--outbox", str(hokusai_outbox_path)]) == 0
    assert f"there is no outbox at {hokusai_outbox_path}" in capsys.readouterr().out


def test_resend_without_the_secret_variable_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET")

    assert main(["resend"]) == 2
    error = capsys.readouterr().err
    assert "no webhook secret: set HOKUSAI_SITE_WEBHOOK_SECRET or WEBHOOK_SECRET" in error


def test_the_secret_may_come_from_a_dotenv_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET")
    (tmp_path / ".env").write_text("HOOK_KEY=from-dotenv\n")

    assert main(["resend", "--secret-env", "HOOK_KEY"]) == 0
    assert "nothing to resend" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--from-mlflow"], "--from-mlflow needs --token"),
        (["--model-name", "m"], "--model-name only applies with --from-mlflow"),
        (["--shape", "v1"], "--shape only applies with --from-mlflow; the outbox resends"),
        (["--token", "LS_COR"], '--token: token id "LS_COR" has "_"'),
        (["--url", "ftp://example.com/"], "--url 'ftp://example.com/' is not an http(s) URL"),
        (["--force", "--from-mlflow", "--token", "LSCOR"], "--force only applies to the outbox"),
    ],
)
def test_misused_options_are_usage_errors_that_say_what_to_do(
    arguments: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["resend", *arguments]) == 2
    assert complaint in capsys.readouterr().err


def test_from_mlflow_without_a_tracking_server_says_how_to_name_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    assert main(["resend", "--from-mlflow", "--token", "LSCOR"]) == 2
    assert "MLFLOW_TRACKING_URI" in capsys.readouterr().err


def test_an_outbox_that_cannot_be_created_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    outbox = not_a_folder / "outbox.sqlite3"

    exit_code = main(
        [
            "resend",
            "--outbox",
            str(outbox),
            "--from-mlflow",
            "--token",
            "LSCOR",
            "--tracking-uri",
            "http://127.0.0.1:9",
        ]
    )

    assert exit_code == 2
    error = capsys.readouterr().err
    assert f"cannot use the notification outbox at {outbox}" in error
    assert "HOKUSAI_OUTBOX" in error


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["--attempts", "abc"], "argument --attempts: 'abc' is not a whole number"),
        (["--attempts", "0"], "argument --attempts: '0' must be at least 1"),
        (["--deadline", "soon"], "argument --deadline: 'soon' is not a number of seconds"),
        (["--shape", "v3"], "argument --shape: invalid choice: 'v3' (choose from 'v1', 'v2')"),
    ],
)
def test_a_bad_option_value_is_refused_by_name(
    arguments: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["resend", *arguments])

    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_a_notification_claimed_by_a_sender_that_ended_is_reported_with_exit_code_3(
    hokusai_outbox_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = contracts.build_payload(
        token_id="LSCOR",
        model_name="Sales lead scoring model",
        model_version=4,
        metric_name="accuracy",
        baseline_value=0.933,
    )
    key = idempotency_key("LSCOR", "Sales lead scoring model", "4")
    Outbox(hokusai_outbox_path).add(payload, key, "http://127.0.0.1:9/api/mlflow/registered")
    claim_in_a_process_that_then_ends(hokusai_outbox_path, payload, key)

    exit_code = main(["resend", "--outbox", str(hokusai_outbox_path)])

    out = capsys.readouterr().out
    assert exit_code == 3
    assert "LSCOR  'Sales lead scoring model' version 4: NOT delivered (in_progress)" in out
    assert "no longer runs" in out and "resend --force" in out and "more s)" in out
    assert "1 notification(s): 0 delivered, 0 not delivered, 1 held by another sender" in out
    assert "was delivered" not in out


@pytest.mark.parametrize("place", ["environment", ".env"])
def test_resend_signs_with_the_hokusai_site_secret_before_webhook_secret(
    hokusai_outbox_path: Path,
    hokusai_stub_site: RunningStubSite,
    hokusai_webhook_secret: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    place: str,
) -> None:
    if place == ".env":
        (tmp_path / ".env").write_text(f"HOKUSAI_SITE_WEBHOOK_SECRET={hokusai_webhook_secret}\n")
    else:
        monkeypatch.setenv("HOKUSAI_SITE_WEBHOOK_SECRET", hokusai_webhook_secret)
    payload = contracts.build_model_payload(
        token_id="LSCOR", model_name="Sales lead scoring model", model_version=4
    )
    Outbox(hokusai_outbox_path).add(
        payload, notification_key(payload), hokusai_stub_site.webhook_url
    )

    exit_code = main(["resend", "--outbox", str(hokusai_outbox_path)])  # WEBHOOK_SECRET is s3cr3t

    assert exit_code == 0
    assert hokusai_stub_site.token("LSCOR")["status"] == "REGISTERED"
