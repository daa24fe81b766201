"""Building, serializing, parsing and validating the model_registered body."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import contracts
from contracts import (
    FIELD_ORDER,
    PayloadError,
    build_payload,
    format_timestamp,
    parse_timestamp,
    run_id_from_model_uri,
    serialize,
    validate_payload,
)
from contracts.schema import load_json

ORIGINAL_INTEGRATION_BODY = (
    b'{"event_type":"model_registered","timestamp":"2025-08-21T14:42:23.646003",'
    b'"token_id":"LSCOR","model_name":"Sales lead scoring model","model_version":"4",'
    b'"mlflow_run_id":"abc123","metric_name":"accuracy","baseline_value":0.933,'
    b'"status":"REGISTERED","tags":{}}'
)


PAYLOAD_VECTORS: list[dict[str, Any]] = load_json("vectors/payloads.v1.json")["cases"]


def vector_body(case: dict[str, Any]) -> bytes:
    if "body_base64" in case:
        return base64.b64decode(case["body_base64"])
    return str(case["body"]).encode("utf-8")


def valid_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = load_json("examples/model_registered.json")
    payload.update(changes)
    return payload


def violation_paths(payload_or_body: Any) -> list[str]:
    with pytest.raises(PayloadError) as raised:
        validate_payload(payload_or_body)
    return [violation.path for violation in raised.value.violations]


def test_the_original_integration_payload_validates() -> None:
    assert validate_payload(ORIGINAL_INTEGRATION_BODY)["token_id"] == "LSCOR"


def test_every_shipped_example_validates() -> None:
    validate_payload(load_json("examples/model_registered.json"))
    validate_payload(load_json("examples/original_integration.json"))


@pytest.mark.parametrize("case", PAYLOAD_VECTORS, ids=[case["name"] for case in PAYLOAD_VECTORS])
def test_every_payload_vector_gets_its_expected_verdict(case: dict[str, Any]) -> None:
    body = vector_body(case)
    if case["expected"]["valid"]:
        assert validate_payload(body) == json.loads(body)
        return
    with pytest.raises(PayloadError) as raised:
        validate_payload(body)
    assert raised.value.reason.value == case["expected"]["problem"]
    assert [violation.path for violation in raised.value.violations] == case["expected"]["paths"]


def test_every_violation_is_listed_with_its_json_path() -> None:
    paths = violation_paths(valid_payload(token_id="-bad", baseline_value=True, tags={"a": [1]}))
    assert paths == ["$.baseline_value", "$.tags.a", "$.token_id"]


def test_missing_fields_are_named_by_path() -> None:
    payload = valid_payload()
    del payload["model_version"], payload["status"]
    assert violation_paths(payload) == ["$.model_version", "$.status"]


@pytest.mark.parametrize(
    "timestamp",
    ["2025-02-30T10:00:00Z", "2025-13-01T10:00:00Z", "2025-08-21 14:42:23Z", "yesterday", ""],
)
def test_timestamps_are_really_checked(timestamp: str) -> None:
    assert violation_paths(valid_payload(timestamp=timestamp)) == ["$.timestamp"]


@pytest.mark.parametrize(
    "timestamp",
    ["2025-08-21T14:42:23Z", "2025-08-21T14:42:23.646003", "2025-08-21t14:42:23+05:30"],
)
def test_rfc3339_timestamps_with_or_without_offset_validate(timestamp: str) -> None:
    validate_payload(valid_payload(timestamp=timestamp))


def test_a_timestamp_without_offset_is_read_as_utc() -> None:
    moment = parse_timestamp("2025-08-21T14:42:23.646003")
    assert moment == datetime(2025, 8, 21, 14, 42, 23, 646003, tzinfo=timezone.utc)


def test_offsets_are_converted_to_utc() -> None:
    assert parse_timestamp("2025-08-21T20:12:23+05:30") == parse_timestamp("2025-08-21T14:42:23Z")


def test_format_timestamp_writes_utc_with_z_from_any_zone() -> None:
    berlin = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2025, 8, 21, 16, 0, tzinfo=berlin)) == (
        "2025-08-21T14:00:00.000000Z"
    )


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"a":NaN}', b'{"a":Infinity}', b"\xff\xfe", b'{"a":1,"a":2}', b""],
)
def test_unparseable_bodies_raise_payload_error_at_the_root(body: bytes) -> None:
    assert violation_paths(body)[0] == "$"


def test_a_number_too_large_for_a_double_is_refused() -> None:
    body = ORIGINAL_INTEGRATION_BODY.replace(b"0.933", b"1e400")
    assert violation_paths(body) == ["$.baseline_value"]


def test_unknown_top_level_fields_are_allowed() -> None:
    validate_payload(valid_payload(delivered_by="sdk 2.1"))


def test_lower_case_status_and_token_id_are_valid_on_the_wire() -> None:
    validate_payload(valid_payload(status="registered", token_id="lscor"))


def test_build_payload_normalizes_and_orders_fields() -> None:
    payload = build_payload(
        token_id="lscor",
        model_name="Sales lead scoring model",
        model_version=4,
        metric_name="accuracy",
        baseline_value=0.933,
        mlflow_run_id="abc123",
    )
    assert payload["token_id"] == "LSCOR"
    assert payload["model_version"] == "4"
    assert tuple(payload) == FIELD_ORDER


def test_serialize_matches_what_the_real_sdk_wrote() -> None:
    payload = valid_payload(model_name="Modèle")
    expected = json.dumps(payload, separators=(",", ":")).encode()
    assert serialize(payload) == expected
    assert b"\\u00e8" in serialize(payload)


def test_serialize_puts_contract_fields_first_and_refuses_nan() -> None:
    shuffled = dict(reversed(list(valid_payload(extra=1).items())))
    assert list(json.loads(serialize(shuffled))) == [*FIELD_ORDER, "extra"]
    with pytest.raises(ValueError):
        serialize(valid_payload(baseline_value=math.nan))


def test_run_id_is_taken_only_from_runs_uris() -> None:
    assert run_id_from_model_uri("runs:/abc123/model") == "abc123"
    assert run_id_from_model_uri("models:/name/4") is None
    assert run_id_from_model_uri("s3://bucket/model") is None


token_ids = st.from_regex(r"\A[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?\Z")
names = st.text(min_size=1).filter(lambda text: text.strip() != "")
numbers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
)
tag_values = st.one_of(st.text(), st.integers(-(2**53), 2**53), st.booleans(), st.none())


@given(
    token_id=token_ids,
    model_name=names,
    model_version=st.integers(min_value=1, max_value=10**9),
    metric_name=names,
    baseline_value=numbers,
    run_id=st.one_of(st.none(), st.from_regex(r"\A[0-9a-f]{32}\Z")),
    tags=st.dictionaries(st.text(), tag_values, max_size=5),
)
def test_every_payload_from_valid_inputs_validates_and_round_trips(
    token_id: str,
    model_name: str,
    model_version: int,
    metric_name: str,
    baseline_value: float,
    run_id: str | None,
    tags: dict[str, Any],
) -> None:
    payload = build_payload(
        token_id=token_id,
        model_name=model_name,
        model_version=model_version,
        metric_name=metric_name,
        baseline_value=baseline_value,
        mlflow_run_id=run_id,
        tags=tags,
    )
    body = serialize(payload)
    assert body.isascii()
    assert validate_payload(body) == payload


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token_id", "LSCOR\n"),
        ("model_version", "4\n"),
        ("status", "registered\n"),
        ("timestamp", "2025-08-21T14:42:23Z\n"),
    ],
)
def test_a_trailing_newline_breaks_the_pattern_as_in_every_json_schema_validator(
    field: str, value: str
) -> None:
    assert violation_paths(valid_payload(**{field: value})) == [f"$.{field}"]


def test_a_timestamp_at_the_edge_of_the_calendar_is_a_violation_not_a_crash() -> None:
    assert violation_paths(valid_payload(timestamp="0001-01-01T00:00:00+01:00")) == ["$.timestamp"]


def test_the_sdk_tag_names_are_the_ones_the_schema_names() -> None:
    described = contracts.SCHEMA["properties"]["tags"]["description"]
    example = contracts.SCHEMA["properties"]["tags"]["examples"][0]
    for tag in contracts.SDK_TAGS:
        assert tag in described
        assert tag in example


def test_one_validator_gives_verdicts_and_violations_with_jsonschema_alone() -> None:
    # With every extra installed, validating still loads no second schema engine.
    script = (
        "import sys, contracts\n"
        "from contracts.schema import load_json\n"
        "payload = load_json('examples/model_registered.json')\n"
        "contracts.validate_payload(payload)\n"
        "assert contracts.payload_violations({**payload, 'token_id': 'LS_COR'})\n"
        "engines = [name for name in sys.modules if name.startswith('jsonschema_rs')]\n"
        "print(engines)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert run.stdout.strip() == "[]"
