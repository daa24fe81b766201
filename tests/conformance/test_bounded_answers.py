"""Every request the conformance tools send ends within its timeout and reads a bounded answer.

A receiver that sends a byte every fifth of a second answers each read in time, so a per-read
timeout never fires; these receivers are real TCP servers doing exactly that, in the status
line and headers or in the body. Each command must end with a message naming the timeout; the
subprocess timeout is only a safety net, far above the timeout under test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from contracts.cli import main
from contracts.conformance.probe import Probe
from contracts.conformance.receiver_under_test import Receiver
from contracts.conformance.schemathesis_run import run_schemathesis
from contracts.support.http import ANSWER_LIMIT
from contracts.support.server import serving
from tests.reliability.processes import hokusai_contract

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

WEBHOOK_PATH = "/api/mlflow/registered"
DRIP_INTERVAL_S = 0.2
DRIP_FOR_S = 60.0
"""Far longer than the safety net: a request not cut off by its timeout cannot end in time."""
SAFETY_NET_S = 30.0
SECRET = "bounded answers secret"
HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n"
    b"Connection: close\r\n\r\n"
)
Result = TypeVar("Result")


class DrippingReceiver:
    """A real TCP server answering every request one byte at a time: from the status line on
    (``phase="head"``) or, after whole headers, in the body (``phase="body"``)."""

    def __init__(self, phase: str) -> None:
        self.phase = phase
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            _read_request(connection)
            answer = HEAD + b" " * 100_000
            if self.phase == "body":
                connection.sendall(HEAD)
                answer = answer[len(HEAD) :]
            for index in range(int(DRIP_FOR_S / DRIP_INTERVAL_S)):
                if self._stop.wait(DRIP_INTERVAL_S):
                    return
                try:
                    connection.sendall(answer[index : index + 1])
                except OSError:
                    return  # the client gave up: what it should do


def _read_request(connection: socket.socket) -> None:
    """Read the request's head and as much body as it announces (or what comes in time)."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        while len(body) < length:
            chunk = connection.recv(65536)
            if not chunk:
                return
            body += chunk
    except OSError:
        return


@pytest.fixture(params=["head", "body"])
def dripping_receiver(request: pytest.FixtureRequest) -> Iterator[DrippingReceiver]:
    receiver = DrippingReceiver(request.param)
    try:
        yield receiver
    finally:
        receiver.close()


def run_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    """One ``hokusai-contract`` run as a child process; it must end before the safety net."""
    return subprocess.run(
        [*hokusai_contract(), *arguments],
        env={**os.environ, "WEBHOOK_SECRET": SECRET},
        capture_output=True,
        text=True,
        timeout=SAFETY_NET_S,
        check=False,
    )


def ends_within_the_safety_net(function: Callable[[], Result]) -> Result:
    """Run ``function`` in a thread and fail if it is still running after the safety net."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(function())
        except BaseException as error:  # handed back to the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(SAFETY_NET_S)
    assert not thread.is_alive(), f"still running after {SAFETY_NET_S:g} s"
    (result,) = outcome
    if isinstance(result, BaseException):
        raise result
    value: Result = result
    return value


# --- a receiver that never finishes answering -----------------------------------------------


def test_send_test_ends_at_its_timeout_when_the_receiver_drips_its_answer(
    dripping_receiver: DrippingReceiver,
) -> None:
    url = dripping_receiver.url
    result = run_command("send-test", "--url", url, "--token", "LSCOR", "--timeout", "1")
    assert result.returncode == 3, result.stdout + result.stderr  # no complete answer
    assert f"TIMEOUT: no complete answer from {url} within 1 s" in result.stdout


def test_check_receiver_ends_at_its_timeout_when_the_receiver_drips_its_answer(
    dripping_receiver: DrippingReceiver,
) -> None:
    result = run_command(
        "check-receiver", "--url", dripping_receiver.url, "--token", "LSCOR",
        "--timeout", "1", "--no-schemathesis",
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr  # no complete answer
    url = dripping_receiver.url
    assert f"no complete answer from {url} within 1 s" in result.stderr


def test_schemathesis_ends_at_its_timeout_when_the_receiver_drips_its_answer(
    dripping_receiver: DrippingReceiver,
) -> None:
    results = ends_within_the_safety_net(
        lambda: run_schemathesis(dripping_receiver.url, SECRET, "LSCOR", timeout=1, max_examples=1)
    )
    assert [result.verdict.value for result in results] == ["fail", "fail"]
    assert all("stopped answering after 1 requests" in result.why for result in results)
    assert all("within 1 s" in result.why for result in results)


# --- a receiver answering far more than any answer needs ------------------------------------


def _megabyte_answer(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"x" * (1024 * 1024)]


@pytest.fixture
def megabyte_answer_url() -> Iterator[str]:
    with serving(_megabyte_answer) as server:
        yield server.url(WEBHOOK_PATH)


def test_send_test_reads_at_most_64_kib_of_an_answer_and_says_it_cut_it(
    megabyte_answer_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    exit_code = main(["send-test", "--url", megabyte_answer_url, "--token", "LSCOR"])
    out = capsys.readouterr().out
    assert exit_code == 1
    assert f"(answer cut at {ANSWER_LIMIT} bytes)" in out
    assert ANSWER_LIMIT == 64 * 1024


def test_a_receiver_check_reads_at_most_64_kib_of_an_answer_and_says_it_cut_it(
    megabyte_answer_url: str,
) -> None:
    with closing(Probe(Receiver(megabyte_answer_url, SECRET, "LSCOR"))) as probe:
        answer = probe.send("big answer", b"{}", {"Content-Type": "application/json"})
    assert answer.status == 200 and answer.body == b"x" * ANSWER_LIMIT
    assert answer.cut_at == ANSWER_LIMIT
    assert answer.summary().endswith(f"(answer cut at {ANSWER_LIMIT} bytes)")
