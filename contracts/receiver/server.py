"""A real HTTP server for any WSGI application, in a background thread.

One implementation serves the stub site standalone, in tests, and the deliberately broken or
fault-injecting receivers the harness judges: all of them speak real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class _QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its per-request access log (the apps log what matters)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class RunningServer:
    """A WSGI app served over HTTP in a daemon thread; stop it with :meth:`stop` or ``with``."""

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        threaded: bool = True,
        access_log: bool = False,
    ) -> None:
        handler = WSGIRequestHandler if access_log else _QuietRequestHandler
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
                request_handler=handler,
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

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


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
