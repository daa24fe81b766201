"""The SDK side end to end: a real MLflow server, real HTTP, the stub site or a recorder."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import contracts
from contracts.conformance import Recorder, ScriptedAnswer
from contracts.envelope import idempotency_key
from contracts.receiver.testing import RunningStubSite
from contracts.sender import (
    DeliveryReason,
    MlflowRegistrationError,
    ModelRegistry,
    NotificationError,
    Registration,
    RegistrationInputError,
    TrackingServerUnreachableError,
)
from contracts.sender.registry import check_tracking_server
from contracts.urls import redacted_url
from tests.sender.conftest import Resend
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
    stub_site: RunningStubSite,
    webhook_secret: str,
    tiny_model_uri: str,
    model_name: str,
    mlflow_client: Any,
) -> None:
    assert stub_site.token("LSCOR")["status"] == "DRAFT"
    registry = registry_for(stub_site.webhook_url, webhook_secret)

    registration = register(
        registry, tiny_model_uri, model_name, additional_tags={"dataset": "leads-2025"}
    )

    assert registration.notification.delivered
    assert registration.notification.last_status_code == 200
    assert stub_site.token("LSCOR")["status"] == "REGISTERED"
    (version,) = versions_of(mlflow_client, model_name)
    assert version.version == registration.model_version
    assert version.run_id == registration.run_id == tiny_model_uri.split("/")[1]
    assert version.tags == {
        "hokusai_token_id": "LSCOR",
        "benchmark_metric": "accuracy",
        "benchmark_value": "0.933",
        "dataset": "leads-2025",
    }
    assert registry.outbox.waiting() == []


def test_the_payload_received_matches_mlflow_and_verifies_over_the_exact_bytes(
    registry_for: RegistryFor,
    recording_receiver: Recorder,
    webhook_secret: str,
    tiny_model_uri: str,
    model_name: str,
    mlflow_client: Any,
) -> None:
    registry = registry_for(recording_receiver.url, webhook_secret)

    register(registry, tiny_model_uri, model_name)
    register(registry, tiny_model_uri, model_name, baseline_value=0.95)

    latest = max(versions_of(mlflow_client, model_name), key=lambda v: int(v.version))
    request = recording_receiver.requests[-1]
    assert contracts.verify(request.body, request.header("X-Hokusai-Signature"), webhook_secret)
    received = contracts.validate_payload(request.body)
    assert received["model_version"] == latest.version == "2"
    assert received["mlflow_run_id"] == latest.run_id
    assert received["model_name"] == model_name
    assert received["baseline_value"] == 0.95
    assert received["tags"] == latest.tags
    key = idempotency_key("LSCOR", model_name, "2")
    assert request.header("X-Hokusai-Idempotency-Key") == key


@pytest.mark.parametrize("token_as_typed", ["lscor", "LsCoR"])
def test_a_token_typed_in_any_case_is_registered_and_sent_upper_cased(
    registry_for: RegistryFor,
    stub_site: RunningStubSite,
    webhook_secret: str,
    tiny_model_uri: str,
    model_name: str,
    mlflow_client: Any,
    token_as_typed: str,
) -> None:
    registry = registry_for(stub_site.webhook_url, webhook_secret)

    registration = register(registry, tiny_model_uri, model_name, token_id=token_as_typed)

    assert registration.token_id == registration.payload["token_id"] == "LSCOR"
    (version,) = versions_of(mlflow_client, model_name)
    assert version.tags["hokusai_token_id"] == "LSCOR"
    assert stub_site.token(token_as_typed)["status"] == "REGISTERED"


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
    ],
)
def test_bad_input_raises_a_typed_error_and_leaves_mlflow_untouched(
    registry_for: RegistryFor,
    recording_receiver: Recorder,
    webhook_secret: str,
    tiny_model_uri: str,
    model_name: str,
    mlflow_client: Any,
    overrides: dict[str, Any],
    error: type[Exception],
    parameter: str | None,
) -> None:
    registry = registry_for(recording_receiver.url, webhook_secret)
    register(registry, tiny_model_uri, model_name)
    before = len(versions_of(mlflow_client, model_name))

    with pytest.raises(error) as raised:
        register(registry, tiny_model_uri, model_name, **overrides)

    if parameter is not None:
        assert getattr(raised.value, "parameter", None) == parameter
        assert parameter in str(raised.value)
    assert len(versions_of(mlflow_client, model_name)) == before == 1
    assert len(recording_receiver.requests) == 1


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
    tiny_model_uri: str,
    mlflow_client: Any,
    name: str,
    tags: dict[str, str] | None,
    parameter: str,
) -> None:
    registry = registry_for(None, None)
    models_before = len(mlflow_client.search_registered_models())

    with pytest.raises(RegistrationInputError) as raised:
        register(registry, tiny_model_uri, name, additional_tags=tags)

    assert raised.value.parameter == parameter and parameter in str(raised.value)
    assert len(mlflow_client.search_registered_models()) == models_before


def test_a_version_mlflow_refuses_leaves_no_empty_registered_model_behind(
    registry_for: RegistryFor,
    recording_receiver: Recorder,
    model_name: str,
    mlflow_client: Any,
    webhook_secret: str,
) -> None:
    registry = registry_for(recording_receiver.url, webhook_secret)

    with pytest.raises(MlflowRegistrationError, match="Invalid model version source"):
        register(registry, "/no/such/model", model_name)

    assert mlflow_client.search_registered_models(f"name = '{model_name}'") == []
    assert recording_receiver.requests == []
    assert stored_notifications(registry.outbox.path) == []


def test_an_unreachable_tracking_server_fails_fast_and_says_what_to_check(
    dead_address: str, outbox_path: Path, tiny_model_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    registry = ModelRegistry(dead_address, None, None, outbox_path=outbox_path)

    with pytest.raises(TrackingServerUnreachableError) as raised:
        register(registry, tiny_model_uri, "any model")

    message = str(raised.value)
    assert f"MLflow at {dead_address} is not reachable: connection refused" in message
    assert "--tracking-uri" in message and "MLFLOW_TRACKING_URI" in message
    assert stored_notifications(registry.outbox.path) == []


def test_a_password_in_the_tracking_uri_never_shows_in_mlflows_error(
    mlflow_server: Any, outbox_path: Path, model_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = mlflow_server.tracking_uri.replace("http://", "http://alice:hunter2-pw@", 1)
    registry = ModelRegistry(uri, None, None, outbox_path=outbox_path)

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
    recording_receiver: Recorder,
    tiny_model_uri: str,
    model_name: str,
    mlflow_client: Any,
) -> None:
    registry = registry_for(recording_receiver.url, None)

    registration = register(registry, tiny_model_uri, model_name)

    assert len(versions_of(mlflow_client, model_name)) == 1
    outcome = registration.notification
    assert not outcome.delivered and outcome.reason is DeliveryReason.NO_SECRET_CONFIGURED
    assert "no secret configured" in outcome.message and outcome.attempts == 0
    assert recording_receiver.requests == []
    (entry,) = waiting_entries(registry.outbox)
    assert entry.idempotency_key == outcome.idempotency_key
    assert entry.url == recording_receiver.url
    assert entry.payload == registration.payload


def test_required_mode_raises_with_the_registration_when_the_receiver_refuses(
    registry_for: RegistryFor,
    recording_receiver: Recorder,
    webhook_secret: str,
    tiny_model_uri: str,
    model_name: str,
    mlflow_client: Any,
) -> None:
    recording_receiver.script(ScriptedAnswer(401, {"success": False, "error": "Bad signature"}))
    registry = registry_for(recording_receiver.url, webhook_secret, notify="required")

    with pytest.raises(NotificationError, match="Bad signature") as raised:
        register(registry, tiny_model_uri, model_name)

    registration = raised.value.registration
    assert isinstance(registration, Registration)
    assert registration.notification.reason is DeliveryReason.REJECTED
    assert registration.notification.attempts == 1
    (version,) = versions_of(mlflow_client, model_name)
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
    recording_receiver: Recorder,
    webhook_secret: str,
    tiny_model_uri: str,
    model_name: str,
    answer: ScriptedAnswer,
    reason: str,
    attempts: int,
) -> None:
    recording_receiver.default = answer
    registry = registry_for(recording_receiver.url, webhook_secret)

    registration = register(registry, tiny_model_uri, model_name)

    assert not registration.notification.delivered
    assert registration.notification.reason.value == reason
    assert len(recording_receiver.requests) == attempts
    (entry,) = waiting_entries(registry.outbox)
    assert entry.attempts == attempts and entry.last_reason is not None
    assert entry.last_reason.value == reason


def test_resend_delivers_everything_the_outbox_holds_exactly_once(
    registry_for: RegistryFor,
    recording_receiver: Recorder,
    dead_url: str,
    webhook_secret: str,
    tiny_model_uri: str,
    model_name: str,
    outbox_path: Path,
    resend: Resend,
) -> None:
    down = registry_for(dead_url, webhook_secret)
    failing = registry_for(recording_receiver.url, webhook_secret)
    unsigned = registry_for(recording_receiver.url, None)
    recording_receiver.script(*[ScriptedAnswer(503)] * 3)
    registrations = [
        register(down, tiny_model_uri, model_name, token_id="TOKEN-A"),
        register(failing, tiny_model_uri, model_name, token_id="TOKEN-B"),
        register(unsigned, tiny_model_uri, model_name, token_id="TOKEN-C"),
    ]
    assert not any(r.notification.delivered for r in registrations)
    assert len(down.outbox.waiting()) == 3

    first, report = resend("--outbox", str(outbox_path), "--url", recording_receiver.url)
    second, again = resend("--outbox", str(outbox_path), "--url", recording_receiver.url)

    assert (first, second) == (0, 0)
    for token in ("TOKEN-A", "TOKEN-B", "TOKEN-C"):
        assert f"{token}  {model_name!r}" in report
    assert "3 notification(s): 3 delivered, 0 not delivered" in report
    assert "nothing to resend" in again
    accepted = [str(r.idempotency_key) for r in recording_receiver.requests if r.succeeded]
    assert sorted(accepted) == sorted(r.notification.idempotency_key for r in registrations)
    assert down.outbox.waiting() == []
    assert all(stored.delivered for stored in stored_notifications(down.outbox.path))


def test_resend_reports_what_is_still_not_delivered_and_exits_one(
    registry_for: RegistryFor,
    dead_url: str,
    webhook_secret: str,
    tiny_model_uri: str,
    model_name: str,
    outbox_path: Path,
    resend: Resend,
) -> None:
    register(registry_for(dead_url, webhook_secret), tiny_model_uri, model_name)

    exit_code, report = resend("--outbox", str(outbox_path), "--attempts", "1")

    assert exit_code == 1
    assert "LSCOR" in report and "NOT delivered (unreachable)" in report
    assert webhook_secret not in report


def test_resend_from_mlflow_flips_a_token_registered_before_the_webhook_existed(
    registry_for: RegistryFor,
    stub_site: RunningStubSite,
    tiny_model_uri: str,
    model_name: str,
    mlflow_server: Any,
    tmp_path: Path,
    resend: Resend,
) -> None:
    registration = register(registry_for(None, None), tiny_model_uri, model_name, token_id="lscor")
    assert registration.notification.reason is DeliveryReason.NO_WEBHOOK_URL
    assert stub_site.token("LSCOR")["status"] == "DRAFT"

    exit_code, report = resend(
        "--from-mlflow",
        "--token",
        "lscor",
        "--tracking-uri",
        mlflow_server.tracking_uri,
        "--model-name",
        model_name,
        "--url",
        stub_site.webhook_url,
        "--outbox",
        str(tmp_path / "another-machine.sqlite3"),
    )

    assert exit_code == 0, report
    assert f"LSCOR  {model_name!r} version 1: delivered (200" in report
    assert stub_site.token("LSCOR")["status"] == "REGISTERED"
    (delivery,) = stub_site.deliveries("LSCOR")
    assert delivery["idempotency_key"] == registration.notification.idempotency_key


def test_resend_from_mlflow_for_a_token_no_version_carries_exits_one(
    mlflow_server: Any, resend: Resend
) -> None:
    exit_code, report = resend(
        "--from-mlflow", "--token", "NO-SUCH-TOKEN", "--tracking-uri", mlflow_server.tracking_uri
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
    recording_receiver: Recorder,
    webhook_secret: str,
    tiny_model_uri: str,
    model_name: str,
    outbox_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    resend: Resend,
) -> None:
    url = recording_receiver.url.replace("http://", "http://hook:hunter2@", 1)
    recording_receiver.script(*[ScriptedAnswer(503)] * 3)
    register(registry_for(url, webhook_secret), tiny_model_uri, model_name)

    refused, advice = resend("--outbox", str(outbox_path))
    monkeypatch.setenv("WEBHOOK_URL", url)
    delivered, report = resend("--outbox", str(outbox_path))

    assert refused == 1 and "NOT delivered (no_webhook_url)" in advice
    assert "needs the user name and password the outbox never stores" in advice
    assert "--url" in advice and "WEBHOOK_URL" in advice and "hunter2" not in advice
    assert delivered == 0 and "1 delivered" in report
    last = recording_receiver.requests[-1]
    assert last.succeeded and last.header("Authorization") == "Basic aG9vazpodW50ZXIy"
