"""A receiver's answers: what one says, and what to do about it, for every conformance tool.

An HTTP answer is one :class:`Answer`, whoever sent the request. :func:`meaning_of` names what
an answer to a valid, correctly signed delivery means, and :func:`read_answer` says it in words
with the fix; ``check-receiver`` and ``send-test`` both judge answers here, so each case is
decided once and each fix is written once. A receiver's answer must carry ``success`` (and
``error`` on a refusal); a ``reason`` code is optional, so it counts here only as extra
evidence, never as the only one. Pure: bytes in, meaning out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from contracts.envelope import CURRENT_PATH, MAX_BODY_BYTES, SEED_PATH, WEBHOOK_PATHS
from contracts.payload import STATUS_REGISTERED
from contracts.signing import SIGNATURE_HEADER, SIGNATURE_PREFIX, FailureReason
from contracts.urls import redacted_url

if TYPE_CHECKING:
    import requests

    from contracts.conformance.receiver_under_test import Receiver
    from contracts.support.http import ConnectionFailure

NO_SECRET_REASON = FailureReason.NO_SECRET_CONFIGURED.value
REPLAY_REASON = "timestamp_outside_tolerance"
NO_SECRET_PHRASE = "Webhook secret not configured"
"""The words the real website answered with when it had no secret; the stub says the same."""
_NOT_THE_HANDLER_REASONS = frozenset({"unknown_path", "method_not_allowed"})
TOKEN_ID_PLACEHOLDER = "{token_id}"
STATE_URL_EXPECTATION = 'expected 200 with JSON holding a top-level "status" (DRAFT or REGISTERED)'

# --- what to do: each fix written once ------------------------------------------------------

SIGNATURE_FIX = (
    f"read {SIGNATURE_HEADER}, require '{SIGNATURE_PREFIX}' plus 64 hex digits, compare it in "
    "constant time with HMAC-SHA256(secret, raw body) and answer 401 on any mismatch, before "
    "parsing the body or touching any state"
)
SECRET_FIX = (
    "use the same secret on both sides (watch for whitespace around it) and verify "
    "HMAC-SHA256 over the raw request bytes; 'hokusai-contract diagnose' names the mistake "
    "from the body and the signature the receiver computed"
)
RAW_BODY_FIX = (
    "compute the HMAC over the raw request bytes before any JSON parsing: Express "
    "express.raw({type: 'application/json'}) and the Buffer in req.body; Next.js App Router "
    "`const raw = await request.text()`, verify, then JSON.parse(raw); Flask "
    "request.get_data(); Django request.body; FastAPI `await request.body()`"
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
SCHEMA_FIX = (
    "accept every body schemas/model_registered.v1.schema.json (flat) or "
    "schemas/model_registered.v2.schema.json (nested) accepts: the receiver's validation must "
    "not be stricter than the contract's"
)
CLOCK_FIX = "synchronize both clocks (NTP); timestamps are written in UTC with a Z suffix"
CRASH_FIX = "look at the handler's log for the crash"
REGISTER_FIX = "move the token to REGISTERED (upper-cased id) before answering 200"
ANSWER_FORMAT_FIX = (
    'answer every request, errors included, with JSON: {"success": true, ...} with 200, or '
    '{"success": false, "error": "...", "reason": "..."} with the 4xx or 5xx status'
)
NOT_THE_HANDLER_FIX = (
    "make sure --url reaches the webhook handler itself (not a web page, a proxy or a "
    "catch-all route)"
)
REDIRECT_FIX = "point --url at the final URL the redirect names"
REFUSAL_STATUS_FIX = (
    "answer every refusal with its 4xx or 5xx status (401 signature, 400 body, 404 token, 500 "
    "no secret), never with 2xx: senders treat any 2xx as delivered and never retry it, so a "
    'refusal sent as 200 {"success": false} is lost'
)
TIMING_SAFE_EQUAL_FIX = (
    "Node's crypto.timingSafeEqual throws a RangeError when its two buffers differ in length, "
    "so a missing, short or malformed signature crashes the handler: compare the lengths "
    "first and answer 401 when they differ, then call timingSafeEqual"
)
PARSE_AFTER_VERIFY_FIX = (
    "check the signature over the raw bytes before parsing anything: answer 401 to a wrongly "
    "signed request whatever its body, and only then parse the JSON (400); express.json(), "
    "Next.js request.json(), Flask request.get_json() and FastAPI request.json() parse first, "
    "so read the raw bytes instead (express.raw, request.text(), request.get_data(), "
    "request.body())"
)
NESTED_SHAPE_FIX = (
    "accept the nested shape the SDK sends since 2026-04-30 beside the flat one: a body without "
    "token_id but with a top-level model object is v2, its token id is model.id, sent in lower "
    "case (upper-case it before the lookup), model.status is 'registered' and model.version, "
    "model.api_schema and the rest are optional (schemas/model_registered.v2.schema.json); try "
    "the flat shape first (a top-level token_id), then the nested one"
)
MODEL_ID_CASE_FIX = (
    "upper-case model.id before the lookup (model.id.toUpperCase() / .upper()), and before "
    "validating it: the SDK sends the token id in lower case, as a slug"
)
STATUS_CASE_FIX = (
    "compare the status case-insensitively: the SDK's senders write 'registered' (model.status "
    "in the nested body; one older flat sender wrote it in the status field)"
)
API_SCHEMA_FIX = (
    "when a later model version of a REGISTERED token arrives in the nested shape, store its "
    "version and its model.api_schema: an object replaces the stored schema, null clears it, "
    "and a body without api_schema keeps what is stored (the CLI leaves it out for a model "
    "without a column signature)"
)
CASE_LOOKUP_FIX = (
    "upper-case the token id before the lookup, and before validating it "
    "(token_id.toUpperCase() / .upper()): senders may send it in lower case"
)
TIMESTAMP_FORMATS_FIX = (
    "accept every RFC 3339 timestamp: whole seconds or any fraction (the SDK's CLI writes "
    "2026-04-30T12:00:01Z), Z or +00:00; parse it with an RFC 3339 parser, not one fixed "
    "strptime format"
)
OPTIONAL_HEADERS_FIX = (
    "do not require X-Hokusai-Event or X-Hokusai-Idempotency-Key: the SDK's CLI sends neither; "
    "the body's event_type names the event, and a repeat is seen from the token's state"
)
ACCEPTANCE_TIMING_FIX = (
    "answer 200 once the token is REGISTERED; if the work is queued (202, or 200 before it is "
    "done), know that every sender takes any 2xx as delivered and never retries it, so the "
    "queue must not lose it"
)


def seed_fix(token: str, option: str = "--token") -> str:
    """What to do when ``token`` does not exist on the receiver."""
    return (
        f"seed token {token} as DRAFT on the receiver, or pass {option} with one that exists "
        "(receivers upper-case the id before looking it up)"
    )


def no_secret_fix(secret_env: str) -> str:
    """What to do when the receiver holds no secret at all."""
    return (
        f"configure the receiver with the same secret as the one in ${secret_env} (the same "
        "bytes, no trailing newline) and restart it"
    )


def path_hint(url: str) -> str | None:
    """The contract's paths, when ``url`` points elsewhere."""
    path = urlsplit(url).path
    if path.rstrip("/") in WEBHOOK_PATHS:
        return None
    return (
        f"the contract's paths are {CURRENT_PATH} (where the SDK posts) and {SEED_PATH} (the "
        f"seed path); --url points at {path or '/'}"
    )


