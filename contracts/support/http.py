"""HTTP requests bounded in total time and in the size of the answer kept.

requests' ``timeout`` bounds each socket operation, not the request: a server that sends a byte
every now and then keeps one going for ever, and one that answers without end fills memory.
A :class:`Watchdog` ends that: once its time is up it shuts the socket of the request its thread
is sending through a :class:`WatchedAdapter` (nothing else ends a read already waiting).
Every request sent through a :func:`bounded_session` runs under one for its timeout in total,
raising :class:`TotalTimeout`, and keeps at most ``limit`` bytes of the answer's body
(:func:`answer_cut_at` says when it was cut). Callers keep the plain requests API.
:func:`describe_connection_failure` names why a request got no answer at all.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from contracts.urls import hide_url_secrets_in_logs

ANSWER_LIMIT = 64 * 1024
"""Bytes of an answer kept: far more than any webhook answer, far less than a runaway one."""
_CHUNK = 8 * 1024
_CUT_AT = "hokusai_answer_cut_at"
_watched = threading.local()


class TotalTimeout(requests.Timeout):
    """The request, answer included, was not over when its timeout had passed in total."""


def bounded_session(
    limit: int = ANSWER_LIMIT, headers: Iterable[tuple[str, str]] = ()
) -> requests.Session:
    """A session whose requests end within their timeout and keep at most ``limit`` bytes,
    each sent with ``headers`` too (a header a request sets itself wins).

    Every body is read before the request returns, even with ``stream=True``. The HTTP
    library's log lines show the URLs' credentials masked.
    """
    hide_url_secrets_in_logs()
    session = requests.Session()
    session.headers.update(dict(headers))
    adapter = _BoundedAdapter(limit)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def answer_cut_at(response: requests.Response) -> int | None:
    """How many bytes of the body were kept when the answer was longer; ``None`` when whole."""
    cut = getattr(response, _CUT_AT, None)
    return cut if isinstance(cut, int) else None


def cut_words(cut_at: int | None) -> str:
    """``answer cut at N bytes``, or nothing, for messages."""
    return f"answer cut at {cut_at} bytes" if cut_at is not None else ""


def _total_seconds(timeout: Any) -> float | None:
    """The whole request's budget: the timeout, or connect plus read for a pair."""
    if isinstance(timeout, tuple):
        return None if None in timeout else float(sum(timeout))
    return None if timeout is None else float(timeout)


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections the :class:`Watchdog` of their thread can shut.

    urllib3 has no hook for the socket a connection opens, so the pools build connections that
    hand it over. They are installed through ``PoolManager.pool_classes_by_scheme``: a public
    attribute urllib3 sets on each manager so that it can be replaced there (its own SOCKS
    manager does the same), unlike ``PoolManager._new_pool``; the pools name their connection
    class in ``ConnectionCls``, part of their documented API.
    """

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools have classes of their own
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


def watch_connections(session: requests.Session) -> None:
    """Mount a :class:`WatchedAdapter` for http(s) on ``session``, unless one is there."""
    for prefix in ("http://", "https://"):
        if not isinstance(session.get_adapter(prefix), WatchedAdapter):
            session.mount(prefix, WatchedAdapter())


class _BoundedAdapter(WatchedAdapter):
    """requests' adapter, reading each answer under a watchdog and up to a size limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        total = _total_seconds(timeout)
        with Watchdog(total) as watchdog:
            try:
                response = super().send(request, True, timeout, verify, cert, proxies)
                self._read_body(response)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                if watchdog.fired:
                    raise TotalTimeout(
                        f"no complete answer within {total:g} s", request=request
                    ) from error
                raise
        return response

    def _read_body(self, response: requests.Response) -> None:
        """Read the body, keeping at most ``limit`` bytes; a longer answer is cut off there."""
        body = bytearray()
        with response:
            for chunk in response.iter_content(_CHUNK):
                body += chunk
                if len(body) > self.limit:
                    del body[self.limit :]
                    setattr(response, _CUT_AT, self.limit)
                    break
        response._content = bytes(body)
        response.content  # noqa: B018 (marks the body as read, as if requests had read it)


