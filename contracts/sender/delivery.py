"""Deliver one signed ``model_registered`` notification, with retries and a total deadline.

Every attempt re-stamps the timestamp and builds its request with
:func:`contracts.envelope.signed_delivery` (serialize once, sign those bytes), then sends exactly
those bytes. The idempotency key stays the same across attempts, so a receiver that already
acted can answer "duplicate" instead of acting twice.

Retried: connection errors, timeouts, 429, 500, 502, 503, 504 (honouring ``Retry-After``), with
exponential backoff and full jitter. Not retried: any other answer, which retrying cannot fix.
The deadline is a hard budget: no wait runs past it, every attempt's timeouts are capped by
what is left of it, and a receiver still answering when it runs out (say, a byte at a time,
each within the read timeout) has its connection shut.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

import contracts
from contracts.envelope import signed_delivery
from contracts.payload import with_fresh_timestamp
from contracts.urls import redacted_url

RETRYABLE_STATUS_CODES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = f"hokusai-contracts/{contracts.__version__} (reference sender)"
_ERROR_TEXT_LIMIT = 300
_ERROR_BODY_LIMIT = 16 * 1024
_MAX_BACKOFF_EXPONENT = 60
_DIGITS = re.compile(r"^[0-9]+$")
_OS_ERROR = re.compile(r"\[Errno -?\d+\] ([^'\"()]+)")

_log = logging.getLogger("contracts.sender")
_watched = threading.local()


class DeliveryReason(str, Enum):
    """Why a notification was, or was not, delivered; values are stable identifiers."""

    DELIVERED = "delivered"
    NO_SECRET_CONFIGURED = "no_secret_configured"
    NO_WEBHOOK_URL = "no_webhook_url"
    REJECTED = "rejected"
    """The receiver answered with something retrying cannot fix (401, 404, 400, a redirect...)."""
    SERVER_ERROR = "server_error"
    """The receiver kept answering 429 or 5xx until the attempts or the deadline ran out."""
    UNREACHABLE = "unreachable"
    TIMED_OUT = "timed_out"
    IN_PROGRESS = "in_progress"
    """Another sender holds this notification's claim and is delivering it; not sent twice."""
    OUTBOX_ERROR = "outbox_error"
    """The outbox could not write the notification down, so it was not sent."""
    SENDER_ERROR = "sender_error"
    """The sender itself failed unexpectedly; the notification waits in the outbox."""


@dataclass(frozen=True)
class NotificationOutcome:
    """What happened to one notification: delivered or not, why (enum and words), how."""

    delivered: bool
    reason: DeliveryReason
    message: str
    attempts: int
    last_status_code: int | None
    idempotency_key: str


@dataclass(frozen=True)
class DeliveryPolicy:
    """Timeouts and retry budget (seconds). The deadline bounds the whole delivery."""

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    deadline: float = 60.0

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if not getattr(self, name) > 0:
                raise ValueError(f"DeliveryPolicy.{name} must be positive")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("DeliveryPolicy delays must not be negative")
        if self.max_attempts < 1:
            raise ValueError("DeliveryPolicy.max_attempts must be at least 1")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay seconds or an HTTP-date).

    ``None`` when absent or unreadable; a date in the past means no wait.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if _DIGITS.match(value):
        return float(int(value))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (moment - now).total_seconds())


def backoff_delay(failures: int, policy: DeliveryPolicy, rng: random.Random) -> float:
    """Full jitter: uniform in ``[0, min(max_delay, base_delay * 2 ** (failures - 1))]``."""
    exponent = min(max(failures - 1, 0), _MAX_BACKOFF_EXPONENT)
    return rng.uniform(0.0, min(policy.max_delay, policy.base_delay * 2.0**exponent))


@dataclass(frozen=True)
class _Attempt:
    reason: DeliveryReason
    message: str
    retryable: bool = False
    status_code: int | None = None
    retry_after: float | None = None


