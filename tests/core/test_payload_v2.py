"""The v2 (nested) body in code: told apart from v1 as the website does, validated, received,
built as the SDK's CLI builds it, and serialized in the SDK's key order."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import contracts
from contracts import (
    MODEL_STATUS,
    SIGNATURE_HEADER,
    SOURCE,
    UNCHANGED,
    PayloadError,
    Shape,
    TokenIdError,
    build_model_payload,
    payload_shape,
    payload_violations,
    receive,
    serialize,
    sign,
    signed_delivery,
    token_id_of,
    validate_payload,
)
from contracts.envelope import IDEMPOTENCY_KEY_HEADER
from contracts.schema import load_json, schemas_dir

SECRET = "whsec-v2-test"
VECTORS: dict[str, Any] = load_json("vectors/payloads.v2.json")
CASES: list[dict[str, Any]] = VECTORS["cases"]
EXAMPLES = sorted(schemas_dir().glob("examples/*.v2.*.json"))
API_SCHEMA = {
    "inputSchema": {"type": "object", "properties": {"industry": {"type": "string"}}},
    "outputSchema": {"type": "object", "properties": {"lead_score": {"type": "number"}}},
}


def v2_payload(**model_changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = load_json("examples/model_registered.v2.publisher.json")
    payload["model"].update(model_changes)
    return payload


def signed(body: bytes) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(body, SECRET)}


# --- the shared vectors ---------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_every_v2_vector_gets_its_verdict_and_paths(case: dict[str, Any]) -> None:
    body = case["body"].encode("utf-8")
    expected = case["expected"]
    if expected["valid"]:
        payload = validate_payload(body)
        assert payload == json.loads(body)
        assert token_id_of(payload) == expected["token"]
        return
    with pytest.raises(PayloadError) as raised:
        validate_payload(body)
    assert raised.value.reason.value == expected["problem"]
    assert sorted(v.path for v in raised.value.violations) == expected["paths"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_every_v2_vector_is_judged_as_its_shape(case: dict[str, Any]) -> None:
    if case["expected"]["problem"] == "invalid_json":
        return
    assert payload_shape(json.loads(case["body"])) is Shape(case["shape"])


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_every_signed_v2_vector_is_received_with_its_token_upper_cased(
    case: dict[str, Any],
) -> None:
    body = case["body"].encode("utf-8")
    expected = case["expected"]
    if not expected["valid"]:
        with pytest.raises(PayloadError) as raised:
            receive(body, signed(body), SECRET)
        assert raised.value.reason.value == expected["problem"]
        return
    event = receive(body, signed(body), SECRET)
    assert token_id_of(event) == expected["token"]
    if case["shape"] == "v2":
        sent = json.loads(body)["model"]
        assert event["model"] == {**sent, "id": expected["token"], "status": "REGISTERED"}
        assert {k: v for k, v in event.items() if k != "model"} == {
            k: v for k, v in json.loads(body).items() if k != "model"
        }
    else:
        assert event["token_id"] == expected["token"]
        assert event["status"] == "REGISTERED"


# --- telling the shapes apart ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "shape"),
    [
        ({"token_id": "LSCOR"}, Shape.V1),
        ({"token_id": "LSCOR", "model": {"id": "other"}}, Shape.V1),
        ({"model": {"id": "lscor"}}, Shape.V2),
        ({}, Shape.V2),
        ([{"token_id": "LSCOR"}], Shape.V2),
        ("token_id", Shape.V2),
    ],
)
def test_a_top_level_token_id_makes_a_v1_body_and_anything_else_is_v2(
    payload: Any, shape: Shape
) -> None:
    assert payload_shape(payload) is shape


def test_a_body_with_a_token_id_beside_a_model_is_judged_by_v1_alone() -> None:
    payload = {**v2_payload(), "token_id": "LSCOR"}
    paths = {violation.path for violation in payload_violations(payload)}
    assert "$.model_name" in paths and not any(path.startswith("$.model.") for path in paths)


def test_a_body_with_neither_token_id_nor_model_is_a_v2_body_missing_its_model() -> None:
    payload = {"event_type": "model_registered", "timestamp": "2026-04-30T12:00:01Z"}
    assert [v.path for v in payload_violations(payload)] == ["$.model", "$.source"]


@pytest.mark.parametrize(
    ("payload", "token"),
    [
        ({"token_id": "lscor"}, "LSCOR"),
        ({"model": {"id": "lscor"}}, "LSCOR"),
        ({"model": {"id": "LsCor-2"}}, "LSCOR-2"),
        ({"token_id": "lscor", "model": {"id": "other"}}, "LSCOR"),
    ],
)
def test_the_token_is_token_id_or_model_id_upper_cased(payload: Any, token: str) -> None:
    assert token_id_of(payload) == token


@pytest.mark.parametrize(
    "payload", [{}, {"model": "lscor"}, {"model": {}}, {"model": {"id": "ls_cor"}}]
)
def test_a_missing_or_broken_token_id_is_a_token_id_error(payload: Any) -> None:
    with pytest.raises(TokenIdError):
        token_id_of(payload)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "valid"),
    [
        ("2026-04-30T12:00:01Z", True),  # the CLI: whole seconds
        ("2026-04-30T12:00:01.123456Z", True),  # the publisher: naive isoformat() + "Z"
        ("2026-04-30T12:00:01+00:00", True),
        ("2026-04-30T12:00:01.123456", True),  # no offset: read as UTC
        ("2026-04-30T12:00:01.123456+00:00Z", False),  # aware isoformat() + "Z"
        ("2026-04-30T12:00:01+00:00Z", False),
    ],
)
def test_the_v2_timestamp_forms_real_senders_write(timestamp: str, valid: bool) -> None:
    payload = {**v2_payload(), "timestamp": timestamp}
    assert (payload_violations(payload) == []) is valid
    if not valid:
        assert [v.path for v in payload_violations(payload)] == ["$.timestamp"]


def test_api_schema_null_is_valid_but_null_in_any_other_optional_field_is_not() -> None:
    assert payload_violations(v2_payload(api_schema=None)) == []
    for name in ("version", "run_id", "user_id", "eval_spec", "scorer_ref", "primary_metric"):
        assert [v.path for v in payload_violations(v2_payload(**{name: None}))] == [
            f"$.model.{name}"
        ]


def test_a_v2_violation_names_the_nested_field_and_its_rule_in_words() -> None:
    (violation,) = payload_violations(v2_payload(version=4))
    assert violation.path == "$.model.version"
    assert violation.message.startswith("got 4; model.version must be the MLflow version")
    (missing,) = payload_violations(v2_payload(api_schema={"inputSchema": {}}))
    assert missing.path == "$.model.api_schema.outputSchema"
    assert missing.message == "is missing; every api_schema object carries it"


def test_a_path_with_several_broken_rules_is_named_once() -> None:
    assert [v.path for v in payload_violations(v2_payload(id=""))] == ["$.model.id"]


def test_a_v2_model_name_that_is_not_unicode_is_refused_when_received() -> None:
    body = serialize(v2_payload()).replace(b"Sales lead", b"Sales \\udc00lead")
    with pytest.raises(PayloadError) as raised:
        receive(body, signed(body), SECRET)
    assert raised.value.first_path == "$.model.name"


# --- building --------------------------------------------------------------------------------


def test_a_built_v2_payload_is_what_the_sdks_cli_sends() -> None:
    payload = build_model_payload(
        token_id="LSCOR",
        model_name="Sales lead scoring model",
        model_version=4,
        run_id="abc123",
        timestamp=datetime(2026, 4, 30, 14, 0, 1, 999999, tzinfo=timezone(timedelta(hours=2))),
    )
    assert payload == {
        "event_type": "model_registered",
        "model": {
            "id": "lscor",
            "name": "Sales lead scoring model",
            "status": MODEL_STATUS,
            "version": "4",
            "run_id": "abc123",
        },
        "timestamp": "2026-04-30T12:00:01Z",
        "source": SOURCE,
    }
    assert (MODEL_STATUS, SOURCE) == ("registered", "mlflow")


def test_a_built_v2_payload_is_stamped_now_in_whole_seconds_with_z() -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    stamp = build_model_payload(token_id="LSCOR", model_name="m")["timestamp"]
    assert stamp.endswith("Z") and "." not in stamp
    assert before <= contracts.parse_timestamp(stamp) <= datetime.now(timezone.utc)


def test_optional_fields_given_as_none_are_left_out_as_real_senders_do() -> None:
    payload = build_model_payload(
        token_id="LSCOR",
        model_name="m",
        model_version=None,
        run_id=None,
        user_id=None,
        eval_spec=None,
        scorer_ref=None,
        primary_metric=None,
        benchmark_spec_id=None,
    )
    assert payload["model"] == {"id": "lscor", "name": "m", "status": "registered"}


def test_api_schema_left_out_keeps_the_sites_and_none_sends_null_to_clear_it() -> None:
    kept = build_model_payload(token_id="LSCOR", model_name="m")
    explicit = build_model_payload(token_id="LSCOR", model_name="m", api_schema=UNCHANGED)
    cleared = build_model_payload(token_id="LSCOR", model_name="m", api_schema=None)
    replaced = build_model_payload(token_id="LSCOR", model_name="m", api_schema=API_SCHEMA)
    assert "api_schema" not in kept["model"] and "api_schema" not in explicit["model"]
    assert cleared["model"]["api_schema"] is None
    assert b'"api_schema":null' in serialize(cleared)
    assert replaced["model"]["api_schema"] == API_SCHEMA
    assert repr(UNCHANGED) == "UNCHANGED"


def test_every_optional_field_given_is_sent_in_the_sdks_order() -> None:
    payload = build_model_payload(
        benchmark_spec_id="bench-1",
        primary_metric="accuracy",
        scorer_ref="accuracy",
        eval_spec={"metric": "accuracy"},
        api_schema=API_SCHEMA,
        user_id="u-1",
        run_id="abc123",
        model_version="7",
        model_name="m",
        token_id="lscor",
        timestamp="2026-04-30T12:00:01.123456Z",
    )
    assert list(payload) == list(contracts.V2_FIELD_ORDER)
    assert list(payload["model"]) == list(contracts.MODEL_FIELD_ORDER)
    assert payload["timestamp"] == "2026-04-30T12:00:01.123456Z"


def test_building_refuses_what_no_receiver_would_accept() -> None:
    with pytest.raises(TokenIdError):
        build_model_payload(token_id="LS_COR", model_name="m")
    with pytest.raises(PayloadError) as raised:
        build_model_payload(token_id="LSCOR", model_name="  ", model_version="v4")
    assert [v.path for v in raised.value.violations] == ["$.model.name", "$.model.version"]
    with pytest.raises(PayloadError):
        build_model_payload(token_id="LSCOR", model_name="m", timestamp="2026-04-30+00:00Z")


# --- serializing and signing ----------------------------------------------------------------


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_each_v2_example_serializes_in_the_key_order_the_sdk_writes(path: Any) -> None:
    example = json.loads(path.read_text(encoding="utf-8"))
    scrambled = {key: example[key] for key in reversed(list(example))}
    scrambled["model"] = {key: example["model"][key] for key in reversed(list(example["model"]))}
    assert serialize(scrambled) == json.dumps(example, separators=(",", ":")).encode()


def test_a_v2_delivery_signs_its_bytes_and_keys_the_registration_not_the_timestamp() -> None:
    first = signed_delivery(v2_payload(), SECRET)
    later = signed_delivery({**v2_payload(), "timestamp": "2026-05-01T00:00:00Z"}, SECRET)
    other = signed_delivery(v2_payload(version="6"), SECRET)
    upper = signed_delivery(v2_payload(id="LSCOR"), SECRET)
    assert first.body == serialize(v2_payload())
    assert first.signature == sign(first.body, SECRET)
    keys = [d.headers[IDEMPOTENCY_KEY_HEADER] for d in (first, later, other, upper)]
    assert keys[0] == keys[1] == keys[3] != keys[2]
