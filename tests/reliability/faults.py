"""A WSGI middleware that makes a healthy receiver misbehave, at random from a fixed seed.

It stands in front of the real stub app and, for deliveries only (``POST``), drops the
connection, answers 500, 503 or 429 with ``Retry-After``, or stalls past the sender's read
timeout. Everything else (state and deliveries endpoints) passes through untouched, so a test
can always read the truth.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class Fault(str, Enum):
    """One way the receiver misbehaves on a delivery."""

    NONE = "none"
    DROP_BEFORE = "drop_before"
    """The connection closes before the receiver looks at the delivery."""
    DROP_AFTER = "drop_after"
    """The receiver handles the delivery, then the answer is lost with the connection."""
    SERVER_ERROR = "500"
    UNAVAILABLE = "503"
    RATE_LIMITED = "429"
    STALL = "stall"
    """The answer comes only after the sender's read timeout (the delivery is then handled)."""


class FaultInjector:
    """Wraps ``app``; pick a fault per delivery from ``weights`` with ``random.Random(seed)``."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        seed: int,
        weights: Mapping[Fault, float],
        stall_seconds: float,
        retry_after_seconds: int = 0,
    ) -> None:
        self._app = app
        self._random = random.Random(seed)
        self._faults = list(weights)
        self._weights = [weights[fault] for fault in self._faults]
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self.stall_seconds = stall_seconds
        self.retry_after_seconds = retry_after_seconds
        self.healthy = False
        self.injected: Counter[Fault] = Counter()

    def heal(self) -> None:
        """From now on every delivery passes through: the outage is over."""
        self.healthy = True

    def wait_until_idle(self, timeout: float) -> bool:
        """Wait for deliveries still being handled (a stalled one finishes late)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)

    def _pick(self) -> Fault:
        with self._lock:
            fault = (
                Fault.NONE if self.healthy else self._random.choices(self._faults, self._weights)[0]
            )
            self.injected[fault] += 1
            self._in_flight += 1
        return fault

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return self._app(environ, start_response)
        fault = self._pick()
        try:
            return self._misbehave(fault, environ, start_response)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _misbehave(
        self, fault: Fault, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if fault is Fault.DROP_BEFORE:
            return _drop(environ, start_response)
        if fault is Fault.DROP_AFTER:
            _drain(self._app(environ, _discarding_start_response))
            return _drop(environ, start_response)
        if fault is Fault.STALL:
            time.sleep(self.stall_seconds)
            return self._app(environ, start_response)
        if fault is Fault.NONE:
            return self._app(environ, start_response)
        return _error_answer(fault, self.retry_after_seconds, start_response)


def _discarding_start_response(
    status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
) -> Callable[[bytes], object]:
    return lambda data: None


def _drain(answer: Iterable[bytes]) -> None:
    for _ in answer:
        pass
    close = getattr(answer, "close", None)
    if close is not None:
        close()


def _drop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Shut the client's connection; the server then fails to write and lets it go."""
    connection: socket.socket = environ["werkzeug.socket"]
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    start_response("500 Connection Dropped", [("Content-Length", "0")])
    return [b""]


_ERROR_STATUS = {
    Fault.SERVER_ERROR: "500 Internal Server Error",
    Fault.UNAVAILABLE: "503 Service Unavailable",
    Fault.RATE_LIMITED: "429 Too Many Requests",
}


def _error_answer(
    fault: Fault, retry_after_seconds: int, start_response: StartResponse
) -> Iterable[bytes]:
    body = json.dumps({"success": False, "error": f"injected fault {fault.value}"}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if fault is not Fault.SERVER_ERROR:
        headers.append(("Retry-After", str(retry_after_seconds)))
    start_response(_ERROR_STATUS[fault], headers)
    return [body]
