"""``hokusai-contract send-test``: one signed delivery to a receiver, its answer in words.

The pieces are kept apart so each can be reasoned about alone: building the delivery is the
core's job (:func:`contracts.build_model_payload` for the nested body the SDK's CLI sends, the
default, or :func:`contracts.build_payload` for the flat one; :func:`contracts.signed_delivery`,
with the headers that sender sends); :func:`interpret`
turns an answer into a typed :class:`Interpretation` without any I/O, reading it by the same
rules and with the same fixes as ``check-receiver`` (:mod:`contracts.conformance.answers`);
:func:`run_send_test` sends through the same probe as ``check-receiver``; :func:`render` turns
a result into the lines the command prints.
"""

from __future__ import annotations

import json
import shlex
from contextlib import closing
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from contracts.conformance.answers import (
    Answer,
    Meaning,
    Reading,
    TokenStateReading,
    read_answer,
    unreadable_token_state,
    wrong_url_steps,
)
from contracts.conformance.receiver_under_test import Receiver
from contracts.envelope import SignedDelivery, signed_delivery
from contracts.payload import (
    METRIC_TAG,
    TOKEN_TAG,
    VALUE_TAG,
    Shape,
    build_model_payload,
    build_payload,
    payload_shape,
    token_id_of,
)
from contracts.tokens import normalize_token_id
from contracts.urls import redacted_url

if TYPE_CHECKING:
    from contracts.conformance.probe import ReceiverUnreachable

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_SHAPE = Shape.V2
"""What the SDK sends today: the nested body, as its CLI writes it."""
DEFAULT_METRIC_NAME = "accuracy"
DEFAULT_BASELINE_VALUE = 0.9
"""The flat body's benchmark fields when none are given."""
_SHOWN_BODY_LIMIT = 2000


class Outcome(str, Enum):
    """What one delivery came to; the value is a stable identifier, the name is printed."""

    ACCEPTED = "accepted"
    ACCEPTED_LATER = "accepted_later"
    ACCEPTED_DUPLICATE = "accepted_duplicate"
    SIGNATURE_REJECTED = "signature_rejected"
    SECRET_NOT_CONFIGURED = "secret_not_configured"
    UNKNOWN_TOKEN = "unknown_token"
    INVALID_PAYLOAD = "invalid_payload"
    REPLAY_REFUSED = "replay_refused"
    TOO_LARGE = "too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    CONNECTION_REFUSED = "connection_refused"
    NO_CONNECTION = "no_connection"
    """The host name did not resolve, TLS failed, or the connection closed unanswered."""
    TIMEOUT = "timeout"
    UNEXPECTED = "unexpected"

    @property
    def accepted(self) -> bool:
        return self in (Outcome.ACCEPTED, Outcome.ACCEPTED_LATER, Outcome.ACCEPTED_DUPLICATE)

    @property
    def unreachable(self) -> bool:
        """Nothing (complete) came back from the URL."""
        return self in (Outcome.CONNECTION_REFUSED, Outcome.NO_CONNECTION, Outcome.TIMEOUT)


_OUTCOMES = {
    Meaning.ACCEPTED: Outcome.ACCEPTED,
    Meaning.ACCEPTED_LATER: Outcome.ACCEPTED_LATER,
    Meaning.DUPLICATE: Outcome.ACCEPTED_DUPLICATE,
    Meaning.NO_SECRET: Outcome.SECRET_NOT_CONFIGURED,
    Meaning.REPLAY: Outcome.REPLAY_REFUSED,
    Meaning.SIGNATURE_REFUSED: Outcome.SIGNATURE_REJECTED,
    Meaning.UNKNOWN_TOKEN: Outcome.UNKNOWN_TOKEN,
    Meaning.INVALID_BODY: Outcome.INVALID_PAYLOAD,
    Meaning.TOO_LARGE: Outcome.TOO_LARGE,
    Meaning.METHOD_NOT_ALLOWED: Outcome.METHOD_NOT_ALLOWED,
}
"""Every other meaning is :attr:`Outcome.UNEXPECTED`."""


@dataclass(frozen=True)
class Interpretation:
    """An outcome with its meaning in words and what to do next (sentences or command lines)."""

    outcome: Outcome
    explanation: str
    next_steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendTestResult:
    """Everything one send-test did: what was sent, what came back, what it means."""

    receiver: Receiver
    delivery: SignedDelivery
    interpretation: Interpretation
    answer: Answer | None = None
    state: TokenStateReading | None = None

    @property
    def succeeded(self) -> bool:
        """Accepted, and (when the state was checked) the token reads REGISTERED."""
        return self.interpretation.outcome.accepted and (
            self.state is None or self.state.registered
        )


# --- building -------------------------------------------------------------------------------


