"""The bridge: a WSGI application that turns MLflow's registry webhooks into the contract.

Each request is judged in this order: the MLflow signature and timestamp over the raw body (401,
before anything is parsed), the delivery id (a delivery seen before is answered 200 again and
nothing more is done), the event (400 when the body is not one), what it asks (2xx with a reason
when it concerns no token). A registration is written to the outbox, and only then answered 200:
from there the outbox owns it, so MLflow, which keeps nothing, has nothing left to retry. A
worker thread sends what was written down, completed from MLflow when a tracking URI is given,
through the sender's retry policy; whatever it cannot deliver stays in the outbox and is sent
again every ``resend_every`` seconds, on the next start, or by a catch-up. Every answer is JSON.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from contracts.bridge.catch_up import CatchUp, catch_up
from contracts.bridge.events import (
    Ignored,
    TaggedVersion,
    enriched_payload,
    payload_of,
    tagged_version,
)
from contracts.bridge.verify import (
    DEFAULT_TOLERANCE_SECONDS,
    MlflowEventError,
    parse_mlflow_event,
    verify_mlflow_delivery,
)
from contracts.envelope import MAX_BODY_BYTES
from contracts.errors import ReceiveError
from contracts.payload import PayloadError
from contracts.sender.delivery import DeliveryPolicy, NotificationOutcome
from contracts.sender.notify import Notifier
from contracts.sender.outbox import Outbox, OutboxError, notification_key
from contracts.support.request_body import UnreadableBody, read_request_body
from contracts.support.sqlite_file import Database

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from mlflow import MlflowClient

DEFAULT_RESEND_SECONDS = 60.0
"""How often the worker sends again what the outbox still holds undelivered (a notification
the website refused, say for an unknown token, is sent again too, as ``resend`` would)."""
STOP_GRACE_SECONDS = 5.0
_SEEN_SCHEMA = """
CREATE TABLE IF NOT EXISTS mlflow_deliveries (
    delivery_id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT NOT NULL
)
"""
_log = logging.getLogger("contracts.bridge")
Job = Callable[[], None]


class Outcome(str, Enum):
    """What the bridge did with a delivery it accepted (2xx): the ``outcome`` of its answer."""

    QUEUED = "queued"
    """A registration, written to the outbox: from here on the outbox owns it."""
    DUPLICATE_DELIVERY = "duplicate_delivery"
    """An ``X-MLflow-Delivery-Id`` answered before (an MLflow retry): nothing more was done."""
    IGNORED = "ignored"
    """An event that asks nothing of the website; its ``reason`` is an ``IgnoredReason``."""


class Refusal(str, Enum):
    """Why the bridge refused a request outside the signature and the event: the ``reason``
    of its answer (beside ``FailureReason``, ``timestamp_outside_tolerance`` and
    ``PayloadProblem``)."""

    METHOD_NOT_ALLOWED = "method_not_allowed"
    BODY_TOO_LARGE = "body_too_large"
    MALFORMED_REQUEST = "malformed_request"
    """The body's length was unclear, or it ended before its declared length."""
    OUTBOX_ERROR = "outbox_error"
    """The outbox could not be written: answered 503, so MLflow retries the event."""
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class BridgeConfig:
    """What the bridge checks MLflow with and delivers to. Secrets stay out of its ``repr``."""

    mlflow_secrets: Sequence[str] = field(repr=False)
    """The secret the MLflow webhook was created with (several while rotating it)."""
    site_url: str
    site_secret: str = field(repr=False)
    outbox_path: Path
    tracking_uri: str | None = None
    """When given, each notification is completed from MLflow (run id, ``api_schema``)."""
    tolerance: float = DEFAULT_TOLERANCE_SECONDS
    policy: DeliveryPolicy | None = None
    resend_every: float = DEFAULT_RESEND_SECONDS


