"""``hokusai-contract send-test``: one signed delivery to a receiver, its answer in words.

The pieces are kept apart so each can be reasoned about alone: building the delivery is the
core's job (:func:`contracts.build_payload`, :func:`contracts.signed_delivery`); :func:`interpret`
turns an answer into a typed :class:`Interpretation` without any I/O, reading it by the same
rules as ``check-receiver`` (:mod:`contracts.conformance.answers`); :func:`deliver` and
:func:`fetch_token_state` are the only functions that touch the network; :func:`render` turns a
result into the lines the command prints.
"""

from __future__ import annotations

import json
import shlex
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from contracts.conformance.answers import (
    REPLAY_REASON,
    TokenStateReading,
    json_object,
    read_token_state,
    says_no_secret_configured,
    says_not_the_handler,
    state_url_for,
    unreadable_token_state,
)
from contracts.envelope import DEFAULT_PATH, SignedDelivery, signed_delivery
from contracts.payload import METRIC_TAG, TOKEN_TAG, VALUE_TAG, build_payload
from contracts.signing import SIGNATURE_HEADER, FailureReason
from contracts.tokens import normalize_token_id
from contracts.urls import redacted_url

if TYPE_CHECKING:
    import requests

DEFAULT_TIMEOUT_SECONDS = 10.0
_SHOWN_BODY_LIMIT = 2000


class Outcome(str, Enum):
    """What one delivery came to; the value is a stable identifier, the name is printed."""

    ACCEPTED = "accepted"
    ACCEPTED_DUPLICATE = "accepted_duplicate"
    SIGNATURE_REJECTED = "signature_rejected"
    SECRET_NOT_CONFIGURED = "secret_not_configured"
    UNKNOWN_TOKEN = "unknown_token"
    INVALID_PAYLOAD = "invalid_payload"
    REPLAY_REFUSED = "replay_refused"
    TOO_LARGE = "too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    UNEXPECTED = "unexpected"

    @property
    def accepted(self) -> bool:
        return self in (Outcome.ACCEPTED, Outcome.ACCEPTED_DUPLICATE)


@dataclass(frozen=True)
class Target:
    """Where the delivery goes and under which names; used to write exact next-step commands."""

    url: str
    token_id: str
    secret_env: str


@dataclass(frozen=True)
class Reply:
    """An HTTP answer as received: status, reason phrase, raw body (``cut_at`` bytes of it,
    when the answer was longer)."""

    status: int
    reason: str
    body: bytes
    cut_at: int | None = None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json_object(self) -> Mapping[str, Any] | None:
        """The body parsed as a JSON object, or ``None`` when it is not one."""
        return json_object(self.body)


@dataclass(frozen=True)
class Interpretation:
    """An outcome with its meaning in words and what to do next (sentences or command lines)."""

    outcome: Outcome
    explanation: str
    next_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendTestResult:
    """Everything one send-test did: what was sent, what came back, what it means."""

    target: Target
    delivery: SignedDelivery
    interpretation: Interpretation
    reply: Reply | None = None
    state: TokenStateReading | None = None

    @property
    def succeeded(self) -> bool:
        """Accepted, and (when the state was checked) the token reads REGISTERED."""
        return self.interpretation.outcome.accepted and (
            self.state is None or self.state.registered
        )


