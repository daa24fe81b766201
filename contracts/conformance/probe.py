"""Real HTTP against a receiver: signed deliveries, raw requests, token state reads.

Every request the conformance tools send to a receiver goes through a :class:`Probe`, which
logs each one with its :class:`~contracts.conformance.answers.Answer` (so that "every answer is
JSON" can be judged over all of them, and what a run learnt can be read back from the log) and
turns a request that got no answer into one :class:`ReceiverUnreachable` that names the URL.
Each request ends within the receiver's timeout, its answer included, and keeps at most
:data:`~contracts.support.http.ANSWER_LIMIT` bytes of it. Requests are built only with the
core (:func:`contracts.signed_delivery`, :func:`contracts.build_payload`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
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
from contracts.envelope import IDEMPOTENCY_KEY_HEADER, SignedDelivery, signed_delivery
from contracts.payload import METRIC_TAG, TOKEN_TAG, build_payload, format_timestamp
from contracts.signing import SIGNATURE_HEADER
from contracts.support.http import ConnectionFailure, bounded_session, describe_connection_failure
from contracts.urls import redacted_url

CHECK_MODEL_NAME = "Conformance check model"
CHECK_METRIC = "accuracy"
CHECK_BASELINE = 0.933


class ReceiverUnreachable(Exception):
    """No HTTP answer from the receiver; the message names the URL and what to check."""

    def __init__(self, url: str, failure: ConnectionFailure, timeout: float) -> None:
        self.url = redacted_url(url)
        self.failure = failure
        self.words = no_answer(url, failure, timeout)
        super().__init__(f"{self.words}: {failure.hint}")


@dataclass(frozen=True)
class Sent:
    """One request sent to the webhook URL, by which check, about which token, and its answer."""

    check_id: str
    label: str
    token: str | None
    answer: Answer


@dataclass(frozen=True)
class StateRead:
    """One read of a token's state, by which check."""

    check_id: str
    token: str
    reading: TokenStateReading


class Probe:
    """Sends to one :class:`Receiver` and logs every request and state read it makes."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.session = bounded_session()
        self.sent: list[Sent] = []
        self.reads: list[StateRead] = []
        self.current_check = ""
        """The check now sending, set by the runner; each log entry is labelled with it."""

    def close(self) -> None:
        """End the session (``contextlib.closing`` calls this)."""
        self.session.close()

    # --- building ---------------------------------------------------------------------------

    def payload(self, **overrides: Any) -> dict[str, Any]:
        """A contract-valid payload, stamped now, for the token under test unless overridden."""
        token = str(overrides.get("token_id", self.receiver.token))
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

    def signed(self, payload: Mapping[str, Any], *, body: bytes | None = None) -> SignedDelivery:
        """Sign ``payload``, or ``body`` (another serialization of it) when given.

        Each delivery gets a fresh idempotency key, so that one check's deliveries are never
        taken for repeats of another's.
        """
        return signed_delivery(payload, self.receiver.secret, key=str(uuid.uuid4()), body=body)

    @staticmethod
    def without_signature(delivery: SignedDelivery) -> dict[str, str]:
        """The delivery's headers minus the signature header."""
        return {k: v for k, v in delivery.headers.items() if k != SIGNATURE_HEADER}

    @staticmethod
    def with_signature(delivery: SignedDelivery, value: str) -> dict[str, str]:
        """The delivery's headers with the signature header replaced by ``value``."""
        return {**Probe.without_signature(delivery), SIGNATURE_HEADER: value}

    # --- sending ----------------------------------------------------------------------------

    def deliver(self, delivery: SignedDelivery, label: str, method: str = "POST") -> Answer:
        """Send a signed delivery exactly as built."""
        return self.send(label, delivery.body, delivery.headers, method=method)

    def send(
        self, label: str, body: bytes | None, headers: Mapping[str, str], *, method: str = "POST"
    ) -> Answer:
        """Send raw bytes with the given headers to the webhook URL; log and return the answer."""
        answer = self._request(method, self.receiver.url, body, headers)
        document = json_object(body) if body else None
        token = document.get("token_id") if document is not None else None
        about = token.upper() if isinstance(token, str) else None
        self.sent.append(Sent(self.current_check, label, about, answer))
        return answer

    def token_state(self, token: str | None = None) -> TokenStateReading:
        """Read a token's status (the token under test by default); log the reading."""
        token = token or self.receiver.token
        url = self.receiver.state_url_for(token)
        if url is None:
            raise ValueError("the receiver has no state URL to read a token's state from")
        answer = self._request("GET", url, None, {"Accept": "application/json"})
        reading = read_token_state(url, answer)
        self.reads.append(StateRead(self.current_check, token, reading))
        return reading

    def _request(
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


def idempotency_key_of(delivery: SignedDelivery) -> str:
    return delivery.headers[IDEMPOTENCY_KEY_HEADER]


def timestamp_ago(seconds: float) -> str:
    """An RFC 3339 UTC timestamp ``seconds`` in the past."""
    return format_timestamp(datetime.now(timezone.utc) - timedelta(seconds=seconds))
