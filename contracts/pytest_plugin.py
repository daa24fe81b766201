"""Pytest plugin (entry point ``pytest11``): fixtures for the real MLflow server and the stub site.

Imports nothing heavy at import time: every pytest run of any project with this package
installed loads this module. MLflow, requests and werkzeug are imported inside the fixtures.

Fixtures, all usable from an SDK's own tests:

- ``mlflow_server`` (session): a real tracking server (``.tracking_uri``), started once; when
  ``MLFLOW_TRACKING_URI`` is set, that server is used instead.
- ``hokusai_mlflow_webhook_server`` (session): that server, known to send its model-registry
  webhooks to ``http`` receivers on this machine (a :class:`contracts.conformance.Recorder`,
  the bridge); an ``MLFLOW_TRACKING_URI`` server that refuses them fails the fixture, naming
  the settings it needs.
- ``mlflow_client``: an ``MlflowClient`` bound to it (explicit URIs, no global state).
- ``tiny_model_uri``: a real pyfunc model logged in a fresh run; its ``runs:/<id>/model`` URI.
- ``webhook_secret``: a fresh random secret.
- ``signed_delivery``: signs a payload (or exact body bytes) with ``webhook_secret``; gives
  ``.body`` and ``.headers``, ready for ``requests.post(url, data=d.body, headers=d.headers)``.
- ``stub_site``: the stub website over real HTTP with token ``LSCOR`` in DRAFT, verifying with
  ``webhook_secret``; ``stub_site.token("LSCOR")["status"]`` tells whether it was notified.
- ``recording_receiver``: a receiver that records exact bytes and answers per a script
  (a :class:`contracts.conformance.Recorder`).
- ``outbox_path``: a fresh outbox file location for a ``ModelRegistry``.
- ``sender_judge``: a judging receiver for any sender (a
  :class:`contracts.conformance.SenderJudge`, token ``LSCOR`` seeded DRAFT, a fresh secret):
  run the sender with ``env=sender_judge.env``, then ``sender_judge.assert_conforms()``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from contracts.conformance import Recorder, SenderJudge
    from contracts.envelope import SignedDelivery
    from contracts.receiver import RunningStubSite

_server_starts: list[str] = []


@dataclass(frozen=True)
class ExternalTrackingServer:
    """A tracking server this plugin did not start (named by ``MLFLOW_TRACKING_URI``)."""

    tracking_uri: str


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mlflow: needs a real MLflow tracking server (the mlflow_server fixture)"
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _server_starts:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real MLflow tracking server for the whole session (``.tracking_uri``)."""
    external = os.environ.get("MLFLOW_TRACKING_URI")
    if external:
        yield ExternalTrackingServer(external)
        return
    from contracts.sender import running_mlflow_server

    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as server:
        source = "a copy of the migrated template" if server.from_template else "a fresh database"
        _server_starts.append(
            f"MLflow tracking server started in {server.startup_seconds:.1f} s from {source}"
        )
        yield server


@pytest.fixture(scope="session")
def hokusai_mlflow_webhook_server(mlflow_server: Any) -> Any:
    """The session's MLflow server, once it is known to send webhooks to loopback ``http``.

    A server this plugin starts always does (``loopback_webhook_settings``); a server named by
    ``MLFLOW_TRACKING_URI`` is asked, and one that refuses fails the fixture in one line (it
    should also cache its webhook list briefly: ``MLFLOW_WEBHOOK_CACHE_TTL=1``).
    """
    if isinstance(mlflow_server, ExternalTrackingServer):
        from contracts.sender import (
            MlflowWebhookError,
            TrackingServerUnreachableError,
            check_loopback_webhooks,
        )

        try:
            check_loopback_webhooks(mlflow_server.tracking_uri)
        except (MlflowWebhookError, TrackingServerUnreachableError) as error:
            pytest.fail(f"MLFLOW_TRACKING_URI: {error}", pytrace=False)
    return mlflow_server


@pytest.fixture
def mlflow_client(mlflow_server: Any) -> Any:
    """An ``MlflowClient`` for the session's server, with its URIs given explicitly."""
    from mlflow import MlflowClient

    uri = mlflow_server.tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real pyfunc model saved once per session, ready to be logged in runs."""
    from contracts.sender import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def tiny_model_uri(mlflow_server: Any, tiny_model_dir: Path) -> str:
    """The ``runs:/<run_id>/model`` URI of the tiny model, logged in a fresh run."""
    from contracts.sender import log_tiny_model

    return log_tiny_model(mlflow_server.tracking_uri, tiny_model_dir)


@pytest.fixture
def webhook_secret() -> str:
    """A fresh random webhook secret shared by the sender and the receiver under test."""
    return secrets.token_urlsafe(32)


@pytest.fixture
def signed_delivery(webhook_secret: str) -> Callable[..., SignedDelivery]:
    """Sign ``payload`` (serialized once, or the exact ``body`` given) with ``webhook_secret``."""
    from contracts.envelope import signed_delivery as sign

    def signed(
        payload: Mapping[str, Any], *, body: bytes | None = None, key: str | None = None
    ) -> SignedDelivery:
        return sign(payload, webhook_secret, body=body, key=key)

    return signed


@pytest.fixture
def stub_site(tmp_path: Path, webhook_secret: str) -> Iterator[RunningStubSite]:
    """The stub website on 127.0.0.1 with token ``LSCOR`` in DRAFT and ``webhook_secret``."""
    from contracts.receiver import running_stub_site

    with running_stub_site(tmp_path / "stub-site.sqlite3", webhook_secret) as site:
        yield site


@pytest.fixture
def recording_receiver() -> Iterator[Recorder]:
    """A receiver that records exact request bytes and answers per ``.script(...)``."""
    from contracts.conformance import Recorder

    with Recorder() as receiver:
        yield receiver


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    """Where this test's notification outbox lives (a fresh file)."""
    return tmp_path / "outbox.sqlite3"


@pytest.fixture
def sender_judge() -> Iterator[SenderJudge]:
    """A judging receiver for any sender: ``.url``, ``.secret``, ``.env`` (for a subprocess),
    ``.deliveries``, and ``.assert_conforms()`` listing every failing sender check."""
    from contracts.conformance import SenderJudge

    with SenderJudge() as judge:
        yield judge
