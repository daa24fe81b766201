"""Real HTTP against a receiver: signed deliveries, raw requests, token state reads.

Every request the conformance tools send to a receiver goes through a :class:`Probe`, which
logs each one with its :class:`~contracts.conformance.answers.Answer` (so that "every answer is
JSON" can be judged over all of them, and what a run learnt can be read back from the log) and
turns a request that got no answer into one :class:`ReceiverUnreachable` that names the URL.
Each request ends within the receiver's timeout, its answer included, and keeps at most
:data:`~contracts.support.http.ANSWER_LIMIT` bytes of it. Requests are built only with the
core (:func:`contracts.signed_delivery`, :func:`contracts.build_payload`,
:func:`contracts.build_model_payload`), in one :class:`BodyForm`: the flat v1 body, or the
nested v2 body as the SDK's CLI or its event publisher writes it, so that a second shape is one
more value, not one more set of checks.

Connections: many handlers close a kept-alive connection without saying so (after a 413, say),
and a request sent on it just then gets no answer. A request that cannot change anything
(a refusal, an unknown token, a GET) is sent once more on a fresh connection when that happens;
one that may register a token is always sent on a fresh connection. A connection the handler
closes on a fresh connection too is its own doing (:class:`ConnectionDropped`), never the URL's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from contracts.conformance.answers import (
    Answer,
    TokenStateReading,
    json_object,
    no_answer,
    read_token_state,
)
from contracts.conformance.receiver_under_test import Receiver
from contracts.envelope import (
    EVENT_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    SignedDelivery,
    signed_delivery,
)
from contracts.payload import (
    METRIC_TAG,
    TOKEN_TAG,
    UNCHANGED,
    Shape,
    build_model_payload,
    build_payload,
    format_timestamp,
    payload_shape,
)
from contracts.signing import SIGNATURE_HEADER, verify
from contracts.support.http import (
    ConnectionFailure,
    FailureKind,
    bounded_session,
    describe_connection_failure,
)
from contracts.urls import redacted_url

CHECK_MODEL_NAME = "Conformance check model"
CHECK_METRIC = "accuracy"
CHECK_BASELINE = 0.933
POLL_INTERVAL_S = 0.1
"""How often the state URL is read while waiting for a queued registration to land."""


class ReceiverUnreachable(Exception):
    """No HTTP answer from the receiver; the message names the URL and what to check."""

    def __init__(self, url: str, failure: ConnectionFailure, timeout: float) -> None:
        self.url = redacted_url(url)
        self.failure = failure
        self.words = no_answer(url, failure, timeout)
        super().__init__(f"{self.words}: {failure.hint}")


class ConnectionDropped(ReceiverUnreachable):
    """The handler closed a fresh connection without answering one request: a crash or a
    drop of that request by the handler, not a wrong URL (the URL answered before)."""

    def __init__(self, url: str, failure: ConnectionFailure, timeout: float, label: str) -> None:
        super().__init__(url, failure, timeout)
        self.label = label
        self.words = (
            f"the handler closed the connection without answering {label} (also on a fresh "
            "connection): it crashed on this request or dropped it"
        )
        self.args = (f"{self.words}; look at the handler's log for this request",)


@dataclass(frozen=True)
class BodyForm:
    """A body as one kind of sender writes it: its shape, how the sender writes the timestamp,
    and which optional headers it sends. The checks build payloads only through it, and edit
    them where the payload's shape keeps a field (:meth:`Probe.edited`)."""

    name: str
    """Short, for labels: ``v1``, ``v2``, ``v2 publisher``."""
    words: str
    """Who sends it and how, for messages."""
    shape: Shape
    whole_seconds: bool = False
    event_header: bool = True
    idempotency_key: bool = True

    @property
    def nested(self) -> bool:
        return self.shape is Shape.V2


FLAT = BodyForm(
    "v1",
    "the flat v1 body (top-level token_id, as this project's sender writes it)",
    Shape.V1,
)
"""Contract v1: every field at the top level; microseconds, both optional headers."""
SDK_CLI = BodyForm(
    "v2",
    "the nested v2 body as the SDK's CLI sends it (model.id in lower case, model.status "
    "'registered', whole seconds, no X-Hokusai-Event and no idempotency key)",
    Shape.V2,
    whole_seconds=True,
    event_header=False,
    idempotency_key=False,
)
"""Contract v2 as the SDK's CLI writes it since 2026-04-30: what most deliveries are today."""
SDK_PUBLISHER = BodyForm(
    "v2 publisher",
    "the nested v2 body as the SDK's event publisher sends it (model.id in lower case, "
    "microseconds, an idempotency key, no X-Hokusai-Event)",
    Shape.V2,
    event_header=False,
)
"""Contract v2 as the SDK's event publisher writes it: it retries with the same bytes."""
_PATHS: dict[Shape, dict[str, tuple[str, ...]]] = {
    Shape.V1: {"token_id": ("token_id",), "status": ("status",), "timestamp": ("timestamp",)},
    Shape.V2: {
        "token_id": ("model", "id"),
        "status": ("model", "status"),
        "timestamp": ("timestamp",),
    },
}
"""Where each shape keeps the fields the checks read and edit, each a path of keys."""


