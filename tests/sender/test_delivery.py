"""Delivery over real HTTP: what is retried, what is not, and what each attempt carries."""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import contracts
from contracts.conformance import Recorder, ScriptedAnswer
from contracts.sender.delivery import (
    RETRY_AFTER_LIMIT,
    USER_AGENT,
    DeliveryPolicy,
    DeliveryReason,
    NotificationOutcome,
    WebhookDelivery,
    backoff_delay,
    parse_retry_after,
    plan_retry,
)
from contracts.support.server import RunningServer, serving

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SECRET = "s3cr3t-for-delivery-tests"
KEY = "0b8a3c6e-1d2f-5a4b-8c7d-9e0f1a2b3c4d"
PAYLOAD = contracts.build_payload(
    token_id="LSCOR",
    model_name="Sales lead scoring model",
    model_version=4,
    metric_name="accuracy",
    baseline_value=0.933,
    mlflow_run_id="abc123",
    tags={"hokusai_token_id": "LSCOR", "note": "caf\u00e9"},
)

V2_PAYLOAD = contracts.build_model_payload(
    token_id="LSCOR",
    model_name="Sales lead scoring model",
    model_version=4,
    run_id="abc123",
    primary_metric="accuracy",
)


@pytest.fixture
def sleeps() -> list[float]:
    """The waits a delivery asked for, kept instead of slept. The clock stays real, so every
    attempt's timeouts come from the time really left (skipped waits only leave more)."""
    return []


@pytest.fixture
def deliver_to(fast_policy: DeliveryPolicy, sleeps: list[float]) -> Any:
    def deliver(url: str, policy: DeliveryPolicy = fast_policy) -> Any:
        delivery = WebhookDelivery(url, SECRET, policy, sleep=sleeps.append)
        try:
            return delivery.deliver(PAYLOAD, KEY)
        finally:
            delivery.close()

    return deliver


def test_a_delivery_is_signed_over_the_exact_bytes_the_receiver_got(
    hokusai_recording_receiver: Recorder, deliver_to: Any
) -> None:
    outcome = deliver_to(hokusai_recording_receiver.url)

    assert outcome.delivered and outcome.reason is DeliveryReason.DELIVERED
    (request,) = hokusai_recording_receiver.requests
    assert contracts.verify(request.body, request.header("X-Hokusai-Signature"), SECRET)
    assert request.header("Content-Type") == "application/json"
    assert request.header("X-Hokusai-Event") == "model_registered"
    assert request.header("X-Hokusai-Idempotency-Key") == KEY
    assert request.header("User-Agent") == USER_AGENT
    assert request.body == contracts.serialize(contracts.parse_body(request.body))
    received = contracts.validate_payload(request.body)
    assert {k: v for k, v in received.items() if k != "timestamp"} == {
        k: v for k, v in PAYLOAD.items() if k != "timestamp"
    }


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_retryable_answer_is_retried_with_the_same_key_and_a_v1_body_stamped_anew(
    hokusai_recording_receiver: Recorder,
    deliver_to: Any,
    sleeps: list[float],
    status: int,
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(status, {"success": False, "error": "busy"}))

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert outcome.delivered and outcome.attempts == 2
    first, second = hokusai_recording_receiver.requests
    assert first.idempotency_key == second.idempotency_key == KEY
    for request in (first, second):
        assert contracts.verify(request.body, request.header("X-Hokusai-Signature"), SECRET)
    first_time = contracts.parse_timestamp(contracts.parse_body(first.body)["timestamp"])
    second_time = contracts.parse_timestamp(contracts.parse_body(second.body)["timestamp"])
    assert second_time > first_time
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.01


