"""Python webhook handlers in the idioms of Flask and FastAPI, each with the mistake (or none)
that its docstring names. They run on werkzeug, as Flask does.

Every handler serves the same website: a token table in memory, ``GET /api/tokens/<id>``
answering the token's state (status, latest model version, API schema), and the handler under
test at both webhook paths, ``POST /api/webhooks/model-registration`` and
``/api/mlflow/registered``. Unless its mistake is about shapes, each takes both body shapes, as
the website does: a later nested version of a REGISTERED token moves its latest version on and
replaces, keeps or clears its API schema. Uncaught exceptions become the 500 a framework sends:
werkzeug's own error page for its HTTP errors (what Flask shows for a body ``get_json()`` cannot
parse, and for a path it does not serve), ``Internal Server Error`` in plain text for the rest
(what FastAPI sends).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import jsonschema
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.wrappers import Request, Response

from contracts import (
    CURRENT_PATH,
    SEED_PATH,
    WEBHOOK_PATHS,
    PayloadError,
    Shape,
    load_schema,
    parse_body,
    payload_shape,
    token_id_of,
    validate_payload,
    verify,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

WEBHOOK_PATH = CURRENT_PATH
STATE_PREFIX = "/api/tokens/"
STATE_URL_TEMPLATE = STATE_PREFIX + "{token_id}"
MAX_BODY = 1024 * 1024
FLIP_DELAY_S = 0.2
"""How long a queue worker takes to register a token after the handler answered."""


def jsonify(http_status: int, /, **fields: Any) -> Response:
    return Response(json.dumps(fields), status=http_status, mimetype="application/json")


def refuse(status: int, error: str) -> Response:
    return jsonify(status, success=False, error=error)


def hmac_hex(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Website:
    """A website: its tokens, their state route, and :meth:`webhook`, the handler under test."""

    PATHS: tuple[str, ...] = WEBHOOK_PATHS

    def __init__(self, secret: str, tokens: Iterable[str]) -> None:
        self.secret = secret
        self.tokens: dict[str, dict[str, Any]] = {
            t: {"status": "DRAFT", "model_version": None, "api_schema": None} for t in tokens
        }
        self.lock = threading.Lock()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.route(request)
        except HTTPException as error:
            response = error.get_response(environ)
        except Exception:  # what a framework does with an uncaught error
            response = Response("Internal Server Error", status=500, mimetype="text/plain")
        return response(environ, start_response)

    def route(self, request: Request) -> Response:
        if request.path.startswith(STATE_PREFIX) and request.method == "GET":
            return self.state(request.path[len(STATE_PREFIX) :])
        if request.path not in self.PATHS:
            raise NotFound()  # Flask's own 404 page
        if request.method != "POST":
            return refuse(405, "only POST is allowed")
        if (request.content_length or 0) > MAX_BODY:
            return refuse(413, "body too large")
        return self.webhook(request)

    def state(self, token_id: str) -> Response:
        with self.lock:
            token = self.tokens.get(token_id.upper())
            if token is None:
                return refuse(404, "no such token")
            return jsonify(200, success=True, token_id=token_id.upper(), **token)

    def webhook(self, request: Request) -> Response:
        raise NotImplementedError

    # --- what every handler does once it has judged a delivery valid ------------------------

    def lookup_answer(self, token_id: str) -> Response | None:
        """404 when there is no such token (looked up exactly as given)."""
        with self.lock:
            return None if token_id in self.tokens else refuse(404, "Token not found")

    def register_now(self, token_id: str, payload: Mapping[str, Any]) -> Response:
        """Move the token to REGISTERED (once) and answer 200."""
        missing = self.lookup_answer(token_id)
        if missing is not None:
            return missing
        duplicate = not self.flip(token_id, payload)
        return jsonify(200, success=True, token_id=token_id, duplicate=duplicate)

    def flip(self, token_id: str, payload: Mapping[str, Any]) -> bool:
        """DRAFT to REGISTERED; False when it already was REGISTERED (a later nested version
        then moves its latest version on, with its API schema)."""
        nested = payload_shape(payload) is Shape.V2
        model = payload.get("model", {}) if nested else {}
        version = model.get("version") if nested else payload.get("model_version")
        with self.lock:
            token = self.tokens[token_id]
            if token["status"] == "REGISTERED":
                later = nested and version and int(version) > int(token["model_version"] or 0)
                if later:
                    token["model_version"] = version
                    if "api_schema" in model:
                        token["api_schema"] = model["api_schema"]
                return False
            token.update(
                status="REGISTERED",
                model_version=version,
                registered_at=datetime.now(timezone.utc).isoformat(),
            )
            if "api_schema" in model:
                token["api_schema"] = model["api_schema"]
            return True


def _validated(body: bytes) -> dict[str, Any] | Response:
    """The payload, or 400 naming what is wrong."""
    try:
        return validate_payload(body)
    except PayloadError as error:
        return refuse(400, str(error))


class CorrectFlask(Website):
    """Right: the raw bytes verified first (``request.get_data()``), then parsed and validated
    in either shape, the token id (``token_id``, or the nested ``model.id``) upper-cased, the
    state changed once."""

    def webhook(self, request: Request) -> Response:
        body = request.get_data()
        if not verify(body, request.headers.get("X-Hokusai-Signature"), self.secret):
            return refuse(401, "Invalid signature")
        payload = _validated(body)
        if isinstance(payload, Response):
            return payload
        return self.register_now(token_id_of(payload), payload)


class FlaskV1SchemaOnly(Website):
    """Wrong: written for the flat contract alone: it validates every body against the v1
    schema, so the nested body the SDK sends since 2026-04-30 gets 400."""

    V1_SCHEMA = load_schema()

    def webhook(self, request: Request) -> Response:
        body = request.get_data()
        if not verify(body, request.headers.get("X-Hokusai-Signature"), self.secret):
            return refuse(401, "Invalid signature")
        try:
            payload = parse_body(body)
            jsonschema.validate(payload, self.V1_SCHEMA)
        except (PayloadError, jsonschema.ValidationError) as error:
            return refuse(400, f"invalid payload: {str(error).splitlines()[0]}")
        return self.register_now(payload["token_id"].upper(), payload)


class FlaskSeedPathOnly(CorrectFlask):
    """Right, but served only at the seed path, ``/api/mlflow/registered``: the SDK posts to
    ``/api/webhooks/model-registration`` since 2026-04-30 and gets 404."""

    PATHS = (SEED_PATH,)


class FlaskGetJsonDumps(Website):
    """Wrong: verifies ``json.dumps(request.get_json())``, which writes ', ' and ': ', so the
    compact bytes every real sender signs never verify."""

    def webhook(self, request: Request) -> Response:
        payload = request.get_json()
        expected = hmac_hex(self.secret, json.dumps(payload).encode())
        if not hmac.compare_digest(expected, request.headers.get("X-Hokusai-Signature", "")):
            return refuse(401, "Invalid signature")
        checked = _validated(json.dumps(payload).encode())
        if isinstance(checked, Response):
            return checked
        return self.register_now(token_id_of(checked), checked)


class FlaskWrongSecret(CorrectFlask):
    """Wrong: right code, but configured with a secret the sender does not hold."""

    def __init__(self, secret: str, tokens: Iterable[str]) -> None:
        super().__init__("not the sender's secret", tokens)


class FastApiJsonCompact(Website):
    """Wrong: ``payload = await request.json()`` first (an uncaught error on bad JSON: 500),
    then verifies ``json.dumps(payload, separators=(",", ":"))``: compact, but ``\\u``-escaped,
    so any other spacing or raw UTF-8 is refused."""

    def webhook(self, request: Request) -> Response:
        payload = json.loads(request.get_data())
        serialized = json.dumps(payload, separators=(",", ":")).encode()
        expected = hmac_hex(self.secret, serialized)
        if not hmac.compare_digest(expected, request.headers.get("X-Hokusai-Signature", "")):
            return refuse(401, "Invalid signature")
        checked = _validated(serialized)
        if isinstance(checked, Response):
            return checked
        return self.register_now(token_id_of(checked), checked)


class RefusesWith200(CorrectFlask):
    """Wrong: every refusal answered ``200 {"success": false}``, which senders take as
    delivered."""

    def route(self, request: Request) -> Response:
        response = super().route(request)
        if request.path in self.PATHS and response.status_code >= 400:
            response.status_code = 200
        return response


class CaseSensitiveTokenIds(Website):
    """Wrong: checks the token id (``token_id``, or the nested ``model.id``) against its own
    ``^[A-Z0-9-]+$`` and looks it up as sent, so a lower-case id gets 400."""

    def webhook(self, request: Request) -> Response:
        body = request.get_data()
        if not verify(body, request.headers.get("X-Hokusai-Signature"), self.secret):
            return refuse(401, "Invalid signature")
        payload = _validated(body)
        if isinstance(payload, Response):
            return payload
        sent = payload["token_id"] if "token_id" in payload else payload["model"]["id"]
        if not re.fullmatch(r"[A-Z0-9-]+", sent):
            return refuse(400, "invalid token id")
        return self.register_now(sent, payload)


class BadJson400BeforeSignature(Website):
    """Wrong: ``request.get_json(silent=True)`` first, 400 when it is not JSON, and only then
    the signature (over the raw bytes, correctly)."""

    def webhook(self, request: Request) -> Response:
        if request.get_json(silent=True) is None:
            return refuse(400, "Invalid JSON")
        body = request.get_data()
        if not verify(body, request.headers.get("X-Hokusai-Signature"), self.secret):
            return refuse(401, "Invalid signature")
        payload = _validated(body)
        if isinstance(payload, Response):
            return payload
        return self.register_now(token_id_of(payload), payload)


class RequiresFractionalSeconds(CorrectFlask):
    """Wrong: parses the timestamp with one fixed format, ``%Y-%m-%dT%H:%M:%S.%fZ``, so whole
    seconds (the SDK's CLI) and ``+00:00`` are refused."""

    def webhook(self, request: Request) -> Response:
        timestamp = _field(request, "timestamp")
        if isinstance(timestamp, str):
            try:
                datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S.%fZ")
            except ValueError:
                return refuse(400, "invalid timestamp")
        return super().webhook(request)


def _field(request: Request, name: str) -> Any:
    try:
        document = json.loads(request.get_data())
    except ValueError:
        return None
    return document.get(name) if isinstance(document, dict) else None


class RequiresEventHeader(CorrectFlask):
    """Wrong: refuses a delivery without ``X-Hokusai-Event: model_registered``, which the SDK's
    CLI does not send."""

    def webhook(self, request: Request) -> Response:
        if request.headers.get("X-Hokusai-Event") != "model_registered":
            return refuse(400, "unsupported event")
        return super().webhook(request)


class RequiresIdempotencyKey(CorrectFlask):
    """Wrong: refuses a delivery without ``X-Hokusai-Idempotency-Key`` (it dedupes on it),
    which the SDK's CLI does not send."""

    def webhook(self, request: Request) -> Response:
        if not request.headers.get("X-Hokusai-Idempotency-Key"):
            return refuse(400, "missing idempotency key")
        return super().webhook(request)


class QueueWorker(Website):
    """A queue: the delivery is verified, validated and its token looked up at once, then
    answered ``ANSWER_STATUS`` while a worker registers the token a moment later."""

    ANSWER_STATUS = 202

    def webhook(self, request: Request) -> Response:
        body = request.get_data()
        if not verify(body, request.headers.get("X-Hokusai-Signature"), self.secret):
            return refuse(401, "Invalid signature")
        payload = _validated(body)
        if isinstance(payload, Response):
            return payload
        token_id = token_id_of(payload)
        missing = self.lookup_answer(token_id)
        if missing is not None:
            return missing
        worker = threading.Timer(FLIP_DELAY_S, self.flip, (token_id, payload))
        worker.daemon = True
        worker.start()
        return jsonify(self.ANSWER_STATUS, success=True, queued=True)


class QueueLosesWork(QueueWorker):
    """Wrong: a queue whose worker never runs; every accepted delivery is lost."""

    def flip(self, token_id: str, payload: Mapping[str, Any]) -> bool:
        return False


class AnswersThenRegisters(QueueWorker):
    """A queue that answers 200 at once: the token is REGISTERED a moment after the answer."""

    ANSWER_STATUS = 200


PYTHON_HANDLERS: dict[str, type[Website]] = {
    "flask-correct": CorrectFlask,
    "flask-v1-schema-only": FlaskV1SchemaOnly,
    "flask-seed-path-only": FlaskSeedPathOnly,
    "flask-get-json-dumps": FlaskGetJsonDumps,
    "flask-wrong-secret": FlaskWrongSecret,
    "fastapi-json-compact": FastApiJsonCompact,
    "refusals-as-200": RefusesWith200,
    "case-sensitive-token-ids": CaseSensitiveTokenIds,
    "bad-json-400-before-signature": BadJson400BeforeSignature,
    "requires-fractional-seconds": RequiresFractionalSeconds,
    "requires-event-header": RequiresEventHeader,
    "requires-idempotency-key": RequiresIdempotencyKey,
    "queue-answers-202": QueueWorker,
    "queue-answers-200": AnswersThenRegisters,
    "queue-loses-work": QueueLosesWork,
}
