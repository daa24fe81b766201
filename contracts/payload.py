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
from typing import Any, Final, Literal

from jsonschema import Draft202012Validator, ValidationError, validators

from contracts.errors import ReceiveError
from contracts.schema import SCHEMA_FILE, V2_SCHEMA_FILE, load_schema
from contracts.tokens import TokenIdError, TokenIdRule, normalize_token_id

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
MODEL_STATUS = "registered"
"""``model.status`` as the SDK's v2 senders write it (receivers accept any letter case)."""
SOURCE = "mlflow"
"""The v2 body's ``source``."""
V2_FIELD_ORDER = ("event_type", "model", "timestamp", "source")
MODEL_FIELD_ORDER = (
    "id",
    "name",
    "status",
    "version",
    "run_id",
    "user_id",
    "api_schema",
    "eval_spec",
    "scorer_ref",
    "primary_metric",
    "benchmark_spec_id",
)
"""The v2 body's fields and ``model``'s, in the order the SDK's senders write them."""
_RUNS_URI = re.compile(r"^runs:/([^/]+)/")


class Shape(str, Enum):
    """The two shapes of body a receiver accepts (the ``shape`` of the payload vectors)."""

    V1 = "v1"
    """Flat, with a top-level ``token_id``."""
    V2 = "v2"
    """Nested: the token id is ``model.id``."""


def payload_shape(payload: Any) -> Shape:
    """The shape a receiver judges ``payload`` as, in the website's order: :attr:`Shape.V1`
    when it has a top-level ``token_id`` (even beside a ``model``), else :attr:`Shape.V2`.

    Anything that is not an object is :attr:`Shape.V2` too, as in
    ``model_registered.schema.json``; validation then refuses it.
    """
    return Shape.V1 if isinstance(payload, Mapping) and "token_id" in payload else Shape.V2


def token_id_of(payload: Mapping[str, Any]) -> str:
    """The token a payload registers, upper-cased: ``token_id`` in v1, ``model.id`` in v2.

    Raises :class:`TokenIdError` when the id is missing or breaks the token id rules.
    """
    if payload_shape(payload) is Shape.V1:
        return normalize_token_id(payload["token_id"])
    model = payload.get("model")
    if not isinstance(model, Mapping) or "id" not in model:
        raise TokenIdError(
            TokenIdRule.NOT_A_STRING,
            None,
            "the payload names no token: a v1 body carries token_id, a v2 body model.id",
        )
    return normalize_token_id(model["id"])


class Unchanged(Enum):
    """The default of ``api_schema``: leave the field out, so the website keeps what it has."""

    UNCHANGED = "unchanged"

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Final = Unchanged.UNCHANGED


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


def _whole_seconds(moment: datetime | None) -> str:
    """``%Y-%m-%dT%H:%M:%SZ`` in UTC, as the SDK's CLI writes v2 timestamps."""
    moment = moment or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def build_model_payload(
    *,
    token_id: str,
    model_name: str,
    model_version: str | int | None = None,
    run_id: str | None = None,
    user_id: str | None = None,
    api_schema: Mapping[str, Any] | Literal[Unchanged.UNCHANGED] | None = UNCHANGED,
    eval_spec: Mapping[str, Any] | None = None,
    scorer_ref: str | None = None,
    primary_metric: str | None = None,
    benchmark_spec_id: str | None = None,
    timestamp: datetime | str | None = None,
) -> dict[str, Any]:
    """Return a contract-valid v2 payload, as the SDK's CLI writes it.

    ``model.id`` is the token id lower-cased (the slug senders send), ``status`` is
    ``registered``, ``source`` ``mlflow``, the timestamp whole seconds in UTC with ``Z`` (now,
    unless given). Optional fields given as ``None`` are left out, as real senders do, except
    ``api_schema``: left at :data:`UNCHANGED` it is left out (the website keeps the API schema
    it has), ``None`` sends ``null`` (the website clears it). Raises :class:`TokenIdError` or
    :class:`PayloadError` on bad input.
    """
    if isinstance(model_version, int) and not isinstance(model_version, bool):
        model_version = str(model_version)
    optional: dict[str, Any] = {
        "version": model_version,
        "run_id": run_id,
        "user_id": user_id,
        "eval_spec": None if eval_spec is None else dict(eval_spec),
        "scorer_ref": scorer_ref,
        "primary_metric": primary_metric,
        "benchmark_spec_id": benchmark_spec_id,
    }
    model: dict[str, Any] = {
        "id": normalize_token_id(token_id).lower(),
        "name": model_name,
        "status": MODEL_STATUS,
        **{name: value for name, value in optional.items() if value is not None},
    }
    if api_schema is not UNCHANGED:  # None too: null asks the website to clear it
        model["api_schema"] = None if api_schema is None else dict(api_schema)
    payload: dict[str, Any] = {
        "event_type": EVENT_TYPE,
        "model": ordered_fields(model, MODEL_FIELD_ORDER),
        "timestamp": timestamp if isinstance(timestamp, str) else _whole_seconds(timestamp),
        "source": SOURCE,
    }
    validate_payload(payload)
    return payload


def with_fresh_timestamp(
    payload: Mapping[str, Any], moment: datetime | None = None
) -> dict[str, Any]:
    """A copy of ``payload`` stamped now (each delivery attempt carries its own time)."""
    return {**payload, "timestamp": format_timestamp(moment)}


