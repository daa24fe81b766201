"""The sender checks: judge what a sender put on the wire, request by captured request.

The evidence is what any sender can be judged by: for each registration it made, every request
captured for it (retries included), and, when the caller knows them, what MLflow itself says
about the version, the receiver's tokens afterwards, and how the sender's own process ended.
Each check looks at all of them and names the registration and attempt that broke a rule.

Both shapes of the contract are judged, each by its own rules: a body with a top-level
``token_id`` is a v1 (flat) body, any other body with a ``model`` object a v2 (nested) one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from contracts.conformance.checklist import CheckFunction, Checklist, StopRun
from contracts.conformance.diagnosis import diagnose
from contracts.conformance.results import Finding
from contracts.envelope import (
    CURRENT_PATH,
    EVENT_HEADER,
    IDEMPOTENCY_KEY_HEADER,
    SEED_PATH,
    WEBHOOK_PATHS,
)
from contracts.payload import (
    EVENT_TYPE,
    PayloadError,
    Shape,
    parse_body,
    parse_timestamp,
    payload_shape,
    validate_payload,
)
from contracts.signing import SIGNATURE_HEADER
from contracts.tokens import is_valid_token_id

if TYPE_CHECKING:
    from contracts.conformance.recording import RecordedRequest

_PATH_WORDS = {CURRENT_PATH: "the current default", SEED_PATH: "the seed path"}
SECRET_VARIABLES = ("HOKUSAI_SITE_WEBHOOK_SECRET", "WEBHOOK_SECRET")
DEFAULT_TIMEOUT = 60.0
"""Seconds a sender's command may run (the SDK's publisher retries for about a minute). Here,
not in :mod:`~contracts.conformance.check_sender`, so that the command line can show it without
importing the judging receiver (werkzeug), which a core install lacks."""
"""Where real senders read the secret, in order; without one they send unsigned."""
TIMESTAMP_SLACK_SECONDS = 300.0
"""How far a timestamp may be from the moment its request arrived: a sender's clock may drift
and a retry may resend old bytes, but an hour off is a local time written as UTC."""
CLOCK_GRAIN_SECONDS = 0.05
"""How much shorter than ``Retry-After`` a measured wait may be: the two clocks' resolution."""
_AWARE_PLUS_Z = re.compile(r"[+-]\d{2}:\d{2}[Zz]$")


# --- what a body says -----------------------------------------------------------------------


@dataclass(frozen=True)
class SentBody:
    """What a body says, read leniently: a broken body is still judged for what it carries.

    ``shape`` is ``"v1"`` (a top-level ``token_id``), ``"v2"`` (a ``model`` object and no
    ``token_id``) or ``None`` (not a JSON object of either shape).
    """

    shape: str | None
    token: object = None
    name: object = None
    version: object = None
    run_id: object = None
    timestamp: object = None
    has_api_schema: bool = False
    api_schema: object = None

    @property
    def token_key(self) -> str | None:
        """The token id in the receivers' case (upper), when it is a valid token id."""
        return (
            self.token.upper()
            if isinstance(self.token, str) and is_valid_token_id(self.token)
            else None
        )

    @property
    def shape_words(self) -> str:
        return {"v1": "v1 (flat)", "v2": "v2 (nested)"}.get(self.shape or "", "neither shape")


def read_body(body: bytes) -> SentBody:
    """The fields of ``body`` by its shape, whatever its validity."""
    try:
        parsed = parse_body(body)
    except PayloadError:
        return SentBody(None)
    if not isinstance(parsed, dict):
        return SentBody(None)
    if payload_shape(parsed) is Shape.V1:
        return SentBody(
            "v1",
            parsed.get("token_id"),
            parsed.get("model_name"),
            parsed.get("model_version"),
            parsed.get("mlflow_run_id"),
            parsed.get("timestamp"),
        )
    model = parsed.get("model")
    if not isinstance(model, dict):
        return SentBody(None, timestamp=parsed.get("timestamp"))
    return SentBody(
        "v2",
        model.get("id"),
        model.get("name"),
        model.get("version"),
        model.get("run_id"),
        parsed.get("timestamp"),
        "api_schema" in model,
        model.get("api_schema"),
    )


