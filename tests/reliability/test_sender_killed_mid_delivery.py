"""A sender process killed with SIGKILL mid-delivery, then ``hokusai-contract resend``.

The killed sender leaves its claim on the notification in the outbox: a resend must say so
(not call it delivered) and exit 3; ``resend --force`` takes the claim over and delivers it.
A sender still delivering keeps its claim, ``--force`` or not.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from contracts.cli import main
from contracts.conformance import Recorder, ScriptedAnswer
from contracts.envelope import idempotency_key
from contracts.sender import Outbox
from tests.reliability.processes import START_TIMEOUT_S, hokusai_contract
from tests.reliability.support import SECRET, registration
from tests.sender.stored import stored_notifications

SECRET_ENV = "KILLED_SENDER_SECRET"
STALL_SECONDS = 120.0
"""Longer than the test: the receiver answers the first delivery only when released."""
EXIT_HELD = 3


@pytest.fixture
def pending_notification(
    isolated_sender_environment: Path,
    hokusai_recording_receiver: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    """One notification waiting in the outbox for the stalling receiver; its key."""
    payload = registration("KILLED", 1)
    key = idempotency_key(payload["token_id"], payload["model_name"], payload["model_version"])
    Outbox(isolated_sender_environment).add(payload, key, hokusai_recording_receiver.url)
    hokusai_recording_receiver.script(ScriptedAnswer(delay=STALL_SECONDS))
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return key


@contextmanager
def sender_delivering(outbox: Path, receiver: Recorder) -> Iterator[subprocess.Popen[str]]:
    """``hokusai-contract resend`` in its own process, once its request reached the receiver."""
    process = subprocess.Popen(
        [*hokusai_contract(), "resend", "--outbox", str(outbox), "--secret-env", SECRET_ENV],
        env={**os.environ, SECRET_ENV: SECRET},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        started = time.monotonic()
        while not receiver.requests:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() - started < START_TIMEOUT_S, "the sender never sent"
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def resend(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str]:
    """Run ``hokusai-contract resend`` here; its exit code and what it printed."""
    capsys.readouterr()
    exit_code = main(["resend", "--secret-env", SECRET_ENV, *arguments])
    captured = capsys.readouterr()
    return exit_code, captured.out + captured.err


def test_a_sender_killed_mid_delivery_is_reported_and_force_takes_its_claim_over(
    isolated_sender_environment: Path,
    hokusai_recording_receiver: Recorder,
    pending_notification: str,
    capsys: pytest.CaptureFixture[str],
    proven: Callable[..., None],
) -> None:
    outbox = isolated_sender_environment
    with sender_delivering(outbox, hokusai_recording_receiver) as sender:
        sender.kill()  # SIGKILL mid-delivery: no outcome recorded, the claim stays
        sender.wait(timeout=30)

    claim = Outbox(outbox).claim_on(pending_notification)
    assert claim is not None
    claim_left = claim.until - time.time()
    held_exit_code, held_report = resend(capsys)

    assert held_exit_code == EXIT_HELD, held_report
    assert "NOT delivered (in_progress)" in held_report
    assert f"process {sender.pid} on this machine" in held_report
    assert "no longer runs" in held_report and "UTC (for " in held_report
    assert "resend --force' sends it now" in held_report
    assert "was delivered" not in held_report
    assert len(hokusai_recording_receiver.requests) == 1

    forced_exit_code, forced_report = resend(capsys, "--force")

    assert forced_exit_code == 0, forced_report
    assert "delivered (200, 1 attempt(s))" in forced_report
    keys = [request.idempotency_key for request in hokusai_recording_receiver.requests]
    assert keys == [pending_notification] * 2
    assert Outbox(outbox).waiting() == []
    proven(killed_sender_claim_left_s=round(claim_left), deliveries=len(keys))


def test_force_never_takes_a_notification_from_a_sender_still_delivering_it(
    isolated_sender_environment: Path,
    hokusai_recording_receiver: Recorder,
    pending_notification: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    outbox = isolated_sender_environment
    with sender_delivering(outbox, hokusai_recording_receiver) as sender:
        forced_exit_code, forced_report = resend(capsys, "--force")
        requests_meanwhile = len(hokusai_recording_receiver.requests)
        hokusai_recording_receiver.release()  # the receiver answers the stalled delivery now
        sender_output, _ = sender.communicate(timeout=START_TIMEOUT_S)

    assert forced_exit_code == EXIT_HELD, forced_report
    assert "another sender is delivering this notification right now" in forced_report
    assert f"process {sender.pid} on this machine" in forced_report
    assert "--force never takes a claim from a running sender" in forced_report
    assert requests_meanwhile == 1
    assert sender.returncode == 0, sender_output
    (stored,) = stored_notifications(outbox)
    assert stored.delivered and stored.attempts == 1
    assert len(hokusai_recording_receiver.requests) == 1
