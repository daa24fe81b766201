"""Every row of the receiver table, over real HTTP, each answer checked against the OpenAPI."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

import contracts
from contracts.receiver import RejectReason, RunningStubSite, running_stub_site
from tests.receiver.support import (
    OLD_SECRET,
    SECRET,
    assert_answer_follows_the_contract,
    deliver,
    registration,
)

REGISTERED_FIELDS = {
    "token_id": "LSCOR",
    "status": "REGISTERED",
    "model_name": "Sales lead scoring model",
    "model_version": "4",
    "mlflow_run_id": "0b5c2f0e7d3a4c1e9f8a6b5d4c3e2f1a",
    "metric_name": "accuracy",
    "baseline_value": 0.933,
}
FIXED_NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def assert_still_draft(site: RunningStubSite, token_id: str = "LSCOR") -> None:
    token = site.token(token_id)
    assert token["status"] == "DRAFT"
    assert token["model_name"] is None


# --- 200: valid deliveries ------------------------------------------------------------------


def test_a_valid_delivery_moves_the_draft_token_to_registered(site: RunningStubSite) -> None:
    answer = assert_answer_follows_the_contract(deliver(site), 200)
    assert answer == {
        "success": True,
        "token_id": "LSCOR",
        "status": "REGISTERED",
        "model_version": "4",
        "duplicate": False,
        "message": "token LSCOR moved from DRAFT to REGISTERED",
    }
    assert site.token("LSCOR").items() >= REGISTERED_FIELDS.items()


def test_a_resent_delivery_is_a_duplicate_and_makes_no_second_transition(
    site: RunningStubSite,
) -> None:
    deliver(site)
    first = site.token("LSCOR")
    answer = assert_answer_follows_the_contract(deliver(site), 200)
    assert answer["duplicate"] is True
    assert "idempotency key was seen before" in answer["message"]
    assert site.token("LSCOR") == first
    verdicts = [delivery["verdict"] for delivery in site.deliveries("LSCOR")]
    assert verdicts == ["registered", "duplicate"]


def test_a_delivery_for_a_registered_token_is_a_duplicate_whatever_its_key(
    site: RunningStubSite,
) -> None:
    deliver(site)
    first = site.token("LSCOR")
    later = registration(model_version="5", baseline_value=0.99)
    answer = assert_answer_follows_the_contract(deliver(site, later), 200)
    assert answer["duplicate"] is True
    assert answer["model_version"] == "4"
    assert site.token("LSCOR") == first


def test_a_delivery_without_an_idempotency_key_is_judged_by_token_state(
    site: RunningStubSite,
) -> None:
    first = deliver(site, drop=(contracts.IDEMPOTENCY_KEY_HEADER,))
    second = deliver(site, drop=(contracts.IDEMPOTENCY_KEY_HEADER,))
    assert assert_answer_follows_the_contract(first, 200)["duplicate"] is False
    assert assert_answer_follows_the_contract(second, 200)["duplicate"] is True
    assert site.token("LSCOR")["idempotency_key"] is None


def test_an_idempotency_key_that_is_not_a_uuid_is_accepted_and_recorded_as_given(
    site: RunningStubSite,
) -> None:
    assert_answer_follows_the_contract(deliver(site, key="retry-7 of LSCOR"), 200)
    assert site.token("LSCOR")["idempotency_key"] == "retry-7 of LSCOR"
    assert site.deliveries("LSCOR")[0]["idempotency_key"] == "retry-7 of LSCOR"


def test_any_casing_of_status_and_token_id_is_accepted(site: RunningStubSite) -> None:
    answer = deliver(site, registration(token_id="lScOr", status="registered"))
    assert assert_answer_follows_the_contract(answer, 200)["token_id"] == "LSCOR"
    assert site.token("LSCOR")["status"] == "REGISTERED"


def test_unknown_top_level_fields_are_ignored(site: RunningStubSite) -> None:
    answer = deliver(site, registration(delivery_attempt=3, sdk={"name": "hokusai"}))
    assert_answer_follows_the_contract(answer, 200)


def test_a_signature_under_any_configured_secret_is_accepted(site: RunningStubSite) -> None:
    assert_answer_follows_the_contract(deliver(site, secret=OLD_SECRET), 200)
    assert site.deliveries("LSCOR")[0]["secret_index"] == 1


def test_a_non_ascii_model_name_sent_unescaped_is_stored_exactly(site: RunningStubSite) -> None:
    body = json.dumps(registration(model_name="Modèle de scoring 東京"), ensure_ascii=False)
    assert_answer_follows_the_contract(deliver(site, body=body.encode("utf-8")), 200)
    assert site.token("LSCOR")["model_name"] == "Modèle de scoring 東京"


# --- 500: no secret configured --------------------------------------------------------------


@pytest.fixture
def site_without_secret(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(tmp_path / "site.sqlite3", secrets=None) as site:
        yield site


def test_a_receiver_without_a_secret_fails_closed_with_500(
    site_without_secret: RunningStubSite,
) -> None:
    answer = assert_answer_follows_the_contract(
        deliver(site_without_secret), 500, RejectReason.NO_SECRET_CONFIGURED
    )
    assert answer["error"] == "Webhook secret not configured"
    assert "secret" in answer["hint"]
    assert_still_draft(site_without_secret)


def test_empty_secrets_count_as_no_secret(tmp_path: Path) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", secrets=["", ""]) as site:
        assert_answer_follows_the_contract(deliver(site), 500, RejectReason.NO_SECRET_CONFIGURED)


# --- 401: signature and replay --------------------------------------------------------------


def test_a_missing_signature_gets_401_and_changes_nothing(site: RunningStubSite) -> None:
    answer = deliver(site, drop=(contracts.SIGNATURE_HEADER,))
    assert_answer_follows_the_contract(answer, 401, RejectReason.MISSING_HEADER)
    assert_still_draft(site)


@pytest.mark.parametrize(
    "header",
    ["757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "sha256=abc", "v1,abc="],
    ids=["bare-hex", "short-digest", "other-scheme"],
)
def test_a_malformed_signature_gets_401_and_changes_nothing(
    site: RunningStubSite, header: str
) -> None:
    answer = deliver(site, headers={contracts.SIGNATURE_HEADER: header})
    assert_answer_follows_the_contract(answer, 401, RejectReason.MALFORMED_HEADER)
    assert_still_draft(site)


def test_a_signature_under_another_secret_gets_401_and_changes_nothing(
    site: RunningStubSite,
) -> None:
    answer = deliver(site, secret=SECRET + "\n")
    assert_answer_follows_the_contract(answer, 401, RejectReason.MISMATCH)
    assert_still_draft(site)


def test_a_signature_over_a_reserialized_body_gets_401(site: RunningStubSite) -> None:
    payload = registration()
    signed_compact = contracts.signed_delivery(payload, SECRET)
    spaced = json.dumps(payload).encode("ascii")
    answer = requests.post(
        site.webhook_url, data=spaced, headers=signed_compact.headers, timeout=10
    )
    assert_answer_follows_the_contract(answer, 401, RejectReason.MISMATCH)
    assert_still_draft(site)


def test_the_signature_is_checked_before_the_body_is_parsed(site: RunningStubSite) -> None:
    answer = deliver(site, body=b"not json at all", secret="wrong")
    assert_answer_follows_the_contract(answer, 401, RejectReason.MISMATCH)


@pytest.fixture
def site_with_tolerance(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(
        tmp_path / "site.sqlite3", SECRET, timestamp_tolerance=300, clock=lambda: FIXED_NOW
    ) as site:
        yield site


@pytest.mark.parametrize("offset", [-301, 301, -86400 * 365])
def test_a_timestamp_outside_the_tolerance_gets_401_with_the_tolerance(
    site_with_tolerance: RunningStubSite, offset: int
) -> None:
    stamped = contracts.format_timestamp(FIXED_NOW + timedelta(seconds=offset))
    answer = assert_answer_follows_the_contract(
        deliver(site_with_tolerance, registration(timestamp=stamped)),
        401,
        RejectReason.TIMESTAMP_OUTSIDE_TOLERANCE,
    )
    assert answer["tolerance_seconds"] == 300
    assert_still_draft(site_with_tolerance)


@pytest.mark.parametrize(
    "stamped",
    [
        "2026-03-01T12:04:59Z",
        "2026-03-01T11:55:01.5Z",
        "2026-03-01T12:00:00",
        "2026-03-01T13:00:00+01:00",
    ],
)
def test_a_timestamp_inside_the_tolerance_is_accepted(
    site_with_tolerance: RunningStubSite, stamped: str
) -> None:
    answer = deliver(site_with_tolerance, registration(timestamp=stamped))
    assert_answer_follows_the_contract(answer, 200)


def test_the_timestamp_tolerance_is_off_by_default(site: RunningStubSite) -> None:
    answer = deliver(site, registration(timestamp="2019-01-01T00:00:00Z"))
    assert_answer_follows_the_contract(answer, 200)


# --- 400: not JSON, or not valid against the schema -----------------------------------------


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe{}", b'{"a": NaN}', b'{"a": 1, "a": 2}'])
def test_a_body_that_is_not_json_gets_400(site: RunningStubSite, body: bytes) -> None:
    answer = assert_answer_follows_the_contract(
        deliver(site, body=body), 400, RejectReason.INVALID_JSON
    )
    assert answer["field"] == "$"
    assert_still_draft(site)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("baseline_value", "high"),
        ("baseline_value", True),
        ("token_id", "LS_COR"),
        ("timestamp", "yesterday"),
        ("model_version", 4),
        ("status", "DRAFT"),
        ("event_type", "model_deleted"),
    ],
)
def test_a_schema_violation_gets_400_naming_the_field(
    site: RunningStubSite, field: str, value: object
) -> None:
    answer = assert_answer_follows_the_contract(
        deliver(site, registration(**{field: value})), 400, RejectReason.SCHEMA_VIOLATION
    )
    assert answer["field"] == f"$.{field}"
    assert f"$.{field}" in answer["error"]
    assert [violation["path"] for violation in answer["violations"]] == [f"$.{field}"]
    assert_still_draft(site)


def test_a_missing_field_gets_400_naming_it(site: RunningStubSite) -> None:
    payload = registration()
    del payload["metric_name"]
    answer = assert_answer_follows_the_contract(
        deliver(site, payload), 400, RejectReason.SCHEMA_VIOLATION
    )
    assert answer["field"] == "$.metric_name"


def test_text_that_is_not_unicode_gets_400_not_a_server_error(site: RunningStubSite) -> None:
    body = contracts.serialize(registration()).replace(b"Sales", b"\\ud800Sales")
    answer = assert_answer_follows_the_contract(
        deliver(site, body=body), 400, RejectReason.SCHEMA_VIOLATION
    )
    assert answer["field"] == "$.model_name"


# --- 404, 413, 405 --------------------------------------------------------------------------


def test_an_unknown_token_gets_404(site: RunningStubSite) -> None:
    answer = assert_answer_follows_the_contract(
        deliver(site, registration(token_id="NOPE")), 404, RejectReason.UNKNOWN_TOKEN
    )
    assert "tokens add NOPE" in answer["error"]
    assert_still_draft(site)


def test_a_body_declared_over_the_limit_gets_413(site: RunningStubSite) -> None:
    too_big = b"{" + b" " * contracts.receiver.DEFAULT_MAX_BODY_BYTES + b"}"
    answer = deliver(site, body=too_big)
    assert_answer_follows_the_contract(answer, 413, RejectReason.BODY_TOO_LARGE)


def test_a_chunked_body_over_the_limit_gets_413_without_being_read_whole(
    tmp_path: Path,
) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, max_body_bytes=1000) as site:
        chunks = (b"x" * 600 for _ in range(2))
        answer = requests.post(site.webhook_url, data=chunks, timeout=10)
        assert answer.request.headers["Transfer-Encoding"] == "chunked"
        assert_answer_follows_the_contract(answer, 413, RejectReason.BODY_TOO_LARGE)
        assert_answer_follows_the_contract(deliver(site), 200)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_a_wrong_method_gets_405_allowing_post(site: RunningStubSite, method: str) -> None:
    answer = requests.request(method, site.webhook_url, timeout=10)
    assert_answer_follows_the_contract(answer, 405, RejectReason.METHOD_NOT_ALLOWED)
    assert answer.headers["Allow"] == "POST"


# --- what the stub site keeps and says ------------------------------------------------------


def test_every_delivery_is_logged_once_without_secret_or_full_signature(
    site: RunningStubSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="contracts.receiver")
    wrong = deliver(site, secret="not-the-secret")
    right = deliver(site)
    deliver(site, drop=(contracts.SIGNATURE_HEADER,))
    lines = [r.getMessage() for r in caplog.records if r.name == "contracts.receiver"]
    assert len(lines) == 3
    assert [line.split(" -> ")[1].split()[:2] for line in lines] == [
        ["401", "mismatch"],
        ["200", "registered"],
        ["401", "missing_header"],
    ]
    text = "\n".join(lines)
    for secret in (SECRET, OLD_SECRET, "not-the-secret"):
        assert secret not in text
    for answer in (wrong, right):
        assert answer.request.headers[contracts.SIGNATURE_HEADER] not in text


def test_the_store_never_holds_a_secret_or_a_rejected_signature(site: RunningStubSite) -> None:
    rejected = deliver(site, secret="not-the-secret")
    deliver(site)
    stored = b"".join(
        path.read_bytes() for path in site.store.path.parent.glob(site.store.path.name + "*")
    )
    assert SECRET.encode() not in stored
    assert b"not-the-secret" not in stored
    assert rejected.request.headers[contracts.SIGNATURE_HEADER][7:].encode() not in stored
    recorded = site.deliveries()[0]
    assert recorded["verdict"] == "mismatch"
    assert len(recorded["signature_prefix"]) <= len("sha256=") + 8


def test_token_state_is_readable_in_any_case_over_http(site: RunningStubSite) -> None:
    deliver(site)
    state = requests.get(site.state_url_template.format(token_id="lscor"), timeout=10)
    assert state.status_code == 200
    assert state.json().items() >= {"success": True, **REGISTERED_FIELDS}.items()
    assert state.json()["registered_at"].endswith("Z")


@pytest.mark.parametrize("token_id", ["NOPE", "LS_COR", "-" * 70])
def test_reading_an_unknown_token_gets_404_json(site: RunningStubSite, token_id: str) -> None:
    state = requests.get(site.state_url_template.format(token_id=token_id), timeout=10)
    assert state.status_code == 404
    assert state.json()["reason"] == RejectReason.UNKNOWN_TOKEN.value


def test_the_deliveries_log_is_readable_over_http(site: RunningStubSite) -> None:
    key = str(uuid.uuid4())
    deliver(site, key=key)
    deliver(site, registration(token_id="NOPE"))
    listed = requests.get(site.deliveries_url, params={"token_id": "lscor"}, timeout=10).json()
    assert listed["success"] is True
    assert [
        (d["verdict"], d["status_code"], d["idempotency_key"]) for d in listed["deliveries"]
    ] == [("registered", 200, key)]
    everything = requests.get(site.deliveries_url, timeout=10).json()["deliveries"]
    assert [d["verdict"] for d in everything] == ["registered", "unknown_token"]


def test_health_answers_ok(site: RunningStubSite) -> None:
    answer = requests.get(site.base_url + "/health", timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"success": True, "status": "ok"}


def test_an_unknown_path_gets_404_json_pointing_at_the_webhook(site: RunningStubSite) -> None:
    answer = requests.post(site.base_url + "/api/mlflow/registered/", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["reason"] == RejectReason.UNKNOWN_PATH.value
    assert contracts.DEFAULT_PATH in answer.json()["error"]


def test_a_read_endpoint_refuses_other_methods_with_405_json(site: RunningStubSite) -> None:
    answer = requests.post(site.base_url + "/health", timeout=10)
    assert answer.status_code == 405
    assert answer.json()["reason"] == RejectReason.METHOD_NOT_ALLOWED.value
    assert "GET" in answer.headers["Allow"]
