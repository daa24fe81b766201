"""``hokusai-contract mlflow-webhook create|list|test`` against the real MLflow server and a
recording receiver: what it prints, what MLflow then sends, and one line with its own exit code
for each mistake. Each action runs once as a real child process (its exit as a shell sees it);
the rest run in this process, where MLflow is imported once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from contracts.bridge.verify import MLFLOW_SIGNATURE_HEADER
from contracts.cli.mlflow_webhook import (
    EXIT_FAILED,
    EXIT_NOT_MLFLOW,
    EXIT_UNKNOWN_WEBHOOK,
    EXIT_UNREACHABLE,
)
from contracts.conformance import Recorder, ScriptedAnswer
from contracts.receiver import running_stub_site
from contracts.sender import BRIDGE_EVENTS, create_bridge_webhook, list_webhooks
from contracts.sender.mlflow_server import LOOPBACK_ONLY_SETTINGS, loopback_webhook_settings
from contracts.sender.mlflow_webhooks import (
    ENCRYPTION_KEY_SETTING,
    PRIVATE_IPS_SETTING,
    SCHEMES_SETTING,
    TEST_EVENT_MODEL,
)
from tests.docs.commands import options_of, subcommand
from tests.reliability.processes import run_command
from tests.sender.conftest import CliRun, Ran
from tests.sender.webhooks import about, expected_signature, first_event, unique_name

SECRET = "mlflow-webhook-command-secret"
SECRET_ENV = "HOKUSAI_BRIDGE_TEST_SECRET"
"""Not the default variable, so the tests pass whatever the machine sets."""


@pytest.fixture
def cleanup(webhook_client: Any) -> Iterator[list[str]]:
    """Ids of webhooks to delete when the test ends, so that none outlives it."""
    ids: list[str] = []
    yield ids
    for webhook_id in ids:
        webhook_client.delete_webhook(webhook_id)


def webhook_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The command as its own process."""
    return run_command(["mlflow-webhook", *arguments], {SECRET_ENV: SECRET})


@pytest.fixture
def webhook(cli_in_process: CliRun) -> CliRun:
    """The command in this process, the secret in ``SECRET_ENV``."""

    def run(*arguments: str, env: dict[str, str] | None = None) -> Ran:
        return cli_in_process("mlflow-webhook", *arguments, env={SECRET_ENV: SECRET, **(env or {})})

    return run


def create(webhook_uri: str, url: str, cleanup: list[str]) -> str:
    """A bridge webhook made in-process (the ``create`` command has its own test)."""
    webhook_id = create_bridge_webhook(webhook_uri, url, SECRET).webhook_id
    cleanup.append(webhook_id)
    return webhook_id


def assert_one_line_error(done: subprocess.CompletedProcess[str] | Ran, code: int) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("hokusai-contract mlflow-webhook: error: ")
    assert "Traceback" not in done.stderr
    return line


# --- create ----------------------------------------------------------------------------------


@pytest.mark.mlflow
def test_create_prints_the_id_of_a_webhook_sending_the_bridge_events_signed_with_the_secret(
    webhook_uri: str, webhook_client: Any, mlflow_events: Recorder, cleanup: list[str]
) -> None:
    done = webhook_command(
        "create",
        "--tracking-uri",
        webhook_uri,
        "--url",
        mlflow_events.url,
        "--secret-env",
        SECRET_ENV,
        "--name",
        "bridge-under-test",
    )
    assert done.returncode == 0, done.stderr
    webhook_id = done.stdout.strip()
    cleanup.append(webhook_id)
    assert done.stdout == webhook_id + "\n"
    assert SECRET not in done.stdout + done.stderr
    webhook = webhook_client.get_webhook(webhook_id)
    assert (webhook.name, webhook.url) == ("bridge-under-test", mlflow_events.url)
    assert sorted(str(event) for event in webhook.events) == sorted(BRIDGE_EVENTS)

    request = first_event(webhook_client, mlflow_events, unique_name())
    assert request.header(MLFLOW_SIGNATURE_HEADER) == expected_signature(request, SECRET)


@pytest.mark.mlflow
def test_create_run_again_for_the_same_url_names_the_webhook_there_and_makes_no_second(
    webhook_uri: str, mlflow_events: Recorder, cleanup: list[str], webhook: CliRun
) -> None:
    arguments = ("create", "--tracking-uri", webhook_uri, "--url", mlflow_events.url)
    first = webhook(*arguments, "--secret-env", SECRET_ENV)
    assert first.returncode == 0, first.stderr
    cleanup.append(first.stdout.strip())

    again = webhook(*arguments, "--secret-env", SECRET_ENV)
    cleanup.extend(set(again.stdout.split()) - set(cleanup))

    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout
    assert "already sends the bridge's events" in again.stderr
    assert SECRET not in again.stdout + again.stderr
    same_url = [hook for hook in list_webhooks(webhook_uri) if hook.url == mlflow_events.url]
    assert [hook.webhook_id for hook in same_url] == [first.stdout.strip()]