def wrong_url_steps(url: str) -> tuple[str, ...]:
    """What to do when ``url`` does not reach the webhook handler."""
    hint = path_hint(url)
    return (NOT_THE_HANDLER_FIX, hint) if hint else (NOT_THE_HANDLER_FIX,)


# --- one answer -----------------------------------------------------------------------------


def json_object(body: bytes) -> Mapping[str, Any] | None:
    """``body`` parsed as a JSON object, or ``None`` when it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as received: status, raw body (``cut_at`` bytes of it when the answer
    was longer), its content type and reason phrase, and how long it took."""

    status: int
    body: bytes = b""
    content_type: str = ""
    phrase: str = ""
    elapsed_s: float = 0.0
    cut_at: int | None = None

    @classmethod
    def received(cls, response: requests.Response, elapsed_s: float) -> Answer:
        """The answer a bounded session read (:mod:`contracts.support.http`)."""
        from contracts.support.http import answer_cut_at

        return cls(
            response.status_code,
            response.content,
            response.headers.get("Content-Type", ""),
            response.reason or "",
            elapsed_s,
            answer_cut_at(response),
        )

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def document(self) -> Mapping[str, Any] | None:
        """The body as a JSON object, or ``None`` when it is not one."""
        return json_object(self.body)

    def field(self, name: str) -> Any:
        """A top-level field of a JSON object answer, or ``None``."""
        document = self.document
        return document.get(name) if document is not None else None

    def text_field(self, name: str) -> str:
        """A top-level string field (``error``, ``reason``), or ``""``."""
        value = self.field(name)
        return value if isinstance(value, str) else ""

    @property
    def success(self) -> bool | None:
        """The answer's boolean ``success`` field, or ``None`` when there is none."""
        value = self.field("success")
        return value if isinstance(value, bool) else None

    @property
    def is_2xx(self) -> bool:
        return 200 <= self.status < 300

    @property
    def accepted(self) -> bool:
        """2xx and not ``success: false``: what every sender takes as delivered (whether the
        answer has the contract's format, and 202's timing, are judged apart)."""
        return self.is_2xx and self.success is not False

    @property
    def refused_with_2xx(self) -> bool:
        """A refusal (``success: false``) sent with a 2xx status, which senders take as
        delivered."""
        return self.is_2xx and self.success is False

    @property
    def is_server_error(self) -> bool:
        return self.status >= 500

    def summary(self, limit: int = 120) -> str:
        """``401 {"success": false, ...}`` shortened, for messages."""
        from contracts.support.http import cut_words

        text = self.text.strip().replace("\n", " ")
        if len(text) > limit:
            text = text[: limit - 3] + "..."
        if self.cut_at is not None:
            text += f" ({cut_words(self.cut_at)})"
        return f"{self.status} {text}" if text else str(self.status)


