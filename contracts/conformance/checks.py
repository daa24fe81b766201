"""The receiver checks: what ``check-receiver`` asks of any handler, in the order asked.

The order matters. Requests that must be refused run first, while the token is still DRAFT, so
that ``rejections-change-no-state`` can prove none of them changed anything; then deliveries
that must be accepted, the first of them on the DRAFT token (so that its transition is seen).
:data:`RECEIVER_CHECKS` is that ordered list; the CLI, the reports and the tests all iterate it.
A handler with no secret configured, one that does not answer, and a token that does not exist
end the run with that one diagnosis.

A receiver may short-cut a delivery for a token that is already REGISTERED ("duplicate")
before it looks at anything else, so a rule is never judged by such deliveries alone: where a
rule holds before the lookup (signature, serialization, timestamp), it is probed with a token
that does not exist, where the contract's answer is 404 once every earlier rule passed; where
it needs a transition, it is probed on a DRAFT token of its own (``--spare-token``), and its
verdict says how strong its evidence is (:class:`~contracts.conformance.receiver_run.Evidence`).

Each finding is a FAIL (it breaks a known sender, or is a security hole) or a WARN (a deviation
no known sender triggers). A refusal sent as ``200 {"success": false}`` is reported once, by
``refusal-status``, and read as a refusal everywhere else; a handler that registers a moment
after answering is given the receiver's settle time wherever the state is read, and reported
once, by ``acceptance-timing``.

The SDK sends the nested v2 body today, and older senders the flat v1 body, so the checks whose
answer depends on the shape judge both (:func:`~contracts.conformance.receiver_run.in_forms`):
acceptance (``valid-delivery``, the nested part being what the SDK's CLI sends: ``model.id`` in
lower case, whole seconds, no optional header), timestamps, duplicates (the nested part as the
SDK's publisher sends it: microseconds and an idempotency key) and, in the nested shape alone,
``api_schema``. Signatures, methods and sizes do not depend on the shape and are judged once.
``webhook-paths`` says when the URL is not the path the SDK posts to, and judges the handler's
other paths given with ``--also-url``.

Checks share nothing but the run's record
(:class:`~contracts.conformance.receiver_run.ReceiverRun`); what they need before they can
judge is declared with ``requires_*`` decorators.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from contracts.bridge.verify import MLFLOW_SIGNATURE_HEADER
from contracts.conformance.answers import (
    ACCEPTANCE_TIMING_FIX,
    ANSWER_FORMAT_FIX,
    API_SCHEMA_FIX,
    CASE_LOOKUP_FIX,
    CRASH_FIX,
    MODEL_ID_CASE_FIX,
    NESTED_SHAPE_FIX,
    OPTIONAL_HEADERS_FIX,
    ORDER_FIX,
    PARSE_AFTER_VERIFY_FIX,
    RAW_BODY_FIX,
    REFUSAL_STATUS_FIX,
    REGISTER_FIX,
    REPLAY_REASON,
    SECRET_FIX,
    SIGNATURE_FIX,
    SIZE_FIX,
    STATUS_CASE_FIX,
    TIMESTAMP_FORMATS_FIX,
    TIMING_SAFE_EQUAL_FIX,
    Answer,
    Meaning,
    TokenStateReading,
    format_problem,
    names_its_signature_problem,
    read_answer,
    seed_fix,
)
from contracts.conformance.checklist import Checklist, StopRun
from contracts.conformance.probe import (
    FLAT,
    SDK_CLI,
    SDK_PUBLISHER,
    BodyForm,
    ConnectionDropped,
    Probe,
    ReceiverUnreachable,
    idempotency_key_of,
    timestamp_ago,
)
from contracts.conformance.receiver_run import (
    DRAFT,
    Evidence,
    ReceiverRun,
    draws_spare,
    guarded,
    in_forms,
    requires_draft_token,
    requires_letters,
    requires_readable_state,
    requires_state_url,
)
from contracts.conformance.results import Finding, Verdict
from contracts.envelope import (
    CURRENT_PATH,
    EVENT_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    MAX_BODY_BYTES,
    SEED_PATH,
    SignedDelivery,
)
from contracts.payload import (
    STATUS_REGISTERED,
    UNCHANGED,
    format_timestamp,
    ordered,
    serialize,
)
from contracts.signing import SIGNATURE_HEADER, SIGNATURE_PREFIX, sign
from contracts.urls import redacted_url

OVERSIZED_BODY_BYTES = MAX_BODY_BYTES + 1024
UNKNOWN_TOKEN = "NOSUCHTOKEN-CONFORMANCE"
"""A token id no receiver has: requests for it must never change anything."""
WRONG_SECRET = "not-the-shared-secret"
NON_ASCII_MODEL_NAME = "Modèle de scoring été 日本"
OTHER_SIGNATURE_HEADER = MLFLOW_SIGNATURE_HEADER
SPARE_HINT = (
    "pass --spare-token with another DRAFT token; five give every check that registers one its "
    "own, the nested ones first"
)
REGISTRATION_FIELDS = (
    "status",
    "model_name",
    "model_version",
    "mlflow_run_id",
    "metric_name",
    "baseline_value",
    "registered_at",
)
"""The fields of a token's state that only a transition may change."""

RECEIVER_CHECKS: Checklist[ReceiverRun] = Checklist(guarded)
receiver_check = RECEIVER_CHECKS.check


# --- reading answers ------------------------------------------------------------------------


def _finding(verdict: Verdict, why: str, fix: str | None, **details: Any) -> Finding:
    """A FAIL or a WARN, as the case's severity says."""
    if verdict is Verdict.WARN:
        return Finding.warned(why, fix, **details)
    return Finding.failed(why, fix, **details)


@dataclass(frozen=True)
class Severity:
    """How bad each wrong answer to a request that must be refused is: accepting it, crashing
    on it (5xx), or refusing it with another status. FAIL when a known sender breaks or it is
    a security hole; WARN when it deviates from the contract in a way no sender triggers."""

    accepted: Verdict = Verdict.FAIL
    crashed: Verdict = Verdict.FAIL
    other: Verdict = Verdict.WARN


SIGNATURE_SEVERITY = Severity()
LENIENT_SEVERITY = Severity(accepted=Verdict.WARN)
"""Accepting the right digest written another way is lenient, not a hole."""
BODY_SEVERITY = Severity(crashed=Verdict.WARN)
"""No sender sends these bodies: a crash on one breaks no delivery."""


def _refused_with_2xx(answer: Answer, what: str) -> Finding:
    return Finding.passed(
        f"{what}: refused, but with {answer.status} and success false (the status is judged "
        "by refusal-status)",
        answer=answer.summary(),
    )


def _refusal(
    answer: Answer,
    expected: int,
    *,
    what: str,
    if_accepted: str,
    fix: str,
    severity: Severity = SIGNATURE_SEVERITY,
) -> Finding:
    """PASS when ``answer`` has the ``expected`` status (or is a refusal sent with 2xx, which
    ``refusal-status`` reports once); otherwise what went wrong, as FAIL or WARN."""
    if answer.status == expected:
        return Finding.passed(f"{what}: refused with {expected}", answer=answer.summary())
    if answer.refused_with_2xx:
        return _refused_with_2xx(answer, what)
    if answer.is_2xx:
        why, verdict = f"{what}: accepted ({answer.status}); {if_accepted}", severity.accepted
    elif answer.is_server_error:
        why = f"{what}: answered {answer.status} (a crash or a misconfiguration), not {expected}"
        verdict = severity.crashed
    else:
        why, verdict = f"{what}: answered {answer.status}, expected {expected}", severity.other
    return _finding(verdict, why, fix, answer=answer.summary())


def _acceptance_problem(
    run: ReceiverRun, answer: Answer, what: str, token: str | None = None
) -> Finding | None:
    """``None`` when a valid delivery (for ``token``) was accepted; else what its answer says."""
    return None if answer.accepted else _not_accepted(run, answer, what, token)


def _not_accepted(run: ReceiverRun, answer: Answer, what: str, token: str | None) -> Finding:
    """What the answer to a valid delivery that was not accepted says, with its fix."""
    reading = read_answer(answer, run.receiver, token, handler_seen=run.handler_seen)
    return Finding.failed(f"{what}: {reading.words}", reading.fix, answer=answer.summary())


def _stop_when_token_missing(run: ReceiverRun, answer: Answer, check_id: str) -> None:
    """A 404 to the first valid deliveries for the token under test: it is not there at all."""
    token = run.receiver.token
    if answer.status != 404 or run.accepted_earlier(token):
        return
    known = run.start_state()
    elsewhere = (
        f" (yet the state URL reads it as {known.status}: the webhook and the state URL look "
        "in different places)"
        if known is not None and known.status is not None
        else ""
    )
    finding = Finding.failed(
        f"token {token} does not exist on the receiver: a valid delivery for it got "
        f"{answer.summary(60)}{elsewhere}",
        seed_fix(token),
        answer=answer.summary(),
    )
    raise StopRun(finding, f"skipped: token {token} does not exist on the receiver ({check_id})")