def test_create_refuses_a_secret_env_that_is_not_set_in_one_line(webhook: CliRun) -> None:
    done = webhook(
        "create",
        "--tracking-uri",
        "http://127.0.0.1:9",
        "--url",
        "https://bridge.example.com/",
        "--secret-env",
        "NOT_SET_ANYWHERE",
    )
    line = assert_one_line_error(done, 2)
    assert "NOT_SET_ANYWHERE is not set" in line


def test_create_reads_the_secret_from_the_variable_the_bridge_reads_by_default(
    webhook: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    bridge_default = options_of(subcommand("bridge"))["--mlflow-secret-env"].default
    monkeypatch.delenv(bridge_default, raising=False)

    done = webhook(
        "create", "--tracking-uri", "http://127.0.0.1:9", "--url", "https://bridge.example.com/"
    )

    assert f"environment variable {bridge_default} is not set" in assert_one_line_error(done, 2)


def test_create_refuses_a_bridge_url_that_is_not_http_in_one_line(webhook: CliRun) -> None:
    done = webhook(
        "create",
        "--tracking-uri",
        "http://127.0.0.1:9",
        "--url",
        "bridge",
        "--secret-env",
        SECRET_ENV,
    )
    assert "--url" in assert_one_line_error(done, 2)


# --- list ------------------------------------------------------------------------------------


@pytest.mark.mlflow
def test_list_shows_each_webhook_with_its_events_and_status_and_no_credentials(
    webhook_uri: str, mlflow_events: Recorder, cleanup: list[str], webhook: CliRun
) -> None:
    with_credentials = mlflow_events.url.replace("http://", "http://bridge-user:pa55word@") + (
        "?token=t0ken-value"
    )
    webhook_id = create(webhook_uri, with_credentials, cleanup)

    done = webhook("list", "--tracking-uri", webhook_uri)

    assert done.returncode == 0, done.stderr
    (line,) = [line for line in done.stdout.splitlines() if line.startswith(webhook_id)]
    assert "'hokusai-bridge'" in line and "ACTIVE" in line and "(bridge)" in line
    assert ",".join(BRIDGE_EVENTS) in line or ",".join(reversed(BRIDGE_EVENTS)) in line
    assert "pa55word" not in done.stdout and "t0ken-value" not in done.stdout
    assert "***@127.0.0.1" in line and "token=***" in line


# --- test ------------------------------------------------------------------------------------


@pytest.mark.mlflow
def test_test_says_the_bridge_took_mlflows_test_event(
    webhook_uri: str, mlflow_events: Recorder, cleanup: list[str], webhook: CliRun
) -> None:
    webhook_id = create(webhook_uri, mlflow_events.url, cleanup)

    done = webhook("test", webhook_id, "--tracking-uri", webhook_uri)

    assert done.returncode == 0, done.stderr
    assert "answered 200" in done.stdout and TEST_EVENT_MODEL in done.stdout
    (request,) = about(mlflow_events, TEST_EVENT_MODEL)
    assert request.header(MLFLOW_SIGNATURE_HEADER)


@pytest.mark.mlflow
def test_test_without_an_id_tests_the_one_webhook_sending_the_bridge_events(
    webhook_uri: str, mlflow_events: Recorder, cleanup: list[str], webhook: CliRun
) -> None:
    webhook_id = create(webhook_uri, mlflow_events.url, cleanup)
    assert [w.webhook_id for w in list_webhooks(webhook_uri) if w.serves_bridge] == [webhook_id]

    done = webhook("test", "--tracking-uri", webhook_uri)

    assert done.returncode == 0, done.stderr
    assert webhook_id in done.stdout
    assert about(mlflow_events, TEST_EVENT_MODEL)


@pytest.mark.mlflow
def test_test_explains_a_401_as_a_secret_that_differs(
    webhook_uri: str, mlflow_events: Recorder, cleanup: list[str]
) -> None:
    webhook_id = create(webhook_uri, mlflow_events.url, cleanup)
    mlflow_events.script(ScriptedAnswer(401, body={"success": False, "error": "bad signature"}))

    done = webhook_command("test", webhook_id, "--tracking-uri", webhook_uri)

    assert done.returncode == 1, done.stdout + done.stderr
    assert "answered 401" in done.stdout and "bad signature" in done.stdout
    assert "--mlflow-secret-env" in done.stdout


@pytest.mark.mlflow
def test_test_says_in_words_that_nothing_answered_when_mlflow_could_not_reach_the_bridge(
    webhook_uri: str, dead_url: str, cleanup: list[str], webhook: CliRun
) -> None:
    webhook_id = create(
        webhook_uri, dead_url.replace("//", "//user:pa55word@") + "?token=t0ken", cleanup
    )

    done = webhook("test", webhook_id, "--tracking-uri", webhook_uri)

    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stdout.splitlines()
    assert "could not deliver" in line and "(connection refused)" in line
    assert "nothing answered at http://" in line and urlsplit(dead_url).netloc in line
    assert "is the bridge running there?" in line and "MaxRetryError" not in line
    assert "pa55word" not in line and "t0ken" not in line


@pytest.mark.mlflow
def test_test_of_an_unknown_webhook_id_is_one_line_with_its_own_exit_code(
    webhook_uri: str, webhook: CliRun
) -> None:
    done = webhook("test", "no-such-webhook", "--tracking-uri", webhook_uri)

    assert "no such webhook" in assert_one_line_error(done, EXIT_UNKNOWN_WEBHOOK)


# --- the tracking server ---------------------------------------------------------------------


def test_a_tracking_server_that_is_down_is_one_line_with_its_own_exit_code(
    dead_address: str,
) -> None:
    done = webhook_command("list", "--tracking-uri", dead_address)

    assert "connection refused" in assert_one_line_error(done, EXIT_UNREACHABLE)


def test_a_tracking_uri_where_mlflow_does_not_answer_is_one_line_with_its_own_exit_code(
    webhook: CliRun,
) -> None:
    with Recorder(default=ScriptedAnswer(404, body="<html>not here</html>")) as elsewhere:
        done = webhook("list", "--tracking-uri", elsewhere.url.removesuffix(elsewhere.path))

    assert "not as an MLflow tracking server" in assert_one_line_error(done, EXIT_NOT_MLFLOW)


def test_a_web_server_answering_json_that_is_not_mlflow_is_one_line_with_its_own_exit_code(
    webhook: CliRun, tmp_path: Path
) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET) as site:
        elsewhere = site.webhook_url.removesuffix(urlsplit(site.webhook_url).path)
        done = webhook("list", "--tracking-uri", elsewhere)

    line = assert_one_line_error(done, EXIT_NOT_MLFLOW)
    assert "not as an MLflow tracking server" in line and "failed" not in line


