"""Build, serialize, parse and validate the ``model_registered`` body.

Serialize once, sign those bytes, send those bytes: :func:`serialize` is the one way this
project turns a payload into bytes (compact, ASCII escapes, the contract's key order), matching
what the real SDK sender wrote.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from contracts.errors import ReceiveError
from contracts.schema import load_schema
from contracts.tokens import normalize_token_id

EVENT_TYPE = "model_registered"
STATUS_REGISTERED = "REGISTERED"
TOKEN_TAG = "hokusai_token_id"
METRIC_TAG = "benchmark_metric"
VALUE_TAG = "benchmark_value"
SDK_TAGS = (TOKEN_TAG, METRIC_TAG, VALUE_TAG)
"""The MLflow tags the SDK sets on a registered version, which the schema's ``tags`` names."""
FIELD_ORDER = (
    "event_type",
    "timestamp",
    "token_id",
    "model_name",
    "model_version",
    "mlflow_run_id",
    "metric_name",
    "baseline_value",
    "status",
    "tags",
)
_RUNS_URI = re.compile(r"^runs:/([^/]+)/")


@dataclass(frozen=True)
class Violation:
    """One way a body breaks the contract: where (a JSON path such as ``$.token_id``) and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class PayloadProblem(str, Enum):
    """Why a body was refused: it is not JSON at all, or it is JSON that breaks the contract."""

    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"


class PayloadError(ReceiveError, ValueError):
    """A body is not a valid ``model_registered`` event; ``violations`` lists every problem.

    ``reason`` is :attr:`PayloadProblem.INVALID_JSON` when the bytes are not one strict UTF-8
    JSON text, else :attr:`PayloadProblem.SCHEMA_VIOLATION`.
    """

    reason: PayloadProblem

    def __init__(
        self,
        violations: list[Violation],
        reason: PayloadProblem = PayloadProblem.SCHEMA_VIOLATION,
    ) -> None:
        self.violations = violations
        self.reason = reason
        listing = "; ".join(map(str, violations))
        super().__init__(f"invalid model_registered payload: {listing}")

    @property
    def first_path(self) -> str | None:
        """Path of the first violation, for answers that name one field."""
        return self.violations[0].path if self.violations else None


# --- timestamps -----------------------------------------------------------------------------


def format_timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix; a naive datetime is taken to be UTC already."""
    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}Z"


_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$"
)


def parse_timestamp(value: str) -> datetime:
    """Parse an RFC 3339 date-time into an aware UTC datetime; no offset means UTC.

    Raises ``ValueError`` naming the problem (bad shape, impossible date, offset out of range).
    """
    match = _TIMESTAMP.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"{value!r} is not an RFC 3339 date-time such as 2025-08-21T14:42:23.646003Z"
        )
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    microsecond = int((fraction[1:] + "000000")[:6]) if fraction else 0
    leap = second == 60
    tz = timezone.utc
    if offset and offset not in "Zz":
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError(f"{value!r} has an impossible UTC offset {offset}")
        sign = -1 if offset[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        moment = datetime(year, month, day, hour, minute, 59 if leap else second, microsecond, tz)
        return moment.astimezone(timezone.utc)
    except (ValueError, OverflowError) as error:
        raise ValueError(f"{value!r} is not a real date and time: {error}") from None


# --- building -------------------------------------------------------------------------------


def run_id_from_model_uri(model_uri: str) -> str | None:
    """The run id of a ``runs:/<run_id>/<path>`` URI; ``None`` for any other kind of URI."""
    match = _RUNS_URI.match(model_uri)
    return match.group(1) if match else None


def build_payload(
    *,
    token_id: str,
    model_name: str,
    model_version: str | int,
    metric_name: str,
    baseline_value: float | int,
    mlflow_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    timestamp: datetime | str | None = None,
) -> dict[str, Any]:
    """Return a contract-valid payload with fields in the contract's order.

    The token id is normalized (upper-cased), the version turned into a string, the timestamp
    written in UTC. Raises :class:`TokenIdError` or :class:`PayloadError` on bad input, so an
    invalid event is never built, let alone sent.
    """
    if isinstance(model_version, int) and not isinstance(model_version, bool):
        model_version = str(model_version)
    payload: dict[str, Any] = {
        "event_type": EVENT_TYPE,
        "timestamp": timestamp if isinstance(timestamp, str) else format_timestamp(timestamp),
        "token_id": normalize_token_id(token_id),
        "model_name": model_name,
        "model_version": model_version,
        "mlflow_run_id": mlflow_run_id,
        "metric_name": metric_name,
        "baseline_value": baseline_value,
        "status": STATUS_REGISTERED,
        "tags": dict(tags or {}),
    }
    validate_payload(payload)
    return payload


def with_fresh_timestamp(
    payload: Mapping[str, Any], moment: datetime | None = None
) -> dict[str, Any]:
    """A copy of ``payload`` stamped now (each delivery attempt carries its own time)."""
    return {**payload, "timestamp": format_timestamp(moment)}


def ordered(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's keys in the contract's order, unknown fields after them as they came."""
    known = {key: payload[key] for key in FIELD_ORDER if key in payload}
    extra = {key: value for key, value in payload.items() if key not in known}
    return {**known, **extra}


def serialize(payload: Mapping[str, Any]) -> bytes:
    """The exact bytes to sign and send: compact, ``\\uXXXX`` escapes, the contract's key order.

    Raises ``ValueError`` for NaN or Infinity, which JSON cannot carry.
    """
    return json.dumps(
        ordered(payload), separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


# --- parsing and validation -----------------------------------------------------------------


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (JSON numbers must be finite)")


def _invalid_json(message: str) -> PayloadError:
    return PayloadError([Violation("$", message)], PayloadProblem.INVALID_JSON)


def parse_body(body: bytes | bytearray | memoryview) -> Any:
    """Parse raw body bytes as strict UTF-8 JSON (no NaN/Infinity, no duplicate keys).

    Raises :class:`PayloadError` with reason :attr:`PayloadProblem.INVALID_JSON`.
    """
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as error:
        raise _invalid_json(f"body is not UTF-8 (byte {error.start}); send UTF-8 JSON") from None
    try:
        return json.loads(
            text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant
        )
    except _DuplicateKey as error:
        raise _invalid_json(f"key {error.args[0]!r} appears twice; send each field once") from None
    except json.JSONDecodeError as error:
        raise _invalid_json(
            f"body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}; "
            "send a JSON object"
        ) from None
    except (ValueError, RecursionError) as error:
        raise _invalid_json(f"body is not valid JSON: {error}") from None


@functools.cache
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile a schema pattern with JSON Schema's meaning of ``$``: the end of the input.

    Python's ``$`` also matches before a final newline, so ``"LSCOR\n"`` would pass a pattern
    that every ECMA-262 validator (JavaScript, the receivers') refuses.
    """
    return re.compile(re.sub(r"(?<!\\)\$$", r"\\Z", pattern))


def _pattern_keyword(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_ContractValidator = validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _pattern_keyword}
)


@functools.cache
def _validator() -> Any:
    """The contract's validator, checked and built on first use and reused for every payload."""
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return _ContractValidator(schema)


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


FIELD_RULES = {
    "event_type": 'must be "model_registered"',
    "timestamp": "must be an RFC 3339 date-time such as 2025-08-21T14:42:23Z",
    "token_id": "must be 1-64 of A-Z, 0-9 and '-', not starting or ending with '-'",
    "model_name": "must be a non-empty string",
    "model_version": 'must be the MLflow version as a string of digits, such as "4"',
    "mlflow_run_id": "must be the MLflow run id as a non-empty string, or null",
    "metric_name": "must be a non-empty string",
    "baseline_value": "must be a finite JSON number (not a boolean, not a string)",
    "status": 'must be "REGISTERED" (any letter case)',
    "tags": "must be an object whose values are strings, numbers, booleans or null",
}
"""Each field's rule in plain words, as violations state it."""


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: Any) -> str:
    if error.validator == "required":
        return "is missing; every model_registered event carries it"
    path = list(error.path)
    if not path:
        return f"the body must be a JSON object, got {_shown(error.instance)}"
    rule = FIELD_RULES.get(str(path[0]))
    if rule is None:
        return str(error.message)
    if len(path) > 1:  # inside tags
        return (
            f"got {_shown(error.instance)}; tag values must be strings, numbers, booleans or null"
        )
    return f"got {_shown(error.instance)}; {path[0]} {rule}"


