"""The outbox keeps every notification until it is delivered, across processes and restarts."""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

import contracts
from contracts.conformance import Recorder, ScriptedAnswer
from contracts.envelope import idempotency_key
from contracts.sender import (
    DeliveryPolicy,
    DeliveryReason,
    NotificationOutcome,
    Outbox,
    OutboxEntry,
)
from contracts.sender.notify import Notifier
from contracts.sender.outbox import ClaimHolder, OutboxError, notification_key, registration_of
from tests.sender.claims import claim_in_a_process_that_then_ends
from tests.sender.stored import stored_notifications, waiting_entries

BUILD_ARGUMENTS: dict[str, Any] = {
    "token_id": "LSCOR",
    "model_name": "Sales lead scoring model",
    "model_version": 4,
    "metric_name": "accuracy",
    "baseline_value": 0.933,
}
PAYLOAD = contracts.build_payload(**BUILD_ARGUMENTS)
KEY = idempotency_key("LSCOR", "Sales lead scoring model", "4")
V2_PAYLOAD = contracts.build_model_payload(
    token_id="lscor",
    model_name="Sales lead scoring model",
    model_version=4,
    run_id="abc123",
    primary_metric="accuracy",
    api_schema={"inputSchema": {"type": "object"}, "outputSchema": {}},
)
PAYLOADS = {"v1": PAYLOAD, "v2": V2_PAYLOAD}


def outcome(delivered: bool, attempts: int = 1, status: int | None = 200) -> NotificationOutcome:
    reason = DeliveryReason.DELIVERED if delivered else DeliveryReason.SERVER_ERROR
    message = "delivered (200)" if delivered else "the receiver answered 500: 'boom'"
    return NotificationOutcome(delivered, reason, message, attempts, status, KEY)


def test_a_notification_written_down_survives_reopening_the_file(hokusai_outbox_path: Path) -> None:
    Outbox(hokusai_outbox_path).add(PAYLOAD, KEY, "http://127.0.0.1:9/api/mlflow/registered")

    (entry,) = waiting_entries(Outbox(hokusai_outbox_path))

    assert entry.idempotency_key == KEY and entry.token_id == "LSCOR"
    assert entry.payload == PAYLOAD and entry.model_version == "4"
    assert entry.attempts == 0


def test_a_v2_notification_is_kept_as_given_under_its_registrations_token_and_version(
    hokusai_outbox_path: Path,
) -> None:
    Outbox(hokusai_outbox_path).add(V2_PAYLOAD, KEY, None)

    (entry,) = waiting_entries(Outbox(hokusai_outbox_path))

    assert entry.payload == V2_PAYLOAD and entry.payload["model"]["id"] == "lscor"
    assert (entry.token_id, entry.model_name, entry.model_version) == (
        "LSCOR",
        "Sales lead scoring model",
        "4",
    )
    assert Outbox(hokusai_outbox_path).waiting("LSCOR")


def test_both_shapes_of_one_registration_share_its_idempotency_key() -> None:
    assert notification_key(PAYLOAD) == notification_key(V2_PAYLOAD) == KEY
    assert registration_of(V2_PAYLOAD) == registration_of(PAYLOAD)


@pytest.mark.parametrize("shape", ["v1", "v2"])
def test_a_resend_sends_the_notification_in_the_shape_it_was_stored_in(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder, shape: str
) -> None:
    payload = PAYLOADS[shape]
    Outbox(hokusai_outbox_path).add(payload, KEY, hokusai_recording_receiver.url)

    (result,) = Notifier(Outbox(hokusai_outbox_path), None, "s3cr3t").resend_pending()

    assert result.outcome.delivered
    assert (result.token_id, result.model_name, result.model_version) == (
        "LSCOR",
        "Sales lead scoring model",
        "4",
    )
    (request,) = hokusai_recording_receiver.requests
    received = contracts.validate_payload(request.body)
    assert contracts.payload_shape(received) == shape
    assert {**received, "timestamp": None} == {**payload, "timestamp": None}
    assert request.idempotency_key == KEY


def test_failed_attempts_add_up_and_keep_the_last_error(hokusai_outbox_path: Path) -> None:
    outbox = Outbox(hokusai_outbox_path)
    outbox.add(PAYLOAD, KEY, None)

    outbox.record(outcome(False, attempts=3, status=500))
    outbox.record(outcome(False, attempts=2, status=503))

    (entry,) = waiting_entries(outbox)
    assert entry.attempts == 5
    assert entry.last_status_code == 503 and entry.last_reason is DeliveryReason.SERVER_ERROR
    assert entry.last_error == "the receiver answered 500: 'boom'"


