"""A webhook on the real MLflow server pointing at a Recorder, live before the test acts.

The test server reads each event's webhook list afresh (``MLFLOW_WEBHOOK_CACHE_TTL=0``), so the
first event after a webhook is created reaches it; :func:`hooked` still proves the webhook live
first, registering probe versions until one's event arrives, so that a server with a cache
(one named by ``MLFLOW_TRACKING_URI``) gives the same results.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from contracts.bridge.verify import DELIVERY_ID_HEADER, SIGNATURE_VERSION, TIMESTAMP_HEADER
from contracts.conformance import RecordedRequest, Recorder
from contracts.sender import BRIDGE_EVENTS

SAFETY_TIMEOUT = 90.0
"""Only a safety net: a delivery normally lands within a second."""
_PROBE_WAIT = 1.0
"""How long one probe waits before the next: about the server's 1 s webhook cache, after which
a new probe finds the webhook (a late event of an earlier probe counts just as well)."""
_POLL = 0.05


def wait_for(what: Callable[[], Any], timeout: float = SAFETY_TIMEOUT) -> Any:
    """Poll ``what`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(_POLL)
    raise AssertionError(f"nothing came within {timeout:g} s")


def body(request: RecordedRequest) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(request.body)
    return parsed


def about(recorder: Recorder, model_name: str) -> list[RecordedRequest]:
    """The requests whose event concerns ``model_name``."""
    return [r for r in recorder.requests if body(r).get("data", {}).get("name") == model_name]


def unique_name(what: str = "model") -> str:
    return f"{what}-{uuid.uuid4().hex[:10]}"


def new_version(client: Any, model_name: str, tag: tuple[str, str] | None = None) -> Any:
    """Version 1 of a new registered model ``model_name``, registered through the server; with
    ``tag``, that tag is then set on it (a separate call, a separate event)."""
    client.create_registered_model(model_name)
    version = client.create_model_version(model_name, "s3://bucket/model")
    if tag is not None:
        client.set_model_version_tag(model_name, version.version, *tag)
    return version


def expected_signature(request: RecordedRequest, secret: str) -> str:
    """MLflow's ``v1,<base64>`` HMAC-SHA256 of ``delivery_id.timestamp.body`` under ``secret``,
    computed here with the standard library from what arrived."""
    delivery_id = request.header(DELIVERY_ID_HEADER)
    timestamp = request.header(TIMESTAMP_HEADER)
    signed = f"{delivery_id}.{timestamp}.".encode() + request.body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION}," + base64.b64encode(digest).decode("ascii")


@contextmanager
def hooked(
    client: Any,
    recorder: Recorder,
    *,
    secret: str | None = "webhook-facts-secret",
    events: Sequence[str] = BRIDGE_EVENTS,
) -> Iterator[str]:
    """A webhook sending ``events`` to ``recorder``, live; its id. Deleted afterwards."""
    webhook = client.create_webhook(
        name=unique_name("facts"), url=recorder.url, events=list(events), secret=secret
    )
    try:
        first_event(client, recorder, unique_name("probe"))
        yield webhook.webhook_id
    finally:
        client.delete_webhook(webhook.webhook_id)


def first_event(client: Any, recorder: Recorder, model_name: str) -> RecordedRequest:
    """Register versions of ``model_name`` (a new model) until an event about it arrives."""
    client.create_registered_model(model_name)
    deadline = time.monotonic() + SAFETY_TIMEOUT
    while time.monotonic() < deadline:
        client.create_model_version(model_name, "s3://bucket/probe")
        try:
            found: list[RecordedRequest] = wait_for(
                lambda: about(recorder, model_name), timeout=_PROBE_WAIT
            )
            return found[0]
        except AssertionError:
            continue
    raise AssertionError(f"the webhook to {recorder.url} never became live")
