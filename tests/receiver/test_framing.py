"""How the stub site frames requests: hand-written HTTP bytes over a raw socket to a real server.

Every delivery here is validly signed, so a refusal is the framing's doing alone. A badly
framed request gets a 400 the sender will not retry, a recorded line in the deliveries log and
no traceback; a body exactly at the limit is a body within it.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import contracts
from contracts.receiver import RejectReason, RunningStubSite, create_app
from contracts.support.server import RunningServer
from tests.receiver.support import SECRET, assert_answer_follows_the_contract, registration

SAFETY_TIMEOUT = 30.0
"""How long a test waits on the server before it gives up: a safety net, never a measure."""


def signed() -> contracts.SignedDelivery:
    return contracts.signed_delivery(registration(), SECRET)


def head(
    delivery: contracts.SignedDelivery, *framing: str, target: str = contracts.DEFAULT_PATH
) -> bytes:
    """A request line and header block for ``delivery``, with the given framing headers."""
    lines = [f"POST {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in delivery.headers.items()]
    return ("\r\n".join([*lines, *framing]) + "\r\n\r\n").encode("latin-1")


def chunked(body: bytes) -> bytes:
    return f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=SAFETY_TIMEOUT)


def read_to_close(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def exchange(port: int, request: bytes, *, half_close: bool = False) -> bytes:
    """Send ``request`` on a fresh connection (then maybe stop writing); all that comes back."""
    with connect(port) as connection:
        connection.sendall(request)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        return read_to_close(connection)


def final_answer(reply: bytes) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the final response, after any ``100 Continue``."""
    while reply.startswith(b"HTTP/1.1 100 "):
        reply = reply.partition(b"\r\n\r\n")[2]
    status_line, _, rest = reply.partition(b"\r\n")
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert isinstance(body, dict)
    return int(status_line.split()[1]), body


def assert_no_error_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


def assert_refused_and_recorded(site: RunningStubSite, reply: bytes) -> dict[str, Any]:
    status, body = final_answer(reply)
    assert (status, body["reason"]) == (400, RejectReason.MALFORMED_REQUEST.value), body
    assert body["success"] is False
    assert len(body["error"].splitlines()) == 1
    assert [(d["verdict"], d["status_code"]) for d in site.deliveries()] == [
        (RejectReason.MALFORMED_REQUEST.value, 400)
    ]
    assert site.token("LSCOR")["status"] == "DRAFT"
    return body


# --- framing the sender got wrong: 400, recorded, no traceback ------------------------------

Framing = Callable[[contracts.SignedDelivery], bytes]

BROKEN_FRAMING: dict[str, tuple[Framing, str]] = {
    "a malformed chunk header": (
        lambda d: head(d, "Transfer-Encoding: chunked") + b"zz\r\n" + chunked(d.body),
        "chunk",
    ),
    "two Content-Length headers": (
        lambda d: (
            head(d, f"Content-Length: {len(d.body)}", f"Content-Length: {len(d.body)}") + d.body
        ),
        "Content-Length",
    ),
    "chunked with a Content-Length": (
        lambda d: (
            head(d, "Transfer-Encoding: chunked", f"Content-Length: {len(d.body)}")
            + chunked(d.body)
        ),
        "both",
    ),
    "a Content-Length that is not a number": (
        lambda d: head(d, f"Content-Length: {len(d.body)}abc") + d.body,
        "Content-Length",
    ),
}


@pytest.mark.parametrize("framing", BROKEN_FRAMING.values(), ids=BROKEN_FRAMING.keys())
def test_a_badly_framed_delivery_gets_400_and_is_recorded_without_a_traceback(
    site: RunningStubSite, caplog: pytest.LogCaptureFixture, framing: tuple[Framing, str]
) -> None:
    build, named = framing
    body = assert_refused_and_recorded(site, exchange(site.server.port, build(signed())))
    assert named in body["error"]
    assert_no_error_logged(caplog)


