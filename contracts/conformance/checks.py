"""The receiver checks: what ``check-receiver`` asks of any handler, in the order asked.

The order matters. Requests that must be refused run first, while the token is still DRAFT, so
that ``rejections-change-no-state`` can prove none of them changed anything; then deliveries
that must be accepted. :data:`RECEIVER_CHECKS` is that ordered list; the CLI, the reports and
the tests all iterate it. A handler with no secret configured, or one that does not answer,
ends the run with that one diagnosis.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from contracts.conformance.checklist import Checklist, StopRun
from contracts.conformance.probe import (
    Exchange,
    Probe,
    ReceiverUnreachable,
    TokenState,
    idempotency_key_of,
    timestamp_ago,
)
from contracts.conformance.results import Finding
from contracts.envelope import DEFAULT_PATH, SignedDelivery
from contracts.payload import ordered, serialize
from contracts.signing import SIGNATURE_HEADER, SIGNATURE_PREFIX, sign
from contracts.urls import redacted_url

MAX_BODY_BYTES = 1024 * 1024
OVERSIZED_BODY_BYTES = MAX_BODY_BYTES + 1024
NON_ASCII_MODEL_NAME = "Modèle de scoring été 日本"
OTHER_SIGNATURE_HEADER = "X-MLflow-Signature"

NO_SECRET_WHY = (
    "your handler has no secret configured; set WEBHOOK_SECRET (the same value the SDK uses) "
    "and restart"
)
RAW_BODY_FIX = (
    "compute the HMAC over the raw request bytes before any JSON parsing: Express "
    "express.raw({type: 'application/json'}) and the Buffer in req.body; Next.js App Router "
    "`const raw = await request.text()`, verify, then JSON.parse(raw); Flask "
    "request.get_data(); Django request.body; FastAPI `await request.body()`"
)
SIGNATURE_FIX = (
    f"read {SIGNATURE_HEADER}, require '{SIGNATURE_PREFIX}' plus 64 hex digits, compare it in "
    "constant time with HMAC-SHA256(secret, raw body) and answer 401 on any mismatch, before "
    "parsing the body or touching any state"
)
ORDER_FIX = (
    "check in this order: signature on the raw bytes (401), JSON and schema (400), token lookup "
    "(404); change state only after all of them passed"
)


@dataclass
class ReceiverRun:
    """What the checks share during one run: the probe and what was learnt on the way."""

    probe: Probe
    initial_state: TokenState | None = None


RECEIVER_CHECKS: Checklist[ReceiverRun] = Checklist()


def receiver_check(
    check_id: str, title: str
) -> Callable[[Callable[[ReceiverRun], Finding]], Callable[[ReceiverRun], Finding]]:
    """Register a receiver check; a receiver that stops answering ends the run there."""

    def register(function: Callable[[ReceiverRun], Finding]) -> Callable[[ReceiverRun], Finding]:
        def guarded(run: ReceiverRun) -> Finding:
            try:
                return function(run)
            except ReceiverUnreachable as error:
                finding = Finding.failed(
                    str(error), "make the handler reachable from here, then run again"
                )
                skip = f"skipped: {error.url} did not answer ({check_id})"
                raise StopRun(finding, skip) from None

        RECEIVER_CHECKS.check(check_id, title)(guarded)
        return function

    return register


# --- reading answers ------------------------------------------------------------------------


def is_no_secret_answer(exchange: Exchange) -> bool:
    """The handler's way of saying it has no webhook secret configured."""
    if exchange.status < 400:
        return False
    if exchange.field("reason") == "no_secret_configured":
        return True
    error = exchange.field("error")
    text = (error if isinstance(error, str) else exchange.body.decode("utf-8", "replace")).lower()
    return "secret" in text and any(
        phrase in text for phrase in ("not configured", "not set", "missing", "no secret")
    )


def _accepted(exchange: Exchange) -> bool:
    return 200 <= exchange.status < 300 and exchange.success is not False