def _spare_missing(spare: str, answer: Answer) -> Finding:
    return Finding.failed(
        f"spare token {spare} does not exist on the receiver: a valid delivery for it got "
        f"{answer.summary(60)}",
        seed_fix(spare, "--spare-token"),
        answer=answer.summary(),
    )


def _not_registered(
    run: ReceiverRun, what: str, token: str, state: TokenStateReading
) -> Finding | None:
    """``None`` when ``state``, read after the receiver accepted a delivery, is REGISTERED."""
    if state.registered:
        return None
    waited = (
        f" (read again for {run.receiver.settle:g} s; pass a longer --settle if the handler "
        "registers later than that)"
        if state.status is not None
        else ""
    )
    return Finding.failed(f"{what}, token {token}: {state.after_acceptance}{waited}", REGISTER_FIX)


def _settled_state(run: ReceiverRun, token: str) -> TokenStateReading:
    """``token``'s state once it reads REGISTERED, or after the settle time: a handler may
    answer first and register a moment later."""
    return run.probe.wait_for_state(token, lambda reading: reading.registered)


def _state_after_acceptance(run: ReceiverRun, token: str, what: str) -> Finding | None:
    """When the state URL is readable: ``token`` must read REGISTERED (within the settle time)."""
    if not run.state_readable:
        return None
    return _not_registered(run, what, token, _settled_state(run, token))


def _registration_changes(before: TokenStateReading, after: TokenStateReading) -> list[str]:
    """What changed in the fields only a transition may change, as ``field: old -> new``."""
    return [
        f"{name}: {json.dumps(before.document.get(name))} -> {json.dumps(after.document.get(name))}"
        for name in REGISTRATION_FIELDS
        if before.document.get(name) != after.document.get(name)
    ]


def _judged(evidence: Evidence, why: str, **details: Any) -> Finding:
    """A pass, with how strong its evidence is."""
    return Finding.passed(
        why, evidence=evidence.value, weaker_state_check=evidence.weaker, **details
    )


# --- preflight ------------------------------------------------------------------------------

_UNUSABLE = {
    Meaning.NO_SECRET: "the handler has no secret configured",
    Meaning.WRONG_URL: "the URL does not reach the handler",
    Meaning.REPLAY: "the handler's clock is off",
    Meaning.SIGNATURE_REFUSED: "the handler refuses correct signatures",
}
"""Answers that make every later check meaningless, and the reason the others are skipped."""


@receiver_check("receiver-ready", "the handler answers and verifies with the shared secret")
def receiver_ready(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload(token_id=UNKNOWN_TOKEN))
    answer = probe.deliver(delivery, "signed delivery for an unknown token")
    reading = read_answer(answer, run.receiver, UNKNOWN_TOKEN)
    if reading.meaning is Meaning.WRONG_URL:
        seen = _handler_behind_plain_answers(probe, delivery, answer)
        if seen is not None:
            return seen
    if reading.meaning is Meaning.SIGNATURE_REFUSED and not names_its_signature_problem(answer):
        _stop_if_reserializing(probe, answer)
        finding = Finding.failed(
            f"a correctly signed delivery was refused ({answer.summary(60)}), and so was the same "
            f"payload written {_written_otherwise()} and signed over those bytes: the receiver "
            f"holds a different secret than ${run.receiver.secret_env} (the bytes must match: a "
            "trailing newline or space counts)",
            SECRET_FIX,
            answer=answer.summary(),
        )
        raise StopRun(
            finding, "skipped: the receiver verifies with another secret (receiver-ready)"
        )
    unusable = _UNUSABLE.get(reading.meaning)
    if unusable is not None:
        finding = Finding.failed(
            f"a correctly signed delivery got {answer.summary(80)}: {reading.words}",
            reading.fix,
            answer=answer.summary(),
        )
        raise StopRun(finding, f"skipped: {unusable} (receiver-ready)")
    return Finding.passed(
        f"answered {answer.summary(40)} to a signed delivery for an unknown token",
        answer=answer.summary(),
    )


def _forged(delivery: SignedDelivery) -> dict[str, str]:
    """The delivery's headers, signed with another secret: a signature of the right length
    that does not verify (a handler whose comparison throws on other lengths refuses it)."""
    return Probe.with_signature(delivery, sign(delivery.body, WRONG_SECRET))


def _handler_behind_plain_answers(
    probe: Probe, delivery: SignedDelivery, answer: Answer, *, url: str | None = None
) -> Finding | None:
    """A 404 or 405 without the contract's JSON: a wrong URL answers the same whatever the
    signature, while a handler answering in plain text refuses a wrong signature its own way."""
    forged = probe.send(
        "the same delivery signed with another secret", delivery.body, _forged(delivery), url=url
    )
    if forged.status == answer.status:
        return None
    return Finding.passed(
        f"answered {answer.summary(40)} to a signed delivery for an unknown token and "
        f"{forged.summary(40)} to the same delivery signed with another secret: the handler is "
        "there and tells signatures apart, though its answers are not the contract's JSON (see "
        "answers-are-json)",
        answer=answer.summary(),
        plain_answers=True,
    )


_RESERIALIZATIONS: dict[str, tuple[dict[str, Any], str]] = {
    "spaced": (
        {},
        "Python json.dumps(parsed body) with its default ', ' and ': ', as a Flask handler "
        "verifying json.dumps(request.get_json()) does",
    ),
    "sorted keys": (
        {"sort_keys": True, "separators": (",", ":")},
        "a serializer that sorts the keys, as json.dumps(parsed body, sort_keys=True) does",
    ),
    "sorted keys, spaced": (
        {"sort_keys": True},
        "Python json.dumps(parsed body, sort_keys=True) with its default spacing",
    ),
}
"""Ways a handler may write the parsed body again before verifying it, and whose mistake each
is: the compact bytes the SDK signs are then refused, while one of these passes."""


def _written_otherwise() -> str:
    names = list(_RESERIALIZATIONS)
    return ", ".join(names[:-1]) + f" and {names[-1]}"


def _stop_if_reserializing(probe: Probe, answer: Answer) -> None:
    """A correct signature refused: another secret on the handler, or a handler that verifies
    its own re-serialization of the body. The same payload written that other way and signed
    over those bytes passes the signature of the second kind only."""
    payload = ordered(probe.payload(token_id=UNKNOWN_TOKEN))
    for name, (options, whose) in _RESERIALIZATIONS.items():
        body = json.dumps(payload, **options).encode("ascii")
        other = probe.deliver(probe.signed(payload, body=body), f"serialized {name}")
        if other.status != 401:
            finding = Finding.failed(
                f"a correctly signed delivery got {answer.summary(60)}, yet the same payload "
                f"written {name} and signed over those bytes got {other.summary(40)}: the "
                f"handler verifies its own re-serialization of the parsed JSON ({whose}), not "
                "the raw body, so the compact JSON real senders sign is refused",
                RAW_BODY_FIX,
                answer=answer.summary(),
                serialization=name,
            )
            raise StopRun(
                finding, "skipped: the handler verifies a re-serialization (receiver-ready)"
            )


@receiver_check("state-url", "the tokens' state can be read through the state URL")
@requires_state_url
def state_url(run: ReceiverRun) -> Finding:
    token, spares = run.receiver.token, run.receiver.spare_tokens
    states = {each: run.probe.token_state(each) for each in run.receiver.tokens}
    state = states[token]
    if state.token_missing:
        finding = Finding.failed(
            f"token {token} does not exist on the receiver: {state.problem}",
            seed_fix(token) + "; if it does exist, check the --state-url template",
        )
        raise StopRun(finding, f"skipped: token {token} does not exist on the receiver (state-url)")
    if state.status is None:
        return Finding.failed(
            f"{state.problem}; the later checks judge state changes by the answers alone",
            "pass a URL template with {token_id} that answers GET with JSON holding the "
            "token's status",
        )
    missing = [spare for spare in spares if states[spare].token_missing]
    if missing:
        return Finding.failed(
            f"spare token(s) {', '.join(missing)} do not exist on the receiver (the state URL "
            "answers 404)",
            f"seed {', '.join(missing)} as DRAFT on the receiver, or drop those --spare-token "
            "options",
        )
    notes = [
        f"spare token {spare} is {states[spare].in_words}, so it is not used"
        for spare in spares
        if states[spare].status != DRAFT
    ]
    drafts = [spare for spare in spares if states[spare].status == DRAFT]
    if drafts:
        notes.insert(0, f"spare token(s) {', '.join(drafts)} DRAFT")
    if state.status == DRAFT:
        return Finding.passed("; ".join([f"token {token} is DRAFT", *notes]))
    return Finding.passed(
        "; ".join(
            [
                f"token {token} is already {state.status}, so a rejected request that wrongly "
                "registers it cannot be noticed; use a fresh DRAFT token for the stronger check",
                *notes,
            ]
        ),
        weaker_state_check=True,
    )


# --- requests that must be refused (the token stays DRAFT) ----------------------------------


