"""The Hokusai model-registration webhook contract, as code.

The common cases are one line each::

    header = contracts.sign(body, secret)                 # "sha256=<hex>"
    if not contracts.verify(body, header, secrets): ...    # .reason says why
    payload = contracts.validate_payload(body)             # PayloadError lists violations
    event = contracts.receive(body, headers, secrets)      # both, in order; ReceiveError
    token = contracts.token_id_of(event)                   # v1 token_id or v2 model.id

Both body shapes are accepted everywhere: the flat v1 body (a top-level ``token_id``) and the
nested v2 body the SDK sends since 2026-04-30 (a top-level ``model``); see :func:`payload_shape`.

This package (the pure core) needs only ``jsonschema``; :data:`OPENAPI` also needs PyYAML (the
``openapi`` extra). The sender, receiver and conformance checks live in subpackages with their
own extras.
"""

from __future__ import annotations

from typing import Any

from contracts.envelope import (
    CURRENT_PATH,
    DEFAULT_PATH,
    EVENT_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    SEED_PATH,
    WEBHOOK_PATHS,
    SignedDelivery,
    idempotency_key,
    signed_delivery,
)
from contracts.errors import ReceiveError
from contracts.model_signature import api_schema_from_signature
from contracts.payload import (
    EVENT_TYPE,
    FIELD_ORDER,
    METRIC_TAG,
    MODEL_FIELD_ORDER,
    MODEL_STATUS,
    SDK_TAGS,
    SOURCE,
    STATUS_REGISTERED,
    TOKEN_TAG,
    UNCHANGED,
    V2_FIELD_ORDER,
    VALUE_TAG,
    PayloadError,
    PayloadProblem,
    Shape,
    Violation,
    build_model_payload,
    build_payload,
    format_timestamp,
    parse_body,
    parse_timestamp,
    payload_shape,
    payload_violations,
    run_id_from_model_uri,
    serialize,
    token_id_of,
    validate_payload,
)
from contracts.receive import receive
from contracts.schema import load_openapi, load_schema, openapi_path, schema_path, schemas_dir
from contracts.signing import (
    SIGNATURE_HEADER,
    SIGNATURE_PREFIX,
    FailureReason,
    SignatureError,
    Verification,
    sign,
    verify,
    verify_or_raise,
)
from contracts.tokens import TokenIdError, TokenIdRule, is_valid_token_id, normalize_token_id

__version__ = "1.0.0"

SCHEMA: dict[str, Any] = load_schema()
"""The parsed JSON Schema of the ``model_registered`` v1 body."""


def __getattr__(name: str) -> Any:
    # OPENAPI is parsed on first use so that importing the core never needs YAML parsing.
    if name == "OPENAPI":
        return load_openapi()
    raise AttributeError(f"module 'contracts' has no attribute {name!r}")


__all__ = [
    "CURRENT_PATH",
    "DEFAULT_PATH",
    "EVENT_HEADER",
    "EVENT_TYPE",
    "FIELD_ORDER",
    "IDEMPOTENCY_KEY_HEADER",
    "METRIC_TAG",
    "MODEL_FIELD_ORDER",
    "MODEL_STATUS",
    "OPENAPI",
    "SCHEMA",
    "SDK_TAGS",
    "SEED_PATH",
    "SIGNATURE_HEADER",
    "SIGNATURE_PREFIX",
    "SOURCE",
    "STATUS_REGISTERED",
    "TOKEN_TAG",
    "UNCHANGED",
    "V2_FIELD_ORDER",
    "VALUE_TAG",
    "WEBHOOK_PATHS",
    "FailureReason",
    "PayloadError",
    "PayloadProblem",
    "ReceiveError",
    "Shape",
    "SignatureError",
    "SignedDelivery",
    "TokenIdError",
    "TokenIdRule",
    "Verification",
    "Violation",
    "api_schema_from_signature",
    "build_model_payload",
    "build_payload",
    "format_timestamp",
    "idempotency_key",
    "is_valid_token_id",
    "normalize_token_id",
    "openapi_path",
    "parse_body",
    "parse_timestamp",
    "payload_shape",
    "payload_violations",
    "receive",
    "run_id_from_model_uri",
    "schema_path",
    "schemas_dir",
    "serialize",
    "sign",
    "signed_delivery",
    "token_id_of",
    "validate_payload",
    "verify",
    "verify_or_raise",
]