def registration_label(sent: SentBody) -> str:
    """One registration's name in findings: its token, and its version (else its model name)."""
    token = sent.token_key or (repr(sent.token) if sent.token is not None else None)
    if token is None:
        return "a body naming no token"
    if isinstance(sent.version, str):
        return f"{token} v{sent.version}"
    return f"{token} {sent.name!r}" if isinstance(sent.name, str) else token


# --- the evidence ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MlflowTruth:
    """The model version as MLflow itself reports it."""

    name: str
    version: str
    run_id: str | None
    api_schema: dict[str, Any] | None = None
    """What the version's signature maps to; ``None``: no ``api_schema`` (a tensor-based
    signature, or none)."""
    signature_read: bool = False
    """True when ``api_schema`` was derived from the version's signature, so it can be judged."""


@dataclass(frozen=True)
class SenderCase:
    """One registration the sender made, and every request captured for it."""

    label: str
    requested_token: str
    """The token id the registration is for, in any case (as the caller passed it, or sent)."""
    requests: tuple[RecordedRequest, ...]
    mlflow: MlflowTruth | None = None
    """What MLflow says about the version registered, when the caller asked it."""
    fault_injected: bool = False
    """True when the first attempts were answered with a 503 on purpose."""
    token_status: str | None = None
    """The receiver's state of the token afterwards, when known."""
    retry_after: float | None = None
    """The ``Retry-After`` seconds sent with each injected 503, when one was sent."""
    mlflow_problem: str | None = None
    """Why MLflow could not confirm the version this registration names, when it could not."""


@dataclass(frozen=True)
class CommandOutcome:
    """How the sender's own process ended."""

    words: str
    """The command as shown (without secrets)."""
    exit_status: int | None
    """Its exit status; ``None`` when it was killed at the timeout."""
    seconds: float
    timeout: float

    @property
    def killed(self) -> bool:
        return self.exit_status is None


@dataclass(frozen=True)
class SenderEvidence:
    secret: str = field(repr=False)
    cases: tuple[SenderCase, ...]
    command: CommandOutcome | None = None
    """How the sender's command ended, when the judge ran it."""
    receiver_tokens: Mapping[str, str] | None = None
    """Every token on the judging receiver and its status afterwards, when known; without it
    each case's ``token_status`` is judged."""
    nothing_arrived: str = "no registration was made, so nothing was captured to judge"
    """The finding when no request arrived at all."""

    def attempts(self) -> Iterator[tuple[SenderCase, int, RecordedRequest]]:
        """Every captured request with its registration and 1-based attempt number."""
        for case in self.cases:
            for number, request in enumerate(case.requests, start=1):
                yield case, number, request

    @property
    def request_count(self) -> int:
        return sum(len(case.requests) for case in self.cases)

    @property
    def delivery_seconds(self) -> float:
        """How long the receiver took over every captured request, answers included."""
        return sum(request.answered_in for _, _, request in self.attempts())


def _timed(check_id: str, function: CheckFunction[SenderEvidence]) -> CheckFunction[SenderEvidence]:
    """Count in each check's duration the time of the deliveries it judged, unless the check
    names its own (``sender-command``: the command's run time)."""

    def with_time(finding: Finding, evidence: SenderEvidence) -> Finding:
        return finding if finding.judged_s else replace(finding, judged_s=evidence.delivery_seconds)

    def run(evidence: SenderEvidence) -> Finding:
        try:
            finding = function(evidence)
        except StopRun as stop:
            raise StopRun(with_time(stop.finding, evidence), stop.skip_reason) from None
        return with_time(finding, evidence)

    return run


SENDER_CHECKS: Checklist[SenderEvidence] = Checklist(guard=_timed)


def _verdict(
    evidence: SenderEvidence, problems: Sequence[str], passed: str, fix: str, also: str = ""
) -> Finding:
    """Pass with ``passed``, or fail naming the first problems (and ``also``, said once)."""
    if not evidence.cases:
        return Finding.failed(evidence.nothing_arrived)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        why = "; ".join(problems[:3]) + more + (f"; {also}" if also else "")
        return Finding.failed(why, fix, problems=list(problems))
    return Finding.passed(passed)


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def _where(case: SenderCase, attempt: int | None = None) -> str:
    return f"{case.label} (attempt {attempt})" if attempt else case.label


