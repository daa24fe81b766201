"""A recorder for judging senders: every request's exact bytes and headers, kept.

::

    with Recorder() as receiver:                      # 200 to everything, over real HTTP
        receiver.script(ScriptedAnswer(503, headers={"Retry-After": "1"}))
        ...  # deliver to receiver.url
        first, second = receiver.requests
        assert contracts.verify(first.body, first.header("X-Hokusai-Signature"), secret)

    with Recorder(create_app("site.sqlite3", secrets=secret)) as site:
        ...  # the stub site answers, in-process; site.requests holds what the sender sent

Each request takes the next scripted answer; once the script is used up, ``answer_for`` (when
given) may choose one by what the request carries; otherwise the wrapped WSGI application
answers (it sees the request exactly as it came), or, without one, the default answer (200 with
``{"success": true}``). A scripted answer can stall before it is sent, to
outlast a sender's read timeout, or break off midway: its headers promise the whole body, only
the first bytes come, and the connection closes (after a stall, if one is scripted).
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from contracts.envelope import DEFAULT_PATH, IDEMPOTENCY_KEY_HEADER
from contracts.receive import header_value
from contracts.support.server import RunningServer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@dataclass(frozen=True)
class ScriptedAnswer:
    """What the recorder answers to one request, after stalling ``delay`` seconds.

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
    query: str = ""
    """The query string as sent, undecoded (without the ``?``)."""
    received_at: float = field(default_factory=time.time)
    """When it arrived, in seconds since the epoch (``time.time()``)."""
    answered_in: float = 0.0
    """Seconds from its arrival until its answer was ready (a scripted stall not counted)."""

    def header(self, name: str) -> str | None:
        """A header by name, in any case."""
        return header_value(self.headers, name)

    @property
    def idempotency_key(self) -> str | None:
        return self.header(IDEMPOTENCY_KEY_HEADER)

    @property
    def succeeded(self) -> bool:
        """True when the answer was 2xx, i.e. the delivery was accepted."""
        return 200 <= self.status < 300


AnswerChooser = Callable[[str, str, Mapping[str, str], bytes], "ScriptedAnswer | None"]
"""Chooses the answer to a request from its method, path, headers and body; ``None`` passes."""


class Recorder:
    """WSGI middleware: record each request, then answer from the script or pass it on.

    Use it as a ``with`` block to serve it over real HTTP on 127.0.0.1 (:attr:`url`), or hand
    it to any WSGI server yourself.
    """

    def __init__(
        self,
        app: WSGIApplication | None = None,
        *,
        default: ScriptedAnswer | None = None,
        path: str = DEFAULT_PATH,
        answer_for: AnswerChooser | None = None,
    ) -> None:
        self.app = app
        self.answer_for = answer_for
        """Called (from the serving threads) for each request the script does not answer."""
        self.default = default or ScriptedAnswer()
        """The answer when the script is used up and there is no ``app``."""
        self.path = path
        self._script: list[ScriptedAnswer] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: RunningServer | None = None

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far (a copy): a scripted one as it arrived, a passed-on one once
        the app answered it."""
        with self._lock:
            return list(self._requests)

    def script(self, *answers: ScriptedAnswer) -> None:
        """Replace the answers still to come: the next requests get these, in order."""
        with self._lock:
            self._script = list(answers)

    def release(self) -> None:
        """End every stall now (done when the server stops)."""
        self._stopping.set()

    # --- serving over HTTP ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The URL to deliver to (:attr:`path` on this server), while it is served."""
        if self._server is None:
            raise RuntimeError("the recorder is not served: use it as a `with` block")
        return self._server.url(self.path)

    def start(self) -> Recorder:
        """Serve this recorder on a free port of 127.0.0.1."""
        self._stopping.clear()
        self._server = RunningServer(self)
        return self

    def stop(self) -> None:
        """End every stall, then stop serving (safe to call more than once)."""
        self.release()
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *raised: object) -> None:
        self.stop()

    # --- the WSGI application -------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        received_at, started = time.time(), time.perf_counter()
        request = Request(environ)
        body = request.get_data(cache=False)

        def record(status: int) -> None:
            query = environ.get("QUERY_STRING", "")
            headers = dict(request.headers)
            answered_in = time.perf_counter() - started
            recorded = RecordedRequest(
                request.method, request.path, headers, body, status, query, received_at, answered_in
            )
            with self._lock:
                self._requests.append(recorded)

        answer = self._next_answer()
        if answer is None and self.answer_for is not None:
            answer = self.answer_for(request.method, request.path, dict(request.headers), body)
        if answer is None and self.app is None:
            answer = self.default
        if answer is None:
            assert self.app is not None
            environ["wsgi.input"] = io.BytesIO(body)  # the same bytes, for the app to read
            response = Response.from_app(self.app, environ, buffered=True)
            record(response.status_code)
            return response(environ, start_response)
        record(answer.status)  # before any stall, so that a stalled request is seen meanwhile
        if answer.cut_after is not None:
            return self._broken_off(answer, environ, start_response)
        if answer.delay:
            self._stopping.wait(answer.delay)
        return answer.response()(environ, start_response)

    def _next_answer(self) -> ScriptedAnswer | None:
        """The next scripted answer; ``None`` when the script is used up."""
        with self._lock:
            return self._script.pop(0) if self._script else None

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