def test_a_v2_body_is_retried_as_the_same_signed_bytes_stamped_once_to_the_microsecond(
    hokusai_recording_receiver: Recorder, fast_policy: DeliveryPolicy, sleeps: list[float]
) -> None:
    hokusai_recording_receiver.script(*[ScriptedAnswer(503)] * 2)
    delivery = WebhookDelivery(
        hokusai_recording_receiver.url, SECRET, fast_policy, sleep=sleeps.append
    )

    outcome = delivery.deliver(V2_PAYLOAD, KEY)
    delivery.close()

    assert outcome.delivered and outcome.attempts == 3
    first, *retries = hokusai_recording_receiver.requests
    assert all(retry.body == first.body for retry in retries)
    assert all(retry.headers == first.headers for retry in retries)
    assert contracts.verify(first.body, first.header("X-Hokusai-Signature"), SECRET)
    received = contracts.validate_payload(first.body)
    assert {**received, "timestamp": None} == {**V2_PAYLOAD, "timestamp": None}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", received["timestamp"])


def test_each_delivery_of_a_v2_body_is_stamped_anew(
    hokusai_recording_receiver: Recorder, fast_policy: DeliveryPolicy
) -> None:
    delivery = WebhookDelivery(hokusai_recording_receiver.url, SECRET, fast_policy)

    delivery.deliver(V2_PAYLOAD, KEY)
    delivery.deliver(V2_PAYLOAD, KEY)
    delivery.close()

    first, second = (contracts.parse_body(r.body) for r in hokusai_recording_receiver.requests)
    assert contracts.parse_timestamp(second["timestamp"]) > contracts.parse_timestamp(
        first["timestamp"]
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 422])
def test_an_answer_retrying_cannot_fix_is_not_retried(
    hokusai_recording_receiver: Recorder, deliver_to: Any, status: int
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(status, {"success": False, "error": "nope"}))

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert not outcome.delivered and outcome.reason is DeliveryReason.REJECTED
    assert outcome.attempts == 1 and outcome.last_status_code == status
    assert len(hokusai_recording_receiver.requests) == 1


def test_a_401_reports_the_receivers_own_words_and_the_likely_cause(
    hokusai_recording_receiver: Recorder, deliver_to: Any
) -> None:
    hokusai_recording_receiver.script(
        ScriptedAnswer(401, {"success": False, "error": "Invalid webhook signature"})
    )

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert "401" in outcome.message and "Invalid webhook signature" in outcome.message
    assert "same webhook secret" in outcome.message
    assert SECRET not in outcome.message


def test_a_refused_connection_is_retried_until_the_attempts_run_out(
    dead_url: str, deliver_to: Any, fast_policy: DeliveryPolicy, sleeps: list[float]
) -> None:
    outcome = deliver_to(dead_url)

    assert not outcome.delivered and outcome.reason is DeliveryReason.UNREACHABLE
    assert outcome.attempts == fast_policy.max_attempts
    assert len(sleeps) == fast_policy.max_attempts - 1
    assert "could not reach" in outcome.message and "connection refused" in outcome.message
    assert outcome.last_status_code is None


def test_a_stall_longer_than_the_read_timeout_is_retried(
    hokusai_recording_receiver: Recorder, deliver_to: Any, fast_policy: DeliveryPolicy
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(delay=fast_policy.read_timeout + 2))

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert outcome.delivered and outcome.attempts == 2
    assert len(hokusai_recording_receiver.requests) == 2


def test_a_receiver_that_always_stalls_ends_timed_out(
    hokusai_recording_receiver: Recorder, deliver_to: Any, fast_policy: DeliveryPolicy
) -> None:
    hokusai_recording_receiver.default = ScriptedAnswer(delay=fast_policy.read_timeout + 2)

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert not outcome.delivered and outcome.reason is DeliveryReason.TIMED_OUT
    assert outcome.attempts == len(hokusai_recording_receiver.requests) == fast_policy.max_attempts


def test_retry_after_in_seconds_is_waited_instead_of_the_backoff(
    hokusai_recording_receiver: Recorder, deliver_to: Any, sleeps: list[float]
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(503, headers={"Retry-After": "2"}))

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert outcome.delivered and outcome.attempts == 2
    assert sleeps == [2.0]