@SENDER_CHECKS.check("sender-command", "the sender's command ran to its end and exited 0")
def sender_command(evidence: SenderEvidence) -> Finding:
    command = evidence.command
    if command is None:
        return Finding.skipped("no command was run: the deliveries came from elsewhere")
    return replace(_command_finding(command), judged_s=command.seconds)


def _command_finding(command: CommandOutcome) -> Finding:
    if command.killed:
        return Finding.failed(
            f"{command.words} was still running after --timeout {command.timeout:g} s; its "
            "process group was killed",
            "make the command end once its registration is delivered (or give up), or raise "
            "--timeout if it needs longer",
            exit_status=None,
        )
    if command.exit_status != 0:
        return Finding.failed(
            f"{command.words} exited with status {command.exit_status} after "
            f"{command.seconds:.1f} s",
            "its own output (above, marked |) says why",
            exit_status=command.exit_status,
        )
    return Finding.passed(
        f"{command.words} exited with status 0 after {command.seconds:.1f} s", exit_status=0
    )


@SENDER_CHECKS.check("sender-delivered", "every registration was delivered and accepted")
def sender_delivered(evidence: SenderEvidence) -> Finding:
    if not evidence.cases:
        raise StopRun(
            Finding.failed(
                evidence.nothing_arrived,
                "point the sender at the URL and secret it was given (HOKUSAI_SITE_WEBHOOK_URL "
                "or WEBHOOK_URL, HOKUSAI_SITE_WEBHOOK_SECRET or WEBHOOK_SECRET) and make it "
                "send before it exits",
            ),
            "skipped: no delivery arrived to judge",
        )
    problems = []
    for case in evidence.cases:
        statuses = [request.status for request in case.requests]
        if not case.requests[-1].succeeded:
            problems.append(f"{case.label}: not delivered (attempts answered {statuses})")
    count = len(evidence.cases)
    return _verdict(
        evidence,
        problems,
        f"{_count(count, 'registration')}, each delivered and answered 2xx",
        "the checks below name the rule broken; the receiver's answer says why it refused",
    )


@SENDER_CHECKS.check("sender-path", "POST to a webhook path of the contract")
def sender_path(evidence: SenderEvidence) -> Finding:
    problems = []
    used: dict[str, None] = {}
    for case, attempt, request in evidence.attempts():
        used[request.path] = None
        if request.method != "POST" or request.path not in WEBHOOK_PATHS:
            problems.append(f"{_where(case, attempt)}: {request.method} {request.path}")
    paths = " and ".join(f"{path} ({_PATH_WORDS[path]})" for path in WEBHOOK_PATHS)
    return _verdict(
        evidence,
        problems,
        f"every request was POST {', '.join(used)}",
        "POST to the URL the sender is given, as is: it already names the path",
        also=f"the contract's paths are {paths}",
    )


@SENDER_CHECKS.check("sender-content-type", "Content-Type: application/json")
def sender_content_type(evidence: SenderEvidence) -> Finding:
    problems = []
    for case, attempt, request in evidence.attempts():
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            problems.append(f"{_where(case, attempt)}: Content-Type {content_type or 'missing'}")
    return _verdict(
        evidence,
        problems,
        "every request said Content-Type: application/json",
        "send Content-Type: application/json with the body",
    )


def _signature_problem(request: RecordedRequest, secret: str) -> tuple[str, str] | None:
    """Why a request's signature does not verify over its exact bytes (and the fix), or None."""
    header = request.header(SIGNATURE_HEADER)
    name = SIGNATURE_HEADER
    if header is None:
        elsewhere = [key for key in request.headers if "signature" in key.lower()]
        if not elsewhere:
            variables = " or ".join(SECRET_VARIABLES)
            return (
                f"unsigned: no {SIGNATURE_HEADER} header",
                f"give the sender the secret ({variables}); a sender without one sends "
                "unsigned, and the website refuses that with 401",
            )
        name = elsewhere[0]
        header = request.headers[name]
    diagnosis = diagnose(request.body, header, secret, name)
    if diagnosis.verifies:
        return None
    return f"{diagnosis.cause.value}: {diagnosis.explanation}", diagnosis.fix or ""