def _refusal(
    exchange: Exchange, expected: int, *, what: str, if_accepted: str, fix: str
) -> Finding:
    """PASS when ``exchange`` got ``expected``; otherwise a failure saying what went wrong."""
    if exchange.status == expected:
        return Finding.passed(f"{what}: refused with {expected}", answer=exchange.summary())
    if 200 <= exchange.status < 300:
        why = f"{what}: accepted ({exchange.status}); {if_accepted}"
    elif exchange.is_server_error:
        why = f"{what}: answered {exchange.status} (a crash or a misconfiguration), not {expected}"
    else:
        why = f"{what}: answered {exchange.status}, expected {expected}"
    return Finding.failed(why, fix, answer=exchange.summary())


def _acceptance_problem(exchange: Exchange, what: str) -> Finding | None:
    """``None`` when a valid delivery got 200 with success true; else the failure."""
    if _accepted(exchange) and exchange.status == 200:
        return None
    if exchange.status == 401:
        return Finding.failed(
            f"{what}: refused with 401 although correctly signed; the handler holds another "
            "secret or verifies something other than the raw body",
            "use the same secret on both sides (watch for whitespace around it) and verify the "
            "raw bytes; 'hokusai-contract diagnose' explains a failing signature",
            answer=exchange.summary(),
        )
    if exchange.is_server_error:
        return Finding.failed(
            f"{what}: answered {exchange.status} to a valid delivery",
            "look at the handler's log for the crash",
            answer=exchange.summary(),
        )
    return Finding.failed(
        f"{what}: answered {exchange.summary(60)}; a valid delivery gets 200 with "
        '{"success": true}',
        ORDER_FIX,
        answer=exchange.summary(),
    )


def _state_after_acceptance(run: ReceiverRun, what: str) -> Finding | None:
    """When a state URL is known: the token must read REGISTERED now."""
    if not run.probe.has_state_url:
        return None
    state = run.probe.token_state()
    if state.status == "REGISTERED":
        return None
    return Finding.failed(
        f"{what}: answered 200 but the token {run.probe.token} reads "
        f"{state.status or state.problem} afterwards",
        "move the token to REGISTERED (upper-cased id) before answering 200",
    )


# --- preflight ------------------------------------------------------------------------------


def _not_the_handler(exchange: Exchange) -> bool:
    """A 404/405 that is not about the token: the URL misses the webhook route."""
    if exchange.status not in (404, 405):
        return False
    reason = exchange.field("reason")
    return exchange.success is None or reason not in (None, "unknown_token")


@receiver_check("receiver-ready", "the handler answers and has a webhook secret configured")
def receiver_ready(run: ReceiverRun) -> Finding:
    probe = run.probe
    unknown = "NOSUCHTOKEN-CONFORMANCE"
    delivery = probe.signed(probe.payload(token_id=unknown))
    exchange = probe.deliver(delivery, "signed delivery for an unknown token")
    if is_no_secret_answer(exchange):
        finding = Finding.failed(
            f"{NO_SECRET_WHY} (it answered {exchange.summary(80)})",
            "set WEBHOOK_SECRET in the handler's environment to the SDK's secret and restart it",
            answer=exchange.summary(),
        )
        raise StopRun(finding, "skipped: the handler has no secret configured (receiver-ready)")
    if _not_the_handler(exchange):
        finding = Finding.failed(
            f"{redacted_url(probe.url)} answered {exchange.summary(80)}: this does not look like "
            "the webhook handler",
            f"check the URL; the contract's path is {DEFAULT_PATH}",
            answer=exchange.summary(),
        )
        raise StopRun(finding, "skipped: the URL does not reach the handler (receiver-ready)")
    return Finding.passed(
        f"answered {exchange.status} to a signed delivery for an unknown token",
        answer=exchange.summary(),
    )


@receiver_check("state-url", "the token's state can be read through the state URL")
def state_url(run: ReceiverRun) -> Finding:
    probe = run.probe
    if not probe.has_state_url:
        return Finding.skipped(
            "no state URL given, so state changes are judged by the answers alone; pass "
            "--state-url 'https://host/api/tokens/{token_id}' for the stronger checks"
        )
    run.initial_state = state = probe.token_state()
    if state.status is None:
        return Finding.failed(
            str(state.problem),
            "pass a URL template with {token_id} that answers GET with JSON holding the "
            "token's status",
        )
    if state.status == "DRAFT":
        return Finding.passed(f"token {probe.token} is DRAFT")
    return Finding.passed(
        f"token {probe.token} is already {state.status}, so a rejected request that wrongly "
        "registers it cannot be noticed; use a fresh DRAFT token for the stronger check",
        weaker_state_check=True,
    )


