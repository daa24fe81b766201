"""Which MLflow events tell of a registration, and the contract payload each one becomes.

A ``model_version.created`` event whose ``data.tags`` carry ``hokusai_token_id``, or a
``model_version_tag.set`` event of that tag, names a token and one model version: it becomes the
nested v2 ``model_registered`` body the SDK's own ``ModelRegistry`` sends for that version, with
the same idempotency key (token, model name, version), so that however many events one
registration produces, the website registers it once and sees the rest as duplicates. Every
other event is ignored, with a reason: MLflow's ``test`` event among them (its example payloads
name ``example_model`` and never carry the token tag, so they never flip a real token).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from contracts.bridge.verify import MlflowEvent, MlflowEventError
from contracts.payload import METRIC_TAG, TOKEN_TAG, UNCHANGED, build_model_payload
from contracts.sender.mlflow_webhooks import (
    BRIDGE_EVENTS,
    TEST_EVENT_MODEL,
    VERSION_CREATED,
)
from contracts.tokens import TokenIdError, normalize_token_id
from contracts.urls import redact_text

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

_log = logging.getLogger("contracts.bridge")


@dataclass(frozen=True)
class TaggedVersion:
    """A model version that a token tag names: what its contract notification is built from."""

    token_id: str
    """Upper-cased, as the website keys it."""
    model_name: str
    model_version: str
    run_id: str | None = None
    metric: str | None = None
    """The ``benchmark_metric`` tag, sent as ``model.primary_metric`` when known."""


class IgnoredReason(str, Enum):
    """Why an event asks nothing of the website: the stable codes of the bridge's answers."""

    NOT_A_REGISTRATION_EVENT = "not_a_registration_event"
    NO_TOKEN_TAG = "no_token_tag"
    NOT_A_TOKEN_ID = "not_a_token_id"
    MLFLOW_TEST_EVENT = "mlflow_test_event"


@dataclass(frozen=True)
class Ignored:
    """An event that asks nothing of the website: a stable ``reason`` code and words."""

    reason: IgnoredReason
    message: str


def _text(data: dict[str, Any], field: str, event: MlflowEvent) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise MlflowEventError(f"the {event.name} event's data.{field} is not a non-empty string")
    return value


def tagged_version(event: MlflowEvent) -> TaggedVersion | Ignored:
    """The version an event tags with a token, or why the event is ignored.

    Raises :class:`MlflowEventError` when an event of interest lacks what MLflow always sends.
    """
    data = event.data
    if event.name not in BRIDGE_EVENTS:
        return Ignored(
            IgnoredReason.NOT_A_REGISTRATION_EVENT,
            f"{event.name} tells of no token registration; the bridge acts on "
            f"{' and '.join(BRIDGE_EVENTS)} only",
        )
    if event.name == VERSION_CREATED:
        tags = data.get("tags", {})
        if not isinstance(tags, dict):
            raise MlflowEventError(f"the {event.name} event's data.tags is not a JSON object")
        token = tags.get(TOKEN_TAG)
        metric = tags.get(METRIC_TAG)
        run_id = data.get("run_id")
    else:
        token = data.get("value") if data.get("key") == TOKEN_TAG else None
        metric = run_id = None
    name, version = _text(data, "name", event), _text(data, "version", event)
    if token is None:
        return _untagged(event, name)
    try:
        token_id = normalize_token_id(token)
    except TokenIdError as error:
        return Ignored(
            IgnoredReason.NOT_A_TOKEN_ID, f"the {TOKEN_TAG} tag of {name!r} v{version}: {error}"
        )
    return TaggedVersion(
        token_id,
        name,
        version,
        run_id if isinstance(run_id, str) and run_id else None,
        metric if isinstance(metric, str) and metric else None,
    )


def _untagged(event: MlflowEvent, name: str) -> Ignored:
    if name == TEST_EVENT_MODEL:
        return Ignored(
            IgnoredReason.MLFLOW_TEST_EVENT,
            f"MLflow's {event.name} test event: the bridge is reachable and the signature "
            f"verified; its example payload carries no {TOKEN_TAG} tag, so nothing was sent",
        )
    what = "is not tagged" if event.name == VERSION_CREATED else "sets another tag, not"
    return Ignored(IgnoredReason.NO_TOKEN_TAG, f"{event.name} of {name!r} {what} {TOKEN_TAG}")


def payload_of(tagged: TaggedVersion, api_schema: Any = UNCHANGED) -> dict[str, Any]:
    """The v2 body for ``tagged``, as the SDK's ``ModelRegistry`` builds it for a version."""
    return build_model_payload(
        token_id=tagged.token_id,
        model_name=tagged.model_name,
        model_version=tagged.model_version,
        run_id=tagged.run_id,
        primary_metric=tagged.metric,
        api_schema=api_schema,
    )


def version_payload(client: MlflowClient, version: ModelVersion, token_id: str) -> dict[str, Any]:
    """The v2 body for ``version`` as MLflow holds it: run id, metric tag, and ``api_schema``
    from its signature (left out when it has none that maps)."""
    from contracts.sender.signature import version_api_schema

    tags = version.tags or {}
    tagged = TaggedVersion(
        token_id,
        version.name,
        str(version.version),
        version.run_id or None,
        tags.get(METRIC_TAG) or None,
    )
    return payload_of(tagged, version_api_schema(client, version).api_schema)


def enriched_payload(client: MlflowClient | None, tagged: TaggedVersion) -> dict[str, Any]:
    """The body for ``tagged``, completed from MLflow when a client is given; from the event
    alone when there is none, or MLflow cannot tell (the notification goes out either way)."""
    if client is None:
        return payload_of(tagged)
    from mlflow.exceptions import MlflowException

    try:
        version = client.get_model_version(tagged.model_name, tagged.model_version)
    except MlflowException as error:
        _log.warning(
            "model %r version %s could not be read from MLflow (%s); sent without api_schema",
            tagged.model_name,
            tagged.model_version,
            redact_text(error.message, client.tracking_uri),
        )
        return payload_of(tagged)
    return version_payload(client, version, tagged.token_id)