@SENDER_CHECKS.check("sender-signature", "every signature verifies over the exact bytes sent")
def sender_signature(evidence: SenderEvidence) -> Finding:
    problems = []
    fixes: dict[str, None] = {}
    for case, attempt, request in evidence.attempts():
        found = _signature_problem(request, evidence.secret)
        if found is not None:
            problems.append(f"{_where(case, attempt)}: {found[0]}")
            fixes[found[1]] = None
    return _verdict(
        evidence,
        problems,
        "every request's signature verifies over its own raw bytes",
        "; ".join(fix for fix in fixes if fix)
        or "serialize once, sign those bytes, send those same bytes",
    )


@SENDER_CHECKS.check("sender-schema-valid", "every body is one of the shapes, valid against it")
def sender_schema_valid(evidence: SenderEvidence) -> Finding:
    problems = []
    shapes: dict[str, None] = {}
    for case, attempt, request in evidence.attempts():
        sent = read_body(request.body)
        try:
            validate_payload(request.body)
        except PayloadError as error:
            problems.append(f"{_where(case, attempt)}: {sent.shape_words} body: {error}")
        else:
            shapes[sent.shape_words] = None
    return _verdict(
        evidence,
        problems,
        f"{_count(evidence.request_count, 'body', 'bodies')} valid, shape {' and '.join(shapes)}",
        "send the nested v2 body (or the flat v1 one) exactly as schemas/ describes it; "
        "the violation names the field",
    )


@SENDER_CHECKS.check("sender-token-case", "the token id in the case of its shape")
def sender_token_case(evidence: SenderEvidence) -> Finding:
    problems = []
    rules = {"v1": "v1 token_id upper-cased", "v2": "v2 model.id lower-cased"}
    seen: dict[str, None] = {}
    for case, attempt, request in evidence.attempts():
        sent = read_body(request.body)
        if sent.token_key is None or sent.shape is None:
            continue  # sender-schema-valid names it
        assert isinstance(sent.token, str)
        seen[rules[sent.shape]] = None
        if sent.shape == "v1" and sent.token != sent.token.upper():
            problems.append(f"{_where(case, attempt)}: v1 token_id {sent.token!r} not upper-cased")
        if sent.shape == "v2" and sent.token != sent.token.lower():
            problems.append(f"{_where(case, attempt)}: v2 model.id {sent.token!r} not lower-cased")
    lowered = [  # passed to a v1 sender in lower case, and upper-cased by it
        c.requested_token
        for c in evidence.cases
        if not c.requested_token.isupper()
        and any(read_body(request.body).shape == "v1" for request in c.requests)
    ]
    shown = f" (including {', '.join(map(repr, lowered))} passed in lower case)" if lowered else ""
    return _verdict(
        evidence,
        problems,
        f"{', '.join(seen) or 'no token id to judge'}{shown}",
        "v1: send token_id upper-cased (contracts.normalize_token_id); v2: send model.id "
        "lower-cased, as the SDK does (receivers match both in any case)",
    )


@SENDER_CHECKS.check("sender-token-registered", "each token is known and ends REGISTERED")
def sender_token_registered(evidence: SenderEvidence) -> Finding:
    tokens = evidence.receiver_tokens
    if tokens is None and all(case.token_status is None for case in evidence.cases):
        return Finding.skipped("the receiver's state of the tokens was not given")
    problems = []
    token_problems = 0
    named: dict[str, None] = {}
    for case in evidence.cases:
        token = case.requested_token.upper()
        named[token] = None
        status = case.token_status if tokens is None else tokens.get(token)
        refusals = sorted({r.status for r in case.requests if not r.succeeded})
        if tokens is not None and token not in tokens:
            token_problems += 1
            problems.append(
                f"{case.label}: token {token} is not on the receiver (it has "
                f"{', '.join(tokens) or 'none'})"
            )
        elif (
            status != "REGISTERED"
            and case.requests
            and len(refusals)
            and not any(r.succeeded for r in case.requests)
        ):
            # The token is right; the receiver refused what carried it.
            answered = ", ".join(str(code) for code in refusals)
            problems.append(
                f"{case.label}: token {token} is {status} because the receiver refused every "
                f"delivery for it ({answered})"
            )
        elif status != "REGISTERED":
            token_problems += 1
            problems.append(f"{case.label}: token {token} is {status}")
    for token, status in (tokens or {}).items():
        if token not in named and status != "REGISTERED":
            token_problems += 1
            problems.append(f"token {token} is {status}: no delivery named it")
    fix = (
        "send the token the registration is for (pass it to the judge with --token); the "
        "checks above say why a delivery was refused"
        if token_problems
        else "fix what the checks above name (the signature, the body): the receiver refused "
        "the deliveries, the token in them is right"
    )
    return _verdict(
        evidence,
        problems,
        f"tokens {', '.join(named)} moved from DRAFT to REGISTERED on the receiver",
        fix,
    )


