"""contracts.receive: the signature over the raw bytes first, then the body, one exception type."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

import pytest

from contracts import (
    SIGNATURE_HEADER,
    FailureReason,
    PayloadError,
    PayloadProblem,
    ReceiveError,
    SignatureError,
    receive,
    serialize,
    sign,
)
from contracts.receive import TimestampError, receive_delivery
from contracts.schema import load_json

SECRET = "whsec-receive-test"
SIGNATURE_CASES: list[dict[str, Any]] = load_json("vectors/signatures.v1.json")["cases"]
PAYLOAD_CASES: list[dict[str, Any]] = load_json("vectors/payloads.v1.json")["cases"]


def body_of(case: dict[str, Any]) -> bytes:
    if "body_base64" in case:
        return base64.b64decode(case["body_base64"])
    return str(case["body"]).encode("utf-8")


def refusal(body: bytes, headers: dict[str, str], secrets: Any) -> ReceiveError:
    with pytest.raises(ReceiveError) as raised:
        receive(body, headers, secrets)
    return raised.value


def signed(body: bytes) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(body, SECRET)}


@pytest.mark.parametrize("case", SIGNATURE_CASES, ids=[c["name"] for c in SIGNATURE_CASES])
def test_every_signature_vector_is_judged_before_the_body(case: dict[str, Any]) -> None:
    headers = {} if case["header"] is None else {SIGNATURE_HEADER: case["header"]}
    if not case["expected"]["valid"]:
        error = refusal(body_of(case), headers, case["secrets"])
        assert isinstance(error, SignatureError)
        assert error.reason.value == case["expected"]["reason"]
        return
    # The signature holds, so whatever is refused now is the body (these are no events).
    with pytest.raises(PayloadError):
        receive(body_of(case), headers, case["secrets"])


@pytest.mark.parametrize("case", PAYLOAD_CASES, ids=[c["name"] for c in PAYLOAD_CASES])
def test_every_signed_payload_vector_gets_its_expected_verdict(case: dict[str, Any]) -> None:
    body = body_of(case)
    expected = case["expected"]
    if expected["valid"]:
        assert receive(body, signed(body), SECRET) == {
            **json.loads(body),
            **expected["normalized"],
        }
        return
    error = refusal(body, signed(body), SECRET)
    assert isinstance(error, PayloadError)
    assert error.reason.value == expected["problem"]
    assert [violation.path for violation in error.violations] == expected["paths"]


@pytest.mark.parametrize("case", PAYLOAD_CASES, ids=[c["name"] for c in PAYLOAD_CASES])
def test_a_body_under_a_wrong_signature_is_never_parsed(case: dict[str, Any]) -> None:
    body = body_of(case)
    error = refusal(body, {SIGNATURE_HEADER: sign(body, "another secret")}, SECRET)
    assert error.reason is FailureReason.MISMATCH


def test_no_secret_is_reported_before_the_header_and_the_body() -> None:
    for nothing in (None, "", [None, ""]):
        error = refusal(b"not json", {}, nothing)
        assert error.reason is FailureReason.NO_SECRET_CONFIGURED


def test_the_signature_header_is_found_in_any_letter_case() -> None:
    body = body_of(PAYLOAD_CASES[0])
    header = sign(body, SECRET)
    for name in (SIGNATURE_HEADER, SIGNATURE_HEADER.lower(), SIGNATURE_HEADER.upper()):
        assert receive(body, {"Content-Type": "application/json", name: header}, SECRET)


def test_unset_and_empty_secrets_of_a_rotation_are_ignored() -> None:
    body = body_of(PAYLOAD_CASES[0])
    assert receive(body, signed(body), [None, "", SECRET])["token_id"] == "LSCOR"


def test_text_that_is_not_unicode_is_refused_as_a_schema_violation() -> None:
    payload = load_json("examples/model_registered.json")
    body = serialize({**payload, "model_name": "Model \ud800"})
    error = refusal(body, signed(body), SECRET)
    assert isinstance(error, PayloadError)
    assert error.reason is PayloadProblem.SCHEMA_VIOLATION
    assert [violation.path for violation in error.violations] == ["$.model_name"]
    assert "unpaired surrogate" in str(error)


def test_the_one_exception_type_says_what_to_do_in_words() -> None:
    body = body_of(PAYLOAD_CASES[0])
    unsigned = refusal(body, {}, SECRET)
    assert unsigned.reason is FailureReason.MISSING_HEADER
    assert "must sign the raw body" in str(unsigned)
    broken = refusal(b"{", signed(b"{"), SECRET)
    assert broken.reason is PayloadProblem.INVALID_JSON
    assert "not valid JSON" in str(broken)


def test_a_decoded_body_is_refused_instead_of_guessing_its_bytes() -> None:
    with pytest.raises(TypeError, match="raw body bytes"):
        receive("{}", {}, SECRET)  # type: ignore[arg-type]


# --- the timestamp tolerance, when a receiver asks for one ----------------------------------

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def stamped(timestamp: str, **changes: Any) -> bytes:
    payload = load_json("examples/model_registered.json")
    return serialize({**payload, "timestamp": timestamp, **changes})


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-03-01T12:04:59Z",
        "2026-03-01T11:55:01.5Z",
        "2026-03-01T12:00:00",
        "2026-03-01T13:00:00+01:00",
    ],
)
def test_a_timestamp_inside_the_tolerance_is_accepted(timestamp: str) -> None:
    body = stamped(timestamp)
    event = receive(body, signed(body), SECRET, timestamp_tolerance=300, now=NOW)
    assert event["timestamp"] == timestamp


@pytest.mark.parametrize(
    ("timestamp", "words"),
    [("2026-03-01T11:54:59Z", "301 s old"), ("2026-03-01T12:05:01Z", "301 s in the future")],
)
def test_a_timestamp_outside_the_tolerance_is_refused_saying_by_how_much(
    timestamp: str, words: str
) -> None:
    body = stamped(timestamp)
    with pytest.raises(TimestampError) as raised:
        receive(body, signed(body), SECRET, timestamp_tolerance=300, now=NOW)
    assert raised.value.reason == "timestamp_outside_tolerance"
    assert raised.value.tolerance_seconds == 300
    assert words in str(raised.value)
    assert "within 300 s" in str(raised.value)


def test_the_tolerance_is_judged_after_the_signature_and_before_the_schema() -> None:
    stale_and_invalid = stamped("2019-01-01T00:00:00Z", token_id="LS_COR")
    error = refusal(stale_and_invalid, {SIGNATURE_HEADER: sign(stale_and_invalid, "other")}, SECRET)
    assert error.reason is FailureReason.MISMATCH
    with pytest.raises(TimestampError):
        receive(stale_and_invalid, signed(stale_and_invalid), SECRET, timestamp_tolerance=300)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (stamped("yesterday"), PayloadProblem.SCHEMA_VIOLATION),
        (b"[]", PayloadProblem.SCHEMA_VIOLATION),
        (b'"2019-01-01T00:00:00Z"', PayloadProblem.SCHEMA_VIOLATION),
        (b"{", PayloadProblem.INVALID_JSON),
    ],
)
def test_a_timestamp_the_schema_refuses_is_left_to_the_schema(
    body: bytes, problem: PayloadProblem
) -> None:
    with pytest.raises(PayloadError) as raised:
        receive(body, signed(body), SECRET, timestamp_tolerance=300, now=NOW)
    assert raised.value.reason is problem


def test_a_naive_clock_reading_is_taken_as_utc() -> None:
    body = stamped("2026-03-01T12:04:00Z")
    naive_now = NOW.replace(tzinfo=None)
    assert receive(body, signed(body), SECRET, timestamp_tolerance=300, now=naive_now)


def test_no_tolerance_is_enforced_unless_asked_for() -> None:
    body = stamped("2019-01-01T00:00:00Z")
    assert receive(body, signed(body), SECRET)["timestamp"] == "2019-01-01T00:00:00Z"


@pytest.mark.parametrize("tolerance", [0, -5])
def test_a_tolerance_that_is_not_positive_is_refused_as_a_mistake(tolerance: float) -> None:
    body = stamped("2026-03-01T12:00:00Z")
    with pytest.raises(ValueError, match="positive number of seconds"):
        receive(body, signed(body), SECRET, timestamp_tolerance=tolerance, now=NOW)


def test_receive_delivery_names_the_secret_that_signed_it() -> None:
    body = stamped("2026-03-01T12:00:00Z")
    received = receive_delivery(body, signed(body), ["old", None, SECRET])
    assert received.secret_index == 2
    assert received.event == receive(body, signed(body), SECRET)