class DeliveryFailed(Exception):
    """Nothing usable came back: the connection was refused or the receiver did not answer."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome = outcome
        self.detail = detail


# --- building -------------------------------------------------------------------------------


def build_test_delivery(
    secret: str,
    *,
    token_id: str,
    model_name: str,
    model_version: str,
    metric_name: str,
    baseline_value: float,
) -> SignedDelivery:
    """One contract-valid ``model_registered`` delivery, signed over its exact bytes."""
    payload = build_payload(
        token_id=token_id,
        model_name=model_name,
        model_version=model_version,
        metric_name=metric_name,
        baseline_value=baseline_value,
        tags={
            TOKEN_TAG: normalize_token_id(token_id),
            METRIC_TAG: metric_name,
            VALUE_TAG: str(baseline_value),
        },
    )
    return signed_delivery(payload, secret)


# --- interpretation (pure) ------------------------------------------------------------------


def check_receiver_command(target: Target) -> str:
    """The command that judges the receiver rule by rule, for this URL, secret and token."""
    return shlex.join(
        [
            "hokusai-contract",
            "check-receiver",
            "--url",
            target.url,
            "--secret-env",
            target.secret_env,
            "--token",
            target.token_id,
        ]
    )


def diagnose_command(target: Target) -> str:
    """The command that names the mistake behind a signature the receiver computed itself."""
    return (
        "hokusai-contract diagnose --body received-body.json "
        f"--header 'sha256=<the value the receiver computed>' --secret-env "
        f"{shlex.quote(target.secret_env)}"
    )


def signature_next_steps(target: Target) -> tuple[str, ...]:
    """What to run when a receiver refuses a signature that is right by the contract."""
    return (
        "find out which, check by check, with:",
        check_receiver_command(target),
        "or, if the receiver logs the body it received and the signature it computed, save "
        "that body and let the signature name the mistake:",
        diagnose_command(target),
    )


def _error_text(answer: Mapping[str, Any] | None) -> str:
    if answer is None:
        return ""
    error = answer.get("error")
    return error if isinstance(error, str) else ""


def _reason_code(answer: Mapping[str, Any] | None) -> str:
    reason = answer.get("reason") if answer is not None else None
    return reason if isinstance(reason, str) else ""


_SIGNATURE_CAUSES = {
    FailureReason.MISSING_HEADER.value: (
        f"the receiver did not find the {SIGNATURE_HEADER} header: it may read another header "
        "name (x-mlflow-signature, for one), or a proxy in front of it drops the header"
    ),
    FailureReason.MALFORMED_HEADER.value: (
        f"the receiver could not read the {SIGNATURE_HEADER} value it got: it may expect a bare "
        "hex digest without the 'sha256=' prefix, or upper-case hex only"
    ),
}


def _signature_rejected(target: Target, answer: Mapping[str, Any] | None) -> Interpretation:
    reason = _reason_code(answer)
    cause = _SIGNATURE_CAUSES.get(reason)
    if cause is None:
        cause = (
            f"this delivery was signed with the secret in ${target.secret_env} over the exact "
            "bytes sent, so either the receiver holds a different secret (the bytes must match: "
            "a trailing newline or space counts), or it verifies a re-serialization of the "
            "parsed JSON instead of the raw body"
        )
    return Interpretation(
        Outcome.SIGNATURE_REJECTED,
        f"the receiver refused the signature (401{', ' + reason if reason else ''}): {cause}.",
        signature_next_steps(target),
    )


def _wrong_path_hint(target: Target) -> tuple[str, ...]:
    path = urlsplit(target.url).path
    if path.rstrip("/") == DEFAULT_PATH:
        return ()
    return (f"the contract's path is {DEFAULT_PATH}; --url points at {path or '/'}",)


def _not_the_handler(target: Target) -> tuple[str, ...]:
    return (
        "make sure --url reaches the webhook handler itself (not a web page, a proxy or a "
        "catch-all route), and pass --state-url to see the token's state",
        *_wrong_path_hint(target),
    )


def _answer_to_200(answer: Mapping[str, Any] | None, target: Target) -> Interpretation:
    token = target.token_id
    if answer is not None and answer.get("success") is False:
        error = _error_text(answer)
        return Interpretation(
            Outcome.UNEXPECTED,
            "the receiver answered 200 but with success false, so it is unclear whether it "
            f"registered token {token}; the contract answers a refusal with a 4xx or 5xx status."
            + (f" It said: {error}" if error else ""),
            ("check it with:", check_receiver_command(target)),
        )
    if answer is None or answer.get("success") is not True:
        return Interpretation(
            Outcome.UNEXPECTED,
            "the receiver answered 200 without the contract's answer (a JSON object with "
            '"success": true), so it is probably not the webhook handler, and nothing says '
            f"token {token} was registered.",
            _not_the_handler(target),
        )
    if answer.get("duplicate") is True:
        return Interpretation(
            Outcome.ACCEPTED_DUPLICATE,
            f"the receiver accepted the delivery as a duplicate: token {token} was already "
            "REGISTERED (or this idempotency key was seen before), so nothing changed.",
        )
    return Interpretation(
        Outcome.ACCEPTED,
        f"the receiver accepted the delivery: token {token} should now be REGISTERED.",
    )


def interpret(reply: Reply, target: Target) -> Interpretation:
    """What the receiver's answer to a valid, correctly signed delivery means, in words."""
    answer = reply.json_object()
    error, reason, token = _error_text(answer), _reason_code(answer), target.token_id
    status = reply.status
    if status == 200:
        return _answer_to_200(answer, target)
    if says_no_secret_configured(status, reply.body):
        return Interpretation(
            Outcome.SECRET_NOT_CONFIGURED,
            "the receiver has no webhook secret configured, so it refuses every delivery "
            "(fail closed).",
            (
                f"configure the receiver with the same secret as the one in ${target.secret_env} "
                "(the same bytes, no trailing newline), restart it, and send again",
            ),
        )
    if status == 401 and reason == REPLAY_REASON:
        tolerance = answer.get("tolerance_seconds") if answer is not None else None
        within = f" ({tolerance:g} s)" if isinstance(tolerance, (int, float)) else ""
        return Interpretation(
            Outcome.REPLAY_REFUSED,
            "the receiver refused the delivery as a replay: its clock and this machine's "
            f"disagree by more than its timestamp tolerance{within}.",
            ("synchronize both clocks (NTP); timestamps are written in UTC with a Z suffix",),
        )
    if status == 401:
        return _signature_rejected(target, answer)
    if status == 404 and says_not_the_handler(status, reply.body):
        return Interpretation(
            Outcome.UNEXPECTED,
            "the receiver answered 404, but not as the webhook handler does (a JSON object "
            'with a boolean "success"), or it said the path is unknown: nothing handles the '
            f"webhook at {urlsplit(target.url).path or '/'}.",
            _not_the_handler(target),
        )
    if status == 404:
        return Interpretation(
            Outcome.UNKNOWN_TOKEN,
            f"the receiver answered 404: token {token} does not exist there.",
            (
                f"seed token {token} in DRAFT on the receiver, or check the id (receivers "
                "upper-case it before looking it up)",
            ),
        )
    if status == 400:
        said = f" It said: {error}" if error else ""
        return Interpretation(
            Outcome.INVALID_PAYLOAD,
            "the receiver refused the body as invalid, but this body is valid against the "
            f"contract's schema, so the receiver's validation disagrees with the contract.{said}",
            ("see which rule it breaks, with:", check_receiver_command(target)),
        )
    if status == 413:
        return Interpretation(
            Outcome.TOO_LARGE,
            "the receiver refused the body as too large; a model_registered event is a few "
            "hundred bytes, so its size limit is set far too low.",
        )
    if status == 405:
        return Interpretation(
            Outcome.METHOD_NOT_ALLOWED,
            "the URL does not take POST requests: it is probably not the webhook handler.",
            _wrong_path_hint(target) or ("check the handler's route accepts POST",),
        )
    if 300 <= status < 400:
        return Interpretation(
            Outcome.UNEXPECTED,
            f"the receiver redirected ({status}); a redirected POST loses its body or method.",
            ("point --url at the final URL the redirect names",),
        )
    return Interpretation(
        Outcome.UNEXPECTED,
        f"the receiver answered {status}, which the contract does not define for a valid, "
        "correctly signed delivery.",
        ("look at the receiver's logs; then check it with:", check_receiver_command(target)),
    )


