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
from typing import Any

SIGNATURE_HEADER = "X-Hokusai-Signature"
SIGNATURE_PREFIX = "sha256="
_PREFIX_LENGTH = len(SIGNATURE_PREFIX)
_DIGEST_LENGTH = 32
_HEADER_LENGTH = _PREFIX_LENGTH + 2 * _DIGEST_LENGTH

Secret = str | bytes
Secrets = Secret | Iterable[Secret | None] | None


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
    """Position in the given secrets of the one that matched (useful while rotating), counting
    ignored ``None`` and empty entries; ``None`` on failure."""

    def __bool__(self) -> bool:
        return self.ok


class SignatureError(Exception):
    """A signature did not verify; ``reason`` says why in machine-readable form."""

    def __init__(self, reason: FailureReason) -> None:
        super().__init__(reason.explanation)
        self.reason = reason


_FAILED = {reason: Verification(False, reason) for reason in FailureReason}
_MATCHED = tuple(Verification(True, None, index) for index in range(8))


_BLOCK_SIZE = 64  # SHA-256's block size, as RFC 2104 uses it
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))
_KEYED_STATES: dict[bytes, tuple[Any, Any]] = {}
_MAX_KEYED_STATES = 64


def _keyed_states(key: bytes) -> tuple[Any, Any]:
    """SHA-256 states already fed the inner and outer key pads of HMAC (RFC 2104).

    Kept per key: a receiver verifies many bodies under few secrets, and copying a keyed state
    is cheaper than keying HMAC afresh for every request.
    """
    states = _KEYED_STATES.get(key)
    if states is None:
        block = hashlib.sha256(key).digest() if len(key) > _BLOCK_SIZE else key
        block = block.ljust(_BLOCK_SIZE, b"\0")
        states = (
            hashlib.sha256(block.translate(_INNER_PAD)),
            hashlib.sha256(block.translate(_OUTER_PAD)),
        )
        if len(_KEYED_STATES) >= _MAX_KEYED_STATES:
            _KEYED_STATES.clear()
        _KEYED_STATES[key] = states
    return states


def hmac_sha256(key: bytes, body: bytes | bytearray | memoryview) -> bytes:
    """HMAC-SHA256 of ``body`` under ``key``; equal to ``hmac.digest(key, body, "sha256")``."""
    inner_state, outer_state = _keyed_states(key)
    inner = inner_state.copy()
    inner.update(body)
    outer = outer_state.copy()
    outer.update(inner.digest())
    return outer.digest()  # type: ignore[no-any-return]


def _key(secret: Secret) -> bytes:
    if isinstance(secret, str):
        return secret.encode("utf-8")
    if isinstance(secret, (bytes, bytearray, memoryview)):
        return bytes(secret)
    raise TypeError(
        f"a webhook secret must be text or bytes, got {type(secret).__name__}; configure it as text"
    )


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
    return SIGNATURE_PREFIX + hmac_sha256(key, body).hex()


def _configured_keys(secrets: Secrets) -> list[tuple[int, bytes]]:
    """Each usable secret's position in ``secrets`` and its key bytes.

    ``None`` and empty entries (``[os.environ.get("NEW"), old]`` with NEW unset) are skipped
    but keep their positions, so an index names the entry the caller configured.
    """
    if secrets is None:
        return []
    if isinstance(secrets, (str, bytes, bytearray)):
        secrets = [secrets]
    given = ((index, secret) for index, secret in enumerate(secrets) if secret is not None)
    return [(index, key) for index, secret in given if (key := _key(secret))]


def secret_keys(secrets: Secrets) -> tuple[bytes, ...]:
    """Normalize one secret or several (rotation) to key bytes, dropping None and empty ones."""
    return tuple(key for _, key in _configured_keys(secrets))


def parse_signature_header(header: object) -> bytes | FailureReason:
    """Return the 32 digest bytes of a header value, or why it cannot be read.

    Tolerates surrounding HTTP whitespace and either case of hex; nothing else.
    """
    if header.__class__ is not str:
        return FailureReason.MISSING_HEADER if header is None else FailureReason.MALFORMED_HEADER
    value: str = header
    if len(value) != _HEADER_LENGTH or not value.startswith(SIGNATURE_PREFIX):
        value = value.strip(" \t")
        if not value:
            return FailureReason.MISSING_HEADER
        if len(value) != _HEADER_LENGTH or not value.startswith(SIGNATURE_PREFIX):
            return FailureReason.MALFORMED_HEADER
    try:
        digest = bytes.fromhex(value[_PREFIX_LENGTH:])
    except ValueError:
        return FailureReason.MALFORMED_HEADER
    # fromhex skips ASCII whitespace between pairs; a full digest has no room for any.
    return digest if len(digest) == _DIGEST_LENGTH else FailureReason.MALFORMED_HEADER


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
    keys = _configured_keys(secrets)
    if not keys:
        return _FAILED[FailureReason.NO_SECRET_CONFIGURED]
    parsed = parse_signature_header(signature_header)
    if parsed.__class__ is not bytes:
        return _FAILED[parsed]  # type: ignore[index]
    matched = -1
    for index, key in keys:
        # Every key is tried, so the time taken does not depend on which one matched.
        if hmac.compare_digest(hmac_sha256(key, body), parsed) and matched < 0:
            matched = index
    if matched < 0:
        return _FAILED[FailureReason.MISMATCH]
    return _MATCHED[matched] if matched < len(_MATCHED) else Verification(True, None, matched)


def verify_or_raise(body: bytes, signature_header: str | None, secrets: Secrets) -> None:
    """Like :func:`verify`, but raise :class:`SignatureError` carrying the reason on failure."""
    verification = verify(body, signature_header, secrets)
    if not verification:
        assert verification.reason is not None
        raise SignatureError(verification.reason)
