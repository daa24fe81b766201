"""HMAC-SHA256 signatures over the exact raw body bytes.

The contract: ``X-Hokusai-Signature: sha256=<hex>`` where hex is HMAC-SHA256 keyed with the
secret's UTF-8 bytes over the body exactly as sent. Verifying anything else (a re-serialization
of the parsed JSON, a stripped secret) is the bug this module exists to prevent.
"""

from __future__ import annotations

import binascii
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from contracts.errors import ReceiveError

SIGNATURE_HEADER = "X-Hokusai-Signature"
SIGNATURE_PREFIX = "sha256="
_SCHEME = SIGNATURE_PREFIX.removesuffix("=")
_DIGEST_LENGTH = 32
_HEX_LENGTH = 2 * _DIGEST_LENGTH

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


@dataclass(slots=True)
class Verification:
    """The verdict of :func:`verify`: truthy when the signature matched one of the secrets.

    A plain record, built for every call: a frozen dataclass would cost more to build than
    the rest of verifying a small body beyond the HMAC itself.
    """

    ok: bool
    reason: FailureReason | None = None
    secret_index: int | None = None
    """Position in the given secrets of the one that matched (useful while rotating), counting
    ignored ``None`` and empty entries; ``None`` on failure."""

    def __bool__(self) -> bool:
        return self.ok


class SignatureError(ReceiveError):
    """A signature did not verify; ``reason`` says why in machine-readable form."""

    reason: FailureReason

    def __init__(self, reason: FailureReason) -> None:
        super().__init__(reason.explanation)
        self.reason = reason


def _key(secret: Secret) -> bytes:
    if isinstance(secret, str):
        return secret.encode("utf-8")
    if isinstance(secret, (bytes, bytearray, memoryview)):
        return bytes(secret)
    raise TypeError(
        f"a webhook secret must be text or bytes, got {type(secret).__name__}; configure it as text"
    )


def _require_bytes(body: object, needed: str, remedy: str) -> None:
    """Refuse anything but bytes: a parsed or re-encoded body is the bug signing must not hide."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise TypeError(f"{needed}, got {type(body).__name__}; {remedy}")


def sign(body: bytes, secret: Secret) -> str:
    """Return the header value ``sha256=<lowercase hex>`` for ``body`` under ``secret``.

    The secret is used exactly as given: strip pasted whitespace before calling, not after.
    """
    _require_bytes(
        body, "sign() needs the raw body bytes", "serialize once and sign and send those same bytes"
    )
    key = _key(secret)
    if not key:
        raise ValueError("cannot sign with an empty secret; configure a webhook secret")
    return SIGNATURE_PREFIX + hmac.digest(key, body, "sha256").hex()


def _configured_keys(secrets: Secrets) -> list[tuple[int, bytes]]:
    """Each usable secret's position in ``secrets`` and its key bytes.

    ``None`` and empty entries (``[os.environ.get("NEW"), old]`` with NEW unset) are skipped
    but keep their positions, so an index names the entry the caller configured.
    """
    if isinstance(secrets, str):  # the usual configuration: one secret, as text
        return [(0, secrets.encode("utf-8"))] if secrets else []
    if secrets is None:
        return []
    if isinstance(secrets, (bytes, bytearray)):
        secrets = [secrets]
    keys = []
    for index, secret in enumerate(secrets):
        key = b"" if secret is None else _key(secret)
        if key:
            keys.append((index, key))
    return keys


def secret_keys(secrets: Secrets) -> tuple[bytes, ...]:
    """Normalize one secret or several (rotation) to key bytes, dropping None and empty ones."""
    return tuple(key for _, key in _configured_keys(secrets))


def parse_signature_header(header: object) -> bytes | FailureReason:
    """Return the 32 digest bytes of a header value, or why it cannot be read.

    Tolerates surrounding HTTP whitespace and either case of hex; nothing else.
    """
    if not isinstance(header, str):
        return FailureReason.MISSING_HEADER if header is None else FailureReason.MALFORMED_HEADER
    value = header.strip(" \t")
    if not value:
        return FailureReason.MISSING_HEADER
    scheme, _, hex_digest = value.partition("=")
    if scheme != _SCHEME or len(hex_digest) != _HEX_LENGTH:
        return FailureReason.MALFORMED_HEADER
    try:
        return binascii.unhexlify(hex_digest)  # strict: hex digits only, no whitespace
    except ValueError:
        return FailureReason.MALFORMED_HEADER


def verify(body: bytes, signature_header: str | None, secrets: Secrets) -> Verification:
    """Check ``signature_header`` against ``body`` under any of ``secrets``.

    Never raises for any header text; compares in constant time. Order of checks: a secret is
    configured (fail closed), the header is present, it is well formed, it matches.
    """
    _require_bytes(
        body,
        "verify() needs the raw body bytes as received",
        "read the request body as bytes before any JSON parsing",
    )
    keys = _configured_keys(secrets)
    if not keys:
        return Verification(False, FailureReason.NO_SECRET_CONFIGURED)
    received = parse_signature_header(signature_header)
    if not isinstance(received, bytes):
        return Verification(False, received)
    matched = None
    for index, key in keys:
        # Every key is tried, so the time taken does not depend on which one matched.
        if (
            hmac.compare_digest(hmac.new(key, body, "sha256").digest(), received)
            and matched is None
        ):
            matched = index
    if matched is None:
        return Verification(False, FailureReason.MISMATCH)
    return Verification(True, None, matched)


def verify_or_raise(body: bytes, signature_header: str | None, secrets: Secrets) -> Verification:
    """Like :func:`verify`, but raise :class:`SignatureError` carrying the reason on failure;
    the successful verdict is returned (its ``secret_index`` names the secret that matched)."""
    verification = verify(body, signature_header, secrets)
    if not verification:
        assert verification.reason is not None
        raise SignatureError(verification.reason)
    return verification