def build_test_delivery(
    secret: str,
    *,
    token_id: str,
    model_name: str,
    model_version: str,
    metric_name: str | None = None,
    baseline_value: float | None = None,
    shape: Shape = DEFAULT_SHAPE,
) -> SignedDelivery:
    """One contract-valid ``model_registered`` delivery, signed over its exact bytes.

    :attr:`Shape.V2` (the default) is the nested body exactly as the SDK's CLI sends it:
    ``model.id`` in lower case, whole seconds, neither ``X-Hokusai-Event`` nor an idempotency
    key; ``metric_name`` becomes ``model.primary_metric`` when given, and a ``baseline_value``
    is refused (``ValueError``: the nested body has no such field). :attr:`Shape.V1` is the
    flat body this project's sender writes, with both headers.
    """
    if shape is Shape.V2:
        from contracts.conformance.probe import SDK_CLI, as_sent_by

        if baseline_value is not None:
            raise ValueError("a baseline value is a field of the flat v1 body only")
        payload = build_model_payload(
            token_id=token_id,
            model_name=model_name,
            model_version=model_version,
            primary_metric=metric_name,
        )
        return as_sent_by(SDK_CLI, signed_delivery(payload, secret))
    metric_name = metric_name or DEFAULT_METRIC_NAME
    baseline_value = DEFAULT_BASELINE_VALUE if baseline_value is None else baseline_value
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


def check_receiver_command(receiver: Receiver) -> str:
    """The command that judges the receiver rule by rule, for this URL, secret and token (and
    the extra headers by name: their values are for the user to fill in)."""
    headers = [word for name in receiver.header_names for word in ("--header", f"{name}: ...")]
    return shlex.join(
        [
            "hokusai-contract",
            "check-receiver",
            "--url",
            receiver.url,
            "--secret-env",
            receiver.secret_env,
            "--token",
            receiver.token,
            *headers,
        ]
    )


def diagnose_command(receiver: Receiver) -> str:
    """The command that names the mistake behind a signature the receiver computed itself."""
    return (
        "hokusai-contract diagnose --body received-body.json "
        f"--signature 'sha256=<the value the receiver computed>' --secret-env "
        f"{shlex.quote(receiver.secret_env)}"
    )


def signature_next_steps(receiver: Receiver) -> tuple[str, ...]:
    """What to run when a receiver refuses a signature that is right by the contract."""
    return (
        "find out which, check by check, with:",
        check_receiver_command(receiver),
        "or, if the receiver logs the body it received and the signature it computed, save "
        "that body and let the signature name the mistake:",
        diagnose_command(receiver),
    )


_CHECK_IT = {
    Meaning.INVALID_BODY: "see which rule it breaks, with:",
    Meaning.SERVER_ERROR: "look at the receiver's logs; then check it with:",
    Meaning.OTHER: "look at the receiver's logs; then check it with:",
}
"""Meanings whose next step is ``check-receiver``, with the words that introduce it."""


def _next_steps(reading: Reading, receiver: Receiver) -> tuple[str, ...]:
    meaning = reading.meaning
    if meaning is Meaning.SIGNATURE_REFUSED:
        return signature_next_steps(receiver)
    if meaning in _CHECK_IT:
        return (_CHECK_IT[meaning], check_receiver_command(receiver))
    if meaning in (Meaning.WRONG_URL, Meaning.NOT_A_CONTRACT_ANSWER):
        return wrong_url_steps(receiver.url)
    return (reading.fix,) if reading.fix else ()


def interpret(answer: Answer, receiver: Receiver) -> Interpretation:
    """What the receiver's answer to a valid, correctly signed delivery means, in words."""
    reading = read_answer(answer, receiver)
    outcome = _OUTCOMES.get(reading.meaning, Outcome.UNEXPECTED)
    return Interpretation(outcome, reading.words, _next_steps(reading, receiver))


def unreachable(error: ReceiverUnreachable) -> Interpretation:
    """The verdict when no answer, or no complete one, came back."""
    from contracts.support.http import FailureKind

    outcome = {
        FailureKind.TIMEOUT: Outcome.TIMEOUT,
        FailureKind.REFUSED: Outcome.CONNECTION_REFUSED,
    }.get(error.failure.kind, Outcome.NO_CONNECTION)
    return Interpretation(outcome, f"{error.words}.", (error.failure.hint,))


# --- I/O ------------------------------------------------------------------------------------