def is_contract_answer(answer: Answer) -> bool:
    """A JSON object with a boolean ``success``: the shape of every contract answer."""
    return answer.success is not None


def format_problem(answer: Answer) -> str | None:
    """How ``answer`` breaks the contract's answer format, or ``None``.

    A refusal sent with 2xx (``success: false``) is not a format problem: it is a status
    problem, judged on its own (``refusal-status``).
    """
    if answer.document is None:
        return "not a JSON object"
    if answer.success is None:
        return "no boolean 'success'"
    if answer.success and not answer.is_2xx:
        return f"success true with status {answer.status}"
    return None


def says_no_secret_configured(answer: Answer) -> bool:
    """The receiver refused because it holds no webhook secret (fail closed).

    Recognized by the reason code ``no_secret_configured`` or the exact phrase "Webhook secret
    not configured" (any case); a refusal that merely mentions a secret is not this.
    """
    if answer.status < 400:
        return False
    if answer.field("reason") == NO_SECRET_REASON:
        return True
    return NO_SECRET_PHRASE.lower() in answer.text.lower()


def says_not_the_handler(answer: Answer) -> bool:
    """A 404 or 405 to a POST that does not come from the webhook handler (a wrong URL).

    The handler answers an unknown token with 404 and a contract answer; anything else with
    404/405 (an HTML page, a framework's default, JSON without a boolean ``success``) is not
    the handler. A ``reason`` of ``unknown_path`` or ``method_not_allowed`` says so too.
    """
    if answer.status not in (404, 405):
        return False
    return not is_contract_answer(answer) or answer.field("reason") in _NOT_THE_HANDLER_REASONS


