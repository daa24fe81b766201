"""The sender checks: judge what a sender put on the wire, request by captured request.

The evidence is what any sender can be judged by: for each registration it was asked to make,
every request captured for it (retries included), and, when the caller knows them, what MLflow
itself says about the version and the receiver's state of the token afterwards. Each check looks
at all of them and names the registration and attempt that broke a rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from contracts.conformance.checklist import Checklist
from contracts.conformance.results import Finding
from contracts.envelope import DEFAULT_PATH, EVENT_HEADER, IDEMPOTENCY_KEY_HEADER
from contracts.payload import EVENT_TYPE, PayloadError, validate_payload
from contracts.signing import SIGNATURE_HEADER, verify
from contracts.tokens import normalize_token_id

if TYPE_CHECKING:
    from contracts.conformance.recording import RecordedRequest


@dataclass(frozen=True)
class MlflowTruth:
    """The model version as MLflow itself reports it."""

    name: str
    version: str
    run_id: str | None


@dataclass(frozen=True)
class SenderCase:
    """One registration the sender was asked to make, and every request captured for it."""

    label: str
    requested_token: str
    """The token id exactly as the caller passed it (any case)."""
    requests: tuple[RecordedRequest, ...]
    mlflow: MlflowTruth | None = None
    """What MLflow says about the version registered, when the caller asked it."""
    fault_injected: bool = False
    """True when the first attempt was answered with a 503 on purpose."""
    token_status: str | None = None
    """The receiver's state of the token afterwards, when known."""


@dataclass(frozen=True)
class SenderEvidence:
    secret: str = field(repr=False)
    cases: tuple[SenderCase, ...]

    def attempts(self) -> Iterator[tuple[SenderCase, int, RecordedRequest]]:
        """Every captured request with its registration and 1-based attempt number."""
        for case in self.cases:
            for number, request in enumerate(case.requests, start=1):
                yield case, number, request


SENDER_CHECKS: Checklist[SenderEvidence] = Checklist()


def _verdict(evidence: SenderEvidence, problems: Sequence[str], passed: str, fix: str) -> Finding:
    if not evidence.cases:
        return Finding.failed("no registration was made, so nothing was captured to judge")
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return Finding.failed("; ".join(problems[:3]) + more, fix, problems=list(problems))
    return Finding.passed(passed)


def _where(case: SenderCase, attempt: int | None = None) -> str:
    return f"{case.label} (attempt {attempt})" if attempt else case.label


@SENDER_CHECKS.check("sender-delivered", "every registration was delivered and accepted")
def sender_delivered(evidence: SenderEvidence) -> Finding:
    problems = []
    for case in evidence.cases:
        statuses = [request.status for request in case.requests]
        if not statuses:
            problems.append(f"{case.label}: no request reached the receiver")
        elif not case.requests[-1].succeeded:
            problems.append(f"{case.label}: not delivered (attempts answered {statuses})")
    count = len(evidence.cases)
    return _verdict(
        evidence,
        problems,
        f"{count} registrations, each delivered and answered 2xx",
        "the checks above name the rule broken; the receiver's answer says why it refused",
    )


@SENDER_CHECKS.check("sender-schema-valid", "every body is valid against the schema")
def sender_schema_valid(evidence: SenderEvidence) -> Finding:
    problems = []
    for case, attempt, request in evidence.attempts():
        try:
            validate_payload(request.body)
        except PayloadError as error:
            problems.append(f"{_where(case, attempt)}: {error}")
    return _verdict(
        evidence,
        problems,
        f"all {sum(len(c.requests) for c in evidence.cases)} bodies valid",
        "build the body with contracts.build_payload",
    )


@SENDER_CHECKS.check("sender-signature", "every signature verifies over the exact bytes sent")
def sender_signature(evidence: SenderEvidence) -> Finding:
    problems = []
    for case, attempt, request in evidence.attempts():
        verification = verify(request.body, request.header(SIGNATURE_HEADER), evidence.secret)
        if not verification:
            reason = verification.reason.value if verification.reason else "unknown"
            problems.append(f"{_where(case, attempt)}: {reason}")
    return _verdict(
        evidence,
        problems,
        "every request's signature verifies over its own raw bytes",
        "serialize once, sign those bytes, send those same bytes (data=, not json=)",
    )


@SENDER_CHECKS.check("sender-headers", "POST to the webhook path with the contract's headers")
def sender_headers(evidence: SenderEvidence) -> Finding:
    problems = []
    for case, attempt, request in evidence.attempts():
        where = _where(case, attempt)
        content_type = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if request.method != "POST" or request.path != DEFAULT_PATH:
            problems.append(f"{where}: {request.method} {request.path}")
        if content_type != "application/json":
            problems.append(f"{where}: Content-Type {content_type or 'missing'}")
        if request.header(EVENT_HEADER) != EVENT_TYPE:
            problems.append(f"{where}: {EVENT_HEADER} {request.header(EVENT_HEADER)!r}")
    return _verdict(
        evidence,
        problems,
        f"POST {DEFAULT_PATH}, Content-Type application/json, {EVENT_HEADER}: {EVENT_TYPE}",
        "send the headers contracts.signed_delivery builds",
    )


def _is_uuid(value: str | None) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None


