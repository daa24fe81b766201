"""Verify an MLflow model-registry webhook delivery, then read its event.

MLflow signs each dispatch as Standard Webhooks' ``v1`` scheme does: ``X-MLflow-Signature:
v1,<base64>`` where the digest is HMAC-SHA256, keyed with the webhook secret's UTF-8 bytes, over
``<X-MLflow-Delivery-Id>.<X-MLflow-Timestamp>.<raw body>``; the timestamp is Unix seconds. The
header may hold several space-separated signatures (a sender rotating its secret); any ``v1``
one that matches is enough. As :func:`contracts.receive` does for the contract's own deliveries,
nothing of the body is parsed before the signature has matched and the timestamp is within the
tolerance; a failure raises a :class:`~contracts.ReceiveError` whose ``reason`` is a stable code.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.errors import ReceiveError
from contracts.payload import PayloadError, PayloadProblem, parse_body
from contracts.receive import (
    RequestHeaders,
    TimestampError,
    check_timestamp_tolerance,
    header_value,
)
from contracts.signing import FailureReason, Secrets, secret_keys

DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
MLFLOW_SIGNATURE_HEADER = "X-MLflow-Signature"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300.0
"""How far a delivery's timestamp may be from the bridge's clock, either way (Standard
Webhooks' own default); MLflow's retries resend the first attempt's timestamp within seconds."""
MAX_DELIVERY_ID_LENGTH = 200
_DIGEST_LENGTH = 32
_HEADERS = (DELIVERY_ID_HEADER, TIMESTAMP_HEADER, MLFLOW_SIGNATURE_HEADER)
_CREATE_WITH_SECRET = (
    "create the MLflow webhook with the same secret the bridge holds (MlflowClient."
    "create_webhook(..., secret=...)); MLflow signs only webhooks that have one"
)


class MlflowSignatureError(ReceiveError):
    """An MLflow delivery's signature headers are missing, unreadable or do not match."""

    reason: FailureReason

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class MlflowEventError(ReceiveError):
    """A verified delivery whose body is not an MLflow webhook event (answered 400)."""

    reason: PayloadProblem

    def __init__(self, message: str, reason: PayloadProblem = PayloadProblem.SCHEMA_VIOLATION):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class MlflowDelivery:
    """A delivery whose signature matched and whose timestamp is within the tolerance."""

    delivery_id: str
    timestamp: int
    """Unix seconds, as MLflow stamped the dispatch."""


@dataclass(frozen=True)
class MlflowEvent:
    """One verified MLflow webhook event: ``{"entity", "action", "timestamp", "data"}``."""

    delivery: MlflowDelivery
    entity: str
    action: str
    data: dict[str, Any]

    @property
    def name(self) -> str:
        """``entity.action``, as MLflow names its events (``model_version.created``)."""
        return f"{self.entity}.{self.action}"


def _signatures(header: str) -> list[bytes]:
    """The digests of every well-formed ``v1,<base64>`` entry of a signature header."""
    digests = []
    for entry in header.split(" "):
        version, _, encoded = entry.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            digest = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(digest) == _DIGEST_LENGTH:
            digests.append(digest)
    return digests


def _missing(name: str) -> MlflowSignatureError:
    return MlflowSignatureError(
        FailureReason.MISSING_HEADER,
        f"the {name} header is missing; this is not a signed MLflow webhook delivery: "
        + _CREATE_WITH_SECRET,
    )


def _malformed(name: str, expected: str) -> MlflowSignatureError:
    return MlflowSignatureError(
        FailureReason.MALFORMED_HEADER, f"the {name} header is not {expected}"
    )


def _read_headers(headers: RequestHeaders) -> tuple[str, str, int, list[bytes]]:
    """Delivery id, timestamp as sent and as a number, and the signature digests."""
    values = {name: (header_value(headers, name) or "").strip(" \t") for name in _HEADERS}
    for name in _HEADERS:
        if not values[name]:
            raise _missing(name)
    delivery_id, stamp = values[DELIVERY_ID_HEADER], values[TIMESTAMP_HEADER]
    if len(delivery_id) > MAX_DELIVERY_ID_LENGTH or any(c.isspace() for c in delivery_id):
        raise _malformed(
            DELIVERY_ID_HEADER, f"one word of at most {MAX_DELIVERY_ID_LENGTH} characters"
        )
    if not (stamp.isascii() and stamp.isdigit()):
        raise _malformed(TIMESTAMP_HEADER, "a Unix time in whole seconds")
    digests = _signatures(values[MLFLOW_SIGNATURE_HEADER])
    if not digests:
        raise _malformed(
            MLFLOW_SIGNATURE_HEADER,
            f"'{SIGNATURE_VERSION},' followed by a base64 HMAC-SHA256 digest (several may be "
            "given, separated by spaces)",
        )
    return delivery_id, stamp, int(stamp), digests


def sign_mlflow_delivery(
    body: bytes, secret: str, *, delivery_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The headers MLflow sends with ``body`` under ``secret``: a new delivery id (unless
    given), the timestamp (default: now) and the ``v1`` signature. For tests and checks that
    play MLflow's part."""
    delivery_id = delivery_id or str(uuid.uuid4())
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.digest(
        secret.encode("utf-8"), f"{delivery_id}.{stamp}.".encode() + body, "sha256"
    )
    return {
        "Content-Type": "application/json",
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: stamp,
        MLFLOW_SIGNATURE_HEADER: f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}",
    }


def verify_mlflow_delivery(
    body: bytes,
    headers: RequestHeaders,
    secrets: Secrets,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> MlflowDelivery:
    """Check an MLflow delivery's signature over ``body`` (raw bytes) and its timestamp.

    ``secrets``: one secret, or several while rotating. ``now``: Unix seconds (default: the
    clock). Raises :class:`MlflowSignatureError` (no secret, a header missing or malformed, no
    signature matching) or :class:`~contracts.TimestampError` (further than ``tolerance``
    seconds from ``now``, either way). Compares in constant time, trying every secret against
    every signature given.
    """
    check_timestamp_tolerance(tolerance)
    keys = secret_keys(secrets)
    if not keys:
        raise MlflowSignatureError(
            FailureReason.NO_SECRET_CONFIGURED,
            "the bridge holds no MLflow webhook secret; give it the one the MLflow webhook "
            "was created with (refusing everything until then is deliberate: fail closed)",
        )
    delivery_id, stamp, timestamp, digests = _read_headers(headers)
    signed = f"{delivery_id}.{stamp}.".encode() + bytes(body)
    matched = False
    for key in keys:
        expected = hmac.digest(key, signed, "sha256")
        for digest in digests:
            matched |= hmac.compare_digest(expected, digest)
    if not matched:
        raise MlflowSignatureError(
            FailureReason.MISMATCH,
            f"no {MLFLOW_SIGNATURE_HEADER} signature matches the delivery; the bridge and the "
            "MLflow webhook must hold the same secret (watch for whitespace around it), and the "
            "body must reach the bridge exactly as MLflow sent it",
        )
    skew = (time.time() if now is None else now) - timestamp
    if abs(skew) > tolerance:
        raise TimestampError(stamp, skew, tolerance)
    return MlflowDelivery(delivery_id, timestamp)


def parse_mlflow_event(body: bytes, delivery: MlflowDelivery) -> MlflowEvent:
    """The event in a verified body; :class:`MlflowEventError` when it is not one."""
    try:
        parsed = parse_body(body)
    except PayloadError as error:
        raise MlflowEventError(error.violations[0].message, PayloadProblem.INVALID_JSON) from None
    if not isinstance(parsed, Mapping):
        raise MlflowEventError("the body is not a JSON object; an MLflow event is one")
    entity, action, data = (parsed.get(field) for field in ("entity", "action", "data"))
    if not (isinstance(entity, str) and entity and isinstance(action, str) and action):
        raise MlflowEventError(
            "the event has no entity and action strings; MLflow sends "
            '{"entity", "action", "timestamp", "data"}'
        )
    if not isinstance(data, Mapping):
        raise MlflowEventError(f"the {entity}.{action} event's data is not a JSON object")
    return MlflowEvent(delivery, entity, action, dict(data))


def receive_mlflow_event(
    body: bytes,
    headers: RequestHeaders,
    secrets: Secrets,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> MlflowEvent:
    """The event of one MLflow delivery, read only once its signature and timestamp passed
    (see :func:`verify_mlflow_delivery`, then :func:`parse_mlflow_event`)."""
    delivery = verify_mlflow_delivery(body, headers, secrets, tolerance=tolerance, now=now)
    return parse_mlflow_event(body, delivery)
