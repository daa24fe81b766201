"""The stub site: a WSGI application that answers deliveries the way the contract says.

A test double and a reference for the website's handler, not a production website. It serves
the webhook at both of the contract's paths, each taking both body shapes. Each delivery is
judged in the contract's order (method, size, secret, signature over the raw bytes, timestamp
tolerance, JSON and schema, token) and then moves the token from DRAFT to REGISTERED at most
once; a later model version sent in a v2 body still updates the token's latest version and API
schema. Every answer is JSON with ``success``; refusals carry ``error`` (what was wrong and
what to do) and ``reason`` (a stable code).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from contracts.envelope import (
    CURRENT_PATH,
    DEFAULT_PATH,
    IDEMPOTENCY_KEY_HEADER,
    MAX_BODY_BYTES,
    WEBHOOK_PATHS,
)
from contracts.errors import ReceiveError
from contracts.payload import (
    UNCHANGED,
    PayloadError,
    PayloadProblem,
    Shape,
    format_timestamp,
    payload_shape,
    token_id_of,
)
from contracts.receive import (
    TIMESTAMP_OUTSIDE_TOLERANCE,
    TimestampError,
    check_timestamp_tolerance,
    receive_delivery,
)
from contracts.receiver.store import (
    DEFAULT_DELIVERIES_LIMIT,
    AcceptedRegistration,
    DeliveryRecord,
    RegisterResult,
    TokenStore,
    Transition,
)
from contracts.schema import load_json
from contracts.signing import SIGNATURE_HEADER, FailureReason
from contracts.support.request_body import UnreadableBody, read_request_body
from contracts.tokens import token_id_problem
from contracts.urls import is_credential_name, redact_text

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger("contracts.receiver")

DEFAULT_MAX_BODY_BYTES = MAX_BODY_BYTES
NO_SECRET_ERROR = "Webhook secret not configured"
SIGNATURE_PREFIX_KEPT = 15
"""How much of a signature header the log keeps: ``sha256=`` and 8 hex digits, never more."""
IDEMPOTENCY_KEY_KEPT = 200
CUT = "(cut)"
"""What a logged header's secret value is replaced with."""
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_SCHEME_KEPT = 16
RECEIVER_CASES_FILE = "vectors/receiver_cases.v1.json"
"""The contract's refusal reasons with their status codes, and requests with their answers."""


class RejectReason(str, Enum):
    """Why the stub site refused a request; the stable ``reason`` code of its answer."""

    NO_SECRET_CONFIGURED = FailureReason.NO_SECRET_CONFIGURED.value
    MISSING_HEADER = FailureReason.MISSING_HEADER.value
    MALFORMED_HEADER = FailureReason.MALFORMED_HEADER.value
    MISMATCH = FailureReason.MISMATCH.value
    TIMESTAMP_OUTSIDE_TOLERANCE = TIMESTAMP_OUTSIDE_TOLERANCE
    INVALID_JSON = PayloadProblem.INVALID_JSON.value
    SCHEMA_VIOLATION = PayloadProblem.SCHEMA_VIOLATION.value
    UNKNOWN_TOKEN = "unknown_token"
    BODY_TOO_LARGE = "body_too_large"
    MALFORMED_REQUEST = "malformed_request"
    """The body's framing is broken or ambiguous: cut short, bad chunks, two lengths."""
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNKNOWN_PATH = "unknown_path"
    """Not a delivery at all: nothing is served at that path."""
    INTERNAL_ERROR = "internal_error"

    @property
    def status_code(self) -> int:
        """The HTTP status the contract gives this refusal (the receiver-cases vectors)."""
        return _STATUS_CODES[self]


def _status_codes() -> dict[RejectReason, int]:
    """Each reason's status, read from the contract file every receiver shares."""
    table = load_json(RECEIVER_CASES_FILE)["reasons"]
    missing = [reason.value for reason in RejectReason if reason.value not in table]
    if missing:
        raise RuntimeError(
            f"{RECEIVER_CASES_FILE} gives no status for {', '.join(missing)}; reinstall "
            "hokusai-contracts"
        )
    return {reason: int(table[reason.value]["status"]) for reason in RejectReason}