@receiver_check("refusal-status", "a refusal gets a 4xx status, never 2xx with success false")
def refusal_status(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload())
    answer = probe.send("signed with another secret (its status)", delivery.body, _forged(delivery))
    if answer.refused_with_2xx:
        return Finding.failed(
            f"a delivery signed with another secret got {answer.summary(80)}: the handler "
            "refuses with a 2xx status, and senders take any 2xx as delivered and never retry "
            "it, so every refused delivery is lost; the checks below read success false as a "
            "refusal",
            REFUSAL_STATUS_FIX,
            answer=answer.summary(),
        )
    if answer.accepted:
        return Finding.skipped(
            f"a delivery signed with another secret was accepted ({answer.status}): see "
            "signature-wrong-secret",
            answer=answer.summary(),
        )
    return Finding.passed(f"a refusal got {answer.status}, not 2xx", answer=answer.summary())


_IGNORES_SIGNATURES = "the handler ignores signatures: anyone can register any token"
Headers = Callable[[SignedDelivery], dict[str, str]]


@dataclass(frozen=True)
class SignatureMistake:
    """A signature a receiver must refuse with 401: how to make it, how to say it."""

    check_id: str
    title: str
    what: str
    headers: Headers
    if_accepted: str = _IGNORES_SIGNATURES
    severity: Severity = SIGNATURE_SEVERITY
    right_length: bool = False
    """The signature has the length of a real one, so a length-sensitive comparison is not
    what refuses (or crashes on) it."""


SIGNATURE_MISTAKES = (
    SignatureMistake(
        "signature-missing",
        "a delivery without a signature gets 401",
        f"no {SIGNATURE_HEADER} header",
        Probe.without_signature,
    ),
    SignatureMistake(
        "signature-malformed",
        "a malformed signature gets 401",
        "signature 'sha256=not-a-hex-digest'",
        lambda delivery: Probe.with_signature(delivery, "sha256=not-a-hex-digest"),
    ),
    SignatureMistake(
        "signature-wrong-secret",
        "a signature made with another secret gets 401",
        "signed with another secret",
        _forged,
        right_length=True,
    ),
    SignatureMistake(
        "signature-without-prefix",
        "a bare hex digest without 'sha256=' gets 401",
        "the right digest without the 'sha256=' prefix",
        lambda delivery: Probe.with_signature(
            delivery, delivery.signature.removeprefix(SIGNATURE_PREFIX)
        ),
        "the handler accepts a bare hex digest; the contract's header is 'sha256=<hex>', "
        "anything else is malformed",
        LENIENT_SEVERITY,
    ),
    SignatureMistake(
        "signature-other-header",
        f"a signature under {OTHER_SIGNATURE_HEADER} gets 401",
        f"the right signature, but under {OTHER_SIGNATURE_HEADER}",
        lambda delivery: {
            **Probe.without_signature(delivery),
            OTHER_SIGNATURE_HEADER: delivery.signature,
        },
        f"the handler reads another header or ignores signatures; only {SIGNATURE_HEADER} "
        "carries the contract's signature",
        LENIENT_SEVERITY,
    ),
)


def _refuses(mistake: SignatureMistake) -> Callable[[ReceiverRun], Finding]:
    def check(run: ReceiverRun) -> Finding:
        probe = run.probe
        delivery = probe.signed(probe.payload())
        answer = probe.send(mistake.what, delivery.body, mistake.headers(delivery))
        if answer.is_server_error and not mistake.right_length:
            crash = _length_crash(probe, delivery, answer, mistake.what)
            if crash is not None:
                return crash
        return _refusal(
            answer,
            401,
            what=mistake.what,
            if_accepted=mistake.if_accepted,
            fix=SIGNATURE_FIX,
            severity=mistake.severity,
        )

    return check


def _length_crash(
    probe: Probe, delivery: SignedDelivery, answer: Answer, what: str
) -> Finding | None:
    """A crash on a signature of another length, while one of the right length is refused with
    401: the comparison throws on unequal lengths (Node's crypto.timingSafeEqual)."""
    right_length = probe.send(
        "signed with another secret (right length)", delivery.body, _forged(delivery)
    )
    if right_length.status != 401:
        return None
    return Finding.failed(
        f"{what}: answered {answer.summary(50)}, while a wrong signature of the right length "
        "got 401: the handler crashes when the signature's length differs from the expected "
        "one, as crypto.timingSafeEqual does when it is called without comparing lengths first",
        TIMING_SAFE_EQUAL_FIX,
        answer=answer.summary(),
    )


for _mistake in SIGNATURE_MISTAKES:
    receiver_check(_mistake.check_id, _mistake.title)(_refuses(_mistake))


NOT_JSON = b'{"event_type": "model_registered", "token_id": '


@receiver_check(
    "signature-before-parsing", "a wrongly signed body that is not JSON gets 401, not 400"
)
def signature_before_parsing(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload(), body=NOT_JSON)
    answer = probe.send("not JSON, signed with another secret", NOT_JSON, _forged(delivery))
    what = "a truncated JSON body signed with another secret"
    if answer.status == 401:
        return Finding.passed(
            f"{what}: refused with 401: the signature is checked before the body is parsed",
            answer=answer.summary(),
        )
    if answer.refused_with_2xx:
        return _refused_with_2xx(answer, what)
    return Finding.failed(
        f"{what}: answered {answer.summary(60)}, not 401: the handler parses the body before "
        "it checks the signature, so anyone can make it parse (and act on) bytes nobody signed",
        PARSE_AFTER_VERIFY_FIX,
        answer=answer.summary(),
    )


@receiver_check("malformed-json", "a correctly signed body that is not JSON gets 400")
def malformed_json(run: ReceiverRun) -> Finding:
    probe = run.probe
    answer = probe.deliver(probe.signed(probe.payload(), body=NOT_JSON), "malformed JSON")
    return _refusal(
        answer,
        400,
        what="a truncated JSON body",
        if_accepted="the handler does not parse the body it acts on",
        fix="parse the raw body with a JSON parser inside try/catch and answer 400 naming the "
        "problem; never let a parse error escape as a 500",
        severity=BODY_SEVERITY,
    )


def _schema_violations(probe: Probe) -> dict[str, bytes]:
    """Correctly signable bodies that each break the schema in one way."""
    valid = probe.payload()
    missing = {key: value for key, value in valid.items() if key != "model_version"}
    nan_marker = 123456.789
    nan_body = serialize({**valid, "baseline_value": nan_marker}).replace(
        json.dumps(nan_marker).encode(), b"NaN"
    )
    return {
        "missing model_version": serialize(missing),
        "baseline_value of the wrong type": serialize({**valid, "baseline_value": "high"}),
        "a bad token id 'LS_COR'": serialize({**valid, "token_id": "LS_COR"}),
        "baseline_value NaN": nan_body,
        "timestamp 'yesterday'": serialize({**valid, "timestamp": "yesterday"}),
    }


@receiver_check("schema-violations", "bodies that break the schema get 400, never 5xx")
def schema_violations(run: ReceiverRun) -> Finding:
    probe = run.probe
    answers = {
        name: probe.deliver(probe.signed(probe.payload(), body=body), name)
        for name, body in _schema_violations(probe).items()
    }
    wrong = {name: a for name, a in answers.items() if a.status != 400 and not a.refused_with_2xx}
    statuses = {name: a.status for name, a in answers.items()}
    if not wrong:
        return Finding.passed(
            f"all {len(answers)} invalid bodies refused ({', '.join(answers)})",
            statuses=statuses,
        )
    crashed = [name for name, a in wrong.items() if a.is_server_error]
    accepted = [name for name, a in wrong.items() if a.is_2xx]
    parts = []
    if crashed:
        parts.append("answered 5xx to " + ", ".join(crashed))
    if accepted:
        parts.append("accepted " + ", ".join(accepted))
    other = [f"{name} ({a.status})" for name, a in wrong.items() if name not in crashed + accepted]
    if other:
        parts.append("answered other than 400 to " + ", ".join(other))
    return _finding(
        Verdict.FAIL if accepted else Verdict.WARN,
        "; ".join(parts),
        "validate the parsed body against schemas/model_registered.v1.schema.json (NaN is not "
        "JSON) and answer 400 naming the field; " + ORDER_FIX,
        statuses=statuses,
    )


