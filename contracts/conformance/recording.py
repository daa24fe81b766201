"""A recording proxy in front of a receiver: the sender's exact bytes and headers, kept.

The contract test points the reference sender at this proxy; each request is recorded as it
arrived, then forwarded unchanged to the real receiver (the stub site), whose answer goes back
to the sender. A fault can be armed to answer the next request(s) itself (a 503, say) without
forwarding, to watch the sender retry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import requests
from werkzeug.wrappers import Request, Response

from contracts.sender.testing import RecordedRequest, ScriptedAnswer
from contracts.support.http import bounded_session
from contracts.support.server import RunningServer
from contracts.urls import redact_text

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_NOT_FORWARDED = frozenset({"host", "content-length", "connection", "transfer-encoding"})
_RELAYED = ("Content-Type", "Retry-After", "Allow")


class RecordingProxy:
    """The WSGI application: record, then answer an armed fault or forward upstream.

    Like :class:`~contracts.sender.testing.RecordingReceiver` it keeps :class:`RecordedRequest`
    values and answers with :meth:`ScriptedAnswer.response`; unlike it, the status to record is
    known only once the receiver behind it has answered, so the loop is its own.
    """

    def __init__(self, upstream: str, timeout: float = 30.0) -> None:
        self.upstream = upstream
        self.timeout = timeout
        self._faults: list[ScriptedAnswer] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._session = bounded_session()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def fail_next(self, *answers: ScriptedAnswer) -> None:
        """Answer the next requests with ``answers`` instead of forwarding them."""
        with self._lock:
            self._faults.extend(answers)

    def close(self) -> None:
        self._session.close()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data(cache=False)
        headers = dict(request.headers)
        with self._lock:
            fault = self._faults.pop(0) if self._faults else None
        response = fault.response() if fault else self._forward(request.method, headers, body)
        with self._lock:
            self._requests.append(
                RecordedRequest(request.method, request.path, headers, body, response.status_code)
            )
        return response(environ, start_response)

    def _forward(self, method: str, headers: dict[str, str], body: bytes) -> Response:
        forwarded = {k: v for k, v in headers.items() if k.lower() not in _NOT_FORWARDED}
        try:
            upstream = self._session.request(
                method,
                self.upstream,
                data=body,
                headers=forwarded,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            why = (
                f"the proxy could not reach the receiver: {redact_text(str(error), self.upstream)}"
            )
            return ScriptedAnswer(502, {"success": False, "error": why}).response()
        relayed = {name: upstream.headers[name] for name in _RELAYED if name in upstream.headers}
        return Response(upstream.content, status=upstream.status_code, headers=relayed)


class RunningRecordingProxy:
    """A :class:`RecordingProxy` served over HTTP on 127.0.0.1."""

    def __init__(self, app: RecordingProxy, server: RunningServer, path: str) -> None:
        self.app = app
        self.server = server
        self.url = server.url(path)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.app.requests

    def fail_next(self, *answers: ScriptedAnswer) -> None:
        self.app.fail_next(*answers)

    def stop(self) -> None:
        self.server.stop()
        self.app.close()


@contextmanager
def recording_proxy(upstream: str, path: str) -> Iterator[RunningRecordingProxy]:
    """Serve a recording proxy to ``upstream`` at ``path`` for the duration of a ``with``."""
    app = RecordingProxy(upstream)
    proxy = RunningRecordingProxy(app, RunningServer(app), path)
    try:
        yield proxy
    finally:
        proxy.stop()
