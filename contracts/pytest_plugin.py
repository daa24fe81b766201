"""Pytest plugin (entry point ``pytest11``): fixtures for the real MLflow server and the stub site.

Imports nothing heavy at import time: every pytest run of any project with this package
installed loads this module. MLflow, requests and werkzeug are imported inside the fixtures.

Fixtures, all usable from an SDK's own tests, each named ``hokusai_...`` so that none collides
with a fixture of the SDK's own:

- ``hokusai_mlflow_server`` (session): a real tracking server (``.tracking_uri``), started once;
  when ``MLFLOW_TRACKING_URI`` is set, that server is used instead.
- ``hokusai_mlflow_webhook_server`` (session): that server, known to send its model-registry
  webhooks to ``http`` receivers on this machine (a :class:`contracts.conformance.Recorder`,
  the bridge); an ``MLFLOW_TRACKING_URI`` server that refuses them fails the fixture, naming
  the settings it needs.
- ``hokusai_mlflow_client``: an ``MlflowClient`` bound to it (explicit URIs, no global state).
- ``hokusai_tiny_model_dir`` (session): a real pyfunc model saved once, ready to be logged.
- ``hokusai_tiny_model_uri``: that model logged in a fresh run; its ``runs:/<id>/model`` URI.
- ``hokusai_webhook_secret``: a fresh random secret.
- ``hokusai_signed_delivery``: signs a payload (or exact body bytes) with
  ``hokusai_webhook_secret``; gives ``.body`` and ``.headers``, ready for
  ``requests.post(url, data=d.body, headers=d.headers)``.
- ``hokusai_stub_site``: the stub website over real HTTP with token ``LSCOR`` in DRAFT,
  verifying with ``hokusai_webhook_secret``; ``.token("LSCOR")["status"]`` tells whether it was
  notified.
- ``hokusai_recording_receiver``: a receiver that records exact bytes and answers per a script
  of :class:`contracts.conformance.ScriptedAnswer` (a :class:`contracts.conformance.Recorder`).
- ``hokusai_outbox_path``: a fresh outbox file location for a ``ModelRegistry``.
- ``hokusai_sender_judge``: a judging receiver for any sender (a
  :class:`contracts.conformance.SenderJudge`, token ``LSCOR`` seeded DRAFT, a fresh secret):
  run the sender with ``env=hokusai_sender_judge.env``, then ``.assert_conforms()``.

The names without ``hokusai_`` (``mlflow_server``, ``stub_site``, ...) still work for one
release: each gives the same value and warns (:class:`HokusaiFixtureDeprecationWarning`) with
the name to use instead.
"""

from __future__ import annotations

import os
import secrets
import warnings
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


class HokusaiFixtureDeprecationWarning(DeprecationWarning):
    """A test asked for a fixture by its old name (without ``hokusai_``); the message names the
    new one. The old names go in the next major release."""


@dataclass(frozen=True)
class ExternalTrackingServer:
    """A tracking server this plugin did not start (named by ``MLFLOW_TRACKING_URI``)."""

    tracking_uri: str


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mlflow: needs a real MLflow tracking server (the hokusai_mlflow_server fixture)",
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _server_starts:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def hokusai_mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
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
def hokusai_mlflow_webhook_server(hokusai_mlflow_server: Any) -> Any:
    """The session's MLflow server, once it is known to send webhooks to loopback ``http``.

    A server this plugin starts always does (``loopback_webhook_settings``); a server named by
    ``MLFLOW_TRACKING_URI`` is asked, and one that refuses fails the fixture in one line (it
    should also cache its webhook list briefly: ``MLFLOW_WEBHOOK_CACHE_TTL=0``).
    """
    if isinstance(hokusai_mlflow_server, ExternalTrackingServer):
        from contracts.sender import (
            MlflowWebhookError,
            TrackingServerUnreachableError,
            check_loopback_webhooks,
        )

        try:
            check_loopback_webhooks(hokusai_mlflow_server.tracking_uri)
        except (MlflowWebhookError, TrackingServerUnreachableError) as error:
            pytest.fail(f"MLFLOW_TRACKING_URI: {error}", pytrace=False)
    return hokusai_mlflow_server


