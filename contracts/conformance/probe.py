"""Real HTTP against a receiver: signed deliveries, raw requests, token state reads.

Every request a receiver check sends goes through :class:`Probe`, which records each exchange
(so "every answer is JSON" can be judged over all of them) and turns connection problems into
one :class:`ReceiverUnreachable` that names the URL. Each request ends within the timeout, its
answer included, and keeps at most :data:`~contracts.support.http.ANSWER_LIMIT` bytes of it.
Requests are built only with the core (:func:`contracts.signed_delivery`,
:func:`contracts.build_payload`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

import requests

from contracts.conformance.answers import TokenStateReading, read_token_state, state_url_for
from contracts.envelope import IDEMPOTENCY_KEY_HEADER, SignedDelivery, signed_delivery
from contracts.payload import METRIC_TAG, TOKEN_TAG, build_payload, format_timestamp
from contracts.signing import SIGNATURE_HEADER
from contracts.support.http import answer_cut_at, bounded_session, cut_words
from contracts.urls import redact_text, redacted_url

CHECK_MODEL_NAME = "Conformance check model"
CHECK_METRIC = "accuracy"
CHECK_BASELINE = 0.933


class Unreachable(str, Enum):
    """Why no HTTP answer came back."""

    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    OTHER = "connection_error"


class ReceiverUnreachable(Exception):
    """No HTTP answer from the receiver; the message names the URL and what to check."""

    def __init__(self, url: str, kind: Unreachable, detail: str) -> None:
        self.url = url = redacted_url(url)
        self.kind = kind
        advice = {
            Unreachable.CONNECTION_REFUSED: (
                "nothing is listening there; start the handler, or check host, port and path"
            ),
            Unreachable.TIMEOUT: (
                "the handler did not finish answering in time; check that it is running and "
                "not blocked, or raise --timeout"
            ),
            Unreachable.OTHER: "check the URL, DNS, TLS and any proxy in between",
        }[kind]
        lead = "no complete answer" if kind is Unreachable.TIMEOUT else "no answer"
        super().__init__(f"{lead} from {url} ({detail}): {advice}")


@dataclass(frozen=True)
class Exchange:
    """One request and the receiver's answer, as seen on the wire."""

    label: str
    method: str
    status: int
    body: bytes
    content_type: str
    elapsed_s: float
    check_id: str = ""
    cut_at: int | None = None
    """When the answer was longer than the limit: the bytes of it kept in ``body``."""

    @property
    def json(self) -> Any:
        """The parsed answer, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def success(self) -> bool | None:
        """The answer's boolean ``success`` field, or ``None`` when there is none."""
        parsed = self.json
        value = parsed.get("success") if isinstance(parsed, dict) else None
        return value if isinstance(value, bool) else None

    def field(self, name: str) -> Any:
        """A top-level field of a JSON object answer, or ``None``."""
        parsed = self.json
        return parsed.get(name) if isinstance(parsed, dict) else None

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500

    def summary(self, limit: int = 120) -> str:
        """``401 {"success": false, ...}`` shortened, for messages."""
        text = self.body.decode("utf-8", errors="replace").strip().replace("\n", " ")
        if len(text) > limit:
            text = text[: limit - 3] + "..."
        if self.cut_at is not None:
            text += f" ({cut_words(self.cut_at)})"
        return f"{self.status} {text}" if text else str(self.status)


@dataclass
class Probe:
    """A receiver under test: where it is, the shared secret, the token to use."""

    url: str
    secret: str = field(repr=False)
    token: str
    state_url_template: str | None = None
    timeout: float = 10.0
    session: requests.Session = field(default_factory=bounded_session, repr=False)
    exchanges: list[Exchange] = field(default_factory=list, repr=False)
    current_check: str = ""
    """The check now sending; each exchange is labelled with it."""

    # --- building ---------------------------------------------------------------------------

    def payload(self, **overrides: Any) -> dict[str, Any]:
        """A contract-valid payload, stamped now, for the token under test unless overridden."""
        token = str(overrides.get("token_id", self.token))
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
        return signed_delivery(payload, self.secret, key=str(uuid.uuid4()), body=body)

    # --- sending ----------------------------------------------------------------------------

    def deliver(self, delivery: SignedDelivery, label: str, method: str = "POST") -> Exchange:
        """Send a signed delivery exactly as built."""
        return self.send(label, delivery.body, delivery.headers, method=method)

    def send(
        self,
        label: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        method: str = "POST",
        url: str | None = None,
    ) -> Exchange:
        """Send raw bytes with the given headers; record and return the exchange."""
        target = url or self.url
        started = time.perf_counter()
        try:
            response = self.session.request(
                method,
                target,
                data=body,
                headers=dict(headers),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.Timeout as error:
            raise ReceiverUnreachable(
                target, Unreachable.TIMEOUT, f"timeout {self.timeout:g} s, answer included"
            ) from error
        except requests.ConnectionError as error:
            refused = "refused" in str(error).lower()
            kind = Unreachable.CONNECTION_REFUSED if refused else Unreachable.OTHER
            detail = "connection refused" if refused else _short(error, target)
            raise ReceiverUnreachable(target, kind, detail) from error
        except requests.RequestException as error:
            raise ReceiverUnreachable(target, Unreachable.OTHER, _short(error, target)) from error
        exchange = Exchange(
            label=label,
            method=method,
            status=response.status_code,
            body=response.content,
            content_type=response.headers.get("Content-Type", ""),
            elapsed_s=time.perf_counter() - started,
            check_id=self.current_check,
            cut_at=answer_cut_at(response),
        )
        if url is None:
            self.exchanges.append(exchange)
        return exchange

    def without_signature(self, delivery: SignedDelivery) -> dict[str, str]:
        """The delivery's headers minus the signature header."""
        return {k: v for k, v in delivery.headers.items() if k != SIGNATURE_HEADER}

    def with_signature(self, delivery: SignedDelivery, value: str) -> dict[str, str]:
        """The delivery's headers with the signature header replaced by ``value``."""
        return {**self.without_signature(delivery), SIGNATURE_HEADER: value}

    # --- token state ------------------------------------------------------------------------

    @property
    def has_state_url(self) -> bool:
        return bool(self.state_url_template)

    def state_url(self, token: str | None = None) -> str:
        assert self.state_url_template is not None
        return state_url_for(self.state_url_template, token or self.token)

    def token_state(self, token: str | None = None) -> TokenStateReading:
        """Read a token's status (the token under test by default) through the state URL."""
        url = self.state_url(token)
        exchange = self.send("state", None, {"Accept": "application/json"}, method="GET", url=url)
        return read_token_state(url, exchange.status, exchange.body)


def idempotency_key_of(delivery: SignedDelivery) -> str:
    return delivery.headers[IDEMPOTENCY_KEY_HEADER]


def timestamp_ago(seconds: float) -> str:
    """An RFC 3339 UTC timestamp ``seconds`` in the past."""
    return format_timestamp(datetime.now(timezone.utc) - timedelta(seconds=seconds))


def _short(error: Exception, url: str) -> str:
    """The error's words, without ``url``'s credentials (requests quotes its path and query)."""
    text = redact_text(str(error), url)
    return text if len(text) <= 160 else text[:157] + "..."