# --- requests that must be refused (the token stays DRAFT) ----------------------------------

_IGNORES_SIGNATURES = "the handler ignores signatures: anyone can register any token"
Headers = Callable[[Probe, SignedDelivery], dict[str, str]]


@dataclass(frozen=True)
class SignatureMistake:
    """A signature a receiver must refuse with 401: how to make it, how to say it."""

    check_id: str
    title: str
    what: str
    headers: Headers
    if_accepted: str = _IGNORES_SIGNATURES


SIGNATURE_MISTAKES = (
    SignatureMistake(
        "signature-missing",
        "a delivery without a signature gets 401",
        f"no {SIGNATURE_HEADER} header",
        lambda probe, delivery: probe.without_signature(delivery),
    ),
    SignatureMistake(
        "signature-malformed",
        "a malformed signature gets 401",
        "signature 'sha256=not-a-hex-digest'",
        lambda probe, delivery: probe.with_signature(delivery, "sha256=not-a-hex-digest"),
    ),
    SignatureMistake(
        "signature-wrong-secret",
        "a signature made with another secret gets 401",
        "signed with another secret",
        lambda probe, delivery: probe.with_signature(
            delivery, sign(delivery.body, "not-the-shared-secret")
        ),
    ),
    SignatureMistake(
        "signature-without-prefix",
        "a bare hex digest without 'sha256=' gets 401",
        "the right digest without the 'sha256=' prefix",
        lambda probe, delivery: probe.with_signature(
            delivery, delivery.signature.removeprefix(SIGNATURE_PREFIX)
        ),
        "the handler accepts a bare hex digest; the contract's header is 'sha256=<hex>', "
        "anything else is malformed",
    ),
    SignatureMistake(
        "signature-other-header",
        f"a signature under {OTHER_SIGNATURE_HEADER} gets 401",
        f"the right signature, but under {OTHER_SIGNATURE_HEADER}",
        lambda probe, delivery: {
            **probe.without_signature(delivery),
            OTHER_SIGNATURE_HEADER: delivery.signature,
        },
        f"the handler reads another header or ignores signatures; only {SIGNATURE_HEADER} "
        "carries the contract's signature",
    ),
)


def _refuses(mistake: SignatureMistake) -> Callable[[ReceiverRun], Finding]:
    def check(run: ReceiverRun) -> Finding:
        probe = run.probe
        delivery = probe.signed(probe.payload())
        exchange = probe.send(mistake.what, delivery.body, mistake.headers(probe, delivery))
        return _refusal(
            exchange, 401, what=mistake.what, if_accepted=mistake.if_accepted, fix=SIGNATURE_FIX
        )

    return check


for _mistake in SIGNATURE_MISTAKES:
    receiver_check(_mistake.check_id, _mistake.title)(_refuses(_mistake))


