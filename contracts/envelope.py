"""The signed request for one delivery: exact body bytes plus the contract's headers.

Pure: builds what goes on the wire, sends nothing. Every sender in this project (the reference
SDK sender, ``send-test``, the conformance checks) builds its requests here, so there is one
place where "serialize once, sign those bytes, send those bytes" is done.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.payload import EVENT_TYPE, Shape, payload_shape, serialize, token_id_of
from contracts.signing import SIGNATURE_HEADER, Secret, sign

EVENT_HEADER = "X-Hokusai-Event"
IDEMPOTENCY_KEY_HEADER = "X-Hokusai-Idempotency-Key"
CURRENT_PATH = "/api/webhooks/model-registration"
"""The website's current default webhook path."""
SEED_PATH = "/api/mlflow/registered"
"""The seed webhook path, still served beside :data:`CURRENT_PATH`."""
WEBHOOK_PATHS = (CURRENT_PATH, SEED_PATH)
"""Every path the website serves the webhook at; each accepts both body shapes."""
DEFAULT_PATH = SEED_PATH
"""The path this project's sender and checks deliver to by default: the seed path, which every
receiver serves (the website serves :data:`CURRENT_PATH` too)."""
MAX_BODY_BYTES = 1024 * 1024
"""The contract's largest body limit: receivers refuse (413) anything larger, and accept at
least 64 KiB. An event is a few hundred bytes."""
_IDEMPOTENCY_NAMESPACE = uuid.UUID("0f6b6c3e-6f8e-5a43-9a53-686f6b757361")


def idempotency_key(token_id: str, model_name: str, model_version: str | int) -> str:
    """A UUID stable for one registration: the same on every retry and every resend."""
    name = f"{token_id.upper()}\n{model_name}\n{model_version}"
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, name))


def _registration_key(payload: Mapping[str, Any]) -> str:
    if payload_shape(payload) is Shape.V1:
        return idempotency_key(
            str(payload["token_id"]), str(payload["model_name"]), str(payload["model_version"])
        )
    model = payload["model"]
    return idempotency_key(token_id_of(payload), str(model["name"]), str(model.get("version", "")))


@dataclass(frozen=True)
class SignedDelivery:
    """The exact bytes to send and the headers that go with them."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def signature(self) -> str:
        return self.headers[SIGNATURE_HEADER]


def signed_delivery(
    payload: Mapping[str, Any],
    secret: Secret,
    *,
    key: str | None = None,
    body: bytes | None = None,
) -> SignedDelivery:
    """Serialize ``payload`` once (or take ``body`` as given) and sign exactly those bytes.

    ``key`` defaults to :func:`idempotency_key` of the payload's registration (for a v2
    payload: ``model.id``, ``model.name`` and ``model.version``, empty when left out).
    """
    wire = serialize(payload) if body is None else body
    if key is None:
        key = _registration_key(payload)
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(wire, secret),
        EVENT_HEADER: EVENT_TYPE,
        IDEMPOTENCY_KEY_HEADER: key,
    }
    return SignedDelivery(wire, headers)
