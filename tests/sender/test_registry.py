"""The SDK side end to end: a real MLflow server, real HTTP, the stub site or a recorder."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import contracts
from contracts import Shape
from contracts.conformance import Recorder, ScriptedAnswer
from contracts.envelope import idempotency_key
from contracts.receiver.testing import RunningStubSite
from contracts.sender import (
    DeliveryPolicy,
    DeliveryReason,
    MlflowRegistrationError,
    ModelRegistry,
    NotificationError,
    Registration,
    RegistrationInputError,
    TrackingServerUnreachableError,
    log_tiny_model,
)
from contracts.sender.registry import check_tracking_server
from contracts.urls import redacted_url
from tests.sender.conftest import Resend
from tests.sender.signatures import TINY_API_SCHEMA, logged_signature
from tests.sender.stored import stored_notifications, waiting_entries

pytestmark = pytest.mark.mlflow

RegistryFor = Callable[..., ModelRegistry]


def versions_of(mlflow_client: Any, model_name: str) -> list[Any]:
    return list(mlflow_client.search_model_versions(f"name = '{model_name}'"))


def register(registry: ModelRegistry, model_uri: str, model_name: str, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "token_id": "LSCOR",
        "metric_name": "accuracy",
        "baseline_value": 0.933,
        **overrides,
    }
    return registry.register_tokenized_model(model_uri, model_name, **arguments)


def test_registering_a_model_flips_the_stub_sites_token_to_registered(
    registry_for: RegistryFor,
    hokusai_stub_site: RunningStubSite,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_mlflow_client: Any,
) -> None:
    assert hokusai_stub_site.token("LSCOR")["status"] == "DRAFT"
    registry = registry_for(hokusai_stub_site.webhook_url, hokusai_webhook_secret)

    registration = register(
        registry, hokusai_tiny_model_uri, model_name, additional_tags={"dataset": "leads-2025"}
    )

    assert registration.notification.delivered
    assert registration.notification.last_status_code == 200
    assert hokusai_stub_site.token("LSCOR")["status"] == "REGISTERED"
    (version,) = versions_of(hokusai_mlflow_client, model_name)
    assert version.version == registration.model_version
    assert version.run_id == registration.run_id == hokusai_tiny_model_uri.split("/")[1]
    assert version.tags == {
        "hokusai_token_id": "LSCOR",
        "benchmark_metric": "accuracy",
        "benchmark_value": "0.933",
        "dataset": "leads-2025",
    }
    assert registry.outbox.waiting() == []


def test_a_registration_sends_the_nested_v2_body_by_default_with_its_signatures_api_schema(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_mlflow_client: Any,
    tmp_path: Path,
) -> None:
    registry = registry_for(hokusai_recording_receiver.url, hokusai_webhook_secret)

    register(registry, hokusai_tiny_model_uri, model_name)
    registration = register(registry, hokusai_tiny_model_uri, model_name, baseline_value=0.95)

    latest = max(versions_of(hokusai_mlflow_client, model_name), key=lambda v: int(v.version))
    request = hokusai_recording_receiver.requests[-1]
    assert contracts.verify(
        request.body, request.header("X-Hokusai-Signature"), hokusai_webhook_secret
    )
    received = contracts.validate_payload(request.body)
    assert registration.shape is Shape.V2 and list(received) == list(contracts.V2_FIELD_ORDER)
    assert received["model"] == {
        "id": "lscor",
        "name": model_name,
        "status": "registered",
        "version": latest.version,
        "run_id": latest.run_id,
        "api_schema": TINY_API_SCHEMA,
        "primary_metric": "accuracy",
    }
    assert latest.version == "2"
    signature = logged_signature(hokusai_mlflow_client, latest.run_id, tmp_path / "read-back")
    assert contracts.api_schema_from_signature(signature) == TINY_API_SCHEMA
    key = idempotency_key("LSCOR", model_name, "2")
    assert request.header("X-Hokusai-Idempotency-Key") == key


@pytest.mark.parametrize(
    "asked", [{"payload_shape": "v1"}, {"payload_shape": Shape.V1}, {"shape": "v1"}]
)
def test_a_registration_asked_for_v1_sends_the_flat_body_matching_mlflow(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_mlflow_client: Any,
    asked: dict[str, Any],
) -> None:
    per_call = {"shape": asked.pop("shape")} if "shape" in asked else {}
    registry = registry_for(hokusai_recording_receiver.url, hokusai_webhook_secret, **asked)

    register(registry, hokusai_tiny_model_uri, model_name, **per_call)
    registration = register(
        registry, hokusai_tiny_model_uri, model_name, baseline_value=0.95, **per_call
    )

    latest = max(versions_of(hokusai_mlflow_client, model_name), key=lambda v: int(v.version))
    request = hokusai_recording_receiver.requests[-1]
    assert contracts.verify(
        request.body, request.header("X-Hokusai-Signature"), hokusai_webhook_secret
    )
    received = contracts.validate_payload(request.body)
    assert registration.shape is Shape.V1
    assert received["model_version"] == latest.version == "2"
    assert received["mlflow_run_id"] == latest.run_id
    assert received["model_name"] == model_name
    assert received["baseline_value"] == 0.95
    assert received["tags"] == latest.tags
    key = idempotency_key("LSCOR", model_name, "2")
    assert request.header("X-Hokusai-Idempotency-Key") == key


def test_a_v2_registry_sends_one_registration_as_v1_when_asked(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
) -> None:
    registry = registry_for(hokusai_recording_receiver.url, hokusai_webhook_secret)

    flat = register(registry, hokusai_tiny_model_uri, model_name, shape=Shape.V1)
    nested = register(registry, hokusai_tiny_model_uri, model_name)

    bodies = [contracts.parse_body(request.body) for request in hokusai_recording_receiver.requests]
    shapes = [contracts.payload_shape(body) for body in bodies]
    assert shapes == [Shape.V1, Shape.V2] == [flat.shape, nested.shape]


def test_a_model_without_a_signature_sends_no_api_schema(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_webhook_secret: str,
    unsigned_model_uri: str,
    model_name: str,
    hokusai_mlflow_client: Any,
    tmp_path: Path,
) -> None:
    registry = registry_for(hokusai_recording_receiver.url, hokusai_webhook_secret)

    registration = register(registry, unsigned_model_uri, model_name)

    (request,) = hokusai_recording_receiver.requests
    model = contracts.validate_payload(request.body)["model"]
    assert "api_schema" not in model and model["version"] == registration.model_version
    assert (
        logged_signature(hokusai_mlflow_client, str(registration.run_id), tmp_path / "read") is None
    )


def test_the_stub_site_keeps_the_signatures_api_schema_when_a_later_version_has_none(
    registry_for: RegistryFor,
    hokusai_stub_site: RunningStubSite,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    unsigned_model_uri: str,
    model_name: str,
) -> None:
    registry = registry_for(hokusai_stub_site.webhook_url, hokusai_webhook_secret)

    first = register(registry, hokusai_tiny_model_uri, model_name)
    after_first = hokusai_stub_site.token("LSCOR")
    second = register(registry, unsigned_model_uri, model_name)
    after_second = hokusai_stub_site.token("LSCOR")

    assert first.notification.delivered and second.notification.delivered
    assert after_first["status"] == "REGISTERED" and after_first["model_version"] == "1"
    assert after_first["api_schema"] == TINY_API_SCHEMA
    assert after_second["model_version"] == "2" and after_second["metric_name"] == "accuracy"
    assert after_second["api_schema"] == TINY_API_SCHEMA  # left out, so kept: never null


def test_a_version_whose_signature_cannot_be_read_is_notified_without_api_schema(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_webhook_secret: str,
    hokusai_mlflow_server: Any,
    model_name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    not_a_model = tmp_path / "weights"
    not_a_model.mkdir()
    (not_a_model / "weights.bin").write_bytes(b"\x00\x01")
    model_uri = log_tiny_model(hokusai_mlflow_server.tracking_uri, not_a_model)
    registry = registry_for(hokusai_recording_receiver.url, hokusai_webhook_secret)

    with caplog.at_level(logging.WARNING, logger="contracts.sender"):
        registration = register(registry, model_uri, model_name)

    assert registration.notification.delivered
    (request,) = hokusai_recording_receiver.requests
    assert "api_schema" not in contracts.validate_payload(request.body)["model"]
    (warning,) = [r.getMessage() for r in caplog.records if "api_schema" in r.getMessage()]
    assert f"api_schema left out: the MLmodel file of model {model_name!r} version 1" in warning


def test_the_hokusai_site_url_and_secret_win_over_the_webhook_ones(
    hokusai_mlflow_server: Any,
    hokusai_stub_site: RunningStubSite,
    hokusai_webhook_secret: str,
    dead_url: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_outbox_path: Path,
    fast_policy: DeliveryPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOKUSAI_SITE_WEBHOOK_URL", hokusai_stub_site.webhook_url)
    monkeypatch.setenv("WEBHOOK_URL", dead_url)
    monkeypatch.setenv("HOKUSAI_SITE_WEBHOOK_SECRET", hokusai_webhook_secret)
    monkeypatch.setenv("WEBHOOK_SECRET", "not the site's secret")
    registry = ModelRegistry(hokusai_mlflow_server.tracking_uri, delivery=fast_policy)

    registration = register(registry, hokusai_tiny_model_uri, model_name)

    assert registration.notification.delivered, registration.notification.message
    assert registry.outbox.path == hokusai_outbox_path
    assert hokusai_stub_site.token("LSCOR")["status"] == "REGISTERED"


@pytest.mark.parametrize(
    ("shape", "sent"), [(Shape.V2, ("model", "id", "lscor")), (Shape.V1, ("token_id", "LSCOR"))]
)
@pytest.mark.parametrize("token_as_typed", ["lscor", "LsCoR"])
def test_a_token_typed_in_any_case_is_sent_in_the_case_of_its_shape_and_registered(
    registry_for: RegistryFor,
    hokusai_stub_site: RunningStubSite,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_mlflow_client: Any,
    token_as_typed: str,
    shape: Shape,
    sent: tuple[str, ...],
) -> None:
    registry = registry_for(
        hokusai_stub_site.webhook_url, hokusai_webhook_secret, payload_shape=shape
    )

    registration = register(registry, hokusai_tiny_model_uri, model_name, token_id=token_as_typed)

    *path, value = sent
    field: Any = registration.payload
    for name in path:
        field = field[name]
    assert registration.token_id == "LSCOR" and field == value
    (version,) = versions_of(hokusai_mlflow_client, model_name)
    assert version.tags["hokusai_token_id"] == "LSCOR"
    assert hokusai_stub_site.token(token_as_typed)["status"] == "REGISTERED"


@pytest.mark.parametrize(
    ("overrides", "error", "parameter"),
    [
        ({"token_id": "LS_COR"}, contracts.TokenIdError, None),
        ({"token_id": "-LSCOR"}, contracts.TokenIdError, None),
        ({"metric_name": ""}, RegistrationInputError, "metric_name"),
        ({"baseline_value": math.nan}, RegistrationInputError, "baseline_value"),
        ({"baseline_value": True}, RegistrationInputError, "baseline_value"),
        ({"baseline_value": "0.9"}, RegistrationInputError, "baseline_value"),
        ({"additional_tags": {"owner": ["a", "b"]}}, RegistrationInputError, "additional_tags"),
        ({"additional_tags": {"hokusai_token_id": "X"}}, RegistrationInputError, "additional_tags"),
        ({"additional_tags": {"team/../x": "a"}}, RegistrationInputError, "additional_tags"),
        ({"additional_tags": {"bad\nkey": "v"}}, RegistrationInputError, "additional_tags"),
        ({"additional_tags": {"note": "x" * 100_001}}, RegistrationInputError, "additional_tags"),
        ({"metric_name": "m" * 100_001}, RegistrationInputError, "metric_name"),
        ({"shape": "v3"}, RegistrationInputError, "shape"),
    ],
)
def test_bad_input_raises_a_typed_error_and_leaves_mlflow_untouched(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_mlflow_client: Any,
    overrides: dict[str, Any],
    error: type[Exception],
    parameter: str | None,
) -> None:
    registry = registry_for(hokusai_recording_receiver.url, hokusai_webhook_secret)
    register(registry, hokusai_tiny_model_uri, model_name)
    before = len(versions_of(hokusai_mlflow_client, model_name))

    with pytest.raises(error) as raised:
        register(registry, hokusai_tiny_model_uri, model_name, **overrides)

    if parameter is not None:
        assert getattr(raised.value, "parameter", None) == parameter
        assert parameter in str(raised.value)
    assert len(versions_of(hokusai_mlflow_client, model_name)) == before == 1
    assert len(hokusai_recording_receiver.requests) == 1


@pytest.mark.parametrize(
    ("name", "tags", "parameter"),
    [
        ("   ", None, "model_name"),
        ("team/model", None, "model_name"),
        ("../model", None, "model_name"),
        ("fresh model", {"team/../x": "a"}, "additional_tags"),
        ("fresh model", {"bad\nkey": "v"}, "additional_tags"),
    ],
    ids=["blank", "slash", "path-like", "path-like tag", "newline in tag"],
)
def test_input_mlflow_would_refuse_creates_no_registered_model(
    registry_for: RegistryFor,
    hokusai_tiny_model_uri: str,
    hokusai_mlflow_client: Any,
    name: str,
    tags: dict[str, str] | None,
    parameter: str,
) -> None:
    registry = registry_for(None, None)
    models_before = len(hokusai_mlflow_client.search_registered_models())

    with pytest.raises(RegistrationInputError) as raised:
        register(registry, hokusai_tiny_model_uri, name, additional_tags=tags)

    assert raised.value.parameter == parameter and parameter in str(raised.value)
    assert len(hokusai_mlflow_client.search_registered_models()) == models_before


def test_a_version_mlflow_refuses_leaves_no_empty_registered_model_behind(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    model_name: str,
    hokusai_mlflow_client: Any,
    hokusai_webhook_secret: str,
) -> None:
    registry = registry_for(hokusai_recording_receiver.url, hokusai_webhook_secret)

    with pytest.raises(MlflowRegistrationError, match="Invalid model version source"):
        register(registry, "/no/such/model", model_name)

    assert hokusai_mlflow_client.search_registered_models(f"name = '{model_name}'") == []
    assert hokusai_recording_receiver.requests == []
    assert stored_notifications(registry.outbox.path) == []


def test_an_unreachable_tracking_server_fails_fast_and_says_what_to_check(
    dead_address: str,
    hokusai_outbox_path: Path,
    hokusai_tiny_model_uri: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    registry = ModelRegistry(dead_address, None, None, outbox_path=hokusai_outbox_path)

    with pytest.raises(TrackingServerUnreachableError) as raised:
        register(registry, hokusai_tiny_model_uri, "any model")

    message = str(raised.value)
    assert f"MLflow at {dead_address} is not reachable: connection refused" in message
    assert "--tracking-uri" in message and "MLFLOW_TRACKING_URI" in message
    assert stored_notifications(registry.outbox.path) == []


def test_a_password_in_the_tracking_uri_never_shows_in_mlflows_error(
    hokusai_mlflow_server: Any,
    hokusai_outbox_path: Path,
    model_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = hokusai_mlflow_server.tracking_uri.replace("http://", "http://alice:hunter2-pw@", 1)
    registry = ModelRegistry(uri, None, None, outbox_path=hokusai_outbox_path)

    with pytest.raises(MlflowRegistrationError) as raised:
        register(registry, "models:/m-0123456789abcdef", model_name)

    message = str(raised.value)
    assert "hunter2-pw" not in message and "alice" not in message
    assert f"MLflow at {redacted_url(uri)} did not register" in message


@pytest.mark.parametrize("uri", ["file:///no/such/mlruns", "sqlite:///no/such/mlflow.db"])
def test_tracking_uris_that_are_not_http_are_not_probed(uri: str) -> None:
    check_tracking_server(uri, timeout=0.001)


def test_without_a_secret_the_registration_stands_and_the_notification_waits_in_the_outbox(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_mlflow_client: Any,
) -> None:
    registry = registry_for(hokusai_recording_receiver.url, None)

    registration = register(registry, hokusai_tiny_model_uri, model_name)

    assert len(versions_of(hokusai_mlflow_client, model_name)) == 1
    outcome = registration.notification
    assert not outcome.delivered and outcome.reason is DeliveryReason.NO_SECRET_CONFIGURED
    assert "no secret configured" in outcome.message and outcome.attempts == 0
    assert hokusai_recording_receiver.requests == []
    (entry,) = waiting_entries(registry.outbox)
    assert entry.idempotency_key == outcome.idempotency_key
    assert entry.url == hokusai_recording_receiver.url
    assert entry.payload == registration.payload


def test_required_mode_raises_with_the_registration_when_the_receiver_refuses(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_mlflow_client: Any,
) -> None:
    hokusai_recording_receiver.script(
        ScriptedAnswer(401, {"success": False, "error": "Bad signature"})
    )
    registry = registry_for(
        hokusai_recording_receiver.url, hokusai_webhook_secret, notify="required"
    )

    with pytest.raises(NotificationError, match="Bad signature") as raised:
        register(registry, hokusai_tiny_model_uri, model_name)

    registration = raised.value.registration
    assert isinstance(registration, Registration)
    assert registration.notification.reason is DeliveryReason.REJECTED
    assert registration.notification.attempts == 1
    (version,) = versions_of(hokusai_mlflow_client, model_name)
    assert version.version == registration.model_version
    (entry,) = waiting_entries(registry.outbox)
    assert entry.last_status_code == 401 and "Bad signature" in (entry.last_error or "")


@pytest.mark.parametrize(
    ("answer", "reason", "attempts"),
    [
        (ScriptedAnswer(500, {"success": False, "error": "boom"}), "server_error", 3),
        (ScriptedAnswer(401, {"success": False, "error": "no"}), "rejected", 1),
        (ScriptedAnswer(delay=3), "timed_out", 3),
        (ScriptedAnswer(500, cut_after=3), "server_error", 3),
    ],
    ids=["500", "401", "stall", "500 cut short"],
)
def test_best_effort_mode_never_raises_and_the_outbox_keeps_the_attempts(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    answer: ScriptedAnswer,
    reason: str,
    attempts: int,
) -> None:
    hokusai_recording_receiver.default = answer
    registry = registry_for(hokusai_recording_receiver.url, hokusai_webhook_secret)

    registration = register(registry, hokusai_tiny_model_uri, model_name)

    assert not registration.notification.delivered
    assert registration.notification.reason.value == reason
    assert len(hokusai_recording_receiver.requests) == attempts
    (entry,) = waiting_entries(registry.outbox)
    assert entry.attempts == attempts and entry.last_reason is not None
    assert entry.last_reason.value == reason


def test_resend_delivers_everything_the_outbox_holds_exactly_once(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    dead_url: str,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_outbox_path: Path,
    resend: Resend,
) -> None:
    down = registry_for(dead_url, hokusai_webhook_secret)
    failing = registry_for(hokusai_recording_receiver.url, hokusai_webhook_secret)
    unsigned = registry_for(hokusai_recording_receiver.url, None)
    hokusai_recording_receiver.script(*[ScriptedAnswer(503)] * 3)
    registrations = [
        register(down, hokusai_tiny_model_uri, model_name, token_id="TOKEN-A"),
        register(failing, hokusai_tiny_model_uri, model_name, token_id="TOKEN-B"),
        register(unsigned, hokusai_tiny_model_uri, model_name, token_id="TOKEN-C"),
    ]
    assert not any(r.notification.delivered for r in registrations)
    assert len(down.outbox.waiting()) == 3

    first, report = resend(
        "--outbox", str(hokusai_outbox_path), "--url", hokusai_recording_receiver.url
    )
    second, again = resend(
        "--outbox", str(hokusai_outbox_path), "--url", hokusai_recording_receiver.url
    )

    assert (first, second) == (0, 0)
    for token in ("TOKEN-A", "TOKEN-B", "TOKEN-C"):
        assert f"{token}  {model_name!r}" in report
    assert "3 notification(s): 3 delivered, 0 not delivered" in report
    assert "nothing to resend" in again
    accepted = [str(r.idempotency_key) for r in hokusai_recording_receiver.requests if r.succeeded]
    assert sorted(accepted) == sorted(r.notification.idempotency_key for r in registrations)
    assert down.outbox.waiting() == []
    assert all(stored.delivered for stored in stored_notifications(down.outbox.path))


def test_resend_reports_what_is_still_not_delivered_and_exits_one(
    registry_for: RegistryFor,
    dead_url: str,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_outbox_path: Path,
    resend: Resend,
) -> None:
    register(registry_for(dead_url, hokusai_webhook_secret), hokusai_tiny_model_uri, model_name)

    exit_code, report = resend("--outbox", str(hokusai_outbox_path), "--attempts", "1")

    assert exit_code == 1
    assert "LSCOR" in report and "NOT delivered (unreachable)" in report
    assert hokusai_webhook_secret not in report


def test_resend_from_mlflow_flips_a_token_registered_before_the_webhook_existed(
    registry_for: RegistryFor,
    hokusai_stub_site: RunningStubSite,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_mlflow_server: Any,
    tmp_path: Path,
    resend: Resend,
) -> None:
    registration = register(
        registry_for(None, None), hokusai_tiny_model_uri, model_name, token_id="lscor"
    )
    assert registration.notification.reason is DeliveryReason.NO_WEBHOOK_URL
    assert hokusai_stub_site.token("LSCOR")["status"] == "DRAFT"

    exit_code, report = resend(
        "--from-mlflow",
        "--token",
        "lscor",
        "--tracking-uri",
        hokusai_mlflow_server.tracking_uri,
        "--model-name",
        model_name,
        "--url",
        hokusai_stub_site.webhook_url,
        "--outbox",
        str(tmp_path / "another-machine.sqlite3"),
    )

    assert exit_code == 0, report
    assert f"LSCOR  {model_name!r} version 1: delivered (200" in report
    assert hokusai_stub_site.token("LSCOR")["status"] == "REGISTERED"
    (delivery,) = hokusai_stub_site.deliveries("LSCOR")
    assert delivery["idempotency_key"] == registration.notification.idempotency_key


@pytest.mark.parametrize("shape", [None, "v2", "v1"])
def test_resend_from_mlflow_builds_v2_with_the_signatures_api_schema_unless_asked_for_v1(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_mlflow_client: Any,
    hokusai_mlflow_server: Any,
    tmp_path: Path,
    resend: Resend,
    shape: str | None,
) -> None:
    register(
        registry_for(None, None), hokusai_tiny_model_uri, model_name, additional_tags={"team": "a"}
    )
    asked = ["--shape", shape] if shape else []

    exit_code, report = resend(
        "--from-mlflow",
        "--token",
        "LSCOR",
        "--tracking-uri",
        hokusai_mlflow_server.tracking_uri,
        "--url",
        hokusai_recording_receiver.url,
        "--outbox",
        str(tmp_path / "another-machine.sqlite3"),
        *asked,
    )

    assert exit_code == 0, report
    (version,) = versions_of(hokusai_mlflow_client, model_name)
    (request,) = hokusai_recording_receiver.requests
    received = contracts.validate_payload(request.body)
    if shape == "v1":
        assert received["model_version"] == version.version
        assert received["tags"] == version.tags and received["baseline_value"] == 0.933
        return
    signature = logged_signature(hokusai_mlflow_client, version.run_id, tmp_path / "read-back")
    assert received["model"] == {
        "id": "lscor",
        "name": model_name,
        "status": "registered",
        "version": version.version,
        "run_id": version.run_id,
        "api_schema": contracts.api_schema_from_signature(signature),
        "primary_metric": "accuracy",
    }
    assert received["model"]["api_schema"] == TINY_API_SCHEMA


def test_resend_sends_each_notification_in_the_shape_it_was_registered_in(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    dead_url: str,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_outbox_path: Path,
    resend: Resend,
) -> None:
    down = registry_for(dead_url, hokusai_webhook_secret)
    nested = register(down, hokusai_tiny_model_uri, model_name, token_id="TOKEN-A")
    flat = register(down, hokusai_tiny_model_uri, model_name, token_id="TOKEN-B", shape="v1")

    exit_code, report = resend(
        "--outbox", str(hokusai_outbox_path), "--url", hokusai_recording_receiver.url
    )

    assert exit_code == 0, report
    received = [
        contracts.parse_body(request.body) for request in hokusai_recording_receiver.requests
    ]
    assert [{**body, "timestamp": None} for body in received] == [
        {**nested.payload, "timestamp": None},
        {**flat.payload, "timestamp": None},
    ]
    assert [contracts.payload_shape(body) for body in received] == [Shape.V2, Shape.V1]


def test_resend_from_mlflow_for_a_token_no_version_carries_exits_one(
    hokusai_mlflow_server: Any, resend: Resend
) -> None:
    exit_code, report = resend(
        "--from-mlflow",
        "--token",
        "NO-SUCH-TOKEN",
        "--tracking-uri",
        hokusai_mlflow_server.tracking_uri,
    )

    assert exit_code == 1
    assert "no model version in MLflow carries the tag hokusai_token_id=NO-SUCH-TOKEN" in report


def test_resend_from_mlflow_against_an_unreachable_server_is_a_usage_error(
    dead_address: str, monkeypatch: pytest.MonkeyPatch, resend: Resend
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    exit_code, report = resend("--from-mlflow", "--token", "LSCOR", "--tracking-uri", dead_address)

    assert exit_code == 2
    assert f"MLflow at {dead_address} is not reachable: connection refused" in report


def test_resend_needs_the_credentials_the_outbox_dropped_and_uses_them_when_given(
    registry_for: RegistryFor,
    hokusai_recording_receiver: Recorder,
    hokusai_webhook_secret: str,
    hokusai_tiny_model_uri: str,
    model_name: str,
    hokusai_outbox_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    resend: Resend,
) -> None:
    url = hokusai_recording_receiver.url.replace("http://", "http://hook:hunter2@", 1)
    hokusai_recording_receiver.script(*[ScriptedAnswer(503)] * 3)
    register(registry_for(url, hokusai_webhook_secret), hokusai_tiny_model_uri, model_name)

    refused, advice = resend("--outbox", str(hokusai_outbox_path))
    monkeypatch.setenv("WEBHOOK_URL", url)
    delivered, report = resend("--outbox", str(hokusai_outbox_path))

    assert refused == 1 and "NOT delivered (no_webhook_url)" in advice
    assert "needs the user name and password the outbox never stores" in advice
    assert "--url" in advice and "WEBHOOK_URL" in advice and "hunter2" not in advice
    assert delivered == 0 and "1 delivered" in report
    last = hokusai_recording_receiver.requests[-1]
    assert last.succeeded and last.header("Authorization") == "Basic aG9vazpodW50ZXIy"
