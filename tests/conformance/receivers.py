"""Deliberately flawed receivers: each breaks the contract in one way the field has seen.

One small WSGI app follows the contract's order (method, size, secret, signature on the raw
bytes, JSON and schema, lookup, transition); a :class:`Flaw` swaps one step for the mistake.
The checks must fail each flaw on the check that names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from contracts import SIGNATURE_HEADER, PayloadError, validate_payload, verify

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

WEBHOOK_PATH = "/api/mlflow/registered"
STATE_PREFIX = "/api/tokens/"
MAX_BODY = 1024 * 1024


class Flaw(str, Enum):
    NONE = "none"
    VERIFIES_RESERIALIZED_JSON = "verifies_reserialized_json"
    IGNORES_SIGNATURES = "ignores_signatures"
    CASE_SENSITIVE_TOKEN_IDS = "case_sensitive_token_ids"
    CRASHES_ON_BAD_JSON = "crashes_on_bad_json"
    CHANGES_STATE_BEFORE_VERIFYING = "changes_state_before_verifying"


def _json(http_status: int, fields: dict[str, Any]) -> Response:
    return Response(json.dumps(fields), status=http_status, mimetype="application/json")


def _error(http_status: int, reason: str, message: str) -> Response:
    return _json(http_status, {"success": False, "error": message, "reason": reason})


def _javascript_number(text: str) -> float | int:
    """JavaScript has one number type: 1.0 parses to 1 and prints back as 1."""
    value = float(text)
    return int(value) if value.is_integer() else value


class FlawedReceiver:
    """The webhook and a token state endpoint over an in-memory token table."""

    def __init__(self, secret: str | None, tokens: Iterable[str], flaw: Flaw = Flaw.NONE) -> None:
        self.secret = secret
        self.flaw = flaw
        self.tokens = dict.fromkeys(tokens, "DRAFT")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        if request.path.startswith(STATE_PREFIX):
            response = self._state(request.path[len(STATE_PREFIX) :])
        elif request.path == WEBHOOK_PATH:
            response = self._webhook(request)
        else:
            response = _error(404, "not_found", "no such path")
        return response(environ, start_response)

    def _state(self, token: str) -> Response:
        status = self.tokens.get(token.upper())
        if status is None:
            return _error(404, "unknown_token", f"no token {token}")
        return _json(200, {"success": True, "token_id": token.upper(), "status": status})

    def _webhook(self, request: Request) -> Response:
        if request.method != "POST":
            return _error(405, "method_not_allowed", "only POST is allowed")
        if (request.content_length or 0) > MAX_BODY:
            return _error(413, "body_too_large", "body over 1 MiB")
        body = request.get_data()
        if self.flaw is Flaw.CHANGES_STATE_BEFORE_VERIFYING:
            self._register_early(body)
        if self.secret is None:
            return _error(500, "no_secret_configured", "Webhook secret not configured")
        if self.flaw is Flaw.CRASHES_ON_BAD_JSON:
            json.loads(body)  # an unguarded parse: bad JSON escapes as a 500
        if not self._signature_ok(body, request.headers.get(SIGNATURE_HEADER)):
            return _error(401, "mismatch", "signature does not verify")
        try:
            payload = validate_payload(body)
        except PayloadError as error:
            return _error(400, "schema_violation", str(error))
        token = payload["token_id"]
        if self.flaw is not Flaw.CASE_SENSITIVE_TOKEN_IDS:
            token = token.upper()
        if token not in self.tokens:
            return _error(404, "unknown_token", f"no token {token}")
        duplicate = self.tokens[token] == "REGISTERED"
        self.tokens[token] = "REGISTERED"
        answer = {"token_id": token, "status": "REGISTERED", "duplicate": duplicate}
        return _json(200, {"success": True, **answer})

    def _signature_ok(self, body: bytes, header: str | None) -> bool:
        if self.flaw is Flaw.IGNORES_SIGNATURES:
            return True
        if self.flaw is Flaw.VERIFIES_RESERIALIZED_JSON:
            try:
                parsed = json.loads(body, parse_float=_javascript_number)
            except ValueError:
                return False
            # What JSON.stringify(req.body) gives after express.json(): compact, raw UTF-8.
            body = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()
        return bool(verify(body, header, self.secret))

    def _register_early(self, body: bytes) -> None:
        try:
            token = str(json.loads(body)["token_id"]).upper()
        except (ValueError, KeyError, TypeError):
            return
        if token in self.tokens:
            self.tokens[token] = "REGISTERED"
