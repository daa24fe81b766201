"""The sender checks judge captured requests: a sender that follows the contract passes, and each
mistake real senders made fails the check that names it.

The captured requests are built here the way each (correct or mistaken) sender would have put
them on the wire; the end-to-end run with the real sender and MLflow is in test_contract_test.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

import contracts
from contracts.conformance import (
    SENDER_CHECKS,
    MlflowTruth,
    RecordedRequest,
    SenderCase,
    SenderEvidence,
    Verdict,
)

SECRET = "sender-checks secret 2a9d"
RUN_ID = "0b5c2f0e7d3a4c1e9f8a6b5d4c3e2f1a"
Wire = Callable[[dict[str, Any], str], tuple[bytes, dict[str, str]]]


def contract_wire(payload: dict[str, Any], key: str) -> tuple[bytes, dict[str, str]]:
    delivery = contracts.signed_delivery(payload, SECRET, key=key)
    return delivery.body, delivery.headers


def captured(
    payload: dict[str, Any], key: str, status: int = 200, wire: Wire = contract_wire
) -> RecordedRequest:
    body, headers = wire(payload, key)
    return RecordedRequest("POST", contracts.DEFAULT_PATH, headers, body, status)


def case(
    token: str = "lscor",
    *,
    version: str = "1",
    wire: Wire = contract_wire,
    statuses: tuple[int, ...] = (200,),
    fault: bool = False,
    mlflow_version: str | None = None,
    fresh_key_per_attempt: bool = False,
) -> SenderCase:
    payload = contracts.build_payload(
        token_id=token,
        model_name="Sales lead scoring model",
        model_version=version,
        metric_name="accuracy",
        baseline_value=0.933,
        mlflow_run_id=RUN_ID,
    )
    key = contracts.idempotency_key(token, "Sales lead scoring model", version)
    requests = tuple(
        captured(
            {**payload, "timestamp": contracts.format_timestamp()},
            str(uuid.uuid4()) if fresh_key_per_attempt else key,
            status,
            wire,
        )
        for status in statuses
    )
    truth = MlflowTruth("Sales lead scoring model", mlflow_version or version, RUN_ID)
    return SenderCase(f"registration v{version}", token, requests, truth, fault, "REGISTERED")


def verdicts(*cases: SenderCase) -> dict[str, Verdict]:
    results = SENDER_CHECKS.run(SenderEvidence(SECRET, cases))
    return {result.check_id: result.verdict for result in results}


def failed(*cases: SenderCase) -> set[str]:
    return {check for check, verdict in verdicts(*cases).items() if verdict is Verdict.FAIL}


def test_a_sender_that_follows_the_contract_passes_every_check() -> None:
    results = verdicts(case("lscor"), case("LSCOR", version="2", statuses=(503, 200), fault=True))
    assert set(results.values()) == {Verdict.PASS}


def json_keyword_wire(payload: dict[str, Any], key: str) -> tuple[bytes, dict[str, str]]:
    """Sign the compact bytes, then send what requests' json= writes (", " separators)."""
    delivery = contracts.signed_delivery(payload, SECRET, key=key)
    return json.dumps(contracts.payload.ordered(payload)).encode(), delivery.headers


def test_signing_one_serialization_and_sending_another_fails_the_signature_check() -> None:
    assert failed(case(wire=json_keyword_wire)) == {"sender-signature"}


def lower_case_token_wire(payload: dict[str, Any], key: str) -> tuple[bytes, dict[str, str]]:
    lowered = {**payload, "token_id": payload["token_id"].lower()}
    body = contracts.serialize(lowered)
    return body, contracts.signed_delivery(lowered, SECRET, key=key, body=body).headers


def test_a_token_id_sent_as_typed_fails_the_upper_case_check() -> None:
    assert failed(case(wire=lower_case_token_wire)) == {"sender-token-upper-cased"}


def no_event_header_wire(payload: dict[str, Any], key: str) -> tuple[bytes, dict[str, str]]:
    body, headers = contract_wire(payload, key)
    return body, {k: v for k, v in headers.items() if k != contracts.EVENT_HEADER}


def test_a_missing_event_header_fails_the_headers_check() -> None:
    assert failed(case(wire=no_event_header_wire)) == {"sender-headers"}


def test_a_new_idempotency_key_on_every_retry_fails_key_and_retry_checks() -> None:
    broken = case(statuses=(503, 200), fault=True, fresh_key_per_attempt=True)
    assert failed(broken) == {"sender-idempotency-key", "sender-retry"}


def test_giving_up_after_a_503_fails_the_retry_check() -> None:
    assert "sender-retry" in failed(case(statuses=(503,), fault=True))


def test_a_version_that_is_not_mlflows_fails_the_mlflow_check() -> None:
    assert failed(case(version="4", mlflow_version="5")) == {"sender-matches-mlflow"}


def test_two_registrations_sharing_one_key_fail_the_key_check() -> None:
    first = case()
    twin = SenderCase(
        "a second registration", "lscor", first.requests, first.mlflow, token_status="REGISTERED"
    )
    assert "sender-idempotency-key" in failed(first, twin)


def test_captured_requests_alone_judge_a_sender_and_skip_what_only_the_caller_knows() -> None:
    wire_only = SenderCase("any sender", "lscor", case().requests)
    results = verdicts(wire_only)
    skipped = {check for check, verdict in results.items() if verdict is Verdict.SKIP}
    assert skipped == {"sender-retry", "sender-matches-mlflow", "sender-token-registered"}
    assert {results[check] for check in set(results) - skipped} == {Verdict.PASS}


def test_a_last_attempt_the_receiver_refused_fails_the_delivered_check() -> None:
    assert failed(case(statuses=(401,))) == {"sender-delivered"}


@pytest.mark.parametrize("check_id", SENDER_CHECKS.ids)
def test_no_evidence_at_all_is_a_failure_not_a_pass(check_id: str) -> None:
    assert verdicts()[check_id] in (Verdict.FAIL, Verdict.SKIP)
