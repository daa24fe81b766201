"""Shared fixtures of the sender tests: an isolated environment, fast retries, a dead URL."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.cli import main
from contracts.cli.mlflow_webhook import CLIENT_RETRIES
from contracts.conformance import Recorder
from contracts.sender import DeliveryPolicy, ModelRegistry, log_tiny_model, save_tiny_model

Resend = Callable[..., tuple[int, str]]


@dataclass(frozen=True)
class Ran:
    """What ``hokusai-contract`` returned and printed, run in this process."""

    returncode: int
    stdout: str
    stderr: str


CliRun = Callable[..., Ran]
SENDER_VARIABLES = (
    "HOKUSAI_SITE_WEBHOOK_URL",
    "WEBHOOK_URL",
    "HOKUSAI_SITE_WEBHOOK_SECRET",
    "WEBHOOK_SECRET",
)
"""Where a sender finds the website's URL and the secret."""


@pytest.fixture(autouse=True)
def isolated_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hokusai_outbox_path: Path
) -> None:
    """No webhook settings leak in from the machine, no ``.env`` is read, no home outbox."""
    for name in SENDER_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOKUSAI_OUTBOX", str(hokusai_outbox_path))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def fast_policy() -> DeliveryPolicy:
    """Real timeouts and retries, scaled down so a failing receiver costs milliseconds."""
    return DeliveryPolicy(
        connect_timeout=1.0,
        read_timeout=0.3,
        max_attempts=3,
        base_delay=0.01,
        max_delay=0.05,
        deadline=5.0,
    )


@pytest.fixture
def dead_address() -> Iterator[str]:
    """``http://127.0.0.1:<port>`` where nothing listens (connection refused), for the test.

    The port stays bound but not listening while the test runs, so no other process can take
    it and answer.
    """
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"


@pytest.fixture
def dead_url(dead_address: str) -> str:
    """A webhook URL on a local port where nothing listens (connection refused)."""
    return f"{dead_address}/api/mlflow/registered"


@pytest.fixture
def model_name() -> str:
    """A registered-model name no other test uses on the shared server."""
    return f"Sales lead scoring model {uuid.uuid4().hex[:8]}"


@pytest.fixture
def registry_for(
    hokusai_mlflow_server: Any, hokusai_outbox_path: Path, fast_policy: DeliveryPolicy
) -> Callable[..., ModelRegistry]:
    """A ModelRegistry on the session's MLflow server, with a webhook URL and secret of choice."""

    def build(url: str | None, secret: str | None, **options: Any) -> ModelRegistry:
        options.setdefault("outbox_path", hokusai_outbox_path)
        options.setdefault("delivery", fast_policy)
        return ModelRegistry(hokusai_mlflow_server.tracking_uri, url, secret, **options)

    return build


@pytest.fixture
def resend(
    hokusai_webhook_secret: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Resend:
    """Run ``hokusai-contract resend ARGS`` holding the test's secret; get exit code and output."""

    def run(*arguments: str) -> tuple[int, str]:
        monkeypatch.setenv("WEBHOOK_SECRET", hokusai_webhook_secret)
        capsys.readouterr()
        exit_code = main(["resend", *arguments])
        captured = capsys.readouterr()
        return exit_code, captured.out + captured.err

    return run


@pytest.fixture(scope="session")
def unsigned_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model saved without a signature, once per session."""
    return save_tiny_model(tmp_path_factory.mktemp("unsigned-model"), with_signature=False)


@pytest.fixture
def unsigned_model_uri(hokusai_mlflow_server: Any, unsigned_model_dir: Path) -> str:
    """The ``runs:/<run_id>/model`` URI of the tiny model without a signature, in a fresh run."""
    return log_tiny_model(hokusai_mlflow_server.tracking_uri, unsigned_model_dir)


@pytest.fixture
def webhook_uri(hokusai_mlflow_webhook_server: Any) -> str:
    """The tracking URI of the session's server, whose webhooks reach loopback receivers."""
    uri: str = hokusai_mlflow_webhook_server.tracking_uri
    return uri


@pytest.fixture
def webhook_client(hokusai_mlflow_webhook_server: Any) -> Any:
    """An ``MlflowClient`` for the session's server, whose webhooks reach loopback receivers."""
    from mlflow import MlflowClient

    uri = hokusai_mlflow_webhook_server.tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture
def mlflow_events() -> Iterator[Recorder]:
    """A receiver for MLflow's webhook events: keeps each one's bytes, answers 200."""
    with Recorder(path="/mlflow-events") as receiving:
        yield receiving


@pytest.fixture
def cli_in_process(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliRun:
    """Run ``hokusai-contract ARGS`` in this process, with ``env`` set for the run: MLflow is
    imported once, not once a run. For argument handling and messages; each command keeps a
    test that runs it as a process of its own, for its real exit."""

    def run(*arguments: str, env: Mapping[str, str] | None = None) -> Ran:
        name, default = CLIENT_RETRIES  # the command sets it in its process: undone after
        monkeypatch.setenv(name, os.environ.get(name, default))
        for variable, value in (env or {}).items():
            monkeypatch.setenv(variable, value)
        capsys.readouterr()
        code = main(list(arguments))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return run