def _semantic_violations(payload: Mapping[str, Any]) -> list[Violation]:
    """Rules JSON Schema cannot state: a real calendar date, a float-representable number."""
    violations = []
    timestamp = payload.get("timestamp")
    if isinstance(timestamp, str) and _TIMESTAMP.match(timestamp):
        try:
            parse_timestamp(timestamp)
        except ValueError as error:
            violations.append(Violation("$.timestamp", str(error)))
    value = payload.get("baseline_value")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            finite = math.isfinite(float(value))
        except OverflowError:
            finite = False
        if not finite:
            violations.append(
                Violation(
                    "$.baseline_value",
                    "must be a finite number representable as a 64-bit float",
                )
            )
    return violations


def _error_path(error: Any) -> str:
    path = _json_path(error.absolute_path)
    if error.validator == "required":
        for name in error.validator_value:
            if error.message == f"{name!r} is a required property":
                return f"{path}.{name}"
    return path


def payload_violations(payload: Any) -> list[Violation]:
    """Every way ``payload`` (already parsed) breaks the contract; empty when it is valid.

    One validator gives both the verdict and the violations: the schema's, built once.
    """
    errors = sorted(_validator().iter_errors(payload), key=lambda e: [str(p) for p in e.path])
    violations = [Violation(_error_path(error), _describe(error)) for error in errors]
    if isinstance(payload, Mapping):
        reported = {violation.path for violation in violations}
        violations += [v for v in _semantic_violations(payload) if v.path not in reported]
    return violations


def validate_payload(payload_or_body: Any) -> dict[str, Any]:
    """Validate a parsed payload or raw body bytes; return the payload as a dict.

    Raises :class:`PayloadError` listing every violation with its JSON path.
    """
    if isinstance(payload_or_body, (bytes, bytearray, memoryview)):
        payload_or_body = parse_body(payload_or_body)
    violations = payload_violations(payload_or_body)
    if violations:
        raise PayloadError(violations)
    return dict(payload_or_body)


STORED_TEXT_FIELDS = ("model_name", "metric_name", "mlflow_run_id")
"""The free-text fields a receiver stores."""


def unstorable_text(payload: Mapping[str, Any]) -> list[Violation]:
    """Stored text that is not Unicode: an unpaired ``\\udXXX`` escape parses, but no UTF-8
    database column can hold it, so receivers refuse it as a schema violation."""
    violations = []
    for name in STORED_TEXT_FIELDS:
        value = payload.get(name)
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            violations.append(
                Violation(
                    f"$.{name}",
                    f"has an unpaired surrogate {value[error.start]!r} at position "
                    f"{error.start}, which is not Unicode text; send valid UTF-8 text",
                )
            )
    return violations
