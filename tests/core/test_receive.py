"""contracts.receive: the signature over the raw bytes first, then the body, one exception type."""

from __future__ import annotations

import base64
import json
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