@receiver_check("unknown-token", "an unknown token gets 404, and only after the signature passed")
def unknown_token(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload(token_id=UNKNOWN_TOKEN))
    answer = probe.deliver(delivery, "unknown token")
    if answer.refused_with_2xx:
        return Finding.skipped(
            f"token {UNKNOWN_TOKEN}: refused with {answer.status} and success false, like a "
            "wrong signature, so whether the lookup comes after the signature cannot be told "
            "(see refusal-status)",
            answer=answer.summary(),
        )
    refused = _refusal(
        answer,
        404,
        what=f"token {UNKNOWN_TOKEN}, which does not exist",
        if_accepted="the handler does not look the token up",
        fix="look the upper-cased token id up and answer 404 when there is no such token",
        severity=BODY_SEVERITY,
    )
    if answer.status != 404:
        return refused
    unsigned = probe.send(
        "unknown token, signed with another secret", delivery.body, _forged(delivery)
    )
    if unsigned.status == 401:
        return Finding.passed(
            f"token {UNKNOWN_TOKEN} got 404 when correctly signed and 401 when signed with "
            "another secret: the lookup comes after the signature",
            answer=answer.summary(),
        )
    if unsigned.status == 404:
        return Finding.failed(
            f"a delivery for {UNKNOWN_TOKEN} signed with another secret got 404, not 401: the "
            "handler looks the token up before it verifies the signature, so it acts on "
            "unverified bytes and tells anyone which tokens exist",
            ORDER_FIX,
            answer=unsigned.summary(),
        )
    return Finding.failed(
        f"a delivery for {UNKNOWN_TOKEN} signed with another secret got {unsigned.summary(60)}, "
        "expected 401",
        SIGNATURE_FIX,
        answer=unsigned.summary(),
    )


@receiver_check("oversized-body", "a correctly signed body over 1 MiB gets 413")
def oversized_body(run: ReceiverRun) -> Finding:
    probe = run.probe
    payload = probe.payload(token_id=UNKNOWN_TOKEN)
    unpadded = {**payload, "tags": {**payload["tags"], "padding": ""}}
    padding = "x" * (OVERSIZED_BODY_BYTES - len(serialize(unpadded)))
    big = {**payload, "tags": {**payload["tags"], "padding": padding}}
    body = serialize(big)
    answer = probe.deliver(probe.signed(big, body=body), "oversized body")
    what = f"a {len(body):,}-byte body (over the contract's 1 MiB maximum)"
    if answer.status == 404:
        return Finding.failed(
            f"{what}: answered 404 for its unknown token, so the handler read and parsed it all; "
            "expected 413",
            SIZE_FIX,
            answer=answer.summary(),
        )
    return _refusal(
        answer,
        413,
        what=what,
        if_accepted="the handler has no body size limit",
        fix=SIZE_FIX,
        severity=BODY_SEVERITY,
    )


@receiver_check("wrong-method", "GET and PUT get 405")
def wrong_method(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload(token_id=UNKNOWN_TOKEN))
    answers = {
        "GET": probe.send("GET", None, {"Accept": "application/json"}, method="GET"),
        "PUT": probe.deliver(delivery, "PUT", method="PUT"),
    }
    wrong = {
        method: a for method, a in answers.items() if a.status != 405 and not a.refused_with_2xx
    }
    statuses = {method: a.status for method, a in answers.items()}
    if not wrong:
        return Finding.passed("GET and PUT refused", statuses=statuses)
    listing = ", ".join(f"{method} got {a.status}" for method, a in wrong.items())
    return Finding.warned(
        f"{listing}, expected 405 (no sender uses another method)",
        "answer every method other than POST with 405 and an Allow: POST header",
        statuses=statuses,
    )


@receiver_check("rejections-change-no-state", "refused requests left the token in DRAFT")
@requires_state_url
@requires_readable_state
@requires_draft_token
def rejections_change_no_state(run: ReceiverRun) -> Finding:
    token = run.receiver.token
    accepted = [
        f"{sent.check_id} ({sent.label}: {sent.answer.status})"
        for sent in run.probe.sent
        if sent.answer.accepted
    ]
    # A request wrongly accepted may be registered a moment after its answer (a queue).
    now = (
        run.probe.wait_for_state(token, lambda reading: reading.status != DRAFT)
        if accepted
        else run.probe.token_state()
    )
    if now.status == DRAFT:
        return Finding.passed(f"token {token} is still DRAFT after every refused request")
    if accepted:
        return Finding.failed(
            f"token {token} is {now.in_words} although every request so far had to be "
            f"refused; these were answered 2xx, so any of them may have registered it: "
            f"{', '.join(accepted)}",
            "refuse each of them as its own check says; " + ORDER_FIX,
            accepted=accepted,
        )
    return Finding.failed(
        f"token {token} is {now.in_words} although every request so far was refused: the "
        "handler changes state before verifying or validating",
        ORDER_FIX,
    )


# --- deliveries that must be accepted -------------------------------------------------------


@receiver_check("lowercase-status", "a lower-case status 'registered' registers the DRAFT token")
def lowercase_status(run: ReceiverRun) -> Finding:
    probe, token, evidence = run.probe, run.receiver.token, run.evidence
    payload = probe.edited(probe.payload(), status=STATUS_REGISTERED.lower())
    answer = probe.deliver(probe.signed(payload, body=serialize(payload)), "lower-case status")
    _stop_when_token_missing(run, answer, "lowercase-status")
    problem = _acceptance_problem(run, answer, 'status "registered"')
    if problem is not None and answer.status == 400:
        return Finding.failed(problem.why, STATUS_CASE_FIX, answer=answer.summary())
    landed = problem or _state_after_acceptance(run, token, 'status "registered"')
    if landed is not None:
        return landed
    if evidence is Evidence.TRANSITION_SEEN:
        why = f'status "registered" moved token {token} from DRAFT to REGISTERED (the state URL '
        return _judged(evidence, why + "confirms it)")
    if evidence is Evidence.TRANSITION_ANSWERED:
        why = 'status "registered" accepted (pass --state-url to see it register the token)'
        return _judged(evidence, why)
    start = run.start_state()
    already = start.in_words if start is not None else STATUS_REGISTERED
    return _judged(
        evidence,
        f'status "registered" accepted; token {token} was already {already}, so no transition '
        "was seen",
    )


@receiver_check("valid-delivery", "a valid delivery, flat and as the SDK sends it, is accepted")
@in_forms(FLAT, SDK_CLI)
@draws_spare(with_letters=True, forms=(SDK_CLI,))
def valid_delivery(run: ReceiverRun) -> Finding:
    """The flat v1 body for the token under test (REGISTERED by now); the nested body exactly
    as the SDK's CLI sends it, on a DRAFT token of its own when one is left: it is the gate of
    every later nested check."""
    if run.form.nested:
        return _nested_delivery(run)
    probe, token = run.probe, run.receiver.token
    answer = probe.deliver(probe.signed(probe.payload()), "valid delivery")
    _stop_when_token_missing(run, answer, "valid-delivery")
    problem = _acceptance_problem(run, answer, "a valid signed delivery")
    landed = problem or _state_after_acceptance(run, token, "a valid signed delivery")
    if landed is not None:
        return landed
    said = f"answered {answer.status} with success true"
    return Finding.passed(
        f"{said}; token {token} is REGISTERED" if run.state_readable else said,
        answer=answer.summary(),
    )


def _nested_delivery(run: ReceiverRun) -> Finding:
    probe, subject, evidence, form = run.probe, run.subject, run.evidence, run.form
    token = subject.token
    payload = probe.payload(token_id=token)
    sent = str(probe.field(payload, "token_id"))
    answer = probe.deliver(probe.signed(payload), f"{form.name} delivery")
    if not answer.accepted:
        return _nested_refused(run, token, payload, answer, form=form)
    landed = _named_another_token(answer, sent, token) or _state_after_acceptance(
        run, token, f"{form.words}, model.id {sent!r}"
    )
    if landed is not None:
        return landed
    why = _lookup_evidence(evidence, f"model.id {sent!r}", token)
    return _judged(evidence, f"{form.words}: {why}", answer=answer.summary())


def _lookup_evidence(evidence: Evidence, sent: str, token: str) -> str:
    """How strongly an accepted delivery naming the token as ``sent`` shows it landed on
    ``token``: a transition seen on the state URL, one answered, or a lookup only."""
    if evidence is Evidence.TRANSITION_SEEN:
        return f"{sent} moved DRAFT token {token} to REGISTERED (the state URL confirms)"
    if evidence is Evidence.TRANSITION_ANSWERED:
        return (
            f"{sent} accepted for DRAFT token {token} (pass --state-url to confirm it landed there)"
        )
    return (
        f"{sent} accepted for {token}; weaker evidence: {token} was already REGISTERED, so this "
        f"shows the lookup but not a transition ({SPARE_HINT})"
    )


@dataclass(frozen=True)
class _Variant:
    """The nested body changed in one way: if that is accepted while the body the SDK sends
    is not, the change names the cause."""

    label: str
    cause: str
    fix: str
    form: BodyForm | None = None
    """Sent in this form instead (its headers); ``None``: in the form of the refused body."""
    changes: Callable[[str], dict[str, Any]] = lambda token: {}
    """What :meth:`Probe.edited` changes, given the upper-case token id."""
    applies: Callable[[BodyForm], bool] = lambda form: True
    """Whether the change changes anything in the refused body's form."""


