"""Receive one delivery: the signature over the raw bytes first, then the body.

The same order and outcomes as the reference receivers, without HTTP: nothing is parsed before
the signature has verified, so an unsigned body never reaches a JSON parser.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from contracts.payload import STATUS_REGISTERED, PayloadError, unstorable_text, validate_payload
from contracts.signing import SIGNATURE_HEADER, Secrets, verify_or_raise
from contracts.tokens import normalize_token_id


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the letter case of its name (HTTP names are case-insensitive)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def receive(body: bytes, headers: Mapping[str, str], secrets: Secrets) -> dict[str, Any]:
    """The event of one delivery, verified and validated, with ``token_id`` upper-cased and
    ``status`` written ``REGISTERED`` (the forms a receiver looks up and stores).

    ``body`` is the raw request body, ``headers`` the request's headers (any mapping; names in
    any case), ``secrets`` one secret or several during a rotation (``None`` and empty entries
    are ignored). Raises :class:`~contracts.ReceiveError`: a :class:`~contracts.SignatureError`
    (``reason`` a :class:`~contracts.FailureReason`) before the body is looked at, else a
    :class:`~contracts.PayloadError` (``reason`` ``invalid_json`` or ``schema_violation``).
    A replay tolerance on the timestamp is each receiver's own choice and is not checked here.
    """
    verify_or_raise(body, _header(headers, SIGNATURE_HEADER), secrets)
    payload = validate_payload(body)
    violations = unstorable_text(payload)
    if violations:
        raise PayloadError(violations)
    return {
        **payload,
        "token_id": normalize_token_id(payload["token_id"]),
        "status": STATUS_REGISTERED,
    }