class WebhookDelivery:
    """Sends notifications to one URL with one secret; reuse it for many deliveries.

    ``sleep``, ``clock`` (monotonic seconds) and ``rng`` are plain parameters so callers can
    keep waits short or reproducible; the HTTP is always real. A given ``session`` gets an
    adapter mounted for http(s) whose connections the deadline can cut off.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        policy: DeliveryPolicy | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if not secret:
            raise ValueError("WebhookDelivery needs a non-empty secret; it never sends unsigned")
        self.url = url
        self._secret = secret
        self.policy = policy or DeliveryPolicy()
        self._session = session or requests.Session()
        for prefix in ("http://", "https://"):
            if not isinstance(self._session.get_adapter(prefix), _DeadlineAdapter):
                self._session.mount(prefix, _DeadlineAdapter())
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"WebhookDelivery(url={redacted_url(self.url)!r}, policy={self.policy!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def deliver(self, payload: Mapping[str, Any], key: str) -> NotificationOutcome:
        """Deliver ``payload`` under idempotency ``key``; never raises for network trouble.

        Ends within the deadline: an answer still coming in when it passes is cut off.
        """
        started = self._clock()
        failures = 0
        while True:
            attempt = self._attempt(payload, key, self._remaining(started))
            if attempt.reason is DeliveryReason.DELIVERED:
                return self._outcome(attempt, failures + 1, key)
            failures += 1
            _log.info("delivery attempt %d for %s failed: %s", failures, key, attempt.message)
            stop, wait = self._next_wait(attempt, failures, self._remaining(started))
            if stop is None:
                self._sleep(wait)
                stop = None if self._remaining(started) > 0 else self._deadline_passed
            if stop is not None:
                elapsed = self._clock() - started
                words = f"{attempt.message}; {stop} (after {failures} attempt(s), {elapsed:.1f} s)"
                return self._outcome(attempt, failures, key, words)

    def _remaining(self, started: float) -> float:
        return self.policy.deadline - (self._clock() - started)

    @property
    def _deadline_passed(self) -> str:
        return f"gave up: the {self.policy.deadline:g} s delivery deadline passed"

    def _next_wait(
        self, attempt: _Attempt, failures: int, remaining: float
    ) -> tuple[str | None, float]:
        """Why to stop now, or ``None`` and how long to wait: a wait never outlasts the deadline."""
        if not attempt.retryable:
            return "not retried: retrying cannot change this answer", 0.0
        if failures >= self.policy.max_attempts:
            return f"gave up: all {self.policy.max_attempts} attempts used", 0.0
        if remaining <= 0:
            return self._deadline_passed, 0.0
        if attempt.retry_after is not None:
            if attempt.retry_after >= remaining:
                return (
                    f"gave up: the receiver asked to wait {attempt.retry_after:.0f} s "
                    f"(Retry-After), past the {self.policy.deadline:g} s delivery deadline"
                ), 0.0
            return None, attempt.retry_after
        wait = backoff_delay(failures, self.policy, self._rng)
        if wait >= remaining:
            return (
                f"gave up: the next retry would wait {wait:.1f} s, past the "
                f"{self.policy.deadline:g} s delivery deadline"
            ), 0.0
        return None, wait

    def _outcome(
        self, attempt: _Attempt, attempts: int, key: str, message: str | None = None
    ) -> NotificationOutcome:
        return NotificationOutcome(
            delivered=attempt.reason is DeliveryReason.DELIVERED,
            reason=attempt.reason,
            message=message or attempt.message,
            attempts=attempts,
            last_status_code=attempt.status_code,
            idempotency_key=key,
        )

    def _attempt(self, payload: Mapping[str, Any], key: str, remaining: float) -> _Attempt:
        signed = signed_delivery(with_fresh_timestamp(payload), self._secret, key=key)
        headers = {**signed.headers, "Accept": "application/json", "User-Agent": USER_AGENT}
        budget = max(remaining, 0.001)
        timeout = (min(self.policy.connect_timeout, budget), min(self.policy.read_timeout, budget))
        with _Watchdog(budget) as watchdog:
            attempt = self._send(signed.body, headers, timeout)
        if watchdog.fired and attempt.reason is not DeliveryReason.DELIVERED:
            return _Attempt(
                DeliveryReason.TIMED_OUT,
                f"no complete answer from {redacted_url(self.url)} within the "
                f"{self.policy.deadline:g} s delivery deadline (it was still answering; the "
                f"connection was shut): {attempt.message}",
                retryable=True,
                status_code=attempt.status_code,
            )
        return attempt

    def _send(
        self, body: bytes, headers: Mapping[str, str], timeout: tuple[float, float]
    ) -> _Attempt:
        try:
            response = self._session.post(
                self.url,
                data=body,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                stream=True,
            )
            with response:
                return _judge(response)
        except requests.Timeout:
            return _Attempt(
                DeliveryReason.TIMED_OUT,
                f"no answer from {redacted_url(self.url)} within {timeout[1]:g} s (connect "
                f"{timeout[0]:g} s)",
                retryable=True,
            )
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            return _Attempt(
                DeliveryReason.UNREACHABLE,
                f"could not reach {redacted_url(self.url)}: {describe_failure(error)}",
                retryable=True,
            )
        except requests.RequestException as error:
            return _Attempt(
                DeliveryReason.UNREACHABLE, f"cannot send to {redacted_url(self.url)}: {error}"
            )


class _Watchdog:
    """Shuts the socket an attempt in this thread uses once its time is up.

    Timeouts bound each socket read, not the whole answer: only shutting the socket ends a
    receiver that keeps sending a byte now and then.
    """

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        _watched.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()
        _watched.watchdog = None

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socket = sock
            if self.fired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.fired = True
            if self._socket is not None:
                _shut(self._socket)


def _shut(sock: socket.socket) -> None:
    """End every read and write on ``sock`` now (its connection is then discarded)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watch_this(sock: socket.socket | None) -> None:
    """Hand ``sock`` to the watchdog of the attempt running in this thread, if any."""
    watchdog: _Watchdog | None = getattr(_watched, "watchdog", None)
    if watchdog is not None and sock is not None:
        watchdog.watch(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _watch_this(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_this(self.sock)  # a kept-alive connection is not connected again
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _watch_this(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_this(self.sock)
        super().request(*args, **kwargs)


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections an attempt's watchdog can shut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPConnectionPool,
            "https": _WatchedHTTPSConnectionPool,
        }


def describe_failure(error: BaseException) -> str:
    """The operating system's words ("Connection refused") rather than urllib3's wrapping."""
    text = str(error)
    found = _OS_ERROR.search(text)
    return found.group(1).strip() if found else text[:_ERROR_TEXT_LIMIT]


_HINTS = {
    400: "the receiver found the body invalid; compare it with the contract's schema",
    401: "the receiver refused the signature; both sides must hold the same webhook secret",
    403: "the receiver refused the request; check its access rules for this sender",
    404: "the receiver does not know the token or the URL; check both",
    405: "the URL does not accept POST; check the webhook URL",
    413: "the receiver's size limit is below this body",
}


def _judge(response: requests.Response) -> _Attempt:
    status = response.status_code
    if 200 <= status < 300:
        return _Attempt(DeliveryReason.DELIVERED, f"delivered ({status})", status_code=status)
    if 300 <= status < 400:
        location = response.headers.get("Location", "(no Location)")
        return _Attempt(
            DeliveryReason.REJECTED,
            f"the receiver redirected ({status}) to {location}; configure the final URL "
            "(redirects are not followed: they would turn the POST into a GET)",
            status_code=status,
        )
    said = _error_text(response)
    if status in RETRYABLE_STATUS_CODES:
        return _Attempt(
            DeliveryReason.SERVER_ERROR,
            f"the receiver answered {status}: {said}",
            retryable=True,
            status_code=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    hint = _HINTS.get(status, "retrying cannot change this answer; fix the cause first")
    return _Attempt(
        DeliveryReason.REJECTED,
        f"the receiver answered {status}: {said}; {hint}",
        status_code=status,
    )


def _error_text(response: requests.Response) -> str:
    """The receiver's own error words: ``error`` of a JSON body, else the start of the text.

    A body cut short, stalled or wrongly encoded is only reported: the status code alone
    decides what happens next.
    """
    try:
        raw = next(response.iter_content(_ERROR_BODY_LIMIT), b"")
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        return f"(its body could not be read: {_body_problem(error)})"
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), str):
        text = parsed["error"]
    if len(text) > _ERROR_TEXT_LIMIT:
        text = text[:_ERROR_TEXT_LIMIT] + "..."
    return repr(text) if text else "(no body)"


def _body_problem(error: BaseException) -> str:
    """The innermost cause of a failed body read, in its own short words."""
    cause = error
    while cause.args and isinstance(cause.args[0], BaseException):
        cause = cause.args[0]
    if isinstance(cause, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
        return "it stalled past the read timeout"
    words = cause.args[0] if cause.args and isinstance(cause.args[0], str) else str(cause)
    return words[:_ERROR_TEXT_LIMIT]