def run_send_test(receiver: Receiver, delivery: SignedDelivery) -> SendTestResult:
    """Send ``delivery`` once, interpret the answer, and read the token's state back when the
    receiver has a state URL (again, for up to its settle time, until it reads REGISTERED: a
    handler may register after answering). Each request ends within the receiver's timeout,
    its answer included, and reads at most 64 KiB of the answer."""
    from contracts.conformance.probe import Probe, ReceiverUnreachable

    with closing(Probe(receiver)) as probe:
        try:
            answer = probe.deliver(delivery, "send-test")
        except ReceiverUnreachable as error:
            return SendTestResult(receiver, delivery, unreachable(error))
        interpretation = interpret(answer, receiver)
        state = None
        state_url = receiver.state_url_for(receiver.token)
        if interpretation.outcome.accepted and state_url is not None:
            try:
                state = probe.wait_for_state(receiver.token, lambda reading: reading.registered)
            except ReceiverUnreachable as error:
                state = unreadable_token_state(state_url, f"no answer ({error.failure.words})")
    return SendTestResult(receiver, delivery, interpretation, answer, state)


# --- rendering (pure) -----------------------------------------------------------------------


def result_dict(result: SendTestResult) -> dict[str, Any]:
    """The JSON report of a send-test: the verdict and its words, why and what to do (as the
    printed lines say them), what was sent (the extra headers by name only) and what came
    back."""
    interpretation = result.interpretation
    answer, state = result.answer, result.state
    return {
        "tool": "hokusai-contract",
        "command": "send-test",
        "ok": result.succeeded,
        "verdict": interpretation.outcome.name,
        "outcome": interpretation.outcome.value,
        "why": interpretation.explanation,
        "fix": list(interpretation.next_steps),
        "url": redacted_url(result.receiver.url),
        "token": result.receiver.token,
        "headers": list(result.receiver.header_names),
        "request": {
            "method": "POST",
            "headers": dict(result.delivery.headers),
            "body": result.delivery.body.decode("utf-8", "backslashreplace"),
        },
        "answer": None
        if answer is None
        else {
            "status": answer.status,
            "phrase": answer.phrase,
            "content_type": answer.content_type,
            "body": answer.text,
            "cut_at": answer.cut_at,
        },
        "state": None
        if state is None
        else {
            "url": redacted_url(state.url),
            "status": state.status,
            "registered": state.registered,
            "words": state.after_acceptance,
        },
    }


def _shown_body(text: str) -> str:
    text = text.strip()
    if len(text) <= _SHOWN_BODY_LIMIT:
        return text
    return text[:_SHOWN_BODY_LIMIT] + f"... ({len(text) - _SHOWN_BODY_LIMIT} more characters)"


def _body_summary(delivery: SignedDelivery) -> str:
    try:
        payload = json.loads(delivery.body)
        token = token_id_of(payload)
    except (ValueError, KeyError, TypeError, AttributeError):  # a replayed body may be any bytes
        size = len(delivery.body)
        return f"{size} bytes, not a model_registered event (--show-request prints it)"
    if payload_shape(payload) is Shape.V1:
        what = f"model {payload['model_name']!r} version {payload['model_version']}, flat v1"
    else:
        model = payload["model"]
        what = (
            f"model.id {model['id']!r}, model {model['name']!r} version {model.get('version')}, "
            "nested v2 as the SDK's CLI sends it"
        )
    return (
        f"{len(delivery.body)} bytes: {payload['event_type']} for token {token}, {what} "
        "(--show-request prints it)"
    )


def _indented_step(step: str) -> str:
    # Command lines stand out under the sentence that introduces them, ready to copy.
    return ("    " if step.startswith("hokusai-contract ") else "  ") + step


def render(result: SendTestResult, *, show_request: bool = False) -> list[str]:
    """The lines send-test prints: the request, the answer, the verdict and next steps."""
    from contracts.support.http import cut_words

    lines = [f"sent: POST {redacted_url(result.receiver.url)}"]
    lines += [f"  {name}: {value}" for name, value in result.delivery.headers.items()]
    lines += [f"  {name}: (from --header, not shown)" for name in result.receiver.header_names]
    if show_request:
        lines += ["  body:", "  " + result.delivery.body.decode("utf-8", "backslashreplace")]
    else:
        lines.append(f"  body: {_body_summary(result.delivery)}")
    answer = result.answer
    if answer is not None:
        lines.append(f"answer: {answer.status} {answer.phrase}".rstrip())
        shown = _shown_body(answer.text)
        lines += ["  " + line for line in shown.splitlines()] if shown else ["  (empty body)"]
        if answer.cut_at is not None:
            lines.append(f"  ({cut_words(answer.cut_at)})")
    else:
        lines.append("answer: none")
    interpretation = result.interpretation
    lines.append(f"result: {interpretation.outcome.name}: {interpretation.explanation}")
    if result.state is not None:
        lines.append(f"state: GET {redacted_url(result.state.url)}")
        lines.append(f"  {result.state.after_acceptance}")
    lines += [_indented_step(step) for step in interpretation.next_steps]
    return lines