@receiver_check("malformed-json", "a correctly signed body that is not JSON gets 400")
def malformed_json(run: ReceiverRun) -> Finding:
    probe = run.probe
    body = b'{"event_type": "model_registered", "token_id": '
    delivery = probe.signed(probe.payload(), body=body)
    exchange = probe.deliver(delivery, "malformed JSON")
    return _refusal(
        exchange,
        400,
        what="a truncated JSON body",
        if_accepted="the handler does not parse the body it acts on",
        fix="parse the raw body with a JSON parser inside try/catch and answer 400 naming the "
        "problem; never let a parse error escape as a 500",
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
    answers: dict[str, Exchange] = {}
    for name, body in _schema_violations(probe).items():
        answers[name] = probe.deliver(probe.signed(probe.payload(), body=body), name)
    wrong = {name: a for name, a in answers.items() if a.status != 400}
    statuses = {name: a.status for name, a in answers.items()}
    if not wrong:
        return Finding.passed(
            f"all {len(answers)} invalid bodies refused with 400 ({', '.join(answers)})",
            statuses=statuses,
        )
    crashed = [name for name, a in wrong.items() if a.is_server_error]
    accepted = [name for name, a in wrong.items() if 200 <= a.status < 300]
    parts = []
    if crashed:
        parts.append("answered 5xx to " + ", ".join(crashed))
    if accepted:
        parts.append("accepted " + ", ".join(accepted))
    other = [f"{name} ({a.status})" for name, a in wrong.items() if name not in crashed + accepted]
    if other:
        parts.append("answered other than 400 to " + ", ".join(other))
    return Finding.failed(
        "; ".join(parts),
        "validate the parsed body against schemas/model_registered.v1.schema.json (NaN is not "
        "JSON) and answer 400 naming the field; " + ORDER_FIX,
        statuses=statuses,
    )


@receiver_check("unknown-token", "a valid delivery for an unknown token gets 404")
def unknown_token(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload(token_id="NOSUCHTOKEN-CHECK"))
    exchange = probe.deliver(delivery, "unknown token")
    return _refusal(
        exchange,
        404,
        what="token NOSUCHTOKEN-CHECK, which does not exist",
        if_accepted="the handler does not look the token up",
        fix="look the upper-cased token id up and answer 404 when there is no such token",
    )


@receiver_check("oversized-body", "a correctly signed body over 1 MiB gets 413")
def oversized_body(run: ReceiverRun) -> Finding:
    probe = run.probe
    payload = probe.payload()
    padding = OVERSIZED_BODY_BYTES - len(serialize(payload))
    big = {**payload, "tags": {**payload["tags"], "padding": "x" * max(padding, 0)}}
    body = serialize(big)
    exchange = probe.deliver(probe.signed(big, body=body), "oversized body")
    return _refusal(
        exchange,
        413,
        what=f"a {len(body)}-byte body",
        if_accepted="the handler has no body size limit",
        fix="refuse bodies over 1 MiB with 413 before reading them whole (check Content-Length "
        "and cap the read)",
    )


@receiver_check("wrong-method", "GET and PUT get 405")
def wrong_method(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload())
    answers = {
        "GET": probe.send("GET", None, {"Accept": "application/json"}, method="GET"),
        "PUT": probe.deliver(delivery, "PUT", method="PUT"),
    }
    wrong = {method: a for method, a in answers.items() if a.status != 405}
    statuses = {method: a.status for method, a in answers.items()}
    if not wrong:
        return Finding.passed("GET and PUT refused with 405", statuses=statuses)
    listing = ", ".join(f"{method} got {a.status}" for method, a in wrong.items())
    return Finding.failed(
        f"{listing}, expected 405",
        "answer every method other than POST with 405 and an Allow: POST header",
        statuses=statuses,
    )


@receiver_check("rejections-change-no-state", "refused requests left the token in DRAFT")
def rejections_change_no_state(run: ReceiverRun) -> Finding:
    probe = run.probe
    initial = run.initial_state
    if not probe.has_state_url:
        return Finding.skipped("no state URL given; pass --state-url to verify this")
    if initial is None or initial.status is None:
        return Finding.skipped("the state URL could not be read (see state-url)")
    if initial.status != "DRAFT":
        return Finding.skipped(
            f"token {probe.token} was already {initial.status} at the start, so this cannot be "
            "verified; use a fresh DRAFT token"
        )
    now = probe.token_state()
    if now.status == "DRAFT":
        return Finding.passed(f"token {probe.token} is still DRAFT after every refused request")
    return Finding.failed(
        f"token {probe.token} is {now.status or now.problem} although every request so far had "
        "to be refused: the handler changes state before verifying or validating",
        ORDER_FIX,
    )


# --- deliveries that must be accepted -------------------------------------------------------


@receiver_check("lowercase-token-id", "a lower-case token id lands on the upper-case token")
def lowercase_token_id(run: ReceiverRun) -> Finding:
    probe = run.probe
    lower = probe.token.lower()
    if lower == probe.token:
        return Finding.skipped(f"token id {probe.token} has no letters to lower-case")
    payload = {**probe.payload(), "token_id": lower}
    exchange = probe.deliver(probe.signed(payload, body=serialize(payload)), "lower-case token")
    if exchange.status == 404:
        return Finding.failed(
            f"token id {lower!r} got 404 although {probe.token} exists: the handler looks the "
            "id up as sent",
            "upper-case the token id before the lookup (token_id.toUpperCase() / .upper())",
            answer=exchange.summary(),
        )
    problem = _acceptance_problem(exchange, f"token id {lower!r}")
    if problem is not None:
        return problem
    reported = exchange.field("token_id")
    if isinstance(reported, str) and reported != probe.token:
        return Finding.failed(
            f"token id {lower!r} was accepted but the answer names token {reported!r}, not "
            f"{probe.token}",
            "upper-case the token id before the lookup and in the answer",
        )
    landed = _state_after_acceptance(run, f"token id {lower!r}")
    if landed is not None:
        return landed
    where = " (the state URL confirms it)" if probe.has_state_url else ""
    return Finding.passed(f"token id {lower!r} accepted and landed on {probe.token}{where}")


@receiver_check("valid-delivery", "a valid signed delivery gets 200 with success true")
def valid_delivery(run: ReceiverRun) -> Finding:
    probe = run.probe
    exchange = probe.deliver(probe.signed(probe.payload()), "valid delivery")
    problem = _acceptance_problem(exchange, "a valid signed delivery")
    if problem is not None:
        return problem
    landed = _state_after_acceptance(run, "a valid signed delivery")
    if landed is not None:
        return landed
    return Finding.passed(
        f"answered 200 with success true; token {probe.token} is REGISTERED"
        if probe.has_state_url
        else "answered 200 with success true",
        answer=exchange.summary(),
    )


@receiver_check("lowercase-status", "a lower-case status 'registered' is accepted")
def lowercase_status(run: ReceiverRun) -> Finding:
    probe = run.probe
    payload = {**probe.payload(), "status": "registered"}
    exchange = probe.deliver(probe.signed(payload, body=serialize(payload)), "lower-case status")
    problem = _acceptance_problem(exchange, 'status "registered"')
    if problem is not None:
        if exchange.status == 400:
            return Finding.failed(
                problem.why,
                "compare the status case-insensitively (one real sender wrote 'registered')",
                answer=exchange.summary(),
            )
        return problem
    return Finding.passed('status "registered" accepted')


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


@receiver_check("raw-body-verified", "any serialization signed over its own bytes is accepted")
def raw_body_verified(run: ReceiverRun) -> Finding:
    probe = run.probe
    answers = {
        name: probe.deliver(probe.signed(probe.payload(), body=body), f"serialized {name}")
        for name, body in _serializations(probe.payload()).items()
    }
    statuses = {name: a.status for name, a in answers.items()}
    refused = {name for name, a in answers.items() if not (_accepted(a) and a.status == 200)}
    if not refused:
        return Finding.passed(
            f"all {len(answers)} serializations accepted: the raw body is verified",
            statuses=statuses,
        )
    if "compact" in refused:
        return Finding.failed(
            f"even the compact serialization the reference sender uses was refused "
            f"({answers['compact'].summary(60)}); see valid-delivery first",
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
        )
    return Finding.failed(
        "refused correctly signed serializations: "
        + ", ".join(f"{name} ({answers[name].status})" for name in sorted(refused)),
        "decode the raw body as UTF-8 JSON, whatever its whitespace, key order or escapes; "
        + RAW_BODY_FIX,
        statuses=statuses,
    )


@receiver_check("signature-uppercase-hex", "a signature in upper-case hex is accepted")
def signature_uppercase_hex(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload())
    upper = SIGNATURE_PREFIX + delivery.signature[len(SIGNATURE_PREFIX) :].upper()
    exchange = probe.send("upper-case hex", delivery.body, probe.with_signature(delivery, upper))
    if _accepted(exchange) and exchange.status == 200:
        return Finding.passed("upper-case hex digest accepted")
    return Finding.failed(
        f"an upper-case hex digest got {exchange.summary(60)}; the contract accepts either case",
        "decode the hex digest to bytes and compare bytes in constant time (not the strings)",
        answer=exchange.summary(),
    )


@receiver_check("timestamp-without-offset", "a timestamp without offset is read as UTC")
def timestamp_without_offset(run: ReceiverRun) -> Finding:
    probe = run.probe
    payload = probe.payload()
    naive = str(payload["timestamp"]).rstrip("Z")
    exchange = probe.deliver(probe.signed({**payload, "timestamp": naive}), "timestamp no offset")
    if _accepted(exchange) and exchange.status == 200:
        return Finding.passed(f"timestamp {naive!r} (no offset, as older senders wrote) accepted")
    return Finding.failed(
        f"timestamp {naive!r} got {exchange.summary(60)}; older senders wrote "
        "datetime.utcnow().isoformat(), which the contract reads as UTC",
        "parse a timestamp without offset as UTC, not as local time and not as an error",
        answer=exchange.summary(),
    )


@receiver_check("duplicate-delivery", "the same delivery twice is answered 200, no second change")
def duplicate_delivery(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload(model_version="2"))
    first = probe.deliver(delivery, "delivery")
    second = probe.deliver(delivery, "repeat of the delivery")
    key = idempotency_key_of(delivery)
    for exchange, what in ((first, "the delivery"), (second, "its exact repeat")):
        problem = _acceptance_problem(exchange, what)
        if problem is not None:
            return problem
    duplicate = second.field("duplicate")
    if duplicate is False:
        return Finding.failed(
            f"the exact repeat (idempotency key {key}) was answered as a new registration "
            "(duplicate: false)",
            "remember idempotency keys (or see that the token is already REGISTERED) and answer "
            "a repeat 200 with duplicate: true without changing anything",
            first=first.summary(),
            second=second.summary(),
        )
    landed = _state_after_acceptance(run, "the repeat")
    if landed is not None:
        return landed
    reported = (
        "reported as duplicate"
        if duplicate is True
        else "the handler does not report duplicates (the optional 'duplicate' field)"
    )
    return Finding.passed(f"both answered 200; {reported}", second=second.summary())


@receiver_check("stale-timestamp", "old timestamps: the receiver's replay policy is observed")
def stale_timestamp(run: ReceiverRun) -> Finding:
    probe = run.probe
    ages = {"1 hour": 3600.0, "1 day": 86400.0}
    answers = {
        label: probe.deliver(
            probe.signed(probe.payload(timestamp=timestamp_ago(seconds))), f"{label} old"
        )
        for label, seconds in ages.items()
    }
    statuses = {label: a.status for label, a in answers.items()}
    bad = {label: a for label, a in answers.items() if a.status not in (200, 401)}
    if bad:
        listing = ", ".join(f"{label} old got {a.summary(50)}" for label, a in bad.items())
        return Finding.failed(
            f"{listing}; an old timestamp is either accepted (200) or refused as a replay (401)",
            "refuse a timestamp outside your tolerance with 401 and reason "
            "timestamp_outside_tolerance, or accept it",
            statuses=statuses,
        )
    refused = [label for label, a in answers.items() if a.status == 401]
    if not refused:
        return Finding.passed(
            "accepted deliveries stamped 1 hour and 1 day ago: no replay tolerance enforced "
            "(allowed by the contract; duplicates are still idempotent)",
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


def _answer_problem(exchange: Exchange) -> str | None:
    parsed = exchange.json
    if not isinstance(parsed, dict):
        return "not a JSON object"
    success = parsed.get("success")
    if not isinstance(success, bool):
        return "no boolean 'success'"
    if success != (200 <= exchange.status < 300):
        return f"success {json.dumps(success)} with status {exchange.status}"
    return None


@receiver_check("answers-are-json", "every answer is JSON with a boolean success")
def answers_are_json(run: ReceiverRun) -> Finding:
    exchanges = run.probe.exchanges
    problems = {
        f"{e.label} ({e.status})": problem
        for e in exchanges
        if (problem := _answer_problem(e)) is not None
    }
    if not problems:
        return Finding.passed(f"all {len(exchanges)} answers were JSON with a boolean success")
    sample = "; ".join(f"{label}: {problem}" for label, problem in list(problems.items())[:3])
    more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
    return Finding.failed(
        f"{len(problems)} of {len(exchanges)} answers broke the answer format: {sample}{more}",
        'answer every request, errors included, with JSON: {"success": false, "error": '
        '"...", "reason": "..."} or {"success": true, ...}',
        problems=problems,
    )
