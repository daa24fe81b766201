"""An MLflow server on its production rules for webhook URLs (https, public addresses only)
refuses a bridge on this machine; each way to create a webhook says which setting a test
server needs, in one line, and the pytest fixture refuses such a server by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.cli.mlflow_webhook import EXIT_REFUSED
from contracts.sender import (
    WebhookUrlRefusedError,
    check_loopback_webhooks,
    create_bridge_webhook,
    loopback_webhook_settings,
    running_mlflow_server,
    trigger_test_delivery,
)
from contracts.sender.mlflow_server import DATABASE_FILE
from contracts.sender.mlflow_webhooks import PRIVATE_IPS_SETTING, SCHEMES_SETTING, VERSION_CREATED
from tests.sender.conftest import CliRun

pytestmark = pytest.mark.mlflow
pytest_plugins = ["pytester"]

SECRET = "production-rules-secret"


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second server, started once for this module: MLflow's own rules for webhook URLs."""
    workdir = tmp_path_factory.mktemp("production-rules")
    with running_mlflow_server(workdir, webhooks_to_loopback=False) as server:
        yield server


def test_mlflow_itself_refuses_http_and_private_webhook_urls(production_server: Any) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(production_server.tracking_uri, production_server.tracking_uri)
    for url, words in (
        ("http://127.0.0.1:9/bridge", "Allowed schemes are: https"),
        ("https://127.0.0.1:9/bridge", "non-public IP address"),
    ):
        with pytest.raises(MlflowException) as refused:
            client.create_webhook(name="bridge", url=url, events=[VERSION_CREATED])
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE"
        assert words in refused.value.message
    assert list(client.list_webhooks()) == []


def test_an_http_bridge_url_is_refused_naming_the_schemes_setting(production_server: Any) -> None:
    with pytest.raises(WebhookUrlRefusedError) as refused:
        create_bridge_webhook(production_server.tracking_uri, "http://127.0.0.1:9/bridge", SECRET)

    assert f"{SCHEMES_SETTING}=http,https" in str(refused.value)
    assert "https" in str(refused.value) and SECRET not in str(refused.value)


def test_a_private_https_bridge_url_is_refused_naming_the_private_ips_setting(
    production_server: Any,
) -> None:
    with pytest.raises(WebhookUrlRefusedError) as refused:
        create_bridge_webhook(production_server.tracking_uri, "https://127.0.0.1:9/bridge", SECRET)

    assert f"{PRIVATE_IPS_SETTING}=true" in str(refused.value)
    assert "127.0.0.1" in str(refused.value)


def test_the_loopback_check_refuses_the_production_server(production_server: Any) -> None:
    with pytest.raises(WebhookUrlRefusedError, match=SCHEMES_SETTING):
        check_loopback_webhooks(production_server.tracking_uri)


def test_a_test_delivery_the_server_no_longer_allows_names_the_setting(
    production_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after a restart without the loopback settings: the webhook exists, delivery is refused."""
    from mlflow import MlflowClient

    workdir = Path(production_server.workdir)
    for name, value in loopback_webhook_settings(workdir).items():
        monkeypatch.setenv(name, value)
    database = f"sqlite:///{(workdir / DATABASE_FILE).resolve()}"
    direct = MlflowClient(tracking_uri=database, registry_uri=database)
    webhook = direct.create_webhook(
        name="made-before-a-restart",
        url="http://127.0.0.1:9/bridge",
        events=[VERSION_CREATED],
    )
    try:
        outcome = trigger_test_delivery(production_server.tracking_uri, webhook.webhook_id)
    finally:
        direct.delete_webhook(webhook.webhook_id)

    assert not outcome.success and outcome.response_status is None
    assert f"{SCHEMES_SETTING}=http,https" in outcome.words()


def test_the_create_command_names_the_setting_in_one_line_with_its_own_exit_code(
    production_server: Any, cli_in_process: CliRun
) -> None:
    done = cli_in_process(
        "mlflow-webhook",
        "create",
        "--tracking-uri",
        production_server.tracking_uri,
        "--url",
        "http://127.0.0.1:9/bridge",
        "--secret-env",
        "BRIDGE_SECRET",
        env={"BRIDGE_SECRET": SECRET},
    )

    assert done.returncode == EXIT_REFUSED, done.stdout + done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("hokusai-contract mlflow-webhook: error: ")
    assert SCHEMES_SETTING in line and SECRET not in line


def test_the_webhook_fixture_refuses_a_tracking_server_without_the_loopback_settings(
    production_server: Any, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", production_server.tracking_uri)
    pytester.makepyfile(test_sdk="def test_webhooks(hokusai_mlflow_webhook_server):\n    pass\n")

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*MLFLOW_TRACKING_URI*{SCHEMES_SETTING}=http,https*"])


def test_the_webhook_fixture_takes_a_tracking_server_with_the_loopback_settings(
    hokusai_mlflow_webhook_server: Any, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", hokusai_mlflow_webhook_server.tracking_uri)
    pytester.makepyfile(
        test_sdk=(
            "def test_webhooks(hokusai_mlflow_webhook_server):\n"
            f"    assert hokusai_mlflow_webhook_server.tracking_uri == "
            f"{hokusai_mlflow_webhook_server.tracking_uri!r}\n"
        )
    )

    pytester.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
