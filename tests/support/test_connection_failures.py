"""Every way a request can get no answer is named once, from the real error, with what to do."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from contracts.support.http import FailureKind, describe_connection_failure


@contextmanager
def listening(behaviour: str) -> Iterator[int]:
    """A real TCP server on loopback: closes each connection unanswered, answers in plain
    HTTP whatever it was sent, or holds the connection without a word."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)  # so that the loop sees ``stop``: closing does not end an accept()
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            if behaviour == "close":
                connection.recv(65536)
                connection.close()
            elif behaviour == "plain http":
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                connection.close()
            else:
                held.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        server.close()
        for connection in held:
            connection.close()
        thread.join(timeout=5)


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def _failure_of(url: str, timeout: float = 5.0) -> requests.RequestException:
    with pytest.raises(requests.RequestException) as caught:
        requests.post(url, data=b"{}", timeout=timeout)
    return caught.value


def test_a_port_nobody_listens_on_is_connection_refused() -> None:
    failure = describe_connection_failure(_failure_of(f"http://127.0.0.1:{_free_port()}/hook"))
    assert failure.kind is FailureKind.REFUSED
    assert failure.words == "connection refused"
    assert "port" in failure.hint


def test_a_host_name_that_does_not_resolve_is_named_as_such() -> None:
    failure = describe_connection_failure(_failure_of("http://no-such-host.invalid/hook"))
    assert failure.kind is FailureKind.NAME_NOT_FOUND
    assert "DNS" in failure.hint


def test_https_to_a_plain_http_server_is_a_tls_failure_that_suggests_the_scheme() -> None:
    with listening("plain http") as port:
        failure = describe_connection_failure(_failure_of(f"https://127.0.0.1:{port}/hook"))
    assert failure.kind is FailureKind.TLS
    assert "http://" in failure.hint and "https://" in failure.hint


def test_a_server_that_closes_without_answering_is_a_closed_connection() -> None:
    with listening("close") as port:
        failure = describe_connection_failure(_failure_of(f"http://127.0.0.1:{port}/hook"))
    assert failure.kind is FailureKind.CLOSED


def test_a_server_that_never_answers_is_a_timeout() -> None:
    with listening("hold") as port:
        error = _failure_of(f"http://127.0.0.1:{port}/hook", timeout=0.3)
    failure = describe_connection_failure(error)
    assert failure.kind is FailureKind.TIMEOUT


def test_the_words_never_quote_the_url() -> None:
    url = f"http://127.0.0.1:{_free_port()}/hook?token=S3CRET"
    failure = describe_connection_failure(_failure_of(url))
    assert "S3CRET" not in failure.words + failure.hint