_NESTED_VARIANTS = (
    _Variant(
        "with model.id upper-cased",
        "the handler looks model.id up as sent, and the SDK sends it in lower case",
        MODEL_ID_CASE_FIX,
        changes=lambda token: {"token_id": token},
    ),
    _Variant(
        "with model.status 'REGISTERED'",
        "the handler compares model.status case-sensitively, and the SDK writes 'registered'",
        STATUS_CASE_FIX,
        changes=lambda token: {"status": STATUS_REGISTERED},
    ),
    _Variant(
        f"sent with {EVENT_HEADER} and {IDEMPOTENCY_KEY_HEADER}",
        "the handler requires a header the SDK's CLI does not send",
        OPTIONAL_HEADERS_FIX,
        form=dataclasses.replace(SDK_CLI, event_header=True, idempotency_key=True),
        applies=lambda form: not (form.event_header and form.idempotency_key),
    ),
    _Variant(
        "stamped with microseconds",
        "the handler refuses the whole-second timestamps the SDK's CLI writes",
        TIMESTAMP_FORMATS_FIX,
        changes=lambda token: {"timestamp": format_timestamp()},
        applies=lambda form: form.whole_seconds,
    ),
)


def _nested_refused(
    run: ReceiverRun,
    token: str,
    payload: Mapping[str, Any],
    answer: Answer,
    *,
    form: BodyForm = SDK_CLI,
    url: str | None = None,
) -> Finding:
    """The nested body the SDK sends (in ``form``) was refused: send it again changed in one way
    at a time, then the flat body for the same token, and name the change that was accepted."""
    probe = run.probe
    refused = f"{form.words}, for token {token}, got {answer.summary(60)}"
    for variant in _NESTED_VARIANTS:
        if not variant.applies(form):
            continue
        changed = probe.edited(payload, **variant.changes(token))
        with probe.in_form(variant.form or form):
            other = probe.deliver(probe.signed(changed), variant.label, url=url)
        if other.accepted:
            return Finding.failed(
                f"{refused}, while the same body {variant.label} was accepted: {variant.cause}",
                variant.fix,
                answer=answer.summary(),
            )
    with probe.in_form(FLAT):
        flat = probe.deliver(probe.signed(probe.payload(token_id=token)), "flat v1", url=url)
    if flat.status == 404 and not run.known_to_exist(token):
        if token == run.receiver.token:
            return Finding.failed(
                f"token {token} does not exist on the receiver: {refused}, and the flat body "
                f"got {flat.summary(60)}",
                seed_fix(token),
                answer=answer.summary(),
            )
        return _spare_missing(token, flat)
    if flat.accepted:
        return Finding.failed(
            f"{refused}, while the flat v1 body for the same token was accepted: the handler "
            "reads only the flat shape (a top-level token_id), so every delivery the SDK sends "
            "since 2026-04-30 (a top-level model object) is refused",
            NESTED_SHAPE_FIX,
            answer=answer.summary(),
        )
    return _not_accepted(run, answer, refused, token)


def _named_another_token(answer: Answer, sent: str, token: str) -> Finding | None:
    """The answer names a token other than the one the id sent (in any case) stands for."""
    reported = answer.field("token_id")
    if isinstance(reported, str) and reported.upper() != token:
        return Finding.failed(
            f"token id {sent!r} was accepted but the answer names token {reported!r}, not {token}",
            "upper-case the token id before the lookup and in the answer",
        )
    return None


def _lowercase_missed(run: ReceiverRun, token: str, lower: str, answer: Answer) -> Finding:
    """A 404 for the lower-case id: a case-sensitive lookup, unless the token is not there."""
    if not run.known_to_exist(token):
        probe = run.probe
        upper = probe.deliver(probe.signed(probe.payload(token_id=token)), "upper-case id")
        if upper.status == 404:
            return _spare_missing(token, upper)
    return Finding.failed(
        f"token id {lower!r} got 404 although {token} exists: the handler looks the id up as sent",
        CASE_LOOKUP_FIX,
        answer=answer.summary(),
    )


def _lowercase_refused(run: ReceiverRun, token: str, lower: str, answer: Answer) -> Finding:
    """A lower-case id refused otherwise than with 404: if the upper-case id is accepted, the
    handler takes the id as sent (a case-sensitive lookup or validation); else its answer says
    what is wrong."""
    probe = run.probe
    upper = probe.deliver(probe.signed(probe.payload(token_id=token)), "upper-case id")
    if upper.accepted:
        return Finding.failed(
            f"token id {lower!r} got {answer.summary(60)} while {token!r} was accepted: the "
            "handler takes the id as sent, so a sender writing it in lower case is refused",
            CASE_LOOKUP_FIX,
            answer=answer.summary(),
        )
    return _not_accepted(run, answer, f"token id {lower!r}", token)


@receiver_check("lowercase-token-id", "a lower-case token id lands on the upper-case token")
@draws_spare(with_letters=True)
@requires_letters
def lowercase_token_id(run: ReceiverRun) -> Finding:
    probe, token, evidence = run.probe, run.subject.token, run.evidence
    lower = token.lower()
    payload = probe.edited(probe.payload(token_id=token), token_id=lower)
    answer = probe.deliver(probe.signed(payload, body=serialize(payload)), "lower-case token")
    if answer.status == 404:
        return _lowercase_missed(run, token, lower, answer)
    if not answer.accepted:
        return _lowercase_refused(run, token, lower, answer)
    landed = _named_another_token(answer, lower, token) or _state_after_acceptance(
        run, token, f"token id {lower!r}"
    )
    if landed is not None:
        return landed
    return _judged(evidence, _lookup_evidence(evidence, f"token id {lower!r}", token))


def _serializations(payload: Mapping[str, Any]) -> dict[str, bytes]:
    """The same event in the ways real senders write JSON, each to be signed over its bytes."""
    fields = ordered(payload)
    non_ascii = {**fields, "model_name": NON_ASCII_MODEL_NAME}
    reversed_keys = dict(reversed(list(fields.items())))
    return {
        "compact": serialize(fields),
        "spaced": json.dumps(fields).encode("ascii"),
        "reordered keys": json.dumps(reversed_keys, separators=(",", ":")).encode("ascii"),
        "\\u escapes": serialize(non_ascii),
        "raw UTF-8": json.dumps(non_ascii, separators=(",", ":"), ensure_ascii=False).encode(),
        "baseline 1.0": serialize({**fields, "baseline_value": 1.0}),
        "baseline 1": serialize({**fields, "baseline_value": 1}),
    }


_ACCEPTED_SERIALIZATION = "raw UTF-8"
_JSON_STRINGIFY_MISSES = frozenset({"spaced", "\\u escapes", "baseline 1.0"})
_PYTHON_DUMPS_MISSES = frozenset({"spaced", "raw UTF-8"})


def _reserializer_hint(refused: set[str]) -> str:
    if refused == _JSON_STRINGIFY_MISSES:
        return (
            " (the pattern of JSON.stringify(parsed body), as after express.json() or "
            "Next.js request.json())"
        )
    if refused == _PYTHON_DUMPS_MISSES:
        return " (the pattern of Python json.dumps(parsed body, separators=(',', ':')))"
    return ""


@dataclass(frozen=True)
class _PastVerification:
    """Where to send a request that should pass every rule before the token lookup.

    To the unknown token when ``unknown-token`` passed, so that its 404 is known to come last
    (then 404 means "passed", whatever the receiver does with known tokens); else to the token
    under test, already REGISTERED, where 200 means "passed" but a receiver answering
    duplicates early proves less.
    """

    token: str
    status: int
    meaning: str

    @classmethod
    def of(cls, run: ReceiverRun) -> _PastVerification:
        if run.passed("unknown-token"):
            return cls(UNKNOWN_TOKEN, 404, f"404 for the unknown token {UNKNOWN_TOKEN}")
        token = run.receiver.token
        return cls(token, 200, f"200 for the already REGISTERED token {token}")

    def passed(self, answer: Answer) -> bool:
        return answer.accepted if self.status == 200 else answer.status == self.status

    @property
    def weaker(self) -> str:
        if self.status == 404:
            return ""
        return (
            "; weaker evidence: the unknown token could not be used (see unknown-token), and a "
            "handler may answer an already REGISTERED token before verifying anything"
        )


@receiver_check("raw-body-verified", "any serialization signed over its own bytes is accepted")
def raw_body_verified(run: ReceiverRun) -> Finding:
    probe, token = run.probe, run.receiver.token
    past = _PastVerification.of(run)
    payload = probe.payload(token_id=past.token)
    answers = {
        name: probe.deliver(probe.signed(payload, body=body), f"serialized {name}")
        for name, body in _serializations(payload).items()
    }
    statuses = {name: a.status for name, a in answers.items()}
    refused = {name for name, a in answers.items() if not past.passed(a)}
    if refused:
        return _serialization_failure(answers, refused, past, statuses)
    if past.status == 404:
        own = probe.payload()
        body = _serializations(own)[_ACCEPTED_SERIALIZATION]
        answer = probe.deliver(
            probe.signed(own, body=body), f"serialized {_ACCEPTED_SERIALIZATION}"
        )
        what = f"the {_ACCEPTED_SERIALIZATION} serialization for token {token}"
        problem = _acceptance_problem(run, answer, what)
        if problem is not None:
            return problem
        statuses[f"{_ACCEPTED_SERIALIZATION} for {token}"] = answer.status
    return Finding.passed(
        f"all {len(answers)} serializations passed the signature check ({past.meaning})"
        + (f" and the {_ACCEPTED_SERIALIZATION} one was accepted" if past.status == 404 else "")
        + f": the raw body is verified{past.weaker}",
        statuses=statuses,
    )