def _timestamp_problem(value: object, arrived: float) -> str | None:
    """Why a timestamp is not what senders write (UTC, ``Z``, near the time it was sent)."""
    if not isinstance(value, str):
        return f"timestamp {value!r} is not a string"
    try:
        moment = parse_timestamp(value)
    except ValueError:
        if _AWARE_PLUS_Z.search(value):
            return (
                f"timestamp {value!r} has an offset and a Z: an aware datetime's isoformat() + "
                "'Z'; not a date-time"
            )
        return f"timestamp {value!r} is not an RFC 3339 date-time"
    if not value.endswith(("Z", "z")):
        return f"timestamp {value!r} is not written in UTC with Z"
    off = moment.timestamp() - arrived
    if abs(off) > TIMESTAMP_SLACK_SECONDS:
        return (
            f"timestamp {value!r} is {off / 3600:+.1f} h from when it arrived: local time "
            "written as UTC?"
        )
    return None


def _form(value: str) -> str:
    fraction = re.search(r"\.(\d+)", value)
    return f"{len(fraction.group(1))}-digit fractions, Z" if fraction else "whole seconds, Z"


@SENDER_CHECKS.check("sender-timestamp", "every timestamp is UTC with Z, stamped at sending")
def sender_timestamp(evidence: SenderEvidence) -> Finding:
    problems = []
    forms: dict[str, None] = {}
    seen: dict[tuple[str, str], str] = {}
    for case, attempt, request in evidence.attempts():
        sent = read_body(request.body)
        if sent.shape is None:
            continue  # sender-schema-valid names it
        problem = _timestamp_problem(sent.timestamp, case.requests[0].received_at)
        if problem is not None:
            problems.append(f"{_where(case, attempt)}: {problem}")
            continue
        assert isinstance(sent.timestamp, str)
        forms[_form(sent.timestamp)] = None
        if sent.shape == "v2" and sent.token_key is not None:
            dedupe = (sent.token_key, sent.timestamp)
            other = seen.setdefault(dedupe, case.label)
            if other != case.label:
                problems.append(
                    f"{case.label} and {other} carry the same timestamp {sent.timestamp!r}: the "
                    "website dedupes v2 on event_type:model.id:timestamp and drops the second"
                )
    return _verdict(
        evidence,
        problems,
        f"every timestamp RFC 3339 in UTC ({' and '.join(forms)})",
        "write datetime.now(timezone.utc) as %Y-%m-%dT%H:%M:%S (with .%f for microseconds) "
        "followed by Z; never an aware isoformat() with Z added",
    )