# --- what an answer to a valid, correctly signed delivery means -----------------------------


class Meaning(str, Enum):
    """What an answer to a valid, correctly signed delivery says."""

    ACCEPTED = "accepted"
    ACCEPTED_LATER = "accepted_later"
    """202: accepted for later processing (a queue); senders take it as delivered."""
    DUPLICATE = "duplicate"
    SUCCESS_FALSE = "success_false"
    """2xx, yet ``success: false``: a refusal that senders take as delivered."""
    NOT_A_CONTRACT_ANSWER = "not_a_contract_answer"
    """200 without a boolean ``success``: probably not the handler."""
    NO_SECRET = "no_secret"
    REPLAY = "replay"
    SIGNATURE_REFUSED = "signature_refused"
    WRONG_URL = "wrong_url"
    """404 or 405 not from the handler."""
    UNKNOWN_TOKEN = "unknown_token"
    INVALID_BODY = "invalid_body"
    TOO_LARGE = "too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    REDIRECT = "redirect"
    SERVER_ERROR = "server_error"
    OTHER = "other"


_BY_STATUS = {
    401: Meaning.SIGNATURE_REFUSED,
    404: Meaning.UNKNOWN_TOKEN,
    400: Meaning.INVALID_BODY,
    413: Meaning.TOO_LARGE,
    405: Meaning.METHOD_NOT_ALLOWED,
}


def meaning_of(answer: Answer, *, handler_seen: bool = False) -> Meaning:
    """What ``answer`` to a valid, correctly signed delivery says.

    ``handler_seen``: the handler is known to be at the URL (it told signed and unsigned
    requests apart), so a 404 or 405 that is not JSON is its own answer, not a wrong URL.
    """
    if answer.is_2xx:
        return _meaning_of_2xx(answer)
    if says_no_secret_configured(answer):
        return Meaning.NO_SECRET
    if answer.status == 401 and answer.field("reason") == REPLAY_REASON:
        return Meaning.REPLAY
    if not handler_seen and says_not_the_handler(answer):
        return Meaning.WRONG_URL
    if answer.status in _BY_STATUS:
        return _BY_STATUS[answer.status]
    if 300 <= answer.status < 400:
        return Meaning.REDIRECT
    return Meaning.SERVER_ERROR if answer.is_server_error else Meaning.OTHER


def _meaning_of_2xx(answer: Answer) -> Meaning:
    if answer.success is False:
        return Meaning.SUCCESS_FALSE
    if answer.status == 202:
        return Meaning.ACCEPTED_LATER
    if answer.success is None:
        return Meaning.NOT_A_CONTRACT_ANSWER
    return Meaning.DUPLICATE if answer.field("duplicate") is True else Meaning.ACCEPTED


@dataclass(frozen=True)
class Reading:
    """An answer read: its meaning, the explanation in words, and what to do (none when the
    delivery was accepted)."""

    meaning: Meaning
    words: str
    fix: str | None = None


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


def names_its_signature_problem(answer: Answer) -> bool:
    """True when a 401's ``reason`` names what was wrong with the signature header itself (it
    was missing or unreadable), rather than leaving open which secret or bytes were used."""
    return answer.text_field("reason") in _SIGNATURE_CAUSES


def _signature_refused(answer: Answer, receiver: Receiver) -> Reading:
    reason = answer.text_field("reason")
    cause = _SIGNATURE_CAUSES.get(reason) or (
        f"this delivery was signed with the secret in ${receiver.secret_env} over the exact "
        "bytes sent, so either the receiver holds a different secret (the bytes must match: "
        "a trailing newline or space counts), or it verifies a re-serialization of the parsed "
        "JSON instead of the raw body"
    )
    code = f", {reason}" if reason else ""
    return Reading(
        Meaning.SIGNATURE_REFUSED,
        f"the receiver refused the signature (401{code}): {cause}.",
        SECRET_FIX,
    )