_STATUS_CODES = _status_codes()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ReceiverConfig:
    """How the stub site judges deliveries. The secrets never appear in its ``repr``."""

    secrets: Sequence[str] = field(default=(), repr=False)
    """Every secret accepted at once (rotation); empty ones are dropped; none: fail closed."""
    timestamp_tolerance: float | None = None
    """Refuse deliveries whose timestamp is further than this many seconds from the clock."""
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    path: str = DEFAULT_PATH
    """Where the webhook is mounted. Either of the contract's paths (the default, the seed path,
    or ``/api/webhooks/model-registration``) serves both of them; any other path serves only
    itself."""
    clock: Callable[[], datetime] = field(default=_utc_now, repr=False, compare=False)

    def __post_init__(self) -> None:
        secrets = (self.secrets,) if isinstance(self.secrets, str) else tuple(self.secrets)
        object.__setattr__(self, "secrets", tuple(secret for secret in secrets if secret))
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be at least 1, got {self.max_body_bytes}")
        check_timestamp_tolerance(self.timestamp_tolerance)
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/', got {self.path!r}")

    @property
    def webhook_paths(self) -> tuple[str, ...]:
        """Every path deliveries are taken at: both contract paths, or the one configured."""
        return WEBHOOK_PATHS if self.path in WEBHOOK_PATHS else (self.path,)

    @property
    def main_path(self) -> str:
        """The path to give senders: the contract's current default, or the one configured."""
        return CURRENT_PATH if self.path in WEBHOOK_PATHS else self.path


@dataclass
class _Answer:
    """What the stub site says to one request, and what it records about it."""

    status: int
    body: dict[str, Any]
    verdict: str
    token_id: str | None = None
    secret_index: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    logged: bool = False
    """True when the store already wrote this delivery to the log (with its transition)."""

    def respond(self, start_response: StartResponse) -> list[bytes]:
        """Answer straight through WSGI: a JSON body and its headers, nothing else to build."""
        body = json.dumps(self.body, ensure_ascii=False).encode("utf-8")
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *self.headers.items(),
        ]
        start_response(f"{self.status} {HTTP_STATUS_CODES.get(self.status, '')}".rstrip(), headers)
        return [body]


def _refusal(reason: RejectReason, error: str, **extra: Any) -> _Answer:
    headers = extra.pop("headers", {})
    body = {"success": False, "error": error, "reason": reason.value, **extra}
    return _Answer(reason.status_code, body, reason.value, headers=headers)


def _receive_refusal(error: ReceiveError) -> _Answer:
    """The answer to a delivery that :func:`~contracts.receive` refused, with its details."""
    reason = RejectReason(error.reason)
    if isinstance(error, PayloadError):
        return _violations_answer(reason, error)
    if isinstance(error, TimestampError):
        return _refusal(
            reason, str(error), tolerance_seconds=error.tolerance_seconds, field="$.timestamp"
        )
    if reason is RejectReason.NO_SECRET_CONFIGURED:
        # The exact words the real website answered with; the hint says what to do.
        return _refusal(
            reason,
            NO_SECRET_ERROR,
            hint="the receiver refuses every delivery until its operator configures the shared "
            "webhook secret (stub site: export the variable named by --secret-env and restart)",
        )
    return _refusal(reason, str(error))


def _violations_answer(reason: RejectReason, error: PayloadError) -> _Answer:
    first = error.violations[0]
    if reason is RejectReason.INVALID_JSON:
        words = f"{first.message}; nothing was stored"
    else:
        words = (
            f"the body breaks the model_registered schema at {first.path}: {first.message}; fix "
            "it and resend (every problem is listed in violations)"
        )
    return _refusal(
        reason,
        words,
        field=error.first_path,
        violations=[{"path": v.path, "message": v.message} for v in error.violations],
    )