@pytest.fixture
def hokusai_mlflow_client(hokusai_mlflow_server: Any) -> Any:
    """An ``MlflowClient`` for the session's server, with its URIs given explicitly."""
    from mlflow import MlflowClient

    uri = hokusai_mlflow_server.tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="session")
def hokusai_tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real pyfunc model saved once per session, ready to be logged in runs."""
    from contracts.sender import save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def hokusai_tiny_model_uri(hokusai_mlflow_server: Any, hokusai_tiny_model_dir: Path) -> str:
    """The ``runs:/<run_id>/model`` URI of the tiny model, logged in a fresh run."""
    from contracts.sender import log_tiny_model

    return log_tiny_model(hokusai_mlflow_server.tracking_uri, hokusai_tiny_model_dir)


@pytest.fixture
def hokusai_webhook_secret() -> str:
    """A fresh random webhook secret shared by the sender and the receiver under test."""
    return secrets.token_urlsafe(32)


@pytest.fixture
def hokusai_signed_delivery(hokusai_webhook_secret: str) -> Callable[..., SignedDelivery]:
    """Sign ``payload`` (serialized once, or the exact ``body`` given) with the test's secret."""
    from contracts.envelope import signed_delivery

    def signed(
        payload: Mapping[str, Any], *, body: bytes | None = None, key: str | None = None
    ) -> SignedDelivery:
        return signed_delivery(payload, hokusai_webhook_secret, body=body, key=key)

    return signed


@pytest.fixture
def hokusai_stub_site(tmp_path: Path, hokusai_webhook_secret: str) -> Iterator[RunningStubSite]:
    """The stub website on 127.0.0.1 with token ``LSCOR`` in DRAFT and the test's secret."""
    from contracts.receiver import running_stub_site

    with running_stub_site(tmp_path / "stub-site.sqlite3", hokusai_webhook_secret) as site:
        yield site


@pytest.fixture
def hokusai_recording_receiver() -> Iterator[Recorder]:
    """A receiver that records exact request bytes and answers per ``.script(...)``."""
    from contracts.conformance import Recorder

    with Recorder() as receiver:
        yield receiver


@pytest.fixture
def hokusai_outbox_path(tmp_path: Path) -> Path:
    """Where this test's notification outbox lives (a fresh file)."""
    return tmp_path / "outbox.sqlite3"


@pytest.fixture
def hokusai_sender_judge() -> Iterator[SenderJudge]:
    """A judging receiver for any sender: ``.url``, ``.secret``, ``.env`` (for a subprocess),
    ``.deliveries``, and ``.assert_conforms()`` listing every failing sender check."""
    from contracts.conformance import SenderJudge

    with SenderJudge() as judge:
        yield judge


# --- the old names, for one release ---------------------------------------------------------

RENAMED_FIXTURES = {
    "mlflow_server": ("hokusai_mlflow_server", "session"),
    "mlflow_client": ("hokusai_mlflow_client", "function"),
    "tiny_model_dir": ("hokusai_tiny_model_dir", "session"),
    "tiny_model_uri": ("hokusai_tiny_model_uri", "function"),
    "webhook_secret": ("hokusai_webhook_secret", "function"),
    "signed_delivery": ("hokusai_signed_delivery", "function"),
    "stub_site": ("hokusai_stub_site", "function"),
    "recording_receiver": ("hokusai_recording_receiver", "function"),
    "outbox_path": ("hokusai_outbox_path", "function"),
    "sender_judge": ("hokusai_sender_judge", "function"),
}
"""Each old fixture name: the name it now has, and its scope (the alias keeps it)."""


def _deprecated_alias(old: str, new: str, scope: Any) -> Any:
    """A fixture ``old`` giving ``new``'s value, warning that the name changed."""

    def alias(request: pytest.FixtureRequest) -> Any:
        warnings.warn(
            HokusaiFixtureDeprecationWarning(
                f"the fixture {old!r} of hokusai-contracts is now {new!r}; rename it in the "
                "test (the old name goes in the next major release)"
            ),
            stacklevel=2,
        )
        return request.getfixturevalue(new)

    alias.__name__ = alias.__qualname__ = old
    alias.__doc__ = f"Deprecated: the old name of ``{new}``."
    return pytest.fixture(name=old, scope=scope)(alias)


for _old, (_new, _scope) in RENAMED_FIXTURES.items():
    globals()[_old] = _deprecated_alias(_old, _new, _scope)