def test_a_delivered_notification_is_no_longer_pending_and_stays_delivered(
    hokusai_outbox_path: Path,
) -> None:
    outbox = Outbox(hokusai_outbox_path)
    outbox.add(PAYLOAD, KEY, None)
    outbox.record(outcome(True))

    outbox.add(contracts.payload.with_fresh_timestamp(PAYLOAD), KEY, "http://other/")

    assert outbox.waiting() == []
    (stored,) = stored_notifications(hokusai_outbox_path)
    assert stored.delivered and stored.url is None and stored.payload == PAYLOAD


def test_the_outbox_never_holds_the_secret(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder
) -> None:
    secret = "a-secret-that-must-not-be-stored"
    hokusai_recording_receiver.default = ScriptedAnswer(500)
    notifier = Notifier(
        Outbox(hokusai_outbox_path), hokusai_recording_receiver.url, secret, sleep=lambda _: None
    )

    notifier.notify(PAYLOAD)

    for path in hokusai_outbox_path.parent.glob(hokusai_outbox_path.name + "*"):
        assert secret.encode() not in path.read_bytes()


def test_an_unwritable_outbox_location_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    with pytest.raises(OutboxError, match="HOKUSAI_OUTBOX"):
        Outbox(blocker / "outbox.sqlite3")


def test_two_resends_at_once_never_get_the_same_notification(hokusai_outbox_path: Path) -> None:
    Outbox(hokusai_outbox_path).add(PAYLOAD, KEY, None)

    first = Outbox(hokusai_outbox_path).claim(KEY, 60)
    second = Outbox(hokusai_outbox_path).claim(KEY, 60)

    assert first is not None and first.idempotency_key == KEY
    assert second is None


def test_a_notification_being_sent_is_not_resent_until_its_outcome_is_recorded(
    hokusai_outbox_path: Path,
) -> None:
    outbox = Outbox(hokusai_outbox_path)
    outbox.add(PAYLOAD, KEY, None, claim_seconds=60)
    assert outbox.claim(KEY, 60) is None

    outbox.record(outcome(False, status=500))

    assert outbox.claim(KEY, 60) is not None


def test_a_claim_left_by_a_process_that_died_runs_out(hokusai_outbox_path: Path) -> None:
    outbox = Outbox(hokusai_outbox_path)
    outbox.add(PAYLOAD, KEY, None, claim_seconds=0.05)
    time.sleep(0.1)

    assert outbox.claim(KEY, 60) is not None


def test_the_waiting_notifications_can_be_limited_to_one_token(hokusai_outbox_path: Path) -> None:
    outbox = Outbox(hokusai_outbox_path)
    other = contracts.build_payload(**{**BUILD_ARGUMENTS, "token_id": "OTHER"})
    outbox.add(PAYLOAD, KEY, None)
    outbox.add(other, "other-key", None)

    assert [entry.token_id for entry, _ in outbox.waiting("OTHER")] == ["OTHER"]
    assert [entry.token_id for entry in waiting_entries(outbox)] == ["LSCOR", "OTHER"]