def _serialization_failure(
    answers: dict[str, Answer],
    refused: set[str],
    past: _PastVerification,
    statuses: dict[str, int],
) -> Finding:
    if "compact" in refused:
        return Finding.failed(
            f"even the compact serialization the reference sender uses got "
            f"{answers['compact'].summary(60)}, not {past.status}; see valid-delivery and "
            "unknown-token first",
            statuses=statuses,
        )
    listing = ", ".join(sorted(refused))
    if all(answers[name].status == 401 for name in refused):
        hint = _reserializer_hint(refused)
        return Finding.failed(
            f"compact JSON passes but {listing} got 401: the handler verifies a "
            f"re-serialization of the parsed JSON, not the raw body{hint}",
            RAW_BODY_FIX,
            statuses=statuses,
            compact_only="spaced" in refused,
        )
    return Finding.failed(
        f"correctly signed serializations got other than {past.status}: "
        + ", ".join(f"{name} ({answers[name].status})" for name in sorted(refused)),
        "decode the raw body as UTF-8 JSON, whatever its whitespace, key order or escapes; "
        + RAW_BODY_FIX,
        statuses=statuses,
    )


@receiver_check("signature-uppercase-hex", "a signature in upper-case hex is accepted")
def signature_uppercase_hex(run: ReceiverRun) -> Finding:
    probe = run.probe
    past = _PastVerification.of(run)
    delivery = probe.signed(probe.payload(token_id=past.token))
    upper = SIGNATURE_PREFIX + delivery.signature[len(SIGNATURE_PREFIX) :].upper()
    answer = probe.send("upper-case hex", delivery.body, probe.with_signature(delivery, upper))
    if past.passed(answer):
        return Finding.passed(
            f"upper-case hex digest passed the signature check ({past.meaning}){past.weaker}"
        )
    return Finding.warned(
        f"an upper-case hex digest got {answer.summary(60)}, not {past.status}; the contract "
        "accepts either case (every known sender writes lower case)",
        "decode the hex digest to bytes and compare bytes in constant time (not the strings)",
        answer=answer.summary(),
    )


# --- what real senders send -----------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """A token to send a request every sender may send to, and what must come back."""

    token: str
    expected: str
    passes: Callable[[Answer], bool]


def _sender_targets(run: ReceiverRun) -> list[_Target]:
    """The unknown token, once ``unknown-token`` showed its 404 comes after every rule before
    the lookup; and the token under test, REGISTERED by now, where an acceptance is due (a
    handler may also check such a rule after the lookup)."""
    targets = []
    if run.passed("unknown-token"):
        targets.append(_Target(UNKNOWN_TOKEN, "404", lambda answer: answer.status == 404))
    token = run.receiver.token
    if run.accepted_earlier(token):
        targets.append(_Target(token, "an acceptance", lambda answer: answer.accepted))
    return targets


_NO_TARGET = (
    "no token to send to: the unknown token's 404 did not come last (see unknown-token) and no "
    "delivery for the token under test was accepted"
)


def _refused_variants(
    run: ReceiverRun, build: Callable[[str], tuple[bytes, dict[str, str]]], label: str
) -> tuple[list[str], list[str]]:
    """Send the request ``build`` makes for each target; what was refused and the targets'
    words."""
    refused, sent_to = [], []
    for target in _sender_targets(run):
        body, headers = build(target.token)
        answer = run.probe.send(f"{label} ({target.token})", body, headers)
        sent_to.append(f"{target.expected} for {target.token}")
        if not target.passes(answer):
            refused.append(f"{label} got {answer.summary(50)} for {target.token}")
    return refused, sent_to


def _timestamp_formats() -> dict[str, tuple[str, str]]:
    """The same moment as each real sender writes it: label -> (timestamp, who writes it)."""
    now = datetime.now(timezone.utc)
    seconds = now.strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "whole seconds": (f"{seconds}Z", "the SDK's CLI"),
        "milliseconds": (f"{seconds}.{now.microsecond // 1000:03d}Z", "JavaScript toISOString"),
        "microseconds": (f"{seconds}.{now.microsecond:06d}Z", "the SDK's publisher"),
        "+00:00": (f"{seconds}.{now.microsecond:06d}+00:00", "Python isoformat, aware"),
    }


@receiver_check("timestamp-formats", "timestamps as real senders write them pass validation")
@in_forms(FLAT, SDK_CLI)
def timestamp_formats(run: ReceiverRun) -> Finding:
    probe = run.probe
    if not _sender_targets(run):
        return Finding.skipped(_NO_TARGET)
    refused: list[str] = []
    sent_to: list[str] = []
    for label, (timestamp, whose) in _timestamp_formats().items():

        def build(token: str, timestamp: str = timestamp) -> tuple[bytes, dict[str, str]]:
            delivery = probe.signed(
                probe.edited(probe.payload(token_id=token), timestamp=timestamp)
            )
            return delivery.body, delivery.headers

        missed, sent_to = _refused_variants(run, build, f"{timestamp!r} ({label}, {whose})")
        refused += missed
    if refused:
        return Finding.failed(
            "; ".join(refused) + ": real senders write these timestamps",
            TIMESTAMP_FORMATS_FIX,
            refused=refused,
        )
    return Finding.passed(
        f"{', '.join(_timestamp_formats())} timestamps all passed ({'; '.join(sent_to)})"
    )


_HEADER_VARIANTS = {
    f"no {EVENT_HEADER}": (EVENT_HEADER,),
    f"no {IDEMPOTENCY_KEY_HEADER}": (IDEMPOTENCY_KEY_HEADER,),
    "neither header (as the SDK's CLI sends)": (EVENT_HEADER, IDEMPOTENCY_KEY_HEADER),
}


@receiver_check("optional-headers", "deliveries without the event or idempotency header pass")
def optional_headers(run: ReceiverRun) -> Finding:
    probe = run.probe
    if not _sender_targets(run):
        return Finding.skipped(_NO_TARGET)
    refused: list[str] = []
    sent_to: list[str] = []
    for label, dropped in _HEADER_VARIANTS.items():

        def build(token: str, dropped: tuple[str, ...] = dropped) -> tuple[bytes, dict[str, str]]:
            delivery = probe.signed(probe.payload(token_id=token))
            headers = {k: v for k, v in delivery.headers.items() if k not in dropped}
            return delivery.body, headers

        missed, sent_to = _refused_variants(run, build, label)
        refused += missed
    if refused:
        return Finding.failed(
            "; ".join(refused) + ": the SDK's CLI sends neither header",
            OPTIONAL_HEADERS_FIX,
            refused=refused,
        )
    return Finding.passed(
        f"deliveries without {EVENT_HEADER}, without {IDEMPOTENCY_KEY_HEADER} and without "
        f"both passed ({'; '.join(sent_to)})"
    )


_DUPLICATE_FIX = (
    "remember idempotency keys (or see that the token is already REGISTERED) and answer a "
    "repeat 200 with duplicate: true without changing anything"
)


def _answered_as_new(what: str, answer: Answer) -> Finding | None:
    """A repeat, or a delivery for a REGISTERED token, must not be a new registration."""
    if answer.field("duplicate") is not False:
        return None
    return Finding.failed(
        f"{what} was answered as a new registration (duplicate: false)",
        _DUPLICATE_FIX,
        answer=answer.summary(),
    )


def _reported(second: Answer) -> str:
    if second.field("duplicate") is True:
        return "the repeat reported as duplicate"
    return "the handler does not report duplicates (the optional 'duplicate' field)"


@receiver_check("duplicate-delivery", "the same delivery twice: 200 both times, one transition")
@in_forms(FLAT, SDK_PUBLISHER)
@draws_spare()
def duplicate_delivery(run: ReceiverRun) -> Finding:
    """A delivery and its exact repeat (the same bytes and idempotency key, as a retry sends
    them). For a token already REGISTERED, a flat delivery of another version must change
    nothing; a nested one may move its latest version on (see ``api-schema``), so only the
    repeat is held to changing nothing."""
    probe, subject, evidence = run.probe, run.subject, run.evidence
    token, nested = subject.token, run.form.nested
    whose = f"DRAFT token {token}" if subject.own else f"the already REGISTERED token {token}"
    # The state the deliveries must leave unchanged: read before a flat delivery for the
    # REGISTERED token, which is a later version and must change nothing; after the first
    # delivery otherwise.
    before_first = not subject.own and not nested and run.state_readable
    settled = _settled_state(run, token) if before_first else None
    version = "2" if before_first or (not subject.own and not nested) else "1"
    delivery = probe.signed(probe.payload(token_id=token, model_version=version))
    first = probe.deliver(delivery, f"delivery for {whose}")
    if first.status == 404 and subject.own:
        return _spare_missing(token, first)
    problem = _acceptance_problem(run, first, f"the delivery for {whose}", token)
    if problem is not None:
        return problem
    if not before_first and run.state_readable:
        settled = _settled_state(run, token)
        landed = _not_registered(run, f"the delivery for {whose}", token, settled)
        if landed is not None and subject.own:
            return landed
    second = probe.deliver(delivery, "its exact repeat")
    key = idempotency_key_of(delivery)
    repeat = f"the exact repeat (idempotency key {key})" if key else "the exact repeat"
    problem = _acceptance_problem(run, second, "its exact repeat", token) or _answered_as_new(
        repeat, second
    )
    if not subject.own and run.accepted_earlier(token):
        problem = problem or _answered_as_new(f"a delivery for {whose}", first)
    if problem is not None:
        return problem
    changes = _changes_since(run, token, settled)
    if changes:
        return Finding.failed(
            f"token {token} changed on a repeat although it was already REGISTERED "
            f"({'; '.join(changes)}): a second transition",
            _DUPLICATE_FIX,
        )
    words = _duplicate_words(evidence, token, second, compared=changes is not None)
    return _judged(evidence, words, second=second.summary())


