"""The sender checks judge captured requests: a sender that follows the contract passes, and each
mistake real senders made fails the check that names it.

The captured requests are built here the way each (correct or mistaken) sender would have put
them on the wire, with the moments they arrived given outright; real senders in their own
processes are judged in test_check_sender, and the reference sender with MLflow in
test_contract_test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
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
from contracts.conformance.sender_checks import CommandOutcome
from contracts.envelope import CURRENT_PATH

SECRET = "sender-checks secret 2a9d"
RUN_ID = "0b5c2f0e7d3a4c1e9f8a6b5d4c3e2f1a"
Wire = Callable[[dict[str, Any], str], tuple[bytes, dict[str, str]]]
NOT_JUDGED_HERE = {"sender-command", "sender-api-schema"}
"""No command was run and no signature read for the cases built here."""


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


def results_of(*cases: SenderCase, **evidence: Any) -> dict[str, Any]:
    run = SENDER_CHECKS.run(SenderEvidence(SECRET, cases, **evidence))
    return {result.check_id: result for result in run}


def verdicts(*cases: SenderCase, **evidence: Any) -> dict[str, Verdict]:
    return {check: result.verdict for check, result in results_of(*cases, **evidence).items()}


def failed(*cases: SenderCase, **evidence: Any) -> set[str]:
    return {
        check for check, verdict in verdicts(*cases, **evidence).items() if verdict.value == "fail"
    }


def why(check_id: str, *cases: SenderCase, **evidence: Any) -> str:
    return str(results_of(*cases, **evidence)[check_id].why)


def test_a_sender_that_follows_the_contract_passes_every_check() -> None:
    results = verdicts(case("lscor"), case("LSCOR", version="2", statuses=(503, 200), fault=True))
    assert {results.pop(check) for check in NOT_JUDGED_HERE} == {Verdict.SKIP}
    assert set(results.values()) == {Verdict.PASS}


def json_keyword_wire(payload: dict[str, Any], key: str) -> tuple[bytes, dict[str, str]]:
    """Sign the compact bytes, then send what requests' json= writes (", " separators)."""
    delivery = contracts.signed_delivery(payload, SECRET, key=key)
    return json.dumps(contracts.payload.ordered(payload)).encode(), delivery.headers


def test_signing_one_serialization_and_sending_another_fails_the_signature_check() -> None:
    broken = case(wire=json_keyword_wire)
    assert failed(broken) == {"sender-signature"}
    assert "body_reserialized" in why("sender-signature", broken)


def lower_case_token_wire(payload: dict[str, Any], key: str) -> tuple[bytes, dict[str, str]]:
    lowered = {**payload, "token_id": payload["token_id"].lower()}
    body = contracts.serialize(lowered)
    return body, contracts.signed_delivery(lowered, SECRET, key=key, body=body).headers


def test_a_v1_token_id_sent_as_typed_fails_the_token_case_check() -> None:
    assert failed(case(wire=lower_case_token_wire)) == {"sender-token-case"}


def no_event_header_wire(payload: dict[str, Any], key: str) -> tuple[bytes, dict[str, str]]:
    body, headers = contract_wire(payload, key)
    return body, {k: v for k, v in headers.items() if k != contracts.EVENT_HEADER}


def test_a_v1_delivery_without_the_event_header_fails_the_event_header_check() -> None:
    assert failed(case(wire=no_event_header_wire)) == {"sender-event-header"}


def other_header_name_wire(payload: dict[str, Any], key: str) -> tuple[bytes, dict[str, str]]:
    body, headers = contract_wire(payload, key)
    signature = headers.pop(contracts.SIGNATURE_HEADER)
    return body, {**headers, "X-MLflow-Signature": signature}


def test_a_signature_under_another_header_name_is_named_as_such() -> None:
    broken = case(wire=other_header_name_wire)
    assert "wrong_header_name" in why("sender-signature", broken)


def test_a_new_idempotency_key_on_every_retry_fails_the_key_check() -> None:
    broken = case(statuses=(503, 200), fault=True, fresh_key_per_attempt=True)
    assert failed(broken) == {"sender-idempotency-key"}


def test_giving_up_after_a_503_fails_the_retry_check() -> None:
    assert "sender-retry" in failed(case(statuses=(503,), fault=True))


def test_a_version_that_is_not_mlflows_fails_the_mlflow_check() -> None:
    assert failed(case(version="4", mlflow_version="5")) == {"sender-matches-mlflow"}


def test_a_version_mlflow_does_not_have_is_named_by_the_mlflow_check() -> None:
    unknown = SenderCase(
        "LSCOR v9", "lscor", case().requests, mlflow_problem="MLflow has no version 9 of 'X'"
    )
    assert "LSCOR v9: MLflow has no version 9 of 'X'" in why("sender-matches-mlflow", unknown)


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
    assert skipped == {
        "sender-command",
        "sender-retry",
        "sender-matches-mlflow",
        "sender-api-schema",
        "sender-token-registered",
    }
    assert {results[check] for check in set(results) - skipped} == {Verdict.PASS}