def unreachable(failure: DeliveryFailed, target: Target, timeout: float) -> Interpretation:
    """The verdict when no answer came back at all."""
    shown = redacted_url(target.url)
    if failure.outcome is Outcome.TIMEOUT:
        return Interpretation(
            Outcome.TIMEOUT,
            f"no complete answer from {shown} within {timeout:g} s (--timeout bounds the whole "
            "request, answer included).",
            ("check the receiver is up and not stuck; raise --timeout if it is just slow",),
        )
    return Interpretation(
        Outcome.CONNECTION_REFUSED,
        f"could not connect to {shown}: {failure.detail}.",
        ("check that the receiver is running and that the host and port are right",),
    )


def state_in_words(state: TokenStateReading) -> str:
    """What the token's state read after an accepted delivery means."""
    if state.registered:
        return f"status is {state.status}: confirmed, the token is REGISTERED"
    if state.status is not None:
        return (
            f"status is {state.status}: the token is NOT REGISTERED although the receiver "
            "answered 200"
        )
    return f"could not confirm the token's state: {state.problem}"


# --- I/O ------------------------------------------------------------------------------------


def _causes(error: BaseException) -> list[BaseException]:
    """The chain of errors under ``error``: urllib3 keeps the socket error in its arguments."""
    chain: list[BaseException] = []
    cause: BaseException | None = error
    while cause is not None and cause not in chain:
        chain.append(cause)
        first = cause.args[0] if cause.args else None
        wrapped = getattr(first, "reason", first)
        cause = (
            cause.__cause__
            or cause.__context__
            or (wrapped if isinstance(wrapped, BaseException) else None)
        )
    return chain


def _failure(error: requests.RequestException) -> DeliveryFailed:
    import requests

    if isinstance(error, requests.Timeout):
        return DeliveryFailed(Outcome.TIMEOUT, "timed out")
    chain = _causes(error)
    if any(isinstance(cause, ConnectionRefusedError) for cause in chain):
        return DeliveryFailed(Outcome.CONNECTION_REFUSED, "connection refused")
    if any(isinstance(cause, socket.gaierror) for cause in chain):
        return DeliveryFailed(Outcome.CONNECTION_REFUSED, "the host name does not resolve")
    if any(isinstance(cause, ssl.SSLError) for cause in chain):
        return DeliveryFailed(Outcome.CONNECTION_REFUSED, "the TLS handshake failed")
    return DeliveryFailed(Outcome.CONNECTION_REFUSED, str(chain[-1]) or type(chain[-1]).__name__)


