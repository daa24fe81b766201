"""Deliberately flawed receivers: each breaks the contract in one way the field has seen.

One small WSGI app follows the contract's order (method, size, secret, signature on the raw
bytes, JSON and schema, lookup, transition), at both webhook paths and in both body shapes; a
later nested version of a REGISTERED token moves its latest version on and replaces, keeps or
clears its API schema. Each :class:`Flaw` swaps one step for the mistake, and flaws combine. The
checks must fail each flaw on the check that names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from contracts import (
    CURRENT_PATH,
    SIGNATURE_HEADER,
    WEBHOOK_PATHS,
    PayloadError,
    Shape,
    payload_shape,
    token_id_of,
    validate_payload,
    verify,
)
from contracts.payload import parse_timestamp

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

WEBHOOK_PATH = CURRENT_PATH
STATE_PREFIX = "/api/tokens/"
STATE_URL_TEMPLATE = STATE_PREFIX + "{token_id}"
MAX_BODY = 1024 * 1024


class Flaw(str, Enum):
    VERIFIES_RESERIALIZED_JSON = "verifies_reserialized_json"
    IGNORES_SIGNATURES = "ignores_signatures"
    CASE_SENSITIVE_TOKEN_IDS = "case_sensitive_token_ids"
    CRASHES_ON_BAD_JSON = "crashes_on_bad_json"
    CHANGES_STATE_BEFORE_VERIFYING = "changes_state_before_verifying"
    ANSWERS_DUPLICATES_FIRST = "answers_duplicates_first"
    """A token already REGISTERED gets 200 "duplicate" before anything else is looked at."""
    CASE_SENSITIVE_STATUS = "case_sensitive_status"
    """A new registration must say "REGISTERED" exactly (checked after the duplicate test)."""
    REREGISTERS_REPEATS = "reregisters_repeats"
    """Every accepted delivery writes the registration again; no "duplicate" in the answer."""
    LOOKS_UP_BEFORE_VERIFYING = "looks_up_before_verifying"
    NO_BODY_LIMIT = "no_body_limit"
    ANY_METHOD_IS_A_DELIVERY = "any_method_is_a_delivery"
    DROPS_LATER_VERSIONS = "drops_later_versions"
    """A later nested version of a REGISTERED token is answered as a duplicate, and dropped."""
    ABSENT_API_SCHEMA_CLEARS = "absent_api_schema_clears"
    """A later nested version without api_schema clears the stored one."""
    NULL_API_SCHEMA_KEPT = "null_api_schema_kept"
    """A later nested version with api_schema null keeps the stored one."""


def _json(http_status: int, fields: Mapping[str, Any]) -> Response:
    return Response(json.dumps(fields), status=http_status, mimetype="application/json")


def error_answer(http_status: int, reason: str, message: str) -> Response:
    return _json(http_status, {"success": False, "error": message, "reason": reason})


def _javascript_number(text: str) -> float | int:
    """JavaScript has one number type: 1.0 parses to 1 and prints back as 1."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _token_of(body: bytes) -> str | None:
    """The upper-cased token id of a JSON body of either shape, or ``None``."""
    try:
        return token_id_of(json.loads(body))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _as_sent(payload: Mapping[str, Any]) -> tuple[str, str]:
    """The token id and status as the body wrote them (v1 at the top, v2 inside model)."""
    if payload_shape(payload) is Shape.V1:
        return str(payload["token_id"]), str(payload["status"])
    model = payload["model"]
    return str(model["id"]), str(model["status"])


