"""What MLflow's own model-registry webhooks really send, proved against a real server: the
events the bridge relies on, their payload, headers and signature, retries, the test delivery,
and what sends nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.bridge.verify import DELIVERY_ID_HEADER, MLFLOW_SIGNATURE_HEADER, TIMESTAMP_HEADER
from contracts.conformance import RecordedRequest, Recorder, ScriptedAnswer
from contracts.payload import TOKEN_TAG
from contracts.sender import (
    BRIDGE_EVENTS,
    check_loopback_webhooks,
    create_bridge_webhook,
    list_webhooks,
    trigger_test_delivery,
)
from contracts.sender.mlflow_server import DATABASE_FILE, MlflowServer
from contracts.sender.mlflow_webhooks import TEST_EVENT_MODEL
from tests.sender.webhooks import (
    about,
    body,
    expected_signature,
    first_event,
    hooked,
    new_version,
    unique_name,
    wait_for,
)

pytestmark = pytest.mark.mlflow

SECRET = "sëcret-with-ünicode"
"""Not ASCII, so that the test proves the key is the secret's UTF-8 bytes."""
EVERY_MODEL_EVENT = (
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version_alias.created",
    "model_version_alias.deleted",
)


def event_name(request: RecordedRequest) -> str:
    payload = body(request)
    return f"{payload['entity']}.{payload['action']}"


# --- events and payload ----------------------------------------------------------------------


def test_mlflow_subscribes_a_webhook_to_exactly_the_bridge_events(
    webhook_uri: str, webhook_client: Any
) -> None:
    with Recorder() as target:
        created = create_bridge_webhook(webhook_uri, target.url, SECRET)
    listed = next(w for w in list_webhooks(webhook_uri) if w.webhook_id == created.webhook_id)
    webhook_client.delete_webhook(created.webhook_id)
    assert sorted(listed.events) == sorted(BRIDGE_EVENTS)
    assert listed.status == "ACTIVE"


def test_a_new_version_arrives_as_model_version_created_with_only_the_create_calls_tags(
    webhook_client: Any, mlflow_events: Recorder
) -> None:
    name = unique_name()
    with hooked(webhook_client, mlflow_events, secret=SECRET):
        webhook_client.create_registered_model(name, tags={"team": "on the model, not the version"})
        run_id = webhook_client.create_run("0").info.run_id
        version = webhook_client.create_model_version(
            name,
            "s3://bucket/lead-scorer",
            run_id=run_id,
            tags={TOKEN_TAG: "lscor"},
            description="Lead scorer",
        )
        webhook_client.set_model_version_tag(name, version.version, "later", "set after creation")
        (created,) = wait_for(
            lambda: [
                r for r in about(mlflow_events, name) if event_name(r) == "model_version.created"
            ]
        )

    payload = body(created)
    assert set(payload) == {"entity", "action", "timestamp", "data"}
    assert payload["data"] == {
        "name": name,
        "version": str(version.version),
        "source": "s3://bucket/lead-scorer",
        "run_id": run_id,
        "tags": {TOKEN_TAG: "lscor"},
        "description": "Lead scorer",
    }
    assert isinstance(payload["data"]["version"], str)


def test_a_tag_set_after_creation_arrives_as_model_version_tag_set(
    webhook_client: Any, mlflow_events: Recorder
) -> None:
    name = unique_name()
    with hooked(webhook_client, mlflow_events, secret=SECRET):
        version = new_version(webhook_client, name, (TOKEN_TAG, "lscor"))
        (tagged,) = wait_for(
            lambda: [
                r for r in about(mlflow_events, name) if event_name(r) == "model_version_tag.set"
            ]
        )

    assert body(tagged)["data"] == {
        "name": name,
        "version": str(version.version),
        "key": TOKEN_TAG,
        "value": "lscor",
    }


def test_a_tag_on_a_registered_model_sends_nothing(
    webhook_client: Any, mlflow_events: Recorder
) -> None:
    name = unique_name()
    with hooked(webhook_client, mlflow_events, secret=SECRET, events=EVERY_MODEL_EVENT):
        version = new_version(webhook_client, name)
        webhook_client.set_registered_model_tag(name, TOKEN_TAG, "lscor")
        webhook_client.set_model_version_tag(name, version.version, "control", "sent after it")
        wait_for(lambda: [r for r in about(mlflow_events, name) if body(r)["data"].get("key")])

    assert sorted(event_name(r) for r in about(mlflow_events, name)) == [
        "model_version.created",
        "model_version_tag.set",
        "registered_model.created",
    ]
    assert [
        body(r)["data"]["key"] for r in about(mlflow_events, name) if "key" in body(r)["data"]
    ] == ["control"]


# --- headers and signature -------------------------------------------------------------------


def test_each_dispatch_has_a_new_delivery_id_a_unix_timestamp_and_a_v1_hmac_signature(
    webhook_client: Any, mlflow_events: Recorder
) -> None:
    name = unique_name()
    with hooked(webhook_client, mlflow_events, secret=SECRET):
        new_version(webhook_client, name, (TOKEN_TAG, "lscor"))
        requests = wait_for(
            lambda: len(about(mlflow_events, name)) == 2 and about(mlflow_events, name)
        )

    delivery_ids = {r.header(DELIVERY_ID_HEADER) for r in requests}
    assert len(delivery_ids) == 2
    for request in requests:
        assert str(uuid.UUID(request.header(DELIVERY_ID_HEADER) or "")) == request.header(
            DELIVERY_ID_HEADER
        )
        timestamp = request.header(TIMESTAMP_HEADER) or ""
        assert timestamp.isdigit()
        assert abs(int(timestamp) - request.received_at) < 300  # seconds, not milliseconds
        assert request.header(MLFLOW_SIGNATURE_HEADER) == expected_signature(request, SECRET)
        assert request.header("Content-Type") == "application/json"


