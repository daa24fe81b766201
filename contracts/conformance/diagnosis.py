"""Why a signature does not verify: try the mistakes seen in the field until one matches.

Pure: no I/O. Given the body bytes, the header value, the secret and the header name it came
in, :func:`diagnose` recomputes the HMAC for every known mistake (the secret with whitespace
around it, the body re-serialized, the digest written another way, another algorithm) and
names the one that reproduces the header. The secret is never part of any message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

from contracts.signing import SIGNATURE_HEADER, parse_signature_header, verify

_MIN_TRUNCATED_HEX = 8
_RESERIALIZED = "re-serialized"
_REPARSED = " but serialized the parsed JSON again"
_NUMBERS_REFORMATTED = (
    "; its numbers were re-formatted: JSON.stringify writes 1.0 as 1 (JavaScript has one number "
    "type) where Python writes 1.0, so a JavaScript side that parsed the body and serialized it "
    "again changed its bytes"
)
_OTHER_SCHEME = re.compile(r"^(v1,[A-Za-z0-9+/=]+)(\s+v1,[A-Za-z0-9+/=]+)*$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")


class Cause(str, Enum):
    """What is wrong with a signature; stable identifiers for scripts and tests."""

    VERIFIES = "verifies"
    MISSING_HEADER = "missing_header"
    WRONG_HEADER_NAME = "wrong_header_name"
    MISSING_PREFIX = "missing_prefix"
    UPPERCASE_PREFIX = "uppercase_prefix"
    TRUNCATED_DIGEST = "truncated_digest"
    BASE64_DIGEST = "base64_digest"
    SHA1_DIGEST = "sha1_digest"
    OTHER_SCHEME = "other_scheme"
    SECRET_WHITESPACE = "secret_whitespace"
    BODY_RESERIALIZED = "body_reserialized"
    WRONG_SECRET = "wrong_secret"
    MALFORMED_HEADER = "malformed_header"


@dataclass(frozen=True)
class Diagnosis:
    """The verdict: the main cause, every cause found, and what to do, in plain words."""

    cause: Cause
    explanation: str
    fix: str | None
    causes: tuple[Cause, ...]
    body_variant: str | None = None

    @property
    def verifies(self) -> bool:
        return self.cause is Cause.VERIFIES


# --- the ways a header can be written -------------------------------------------------------


@dataclass(frozen=True)
class _Reading:
    """One way to read the header: which digest it carries and which format mistakes that
    reading implies."""

    algorithm: str
    matches: Callable[[bytes], bool]
    mistakes: tuple[Cause, ...]


def _readings(value: str) -> list[_Reading]:
    prefix, _, rest = value.partition("=")
    label = prefix.lower()
    if label in ("sha256", "sha1") and rest:
        digest_text = rest
        format_mistakes: tuple[Cause, ...] = (
            () if value.startswith(prefix.lower() + "=") else (Cause.UPPERCASE_PREFIX,)
        )
    else:
        label, digest_text, format_mistakes = "", value, (Cause.MISSING_PREFIX,)
    readings: list[_Reading] = []
    hex_digest = digest_text.lower() if _HEX.match(digest_text) else None
    if hex_digest is not None:
        readings += _hex_readings(label, hex_digest, format_mistakes)
    decoded = _base64(digest_text)
    if decoded is not None:
        algorithm = {32: "sha256", 20: "sha1"}.get(len(decoded))
        if algorithm and label in ("", algorithm):
            mistakes: tuple[Cause, ...] = (Cause.BASE64_DIGEST,)
            if algorithm == "sha1":
                mistakes += (Cause.SHA1_DIGEST,)
            readings.append(_Reading(algorithm, decoded.__eq__, mistakes))
    return readings


def _hex_readings(
    label: str, hex_digest: str, format_mistakes: tuple[Cause, ...]
) -> list[_Reading]:
    readings: list[_Reading] = []
    if len(hex_digest) == 64 and label in ("", "sha256"):
        readings.append(_Reading("sha256", bytes.fromhex(hex_digest).__eq__, format_mistakes))
    if len(hex_digest) == 40 and label in ("", "sha1"):
        readings.append(_Reading("sha1", bytes.fromhex(hex_digest).__eq__, (Cause.SHA1_DIGEST,)))
    if _MIN_TRUNCATED_HEX <= len(hex_digest) < 64 and label in ("", "sha256"):
        readings.append(
            _Reading(
                "sha256",
                lambda digest: digest.hex().startswith(hex_digest),
                (*format_mistakes, Cause.TRUNCATED_DIGEST),
            )
        )
    return readings


def _base64(text: str) -> bytes | None:
    if not text or _HEX.match(text):
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


# --- the ways a secret and a body drift -----------------------------------------------------


def _secret_variants(secret: str) -> Iterator[tuple[str | None, str]]:
    """The secret as given first, then the whitespace mistakes (labels never show it)."""
    yield None, secret
    core = secret.strip()
    seen = {secret}
    for label, variant in (
        ("without the whitespace around your copy of the secret", core),
        ("with a trailing newline", core + "\n"),
        ("with a trailing CRLF", core + "\r\n"),
        ("with a trailing space", core + " "),
        ("with a leading space", " " + core),
    ):
        if variant and variant not in seen:
            seen.add(variant)
            yield label, variant


def _javascript_number(text: str) -> float | int:
    """JavaScript has one number type: 1.0 parses to 1 and JSON.stringify prints 1."""
    value = float(text)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


@dataclass(frozen=True)
class _Variant:
    """The body written another way: how (``None`` for the bytes as given), the bytes, and
    whether its numbers are written otherwise than in the bytes given."""

    label: str | None
    body: bytes
    numbers: bool = False


def _serializations(body: bytes) -> Iterator[_Variant]:
    """The body as other JSON writers would have written the same object: Python's, and
    JavaScript's (1.0 becomes 1); and for a body JSON.stringify wrote, Python's floats (1 was
    1.0 before JavaScript re-wrote it)."""
    try:
        parsed = json.loads(body)
        as_javascript = json.loads(body, parse_float=_javascript_number)
        as_python = json.loads(body, parse_int=float)
    except ValueError:
        return
    javascript_numbers = json.dumps(as_javascript) != json.dumps(parsed)
    python_numbers = json.dumps(as_python) != json.dumps(parsed)

    def dumps(obj: Any, **options: Any) -> bytes:
        return json.dumps(obj, **options).encode("utf-8")

    compact: dict[str, Any] = {"separators": (",", ":")}
    raw = {"ensure_ascii": False}
    yield _Variant(
        "compact with \\u escapes (Python json.dumps(..., separators=(',', ':')))",
        dumps(parsed, **compact),
    )
    yield _Variant(
        "compact raw UTF-8 with JavaScript numbers (JSON.stringify)",
        dumps(as_javascript, **compact, **raw),
        javascript_numbers,
    )
    yield _Variant(
        "compact with JavaScript numbers (1.0 written as 1)",
        dumps(as_javascript, **compact),
        javascript_numbers,
    )
    yield _Variant(
        "compact raw UTF-8 (json.dumps(..., ensure_ascii=False))", dumps(parsed, **compact, **raw)
    )
    yield _Variant(
        "Python json.dumps defaults (', ' and ': ', as requests' json= sends)", dumps(parsed)
    )
    yield _Variant("Python json.dumps defaults with raw UTF-8", dumps(parsed, **raw))
    yield _Variant("sorted keys, compact", dumps(parsed, **compact, sort_keys=True))
    yield _Variant("sorted keys, Python defaults", dumps(parsed, sort_keys=True))
    yield _Variant(
        "indented by 2 (JSON.stringify(body, null, 2))",
        dumps(as_javascript, indent=2, **raw),
        javascript_numbers,
    )
    yield _Variant("indented by 2 (Python json.dumps(..., indent=2))", dumps(parsed, indent=2))
    for label, options in (
        ("compact", compact),
        ("compact raw UTF-8", {**compact, **raw}),
        ("Python json.dumps defaults", {}),
    ):
        yield _Variant(
            f"{label} with Python's floats (1 written 1.0, where the bytes given have "
            "JSON.stringify's 1)",
            dumps(as_python, **options),
            python_numbers,
        )


def _body_variants(body: bytes) -> Iterator[_Variant]:
    """The body as given first, then byte-level and re-serialization mistakes."""
    yield _Variant(None, body)
    seen = {body}
    unix = body.replace(b"\r\n", b"\n")
    candidates = [
        _Variant("with a trailing newline added", body + b"\n"),
        _Variant("without its trailing newline", body.rstrip(b"\r\n")),
        _Variant("with LF line ends turned into CRLF", unix.replace(b"\n", b"\r\n")),
        _Variant("with CRLF line ends turned into LF", unix),
    ]
    for variant in _serializations(body):
        label = f"{_RESERIALIZED}: {variant.label}"
        candidates.append(_Variant(label, variant.body, variant.numbers))
        candidates.append(
            _Variant(f"{label}, plus a newline", variant.body + b"\n", variant.numbers)
        )
    for candidate in candidates:
        if candidate.body not in seen:
            seen.add(candidate.body)
            yield candidate


# --- the search -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Match:
    reading: _Reading
    secret_label: str | None
    body: _Variant


def _find_match(body: bytes, value: str, secret: str) -> _Match | None:
    readings = _readings(value)
    if not readings:
        return None
    bodies = list(_body_variants(body))
    for secret_label, secret_variant in _secret_variants(secret):
        key = secret_variant.encode("utf-8")
        for variant in bodies:
            digests = {
                name: hmac.new(key, variant.body, getattr(hashlib, name)).digest()
                for name in ("sha256", "sha1")
            }
            for reading in readings:
                if reading.matches(digests[reading.algorithm]):
                    return _Match(reading, secret_label, variant)
    return None


_EXPLANATIONS: dict[Cause, str] = {
    Cause.VERIFIES: "the signature verifies: it is HMAC-SHA256 of these exact bytes under this "
    "secret, in the contract's format",
    Cause.MISSING_HEADER: "there is no signature to check: the header value is empty",
    Cause.MISSING_PREFIX: "the digest is right but the 'sha256=' prefix is missing; the contract's "
    "value is 'sha256=<hex>' and a bare hex digest is refused as malformed",
    Cause.UPPERCASE_PREFIX: "the digest is right but the prefix is not written 'sha256=' in lower "
    "case; the prefix is compared exactly",
    Cause.TRUNCATED_DIGEST: "the digest is cut short: it is the start of the right HMAC but not "
    "all 64 hex digits; something truncated the header value",
    Cause.BASE64_DIGEST: "the digest is base64-encoded; the contract writes it as hex",
    Cause.SHA1_DIGEST: "the digest is HMAC-SHA1 (like GitHub's old X-Hub-Signature); the contract "
    "uses HMAC-SHA256",
    Cause.SECRET_WHITESPACE: "the signature was made with the secret {secret_label}: whitespace "
    "or a newline pasted around the secret on one side",
    Cause.BODY_RESERIALIZED: "the signature matches the body {body_label}, not the bytes given: "
    "the side that signed (or whatever captured this body) did not use the exact raw bytes{how}",
    Cause.OTHER_SCHEME: "this is a 'v1,<base64>' signature (Standard Webhooks, or MLflow's own "
    "X-MLflow-Signature over delivery id, timestamp and body), a different scheme; the contract "
    "signs only the raw body and writes 'sha256=<hex>'",
    Cause.WRONG_SECRET: "nothing matches: not the body as given or re-serialized, not the secret "
    "with whitespace trimmed or added, not another digest format; most likely the two sides hold "
    "different secrets",
    Cause.MALFORMED_HEADER: "the value is not 'sha256=<64 hex digits>' and no reading of it "
    "matches the body under this secret",
}

_FIXES: dict[Cause, str] = {
    Cause.MISSING_HEADER: f"send {SIGNATURE_HEADER}: sha256=<hex of HMAC-SHA256(secret, body)>",
    Cause.WRONG_HEADER_NAME: f"send the signature in {SIGNATURE_HEADER}",
    Cause.MISSING_PREFIX: "write 'sha256=' + hex digest",
    Cause.UPPERCASE_PREFIX: "write the prefix as 'sha256=' exactly",
    Cause.TRUNCATED_DIGEST: "send all 64 hex digits (check column sizes, logging and copy-paste)",
    Cause.BASE64_DIGEST: "write the digest as lowercase hex (hexdigest(), digest('hex'))",
    Cause.SHA1_DIGEST: "use HMAC-SHA256 (hashlib.sha256, createHmac('sha256', ...))",
    Cause.SECRET_WHITESPACE: "strip the secret where it is configured, on both sides, and restart",
    Cause.BODY_RESERIALIZED: "serialize once, sign those bytes and send those bytes; verify the "
    "raw request bytes before parsing (express.raw, request.text(), request.get_data(), "
    "request.body)",
    Cause.OTHER_SCHEME: f"sign the raw body with HMAC-SHA256 and send {SIGNATURE_HEADER}: "
    "sha256=<hex>",
    Cause.WRONG_SECRET: "set the same secret on both sides; 'hokusai-contract sign' on each "
    "side over the same file shows whether they agree",
    Cause.MALFORMED_HEADER: f"send {SIGNATURE_HEADER}: sha256=<64 lowercase hex digits>",
}


def _how_reserialized(variant: _Variant) -> str:
    """What a re-serialization changed, when the body matched only re-serialized."""
    if not (variant.label or "").startswith(_RESERIALIZED):
        return ""
    return _REPARSED + (_NUMBERS_REFORMATTED if variant.numbers else "")


def _header_name_note(header_name: str) -> str:
    if header_name.lower() == "x-mlflow-signature":
        origin = "X-MLflow-Signature is MLflow's own registry-webhook header (a different scheme)"
    else:
        origin = f"{header_name} is not the contract's header"
    return (
        f"the signature came in {header_name}, but receivers read only {SIGNATURE_HEADER}; "
        + origin
    )


def diagnose(
    body: bytes, header: str | None, secret: str, header_name: str = SIGNATURE_HEADER
) -> Diagnosis:
    """Explain why ``header`` does (or does not) verify ``body`` under ``secret``."""
    wrong_name = header_name.strip().lower() != SIGNATURE_HEADER.lower()
    value = (header or "").strip(" \t\r\n")
    causes: list[Cause] = []
    body_label: str | None = None
    sentences: list[str] = []
    if not value:
        causes.append(Cause.MISSING_HEADER)
    elif verify(body, value, secret):
        pass
    elif _OTHER_SCHEME.match(value):
        causes.append(Cause.OTHER_SCHEME)
    else:
        match = _find_match(body, value, secret)
        if match is None:
            well_formed = isinstance(parse_signature_header(value), bytes)
            causes.append(Cause.WRONG_SECRET if well_formed else Cause.MALFORMED_HEADER)
        else:
            causes += match.reading.mistakes
            if match.secret_label is not None:
                causes.append(Cause.SECRET_WHITESPACE)
            if match.body.label is not None:
                causes.append(Cause.BODY_RESERIALIZED)
                body_label = match.body.label
            sentences += [
                _EXPLANATIONS[cause].format(
                    secret_label=match.secret_label,
                    body_label=match.body.label,
                    how=_how_reserialized(match.body),
                )
                for cause in causes
            ]
    if not sentences:
        sentences += [_EXPLANATIONS[cause] for cause in causes]
    if wrong_name:
        causes.append(Cause.WRONG_HEADER_NAME)
        sentences.append(_header_name_note(header_name.strip()))
    if not causes:
        return Diagnosis(Cause.VERIFIES, _EXPLANATIONS[Cause.VERIFIES], None, (Cause.VERIFIES,))
    if causes == [Cause.WRONG_HEADER_NAME]:
        sentences.insert(0, "the value itself verifies")
    fix = "; ".join(dict.fromkeys(_FIXES[cause] for cause in causes))
    return Diagnosis(causes[0], "; ".join(sentences), fix, tuple(causes), body_label)