def test_retry_after_as_an_http_date_is_waited(
    hokusai_recording_receiver: Recorder, deliver_to: Any, sleeps: list[float]
) -> None:
    later = datetime.now(timezone.utc) + timedelta(seconds=3)
    hokusai_recording_receiver.script(
        ScriptedAnswer(429, headers={"Retry-After": email.utils.format_datetime(later, True)})
    )

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert outcome.delivered
    assert len(sleeps) == 1 and 1.0 <= sleeps[0] <= 3.0


def test_retry_after_past_the_deadline_ends_the_delivery_without_waiting(
    hokusai_recording_receiver: Recorder, deliver_to: Any, sleeps: list[float]
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(503, headers={"Retry-After": "3600"}))

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert not outcome.delivered and outcome.reason is DeliveryReason.SERVER_ERROR
    assert outcome.attempts == 1 and sleeps == []
    assert "Retry-After" in outcome.message and "deadline" in outcome.message


def test_the_deadline_bounds_a_delivery_to_a_stalling_receiver(
    hokusai_recording_receiver: Recorder, deliver_to: Any
) -> None:
    hokusai_recording_receiver.default = ScriptedAnswer(delay=5)
    policy = DeliveryPolicy(read_timeout=10, max_attempts=50, base_delay=0.01, deadline=0.5)

    outcome = deliver_to(hokusai_recording_receiver.url, policy)

    assert not outcome.delivered and outcome.reason is DeliveryReason.TIMED_OUT
    assert outcome.attempts == 1
    assert "deadline" in outcome.message


class DrippingReceiver:
    """Answers 503 with a body sent one byte every ``interval`` seconds: every socket read
    gets a byte well within any read timeout, so only a deadline on the whole answer ends it."""

    def __init__(self, length: int = 100, interval: float = 0.2) -> None:
        self.length = length
        self.interval = interval
        self.bytes_sent = 0
        self._stopping = threading.Event()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("503 Service Unavailable", [("Content-Length", str(self.length))])
        return self._drip()

    def _drip(self) -> Iterator[bytes]:
        for _ in range(self.length):
            if self._stopping.wait(self.interval):
                return
            self.bytes_sent += 1
            yield b"x"

    def stop(self) -> None:
        self._stopping.set()


@pytest.fixture
def dripping_receiver() -> Iterator[tuple[DrippingReceiver, RunningServer]]:
    receiver = DrippingReceiver()
    with serving(receiver) as server:
        try:
            yield receiver, server
        finally:
            receiver.stop()


def test_the_deadline_bounds_a_delivery_to_a_receiver_that_drips_its_answer(
    dripping_receiver: tuple[DrippingReceiver, RunningServer], deliver_to: Any
) -> None:
    receiver, server = dripping_receiver
    policy = DeliveryPolicy(connect_timeout=0.5, read_timeout=0.5, max_attempts=1, deadline=1.0)

    started = time.monotonic()
    outcome = deliver_to(server.url("/api/mlflow/registered"), policy)
    took = time.monotonic() - started

    assert not outcome.delivered and outcome.reason is DeliveryReason.TIMED_OUT
    assert "1 s delivery deadline" in outcome.message
    assert took < policy.deadline + 1.0
    assert receiver.bytes_sent < receiver.length


def test_the_deadline_bounds_a_delivery_sent_through_an_http_proxy(
    dripping_receiver: tuple[DrippingReceiver, RunningServer],
) -> None:
    receiver, proxy = dripping_receiver  # it drips its answer as a slow proxy would
    session = requests.Session()
    session.proxies = {"http": proxy.url("/")}
    policy = DeliveryPolicy(connect_timeout=0.5, read_timeout=0.5, max_attempts=1, deadline=1.0)
    delivery = WebhookDelivery(
        "http://receiver.test/api/mlflow/registered", SECRET, policy, session=session
    )
    try:
        outcome = delivery.deliver(PAYLOAD, KEY)
    finally:
        delivery.close()

    assert not outcome.delivered and outcome.reason is DeliveryReason.TIMED_OUT
    assert "the connection was shut" in outcome.message
    assert receiver.bytes_sent < receiver.length