def test_a_body_cut_short_by_a_half_close_gets_400_and_is_recorded_without_a_traceback(
    site: RunningStubSite, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = signed()
    request = head(delivery, f"Content-Length: {len(delivery.body)}") + delivery.body[:10]
    reply = exchange(site.server.port, request, half_close=True)
    body = assert_refused_and_recorded(site, reply)
    assert f"{len(delivery.body)} bytes its Content-Length declares" in body["error"]
    assert_no_error_logged(caplog)


# --- the size limit -------------------------------------------------------------------------


def padded_to(size: int) -> contracts.SignedDelivery:
    """The example delivery, signed, with whitespace inside its JSON to make it ``size`` bytes."""
    body = contracts.serialize(registration())
    return contracts.signed_delivery(
        registration(), SECRET, body=body[:-1] + b" " * (size - len(body)) + b"}"
    )


def post_chunked(site: RunningStubSite, delivery: contracts.SignedDelivery) -> requests.Response:
    pieces = (delivery.body[start : start + 65536] for start in range(0, len(delivery.body), 65536))
    answer = requests.post(site.webhook_url, data=pieces, headers=delivery.headers, timeout=30)
    assert answer.request.headers["Transfer-Encoding"] == "chunked"
    return answer


def test_a_chunked_body_exactly_at_the_limit_is_accepted(site: RunningStubSite) -> None:
    delivery = padded_to(contracts.receiver.DEFAULT_MAX_BODY_BYTES)
    assert len(delivery.body) == contracts.receiver.DEFAULT_MAX_BODY_BYTES
    assert_answer_follows_the_contract(post_chunked(site, delivery), 200)
    assert site.token("LSCOR")["status"] == "REGISTERED"


def test_a_chunked_body_one_byte_over_the_limit_gets_413(site: RunningStubSite) -> None:
    delivery = padded_to(contracts.receiver.DEFAULT_MAX_BODY_BYTES + 1)
    answer = post_chunked(site, delivery)
    assert_answer_follows_the_contract(answer, 413, RejectReason.BODY_TOO_LARGE)
    assert site.token("LSCOR")["status"] == "DRAFT"


# --- Expect: 100-continue -------------------------------------------------------------------


def test_expect_100_continue_over_the_limit_gets_413_without_inviting_the_body(
    site: RunningStubSite,
) -> None:
    too_large = contracts.receiver.DEFAULT_MAX_BODY_BYTES + 1
    request = head(signed(), "Expect: 100-continue", f"Content-Length: {too_large}")
    reply = exchange(site.server.port, request)  # the body is never sent
    assert reply.startswith(b"HTTP/1.1 413 "), reply
    assert final_answer(reply)[1]["reason"] == RejectReason.BODY_TOO_LARGE.value


def test_expect_100_continue_within_the_limit_gets_one_100_then_the_answer(
    site: RunningStubSite,
) -> None:
    delivery = signed()
    with connect(site.server.port) as connection:
        connection.sendall(
            head(delivery, "Expect: 100-continue", f"Content-Length: {len(delivery.body)}")
        )
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = connection.recv(1)
            assert chunk, "the server closed the connection instead of answering 100 Continue"
            interim += chunk
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        connection.sendall(delivery.body)
        rest = read_to_close(connection)
    assert b"100 Continue" not in rest
    status, body = final_answer(rest)
    assert (status, body["status"]) == (200, "REGISTERED")


# --- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slashes", ["//", "///"])
def test_extra_slashes_before_the_webhook_path_are_an_unknown_path(
    site: RunningStubSite, slashes: str
) -> None:
    delivery = signed()
    target = slashes + contracts.DEFAULT_PATH.lstrip("/")
    request = head(delivery, f"Content-Length: {len(delivery.body)}", target=target) + delivery.body
    status, body = final_answer(exchange(site.server.port, request))
    assert (status, body["reason"]) == (404, RejectReason.UNKNOWN_PATH.value)
    assert target in body["error"]
    assert site.token("LSCOR")["status"] == "DRAFT"
    assert site.deliveries() == []


# --- slow and idle connections --------------------------------------------------------------


@pytest.fixture
def impatient_site(tmp_path: Path) -> Iterator[RunningStubSite]:
    """A stub site whose server closes connections silent for half a second."""
    app = create_app(tmp_path / "site.sqlite3", secrets=SECRET, tokens=["LSCOR"])
    site = RunningStubSite(app, RunningServer(app, timeout=0.5))
    try:
        yield site
    finally:
        site.stop()


def test_an_idle_connection_is_closed_by_the_server(impatient_site: RunningStubSite) -> None:
    with connect(impatient_site.server.port) as connection:
        assert read_to_close(connection) == b""  # closed; the socket timeout is a safety net


def test_a_body_that_goes_silent_gets_400_and_is_recorded(
    impatient_site: RunningStubSite,
) -> None:
    delivery = signed()
    request = head(delivery, f"Content-Length: {len(delivery.body)}") + delivery.body[:10]
    assert_refused_and_recorded(impatient_site, exchange(impatient_site.server.port, request))