@SENDER_CHECKS.check("sender-event-header", f"{EVENT_HEADER}: {EVENT_TYPE}, when sent")
def sender_event_header(evidence: SenderEvidence) -> Finding:
    problems = []
    sent_by: dict[str, None] = {}
    for case, attempt, request in evidence.attempts():
        value = request.header(EVENT_HEADER)
        shape = read_body(request.body).shape
        if value is None and shape == "v1":
            problems.append(f"{_where(case, attempt)}: v1 delivery without {EVENT_HEADER}")
        elif value is not None and value != EVENT_TYPE:
            problems.append(f"{_where(case, attempt)}: {EVENT_HEADER} {value!r}")
        else:
            sent_by["sent" if value else "not sent (v2 needs none)"] = None
    return _verdict(
        evidence,
        problems,
        f"{EVENT_HEADER}: {' / '.join(sent_by)}",
        f"send {EVENT_HEADER}: {EVENT_TYPE} (v1 senders must; v2 senders may leave it out)",
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@SENDER_CHECKS.check(
    "sender-idempotency-key", "one stable UUID per registration, when sent, distinct across them"
)
def sender_idempotency_key(evidence: SenderEvidence) -> Finding:
    problems = []
    owners: dict[str, str] = {}
    unkeyed = 0
    for case in evidence.cases:
        keys = list(dict.fromkeys(request.idempotency_key for request in case.requests))
        v1 = any(read_body(request.body).shape == "v1" for request in case.requests)
        if keys == [None]:
            unkeyed += 1
            if v1:
                problems.append(f"{case.label}: v1 delivery without {IDEMPOTENCY_KEY_HEADER}")
            continue
        if len(keys) != 1:
            shown = ", ".join("none" if key is None else repr(key) for key in keys)
            problems.append(f"{case.label}: the key changed between attempts ({shown})")
            continue
        key = str(keys[0])
        if not _is_uuid(key):
            problems.append(f"{case.label}: {IDEMPOTENCY_KEY_HEADER} {key!r} is not a UUID")
        elif key in owners:
            problems.append(f"{case.label} reuses the key of {owners[key]}")
        else:
            owners[key] = case.label
    words = "; ".join(
        (
            [f"{_count(len(owners), 'registration')} with a stable UUID key of its own"]
            if owners
            else []
        )
        + ([f"{_count(unkeyed, 'registration')} without a key (v2 needs none)"] if unkeyed else [])
    )
    return _verdict(
        evidence,
        problems,
        words,
        "derive the key from the registration (uuid5 over its token, model and version), not "
        "per attempt, and send it on every attempt",
    )


def _retry_notes(case: SenderCase) -> tuple[list[str], str]:
    """The problems of one faulted registration's retries, and a note on how it retried."""
    statuses = [request.status for request in case.requests]
    injected = [n for n, request in enumerate(case.requests) if request.status == 503]
    if not injected:
        return [f"{case.label}: no attempt was answered 503 (attempts {statuses})"], ""
    last = injected[-1]
    if last + 1 >= len(case.requests):
        return [f"{case.label}: gave up after {len(injected)} 503 answer(s) ({statuses})"], ""
    problems = []
    waits = [
        case.requests[n + 1].received_at - case.requests[n].received_at
        for n in injected
        if n + 1 < len(case.requests)
    ]
    if case.retry_after is not None:
        short = [wait for wait in waits if wait < case.retry_after - CLOCK_GRAIN_SECONDS]
        if short:
            problems.append(
                f"{case.label}: retried {min(short):.2f} s after a 503 with Retry-After: "
                f"{case.retry_after:g}"
            )
    bodies = [read_body(request.body) for request in case.requests]
    if bodies[0].shape == "v2" and len({body.timestamp for body in bodies}) > 1:
        problems.append(
            f"{case.label}: a retry was stamped anew; the website dedupes v2 on the "
            "timestamp, so it counts as a second event"
        )
    same = len({request.body for request in case.requests}) == 1
    note = (
        f"{case.label}: {len(case.requests)} attempts ({'/'.join(map(str, statuses))}), waited "
        + ", ".join(f"{wait:.2f} s" for wait in waits)
        + (f" (Retry-After {case.retry_after:g})" if case.retry_after is not None else "")
        + (", the same signed bytes resent" if same else ", each body stamped and signed anew")
    )
    return problems, note


@SENDER_CHECKS.check("sender-retry", "after a 503 the sender retried, waited, re-signed")
def sender_retry(evidence: SenderEvidence) -> Finding:
    faulted = [case for case in evidence.cases if case.fault_injected]
    if not faulted:
        return Finding.skipped("no fault was injected (check-sender --fail-first N injects one)")
    problems: list[str] = []
    notes = []
    for case in faulted:
        found, note = _retry_notes(case)
        problems += found
        if note:
            notes.append(note)
        unsigned = [
            number
            for number, request in enumerate(case.requests, start=1)
            if _signature_problem(request, evidence.secret) is not None
        ]
        if unsigned and len(case.requests) > 1:
            problems.append(f"{case.label}: attempts {unsigned} do not verify over their bytes")
    return _verdict(
        evidence,
        problems,
        "; ".join(notes),
        "retry 503s (waiting at least Retry-After when given) with the same key; resend the "
        "same signed bytes (v2: the same timestamp)",
    )


def _sent_fields(sent: SentBody) -> dict[str, object]:
    """The MLflow facts a body states, under their names in its shape."""
    if sent.shape == "v1":
        return {
            "model_name": sent.name,
            "model_version": sent.version,
            "mlflow_run_id": sent.run_id,
        }
    return {"model.name": sent.name, "model.version": sent.version, "model.run_id": sent.run_id}


@SENDER_CHECKS.check("sender-matches-mlflow", "name, version and run id are MLflow's own")
def sender_matches_mlflow(evidence: SenderEvidence) -> Finding:
    known = [case for case in evidence.cases if case.mlflow or case.mlflow_problem]
    if evidence.cases and not known:
        return Finding.skipped("what MLflow registered was not given (check-sender --tracking-uri)")
    problems = [f"{case.label}: {case.mlflow_problem}" for case in known if case.mlflow_problem]
    for case in known:
        truth = case.mlflow
        if truth is None:
            continue
        expected = [truth.name, truth.version, truth.run_id]
        for attempt, request in enumerate(case.requests, start=1):
            sent = read_body(request.body)
            for (name, value), wanted in zip(_sent_fields(sent).items(), expected, strict=True):
                if value != wanted:
                    problems.append(f"{_where(case, attempt)}: {name} {value!r}, MLflow {wanted!r}")
    versions = ", ".join(f"{c.mlflow.name} v{c.mlflow.version}" for c in known if c.mlflow)
    return _verdict(
        evidence,
        problems,
        f"every body names what MLflow registered ({versions})",
        "build the body from the ModelVersion MLflow returned, not from the inputs",
    )


@SENDER_CHECKS.check("sender-api-schema", "v2 api_schema is what the MLflow signature maps to")
def sender_api_schema(evidence: SenderEvidence) -> Finding:
    judged = [
        case
        for case in evidence.cases
        if case.mlflow is not None
        and case.mlflow.signature_read
        and any(read_body(request.body).shape == "v2" for request in case.requests)
    ]
    if not judged:
        return Finding.skipped(
            "no v2 body whose version's MLflow signature was read (check-sender --tracking-uri)"
        )
    problems = []
    notes = []
    for case in judged:
        assert case.mlflow is not None
        expected = case.mlflow.api_schema
        for attempt, request in enumerate(case.requests, start=1):
            sent = read_body(request.body)
            problem = _api_schema_problem(sent, expected)
            if problem is not None:
                problems.append(f"{_where(case, attempt)}: {problem}")
        notes.append(f"{case.label}: {'absent' if expected is None else 'equal'}")
    return _verdict(
        evidence,
        problems,
        f"api_schema as the signatures map ({'; '.join(notes)})",
        "derive api_schema from the version's column-based signature (tensor-based or none: "
        "leave it out), as docs/contract.md maps the types",
    )


def _api_schema_problem(sent: SentBody, expected: dict[str, Any] | None) -> str | None:
    if sent.shape != "v2":
        return None
    if expected is None:
        if sent.has_api_schema:
            return (
                f"model.api_schema is {'null' if sent.api_schema is None else 'an object'}, but "
                "the version has no column-based signature: leave it out (null clears the "
                "stored schema)"
            )
        return None
    if not sent.has_api_schema:
        return "model.api_schema is missing, but the version has a column-based signature"
    if not isinstance(sent.api_schema, Mapping):
        return f"model.api_schema is {sent.api_schema!r}, not the signature's schemas"
    for part in ("inputSchema", "outputSchema"):
        got, wanted = sent.api_schema.get(part), expected.get(part)
        if _schema_meaning(got) != _schema_meaning(wanted):
            return f"model.api_schema.{part} is {got!r}; the signature maps to {wanted!r}"
    return None


def _schema_meaning(schema: object) -> object:
    """A JSON Schema with what does not change its meaning left out: an empty ``required``,
    and the order of the names in ``required``."""
    if isinstance(schema, Mapping):
        meaning = {key: _schema_meaning(value) for key, value in schema.items()}
        required = meaning.get("required")
        if required == []:
            del meaning["required"]
        elif isinstance(required, list) and all(isinstance(name, str) for name in required):
            meaning["required"] = sorted(required)
        return meaning
    if isinstance(schema, list):
        return [_schema_meaning(item) for item in schema]
    return schema