class FlawedReceiver:
    """The webhook and a token state endpoint over an in-memory token table."""

    def __init__(
        self,
        secret: str | None,
        tokens: Iterable[str],
        *flaws: Flaw,
        tolerance_seconds: float | None = None,
    ) -> None:
        self.secret = secret
        self.flaws = frozenset(flaws)
        self.tolerance_seconds = tolerance_seconds
        self.tokens = dict.fromkeys(tokens, "DRAFT")
        self.registrations: dict[str, dict[str, Any]] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith(STATE_PREFIX):
            response = self._state(request.path[len(STATE_PREFIX) :])
        elif request.path in WEBHOOK_PATHS:
            response = self._answer(request)
        else:
            response = error_answer(404, "not_found", "no such path")
        return response(environ, start_response)

    def _state(self, token: str) -> Response:
        status = self.tokens.get(token.upper())
        if status is None:
            return error_answer(404, "unknown_token", f"no token {token}")
        record = {
            "token_id": token.upper(),
            "status": status,
            "api_schema": None,
            **self.registrations.get(token.upper(), {}),
        }
        return _json(200, {"success": True, **record})

    def _answer(self, request: Request) -> Response:
        """The webhook's answer; a subclass may reword it."""
        return self._webhook(request)

    def _webhook(self, request: Request) -> Response:
        if request.method != "POST" and Flaw.ANY_METHOD_IS_A_DELIVERY not in self.flaws:
            return error_answer(405, "method_not_allowed", "only POST is allowed")
        if (request.content_length or 0) > MAX_BODY and Flaw.NO_BODY_LIMIT not in self.flaws:
            return error_answer(413, "body_too_large", "body over 1 MiB")
        body = request.get_data()
        if Flaw.ANSWERS_DUPLICATES_FIRST in self.flaws:
            token = _token_of(body)
            if token is not None and self.tokens.get(token) == "REGISTERED":
                return _json(200, {"success": True, "duplicate": True})
        if Flaw.LOOKS_UP_BEFORE_VERIFYING in self.flaws and _token_of(body) not in self.tokens:
            return error_answer(404, "unknown_token", "no such token")
        if Flaw.CHANGES_STATE_BEFORE_VERIFYING in self.flaws:
            self._register_early(body)
        if self.secret is None:
            return error_answer(500, "no_secret_configured", "Webhook secret not configured")
        if Flaw.CRASHES_ON_BAD_JSON in self.flaws:
            json.loads(body)  # an unguarded parse: bad JSON escapes as a 500
        if not self._signature_ok(body, request.headers.get(SIGNATURE_HEADER)):
            return error_answer(401, "mismatch", "signature does not verify")
        if self._outside_tolerance(body):
            return error_answer(401, "timestamp_outside_tolerance", "the timestamp is too far off")
        try:
            payload = validate_payload(body)
        except PayloadError as error:
            return error_answer(400, "schema_violation", str(error))
        token, status_sent = _as_sent(payload)
        if Flaw.CASE_SENSITIVE_TOKEN_IDS not in self.flaws:
            token = token.upper()
        if token not in self.tokens:
            return error_answer(404, "unknown_token", f"no token {token}")
        return self._register(token, payload, status_sent)

    def _register(self, token: str, payload: Mapping[str, Any], status_sent: str) -> Response:
        duplicate = self.tokens[token] == "REGISTERED"
        if Flaw.REREGISTERS_REPEATS in self.flaws:
            self._write(token, payload)
            return _json(200, {"success": True, "token_id": token, "status": "REGISTERED"})
        strict_status = Flaw.CASE_SENSITIVE_STATUS in self.flaws
        if not duplicate and strict_status and status_sent != "REGISTERED":
            return error_answer(400, "schema_violation", "status must be REGISTERED")
        if not duplicate:
            self._write(token, payload)
        elif self._later_version(token, payload):
            self._update(token, payload["model"])
        answer = {"token_id": token, "status": "REGISTERED", "duplicate": duplicate}
        return _json(200, {"success": True, **answer})

    def _write(self, token: str, payload: Mapping[str, Any]) -> None:
        self.tokens[token] = "REGISTERED"
        version = payload.get("model_version") or payload.get("model", {}).get("version")
        self.registrations[token] = {
            "model_version": version,
            "registered_at": datetime.now(timezone.utc).isoformat(),
            "api_schema": payload.get("model", {}).get("api_schema"),
        }

    def _later_version(self, token: str, payload: Mapping[str, Any]) -> bool:
        if payload_shape(payload) is not Shape.V2 or Flaw.DROPS_LATER_VERSIONS in self.flaws:
            return False
        version = payload["model"].get("version")
        stored = self.registrations.get(token, {}).get("model_version")
        return version is not None and int(version) > int(stored or 0)

    def _update(self, token: str, model: Mapping[str, Any]) -> None:
        """A later nested version: its version, and its API schema (absent keeps, null
        clears, an object replaces)."""
        registration = self.registrations.setdefault(token, {})
        registration["model_version"] = model["version"]
        if "api_schema" not in model:
            if Flaw.ABSENT_API_SCHEMA_CLEARS in self.flaws:
                registration["api_schema"] = None
        elif model["api_schema"] is not None or Flaw.NULL_API_SCHEMA_KEPT not in self.flaws:
            registration["api_schema"] = model["api_schema"]

    def _signature_ok(self, body: bytes, header: str | None) -> bool:
        if Flaw.IGNORES_SIGNATURES in self.flaws:
            return True
        if Flaw.VERIFIES_RESERIALIZED_JSON in self.flaws:
            try:
                parsed = json.loads(body, parse_float=_javascript_number)
            except ValueError:
                return False
            # What JSON.stringify(req.body) gives after express.json(): compact, raw UTF-8.
            body = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()
        return bool(verify(body, header, self.secret))

    def _outside_tolerance(self, body: bytes) -> bool:
        if self.tolerance_seconds is None:
            return False
        try:
            moment = parse_timestamp(json.loads(body)["timestamp"])
        except (ValueError, KeyError, TypeError):
            return False  # left to schema validation
        skew = (datetime.now(timezone.utc) - moment).total_seconds()
        return abs(skew) > self.tolerance_seconds

    def _register_early(self, body: bytes) -> None:
        token = _token_of(body)
        if token in self.tokens:
            self.tokens[token] = "REGISTERED"


class RewordedReceiver(FlawedReceiver):
    """A correct receiver that words some answers its own way: ``rewording[status]`` replaces
    the body of every webhook answer with that status (the status stays)."""

    def __init__(
        self,
        secret: str | None,
        tokens: Iterable[str],
        rewording: Mapping[int, Mapping[str, Any]],
    ) -> None:
        super().__init__(secret, tokens)
        self.rewording = rewording

    def _answer(self, request: Request) -> Response:
        response = self._webhook(request)
        body = self.rewording.get(response.status_code)
        return response if body is None else _json(response.status_code, body)


class StateWithoutApiSchema(FlawedReceiver):
    """A correct receiver whose state URL does not show the API schema it keeps."""

    def _state(self, token: str) -> Response:
        response = super()._state(token)
        document = json.loads(response.get_data())
        document.pop("api_schema", None)
        return _json(response.status_code, document)