class Watchdog:
    """Shuts the socket of the request this thread sends once ``seconds`` have passed.

    Use it as a context manager around the request and the reading of its answer; ``fired``
    then says whether the time ran out. Only connections of a :class:`WatchedAdapter` are
    watched; ``None`` seconds watches nothing.
    """

    def __init__(self, seconds: float | None) -> None:
        self.fired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire) if seconds is not None else None
        if self._timer is not None:
            self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        _watched.watchdog = self
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._timer is not None:
            self._timer.cancel()
        _watched.watchdog = None

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` when the time is up (at once, if it already is)."""
        with self._lock:
            self._socket = sock
            if self.fired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.fired = True
            if self._socket is not None:
                _shut(self._socket)


def _shut(sock: socket.socket) -> None:
    """End every read and write on ``sock`` now (its connection is then discarded)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watch_this(sock: socket.socket | None) -> None:
    """Hand ``sock`` to the watchdog of the request running in this thread, if any."""
    watchdog: Watchdog | None = getattr(_watched, "watchdog", None)
    if watchdog is not None and sock is not None:
        watchdog.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch_this(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_this(self.sock)  # a kept-alive connection is not connected again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch_this(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_this(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPConnectionPool, "https": _WatchedHTTPSConnectionPool}


class FailureKind(str, Enum):
    """Why no HTTP answer came back; values are stable identifiers."""

    REFUSED = "connection_refused"
    NAME_NOT_FOUND = "name_not_found"
    TLS = "tls_failed"
    TIMEOUT = "timeout"
    CLOSED = "connection_closed"
    OTHER = "connection_error"


_HINTS = {
    FailureKind.REFUSED: "nothing listens at that host and port: check the port, and that the "
    "server is running",
    FailureKind.NAME_NOT_FOUND: "the host name does not resolve: check its spelling and DNS",
    FailureKind.TLS: "the TLS handshake failed: check http:// against https:// and the "
    "server's certificate",
    FailureKind.TIMEOUT: "the server did not answer in time: check that it is up and reachable "
    "from here, or raise the timeout",
    FailureKind.CLOSED: "the server closed the connection without an answer: check its logs",
    FailureKind.OTHER: "check the URL and the network between here and the server",
}


_CLOSED = (
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
    http.client.RemoteDisconnected,
    urllib3.exceptions.ProtocolError,
)


@dataclass(frozen=True)
class ConnectionFailure:
    """No answer, in words: ``kind`` to branch on, ``words`` for people, ``hint`` on what to do."""

    kind: FailureKind
    words: str

    @property
    def hint(self) -> str:
        return _HINTS[self.kind]


def describe_connection_failure(error: BaseException) -> ConnectionFailure:
    """Name why a request got no answer, from the operating system's error under the wrapping.

    requests and urllib3 wrap the socket error several layers deep (in ``args``, ``reason``,
    ``__cause__``); the innermost one says what really happened. Never quotes a URL.
    """
    chain = _causes(error)
    for cause in chain:
        if isinstance(cause, ConnectionRefusedError):
            return ConnectionFailure(FailureKind.REFUSED, "connection refused")
        if isinstance(cause, socket.gaierror):
            return ConnectionFailure(FailureKind.NAME_NOT_FOUND, "the host name does not resolve")
        if isinstance(cause, ssl.SSLError):
            return ConnectionFailure(
                FailureKind.TLS, f"the TLS handshake failed ({_reason(cause)})"
            )
    if any(isinstance(cause, (TimeoutError, requests.Timeout, socket.timeout)) for cause in chain):
        return ConnectionFailure(FailureKind.TIMEOUT, "timed out")
    if any(isinstance(cause, _CLOSED) for cause in chain):
        return ConnectionFailure(FailureKind.CLOSED, "the connection was closed without an answer")
    innermost = chain[-1]
    if isinstance(innermost, OSError) and innermost.strerror:
        return ConnectionFailure(FailureKind.OTHER, innermost.strerror)
    return ConnectionFailure(FailureKind.OTHER, type(innermost).__name__)


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and every error under it, outermost first."""
    chain: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and cause not in chain:
        chain.append(cause)
        first = cause.args[0] if cause.args else None
        wrapped = getattr(cause, "reason", None) or getattr(first, "reason", first)
        cause = (
            cause.__cause__
            or cause.__context__
            or (wrapped if isinstance(wrapped, BaseException) else None)
        )
    return chain


def _reason(error: ssl.SSLError) -> str:
    return str(error.reason or error.strerror or type(error).__name__)