def ordered_fields(fields: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """``fields`` with the keys named in ``order`` first, in that order, the rest as they came."""
    known = {key: fields[key] for key in order if key in fields}
    extra = {key: value for key, value in fields.items() if key not in known}
    return {**known, **extra}


def ordered(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload's keys in the contract's order for its shape (in v2, ``model``'s too),
    unknown fields after them as they came."""
    if payload_shape(payload) is Shape.V1:
        return ordered_fields(payload, FIELD_ORDER)
    top = ordered_fields(payload, V2_FIELD_ORDER)
    model = top.get("model")
    if isinstance(model, Mapping):
        top["model"] = ordered_fields(model, MODEL_FIELD_ORDER)
    return top


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


SHAPE_SCHEMAS = {Shape.V1: SCHEMA_FILE, Shape.V2: V2_SCHEMA_FILE}
"""The schema file each shape is judged by (``model_registered.schema.json`` makes the same
choice as :func:`payload_shape`, as one schema)."""


@functools.cache
def _validator(shape: Shape) -> Any:
    """The contract's validator for one shape, checked and built on first use and reused for
    every payload of that shape."""
    schema = load_schema(SHAPE_SCHEMAS[shape])
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
"""Each v1 field's rule in plain words, as violations state it."""

_LEAVE_OUT = "; leave it out when there is none"
V2_FIELD_RULES = {
    "event_type": FIELD_RULES["event_type"],
    "timestamp": FIELD_RULES["timestamp"],
    "source": f'must be "{SOURCE}"',
    "model": "must be an object holding the model's id, name and status",
    "model.id": "must be the token id: 1-64 of A-Z, a-z, 0-9 and '-', not starting or ending "
    "with '-'",
    "model.name": "must be a non-empty string",
    "model.status": f'must be "{MODEL_STATUS}" (any letter case)',
    "model.version": 'must be the MLflow version as a string of digits, such as "4"' + _LEAVE_OUT,
    "model.run_id": "must be the MLflow run id as a non-empty string" + _LEAVE_OUT,
    "model.user_id": "must be a string" + _LEAVE_OUT,
    "model.api_schema": "must be an object with inputSchema and outputSchema, or null to clear "
    "the stored one; leave it out to keep it",
    "model.eval_spec": "must be an object" + _LEAVE_OUT,
    "model.scorer_ref": "must be a string" + _LEAVE_OUT,
    "model.primary_metric": "must be a string" + _LEAVE_OUT,
    "model.benchmark_spec_id": "must be a string" + _LEAVE_OUT,
    "model.api_schema.inputSchema": "must be a JSON Schema object",
    "model.api_schema.outputSchema": "must be a JSON Schema object",
    "model.api_schema.endpoint": "must be a string",
    "model.api_schema.method": "must be a string",
    "model.api_schema.errorCodes": "must be a list or an object",
}
"""Each v2 field's rule in plain words, by its dotted name."""


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: Any, shape: Shape) -> str:
    path = [str(part) for part in error.path]
    if error.validator == "required":
        where = f"every {path[-1]} object" if path else "every model_registered event"
        return f"is missing; {where} carries it"
    if not path:
        return f"the body must be a JSON object, got {_shown(error.instance)}"
    if shape is Shape.V1:
        rule = FIELD_RULES.get(path[0])
        if rule is not None and len(path) > 1:  # inside tags
            rule = "tag values must be strings, numbers, booleans or null"
            return f"got {_shown(error.instance)}; {rule}"
        name = path[0]
    else:
        name = ".".join(path)
        rule = V2_FIELD_RULES.get(name)
    if rule is None:
        return str(error.message)
    return f"got {_shown(error.instance)}; {name} {rule}"


def _semantic_violations(payload: Mapping[str, Any]) -> list[Violation]:
    """Rules JSON Schema cannot state: a real calendar date, a float-representable number."""
    violations = []
    timestamp = payload.get("timestamp")
    if isinstance(timestamp, str) and _TIMESTAMP.match(timestamp):
        try:
            parse_timestamp(timestamp)
        except ValueError as error:
            violations.append(Violation("$.timestamp", str(error)))
    if payload_shape(payload) is Shape.V2:
        return violations
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

    The body is judged as the website judges it: v1 when it has a top-level ``token_id``, else
    v2 (see :func:`payload_shape`). One validator gives both the verdict and the violations:
    the schema of the body's shape, built once. Each path is named once, with its first problem.
    """
    shape = payload_shape(payload)
    errors = _validator(shape).iter_errors(payload)
    errors = sorted(errors, key=lambda e: [str(p) for p in e.path])
    violations: dict[str, Violation] = {}
    for error in errors:
        path = _error_path(error)
        violations.setdefault(path, Violation(path, _describe(error, shape)))
    if isinstance(payload, Mapping):
        for violation in _semantic_violations(payload):
            violations.setdefault(violation.path, violation)
    return list(violations.values())


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
"""The free-text fields of a v1 body a receiver stores."""
STORED_MODEL_TEXT_FIELDS = ("name", "run_id", "primary_metric")
"""The free-text fields of a v2 body's ``model`` a receiver stores."""


def _stored_text(payload: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """(JSON path, value) of each free-text field a receiver stores, for either shape."""
    if payload_shape(payload) is Shape.V1:
        yield from ((f"$.{name}", payload.get(name)) for name in STORED_TEXT_FIELDS)
        return
    model = payload.get("model")
    if isinstance(model, Mapping):
        yield from ((f"$.model.{name}", model.get(name)) for name in STORED_MODEL_TEXT_FIELDS)


def unstorable_text(payload: Mapping[str, Any]) -> list[Violation]:
    """Stored text that is not Unicode: an unpaired ``\\udXXX`` escape parses, but no UTF-8
    database column can hold it, so receivers refuse it as a schema violation."""
    violations = []
    for path, value in _stored_text(payload):
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            violations.append(
                Violation(
                    path,
                    f"has an unpaired surrogate {value[error.start]!r} at position "
                    f"{error.start}, which is not Unicode text; send valid UTF-8 text",
                )
            )
    return violations
