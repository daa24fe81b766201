"""The stub site for tests: served over real HTTP on 127.0.0.1, with its store at hand.

::

    with running_stub_site(tmp_path / "site.sqlite3", secrets="s3cr3t") as site:
        requests.post(site.webhook_url, data=body, headers=headers)
        assert site.token("LSCOR")["status"] == "REGISTERED"

The pytest plugin's ``stub_site`` fixture, the conformance checks and the benchmarks all use
this, so its attributes are a stable interface.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from werkzeug.wrappers import Request, Response

from contracts.receiver.app import StubSite, create_app
from contracts.receiver.store import TokenStore
from contracts.support.server import RunningServer

DEFAULT_TOKENS = ("LSCOR",)


class RunningStubSite:
    """A stub site served over HTTP; its URLs, its store and a way to stop it."""

    def __init__(self, app: StubSite, server: RunningServer) -> None:
        self.app = app
        self.server = server
        self._stopped = False

    @property
    def store(self) -> TokenStore:
        """The SQLite token store behind the site (read it to check state directly)."""
        return self.app.store

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return self.server.base_url

    @property
    def webhook_url(self) -> str:
        """Full URL of the webhook at the contract's current default path,
        ``/api/webhooks/model-registration`` (or at the path configured instead)."""
        return self.server.url(self.app.config.main_path)

    @property
    def webhook_urls(self) -> tuple[str, ...]:
        """Every URL the webhook is served at: the current default path, then the seed path
        ``/api/mlflow/registered`` (or only the path configured instead)."""
        return tuple(self.server.url(path) for path in self.app.config.webhook_paths)

    @property
    def state_url_template(self) -> str:
        """``<base>/api/tokens/{token_id}``: format it with a token id to read its state."""
        return self.base_url + "/api/tokens/{token_id}"

    @property
    def deliveries_url(self) -> str:
        """``<base>/api/deliveries``; add ``?token_id=...`` to filter."""
        return self.server.url("/api/deliveries")

    def token(self, token_id: str) -> dict[str, Any]:
        """The stored token (any case of its id) as ``GET /api/tokens/{token_id}`` shows it.

        Raises ``KeyError`` when there is no such token.
        """
        record = self.store.token(token_id)
        if record is None:
            raise KeyError(f"no token {token_id.upper()} on this stub site")
        return record.as_dict()

    def deliveries(self, token_id: str | None = None) -> list[dict[str, Any]]:
        """The deliveries log (oldest first), for one token if given."""
        return [delivery.as_dict() for delivery in self.store.deliveries(token_id)]

    def reset(self, tokens: Iterable[str] = DEFAULT_TOKENS) -> None:
        """Forget every token and delivery, then create ``tokens`` as DRAFT."""
        self.store.reset(tokens)

    def stop(self) -> None:
        """Stop serving (safe to call more than once)."""
        if not self._stopped:
            self._stopped = True
            self.server.stop()
            self.store.close()


@contextmanager
def running_stub_site(
    db_path: str | os.PathLike[str],
    secrets: str | Sequence[str] | None,
    tokens: Iterable[str] = DEFAULT_TOKENS,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    **options: Any,
) -> Iterator[RunningStubSite]:
    """Serve a stub site over the store at ``db_path`` for the duration of a ``with`` block.

    ``tokens`` are created as DRAFT when missing (existing ones keep their state, so reopening
    the same file after a restart shows what was stored). ``options`` are
    :class:`~contracts.receiver.ReceiverConfig` fields: ``timestamp_tolerance``,
    ``max_body_bytes``, ``path``, ``clock``. ``secrets=None`` serves a site with no secret
    configured, which answers every delivery 500 (fail closed).
    """
    app = create_app(db_path, secrets=secrets, tokens=tokens, **options)
    site = RunningStubSite(app, RunningServer(app, host, port))
    try:
        yield site
    finally:
        site.stop()


def as_request_handler(app: StubSite) -> Callable[[Request], Response]:
    """Adapt the stub site to handlers that take a werkzeug ``Request`` (pytest-httpserver).

    Such servers read the body before calling the handler, so the app gets it back as a fresh
    input stream.
    """

    def handle(request: Request) -> Response:
        body = request.get_data()
        environ = dict(request.environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        environ.pop("wsgi.input_terminated", None)
        return Response.from_app(app, environ)

    return handle