class StubSite:
    """The WSGI application: the webhook plus read endpoints over a :class:`TokenStore`."""

    def __init__(self, store: TokenStore, config: ReceiverConfig) -> None:
        self.store = store
        self.config = config
        self._routes = Map(
            [
                Rule("/api/tokens/<token_id>", endpoint="token", methods=["GET"]),
                Rule("/api/deliveries", endpoint="deliveries", methods=["GET"]),
                Rule("/api/deliveries/<int:delivery_id>", endpoint="delivery", methods=["GET"]),
                Rule("/health", endpoint="health", methods=["GET"]),
            ],
            merge_slashes=False,
        )

    def __repr__(self) -> str:
        return f"StubSite({self.store!r}, {self.config!r})"

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            answer = self._dispatch(request)
        except Exception as error:
            logger.exception("the stub site failed on %s %s", request.method, request.path)
            answer = _refusal(
                RejectReason.INTERNAL_ERROR,
                f"the stub site failed ({type(error).__name__}); see its log, and report the "
                "problem if resending does not help",
            )
        return answer.respond(start_response)

    def _dispatch(self, request: Request) -> _Answer:
        adapter = self._routes.bind_to_environ(request.environ)
        path = adapter.path_info  # as sent: request.path folds "//" at its start into "/"
        if path in self.config.webhook_paths:  # the webhook: every method is answered there
            return self._deliver(request)
        try:
            endpoint, arguments = adapter.match()
        except MethodNotAllowed as error:
            allowed = ", ".join(error.valid_methods or ())
            return _refusal(
                RejectReason.METHOD_NOT_ALLOWED,
                f"{request.method} is not allowed on {path}; use {allowed}",
                headers={"Allow": allowed},
            )
        except NotFound:
            return _refusal(
                RejectReason.UNKNOWN_PATH,
                f"nothing is served at {path}; deliveries go to POST "
                f"{' or '.join(self.config.webhook_paths)}, token state is at GET "
                "/api/tokens/<token_id>",
            )
        if endpoint == "token":
            return self._token(arguments["token_id"])
        if endpoint == "deliveries":
            return self._deliveries(request)
        if endpoint == "delivery":
            return self._delivery(arguments["delivery_id"])
        return _Answer(200, {"success": True, "status": "ok"}, "health")

    # --- the webhook ----------------------------------------------------------------------

    def _deliver(self, request: Request) -> _Answer:
        key = _idempotency_key(request)
        signature = request.headers.get(SIGNATURE_HEADER)
        signature_prefix = signature[:SIGNATURE_PREFIX_KEPT] if signature else None
        # What an accepted delivery logs; the store fills in its verdict (the transition).
        log = DeliveryRecord(
            received_at=format_timestamp(self.config.clock()),
            verdict="",
            status_code=200,
            idempotency_key=key,
            signature_prefix=signature_prefix,
            headers=logged_headers(request.headers.items()),
        )
        answer, log = self._judge(request, log)
        if not answer.logged:
            self.store.record_delivery(
                replace(
                    log,
                    verdict=answer.verdict,
                    status_code=answer.status,
                    token_id=answer.token_id,
                    secret_index=answer.secret_index,
                    answer_body=answer.body,
                )
            )
        logger.info(
            "delivery %s %s -> %d %s token=%s key=%s%s signature=%s secret_index=%s",
            request.method,
            request.path,
            answer.status,
            answer.verdict,
            answer.token_id or "-",
            repr(key) if key is not None else "-",
            "" if key is None or _looks_like_uuid(key) else " (not a UUID)",
            (signature_prefix + "...") if signature_prefix else "-",
            "-" if answer.secret_index is None else answer.secret_index,
        )
        return answer

    def _judge(self, request: Request, log: DeliveryRecord) -> tuple[_Answer, DeliveryRecord]:
        """Every row of the receiver table, in the contract's order; the log line gains the
        body once it is read (within the body limit)."""
        if request.method != "POST":
            refusal = _refusal(
                RejectReason.METHOD_NOT_ALLOWED,
                f"{request.method} is not allowed on {request.path}; send the event with POST",
                headers={"Allow": "POST"},
            )
            return refusal, log
        body = _read_body(request, self.config.max_body_bytes)
        if isinstance(body, _Answer):
            return body, log
        log = replace(log, body=body)
        try:
            received = receive_delivery(
                body,
                request.headers,
                self.config.secrets,
                timestamp_tolerance=self.config.timestamp_tolerance,
                now=self.config.clock(),
            )
        except ReceiveError as error:
            return _receive_refusal(error), log
        answer = self._register(received.event, replace(log, secret_index=received.secret_index))
        answer.secret_index = received.secret_index
        return answer, log

    def _register(self, payload: Mapping[str, Any], log: DeliveryRecord) -> _Answer:
        token_id = token_id_of(payload)
        registration = _registration(payload, log.received_at)
        built: list[_Answer] = []  # the answer, made once, inside the store's transaction

        def answer_of(registered: RegisterResult) -> Mapping[str, Any]:
            built.append(_accepted(registered))
            return built[-1].body

        result = self.store.register(
            token_id, registration, log.idempotency_key, log_as=log, answer_of=answer_of
        )
        if result is None:
            answer = _refusal(
                RejectReason.UNKNOWN_TOKEN,
                f"no token {token_id} exists on this receiver; check the token id the sender "
                f"used, or create it (stub site: hokusai-contract stub-site tokens add {token_id})",
            )
            answer.token_id = token_id
            return answer
        answer = built[-1] if built else _accepted(result)
        answer.logged = True
        return answer

    # --- read endpoints -------------------------------------------------------------------

    def _token(self, token_id: str) -> _Answer:
        problem = token_id_problem(token_id)
        if problem is not None:
            return _refusal(
                RejectReason.UNKNOWN_TOKEN, f"{problem}; no such token can exist on this site"
            )
        record = self.store.token(token_id)
        if record is None:
            return _refusal(
                RejectReason.UNKNOWN_TOKEN,
                f"no token {token_id.upper()} exists on this stub site; create it with "
                f"hokusai-contract stub-site tokens add {token_id.upper()}",
            )
        return _Answer(200, {"success": True, **record.as_dict()}, "read")

    def _deliveries(self, request: Request) -> _Answer:
        token_id = request.args.get("token_id") or None
        limit = request.args.get("limit", default=DEFAULT_DELIVERIES_LIMIT, type=int)
        limit = max(1, min(limit, 10 * DEFAULT_DELIVERIES_LIMIT))
        deliveries = self.store.deliveries(token_id, limit=limit)
        body = {"success": True, "deliveries": [delivery.as_dict() for delivery in deliveries]}
        return _Answer(200, body, "read")

    def _delivery(self, delivery_id: int) -> _Answer:
        record = self.store.delivery(delivery_id)
        if record is None:
            return _refusal(
                RejectReason.UNKNOWN_PATH,
                f"no delivery {delivery_id} is logged on this stub site; GET /api/deliveries "
                "lists the ids it has",
            )
        return _Answer(200, {"success": True, **record.as_dict()}, "read")