def _changes_since(
    run: ReceiverRun, token: str, settled: TokenStateReading | None
) -> list[str] | None:
    """What changed in ``token``'s registration since ``settled``; ``None`` when nothing
    REGISTERED was read to compare with. A handler that registers after answering is given
    the settle time to show a change."""
    if settled is None or not settled.registered:
        return None
    if run.answers_before_registering:
        now = run.probe.wait_for_state(
            token, lambda reading: bool(_registration_changes(settled, reading))
        )
    else:
        now = run.probe.token_state(token)
    return _registration_changes(settled, now)


def _duplicate_words(evidence: Evidence, token: str, second: Answer, compared: bool) -> str:
    if evidence is Evidence.TRANSITION_SEEN:
        return (
            f"the delivery moved {token} from DRAFT to REGISTERED; its exact repeat (same "
            f"idempotency key) got 200 and changed nothing (the state URL confirms); "
            f"{_reported(second)}"
        )
    if evidence is Evidence.TRANSITION_ANSWERED:
        return (
            f"the delivery for DRAFT token {token} and its exact repeat got 200; "
            f"{_reported(second)} (pass --state-url to see a single transition)"
        )
    confirmed = (
        "nothing changed (the state URL confirms)"
        if compared
        else "pass --state-url to see that nothing changed"
    )
    return (
        f"a delivery for the already REGISTERED token {token} and its exact repeat got 200; "
        f"{_reported(second)}; {confirmed}; weaker evidence than a DRAFT token's single "
        f"transition ({SPARE_HINT})"
    )


_NAIVE_TIMESTAMP_FIX = (
    "parse a timestamp without offset as UTC, not as local time and not as an error"
)
_OLDER_SENDERS = (
    "older senders wrote datetime.utcnow().isoformat(), which the contract reads as UTC"
)


@receiver_check("timestamp-without-offset", "a timestamp without offset is read as UTC")
@draws_spare()
def timestamp_without_offset(run: ReceiverRun) -> Finding:
    """With a DRAFT token of its own, the whole way: the token is registered by a delivery
    stamped without an offset. Without one, that such a delivery passes validation."""
    probe, subject, evidence = run.probe, run.subject, run.evidence
    past = None if subject.own else _PastVerification.of(run)
    token = subject.token if past is None else past.token
    payload = probe.payload(token_id=token)
    naive = str(probe.field(payload, "timestamp")).rstrip("Z")
    answer = probe.deliver(
        probe.signed(probe.edited(payload, timestamp=naive)), "timestamp no offset"
    )
    if past is not None:
        if past.passed(answer):
            return _judged(
                evidence,
                f"timestamp {naive!r} (no offset, as older senders wrote) passed validation "
                f"({past.meaning}){past.weaker}; weaker evidence than a DRAFT token registered "
                f"with it ({SPARE_HINT})",
            )
        return Finding.failed(
            f"timestamp {naive!r} got {answer.summary(60)}, not {past.status}; {_OLDER_SENDERS}",
            _NAIVE_TIMESTAMP_FIX,
            answer=answer.summary(),
        )
    if answer.status == 404:
        return _spare_missing(token, answer)
    problem = _acceptance_problem(run, answer, f"a delivery stamped {naive!r} (no offset)", token)
    if problem is not None:
        return Finding.failed(
            f"{problem.why}; {_OLDER_SENDERS}", _NAIVE_TIMESTAMP_FIX, answer=answer.summary()
        )
    landed = _state_after_acceptance(run, token, f"a delivery stamped {naive!r}")
    if landed is not None:
        return landed
    confirmed = " (the state URL confirms it)" if evidence is Evidence.TRANSITION_SEEN else ""
    return _judged(
        evidence,
        f"timestamp {naive!r} (no offset, as older senders wrote) registered DRAFT token "
        f"{token}{confirmed}",
    )


@receiver_check("stale-timestamp", "old timestamps: the receiver's replay policy is observed")
def stale_timestamp(run: ReceiverRun) -> Finding:
    probe = run.probe
    past = _PastVerification.of(run)
    ages = {"1 hour": 3600.0, "1 day": 86400.0}
    answers = {
        label: probe.deliver(
            probe.signed(probe.payload(token_id=past.token, timestamp=timestamp_ago(seconds))),
            f"{label} old",
        )
        for label, seconds in ages.items()
    }
    statuses = {label: a.status for label, a in answers.items()}
    bad = {
        label: a
        for label, a in answers.items()
        if not past.passed(a) and a.status != 401 and not a.refused_with_2xx
    }
    if bad:
        listing = ", ".join(f"{label} old got {a.summary(50)}" for label, a in bad.items())
        return Finding.warned(
            f"{listing}; an old timestamp either passes ({past.meaning}) or is refused as a "
            "replay (401)",
            "refuse a timestamp outside your tolerance with 401 (reason "
            f"{REPLAY_REASON}), or accept it",
            statuses=statuses,
        )
    refused = [label for label, a in answers.items() if a.status == 401 or a.refused_with_2xx]
    if not refused:
        return Finding.passed(
            f"deliveries stamped 1 hour and 1 day ago passed ({past.meaning}): no replay "
            "tolerance enforced (allowed by the contract; duplicates are still idempotent)"
            + past.weaker,
            statuses=statuses,
            tolerance="none",
        )
    reported = next(
        (a.field("tolerance_seconds") for a in answers.values() if a.field("tolerance_seconds")),
        None,
    )
    told = f"reported {reported:g} s" if isinstance(reported, (int, float)) else "not reported"
    window = "under 1 hour" if "1 hour" in refused else "between 1 hour and 1 day"
    return Finding.passed(
        f"enforces a tolerance ({told}; observed {window}): refused {', '.join(refused)} old",
        statuses=statuses,
        tolerance=reported,
    )


API_SCHEMA_EXAMPLE: dict[str, Any] = {
    "inputSchema": {
        "type": "object",
        "properties": {"industry": {"type": "string"}},
        "required": ["industry"],
    },
    "outputSchema": {"type": "object", "properties": {"lead_score": {"type": "number"}}},
}
"""An API schema as the SDK derives it from a column signature."""


@dataclass(frozen=True)
class _SchemaStep:
    """One later version sent, what its ``api_schema`` is, and what the state must then show."""

    label: str
    sent: Any
    expected: dict[str, Any] | None
    rule: str
    severity: Verdict


_SCHEMA_STEPS = (
    _SchemaStep(
        "an api_schema object", API_SCHEMA_EXAMPLE, API_SCHEMA_EXAMPLE, "replace", Verdict.FAIL
    ),
    _SchemaStep("no api_schema", UNCHANGED, API_SCHEMA_EXAMPLE, "keep", Verdict.FAIL),
    _SchemaStep("api_schema null", None, None, "clear", Verdict.WARN),
)
"""Replacing and keeping break the SDK's CLI when wrong; no known sender sends null today."""


def _stored_schema(reading: TokenStateReading) -> Any:
    """The state's ``api_schema``, parsed when a handler keeps it as JSON text."""
    value = reading.document.get("api_schema")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _stored_version(reading: TokenStateReading) -> int:
    value = reading.document.get("model_version")
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else 1