def test_a_last_attempt_the_receiver_refused_fails_the_delivered_check() -> None:
    assert failed(case(statuses=(401,))) == {"sender-delivered"}


@pytest.mark.parametrize("check_id", SENDER_CHECKS.ids)
def test_no_evidence_at_all_is_a_failure_not_a_pass(check_id: str) -> None:
    assert verdicts()[check_id] in (Verdict.FAIL, Verdict.SKIP)


def test_no_evidence_fails_once_with_the_reason_given_and_skips_every_later_check() -> None:
    results = results_of(nothing_arrived="no delivery arrived before --timeout (5 s) passed")
    assert results["sender-delivered"].why == "no delivery arrived before --timeout (5 s) passed"
    later = SENDER_CHECKS.ids[SENDER_CHECKS.ids.index("sender-delivered") + 1 :]
    assert {results[check].verdict for check in later} == {Verdict.SKIP}


# --- how the command ended ------------------------------------------------------------------


def test_a_command_killed_at_the_timeout_fails_the_command_check() -> None:
    killed = CommandOutcome("my-sdk register", None, 5.0, 5.0)
    assert "still running after --timeout 5 s" in why("sender-command", case(), command=killed)


def test_a_command_that_exited_0_passes_the_command_check_with_its_status() -> None:
    ended = CommandOutcome("my-sdk register", 0, 1.25, 60.0)
    assert verdicts(case(), command=ended)["sender-command"] is Verdict.PASS


# --- the receiver's tokens ------------------------------------------------------------------


def test_a_token_not_on_the_receiver_and_a_seeded_token_left_draft_are_both_named() -> None:
    tokens = {"LSCOR": "DRAFT"}
    text = why("sender-token-registered", case("OTHER"), receiver_tokens=tokens)
    assert "token OTHER is not on the receiver (it has LSCOR)" in text
    assert "token LSCOR is DRAFT: no delivery named it" in text


# --- the v2 (nested) shape ------------------------------------------------------------------


def v2_request(
    token: str = "lscor",
    *,
    version: str = "4",
    timestamp: str | None = None,
    status: int = 200,
    arrived: float | None = None,
    path: str = CURRENT_PATH,
    key: str | None = None,
    api_schema: Any = "absent",
) -> RecordedRequest:
    """A v2 body as the SDK's CLI writes it, signed over its exact bytes."""
    model: dict[str, Any] = {
        "id": token,
        "name": "Sales lead scoring model",
        "status": "registered",
        "version": version,
        "run_id": RUN_ID,
    }
    if api_schema != "absent":
        model["api_schema"] = api_schema
    stamp = timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = json.dumps(
        {"event_type": "model_registered", "model": model, "timestamp": stamp, "source": "mlflow"},
        separators=(",", ":"),
    ).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Hokusai-Signature": f"sha256={digest}"}
    if key is not None:
        headers["X-Hokusai-Idempotency-Key"] = key
    return RecordedRequest("POST", path, headers, body, status, received_at=arrived or time.time())


def v2_case(*requests: RecordedRequest, label: str = "LSCOR v4", **fields: Any) -> SenderCase:
    return SenderCase(label, "lscor", requests, **fields)


def test_a_v2_model_id_sent_upper_cased_fails_the_token_case_check() -> None:
    assert "v2 model.id 'LSCOR' not lower-cased" in why(
        "sender-token-case", v2_case(v2_request("LSCOR"))
    )


def test_a_v2_model_id_sent_lower_cased_passes_the_token_case_check() -> None:
    assert verdicts(v2_case(v2_request("lscor")))["sender-token-case"] is Verdict.PASS


def test_a_v2_delivery_needs_neither_an_event_header_nor_an_idempotency_key() -> None:
    results = verdicts(v2_case(v2_request()))
    assert results["sender-event-header"] is Verdict.PASS
    assert results["sender-idempotency-key"] is Verdict.PASS


def test_a_delivery_to_another_path_names_it_and_the_contracts_paths() -> None:
    text = why("sender-path", v2_case(v2_request(path="/api/webhook")))
    assert "LSCOR v4 (attempt 1): POST /api/webhook" in text
    assert "/api/webhooks/model-registration (the current default)" in text
    assert "/api/mlflow/registered (the seed path)" in text


def test_the_seed_path_is_a_path_of_the_contract_too() -> None:
    seed = v2_case(v2_request(path=contracts.DEFAULT_PATH))
    assert verdicts(seed)["sender-path"] is Verdict.PASS


def test_a_v2_retry_stamped_anew_fails_the_retry_check() -> None:
    first = v2_request(timestamp="2026-04-30T12:00:01Z", status=503, arrived=100.0)
    second = v2_request(timestamp="2026-04-30T12:00:03Z", arrived=102.0)
    faulted = v2_case(first, second, fault_injected=True)
    assert "a retry was stamped anew" in why("sender-retry", faulted)