def _registration(payload: Mapping[str, Any], received_at: str) -> AcceptedRegistration:
    """What an accepted event writes onto its token, from either shape of body."""
    if payload_shape(payload) is Shape.V1:
        return AcceptedRegistration(
            model_name=payload["model_name"],
            model_version=payload["model_version"],
            mlflow_run_id=payload["mlflow_run_id"],
            metric_name=payload["metric_name"],
            baseline_value=payload["baseline_value"],
            registered_at=received_at,
        )
    model = payload["model"]
    return AcceptedRegistration(
        model_name=model["name"],
        model_version=model.get("version"),
        mlflow_run_id=model.get("run_id"),
        metric_name=model.get("primary_metric"),
        baseline_value=None,
        registered_at=received_at,
        api_schema=model.get("api_schema", UNCHANGED),
        later_version_updates=True,
    )


def _accepted(result: RegisterResult) -> _Answer:
    token = result.token
    duplicate = result.transition is not Transition.REGISTERED
    if not duplicate:
        message = f"token {token.token_id} moved from DRAFT to REGISTERED"
    elif result.transition is Transition.UPDATED:
        message = (
            f"token {token.token_id} was already REGISTERED; its latest model version is now "
            f"{token.model_version} (was {result.replaced_version or 'none'})"
        )
    elif result.key_seen_before:
        message = (
            f"token {token.token_id} is already REGISTERED and this idempotency key was seen "
            "before; nothing changed"
        )
    else:
        message = (
            f"token {token.token_id} was already REGISTERED (model version "
            f"{token.model_version}); nothing changed"
        )
    body = {
        "success": True,
        "token_id": token.token_id,
        "status": token.status,
        "model_version": token.model_version,
        "duplicate": duplicate,
        "message": message,
    }
    return _Answer(200, body, result.transition.value, token_id=token.token_id)


