"""The outbox keeps every notification until it is delivered, across processes and restarts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

import contracts
from contracts.envelope import idempotency_key
from contracts.sender import DeliveryReason, NotificationOutcome, Outbox
from contracts.sender.notify import Notifier
from contracts.sender.outbox import OutboxError
from contracts.sender.testing import RunningRecordingReceiver, ScriptedAnswer

BUILD_ARGUMENTS: dict[str, Any] = {
    "token_id": "LSCOR",
    "model_name": "Sales lead scoring model",
    "model_version": 4,
    "metric_name": "accuracy",
    "baseline_value": 0.933,
}
PAYLOAD = contracts.build_payload(**BUILD_ARGUMENTS)
KEY = idempotency_key("LSCOR", "Sales lead scoring model", "4")


def outcome(delivered: bool, attempts: int = 1, status: int | None = 200) -> NotificationOutcome:
    reason = DeliveryReason.DELIVERED if delivered else DeliveryReason.SERVER_ERROR
    message = "delivered (200)" if delivered else "the receiver answered 500: 'boom'"
    return NotificationOutcome(delivered, reason, message, attempts, status, KEY)


def test_a_notification_written_down_survives_reopening_the_file(outbox_path: Path) -> None:
    Outbox(outbox_path).add(PAYLOAD, KEY, "http://127.0.0.1:9/api/mlflow/registered")

    (entry,) = Outbox(outbox_path).pending()

    assert entry.idempotency_key == KEY and entry.token_id == "LSCOR"
    assert entry.payload == PAYLOAD and entry.model_version == "4"
    assert entry.attempts == 0 and not entry.delivered


def test_failed_attempts_add_up_and_keep_the_last_error(outbox_path: Path) -> None:
    outbox = Outbox(outbox_path)
    outbox.add(PAYLOAD, KEY, None)

    outbox.record(outcome(False, attempts=3, status=500))
    outbox.record(outcome(False, attempts=2, status=503))

    entry = outbox.get(KEY)
    assert entry is not None and entry.attempts == 5
    assert entry.last_status_code == 503 and entry.last_reason is DeliveryReason.SERVER_ERROR
    assert entry.last_error == "the receiver answered 500: 'boom'"


def test_a_delivered_notification_is_no_longer_pending_and_stays_delivered(
    outbox_path: Path,
) -> None:
    outbox = Outbox(outbox_path)
    outbox.add(PAYLOAD, KEY, None)
    outbox.record(outcome(True))

    outbox.add(contracts.payload.with_fresh_timestamp(PAYLOAD), KEY, "http://other/")

    assert outbox.pending() == []
    (entry,) = outbox.entries()
    assert entry.delivered and entry.url is None and entry.payload == PAYLOAD


def test_the_outbox_never_holds_the_secret(
    outbox_path: Path, recording_receiver: RunningRecordingReceiver
) -> None:
    secret = "a-secret-that-must-not-be-stored"
    recording_receiver.app.default = ScriptedAnswer(500)
    notifier = Notifier(Outbox(outbox_path), recording_receiver.url, secret, sleep=lambda _: None)

    notifier.notify(PAYLOAD)

    for path in outbox_path.parent.glob(outbox_path.name + "*"):
        assert secret.encode() not in path.read_bytes()


def test_an_unwritable_outbox_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    with pytest.raises(OutboxError, match="HOKUSAI_OUTBOX"):
        Outbox(blocker / "outbox.sqlite3")


def test_two_resends_at_once_never_get_the_same_notification(outbox_path: Path) -> None:
    Outbox(outbox_path).add(PAYLOAD, KEY, None)

    first = Outbox(outbox_path).claim_pending(60)
    second = Outbox(outbox_path).claim_pending(60)

    assert [entry.idempotency_key for entry in first] == [KEY]
    assert second == []


def test_a_notification_being_sent_is_not_resent_until_its_outcome_is_recorded(
    outbox_path: Path,
) -> None:
    outbox = Outbox(outbox_path)
    outbox.add(PAYLOAD, KEY, None, claim_seconds=60)
    assert outbox.claim_pending(60) == []

    outbox.record(outcome(False, status=500))

    assert [entry.idempotency_key for entry in outbox.claim_pending(60)] == [KEY]


def test_a_claim_left_by_a_process_that_died_runs_out(outbox_path: Path) -> None:
    outbox = Outbox(outbox_path)
    outbox.add(PAYLOAD, KEY, None, claim_seconds=0.05)
    time.sleep(0.1)

    assert [entry.idempotency_key for entry in outbox.claim_pending(60)] == [KEY]


def test_a_claim_can_be_limited_to_one_token(outbox_path: Path) -> None:
    outbox = Outbox(outbox_path)
    other = contracts.build_payload(**{**BUILD_ARGUMENTS, "token_id": "OTHER"})
    outbox.add(PAYLOAD, KEY, None)
    outbox.add(other, "other-key", None)

    assert [entry.token_id for entry in outbox.claim_pending(60, "OTHER")] == ["OTHER"]
    assert [entry.token_id for entry in outbox.pending()] == ["LSCOR", "OTHER"]