def _said(answer: Answer) -> str:
    error = answer.text_field("error")
    return f" It said: {error}" if error else ""


def read_answer(
    answer: Answer, receiver: Receiver, token: str | None = None, *, handler_seen: bool = False
) -> Reading:
    """What ``answer`` to a valid, correctly signed delivery for ``token`` (the receiver's
    token by default) means, in words, with what to do (see :func:`meaning_of` for
    ``handler_seen``)."""
    token = token or receiver.token
    meaning = meaning_of(answer, handler_seen=handler_seen)
    status = answer.status
    if meaning is Meaning.SIGNATURE_REFUSED:
        return _signature_refused(answer, receiver)
    words, fix = {
        Meaning.ACCEPTED: (
            f"the receiver accepted the delivery: token {token} should now be REGISTERED.",
            None,
        ),
        Meaning.ACCEPTED_LATER: (
            "the receiver accepted the delivery for later processing (202): senders take it "
            f"as delivered, and token {token} should become REGISTERED shortly.",
            None,
        ),
        Meaning.DUPLICATE: (
            f"the receiver accepted the delivery as a duplicate: token {token} was already "
            "REGISTERED (or this idempotency key was seen before), so nothing changed.",
            None,
        ),
        Meaning.SUCCESS_FALSE: (
            f"the receiver refused the delivery (success false) but answered {status}: senders "
            "take any 2xx as delivered and never retry, so this refusal would be lost."
            + _said(answer),
            REFUSAL_STATUS_FIX,
        ),
        Meaning.NOT_A_CONTRACT_ANSWER: (
            "the receiver answered 200 without the contract's answer (a JSON object with "
            '"success": true), so it is probably not the webhook handler, and nothing says '
            f"token {token} was registered.",
            "; ".join(wrong_url_steps(receiver.url)),
        ),
        Meaning.NO_SECRET: (
            "the receiver has no webhook secret configured, so it refuses every delivery "
            "(fail closed).",
            no_secret_fix(receiver.secret_env),
        ),
        Meaning.REPLAY: (_replay_words(answer), CLOCK_FIX),
        Meaning.WRONG_URL: (
            f"the receiver answered {status}, but not as the webhook handler does (a JSON "
            'object with a boolean "success"), or it said the path is unknown: this does not '
            "look like the webhook handler, so nothing handles the webhook at "
            f"{urlsplit(receiver.url).path or '/'}.",
            "; ".join(wrong_url_steps(receiver.url)),
        ),
        Meaning.UNKNOWN_TOKEN: (
            f"the receiver answered 404: token {token} does not exist there.",
            seed_fix(token),
        ),
        Meaning.INVALID_BODY: (
            "the receiver refused the body as invalid, but this body is valid against the "
            "contract's schema, so the receiver's validation disagrees with the contract."
            + _said(answer),
            SCHEMA_FIX,
        ),
        Meaning.TOO_LARGE: (
            "the receiver refused the body as too large; a model_registered event is a few "
            "hundred bytes, so its size limit is set far too low.",
            SIZE_FIX,
        ),
        Meaning.METHOD_NOT_ALLOWED: (
            "the URL does not take POST requests: it is probably not the webhook handler.",
            path_hint(receiver.url) or "check the handler's route accepts POST",
        ),
        Meaning.REDIRECT: (
            f"the receiver redirected ({status}); a redirected POST loses its body or method.",
            REDIRECT_FIX,
        ),
        Meaning.SERVER_ERROR: (
            f"the receiver answered {status} (a crash or a misconfiguration) to a valid, "
            "correctly signed delivery.",
            CRASH_FIX,
        ),
        Meaning.OTHER: (
            f"the receiver answered {status}, which the contract does not define for a valid, "
            "correctly signed delivery.",
            ORDER_FIX,
        ),
    }[meaning]
    return Reading(meaning, words, fix)