def deliver(url: str, delivery: SignedDelivery, timeout: float) -> Reply:
    """POST the exact bytes with their headers; raise :class:`DeliveryFailed` on no answer.

    ``timeout`` bounds the whole request, answer included, and at most 64 KiB of the answer
    are read (:func:`contracts.support.http.bounded_session`).
    """
    import requests

    from contracts.support.http import answer_cut_at, bounded_session

    try:
        with bounded_session() as session:
            response = session.post(
                url,
                data=delivery.body,
                headers=delivery.headers,
                timeout=timeout,
                allow_redirects=False,
            )
    except requests.RequestException as error:
        raise _failure(error) from None
    return Reply(
        response.status_code, response.reason or "", response.content, answer_cut_at(response)
    )


def fetch_token_state(url: str, timeout: float) -> TokenStateReading:
    """GET the token-state URL and read the token's status from it, bounded like
    :func:`deliver`."""
    import requests

    from contracts.support.http import answer_cut_at, bounded_session, cut_words

    try:
        with bounded_session() as session:
            response = session.get(url, timeout=timeout, headers={"Accept": "application/json"})
    except requests.RequestException as error:
        return unreadable_token_state(url, f"no answer ({_failure(error).detail})")
    cut_at = answer_cut_at(response)
    if cut_at is not None:
        return unreadable_token_state(
            url, f"{cut_words(cut_at)}; a token state is a small JSON object"
        )
    return read_token_state(url, response.status_code, response.content)


def run_send_test(
    target: Target,
    delivery: SignedDelivery,
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    state_url_template: str | None = None,
) -> SendTestResult:
    """Send ``delivery`` once, interpret the answer, and read the token's state back if asked."""
    try:
        reply = deliver(target.url, delivery, timeout)
    except DeliveryFailed as failure:
        return SendTestResult(target, delivery, unreachable(failure, target, timeout))
    interpretation = interpret(reply, target)
    state = None
    if interpretation.outcome.accepted and state_url_template:
        state = fetch_token_state(state_url_for(state_url_template, target.token_id), timeout)
    return SendTestResult(target, delivery, interpretation, reply, state)


# --- rendering (pure) -----------------------------------------------------------------------


def _shown_body(text: str) -> str:
    text = text.strip()
    if len(text) <= _SHOWN_BODY_LIMIT:
        return text
    return text[:_SHOWN_BODY_LIMIT] + f"... ({len(text) - _SHOWN_BODY_LIMIT} more characters)"


def _body_summary(delivery: SignedDelivery) -> str:
    payload = json.loads(delivery.body)
    return (
        f"{len(delivery.body)} bytes: {payload['event_type']} for token {payload['token_id']}, "
        f"model {payload['model_name']!r} version {payload['model_version']} "
        "(--show-request prints it)"
    )


def _indented_step(step: str) -> str:
    # Command lines stand out under the sentence that introduces them, ready to copy.
    return ("    " if step.startswith("hokusai-contract ") else "  ") + step


def render(result: SendTestResult, *, show_request: bool = False) -> list[str]:
    """The lines send-test prints: the request, the answer, the verdict and next steps."""
    lines = [f"sent: POST {redacted_url(result.target.url)}"]
    lines += [f"  {name}: {value}" for name, value in result.delivery.headers.items()]
    if show_request:
        lines += ["  body:", "  " + result.delivery.body.decode("utf-8")]
    else:
        lines.append(f"  body: {_body_summary(result.delivery)}")
    if result.reply is not None:
        lines.append(f"answer: {result.reply.status} {result.reply.reason}".rstrip())
        shown = _shown_body(result.reply.text)
        lines += ["  " + line for line in shown.splitlines()] if shown else ["  (empty body)"]
        if result.reply.cut_at is not None:
            lines.append(f"  (answer cut at {result.reply.cut_at} bytes)")
    else:
        lines.append("answer: none")
    interpretation = result.interpretation
    lines.append(f"result: {interpretation.outcome.name}: {interpretation.explanation}")
    if result.state is not None:
        lines.append(f"state: GET {redacted_url(result.state.url)}")
        lines.append(f"  {state_in_words(result.state)}")
    lines += [_indented_step(step) for step in interpretation.next_steps]
    return lines