def test_two_resends_over_many_notifications_never_deliver_one_twice(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # leases as short as they can be, so that sending them all outlasts one
    monkeypatch.setattr("contracts.sender.notify.CLAIM_MARGIN_SECONDS", 0.0)
    hokusai_recording_receiver.default = ScriptedAnswer(delay=0.15)
    policy = DeliveryPolicy(connect_timeout=0.1, read_timeout=0.5, deadline=0.5)
    keys = [f"key-{number:02d}" for number in range(16)]
    for key in keys:
        Outbox(hokusai_outbox_path).add(PAYLOAD, key, None)
    first, second = (
        Notifier(
            Outbox(hokusai_outbox_path, busy_timeout=0.5),
            hokusai_recording_receiver.url,
            "s3cr3t",
            policy,
        )
        for _ in range(2)
    )
    resending = threading.Thread(target=first.resend_pending)

    resending.start()
    time.sleep(first.claim_seconds + 0.2)  # longer than one lease: the first is still sending
    second.resend_pending()
    resending.join()

    delivered = [request.idempotency_key for request in hokusai_recording_receiver.requests]
    assert sorted(delivered) == keys
    assert Outbox(hokusai_outbox_path).waiting() == []


def test_a_notification_another_sender_is_delivering_is_not_sent_again(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder
) -> None:
    Outbox(hokusai_outbox_path).add(PAYLOAD, KEY, None, claim_seconds=60)
    notifier = Notifier(Outbox(hokusai_outbox_path), hokusai_recording_receiver.url, "s3cr3t")

    result = notifier.notify(PAYLOAD)

    assert not result.delivered and result.reason is DeliveryReason.IN_PROGRESS
    assert "another sender is delivering" in result.message
    assert hokusai_recording_receiver.requests == []
    assert Outbox(hokusai_outbox_path).claim(KEY, 60) is None  # the other sender keeps its claim


def test_a_claim_names_the_running_process_that_holds_it(hokusai_outbox_path: Path) -> None:
    outbox = Outbox(hokusai_outbox_path)
    outbox.add(PAYLOAD, KEY, None, claim_seconds=60)

    claim = outbox.claim_on(KEY)

    assert claim is not None and claim.until > time.time() + 50
    assert claim.holder == ClaimHolder.this_process()
    assert claim.holder.is_running() is True


def test_a_claim_held_by_a_running_process_is_never_taken_over(hokusai_outbox_path: Path) -> None:
    outbox = Outbox(hokusai_outbox_path)
    outbox.add(PAYLOAD, KEY, None, claim_seconds=60)
    claim = outbox.claim_on(KEY)
    assert claim is not None

    assert outbox.take_over(KEY, claim, 60) is None
    assert outbox.claim_on(KEY) == claim


def test_a_claim_left_by_a_process_that_ended_can_be_taken_over_once(
    hokusai_outbox_path: Path,
) -> None:
    claim_in_a_process_that_then_ends(hokusai_outbox_path, PAYLOAD, KEY)
    outbox = Outbox(hokusai_outbox_path)
    (waiting,) = outbox.waiting()
    entry, claim = waiting
    assert claim is not None and claim.holder is not None
    assert claim.holder.pid != os.getpid() and claim.holder.is_running() is False

    taken = outbox.take_over(KEY, claim, 60)

    assert taken is not None and taken.idempotency_key == KEY == entry.idempotency_key
    assert outbox.take_over(KEY, claim, 60) is None  # the claim is this process's now
    now_held = outbox.claim_on(KEY)
    assert now_held is not None and now_held.holder == ClaimHolder.this_process()


@pytest.mark.parametrize(
    "holder",
    [
        '{"host":"elsewhere","pid":1,"space":"elsewhere b00t pid:[1]","started":"5"}',
        None,
    ],
    ids=["another machine", "an older version"],
)
def test_a_claim_whose_holder_cannot_be_checked_is_never_taken_over(
    hokusai_outbox_path: Path, holder: str | None
) -> None:
    outbox = Outbox(hokusai_outbox_path)
    outbox.add(PAYLOAD, KEY, None)
    with closing(sqlite3.connect(hokusai_outbox_path)) as connection, connection:
        connection.execute(
            "UPDATE notifications SET claimed_until = ?, claimed_by = ?",
            (time.time() + 600, holder),
        )
    claim = outbox.claim_on(KEY)
    assert claim is not None
    assert claim.holder is None or claim.holder.is_running() is None

    assert outbox.take_over(KEY, claim, 60) is None


def test_resend_reports_a_notification_another_sender_holds_and_takes_it_only_when_forced(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder
) -> None:
    Outbox(hokusai_outbox_path).add(PAYLOAD, KEY, hokusai_recording_receiver.url)
    claim_in_a_process_that_then_ends(hokusai_outbox_path, PAYLOAD, KEY)
    notifier = Notifier(Outbox(hokusai_outbox_path), None, "s3cr3t")

    (held,) = notifier.resend_pending()
    (forced,) = notifier.resend_pending(take_over=True)

    assert held.outcome.reason is DeliveryReason.IN_PROGRESS and held.outcome.attempts == 0
    assert "no longer runs" in held.outcome.message and "--force" in held.outcome.message
    assert forced.outcome.delivered
    assert [request.idempotency_key for request in hokusai_recording_receiver.requests] == [KEY]


@contextmanager
def outbox_held_by_another_writer(path: Path) -> Iterator[None]:
    """Another program holds the outbox's write lock until the block ends."""
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


def with_credentials(url: str, userinfo: str = "hook:hunter2") -> str:
    return url.replace("http://", f"http://{userinfo}@", 1)


@pytest.mark.parametrize("shape", ["v1", "v2"])
def test_a_notification_the_outbox_cannot_write_down_is_not_sent_and_nothing_raises(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder, shape: str
) -> None:
    notifier = Notifier(
        Outbox(hokusai_outbox_path, busy_timeout=0.1), hokusai_recording_receiver.url, "s3cr3t"
    )

    with outbox_held_by_another_writer(hokusai_outbox_path):
        result = notifier.notify(PAYLOADS[shape])

    assert not result.delivered and result.reason is DeliveryReason.OUTBOX_ERROR
    assert str(hokusai_outbox_path) in result.message and "locked" in result.message
    assert "hokusai-contract resend --from-mlflow --token LSCOR" in result.message
    assert hokusai_recording_receiver.requests == []


def test_an_outcome_the_outbox_cannot_record_is_still_reported(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(503))
    with ExitStack() as held:
        notifier = Notifier(
            Outbox(hokusai_outbox_path, busy_timeout=0.1),
            hokusai_recording_receiver.url,
            "s3cr3t",
            sleep=lambda _: held.enter_context(outbox_held_by_another_writer(hokusai_outbox_path)),
        )
        result = notifier.notify(PAYLOAD)

    assert result.delivered and result.attempts == 2
    assert "the outbox could not record this" in result.message


def test_a_failure_inside_the_delivery_becomes_an_outcome_counting_its_requests(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder
) -> None:
    def broken_sleep(seconds: float) -> None:
        raise OSError("the clock broke")

    hokusai_recording_receiver.script(ScriptedAnswer(503))
    notifier = Notifier(
        Outbox(hokusai_outbox_path), hokusai_recording_receiver.url, "s3cr3t", sleep=broken_sleep
    )

    result = notifier.notify(PAYLOAD)

    assert not result.delivered and result.reason is DeliveryReason.SENDER_ERROR
    assert "OSError: the clock broke" in result.message and "s3cr3t" not in result.message
    assert result.attempts == len(hokusai_recording_receiver.requests) == 1
    entry = Outbox(hokusai_outbox_path).claim(KEY, 60)
    assert entry is not None and entry.last_reason is DeliveryReason.SENDER_ERROR
    assert entry.attempts == 1


def test_an_answer_broken_off_midway_leaves_the_notification_free_for_a_resend(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder
) -> None:
    hokusai_recording_receiver.default = ScriptedAnswer(500, cut_after=3)
    policy = DeliveryPolicy(max_attempts=2, base_delay=0)
    notifier = Notifier(
        Outbox(hokusai_outbox_path), hokusai_recording_receiver.url, "s3cr3t", policy
    )

    result = notifier.notify(PAYLOAD)

    assert not result.delivered and result.reason is DeliveryReason.SERVER_ERROR
    entry = Outbox(hokusai_outbox_path).claim(KEY, 60)
    assert entry is not None and entry.attempts == 2 and entry.last_status_code == 500


def test_a_resend_during_a_delivery_never_gets_the_notification(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder
) -> None:
    hokusai_recording_receiver.default = ScriptedAnswer(503)
    policy = DeliveryPolicy(
        connect_timeout=0.1,
        read_timeout=0.1,
        max_attempts=5,
        base_delay=1,
        max_delay=1,
        deadline=0.3,
    )
    seed = next(s for s in range(1000) if random.Random(s).uniform(0, 1) > 0.95)
    notifier = Notifier(
        Outbox(hokusai_outbox_path),
        hokusai_recording_receiver.url,
        "s3cr3t",
        policy,
        rng=random.Random(seed),
    )
    delivering = threading.Thread(target=notifier.notify, args=(PAYLOAD,))
    claimed: list[OutboxEntry] = []

    delivering.start()
    while delivering.is_alive():
        taken = Outbox(hokusai_outbox_path).claim(KEY, 60)
        if taken is not None:
            claimed.append(taken)
    delivering.join()

    claimed_mid_delivery = [entry for entry in claimed if entry.attempts == 0]
    assert claimed_mid_delivery == []
    (entry,) = waiting_entries(Outbox(hokusai_outbox_path))
    assert entry.attempts == len(hokusai_recording_receiver.requests) == 1


def test_the_outbox_never_holds_a_password_from_the_webhook_url(
    hokusai_outbox_path: Path, hokusai_recording_receiver: Recorder
) -> None:
    hokusai_recording_receiver.default = ScriptedAnswer(500)
    url = with_credentials(hokusai_recording_receiver.url)
    notifier = Notifier(Outbox(hokusai_outbox_path), url, "s3cr3t", DeliveryPolicy(max_attempts=1))

    result = notifier.notify(PAYLOAD)

    assert hokusai_recording_receiver.requests[0].header("Authorization") is not None
    (entry,) = waiting_entries(Outbox(hokusai_outbox_path))
    assert entry.url == hokusai_recording_receiver.url and entry.url_credentials_dropped
    assert "hunter2" not in result.message
    for path in hokusai_outbox_path.parent.glob(hokusai_outbox_path.name + "*"):
        assert b"hunter2" not in path.read_bytes()


def test_the_outbox_never_holds_a_token_from_the_webhook_url_query_and_resends_with_it(
    hokusai_outbox_path: Path,
    hokusai_recording_receiver: Recorder,
    dead_address: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hokusai_recording_receiver.script(ScriptedAnswer(500))
    url = hokusai_recording_receiver.url + "?v=1&access_token=S3CRET-in-query"
    notifier = Notifier(Outbox(hokusai_outbox_path), url, "s3cr3t", DeliveryPolicy(max_attempts=1))
    dead = f"{dead_address}/hook?token=S3CRET-in-query"

    tls_to_plain_http = url.replace("http://", "https://", 1)

    refused = notifier.notify(PAYLOAD)
    unreachable = notifier.notify({**PAYLOAD, "model_version": "5"}, url=dead)
    no_tls = notifier.notify({**PAYLOAD, "model_version": "6"}, url=tls_to_plain_http)
    entry = waiting_entries(Outbox(hokusai_outbox_path))[0]
    resent = notifier.resend_pending()[0]

    assert entry.url == hokusai_recording_receiver.url + "?v=1&access_token=***"
    assert entry.url_credentials_dropped and resent.outcome.delivered
    assert "could not reach http://127.0.0.1" in unreachable.message
    assert "could not reach https://127.0.0.1" in no_tls.message
    shown = refused.message + unreachable.message + no_tls.message + caplog.text
    assert "S3CRET" not in shown
    for path in hokusai_outbox_path.parent.glob(hokusai_outbox_path.name + "*"):
        assert b"S3CRET" not in path.read_bytes()


def write_an_outbox_from_before_credentials_were_tracked(path: Path, url: str | None) -> None:
    """An outbox file as older versions wrote it: no ``url_credentials_dropped`` column."""
    with closing(sqlite3.connect(path)) as old, old:
        old.execute(
            "CREATE TABLE notifications (idempotency_key TEXT PRIMARY KEY, token_id TEXT NOT "
            "NULL, model_name TEXT NOT NULL, model_version TEXT NOT NULL, payload TEXT NOT NULL, "
            "url TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_reason TEXT, last_error TEXT, "
            "last_status_code INTEGER, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
            "delivered_at TEXT, claimed_until REAL)"
        )
        old.execute(
            "INSERT INTO notifications (idempotency_key, token_id, model_name, model_version, "
            "payload, url, created_at, updated_at) VALUES (?, 'LSCOR', ?, '4', ?, ?, 'a', 'a')",
            (KEY, PAYLOAD["model_name"], contracts.serialize(PAYLOAD).decode(), url),
        )


def test_an_outbox_file_from_before_credentials_were_tracked_still_opens(
    hokusai_outbox_path: Path,
) -> None:
    write_an_outbox_from_before_credentials_were_tracked(hokusai_outbox_path, None)

    (entry,) = waiting_entries(Outbox(hokusai_outbox_path))

    assert entry.idempotency_key == KEY and not entry.url_credentials_dropped


def test_an_outbox_file_from_before_credentials_were_tracked_loses_their_passwords(
    hokusai_outbox_path: Path,
) -> None:
    url = "http://127.0.0.1:9/api/mlflow/registered"
    write_an_outbox_from_before_credentials_were_tracked(hokusai_outbox_path, with_credentials(url))

    outbox = Outbox(hokusai_outbox_path)
    (entry,) = waiting_entries(outbox)
    outbox.close()

    assert entry.url == url and entry.url_credentials_dropped
    for path in hokusai_outbox_path.parent.glob(hokusai_outbox_path.name + "*"):
        assert b"hunter2" not in path.read_bytes()