# --- retries ---------------------------------------------------------------------------------


@pytest.fixture
def always_503() -> Iterator[Recorder]:
    with Recorder(path="/mlflow-events", default=ScriptedAnswer(503)) as receiving:
        yield receiving


def test_a_receiver_that_always_answers_503_sees_four_attempts_of_one_delivery(
    webhook_uri: str, webhook_client: Any, always_503: Recorder
) -> None:
    with hooked(webhook_client, always_503, secret=SECRET) as webhook_id:
        before = len(always_503.requests)
        outcome = trigger_test_delivery(webhook_uri, webhook_id)  # returns when done
        attempts = [
            r for r in always_503.requests[before:] if body(r)["data"]["name"] == TEST_EVENT_MODEL
        ]

    assert outcome.response_status == 503 and not outcome.success
    assert len(attempts) == 4
    assert len({r.header(DELIVERY_ID_HEADER) for r in attempts}) == 1
    assert len({r.header(MLFLOW_SIGNATURE_HEADER) for r in attempts}) == 1
    assert len({r.body for r in attempts}) == 1


def test_a_real_event_is_retried_under_the_same_delivery_id(
    webhook_client: Any, always_503: Recorder
) -> None:
    name = unique_name()
    with hooked(webhook_client, always_503, secret=SECRET):
        new_version(webhook_client, name)
        attempts = wait_for(lambda: len(about(always_503, name)) >= 4 and about(always_503, name))

    assert len({r.header(DELIVERY_ID_HEADER) for r in attempts}) == 1
    assert all(r.status == 503 for r in attempts)


# --- the test delivery -----------------------------------------------------------------------


def test_the_test_delivery_names_example_model_and_carries_no_test_flag(
    webhook_uri: str, webhook_client: Any, mlflow_events: Recorder
) -> None:
    name = unique_name()
    with hooked(webhook_client, mlflow_events, secret=SECRET) as webhook_id:
        new_version(webhook_client, name)
        (real,) = wait_for(lambda: about(mlflow_events, name))
        outcome = trigger_test_delivery(webhook_uri, webhook_id)
        (test,) = about(mlflow_events, TEST_EVENT_MODEL)

    assert outcome.success and outcome.response_status == 200
    assert event_name(test) == "model_version.created"
    assert set(body(test)) == set(body(real))
    assert set(body(test)["data"]) == set(body(real)["data"])
    assert {name.lower() for name in test.headers} == {name.lower() for name in real.headers}
    assert "test" not in json.dumps(body(test)).lower()
    assert test.header(MLFLOW_SIGNATURE_HEADER) == expected_signature(test, SECRET)


def test_the_test_delivery_of_each_bridge_event_names_example_model_and_no_token_tag(
    webhook_uri: str, webhook_client: Any, mlflow_events: Recorder
) -> None:
    with hooked(webhook_client, mlflow_events, secret=SECRET) as webhook_id:
        outcomes = [
            trigger_test_delivery(webhook_uri, webhook_id, event=event) for event in BRIDGE_EVENTS
        ]
        tests = about(mlflow_events, TEST_EVENT_MODEL)

    assert [outcome.event for outcome in outcomes] == list(BRIDGE_EVENTS)
    assert all(outcome.success for outcome in outcomes)
    assert [event_name(test) for test in tests] == list(BRIDGE_EVENTS)
    assert all(TOKEN_TAG not in json.dumps(body(test)) for test in tests)


# --- what sends nothing ----------------------------------------------------------------------


def test_a_client_writing_straight_to_the_sqlite_file_sends_nothing(
    hokusai_mlflow_webhook_server: Any, webhook_client: Any, mlflow_events: Recorder
) -> None:
    if not isinstance(hokusai_mlflow_webhook_server, MlflowServer):
        pytest.skip("needs the database file of a server this run started")
    from mlflow import MlflowClient

    database_file = Path(hokusai_mlflow_webhook_server.workdir) / DATABASE_FILE
    database = f"sqlite:///{database_file.resolve()}"
    direct = MlflowClient(tracking_uri=database, registry_uri=database)
    name = unique_name()
    with hooked(webhook_client, mlflow_events, secret=SECRET):
        direct.create_registered_model(name)
        direct.create_model_version(name, "s3://bucket/straight-to-sqlite")
        webhook_client.create_model_version(name, "s3://bucket/through-the-server")  # the control
        wait_for(lambda: about(mlflow_events, name))

    assert [body(r)["data"]["source"] for r in about(mlflow_events, name)] == [
        "s3://bucket/through-the-server"
    ]


def test_the_test_server_takes_webhooks_to_loopback_http(webhook_uri: str) -> None:
    check_loopback_webhooks(webhook_uri)

    assert not [w for w in list_webhooks(webhook_uri) if "loopback-probe" in w.url]


def test_without_a_webhook_cache_the_first_event_after_creation_reaches_the_new_webhook(
    webhook_uri: str, webhook_client: Any
) -> None:
    with Recorder() as earlier, Recorder() as later, hooked(webhook_client, earlier):
        # An event just now: a server with a cache would keep the list without `later`.
        first_event(webhook_client, earlier, unique_name("fill-the-cache"))
        created = create_bridge_webhook(webhook_uri, later.url, SECRET)
        try:
            name = unique_name()
            new_version(webhook_client, name)
            assert wait_for(lambda: about(later, name), timeout=30.0)
        finally:
            webhook_client.delete_webhook(created.webhook_id)