def _replay_words(answer: Answer) -> str:
    tolerance = answer.field("tolerance_seconds")
    within = f" ({tolerance:g} s)" if isinstance(tolerance, (int, float)) else ""
    return (
        "the receiver refused the delivery as a replay: its clock and this machine's disagree "
        f"by more than its timestamp tolerance{within}."
    )


def no_answer(url: str, failure: ConnectionFailure, timeout: float) -> str:
    """Why nothing (or nothing complete) came back from ``url``, naming it without credentials."""
    from contracts.support.http import FailureKind

    shown = redacted_url(url)
    if failure.kind is FailureKind.TIMEOUT:
        return (
            f"no complete answer from {shown} within {timeout:g} s (the timeout bounds the "
            "whole request, answer included)"
        )
    return f"no answer from {shown} ({failure.words})"


# --- the token-state URL --------------------------------------------------------------------


@dataclass(frozen=True)
class TokenStateReading:
    """What a token-state URL said: the token's status (upper-cased), or why it is unreadable."""

    url: str
    status: str | None
    http_status: int | None = None
    problem: str | None = None
    document: Mapping[str, Any] = field(default_factory=dict)
    """The whole JSON object the state URL answered (empty when unreadable)."""

    @property
    def registered(self) -> bool:
        return self.status == STATUS_REGISTERED

    @property
    def token_missing(self) -> bool:
        """The state URL answered 404: no such token there (or the template is wrong)."""
        return self.http_status == 404

    @property
    def in_words(self) -> str:
        """``REGISTERED``, ``DRAFT``, ..., or the problem."""
        return self.status if self.status is not None else str(self.problem)

    @property
    def after_acceptance(self) -> str:
        """What this reading, taken after the receiver answered 200, says."""
        if self.registered:
            return f"status is {self.status}: confirmed, the token is REGISTERED"
        if self.status is not None:
            return (
                f"status is {self.status}: the token is NOT REGISTERED although the receiver "
                "accepted the delivery"
            )
        return f"could not confirm the token's state: {self.problem}"


def state_url_for(template: str, token_id: str) -> str:
    """The token-state URL: ``{token_id}`` in the template replaced by the token id."""
    return template.replace(TOKEN_ID_PLACEHOLDER, token_id)


def read_token_state(url: str, answer: Answer) -> TokenStateReading:
    """Read a token-state answer: ``200`` with JSON holding a top-level ``status`` string."""
    from contracts.support.http import cut_words

    if answer.cut_at is not None:
        why = f"{cut_words(answer.cut_at)}; a token state is a small JSON object"
        return unreadable_token_state(url, why, answer.status)
    document = answer.document
    status = answer.field("status")
    if answer.status == 200 and isinstance(status, str):
        return TokenStateReading(url, status.upper(), 200, document=document or {})
    if answer.status == 404 and (document is None or answer.field("reason") == "unknown_path"):
        # A token lookup answers in JSON; a route that does not exist answers in HTML or says so.
        why = (
            "answered 404 from no token lookup (nothing is served at that path): check the "
            f"--state-url template; {STATE_URL_EXPECTATION}"
        )
        return unreadable_token_state(url, why)
    if answer.status != 200:
        detail = str(answer.status)
    elif document is None:
        detail = "200 without a JSON object"
    else:
        detail = "200 without a top-level 'status' string"
    why = f"answered {detail}; {STATE_URL_EXPECTATION}"
    return unreadable_token_state(url, why, answer.status)


def unreadable_token_state(url: str, why: str, http_status: int | None = None) -> TokenStateReading:
    """The reading when the state URL gave no usable answer."""
    return TokenStateReading(url, None, http_status, f"GET {redacted_url(url)}: {why}")