def _read_body(request: Request, limit: int) -> bytes | _Answer:
    """The raw body, or the refusal when it is over ``limit`` bytes or not framed soundly."""
    body = read_request_body(request, limit)
    if isinstance(body, UnreadableBody):
        if body.too_large:
            return _too_large(limit)
        return _refusal(RejectReason.MALFORMED_REQUEST, body.why)
    return body


def _too_large(limit: int) -> _Answer:
    return _refusal(
        RejectReason.BODY_TOO_LARGE,
        f"the body is larger than this receiver's limit of {limit} bytes; a model_registered "
        "event is a few hundred bytes, so send only the event",
    )


def _idempotency_key(request: Request) -> str | None:
    """The idempotency key header as given (any text, cut to a bounded length), or ``None``."""
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER, "").strip()
    return key[:IDEMPOTENCY_KEY_KEPT] or None


def logged_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Request headers as the deliveries log keeps them: in order, each secret cut.

    The signature keeps its scheme only (``sha256=...(cut)``); ``Authorization``, cookies and
    any header whose name looks like a credential's become ``(cut)``; credentials inside URLs
    (user info, ``?token=``) are masked as everywhere else. The idempotency key stays whole:
    it is what tells a redelivery from a new registration.
    """
    return tuple((name, _logged_value(name, value)) for name, value in headers)


def _logged_value(name: str, value: str) -> str:
    kind = _header_kind(name.lower())
    if kind is _HeaderKind.SIGNATURE:
        scheme, equals, _ = value.partition("=")
        return f"{scheme[:_SCHEME_KEPT]}=...{CUT}" if equals else CUT
    if kind is _HeaderKind.SECRET:
        return CUT
    if kind is _HeaderKind.KEPT or ("=" not in value and "@" not in value):
        return value  # nothing a URL's credential could be written with
    return redact_text(value, value if "://" in value else None)


class _HeaderKind(Enum):
    SIGNATURE = "signature"
    KEPT = "kept"
    SECRET = "secret"
    TEXT = "text"


@functools.lru_cache(maxsize=256)
def _header_kind(lowered: str) -> _HeaderKind:
    """How a header is logged, by its name; cached, as every request repeats the same names."""
    if lowered == SIGNATURE_HEADER.lower():
        return _HeaderKind.SIGNATURE
    if lowered == IDEMPOTENCY_KEY_HEADER.lower():
        return _HeaderKind.KEPT
    if lowered in _SECRET_HEADERS or is_credential_name(lowered):
        return _HeaderKind.SECRET
    return _HeaderKind.TEXT


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def create_app(
    store: TokenStore | str | os.PathLike[str],
    config: ReceiverConfig | None = None,
    *,
    secrets: str | Sequence[str] | None = None,
    tokens: Iterable[str] = (),
    **options: Any,
) -> StubSite:
    """The stub site's WSGI application over ``store`` (a :class:`TokenStore` or a file path).

    Pass a :class:`ReceiverConfig`, or its fields as keywords (``secrets``,
    ``timestamp_tolerance``, ``max_body_bytes``, ``path``). ``tokens`` are created as DRAFT
    when missing; existing tokens keep their state.
    """
    if config is None:
        config = ReceiverConfig(secrets=secrets or (), **options)
    elif secrets is not None or options:
        raise TypeError("pass either a ReceiverConfig or its fields as keywords, not both")
    token_store = store if isinstance(store, TokenStore) else TokenStore(store)
    token_store.add_tokens(tokens)
    return StubSite(token_store, config)
