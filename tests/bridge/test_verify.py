"""The MLflow signature verifier: Standard Webhooks' v1 scheme, tolerance edges, tampering."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from contracts import ReceiveError
from contracts.bridge.verify import (
    DELIVERY_ID_HEADER,
    MLFLOW_SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    MlflowEventError,
    MlflowSignatureError,
    parse_mlflow_event,
    receive_mlflow_event,
    sign_mlflow_delivery,
    verify_mlflow_delivery,
)
from contracts.payload import PayloadProblem
from contracts.receive import TimestampError
from contracts.signing import FailureReason

SECRET = "mlflow-webhook-secret"
NOW = 1_767_225_600
EVENT = {
    "entity": "model_version",
    "action": "created",
    "timestamp": "2026-01-01T00:00:00.000000+00:00",
    "data": {"name": "m", "version": "1", "tags": {"hokusai_token_id": "lscor"}},
}
BODY = json.dumps(EVENT).encode()
secrets_text = st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1)
ids = st.text(st.characters(codec="ascii", categories=["L", "N", "Pd"]), min_size=1, max_size=60)


def standard_webhooks_headers(
    body: bytes, secret: str, delivery_id: str, timestamp: int
) -> dict[str, str]:
    """Signed by the Standard Webhooks library, an implementation independent of ours, under
    MLflow's header names."""
    moment = datetime.fromtimestamp(timestamp, timezone.utc)
    signature = Webhook(secret.encode()).sign(delivery_id, moment, body.decode())
    return {
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        MLFLOW_SIGNATURE_HEADER: signature,
    }


def refusal(body: bytes, headers: dict[str, str], **options: object) -> ReceiveError:
    with pytest.raises(ReceiveError) as raised:
        verify_mlflow_delivery(body, headers, options.pop("secrets", SECRET), now=NOW, **options)  # type: ignore[arg-type]
    return raised.value


@given(secret=secrets_text, delivery_id=ids, body=st.binary(max_size=200).map(bytes.hex))
def test_what_standard_webhooks_signs_is_accepted(secret: str, delivery_id: str, body: str) -> None:
    headers = standard_webhooks_headers(body.encode(), secret, delivery_id, NOW)

    delivery = verify_mlflow_delivery(body.encode(), headers, secret, now=NOW)

    assert (delivery.delivery_id, delivery.timestamp) == (delivery_id, NOW)


@given(secret=secrets_text, delivery_id=ids)
def test_our_test_signer_writes_what_standard_webhooks_verifies(
    secret: str, delivery_id: str
) -> None:
    headers = sign_mlflow_delivery(BODY, secret, delivery_id=delivery_id)  # stamped now
    standard = {
        "webhook-id": headers[DELIVERY_ID_HEADER],
        "webhook-timestamp": headers[TIMESTAMP_HEADER],
        "webhook-signature": headers[MLFLOW_SIGNATURE_HEADER],
    }

    assert Webhook(secret.encode()).verify(BODY, standard) == EVENT


@given(skew=st.integers(-300, 300))
def test_a_timestamp_within_the_tolerance_either_way_is_accepted(skew: int) -> None:
    headers = sign_mlflow_delivery(BODY, SECRET, timestamp=NOW + skew)

    assert verify_mlflow_delivery(BODY, headers, SECRET, now=NOW).timestamp == NOW + skew


@given(skew=st.integers(301, 10**9), ahead=st.booleans())
def test_a_timestamp_past_the_tolerance_either_way_is_refused(skew: int, ahead: bool) -> None:
    stamp = NOW + skew if ahead else NOW - skew
    headers = sign_mlflow_delivery(BODY, SECRET, timestamp=stamp)

    error = refusal(BODY, headers)

    assert isinstance(error, TimestampError)
    assert error.reason == "timestamp_outside_tolerance"
    assert ("in the future" in str(error)) is ahead


def test_the_tolerance_is_configurable() -> None:
    headers = sign_mlflow_delivery(BODY, SECRET, timestamp=NOW - 11)

    assert isinstance(refusal(BODY, headers, tolerance=10), TimestampError)
    assert verify_mlflow_delivery(BODY, headers, SECRET, tolerance=11, now=NOW)


@given(data=st.data())
def test_a_tampered_body_id_or_timestamp_is_a_mismatch(data: st.DataObject) -> None:
    headers = sign_mlflow_delivery(BODY, SECRET, delivery_id="a-b-c", timestamp=NOW)
    body = BODY
    part = data.draw(st.sampled_from(["body", "id", "timestamp"]))
    if part == "body":
        position = data.draw(st.integers(0, len(BODY) - 1))
        body = BODY[:position] + bytes([BODY[position] ^ 1]) + BODY[position + 1 :]
    elif part == "id":
        headers[DELIVERY_ID_HEADER] = data.draw(ids.filter(lambda value: value != "a-b-c"))
    else:
        headers[TIMESTAMP_HEADER] = str(NOW + data.draw(st.integers(-300, 300).filter(bool)))

    error = refusal(body, headers)

    assert isinstance(error, MlflowSignatureError)
    assert error.reason is FailureReason.MISMATCH