@receiver_check(
    "api-schema", "a later nested version: api_schema absent keeps, null clears, object replaces"
)
@in_forms(SDK_PUBLISHER)
@requires_readable_state
def api_schema(run: ReceiverRun) -> Finding:
    """Three later versions of the token the nested gate registered, each read back: one with
    an API schema, one without, one with null. Stamped with microseconds, so that a website
    recognising repeats by event, model id and timestamp never takes one for another."""
    probe = run.probe
    gate = run.nested_gate()
    token = run.subject_for(*gate).token if gate is not None else run.receiver.token
    before = probe.token_state(token)
    if "api_schema" not in before.document:
        return Finding.skipped(
            f"the state URL does not show api_schema for {token}, so what the handler keeps of "
            "it cannot be seen"
        )
    version = _stored_version(before)
    for offset, step in enumerate(_SCHEMA_STEPS, start=1):
        sent_version = str(version + offset)
        payload = probe.payload(token_id=token, model_version=sent_version, api_schema=step.sent)
        what = f"version {sent_version} of {token} with {step.label}"
        answer = probe.deliver(probe.signed(payload), what)
        if not answer.accepted:
            return _not_accepted(run, answer, what, token)
        now = _state_after_update(run, token, sent_version)
        stored = _stored_schema(now)
        if stored != step.expected:
            return _finding(
                step.severity,
                f"{what} was accepted, yet the state shows api_schema {json.dumps(stored)} "
                f"(model_version {json.dumps(now.document.get('model_version'))}): "
                f"{step.label} must {step.rule} the stored API schema",
                API_SCHEMA_FIX,
                answer=answer.summary(),
            )
    return Finding.passed(
        f"later nested versions of {token}: an api_schema object replaced the stored one, a "
        "version without api_schema kept it, and null cleared it (the state URL shows each)"
    )


def _state_after_update(run: ReceiverRun, token: str, version: str) -> TokenStateReading:
    """``token``'s state after a later version was accepted: once it shows that version, or
    after the settle time, for a handler that answers before it writes."""
    if not run.answers_before_registering:
        return run.probe.token_state(token)
    return run.probe.wait_for_state(
        token, lambda reading: str(reading.document.get("model_version")) == version
    )


def _path_of(url: str) -> str:
    return urlsplit(url).path.rstrip("/") or "/"


def _at_path(url: str, path: str) -> str:
    """``url`` with its path replaced (no query, no credentials shown)."""
    parts = urlsplit(redacted_url(url))
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


NOT_THE_HANDLER = "not_the_handler"
"""A finding's detail: the further URL where something other than the handler answers."""


def _serve_there_fix(path: str) -> str:
    return (
        f"serve the webhook at {path} too, with the same handler and both body shapes: the SDK "
        f"posts to {CURRENT_PATH}, older configurations to {SEED_PATH}"
    )


def _reached_at(run: ReceiverRun, url: str) -> Finding:
    """The URL judged; one that does not answer fails this check alone: the run goes on."""
    try:
        return _judged_at(run, url)
    except ConnectionDropped as error:
        return Finding.failed(f"at {redacted_url(url)}: {error.words}", CRASH_FIX)
    except ReceiverUnreachable as error:
        return Finding.failed(
            f"{error}", f"make {redacted_url(url)} reachable from here, or leave it out"
        )


def _judged_at(run: ReceiverRun, url: str) -> Finding:
    probe, token = run.probe, run.receiver.token
    shown, path = redacted_url(url), _path_of(url)
    delivery = probe.signed(probe.payload(token_id=UNKNOWN_TOKEN))
    answer = probe.deliver(delivery, f"signed delivery for an unknown token at {path}", url=url)
    reading = read_answer(answer, run.receiver, UNKNOWN_TOKEN)
    if reading.meaning is Meaning.WRONG_URL:
        if _handler_behind_plain_answers(probe, delivery, answer, url=url) is None:
            return Finding.failed(
                f"at {shown}: a correctly signed delivery got {answer.summary(60)}: nothing "
                f"handles the webhook at {path}",
                _serve_there_fix(path),
                answer=answer.summary(),
                **{NOT_THE_HANDLER: url},
            )
    elif reading.meaning in _UNUSABLE:
        return Finding.failed(
            f"at {shown}: a correctly signed delivery got {answer.summary(60)}: {reading.words}",
            reading.fix,
            answer=answer.summary(),
        )
    nested_unmet = run.form_unmet("webhook-paths", SDK_CLI)
    forms = (FLAT,) if nested_unmet else (FLAT, SDK_CLI)
    for form in forms:
        with probe.in_form(form):
            payload = probe.payload(token_id=token)
            got = probe.deliver(probe.signed(payload), f"{form.name} delivery at {path}", url=url)
            if got.accepted:
                continue
            if got.status == 404 and not form.nested and run.known_to_exist(token):
                return Finding.failed(
                    f"at {shown}: a valid delivery for {token} got {got.summary(60)}, though "
                    f"{run.receiver.token} exists (the main URL accepted it): another application "
                    f"answers at {path}, not the webhook handler",
                    _serve_there_fix(path),
                    answer=got.summary(),
                    **{NOT_THE_HANDLER: url},
                )
            problem = (
                _nested_refused(run, token, payload, got, form=form, url=url)
                if form.nested
                else _not_accepted(run, got, f"{form.words}, for token {token}", token)
            )
        return dataclasses.replace(problem, why=f"at {shown}: {problem.why}")
    accepted = "the flat body" if nested_unmet else "the flat and the nested body"
    not_judged = f" (the nested body was not judged there: {nested_unmet})" if nested_unmet else ""
    return Finding.passed(
        f"at {shown}: answered {answer.summary(40)} to a signed delivery for an unknown token, "
        f"and accepted {accepted} for {token} (already REGISTERED, so no transition is seen "
        f"there){not_judged}"
    )


@receiver_check(
    "webhook-paths", "the URL is where the SDK posts; each --also-url is the handler there too"
)
def webhook_paths(run: ReceiverRun) -> Finding:
    """Where the SDK's senders post since 2026-04-30 is :data:`~contracts.CURRENT_PATH`; a
    website judged only at the seed path may not serve it. At each further URL of the handler
    (``--also-url``): a signed delivery for the unknown token answered as the handler answers
    it, then the flat and the nested body (as the SDK's CLI sends it) for the token under test
    accepted."""
    url = run.receiver.url
    found = [_reached_at(run, also) for also in run.receiver.also_urls]
    problem = next((finding for finding in found if finding.verdict is not Verdict.PASS), None)
    if problem is not None:
        return problem
    judged = "".join(f"; {finding.why}" for finding in found)
    path = _path_of(url)
    if path == CURRENT_PATH:
        return Finding.passed(f"{path} is where the SDK posts{judged}")
    if any(_path_of(also) == CURRENT_PATH for also in run.receiver.also_urls):
        return Finding.passed(f"{path} is not where the SDK posts, but {CURRENT_PATH} is{judged}")
    where = (
        f"{path} is the seed path"
        if path == SEED_PATH
        else f"{path} is neither of the contract's paths ({CURRENT_PATH}, {SEED_PATH})"
    )
    there = _at_path(url, CURRENT_PATH)
    return Finding.warned(
        f"{where}; the SDK posts to {CURRENT_PATH} since 2026-04-30 unless its URL is set to "
        f"this one, and {CURRENT_PATH} was not judged{judged}",
        f"serve the webhook at {CURRENT_PATH} too (the same handler, both body shapes), then "
        f"judge it there: --url {there}, or --also-url {there} beside this URL",
    )


@receiver_check(
    "acceptance-timing", "a 2xx means the token is REGISTERED; a queue is reported once"
)
def acceptance_timing(run: ReceiverRun) -> Finding:
    queued = sorted(
        {s.check_id for s in run.probe.sent if s.answer.status == 202 and s.answer.accepted}
    )
    late = [read for read in run.probe.reads if read.waited_s > 0 and read.reading.registered]
    if not queued and not late:
        confirmed = " and each token read REGISTERED at once" if run.state_readable else ""
        return Finding.passed(f"every acceptance was answered 200{confirmed}")
    parts = []
    if queued:
        parts.append(
            f"the handler answers accepted deliveries with 202 ({', '.join(queued)}): it queues "
            "the work and registers later"
        )
    if late:
        slowest = max(read.waited_s for read in late)
        tokens = ", ".join(sorted({read.token for read in late}))
        parts.append(
            f"token(s) {tokens} read REGISTERED only after the answer, within {slowest:.1f} s "
            f"(--settle {run.receiver.settle:g})"
        )
    return Finding.warned(
        "; ".join(parts) + ". Senders take any 2xx as delivered and never retry it, so this "
        "is the receiver's policy, not a failure; a reader of the state right after the answer "
        "still sees the token as it was",
        ACCEPTANCE_TIMING_FIX,
        queued=queued,
        late=sorted({read.token for read in late}),
    )


@receiver_check("answers-are-json", "every answer is JSON with a boolean success")
def answers_are_json(run: ReceiverRun) -> Finding:
    elsewhere = run.details_of("webhook-paths").get(NOT_THE_HANDLER)
    sent = [s for s in run.probe.sent if s.url is None or s.url != elsewhere]
    problems = {
        f"{s.check_id}: {s.label} ({s.answer.status})": problem
        for s in sent
        if (problem := format_problem(s.answer)) is not None
    }
    if not problems:
        return Finding.passed(f"all {len(sent)} answers were JSON with a boolean success")
    sample = "; ".join(f"{label}: {problem}" for label, problem in list(problems.items())[:3])
    more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
    return Finding.warned(
        f"{len(problems)} of {len(sent)} answers broke the answer format: {sample}{more} "
        "(senders read the status alone, so none breaks a delivery)",
        ANSWER_FORMAT_FIX,
        problems=problems,
    )
