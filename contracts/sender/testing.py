"""A recording receiver for testing senders: real HTTP, scripted answers, exact bytes kept.

::

    with recording_receiver(ScriptedAnswer(503, headers={"Retry-After": "1"})) as receiver:
        ...  # deliver to receiver.url
        first, second = receiver.requests
        assert contracts.verify(first.body, first.headers["X-Hokusai-Signature"], secret)

Each request takes the next scripted answer; once the script is used up, every request gets
the default answer (200 with ``{"success": true}``). An answer can stall before it is sent, to
outlast a sender's read timeout, or break off midway: its headers promise the whole body, only
the first bytes come, and the connection closes (after a stall, if one is scripted).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from contracts.envelope import DEFAULT_PATH, IDEMPOTENCY_KEY_HEADER
from contracts.support.server import RunningServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


@dataclass(frozen=True)
class ScriptedAnswer:
    """What the receiver answers to one request, after stalling ``delay`` seconds.

    With ``cut_after``, only that many bytes of the body are sent, though ``Content-Length``
    promises all of it; the stall then comes after them, and the connection closes.
    """

    status: int = 200
    body: Mapping[str, Any] | str = field(default_factory=lambda: {"success": True})
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut_after: int | None = None

    def response(self) -> Response:
        """This answer as a werkzeug response (JSON unless ``body`` is given as text)."""
        text = self.body if isinstance(self.body, str) else json.dumps(dict(self.body))
        return Response(
            text, status=self.status, headers=dict(self.headers), mimetype="application/json"
        )


@dataclass(frozen=True)
class RecordedRequest:
    """One request exactly as it arrived, and the status it was answered with."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    status: int

    def header(self, name: str) -> str | None:
        """A header by name, in any case."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    @property
    def idempotency_key(self) -> str | None:
        return self.header(IDEMPOTENCY_KEY_HEADER)

    @property
    def succeeded(self) -> bool:
        """True when the receiver answered 2xx, i.e. it accepted the delivery."""
        return 200 <= self.status < 300


class RecordingReceiver:
    """The WSGI application: record the request, then answer per the script."""

    def __init__(
        self, answers: Iterable[ScriptedAnswer] = (), default: ScriptedAnswer | None = None
    ) -> None:
        self.default = default or ScriptedAnswer()
        self._script = list(answers)
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def script(self, *answers: ScriptedAnswer) -> None:
        """Replace the answers still to come."""
        with self._lock:
            self._script = list(answers)

    def release(self) -> None:
        """End every stall now (used when the server stops)."""
        self._stopping.set()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        body = request.get_data(cache=False)
        with self._lock:
            answer = self._script.pop(0) if self._script else self.default
            self._requests.append(
                RecordedRequest(
                    request.method, request.path, dict(request.headers), body, answer.status
                )
            )
        if answer.cut_after is not None:
            return self._broken_off(answer, environ, start_response)
        if answer.delay:
            self._stopping.wait(answer.delay)
        return answer.response()(environ, start_response)

    def _broken_off(
        self, answer: ScriptedAnswer, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterator[bytes]:
        """The first ``cut_after`` bytes of the answer, a stall, then a closed connection."""
        response = answer.response()
        body = response.get_data()
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        start_response(response.status, [*headers, ("Content-Length", str(len(body)))])
        yield body[: answer.cut_after]
        self._stopping.wait(answer.delay)
        connection: socket.socket = environ["werkzeug.socket"]
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


class RunningRecordingReceiver:
    """A :class:`RecordingReceiver` served over HTTP on 127.0.0.1."""

    def __init__(self, app: RecordingReceiver, server: RunningServer) -> None:
        self.app = app
        self.server = server

    @property
    def url(self) -> str:
        """The webhook URL (``/api/mlflow/registered`` on this server)."""
        return self.server.url(DEFAULT_PATH)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.app.requests

    def script(self, *answers: ScriptedAnswer) -> None:
        """Replace the answers still to come."""
        self.app.script(*answers)

    def stop(self) -> None:
        self.app.release()
        self.server.stop()


@contextmanager
def recording_receiver(
    *answers: ScriptedAnswer, default: ScriptedAnswer | None = None
) -> Iterator[RunningRecordingReceiver]:
    """Serve a recording receiver for the duration of a ``with`` block."""
    app = RecordingReceiver(answers, default)
    receiver = RunningRecordingReceiver(app, RunningServer(app))
    try:
        yield receiver
    finally:
        receiver.stop()