def test_a_server_failing_on_its_webhook_api_is_one_line_naming_the_encryption_key(
    webhook: CliRun,
) -> None:
    def failing(method: str, path: str, headers: Any, body: bytes) -> ScriptedAnswer:
        if path == "/health":
            return ScriptedAnswer(200, body="OK")
        return ScriptedAnswer(500, body={"error_code": "INTERNAL_ERROR", "message": "failed"})

    with Recorder(answer_for=failing) as broken:
        done = webhook("list", "--tracking-uri", broken.url.removesuffix(broken.path))

    line = assert_one_line_error(done, EXIT_FAILED)
    assert "500" in line and ENCRYPTION_KEY_SETTING in line


def test_a_tracking_uri_that_is_not_http_is_one_line_with_its_own_exit_code(
    webhook: CliRun,
) -> None:
    done = webhook("list", "--tracking-uri", "sqlite:///mlflow.db")

    assert "sqlite:///" in assert_one_line_error(done, EXIT_NOT_MLFLOW)


def test_without_a_tracking_uri_the_command_says_where_to_give_one(webhook: CliRun) -> None:
    done = webhook("list", env={"MLFLOW_TRACKING_URI": ""})

    assert "--tracking-uri" in assert_one_line_error(done, 2)


@pytest.mark.mlflow
def test_without_mlflow_installed_the_command_names_the_extra_to_install(webhook_uri: str) -> None:
    code = (
        "import sys; sys.modules['mlflow'] = None\n"
        "from contracts.cli import main\n"
        f"sys.exit(main(['mlflow-webhook', 'list', '--tracking-uri', {webhook_uri!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )

    line = assert_one_line_error(done, 2)
    assert "pip install 'hokusai-contracts[sender]'" in line


def test_the_settings_named_in_refusals_are_the_loopback_only_ones(tmp_path: Path) -> None:
    assert {SCHEMES_SETTING, PRIVATE_IPS_SETTING} == set(LOOPBACK_ONLY_SETTINGS)
    assert set(LOOPBACK_ONLY_SETTINGS) <= set(loopback_webhook_settings(tmp_path))