def as_sent_by(form: BodyForm, delivery: SignedDelivery) -> SignedDelivery:
    """``delivery`` with only the optional headers ``form``'s sender sends."""
    left_out = {
        header
        for header, sent in (
            (EVENT_HEADER, form.event_header),
            (IDEMPOTENCY_KEY_HEADER, form.idempotency_key),
        )
        if not sent
    }
    if not left_out:
        return delivery
    headers = {k: v for k, v in delivery.headers.items() if k not in left_out}
    return SignedDelivery(delivery.body, headers)


_V2_OVERRIDES = {"token_id", "model_name", "model_version", "timestamp", "api_schema"}


def _get(document: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _set(document: Mapping[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``document`` with the field at ``path`` set to ``value``."""
    head, *rest = path
    inner = document.get(head, {}) if rest else None
    return {**document, head: _set(inner or {}, tuple(rest), value) if rest else value}


@dataclass(frozen=True)
class Sent:
    """One request sent to the webhook URL (or to ``url``, another URL of the handler), by which
    check, about which token, and its answer."""

    check_id: str
    label: str
    token: str | None
    answer: Answer
    url: str | None = None


@dataclass(frozen=True)
class StateRead:
    """One read of a token's state, by which check; ``waited_s`` is how long after the first
    read of the same wait it was taken (0 for a read that did not wait)."""

    check_id: str
    token: str
    reading: TokenStateReading
    waited_s: float = 0.0


class Probe:
    """Sends to one :class:`Receiver` and logs every request and state read it makes."""

    def __init__(self, receiver: Receiver, form: BodyForm = FLAT) -> None:
        self.receiver = receiver
        self.form = form
        """The form :meth:`payload` and :meth:`signed` build in; set by the runner per check."""
        self.session = bounded_session(headers=receiver.headers)
        self.sent: list[Sent] = []
        self.reads: list[StateRead] = []
        self.current_check = ""
        """The check now sending, set by the runner; each log entry is labelled with it."""

    def close(self) -> None:
        """End the session (``contextlib.closing`` calls this)."""
        self.session.close()

    # --- building ---------------------------------------------------------------------------

    @contextmanager
    def in_form(self, form: BodyForm) -> Iterator[Probe]:
        """Build in ``form`` for the length of the block, then in the form before it."""
        before, self.form = self.form, form
        try:
            yield self
        finally:
            self.form = before

    def payload(self, **overrides: Any) -> dict[str, Any]:
        """A contract-valid payload in this probe's form, stamped now, for the token under test
        unless overridden. Overrides are named as in v1 (``token_id``, ``model_version``,
        ``timestamp``, ...); a v2 form takes ``token_id``, ``model_name``, ``model_version``,
        ``timestamp`` and ``api_schema``."""
        token = str(overrides.get("token_id", self.receiver.token))
        if self.form.nested:
            unknown = set(overrides) - _V2_OVERRIDES
            if unknown:
                raise TypeError(f"a v2 payload has no {', '.join(sorted(unknown))}")
            stamped = overrides.get("timestamp")
            if stamped is None and not self.form.whole_seconds:
                stamped = format_timestamp()
            return build_model_payload(
                token_id=token,
                model_name=overrides.get("model_name", CHECK_MODEL_NAME),
                model_version=overrides.get("model_version", "1"),
                api_schema=overrides.get("api_schema", UNCHANGED),
                timestamp=stamped,
            )
        fields: dict[str, Any] = {
            "token_id": token,
            "model_name": CHECK_MODEL_NAME,
            "model_version": "1",
            "metric_name": CHECK_METRIC,
            "baseline_value": CHECK_BASELINE,
            "mlflow_run_id": None,
            "tags": {TOKEN_TAG: token.upper(), METRIC_TAG: CHECK_METRIC},
        }
        fields.update(overrides)
        return build_payload(**fields)

    @staticmethod
    def edited(payload: Mapping[str, Any], **changes: Any) -> dict[str, Any]:
        """A copy of ``payload`` with ``token_id``, ``status`` or ``timestamp`` changed where
        the payload's shape keeps them (no validation: the checks send invalid ones too)."""
        edited = dict(payload)
        for name, value in changes.items():
            edited = _set(edited, _PATHS[payload_shape(payload)][name], value)
        return edited

    @staticmethod
    def field(payload: Mapping[str, Any], name: str) -> Any:
        """``token_id``, ``status`` or ``timestamp`` of ``payload``, where its shape keeps it."""
        return _get(payload, _PATHS[payload_shape(payload)][name])

    def signed(self, payload: Mapping[str, Any], *, body: bytes | None = None) -> SignedDelivery:
        """Sign ``payload``, or ``body`` (another serialization of it) when given, with the
        headers this probe's form sends.

        Each delivery that carries an idempotency key gets a fresh one, so that one check's
        deliveries are never taken for repeats of another's.
        """
        delivery = signed_delivery(payload, self.receiver.secret, key=str(uuid.uuid4()), body=body)
        return as_sent_by(self.form, delivery)

    @staticmethod
    def without_signature(delivery: SignedDelivery) -> dict[str, str]:
        """The delivery's headers minus the signature header."""
        return {k: v for k, v in delivery.headers.items() if k != SIGNATURE_HEADER}

    @staticmethod
    def with_signature(delivery: SignedDelivery, value: str) -> dict[str, str]:
        """The delivery's headers with the signature header replaced by ``value``."""
        return {**Probe.without_signature(delivery), SIGNATURE_HEADER: value}

    # --- sending ----------------------------------------------------------------------------

    def deliver(
        self,
        delivery: SignedDelivery,
        label: str,
        method: str = "POST",
        *,
        url: str | None = None,
    ) -> Answer:
        """Send a signed delivery exactly as built (to ``url``, the webhook URL by default)."""
        return self.send(label, delivery.body, delivery.headers, method=method, url=url)

    def send(
        self,
        label: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        url: str | None = None,
    ) -> Answer:
        """Send raw bytes with the given headers to the webhook URL (or another ``url`` of the
        same handler); log and return the answer.

        A request that may register a token goes out on a fresh connection; any other is sent
        once more on a fresh connection when the handler closed the kept-alive one unanswered.
        """
        document = json_object(body) if body else None
        token = self.field(document, "token_id") if document is not None else None
        about = token.upper() if isinstance(token, str) else None
        may_register = self._may_register(method, body, headers, about)
        answer = self._request(
            method, url or self.receiver.url, body, headers, label=label, retry=not may_register
        )
        self.sent.append(Sent(self.current_check, label, about, answer, url))
        return answer

    def _may_register(
        self, method: str, body: bytes | None, headers: Mapping[str, str], token: str | None
    ) -> bool:
        """A correctly signed POST for one of the receiver's tokens: sending it twice could
        register twice, so it is never repeated."""
        if method != "POST" or token not in self.receiver.tokens or body is None:
            return False
        return bool(verify(body, headers.get(SIGNATURE_HEADER), self.receiver.secret))

    def token_state(self, token: str | None = None, *, waited_s: float = 0.0) -> TokenStateReading:
        """Read a token's status (the token under test by default); log the reading."""
        token = token or self.receiver.token
        url = self.receiver.state_url_for(token)
        if url is None:
            raise ValueError("the receiver has no state URL to read a token's state from")
        answer = self._request("GET", url, None, {"Accept": "application/json"}, label="GET state")
        reading = read_token_state(url, answer)
        self.reads.append(StateRead(self.current_check, token, reading, waited_s))
        return reading

    def wait_for_state(
        self, token: str, until: Callable[[TokenStateReading], bool]
    ) -> TokenStateReading:
        """Read ``token``'s state until ``until`` holds or the receiver's settle time is over,
        for handlers that answer first and register later; the last reading."""
        started = time.monotonic()
        reading = self.token_state(token)
        while not until(reading) and reading.status is not None:
            waited = time.monotonic() - started
            if waited + POLL_INTERVAL_S > self.receiver.settle:
                break
            time.sleep(POLL_INTERVAL_S)
            reading = self.token_state(token, waited_s=time.monotonic() - started)
        return reading

    def _request(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        label: str,
        retry: bool = True,
    ) -> Answer:
        if not retry:
            self._fresh_connections()
        try:
            return self._send_once(method, url, body, headers)
        except ReceiverUnreachable as first:
            if first.failure.kind is not FailureKind.CLOSED:
                raise
            if not retry:
                raise ConnectionDropped(url, first.failure, self.receiver.timeout, label) from None
        self._fresh_connections()  # the kept-alive one was closed unanswered: once more, anew
        try:
            return self._send_once(method, url, body, headers)
        except ReceiverUnreachable as second:
            if second.failure.kind is FailureKind.CLOSED:
                raise ConnectionDropped(url, second.failure, self.receiver.timeout, label) from None
            raise

    def _fresh_connections(self) -> None:
        """Drop every kept-alive connection: the next request opens a new one."""
        self.session.close()

    def _send_once(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> Answer:
        timeout = self.receiver.timeout
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                url,
                data=body,
                headers=dict(headers),
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise ReceiverUnreachable(url, describe_connection_failure(error), timeout) from error
        return Answer.received(response, time.perf_counter() - started)


def idempotency_key_of(delivery: SignedDelivery) -> str | None:
    """The delivery's idempotency key, or ``None`` when its form sends none."""
    return delivery.headers.get(IDEMPOTENCY_KEY_HEADER)


def timestamp_ago(seconds: float) -> str:
    """An RFC 3339 UTC timestamp ``seconds`` in the past."""
    return format_timestamp(datetime.now(timezone.utc) - timedelta(seconds=seconds))