def test_a_retry_sooner_than_retry_after_fails_and_one_after_it_passes() -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    hasty = v2_case(
        v2_request(timestamp=stamp, status=503, arrived=100.0),
        v2_request(timestamp=stamp, arrived=100.4),
        fault_injected=True,
        retry_after=2,
    )
    assert "retried 0.40 s after a 503 with Retry-After: 2" in why("sender-retry", hasty)
    patient = v2_case(
        v2_request(timestamp=stamp, status=503, arrived=100.0),
        v2_request(timestamp=stamp, arrived=102.1),
        fault_injected=True,
        retry_after=2,
    )
    result = results_of(patient)["sender-retry"]
    assert result.verdict is Verdict.PASS
    assert "waited 2.10 s (Retry-After 2), the same signed bytes resent" in result.why


def test_two_v2_registrations_of_one_token_in_the_same_second_fail_the_timestamp_check() -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    fourth = v2_case(v2_request(version="4", timestamp=stamp))
    fifth = v2_case(v2_request(version="5", timestamp=stamp), label="LSCOR v5")
    text = why("sender-timestamp", fourth, fifth)
    assert "LSCOR v5 and LSCOR v4 carry the same timestamp" in text
    assert "dedupes v2 on event_type:model.id:timestamp" in text


def test_an_aware_isoformat_with_z_added_is_named_by_the_timestamp_check() -> None:
    aware = v2_case(v2_request(timestamp="2026-04-30T12:00:01.123456+00:00Z"))
    assert "has an offset and a Z" in why("sender-timestamp", aware)


@pytest.mark.parametrize(
    ("stamp", "form"),
    [("%Y-%m-%dT%H:%M:%SZ", "whole seconds, Z"), ("%Y-%m-%dT%H:%M:%S.123456Z", "6-digit")],
)
def test_the_cli_and_publisher_timestamp_forms_both_pass_and_are_named(
    stamp: str, form: str
) -> None:
    written = v2_case(v2_request(timestamp=time.strftime(stamp, time.gmtime())))
    result = results_of(written)["sender-timestamp"]
    assert result.verdict is Verdict.PASS and form in result.why


API_SCHEMA = {
    "inputSchema": {
        "type": "object",
        "properties": {"industry": {"type": "string"}},
        "required": ["industry"],
    },
    "outputSchema": {"type": "object", "properties": {"score": {"type": "number"}}, "required": []},
}


def with_signature(api_schema: dict[str, Any] | None) -> MlflowTruth:
    return MlflowTruth("Sales lead scoring model", "4", RUN_ID, api_schema, signature_read=True)


@pytest.mark.parametrize(
    ("sent", "expected", "words"),
    [
        ("absent", API_SCHEMA, "model.api_schema is missing"),
        (None, None, "model.api_schema is null, but the version has no column-based signature"),
        ({**API_SCHEMA, "inputSchema": {"type": "object"}}, API_SCHEMA, "inputSchema is"),
    ],
)
def test_an_api_schema_other_than_the_signature_maps_to_fails_the_api_schema_check(
    sent: Any, expected: dict[str, Any] | None, words: str
) -> None:
    judged = v2_case(v2_request(api_schema=sent), mlflow=with_signature(expected))
    assert words in why("sender-api-schema", judged)


@pytest.mark.parametrize(
    ("sent", "expected"),
    [("absent", None), ({**API_SCHEMA, "endpoint": "/predict"}, API_SCHEMA)],
)
def test_an_api_schema_as_the_signature_maps_passes(
    sent: Any, expected: dict[str, Any] | None
) -> None:
    judged = v2_case(v2_request(api_schema=sent), mlflow=with_signature(expected))
    assert verdicts(judged)["sender-api-schema"] is Verdict.PASS


def test_v2_bodies_are_matched_against_mlflow_by_their_model_fields() -> None:
    truth = MlflowTruth("Sales lead scoring model", "5", RUN_ID)
    text = why("sender-matches-mlflow", v2_case(v2_request(), mlflow=truth))
    assert "model.version '4', MLflow '5'" in text


def test_an_api_schema_differing_only_in_an_empty_or_reordered_required_list_is_the_same() -> None:
    reordered = {
        "inputSchema": {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "number"}},
            "required": ["b", "a"],
        },
        "outputSchema": {"type": "object", "properties": {"score": {"type": "number"}}},
    }
    expected = {
        "inputSchema": {**reordered["inputSchema"], "required": ["a", "b"]},
        "outputSchema": {**reordered["outputSchema"], "required": []},
    }
    judged = v2_case(v2_request(api_schema=reordered), mlflow=with_signature(expected))
    assert verdicts(judged)["sender-api-schema"] is Verdict.PASS
    fewer = {**reordered, "inputSchema": {**reordered["inputSchema"], "required": ["a"]}}
    judged = v2_case(v2_request(api_schema=fewer), mlflow=with_signature(expected))
    assert verdicts(judged)["sender-api-schema"] is Verdict.FAIL