class SeenDeliveries:
    """The MLflow delivery ids already answered, kept beside the outbox in its SQLite file."""

    def __init__(self, path: Path) -> None:
        self._database = Database(path)
        with self._database.transaction() as connection:
            connection.execute(_SEEN_SCHEMA)

    def outcome(self, delivery_id: str) -> str | None:
        """What the bridge did with this delivery, if it was answered before."""
        with self._database.connection() as connection:
            row = connection.execute(
                "SELECT outcome FROM mlflow_deliveries WHERE delivery_id = ?", (delivery_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def record(self, delivery_id: str, event: str, outcome: str) -> None:
        with self._database.transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO mlflow_deliveries VALUES (?, ?, ?, ?)",
                (delivery_id, datetime.now(timezone.utc).isoformat(), event, outcome),
            )

    def close(self) -> None:
        self._database.close()


def _answer(code: int, **body: Any) -> Response:
    return Response(json.dumps(body), code, mimetype="application/json")


class Bridge:
    """The WSGI application and its delivery worker; :meth:`start` it, :meth:`stop` it."""

    def __init__(self, config: BridgeConfig) -> None:
        self.config = config
        self.outbox = Outbox(config.outbox_path)
        self.seen = SeenDeliveries(self.outbox.path)
        self._notifier = Notifier(self.outbox, config.site_url, config.site_secret, config.policy)
        self._client: MlflowClient | None = None
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="bridge-worker", daemon=True)

    def __repr__(self) -> str:
        return f"Bridge({self.config!r})"

    # --- the worker -----------------------------------------------------------------------

    def start(
        self, *, catch_up_report: Callable[[CatchUp], None] | None = None, token: str | None = None
    ) -> None:
        """Start the worker: it first sends what the outbox holds; with ``catch_up_report``,
        after a registry catch-up (of ``token`` only, if given) whose outcome it is given."""
        if catch_up_report is not None:
            report = catch_up_report
            self._jobs.put(lambda: report(catch_up(self.client, self._notifier, token)))
        self._worker.start()

    def stop(self) -> None:
        """Stop the worker, waiting a few seconds for a delivery under way (the outbox keeps
        whatever is still undelivered), and close the files."""
        if self._worker.is_alive():
            self._jobs.put(None)
            self._worker.join(STOP_GRACE_SECONDS)
        if not self._worker.is_alive():
            self._notifier.close()
            self.outbox.close()
            self.seen.close()

    @property
    def client(self) -> MlflowClient:
        """The MLflow client of the tracking URI (only the worker uses it)."""
        if self._client is None:
            from mlflow import MlflowClient

            uri = self.config.tracking_uri
            if uri is None:
                raise RuntimeError("the bridge has no tracking URI to read MLflow from")
            self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return self._client

    def _work(self) -> None:
        next_resend = time.monotonic()
        while True:
            try:
                job = self._jobs.get(timeout=max(0.0, next_resend - time.monotonic()))
            except queue.Empty:
                job = self._resend
                next_resend = time.monotonic() + self.config.resend_every
            if job is None:
                return
            try:
                job()
            except Exception:  # the worker must outlive any one job; the outbox keeps it
                _log.exception("the bridge worker failed; the notification waits in the outbox")

    def _resend(self) -> None:
        for result in self._notifier.resend_pending(take_over=True):
            _log_outcome(result.token_id, result.model_name, result.model_version, result.outcome)

    def _forward(self, tagged: TaggedVersion) -> None:
        client = self.client if self.config.tracking_uri else None
        outcome = self._notifier.notify(enriched_payload(client, tagged))
        _log_outcome(tagged.token_id, tagged.model_name, tagged.model_version, outcome)

    # --- the webhook ----------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._respond(request)
        except Exception as error:
            _log.exception("the bridge failed on %s %s", request.method, request.path)
            response = _answer(
                500,
                success=False,
                reason=Refusal.INTERNAL_ERROR,
                error=f"the bridge failed ({type(error).__name__}); see its log",
            )
        return response(environ, start_response)

    def _respond(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/health":
            return _answer(200, success=True, status="ok")
        if request.method != "POST":
            response = _answer(
                405,
                success=False,
                reason=Refusal.METHOD_NOT_ALLOWED,
                error=f"{request.method} is not allowed; MLflow delivers with POST",
            )
            response.headers["Allow"] = "POST"
            return response
        body = read_request_body(request, MAX_BODY_BYTES)
        if isinstance(body, UnreadableBody) and body.too_large:
            return _answer(
                413,
                success=False,
                reason=Refusal.BODY_TOO_LARGE,
                error=f"the body is over {MAX_BODY_BYTES} bytes; no MLflow event is that large",
            )
        if isinstance(body, UnreadableBody):
            return _answer(400, success=False, reason=Refusal.MALFORMED_REQUEST, error=body.why)
        return self._deliver(body, request)

    def _deliver(self, body: bytes, request: Request) -> Response:
        try:
            delivery = verify_mlflow_delivery(
                body, request.headers, self.config.mlflow_secrets, tolerance=self.config.tolerance
            )
        except ReceiveError as error:
            _log.warning("refused an MLflow delivery (%s): %s", _code(error.reason), error)
            return _answer(401, success=False, reason=error.reason, error=str(error))
        done_before = self.seen.outcome(delivery.delivery_id)
        if done_before is not None:
            return _answer(
                200,
                success=True,
                outcome=Outcome.DUPLICATE_DELIVERY,
                message=f"delivery {delivery.delivery_id} was answered before ({done_before}); "
                "nothing more was done",
            )
        try:
            event = parse_mlflow_event(body, delivery)
            found = tagged_version(event)
            if isinstance(found, Ignored):
                self.seen.record(delivery.delivery_id, event.name, found.reason.value)
                return _answer(
                    200,
                    success=True,
                    outcome=Outcome.IGNORED,
                    reason=found.reason,
                    message=found.message,
                )
            payload = payload_of(found)
        except (MlflowEventError, PayloadError) as error:
            # the same body would come again on a retry: refused with a 4xx, which MLflow does
            # not retry, and without a traceback (the bridge did not fail)
            _log.warning("refused an MLflow event (%s): %s", _code(error.reason), error)
            return _answer(400, success=False, reason=error.reason, error=str(error))
        return self._queue(found, payload, delivery.delivery_id, event.name)

    def _queue(
        self, tagged: TaggedVersion, payload: dict[str, Any], delivery_id: str, event: str
    ) -> Response:
        key = notification_key(payload)
        try:
            self.outbox.add(payload, key, self.config.site_url)
        except OutboxError as error:
            _log.error("an MLflow event could not be written down: %s", error)
            response = _answer(
                503, success=False, reason=Refusal.OUTBOX_ERROR, error=f"{error}; MLflow may retry"
            )
            response.headers["Retry-After"] = "1"
            return response
        self.seen.record(delivery_id, event, Outcome.QUEUED.value)
        self._jobs.put(lambda: self._forward(tagged))
        return _answer(
            200,
            success=True,
            outcome=Outcome.QUEUED,
            token_id=tagged.token_id,
            model_name=tagged.model_name,
            model_version=tagged.model_version,
            idempotency_key=key,
            message=f"token {tagged.token_id}: {tagged.model_name!r} version "
            f"{tagged.model_version} is written down in the outbox and is being delivered",
        )


def _code(reason: str) -> str:
    """A refusal's stable code as text (an enum's value, not its name)."""
    return reason.value if isinstance(reason, Enum) else reason


def _log_outcome(token: str, name: str, version: str, outcome: NotificationOutcome) -> None:
    what = f"{token} {name!r} version {version}"
    if outcome.delivered:
        _log.info("%s: delivered (%s)", what, outcome.last_status_code)
    else:  # the sender's own log has already warned, with the same words
        _log.info("%s: not delivered (%s): %s", what, outcome.reason.value, outcome.message)