def test_a_signature_made_with_another_secret_is_a_mismatch() -> None:
    headers = sign_mlflow_delivery(BODY, "another secret", timestamp=NOW)

    assert refusal(BODY, headers).reason is FailureReason.MISMATCH


def test_any_matching_signature_among_several_is_enough_and_other_versions_are_skipped() -> None:
    good = sign_mlflow_delivery(BODY, SECRET, timestamp=NOW)
    stale = sign_mlflow_delivery(BODY, "old secret", delivery_id=good[DELIVERY_ID_HEADER])
    wrong = stale[MLFLOW_SIGNATURE_HEADER]
    good[MLFLOW_SIGNATURE_HEADER] = f"v1a,xyz {wrong} {good[MLFLOW_SIGNATURE_HEADER]}"

    assert verify_mlflow_delivery(BODY, good, SECRET, now=NOW)


def test_every_secret_given_is_tried() -> None:
    headers = sign_mlflow_delivery(BODY, SECRET, timestamp=NOW)

    assert verify_mlflow_delivery(BODY, headers, [None, "old", SECRET], now=NOW)


@pytest.mark.parametrize("missing", [DELIVERY_ID_HEADER, TIMESTAMP_HEADER, MLFLOW_SIGNATURE_HEADER])
def test_each_missing_header_is_named(missing: str) -> None:
    headers = sign_mlflow_delivery(BODY, SECRET, timestamp=NOW)
    del headers[missing]

    error = refusal(BODY, headers)

    assert error.reason is FailureReason.MISSING_HEADER
    assert missing in str(error)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (TIMESTAMP_HEADER, "17672256OO"),
        (TIMESTAMP_HEADER, "-5"),
        (TIMESTAMP_HEADER, "1767225600.5"),
        (DELIVERY_ID_HEADER, "two words"),
        (DELIVERY_ID_HEADER, "x" * 201),
        (MLFLOW_SIGNATURE_HEADER, "v2," + base64.b64encode(bytes(32)).decode()),
        (MLFLOW_SIGNATURE_HEADER, "v1,not base64!"),
        (MLFLOW_SIGNATURE_HEADER, "v1," + base64.b64encode(bytes(31)).decode()),
        (MLFLOW_SIGNATURE_HEADER, "sha256=" + "0" * 64),
    ],
)
def test_a_malformed_header_is_refused_as_malformed(header: str, value: str) -> None:
    headers = sign_mlflow_delivery(BODY, SECRET, timestamp=NOW)
    headers[header] = value

    error = refusal(BODY, headers)

    assert error.reason is FailureReason.MALFORMED_HEADER
    assert header in str(error)


@given(
    headers=st.dictionaries(
        st.sampled_from([DELIVERY_ID_HEADER, TIMESTAMP_HEADER, MLFLOW_SIGNATURE_HEADER]), st.text()
    )
)
def test_any_header_text_is_refused_with_a_reason_never_a_crash(headers: dict[str, str]) -> None:
    assert isinstance(refusal(BODY, headers), (MlflowSignatureError, TimestampError))


def test_without_a_secret_everything_is_refused() -> None:
    headers = sign_mlflow_delivery(BODY, SECRET, timestamp=NOW)

    assert refusal(BODY, headers, secrets=[None, ""]).reason is FailureReason.NO_SECRET_CONFIGURED


def test_an_unverified_body_is_never_parsed() -> None:
    headers = sign_mlflow_delivery(b"not json", "another secret", timestamp=NOW)

    with pytest.raises(MlflowSignatureError):
        receive_mlflow_event(b"not json", headers, SECRET, now=NOW)


def test_the_event_is_read_once_verified() -> None:
    headers = sign_mlflow_delivery(BODY, SECRET, delivery_id="d-1", timestamp=NOW)

    event = receive_mlflow_event(BODY, headers, SECRET, now=NOW)

    assert (event.name, event.data, event.delivery.delivery_id) == (
        "model_version.created",
        EVENT["data"],
        "d-1",
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", PayloadProblem.INVALID_JSON),
        (b"[1, 2]", PayloadProblem.SCHEMA_VIOLATION),
        (b'{"entity": "model_version", "data": {}}', PayloadProblem.SCHEMA_VIOLATION),
        (
            b'{"entity": "model_version", "action": "created", "data": []}',
            PayloadProblem.SCHEMA_VIOLATION,
        ),
    ],
)
def test_a_verified_body_that_is_no_event_is_named(body: bytes, reason: PayloadProblem) -> None:
    delivery = verify_mlflow_delivery(
        body, sign_mlflow_delivery(body, SECRET, timestamp=NOW), SECRET, now=NOW
    )

    with pytest.raises(MlflowEventError) as raised:
        parse_mlflow_event(body, delivery)

    assert raised.value.reason is reason