def test_https_to_a_plain_http_receiver_is_named_a_tls_failure_without_quoting_the_url(
    hokusai_recording_receiver: Recorder, deliver_to: Any
) -> None:
    url = (
        hokusai_recording_receiver.url.replace("http://", "https://", 1) + "?token=S3CRET-in-query"
    )

    outcome = deliver_to(url)

    assert not outcome.delivered and outcome.reason is DeliveryReason.UNREACHABLE
    assert "could not reach https://127.0.0.1" in outcome.message
    assert "the TLS handshake failed" in outcome.message
    assert "S3CRET" not in outcome.message


class RealSleeps:
    """The delivery's ``sleep``: each wait really slept (the clock stays real too), and kept."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


def deliver_in_real_time(
    url: str, policy: DeliveryPolicy, seed: int
) -> tuple[NotificationOutcome, list[float]]:
    """Deliver with real waits and the real clock: every budget is the time really left."""
    sleeps = RealSleeps()
    delivery = WebhookDelivery(url, SECRET, policy, sleep=sleeps, rng=random.Random(seed))
    try:
        return delivery.deliver(PAYLOAD, KEY), sleeps.waits
    finally:
        delivery.close()


def test_a_receiver_answering_503_throughout_ends_server_error_without_a_hopeless_last_attempt(
    hokusai_recording_receiver: Recorder,
) -> None:
    # With these, the fourth wait (1.73 s) would leave 0.0003 s of the deadline for a fifth
    # attempt that could not possibly finish.
    hokusai_recording_receiver.default = ScriptedAnswer(503)
    policy = DeliveryPolicy(max_attempts=6, base_delay=0.6, max_delay=4.9, deadline=3.6)

    outcome, waits = deliver_in_real_time(hokusai_recording_receiver.url, policy, seed=799162)

    assert outcome.attempts == len(waits) + 1, "it waited for an attempt it never made"
    assert not outcome.delivered and outcome.reason is DeliveryReason.SERVER_ERROR
    assert outcome.last_status_code == 503
    assert outcome.attempts == len(outcome.attempt_log) == len(hokusai_recording_receiver.requests)
    assert all(record.budget >= policy.min_attempt_time for record in outcome.attempt_log)
    assert [record.status_code for record in outcome.attempt_log] == [503] * outcome.attempts
    assert "gave up: the next retry would wait" in outcome.message and "deadline" in outcome.message


def test_a_wait_that_would_leave_too_little_for_the_next_attempt_is_not_waited(
    hokusai_recording_receiver: Recorder,
) -> None:
    # Each answer takes 0.3 s; after the first and its 1 s Retry-After, about 0.15 s of the
    # deadline would be left: not enough for an answer that takes 0.3 s.
    answer = ScriptedAnswer(503, {"error": "busy"}, headers={"Retry-After": "1"}, delay=0.3)
    hokusai_recording_receiver.default = answer
    policy = DeliveryPolicy(deadline=1.45, min_attempt_time=0.5)

    outcome, waits = deliver_in_real_time(hokusai_recording_receiver.url, policy, seed=0)

    assert waits == [] and outcome.attempts == len(hokusai_recording_receiver.requests) == 1
    assert outcome.reason is DeliveryReason.SERVER_ERROR and outcome.last_status_code == 503
    assert "Retry-After" in outcome.message and "less than the 0.5 s an attempt needs" in (
        outcome.message
    )


def test_the_schedule_stops_where_the_next_attempt_would_get_a_sliver_of_the_deadline() -> None:
    policy = DeliveryPolicy(max_attempts=6, base_delay=0.6, max_delay=4.9, deadline=3.6)
    rng = random.Random(799162)
    budgets = [policy.deadline]
    plan = plan_retry(policy, 1, budgets[-1], rng)
    while plan.wait is not None:
        budgets.append(budgets[-1] - plan.wait)  # attempts here take no time at all
        plan = plan_retry(policy, len(budgets), budgets[-1], rng)

    assert budgets == pytest.approx([3.6, 3.304, 2.536, 1.735], abs=0.001)
    assert "leaving 0.0003 s of the 3.6 s delivery deadline" in plan.why
    assert f"less than the {policy.min_attempt_time:g} s an attempt needs" in plan.why


@given(
    deadline=st.floats(min_value=0.01, max_value=1e5),
    base_delay=st.floats(min_value=0, max_value=1e4),
    max_delay=st.floats(min_value=0, max_value=1e5),
    min_attempt_time=st.floats(min_value=1e-3, max_value=100),
    max_attempts=st.integers(min_value=1, max_value=20),
    failures=st.integers(min_value=1, max_value=25),
    spent=st.floats(min_value=0, max_value=1.5),
    retry_after=st.none() | st.floats(min_value=0, max_value=RETRY_AFTER_LIMIT),
    seed=st.integers(),
)
def test_a_retry_never_waits_into_the_time_its_attempt_needs(
    deadline: float,
    base_delay: float,
    max_delay: float,
    min_attempt_time: float,
    max_attempts: int,
    failures: int,
    spent: float,
    retry_after: float | None,
    seed: int,
) -> None:
    policy = DeliveryPolicy(
        max_attempts=max_attempts,
        base_delay=base_delay,
        max_delay=max_delay,
        deadline=deadline,
        min_attempt_time=min_attempt_time,
    )
    remaining = deadline * (1 - spent)  # down to half a deadline overrun

    plan = plan_retry(policy, failures, remaining, random.Random(seed), retry_after)

    if plan.wait is None:
        assert plan.why.startswith("gave up: ")
    else:
        assert failures < max_attempts
        assert plan.wait >= 0 and remaining - plan.wait >= min_attempt_time
        assert retry_after is None or plan.wait == retry_after


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    deadline=st.floats(min_value=0.3, max_value=1.2),
    base_delay=st.floats(min_value=0, max_value=0.3),
    max_delay=st.floats(min_value=0, max_value=0.6),
    min_attempt_time=st.floats(min_value=0.05, max_value=0.3),
    seed=st.integers(),
)
def test_in_real_time_every_retry_gets_its_minimum_and_the_waits_fit_the_deadline(
    hokusai_recording_receiver: Recorder,
    deadline: float,
    base_delay: float,
    max_delay: float,
    min_attempt_time: float,
    seed: int,
) -> None:
    hokusai_recording_receiver.default = ScriptedAnswer(503)
    policy = DeliveryPolicy(
        max_attempts=6,
        base_delay=base_delay,
        max_delay=max_delay,
        deadline=deadline,
        min_attempt_time=min_attempt_time,
    )
    already = len(hokusai_recording_receiver.requests)

    outcome, waits = deliver_in_real_time(hokusai_recording_receiver.url, policy, seed)

    assert not outcome.delivered and outcome.reason is DeliveryReason.SERVER_ERROR
    assert outcome.last_status_code == 503
    sent = len(hokusai_recording_receiver.requests) - already
    assert outcome.attempts == len(outcome.attempt_log) == sent
    assert all(record.budget >= min_attempt_time for record in outcome.attempt_log)
    if len(waits) == sent:  # a sleep overran (a busy machine) into the next attempt's minimum
        said = outcome.message
        assert f"less than the {min_attempt_time:g} s an attempt needs" in said or (
            "deadline passed" in said
        )
    else:
        assert len(waits) == sent - 1
    assert sum(waits) <= deadline - min_attempt_time + 1e-9
    if outcome.attempts < policy.max_attempts:
        assert "deadline" in outcome.message


def test_503s_then_an_attempt_cut_off_by_the_deadline_end_as_server_error(
    hokusai_recording_receiver: Recorder, deliver_to: Any
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(503), ScriptedAnswer(503))
    hokusai_recording_receiver.default = ScriptedAnswer(delay=30)
    policy = DeliveryPolicy(read_timeout=10, base_delay=0, deadline=1.5, min_attempt_time=0.1)

    outcome = deliver_to(hokusai_recording_receiver.url, policy)

    assert not outcome.delivered and outcome.reason is DeliveryReason.SERVER_ERROR
    assert outcome.last_status_code == 503 and outcome.attempts == 3
    reasons = [record.reason for record in outcome.attempt_log]
    assert reasons == [DeliveryReason.SERVER_ERROR] * 2 + [DeliveryReason.TIMED_OUT]
    assert outcome.attempt_log[-1].cut_by_deadline
    assert "the attempt after it was cut off by the 1.5 s delivery deadline" in outcome.message
    assert "503, 503, timed_out cut off" in outcome.message


def test_a_stall_past_the_read_timeout_after_a_503_ends_timed_out_naming_the_503(
    hokusai_recording_receiver: Recorder, deliver_to: Any, fast_policy: DeliveryPolicy
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(503))
    hokusai_recording_receiver.default = ScriptedAnswer(delay=fast_policy.read_timeout + 2)
    policy = replace(fast_policy, max_attempts=2)

    outcome = deliver_to(hokusai_recording_receiver.url, policy)

    assert not outcome.delivered and outcome.reason is DeliveryReason.TIMED_OUT
    assert outcome.last_status_code == 503
    assert [record.status_code for record in outcome.attempt_log] == [503, None]
    assert not outcome.attempt_log[-1].cut_by_deadline


def test_every_attempt_is_kept_in_the_outcome_in_order(
    hokusai_recording_receiver: Recorder, deliver_to: Any
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(503), ScriptedAnswer(429))

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert outcome.delivered and outcome.attempts == 3
    assert [(record.reason, record.status_code) for record in outcome.attempt_log] == [
        (DeliveryReason.SERVER_ERROR, 503),
        (DeliveryReason.SERVER_ERROR, 429),
        (DeliveryReason.DELIVERED, 200),
    ]
    assert "answered 503" in outcome.attempt_log[0].message


def test_a_retry_after_too_long_to_be_a_number_ends_the_delivery_counting_its_request(
    hokusai_recording_receiver: Recorder, deliver_to: Any, sleeps: list[float]
) -> None:
    hokusai_recording_receiver.script(ScriptedAnswer(503, headers={"Retry-After": "9" * 400}))

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert not outcome.delivered and outcome.reason is DeliveryReason.SERVER_ERROR
    assert outcome.attempts == len(hokusai_recording_receiver.requests) == 1
    assert outcome.last_status_code == 503 and sleeps == []
    assert "asked to wait a day or more (Retry-After)" in outcome.message


def test_a_sender_failure_mid_delivery_is_an_outcome_counting_every_request_sent(
    hokusai_recording_receiver: Recorder, fast_policy: DeliveryPolicy
) -> None:
    def broken_sleep(seconds: float) -> None:
        raise RuntimeError(f"no sleep today for {hokusai_recording_receiver.url} with {SECRET}")

    hokusai_recording_receiver.script(ScriptedAnswer(503))
    delivery = WebhookDelivery(
        hokusai_recording_receiver.url, SECRET, fast_policy, sleep=broken_sleep
    )
    try:
        outcome = delivery.deliver(PAYLOAD, KEY)
    finally:
        delivery.close()

    assert not outcome.delivered and outcome.reason is DeliveryReason.SENDER_ERROR
    assert outcome.attempts == len(hokusai_recording_receiver.requests) == 1
    assert outcome.last_status_code == 503
    assert "RuntimeError: no sleep today" in outcome.message and SECRET not in outcome.message


@pytest.mark.parametrize(
    ("answer", "reason", "attempts"),
    [
        (ScriptedAnswer(500, cut_after=5), DeliveryReason.SERVER_ERROR, 3),
        (ScriptedAnswer(503, cut_after=1, delay=1.0), DeliveryReason.SERVER_ERROR, 3),
        (
            ScriptedAnswer(400, "not gzip", headers={"Content-Encoding": "gzip"}),
            DeliveryReason.REJECTED,
            1,
        ),
    ],
    ids=["cut short", "stalled midway", "not really gzip"],
)
def test_an_error_answer_whose_body_cannot_be_read_is_judged_by_its_status(
    hokusai_recording_receiver: Recorder,
    deliver_to: Any,
    answer: ScriptedAnswer,
    reason: DeliveryReason,
    attempts: int,
) -> None:
    hokusai_recording_receiver.default = answer

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert not outcome.delivered and outcome.reason is reason
    assert outcome.attempts == len(hokusai_recording_receiver.requests) == attempts
    assert outcome.last_status_code == answer.status
    assert f"answered {answer.status}: (its body could not be read" in outcome.message


def test_a_redirect_is_reported_not_followed(
    hokusai_recording_receiver: Recorder, deliver_to: Any
) -> None:
    hokusai_recording_receiver.script(
        ScriptedAnswer(308, headers={"Location": "https://elsewhere/"})
    )

    outcome = deliver_to(hokusai_recording_receiver.url)

    assert not outcome.delivered and outcome.reason is DeliveryReason.REJECTED
    assert "https://elsewhere/" in outcome.message
    assert len(hokusai_recording_receiver.requests) == 1


def test_a_delivery_never_goes_out_unsigned() -> None:
    with pytest.raises(ValueError, match="never sends unsigned"):
        WebhookDelivery("http://127.0.0.1:9/", "")


@given(
    failures=st.integers(min_value=1, max_value=200),
    base=st.floats(min_value=0, max_value=10),
    cap=st.floats(min_value=0, max_value=60),
    seed=st.integers(),
)
def test_full_jitter_stays_between_zero_and_the_capped_exponential(
    failures: int, base: float, cap: float, seed: int
) -> None:
    import random

    policy = DeliveryPolicy(base_delay=base, max_delay=cap)
    delay = backoff_delay(failures, policy, random.Random(seed))
    assert 0 <= delay <= min(cap, base * 2.0 ** min(failures - 1, 60))


@given(st.integers(min_value=0, max_value=10**9))
def test_retry_after_seconds_read_as_that_many_seconds_up_to_a_day(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == min(seconds, RETRY_AFTER_LIMIT)


@given(st.integers(min_value=0, max_value=10**6))
def test_retry_after_dates_read_as_the_seconds_until_then_up_to_a_day(seconds: int) -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    header = email.utils.format_datetime(now + timedelta(seconds=seconds), usegmt=True)
    assert parse_retry_after(header, now) == min(seconds, RETRY_AFTER_LIMIT)


@pytest.mark.parametrize(
    "value",
    ["9" * 309, "1" + "0" * 400, "9" * 5000, "0" * 50 + "7", "Fri, 31 Dec 9999 23:59:59 GMT"],
)
def test_a_retry_after_of_any_size_reads_as_at_most_a_day(value: str) -> None:
    expected = 7.0 if value.endswith("7") else RETRY_AFTER_LIMIT
    assert parse_retry_after(value) == expected


@given(
    st.text()
    | st.from_regex(r"\s*[0-9]{1,500}\s*", fullmatch=True)
    | st.builds(
        "{}, {:02d} {} {} {:02d}:{:02d}:{:02d} {}".format,
        st.sampled_from(["Mon", "Fri", "Xyz", ""]),
        st.integers(-5, 99),
        st.sampled_from(["Jan", "Feb", "Dec", "Foo"]),
        st.integers(-(10**6), 10**12),
        st.integers(0, 99),
        st.integers(0, 99),
        st.integers(0, 99),
        st.sampled_from(["GMT", "+0000", "-2359", "+9999", "", "UT"]),
    )
)
def test_any_retry_after_text_reads_as_none_or_a_wait_of_at_most_a_day(value: str) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or 0 <= seconds <= RETRY_AFTER_LIMIT


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "-5", "1.5", "Mon, 99 Foo 2026"])
def test_an_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_a_retry_after_date_in_the_past_means_no_wait() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
