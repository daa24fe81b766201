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
it needs a transition, it is probed on a DRAFT token (``--spare-token``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.conformance.answers import (
    REPLAY_REASON,
    TokenStateReading,
    says_no_secret_configured,
    says_not_the_handler,
)
from contracts.conformance.checklist import Checklist, StopRun
from contracts.conformance.probe import (
    Exchange,
    Probe,
    ReceiverUnreachable,
    idempotency_key_of,
    timestamp_ago,
)
from contracts.conformance.results import Finding
from contracts.envelope import DEFAULT_PATH, MAX_BODY_BYTES, SignedDelivery
from contracts.payload import STATUS_REGISTERED, ordered, serialize
from contracts.signing import SIGNATURE_HEADER, SIGNATURE_PREFIX, sign
from contracts.urls import redacted_url

OVERSIZED_BODY_BYTES = MAX_BODY_BYTES + 1024
UNKNOWN_TOKEN = "NOSUCHTOKEN-CONFORMANCE"
"""A token id no receiver has: requests for it must never change anything."""
WRONG_SECRET = "not-the-shared-secret"
NON_ASCII_MODEL_NAME = "Modèle de scoring été 日本"
OTHER_SIGNATURE_HEADER = "X-MLflow-Signature"
DRAFT = "DRAFT"
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
SIZE_FIX = (
    f"the contract's body limit is at most 1 MiB ({MAX_BODY_BYTES:,} bytes): refuse a larger "
    "body with 413 before reading it whole (check Content-Length and cap the read); accept "
    "bodies up to at least 64 KiB"
)


@dataclass
class ReceiverRun:
    """What the checks share during one run: the probe and what was learnt on the way."""

    probe: Probe
    spare_tokens: tuple[str, ...] = ()
    """Further DRAFT tokens for the checks that need to see a transition of their own."""
    initial_states: dict[str, TokenStateReading] = field(default_factory=dict)
    """Each token's state as the state URL read it before any delivery."""
    token_exists: bool = False
    """A valid delivery for the token under test was accepted, so a later 404 is not "missing"."""
    lookup_comes_last: bool = False
    """An unknown token gets 404 when signed right and 401 when not: so a 404 for the unknown
    token means every rule before the lookup passed."""
    _unused_spares: list[str] | None = field(default=None, init=False, repr=False)

    @property
    def initial_state(self) -> TokenStateReading | None:
        return self.initial_states.get(self.probe.token)

    def take_spare(self, *, with_letters: bool = False) -> str | None:
        """A DRAFT spare token no check has used yet, or ``None``."""
        if self._unused_spares is None:
            self._unused_spares = [
                token
                for token in self.spare_tokens
                if token not in self.initial_states or self.initial_states[token].status == DRAFT
            ]
        for token in self._unused_spares:
            if not with_letters or token.lower() != token:
                self._unused_spares.remove(token)
                return token
        return None


RECEIVER_CHECKS: Checklist[ReceiverRun] = Checklist()


def receiver_check(
    check_id: str, title: str
) -> Callable[[Callable[[ReceiverRun], Finding]], Callable[[ReceiverRun], Finding]]:
    """Register a receiver check; a receiver that stops answering ends the run there."""

    def register(function: Callable[[ReceiverRun], Finding]) -> Callable[[ReceiverRun], Finding]:
        def guarded(run: ReceiverRun) -> Finding:
            run.probe.current_check = check_id
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


def _accepted(exchange: Exchange) -> bool:
    return exchange.status == 200 and exchange.success is not False


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
    if _accepted(exchange):
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


def _seed_fix(token: str, option: str = "--token") -> str:
    return f"seed token {token} as DRAFT on the receiver, or pass {option} with one that exists"


def _stop_when_token_missing(run: ReceiverRun, exchange: Exchange, check_id: str) -> None:
    """A 404 to the first valid deliveries for the token under test: it is not there at all."""
    token = run.probe.token
    if exchange.status != 404 or run.token_exists:
        return
    known = run.initial_state
    elsewhere = (
        f" (yet the state URL reads it as {known.status}: the webhook and the state URL look "
        "in different places)"
        if known is not None and known.status is not None
        else ""
    )
    finding = Finding.failed(
        f"token {token} does not exist on the receiver: a valid delivery for it got "
        f"{exchange.summary(60)}{elsewhere}",
        _seed_fix(token),
        answer=exchange.summary(),
    )
    raise StopRun(finding, f"skipped: token {token} does not exist on the receiver ({check_id})")


def _state_after_acceptance(run: ReceiverRun, token: str, what: str) -> Finding | None:
    """When a state URL is known: ``token`` must read REGISTERED now."""
    if not run.probe.has_state_url:
        return None
    state = run.probe.token_state(token)
    if state.registered:
        return None
    return Finding.failed(
        f"{what}: answered 200 but the token {token} reads {state.in_words} afterwards",
        "move the token to REGISTERED (upper-cased id) before answering 200",
    )


def _registration_changes(before: TokenStateReading, after: TokenStateReading) -> list[str]:
    """What changed in the fields only a transition may change, as ``field: old -> new``."""
    return [
        f"{name}: {json.dumps(before.document.get(name))} -> {json.dumps(after.document.get(name))}"
        for name in REGISTRATION_FIELDS
        if before.document.get(name) != after.document.get(name)
    ]


# --- preflight ------------------------------------------------------------------------------


@receiver_check("receiver-ready", "the handler answers and verifies with the shared secret")
def receiver_ready(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload(token_id=UNKNOWN_TOKEN))
    exchange = probe.deliver(delivery, "signed delivery for an unknown token")
    if says_no_secret_configured(exchange.status, exchange.body):
        finding = Finding.failed(
            f"{NO_SECRET_WHY} (it answered {exchange.summary(80)})",
            "set WEBHOOK_SECRET in the handler's environment to the SDK's secret and restart it",
            answer=exchange.summary(),
        )
        raise StopRun(finding, "skipped: the handler has no secret configured (receiver-ready)")
    if says_not_the_handler(exchange.status, exchange.body):
        finding = Finding.failed(
            f"{redacted_url(probe.url)} answered {exchange.summary(80)}: this does not look like "
            'the webhook handler, whose answers are JSON with a boolean "success"',
            f"check the URL; the contract's path is {DEFAULT_PATH}",
            answer=exchange.summary(),
        )
        raise StopRun(finding, "skipped: the URL does not reach the handler (receiver-ready)")
    if exchange.status == 401 and exchange.field("reason") == REPLAY_REASON:
        finding = Finding.failed(
            f"a delivery stamped now was refused as a replay ({exchange.summary(80)}): the "
            "handler's clock and this machine's disagree by more than its tolerance",
            "synchronize both clocks (NTP); timestamps are written in UTC with a Z suffix",
            answer=exchange.summary(),
        )
        raise StopRun(finding, "skipped: the handler's clock is off (receiver-ready)")
    if exchange.status == 401:
        finding = Finding.failed(
            f"a correctly signed delivery got {exchange.summary(80)}: the handler holds another "
            "secret (watch for whitespace around it), reads the signature differently, or "
            "verifies something other than the raw body, so it would refuse every valid "
            "delivery",
            "use the same secret on both sides and verify HMAC-SHA256 over the raw request "
            "bytes; 'hokusai-contract diagnose' names the mistake from the body and the "
            "signature the handler computed",
            answer=exchange.summary(),
        )
        raise StopRun(finding, "skipped: the handler refuses correct signatures (receiver-ready)")
    return Finding.passed(
        f"answered {exchange.status} to a signed delivery for an unknown token",
        answer=exchange.summary(),
    )


@receiver_check("state-url", "the tokens' state can be read through the state URL")
def state_url(run: ReceiverRun) -> Finding:
    probe = run.probe
    token = probe.token
    if not probe.has_state_url:
        return Finding.skipped(
            "no state URL given, so state changes are judged by the answers alone; pass "
            "--state-url 'https://host/api/tokens/{token_id}' for the stronger checks"
        )
    run.initial_states = {each: probe.token_state(each) for each in (token, *run.spare_tokens)}
    state = run.initial_states[token]
    if state.token_missing:
        finding = Finding.failed(
            f"token {token} does not exist on the receiver: {state.problem}",
            _seed_fix(token) + "; if it does exist, check the --state-url template",
        )
        raise StopRun(finding, f"skipped: token {token} does not exist on the receiver (state-url)")
    if state.status is None:
        probe.state_url_template = None  # the later checks judge by the answers alone
        return Finding.failed(
            f"{state.problem}; the later checks judge state changes by the answers alone",
            "pass a URL template with {token_id} that answers GET with JSON holding the "
            "token's status",
        )
    missing = [spare for spare in run.spare_tokens if run.initial_states[spare].token_missing]
    if missing:
        return Finding.failed(
            f"spare token(s) {', '.join(missing)} do not exist on the receiver (the state URL "
            "answers 404)",
            f"seed {', '.join(missing)} as DRAFT on the receiver, or drop those --spare-token "
            "options",
        )
    notes = [
        f"spare token {spare} is {run.initial_states[spare].in_words}, so it is not used"
        for spare in run.spare_tokens
        if run.initial_states[spare].status != DRAFT
    ]
    drafts = [spare for spare in run.spare_tokens if run.initial_states[spare].status == DRAFT]
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
        lambda probe, delivery: probe.with_signature(delivery, sign(delivery.body, WRONG_SECRET)),
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


@receiver_check("unknown-token", "an unknown token gets 404, and only after the signature passed")
def unknown_token(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload(token_id=UNKNOWN_TOKEN))
    exchange = probe.deliver(delivery, "unknown token")
    refused = _refusal(
        exchange,
        404,
        what=f"token {UNKNOWN_TOKEN}, which does not exist",
        if_accepted="the handler does not look the token up",
        fix="look the upper-cased token id up and answer 404 when there is no such token",
    )
    if exchange.status != 404:
        return refused
    forged = probe.with_signature(delivery, sign(delivery.body, WRONG_SECRET))
    unsigned = probe.send("unknown token, signed with another secret", delivery.body, forged)
    if unsigned.status == 401:
        run.lookup_comes_last = True
        return Finding.passed(
            f"token {UNKNOWN_TOKEN} got 404 when correctly signed and 401 when signed with "
            "another secret: the lookup comes after the signature",
            answer=exchange.summary(),
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
    exchange = probe.deliver(probe.signed(big, body=body), "oversized body")
    what = f"a {len(body):,}-byte body (over the contract's 1 MiB maximum)"
    if exchange.status == 404:
        return Finding.failed(
            f"{what}: answered 404 for its unknown token, so the handler read and parsed it all; "
            "expected 413",
            SIZE_FIX,
            answer=exchange.summary(),
        )
    return _refusal(
        exchange,
        413,
        what=what,
        if_accepted="the handler has no body size limit",
        fix=SIZE_FIX,
    )


@receiver_check("wrong-method", "GET and PUT get 405")
def wrong_method(run: ReceiverRun) -> Finding:
    probe = run.probe
    delivery = probe.signed(probe.payload(token_id=UNKNOWN_TOKEN))
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


def _answered_2xx(exchanges: list[Exchange]) -> list[str]:
    return [f"{e.check_id} ({e.label}: {e.status})" for e in exchanges if 200 <= e.status < 300]


@receiver_check("rejections-change-no-state", "refused requests left the token in DRAFT")
def rejections_change_no_state(run: ReceiverRun) -> Finding:
    probe = run.probe
    initial = run.initial_state
    accepted = _answered_2xx(probe.exchanges)
    also = f"; answered 2xx although they had to be refused: {', '.join(accepted)}"
    also = also if accepted else ""
    if initial is not None and initial.status is None:
        return Finding.skipped(f"the state URL could not be read (see state-url){also}")
    if initial is None or not probe.has_state_url:
        return Finding.skipped(f"no state URL given; pass --state-url to verify this{also}")
    if initial.status != DRAFT:
        return Finding.skipped(
            f"token {probe.token} was already {initial.status} at the start, so this cannot be "
            f"verified; use a fresh DRAFT token{also}"
        )
    now = probe.token_state()
    if now.status == DRAFT:
        return Finding.passed(f"token {probe.token} is still DRAFT after every refused request")
    if accepted:
        return Finding.failed(
            f"token {probe.token} is {now.in_words} although every request so far had to be "
            f"refused; these were answered 2xx, so any of them may have registered it: "
            f"{', '.join(accepted)}",
            "refuse each of them as its own check says; " + ORDER_FIX,
            accepted=accepted,
        )
    return Finding.failed(
        f"token {probe.token} is {now.in_words} although every request so far was refused: the "
        "handler changes state before verifying or validating",
        ORDER_FIX,
    )


# --- deliveries that must be accepted -------------------------------------------------------


@receiver_check("lowercase-status", "a lower-case status 'registered' registers the DRAFT token")
def lowercase_status(run: ReceiverRun) -> Finding:
    probe = run.probe
    payload = {**probe.payload(), "status": STATUS_REGISTERED.lower()}
    exchange = probe.deliver(probe.signed(payload, body=serialize(payload)), "lower-case status")
    _stop_when_token_missing(run, exchange, "lowercase-status")
    problem = _acceptance_problem(exchange, 'status "registered"')
    if problem is not None:
        if exchange.status == 400:
            return Finding.failed(
                problem.why,
                "compare the status case-insensitively (one real sender wrote 'registered')",
                answer=exchange.summary(),
            )
        return problem
    run.token_exists = True
    landed = _state_after_acceptance(run, probe.token, 'status "registered"')
    if landed is not None:
        return landed
    initial = run.initial_state
    if initial is None or initial.status is None:
        return Finding.passed(
            'status "registered" accepted (pass --state-url to see it register the token)'
        )
    if initial.status == DRAFT:
        return Finding.passed(
            f'status "registered" moved token {probe.token} from DRAFT to REGISTERED (the state '
            "URL confirms it)"
        )
    return Finding.passed(
        f'status "registered" accepted; token {probe.token} was already {initial.status}, so '
        "no transition was seen",
        weaker_state_check=True,
    )


@receiver_check("valid-delivery", "a valid signed delivery gets 200 with success true")
def valid_delivery(run: ReceiverRun) -> Finding:
    probe = run.probe
    exchange = probe.deliver(probe.signed(probe.payload()), "valid delivery")
    _stop_when_token_missing(run, exchange, "valid-delivery")
    problem = _acceptance_problem(exchange, "a valid signed delivery")
    if problem is not None:
        return problem
    run.token_exists = True
    landed = _state_after_acceptance(run, probe.token, "a valid signed delivery")
    if landed is not None:
        return landed
    return Finding.passed(
        f"answered 200 with success true; token {probe.token} is REGISTERED"
        if probe.has_state_url
        else "answered 200 with success true",
        answer=exchange.summary(),
    )


_CASE_SENSITIVE_FIX = (
    "upper-case the token id before the lookup (token_id.toUpperCase() / .upper())"
)


def _lowercase_delivery(probe: Probe, token: str) -> tuple[str, Exchange]:
    lower = token.lower()
    payload = {**probe.payload(token_id=token), "token_id": lower}
    delivery = probe.signed(payload, body=serialize(payload))
    return lower, probe.deliver(delivery, "lower-case token")


def _named_another_token(exchange: Exchange, lower: str, token: str) -> Finding | None:
    reported = exchange.field("token_id")
    if isinstance(reported, str) and reported != token:
        return Finding.failed(
            f"token id {lower!r} was accepted but the answer names token {reported!r}, not {token}",
            "upper-case the token id before the lookup and in the answer",
        )
    return None


def _spare_missing(spare: str, exchange: Exchange) -> Finding:
    return Finding.failed(
        f"spare token {spare} does not exist on the receiver: a valid delivery for it got "
        f"{exchange.summary(60)}",
        _seed_fix(spare, "--spare-token"),
        answer=exchange.summary(),
    )


def _lowercase_missed(run: ReceiverRun, spare: str, lower: str, exchange: Exchange) -> Finding:
    """A 404 for the lower-case id: a case-sensitive lookup, unless the token is not there."""
    known = run.initial_states.get(spare)
    if known is None or known.status is None:
        probe = run.probe
        upper = probe.deliver(probe.signed(probe.payload(token_id=spare)), "spare, upper-case")
        if upper.status == 404:
            return _spare_missing(spare, upper)
    return Finding.failed(
        f"token id {lower!r} got 404 although {spare} exists: the handler looks the id up as sent",
        _CASE_SENSITIVE_FIX,
        answer=exchange.summary(),
    )


@receiver_check("lowercase-token-id", "a lower-case token id lands on the upper-case token")
def lowercase_token_id(run: ReceiverRun) -> Finding:
    spare = run.take_spare(with_letters=True)
    if spare is None:
        return _lowercase_on_the_registered_token(run)
    lower, exchange = _lowercase_delivery(run.probe, spare)
    if exchange.status == 404:
        return _lowercase_missed(run, spare, lower, exchange)
    problem = _acceptance_problem(exchange, f"token id {lower!r}") or _named_another_token(
        exchange, lower, spare
    )
    if problem is not None:
        return problem
    landed = _state_after_acceptance(run, spare, f"token id {lower!r}")
    if landed is not None:
        return landed
    if run.probe.has_state_url:
        return Finding.passed(
            f"token id {lower!r} moved DRAFT token {spare} to REGISTERED (the state URL confirms)"
        )
    return Finding.passed(
        f"token id {lower!r} accepted for DRAFT token {spare} (pass --state-url to confirm it "
        "landed there)"
    )


def _lowercase_on_the_registered_token(run: ReceiverRun) -> Finding:
    """Without a spare DRAFT token: the lookup is seen, the transition is not."""
    probe = run.probe
    if probe.token.lower() == probe.token:
        return Finding.skipped(f"token id {probe.token} has no letters to lower-case")
    lower, exchange = _lowercase_delivery(probe, probe.token)
    if exchange.status == 404:
        return Finding.failed(
            f"token id {lower!r} got 404 although {probe.token} exists: the handler looks the "
            "id up as sent",
            _CASE_SENSITIVE_FIX,
            answer=exchange.summary(),
        )
    problem = _acceptance_problem(exchange, f"token id {lower!r}") or _named_another_token(
        exchange, lower, probe.token
    )
    if problem is not None:
        return problem
    landed = _state_after_acceptance(run, probe.token, f"token id {lower!r}")
    if landed is not None:
        return landed
    return Finding.passed(
        f"token id {lower!r} accepted for {probe.token}; weaker evidence: {probe.token} was "
        "already REGISTERED, so this shows the lookup but not a transition (pass --spare-token "
        "with another DRAFT token to see one)",
        weaker_state_check=True,
    )


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

    To the unknown token when its 404 is known to come last (then 404 means "passed", whatever
    the receiver does with known tokens); else to the token under test, already REGISTERED,
    where 200 means "passed" but a receiver answering duplicates early proves less.
    """

    token: str
    status: int
    meaning: str

    @classmethod
    def of(cls, run: ReceiverRun) -> _PastVerification:
        if run.lookup_comes_last:
            return cls(UNKNOWN_TOKEN, 404, f"404 for the unknown token {UNKNOWN_TOKEN}")
        return cls(run.probe.token, 200, f"200 for the already REGISTERED token {run.probe.token}")

    def passed(self, exchange: Exchange) -> bool:
        return _accepted(exchange) if self.status == 200 else exchange.status == self.status

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
    probe = run.probe
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
        exchange = probe.deliver(
            probe.signed(own, body=body), f"serialized {_ACCEPTED_SERIALIZATION}"
        )
        problem = _acceptance_problem(
            exchange, f"the {_ACCEPTED_SERIALIZATION} serialization for token {probe.token}"
        )
        if problem is not None:
            return problem
        statuses[f"{_ACCEPTED_SERIALIZATION} for {probe.token}"] = exchange.status
    return Finding.passed(
        f"all {len(answers)} serializations passed the signature check ({past.meaning})"
        + (f" and the {_ACCEPTED_SERIALIZATION} one was accepted" if past.status == 404 else "")
        + f": the raw body is verified{past.weaker}",
        statuses=statuses,
    )


def _serialization_failure(
    answers: dict[str, Exchange],
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
    exchange = probe.send("upper-case hex", delivery.body, probe.with_signature(delivery, upper))
    if past.passed(exchange):
        return Finding.passed(
            f"upper-case hex digest passed the signature check ({past.meaning}){past.weaker}"
        )
    return Finding.failed(
        f"an upper-case hex digest got {exchange.summary(60)}, not {past.status}; the contract "
        "accepts either case",
        "decode the hex digest to bytes and compare bytes in constant time (not the strings)",
        answer=exchange.summary(),
    )


_DUPLICATE_FIX = (
    "remember idempotency keys (or see that the token is already REGISTERED) and answer a "
    "repeat 200 with duplicate: true without changing anything"
)


def _repeat_problem(first: Exchange, second: Exchange, key: str) -> Finding | None:
    for exchange, what in ((first, "the delivery"), (second, "its exact repeat")):
        problem = _acceptance_problem(exchange, what)
        if problem is not None:
            return problem
    if second.field("duplicate") is False:
        return Finding.failed(
            f"the exact repeat (idempotency key {key}) was answered as a new registration "
            "(duplicate: false)",
            _DUPLICATE_FIX,
            first=first.summary(),
            second=second.summary(),
        )
    return None


def _second_transition(token: str, before: TokenStateReading, after: TokenStateReading) -> Finding:
    return Finding.failed(
        f"token {token} changed on a repeat although it was already REGISTERED "
        f"({'; '.join(_registration_changes(before, after))}): a second transition",
        _DUPLICATE_FIX,
    )


def _reported(second: Exchange) -> str:
    if second.field("duplicate") is True:
        return "the repeat reported as duplicate"
    return "the handler does not report duplicates (the optional 'duplicate' field)"


@receiver_check("duplicate-delivery", "the same delivery twice: 200 both times, one transition")
def duplicate_delivery(run: ReceiverRun) -> Finding:
    spare = run.take_spare()
    if spare is None:
        return _repeats_on_the_registered_token(run)
    probe = run.probe
    delivery = probe.signed(probe.payload(token_id=spare))
    first = probe.deliver(delivery, "delivery for a DRAFT spare token")
    if first.status == 404:
        return _spare_missing(spare, first)
    problem = _acceptance_problem(first, f"the delivery for DRAFT token {spare}")
    if problem is not None:
        return problem
    after_first = probe.token_state(spare) if probe.has_state_url else None
    if after_first is not None and not after_first.registered:
        return Finding.failed(
            f"the delivery for DRAFT token {spare} got 200 but it reads {after_first.in_words}",
            "move the token to REGISTERED (upper-cased id) before answering 200",
        )
    second = probe.deliver(delivery, "its exact repeat")
    problem = _repeat_problem(first, second, idempotency_key_of(delivery))
    if problem is not None:
        return problem
    if after_first is None:
        return Finding.passed(
            f"the delivery for DRAFT token {spare} and its exact repeat got 200; "
            f"{_reported(second)} (pass --state-url to see a single transition)",
            second=second.summary(),
        )
    after_repeat = probe.token_state(spare)
    if _registration_changes(after_first, after_repeat):
        return _second_transition(spare, after_first, after_repeat)
    return Finding.passed(
        f"the delivery moved {spare} from DRAFT to REGISTERED; its exact repeat (same "
        f"idempotency key) got 200 and changed nothing (the state URL confirms); "
        f"{_reported(second)}",
        second=second.summary(),
    )


def _repeats_on_the_registered_token(run: ReceiverRun) -> Finding:
    """Without a spare DRAFT token: a later version and its repeat must change nothing."""
    probe = run.probe
    before = probe.token_state() if probe.has_state_url else None
    delivery = probe.signed(probe.payload(model_version="2"))
    first = probe.deliver(delivery, "new delivery for the registered token")
    second = probe.deliver(delivery, "its exact repeat")
    problem = _repeat_problem(first, second, idempotency_key_of(delivery))
    if problem is not None:
        return problem
    if run.token_exists and first.field("duplicate") is False:
        return Finding.failed(
            f"a delivery for token {probe.token}, already REGISTERED, was answered as a new "
            "registration (duplicate: false)",
            _DUPLICATE_FIX,
            first=first.summary(),
        )
    after = probe.token_state() if before is not None else None
    if before is not None and after is not None and before.registered:
        if _registration_changes(before, after):
            return _second_transition(probe.token, before, after)
        confirmed = "nothing changed (the state URL confirms)"
    else:
        confirmed = "pass --state-url to see that nothing changed"
    return Finding.passed(
        f"a delivery for the already REGISTERED token {probe.token} and its exact repeat got "
        f"200; {_reported(second)}; {confirmed}; weaker evidence than a DRAFT token's single "
        "transition (pass a second --spare-token)",
        second=second.summary(),
        weaker_state_check=True,
    )


_NAIVE_TIMESTAMP_FIX = (
    "parse a timestamp without offset as UTC, not as local time and not as an error"
)


@receiver_check("timestamp-without-offset", "a timestamp without offset is read as UTC")
def timestamp_without_offset(run: ReceiverRun) -> Finding:
    spare = run.take_spare()
    if spare is not None:
        return _naive_timestamp_registers(run, spare)
    probe = run.probe
    past = _PastVerification.of(run)
    payload = probe.payload(token_id=past.token)
    naive = str(payload["timestamp"]).rstrip("Z")
    exchange = probe.deliver(probe.signed({**payload, "timestamp": naive}), "timestamp no offset")
    if past.passed(exchange):
        return Finding.passed(
            f"timestamp {naive!r} (no offset, as older senders wrote) passed validation "
            f"({past.meaning}){past.weaker}; weaker evidence than a DRAFT token registered "
            "with it (pass a third --spare-token)",
            weaker_state_check=True,
        )
    return Finding.failed(
        f"timestamp {naive!r} got {exchange.summary(60)}, not {past.status}; older senders "
        "wrote datetime.utcnow().isoformat(), which the contract reads as UTC",
        _NAIVE_TIMESTAMP_FIX,
        answer=exchange.summary(),
    )


def _naive_timestamp_registers(run: ReceiverRun, spare: str) -> Finding:
    """The whole way: a DRAFT token registered by a delivery stamped without an offset."""
    probe = run.probe
    payload = probe.payload(token_id=spare)
    naive = str(payload["timestamp"]).rstrip("Z")
    exchange = probe.deliver(probe.signed({**payload, "timestamp": naive}), "timestamp no offset")
    if exchange.status == 404:
        return _spare_missing(spare, exchange)
    problem = _acceptance_problem(exchange, f"a delivery stamped {naive!r} (no offset)")
    if problem is not None:
        return Finding.failed(
            f"{problem.why}; older senders wrote datetime.utcnow().isoformat(), which the "
            "contract reads as UTC",
            _NAIVE_TIMESTAMP_FIX,
            answer=exchange.summary(),
        )
    landed = _state_after_acceptance(run, spare, f"a delivery stamped {naive!r}")
    if landed is not None:
        return landed
    return Finding.passed(
        f"timestamp {naive!r} (no offset, as older senders wrote) registered DRAFT token {spare}"
        + (" (the state URL confirms it)" if probe.has_state_url else "")
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
    bad = {label: a for label, a in answers.items() if not past.passed(a) and a.status != 401}
    if bad:
        listing = ", ".join(f"{label} old got {a.summary(50)}" for label, a in bad.items())
        return Finding.failed(
            f"{listing}; an old timestamp either passes ({past.meaning}) or is refused as a "
            "replay (401)",
            "refuse a timestamp outside your tolerance with 401 (reason "
            f"{REPLAY_REASON}), or accept it",
            statuses=statuses,
        )
    refused = [label for label, a in answers.items() if a.status == 401]
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
        f"{e.check_id}: {e.label} ({e.status})": problem
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
