"""Deliver one signed ``model_registered`` notification, with retries and a total deadline.

Each request is built with :func:`contracts.envelope.signed_delivery` (serialize once, sign
those bytes) and sent as exactly those bytes. A v1 (flat) body is stamped and signed anew for
every attempt; a v2 (nested) body is stamped once per delivery and every retry resends the same
signed bytes, since the website dedupes v2 events on ``event_type:model.id:timestamp`` and a
re-stamped retry would count as a second event. The stamp has microseconds, so two versions
registered within the same second never share one. The idempotency key stays the same across
attempts, so a receiver that already acted can answer "duplicate" instead of acting twice.

Retried: connection errors, timeouts, 429, 500, 502, 503, 504 (honouring ``Retry-After``), with
exponential backoff and full jitter. Not retried: any other answer, which retrying cannot fix.
The deadline is a hard budget: no wait runs past it, every attempt's timeouts are capped by
what is left of it, and a receiver still answering when it runs out (say, a byte at a time,
each within the read timeout) has its connection shut. No retry starts with less of it left
than ``DeliveryPolicy.min_attempt_time``: the delivery stops and says so instead.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

import requests
import urllib3

import contracts
from contracts.envelope import SignedDelivery, signed_delivery
from contracts.payload import Shape, payload_shape, with_fresh_timestamp
from contracts.support.http import (
    FailureKind,
    Watchdog,
    describe_connection_failure,
    watch_connections,
)
from contracts.urls import redact_text, redacted_url

RETRYABLE_STATUS_CODES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = f"hokusai-contracts/{contracts.__version__} (reference sender)"
_ERROR_TEXT_LIMIT = 300
_ERROR_BODY_LIMIT = 16 * 1024
_MAX_BACKOFF_EXPONENT = 60
RETRY_AFTER_LIMIT = 86_400.0
"""The longest ``Retry-After`` taken as given (a day); a longer one reads as this."""
_DIGITS = re.compile(r"[0-9]+")
_RETRY_AFTER_DIGITS = 9

_log = logging.getLogger("contracts.sender")


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
class AttemptRecord:
    """One attempt of a delivery: how it ended, and how much of the deadline it was given."""

    reason: DeliveryReason
    message: str
    status_code: int | None
    budget: float
    """Seconds of the deadline left when it started; its timeouts were capped by them."""
    cut_by_deadline: bool = False
    """It ran out of the deadline before a complete answer came."""


@dataclass(frozen=True)
class NotificationOutcome:
    """What happened to one notification: delivered or not, why (enum and words), how.

    ``attempt_log`` has one record per attempt, in order. ``last_status_code`` is the last
    status a receiver actually answered, on any attempt (``None`` if none ever answered), and
    ``reason`` is the last attempt's, except when the deadline cut off an attempt that came
    right after a 429 or 5xx answer: the reason is then ``server_error``, since the receiver
    kept failing and running out of time is only how the delivery ended.
    """

    delivered: bool
    reason: DeliveryReason
    message: str
    attempts: int
    last_status_code: int | None
    idempotency_key: str
    attempt_log: tuple[AttemptRecord, ...] = ()


@dataclass(frozen=True)
class DeliveryPolicy:
    """Timeouts and retry budget (seconds). The deadline bounds the whole delivery."""

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    deadline: float = 60.0
    min_attempt_time: float = 0.5
    """No retry starts with less of the deadline left: about what a TLS connection, a request
    and its answer take across the internet. Less would only cut the attempt off. The first
    attempt always runs, with the whole deadline."""

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "deadline", "min_attempt_time"):
            if not getattr(self, name) > 0:
                raise ValueError(f"DeliveryPolicy.{name} must be positive")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("DeliveryPolicy delays must not be negative")
        if self.max_attempts < 1:
            raise ValueError("DeliveryPolicy.max_attempts must be at least 1")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay seconds or an HTTP-date).

    ``None`` when absent or unreadable; a date in the past means no wait; anything longer
    than :data:`RETRY_AFTER_LIMIT` reads as that. Never raises, whatever the receiver sent.
    """
    value = (value or "").strip()
    if not value:
        return None
    if _DIGITS.fullmatch(value):
        digits = value.lstrip("0")
        if len(digits) > _RETRY_AFTER_DIGITS:
            return RETRY_AFTER_LIMIT
        return min(float(digits or 0), RETRY_AFTER_LIMIT)
    try:
        moment = email.utils.parsedate_to_datetime(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        seconds = (moment - (now or datetime.now(timezone.utc))).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return min(max(0.0, seconds), RETRY_AFTER_LIMIT)


def backoff_delay(failures: int, policy: DeliveryPolicy, rng: random.Random) -> float:
    """Full jitter: uniform in ``[0, min(max_delay, base_delay * 2 ** (failures - 1))]``."""
    exponent = min(max(failures - 1, 0), _MAX_BACKOFF_EXPONENT)
    return rng.uniform(0.0, min(policy.max_delay, policy.base_delay * 2.0**exponent))


@dataclass(frozen=True)
class RetryPlan:
    """Wait ``wait`` seconds, then try again; or stop (``wait`` is ``None``) because of ``why``."""

    wait: float | None
    why: str = ""


def plan_retry(
    policy: DeliveryPolicy,
    failures: int,
    remaining: float,
    rng: random.Random,
    retry_after: float | None = None,
) -> RetryPlan:
    """Whether and when to retry after ``failures`` retryable failures, ``remaining`` s left.

    A wait never leaves the next attempt less than ``policy.min_attempt_time``: an attempt
    with less would most likely be cut off, so stopping now reports the receiver's own answer
    instead of a timeout.
    """
    if failures >= policy.max_attempts:
        return RetryPlan(None, f"gave up: all {policy.max_attempts} attempts used")
    if remaining < policy.min_attempt_time:
        return RetryPlan(None, too_little_left(policy, remaining))
    if retry_after is not None:
        wait = retry_after
        how_long = "a day or more" if retry_after >= RETRY_AFTER_LIMIT else f"{retry_after:.0f} s"
        asked = f"the receiver asked to wait {how_long} (Retry-After)"
    else:
        wait = backoff_delay(failures, policy, rng)
        asked = f"the next retry would wait {wait:.2g} s"
    left = remaining - wait
    if left <= 0:
        return RetryPlan(
            None, f"gave up: {asked}, past the {policy.deadline:g} s delivery deadline"
        )
    if left < policy.min_attempt_time:
        return RetryPlan(
            None,
            f"gave up: {asked}, leaving {left:.2g} s of the {policy.deadline:g} s delivery "
            f"deadline, less than the {policy.min_attempt_time:g} s an attempt needs",
        )
    return RetryPlan(wait)


def too_little_left(policy: DeliveryPolicy, remaining: float) -> str:
    """Why no attempt starts with ``remaining`` seconds of the deadline left."""
    if remaining <= 0:
        return f"gave up: the {policy.deadline:g} s delivery deadline passed"
    return (
        f"gave up: {remaining:.2g} s of the {policy.deadline:g} s delivery deadline left, less "
        f"than the {policy.min_attempt_time:g} s an attempt needs"
    )


@dataclass(frozen=True)
class _Attempt:
    reason: DeliveryReason
    message: str
    retryable: bool = False
    status_code: int | None = None
    retry_after: float | None = None
    budget: float = 0.0
    cut_by_deadline: bool = False

    @property
    def record(self) -> AttemptRecord:
        """What the outcome keeps of this attempt."""
        return AttemptRecord(
            self.reason, self.message, self.status_code, self.budget, self.cut_by_deadline
        )

    @property
    def summary(self) -> str:
        """A few words for the list of attempts: the status, else the reason."""
        words = str(self.status_code) if self.status_code is not None else self.reason.value
        return f"{words} cut off" if self.cut_by_deadline else words


@dataclass
class _Run:
    """One delivery under way: when it started, and its attempts so far."""

    started: float
    begun: int = 0
    """Attempts begun, one that broke off before it ended included."""
    attempts: list[_Attempt] = field(default_factory=list)


class WebhookDelivery:
    """Sends notifications to one URL with one secret; reuse it for many deliveries.

    ``sleep``, ``clock`` (monotonic seconds) and ``rng`` are plain parameters so callers can
    keep waits short or reproducible. The HTTP is always real and its timeouts come from
    ``clock``: a clock that does not measure real time gives attempts budgets that have nothing
    to do with the time they really get. A given ``session`` gets an adapter mounted for
    http(s) whose connections the deadline can cut off.
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
        watch_connections(self._session)
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"WebhookDelivery(url={redacted_url(self.url)!r}, policy={self.policy!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def deliver(self, payload: Mapping[str, Any], key: str) -> NotificationOutcome:
        """Deliver ``payload`` under idempotency ``key``; never raises.

        Ends within the deadline: an answer still coming in when it passes is cut off. Should
        the sender itself fail, the outcome says so (``sender_error``) and still counts every
        attempt begun, so it never reports fewer attempts than requests went out.
        """
        run = _Run(started=self._clock())
        try:
            return self._run(payload, key, run)
        except Exception as error:  # a sender bug must not hide what was already sent
            return self._broken(run, key, error)

    def _run(self, payload: Mapping[str, Any], key: str, run: _Run) -> NotificationOutcome:
        budget = self.policy.deadline
        next_request = self._requests(payload, key)
        while True:
            run.begun += 1
            attempt = self._attempt(next_request(), budget)
            run.attempts.append(attempt)
            if attempt.reason is DeliveryReason.DELIVERED:
                return self._outcome(run, key)
            _log.info("delivery attempt %d for %s failed: %s", run.begun, key, attempt.message)
            if not attempt.retryable:
                return self._outcome(run, key, "not retried: retrying cannot change this answer")
            plan = plan_retry(
                self.policy,
                len(run.attempts),
                self._remaining(run.started),
                self._rng,
                attempt.retry_after,
            )
            if plan.wait is None:
                return self._outcome(run, key, plan.why)
            self._sleep(plan.wait)
            budget = self._remaining(run.started)
            if budget < self.policy.min_attempt_time:
                return self._outcome(run, key, too_little_left(self.policy, budget))

    def _remaining(self, started: float) -> float:
        return self.policy.deadline - (self._clock() - started)

    def _outcome(self, run: _Run, key: str, stop: str | None = None) -> NotificationOutcome:
        """The whole delivery in one outcome (see :class:`NotificationOutcome` for the rules)."""
        last = run.attempts[-1]
        telling, message = last, last.message
        before = run.attempts[-2] if len(run.attempts) > 1 else None
        if last.cut_by_deadline and before and before.reason is DeliveryReason.SERVER_ERROR:
            telling = before
            message = (
                f"{before.message}; the attempt after it was cut off by the "
                f"{self.policy.deadline:g} s delivery deadline"
            )
        if stop is not None:
            message = f"{message}; {stop} ({self._tally(run)})"
        return self._summed_up(run, key, telling.reason, message)

    def _broken(self, run: _Run, key: str, error: Exception) -> NotificationOutcome:
        words = self._scrubbed(f"{type(error).__name__}: {error}")
        message = f"not delivered: the sender failed unexpectedly ({words})"
        if run.attempts:
            message += f" ({self._tally(run)})"
        _log.warning("delivery of %s failed: %s", key, message)
        return self._summed_up(run, key, DeliveryReason.SENDER_ERROR, message)

    def _summed_up(
        self, run: _Run, key: str, reason: DeliveryReason, message: str
    ) -> NotificationOutcome:
        answered = [a.status_code for a in run.attempts if a.status_code is not None]
        return NotificationOutcome(
            delivered=reason is DeliveryReason.DELIVERED,
            reason=reason,
            message=message,
            attempts=run.begun,
            last_status_code=answered[-1] if answered else None,
            idempotency_key=key,
            attempt_log=tuple(attempt.record for attempt in run.attempts),
        )

    def _tally(self, run: _Run) -> str:
        """``after 3 attempt(s) in 1.2 s: 503, 503, timed_out``."""
        elapsed = self._clock() - run.started
        answers = ", ".join(attempt.summary for attempt in run.attempts)
        return f"after {run.begun} attempt(s) in {elapsed:.1f} s: {answers}"

    def _scrubbed(self, text: str) -> str:
        """``text`` without the secret or the URL's credentials."""
        return redact_text(text, self.url, secrets=[self._secret])

    def _requests(self, payload: Mapping[str, Any], key: str) -> Callable[[], SignedDelivery]:
        """The request of each attempt: v1 stamped and signed anew every time; v2 stamped and
        signed once, the same bytes on every attempt (see the module's docstring)."""
        if payload_shape(payload) is Shape.V2:
            once = signed_delivery(with_fresh_timestamp(payload), self._secret, key=key)
            return lambda: once
        return lambda: signed_delivery(with_fresh_timestamp(payload), self._secret, key=key)

    def _attempt(self, signed: SignedDelivery, budget: float) -> _Attempt:
        """One request, its timeouts and its whole answer held to ``budget`` seconds."""
        headers = {**signed.headers, "Accept": "application/json", "User-Agent": USER_AGENT}
        with Watchdog(budget) as watchdog:
            attempt = self._send(signed.body, headers, budget)
        if watchdog.fired and attempt.reason is not DeliveryReason.DELIVERED:
            attempt = _Attempt(
                DeliveryReason.TIMED_OUT,
                f"no complete answer from {redacted_url(self.url)} within the "
                f"{self.policy.deadline:g} s delivery deadline (it was still answering; the "
                f"connection was shut): {attempt.message}",
                retryable=True,
                status_code=attempt.status_code,
                cut_by_deadline=True,
            )
        return replace(attempt, budget=budget)

    def _send(self, body: bytes, headers: Mapping[str, str], budget: float) -> _Attempt:
        policy = self.policy
        timeout = (min(policy.connect_timeout, budget), min(policy.read_timeout, budget))
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
        except requests.Timeout as error:
            connecting = isinstance(error, requests.ConnectTimeout)
            limit, allowed = (
                (timeout[0], policy.connect_timeout)
                if connecting
                else (timeout[1], policy.read_timeout)
            )
            if limit < allowed:
                return _Attempt(
                    DeliveryReason.TIMED_OUT,
                    f"no answer from {redacted_url(self.url)} within the {limit:.2g} s left of "
                    f"the {policy.deadline:g} s delivery deadline",
                    retryable=True,
                    cut_by_deadline=True,
                )
            return _Attempt(
                DeliveryReason.TIMED_OUT,
                f"no answer from {redacted_url(self.url)} within {timeout[1]:g} s (connect "
                f"{timeout[0]:g} s)",
                retryable=True,
            )
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            return _Attempt(
                DeliveryReason.UNREACHABLE,
                f"could not reach {redacted_url(self.url)}: "
                f"{describe_connection_failure(error).words}",
                retryable=True,
            )
        except requests.RequestException as error:
            return _Attempt(
                DeliveryReason.UNREACHABLE, f"cannot send to {redacted_url(self.url)}: {error}"
            )


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
    """Why a body stopped coming, in a few words."""
    if isinstance(error, requests.exceptions.ContentDecodingError):
        return "it is not in the Content-Encoding its headers name"
    failure = describe_connection_failure(error)
    if failure.kind is FailureKind.TIMEOUT:
        return "it stalled past the read timeout"
    if failure.kind is FailureKind.CLOSED:
        return "the connection was closed before its end"
    return failure.words
