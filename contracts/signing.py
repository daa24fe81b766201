"""HMAC-SHA256 signatures over the exact raw body bytes.

The contract: ``X-Hokusai-Signature: sha256=<hex>`` where hex is HMAC-SHA256 keyed with the
secret's UTF-8 bytes over the body exactly as sent. Verifying anything else (a re-serialization
of the parsed JSON, a stripped secret) is the bug this module exists to prevent.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

SIGNATURE_HEADER = "X-Hokusai-Signature"
SIGNATURE_PREFIX = "sha256="
_DIGEST_HEX_LENGTH = 64

Secret = str | bytes
Secrets = Secret | Iterable[Secret] | None


class FailureReason(str, Enum):
    """Why a signature did not verify; the values are stable, language-neutral identifiers."""

    NO_SECRET_CONFIGURED = "no_secret_configured"
    MISSING_HEADER = "missing_header"
    MALFORMED_HEADER = "malformed_header"
    MISMATCH = "mismatch"

    @property
    def explanation(self) -> str:
        """A plain-words sentence: what was wrong and what to do about it."""
        return _EXPLANATIONS[self]


_EXPLANATIONS = {
    FailureReason.NO_SECRET_CONFIGURED: (
        "no webhook secret is configured on the verifying side; configure the same secret the "
        "sender uses (refusing everything until then is deliberate: fail closed)"
    ),
    FailureReason.MISSING_HEADER: (
        f"the {SIGNATURE_HEADER} header is missing; the sender must sign the raw body and send "
        f"'{SIGNATURE_PREFIX}<hex>' in that header"
    ),
    FailureReason.MALFORMED_HEADER: (
        f"the {SIGNATURE_HEADER} header is not '{SIGNATURE_PREFIX}' followed by 64 hex digits; "
        "check the prefix and that the whole digest was sent"
    ),
    FailureReason.MISMATCH: (
        "the signature does not match the body; both sides must use the same secret (watch for "
        "whitespace or a newline around it) and sign or verify the exact raw body bytes, never "
        "a re-serialization of the parsed JSON"
    ),
}


@dataclass(frozen=True, slots=True)
class Verification:
    """The verdict of :func:`verify`: truthy when the signature matched one of the secrets."""

    ok: bool
    reason: FailureReason | None = None
    secret_index: int | None = None
    """Which of the configured secrets matched (useful while rotating); ``None`` on failure."""

    def __bool__(self) -> bool:
        return self.ok


class SignatureError(Exception):
    """A signature did not verify; ``reason`` says why in machine-readable form."""

    def __init__(self, reason: FailureReason) -> None:
        super().__init__(reason.explanation)
        self.reason = reason


_FAILED = {reason: Verification(False, reason) for reason in FailureReason}
_MATCHED = tuple(Verification(True, None, index) for index in range(8))


def _key(secret: Secret) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def sign(body: bytes, secret: Secret) -> str:
    """Return the header value ``sha256=<lowercase hex>`` for ``body`` under ``secret``.

    The secret is used exactly as given: strip pasted whitespace before calling, not after.
    """
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"sign() needs the raw body bytes, got {type(body).__name__}; serialize once and "
            "sign and send those same bytes"
        )
    key = _key(secret)
    if not key:
        raise ValueError("cannot sign with an empty secret; configure a webhook secret")
    return SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def secret_keys(secrets: Secrets) -> tuple[bytes, ...]:
    """Normalize one secret or several (rotation) to key bytes, dropping empty ones."""
    if secrets is None:
        return ()
    if isinstance(secrets, (str, bytes, bytearray)):
        secrets = (secrets,)
    return tuple(key for key in map(_key, secrets) if key)


def parse_signature_header(header: object) -> bytes | FailureReason:
    """Return the 32 digest bytes of a header value, or why it cannot be read.

    Tolerates surrounding HTTP whitespace and either case of hex; nothing else.
    """
    if header is None or header == "":
        return FailureReason.MISSING_HEADER
    if not isinstance(header, str):
        return FailureReason.MALFORMED_HEADER
    value = header.strip(" \t")
    if not value:
        return FailureReason.MISSING_HEADER
    hex_digest = value[len(SIGNATURE_PREFIX) :]
    if not value.startswith(SIGNATURE_PREFIX) or len(hex_digest) != _DIGEST_HEX_LENGTH:
        return FailureReason.MALFORMED_HEADER
    try:
        digest = bytes.fromhex(hex_digest)
    except ValueError:
        return FailureReason.MALFORMED_HEADER
    # fromhex skips ASCII whitespace between pairs; a full digest has no room for any.
    return digest if len(digest) == _DIGEST_HEX_LENGTH // 2 else FailureReason.MALFORMED_HEADER


def verify(body: bytes, signature_header: str | None, secrets: Secrets) -> Verification:
    """Check ``signature_header`` against ``body`` under any of ``secrets``.

    Never raises for any header text; compares in constant time. Order of checks: a secret is
    configured (fail closed), the header is present, it is well formed, it matches.
    """
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"verify() needs the raw body bytes as received, got {type(body).__name__}; read "
            "the request body as bytes before any JSON parsing"
        )
    keys = secret_keys(secrets)
    if not keys:
        return _FAILED[FailureReason.NO_SECRET_CONFIGURED]
    parsed = parse_signature_header(signature_header)
    if isinstance(parsed, FailureReason):
        return _FAILED[parsed]
    matched: int | None = None
    for index, key in enumerate(keys):
        expected = hmac.new(key, body, hashlib.sha256).digest()
        if hmac.compare_digest(expected, parsed) and matched is None:
            matched = index
    if matched is None:
        return _FAILED[FailureReason.MISMATCH]
    return _MATCHED[matched] if matched < len(_MATCHED) else Verification(True, None, matched)


def verify_or_raise(body: bytes, signature_header: str | None, secrets: Secrets) -> None:
    """Like :func:`verify`, but raise :class:`SignatureError` carrying the reason on failure."""
    verification = verify(body, signature_header, secrets)
    if not verification:
        assert verification.reason is not None
        raise SignatureError(verification.reason)
