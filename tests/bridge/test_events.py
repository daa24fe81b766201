"""Which MLflow events name a token registration; MLflow's own example payloads never do."""

from __future__ import annotations

from typing import Any

import pytest
from mlflow.entities.webhook import WebhookEvent
from mlflow.webhooks.types import EVENT_TO_PAYLOAD_CLASS, get_example_payload_for_event

from contracts.bridge.events import Ignored, TaggedVersion, payload_of, tagged_version
from contracts.bridge.verify import MlflowDelivery, MlflowEvent, MlflowEventError
from contracts.envelope import idempotency_key
from contracts.sender.outbox import notification_key

DELIVERY = MlflowDelivery("d-1", 0)


def mlflow_event(entity: str, action: str, data: dict[str, Any]) -> MlflowEvent:
    return MlflowEvent(DELIVERY, entity, action, data)


@pytest.mark.parametrize(
    ("entity", "action"),
    [(entity.value, action.value) for entity, action in EVENT_TO_PAYLOAD_CLASS],
)
def test_every_example_payload_mlflows_test_sends_is_ignored(entity: str, action: str) -> None:
    example = dict(get_example_payload_for_event(WebhookEvent(entity, action)))

    found = tagged_version(mlflow_event(entity, action, example))

    assert isinstance(found, Ignored)
    if f"{entity}.{action}" in ("model_version.created", "model_version_tag.set"):
        assert found.reason == "mlflow_test_event"


def test_a_version_created_with_the_token_tag_names_its_token_run_and_metric() -> None:
    data = {
        "name": "Lead scorer",
        "version": "3",
        "source": "runs:/r1/model",
        "run_id": "r1",
        "tags": {"hokusai_token_id": "lscor", "benchmark_metric": "auc"},
        "description": None,
    }

    found = tagged_version(mlflow_event("model_version", "created", data))

    assert found == TaggedVersion("LSCOR", "Lead scorer", "3", "r1", "auc")


def test_the_token_tag_set_later_names_its_token() -> None:
    data = {"name": "Lead scorer", "version": "3", "key": "hokusai_token_id", "value": "lscor"}

    found = tagged_version(mlflow_event("model_version_tag", "set", data))

    assert found == TaggedVersion("LSCOR", "Lead scorer", "3")


def test_both_events_of_one_version_give_the_sdks_idempotency_key() -> None:
    created = TaggedVersion("LSCOR", "Lead scorer", "3", "r1", "auc")
    tagged_later = TaggedVersion("LSCOR", "Lead scorer", "3")

    keys = {notification_key(payload_of(created)), notification_key(payload_of(tagged_later))}

    assert keys == {idempotency_key("lscor", "Lead scorer", 3)}


def test_an_example_model_that_is_tagged_is_a_real_registration() -> None:
    data = {"name": "example_model", "version": "1", "key": "hokusai_token_id", "value": "ab"}

    assert tagged_version(mlflow_event("model_version_tag", "set", data)) == TaggedVersion(
        "AB", "example_model", "1"
    )


@pytest.mark.parametrize(
    "data",
    [
        {"version": "1", "tags": {"hokusai_token_id": "lscor"}},
        {"name": "m", "version": 1, "tags": {}},
        {"name": "", "version": "1", "tags": {}},
    ],
)
def test_a_registration_event_without_its_name_or_version_is_malformed(
    data: dict[str, Any],
) -> None:
    with pytest.raises(MlflowEventError):
        tagged_version(mlflow_event("model_version", "created", data))
