"""Receive one delivery: the signature over the raw bytes first, then the body.

The same order and outcomes as the reference receivers, without HTTP: nothing is parsed before
the signature has verified, so an unsigned body never reaches a JSON parser. The order is the
contract's: signature, timestamp tolerance (only when one is asked for), JSON, schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from contracts.errors import ReceiveError
from contracts.payload import (
    STATUS_REGISTERED,
    PayloadError,
    Shape,
    parse_body,
    parse_timestamp,
    payload_shape,
    token_id_of,
    unstorable_text,
    validate_payload,
)
from contracts.signing import SIGNATURE_HEADER, Secrets, verify_or_raise

TIMESTAMP_OUTSIDE_TOLERANCE = "timestamp_outside_tolerance"


class RequestHeaders(Protocol):
    """A request's headers: anything whose ``items()`` gives name-value pairs (a ``dict``,
    werkzeug's ``Headers``, an ``http.client`` message)."""

    def items(self) -> Iterable[tuple[str, str]]: ...


class TimestampError(ReceiveError):
    """The delivery's timestamp is further from the receiver's clock than its tolerance.

    ``skew_seconds`` is how far the clock is past the timestamp (negative: in the future).
    """

    reason = TIMESTAMP_OUTSIDE_TOLERANCE

    def __init__(self, timestamp: str, skew_seconds: float, tolerance_seconds: float) -> None:
        self.timestamp = timestamp
        self.skew_seconds = skew_seconds
        self.tolerance_seconds = tolerance_seconds
        direction = "old" if skew_seconds > 0 else "in the future"
        super().__init__(
            f"the timestamp {timestamp} is {abs(skew_seconds):.0f} s {direction}; this receiver "
            f"accepts deliveries within {tolerance_seconds:g} s of its clock, so stamp each "
            "attempt when it is sent (not when the event was first built) and check the "
            "sender's clock"
        )


@dataclass(frozen=True)
class Received:
    """A delivery that passed every check: its event and the secret that signed it."""

    event: dict[str, Any]
    """The payload with its token id upper-cased and its status written ``REGISTERED``
    (``token_id`` and ``status`` in v1, ``model.id`` and ``model.status`` in v2)."""
    secret_index: int
    """Position in the given secrets of the one that matched (see :class:`Verification`)."""


def check_timestamp_tolerance(tolerance: float | None) -> None:
    """Refuse a replay tolerance that is not a positive number of seconds (``None``: none)."""
    if tolerance is not None and not tolerance > 0:
        raise ValueError(
            "timestamp_tolerance must be a positive number of seconds, or None for no replay "
            f"check; got {tolerance}"
        )


def header_value(headers: RequestHeaders, name: str) -> str | None:
    """A header's value whatever the letter case of its name (HTTP names are case-insensitive),
    from any :class:`RequestHeaders`; ``None`` when it is absent."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _check_tolerance(payload: Any, tolerance: float, now: datetime | None) -> None:
    """Raise :class:`TimestampError` when the timestamp is outside ``tolerance`` seconds of
    ``now`` (naive: UTC); a missing or unreadable timestamp is left to the schema, which names
    it."""
    timestamp = payload.get("timestamp") if isinstance(payload, Mapping) else None
    if not isinstance(timestamp, str):
        return
    try:
        moment = parse_timestamp(timestamp)
    except ValueError:
        return
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    skew = (now - moment).total_seconds()
    if abs(skew) > tolerance:
        raise TimestampError(timestamp, skew, tolerance)


def receive_delivery(
    body: bytes,
    headers: RequestHeaders,
    secrets: Secrets,
    *,
    timestamp_tolerance: float | None = None,
    now: datetime | None = None,
) -> Received:
    """Like :func:`receive`, also saying which of the secrets signed the delivery."""
    check_timestamp_tolerance(timestamp_tolerance)
    verification = verify_or_raise(body, header_value(headers, SIGNATURE_HEADER), secrets)
    assert verification.secret_index is not None
    payload = parse_body(body)
    if timestamp_tolerance is not None:
        _check_tolerance(payload, timestamp_tolerance, now)
    event = validate_payload(payload)
    violations = unstorable_text(event)
    if violations:
        raise PayloadError(violations)
    return Received(_normalized(event), verification.secret_index)


def _normalized(event: dict[str, Any]) -> dict[str, Any]:
    """A valid event with its token id and status in the forms a receiver looks up and stores."""
    token = {"id": token_id_of(event), "status": STATUS_REGISTERED}
    if payload_shape(event) is Shape.V1:
        return {**event, "token_id": token["id"], "status": token["status"]}
    return {**event, "model": {**event["model"], **token}}


def receive(
    body: bytes,
    headers: RequestHeaders,
    secrets: Secrets,
    *,
    timestamp_tolerance: float | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The event of one delivery, verified and validated, with its token id upper-cased and
    its status written ``REGISTERED`` (the forms a receiver looks up and stores): ``token_id``
    and ``status`` in a v1 body, ``model.id`` and ``model.status`` in a v2 body (see
    :func:`~contracts.payload_shape`; :func:`~contracts.token_id_of` reads either).

    ``body`` is the raw request body, ``headers`` the request's headers (a dict or anything
    with ``items()``; names in any case), ``secrets`` one secret or several during a rotation
    (``None`` and empty entries are ignored). Raises :class:`~contracts.ReceiveError`: a
    :class:`~contracts.SignatureError` (``reason`` a :class:`~contracts.FailureReason`) before
    the body is looked at, else a :class:`~contracts.PayloadError` (``reason``
    ``invalid_json`` or ``schema_violation``).
    With ``timestamp_tolerance`` (seconds), a parsed body whose timestamp is further than that
    from ``now`` (default: the current time; a naive datetime is UTC) raises
    :class:`TimestampError` (``reason`` ``timestamp_outside_tolerance``) before the schema is
    checked; by default no replay tolerance is enforced, as that is each receiver's own choice.
    """
    return receive_delivery(
        body, headers, secrets, timestamp_tolerance=timestamp_tolerance, now=now
    ).event
