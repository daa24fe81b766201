"""A real HTTP server for any WSGI application, in a background thread.

One implementation serves the stub site standalone, in tests, and the deliberately broken or
fault-injecting receivers the harness judges: all of them speak real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import unquote

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from contracts.support.stopping import StopsOnExit

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

DEFAULT_TIMEOUT = 30.0
"""Seconds a connection may stay silent (before its request, or within its body) before it is
closed, so that idle or slow clients cannot hold the server's threads."""


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler, telling the app what the client really sent.

    It keeps the request path as sent (``//a/b`` stays ``//a/b``), passes every Content-Length
    header (so that the app can refuse an ambiguous length), and sends ``100 Continue`` only
    when the app reads the body: an app that refuses a request first never invites its body.
    """

    access_log = False
    """Werkzeug's per-request log line; off by default, the apps log what matters."""
    _expects_continue = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.access_log:
            super().log_request(code, size)

    def handle_expect_100(self) -> bool:
        self._expects_continue = True  # sent by the body's first read (make_environ)
        return True

    def run_wsgi(self) -> None:
        # Werkzeug would answer "Expect: 100-continue" at once, before the app could refuse.
        if self.headers.get("Expect", "").strip(" \t").lower() == "100-continue":
            del self.headers["Expect"]
        super().run_wsgi()

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        target = self.requestline.split()[1]  # self.path has a leading "//" folded into "/"
        if target.startswith("//"):
            # As werkzeug decodes a path, which it reads from self.path (PEP 3333: latin-1).
            environ["PATH_INFO"] = unquote(target.partition("?")[0]).encode().decode("latin-1")
        lengths = self.headers.get_all("Content-Length", [])
        if len(lengths) > 1:  # werkzeug keeps the last one; join them like any repeated header
            environ["CONTENT_LENGTH"] = ",".join(lengths)
        if self._expects_continue:
            environ["HTTP_EXPECT"] = "100-continue"
            environ["wsgi.input"] = _ContinueOnFirstRead(environ["wsgi.input"], self.wfile)
        return environ


class _ContinueOnFirstRead(io.RawIOBase):
    """A request body that sends ``100 Continue`` to its client just before it is first read."""

    def __init__(self, body: io.RawIOBase | io.BufferedIOBase, wfile: io.BufferedIOBase) -> None:
        self._body = body
        self._wfile = wfile
        self._invited = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int | None:
        if not self._invited:
            self._invited = True
            self._wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._wfile.flush()
        return self._body.readinto(buffer)


class RunningServer(StopsOnExit):
    """A WSGI app served over HTTP in a daemon thread; stop it with :meth:`stop` or ``with``.

    ``timeout`` closes a connection that stays silent that many seconds (``None``: never).
    """

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threaded: bool = True,
        access_log: bool = False,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        class Handler(_RequestHandler):
            """This server's own class: werkzeug sets ``protocol_version`` on it."""

        Handler.timeout = timeout
        Handler.access_log = access_log
        # Bind here so that a taken port or an unknown address raises OSError to the caller
        # (werkzeug would print its own message and exit the process).
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.create_server((host, port), family=family) as listening:
            self.port: int = listening.getsockname()[1]
            self._server: BaseWSGIServer = make_server(
                host,
                self.port,
                app,
                threaded=threaded,
                request_handler=Handler,
                fd=listening.fileno(),
            )
        self.host = host
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits at most this long for the loop
            name=f"http-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def stop(self) -> None:
        """Stop accepting requests and wait for the serving thread to end."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def serving(
    app: WSGIApplication, host: str = "127.0.0.1", port: int = 0
) -> Iterator[RunningServer]:
    """Serve ``app`` for the duration of a ``with`` block; a free port unless one is given."""
    server = RunningServer(app, host, port)
    try:
        yield server
    finally:
        server.stop()


logging.getLogger("werkzeug").setLevel(logging.WARNING)