@SENDER_CHECKS.check(
    "sender-idempotency-key", "one stable UUID per registration, different across them"
)
def sender_idempotency_key(evidence: SenderEvidence) -> Finding:
    problems = []
    owners: dict[str, str] = {}
    for case in evidence.cases:
        keys = {request.idempotency_key for request in case.requests}
        if len(keys) != 1:
            problems.append(f"{case.label}: {len(keys)} different keys over its attempts")
            continue
        key = next(iter(keys))
        if not _is_uuid(key):
            problems.append(f"{case.label}: {IDEMPOTENCY_KEY_HEADER} {key!r} is not a UUID")
        elif key in owners:
            problems.append(f"{case.label} reuses the key of {owners[key]}")
        else:
            owners[str(key)] = case.label
    return _verdict(
        evidence,
        problems,
        f"{len(owners)} registrations, {len(owners)} distinct UUID keys, each stable",
        "derive the key from the registration (contracts.idempotency_key), not per attempt",
    )


@SENDER_CHECKS.check("sender-retry", "after a 503 the sender retried: same key, body re-signed")
def sender_retry(evidence: SenderEvidence) -> Finding:
    faulted = [case for case in evidence.cases if case.fault_injected]
    if not faulted:
        return Finding.skipped("no fault was injected")
    problems = []
    notes = []
    for case in faulted:
        statuses = [request.status for request in case.requests]
        if len(case.requests) < 2 or statuses[0] != 503:
            problems.append(f"{case.label}: attempts answered {statuses}; expected 503 then more")
            continue
        if len({request.idempotency_key for request in case.requests}) != 1:
            problems.append(f"{case.label}: the key changed between attempts")
        unsigned = [
            number
            for number, request in enumerate(case.requests, start=1)
            if not verify(request.body, request.header(SIGNATURE_HEADER), evidence.secret)
        ]
        if unsigned:
            problems.append(f"{case.label}: attempts {unsigned} do not verify over their bytes")
        bodies = {request.body for request in case.requests}
        notes.append(
            f"{len(case.requests)} attempts ({'/'.join(map(str, statuses))}), one key, "
            + (
                "each body re-stamped and re-signed"
                if len(bodies) == len(case.requests)
                else "the same signed bytes resent"
            )
        )
    return _verdict(
        evidence,
        problems,
        "; ".join(notes),
        "retry with the same idempotency key; sign each attempt's exact bytes",
    )


@SENDER_CHECKS.check("sender-token-upper-cased", "the token id is sent upper-cased")
def sender_token_upper_cased(evidence: SenderEvidence) -> Finding:
    problems = []
    for case, attempt, request in evidence.attempts():
        expected = normalize_token_id(case.requested_token)
        sent = _body_field(request, "token_id")
        if sent != expected:
            problems.append(f"{_where(case, attempt)}: sent {sent!r}, expected {expected!r}")
    lowered = [c.requested_token for c in evidence.cases if not c.requested_token.isupper()]
    shown = f" (including {', '.join(map(repr, lowered))} passed in lower case)" if lowered else ""
    return _verdict(
        evidence,
        problems,
        f"every token id sent upper-cased{shown}",
        "upper-case the token id before building the body (contracts.normalize_token_id)",
    )


def _body_field(request: RecordedRequest, name: str) -> object:
    try:
        return validate_payload(request.body).get(name)
    except PayloadError:
        return None


@SENDER_CHECKS.check("sender-matches-mlflow", "name, version and run id are MLflow's own")
def sender_matches_mlflow(evidence: SenderEvidence) -> Finding:
    known = [(case, case.mlflow) for case in evidence.cases if case.mlflow is not None]
    if evidence.cases and not known:
        return Finding.skipped("what MLflow registered was not given")
    problems = []
    for case, truth in known:
        expected: dict[str, object] = {
            "model_name": truth.name,
            "model_version": truth.version,
            "mlflow_run_id": truth.run_id,
        }
        for attempt, request in enumerate(case.requests, start=1):
            for name, value in expected.items():
                sent = _body_field(request, name)
                if sent != value:
                    problems.append(f"{_where(case, attempt)}: {name} {sent!r}, MLflow {value!r}")
    versions = ", ".join(f"{truth.name} v{truth.version}" for _, truth in known)
    return _verdict(
        evidence,
        problems,
        f"every body names what MLflow registered ({versions})",
        "build the body from the ModelVersion MLflow returned, not from the inputs",
    )


@SENDER_CHECKS.check("sender-token-registered", "end to end: each token is REGISTERED now")
def sender_token_registered(evidence: SenderEvidence) -> Finding:
    if evidence.cases and all(case.token_status is None for case in evidence.cases):
        return Finding.skipped("the receiver's state of the tokens was not given")
    problems = [
        f"{case.label}: token {normalize_token_id(case.requested_token)} is {case.token_status}"
        for case in evidence.cases
        if case.token_status != "REGISTERED"
    ]
    tokens = sorted({normalize_token_id(case.requested_token) for case in evidence.cases})
    return _verdict(
        evidence,
        problems,
        f"tokens {', '.join(tokens)} moved from DRAFT to REGISTERED on the receiver",
        "see the failed checks above; the receiver's deliveries log says what it got",
    )
