"""``check-receiver`` against handlers written the way website teams write them (Express,
Next.js, Flask, FastAPI, queue workers; right and wrong), each started as a real server: every
one gets the right verdict, and the first "How to fix" line names its real cause."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pytest

from contracts.conformance import CheckResult, Receiver, Verdict, run_receiver_checks
from contracts.conformance.report import fixes_section
from contracts.conformance.results import SuiteResult
from tests.handlers.running import running_handler

SECRET = "real handlers' shared secret 5e1d"
TOKEN = "LSCOR"
SPARES = ("OTHER", "SPARE", "THIRD")


@dataclass(frozen=True)
class Expected:
    """What a handler must get: the checks that FAIL and WARN, and the start of the fix of the
    first finding the report lists (``None``: nothing to fix)."""

    failed: frozenset[str] = frozenset()
    warned: frozenset[str] = frozenset()
    first_fix: str | None = None
    said: dict[str, str] = field(default_factory=dict)
    """Words a check's ``why`` must hold, by check id."""


PARSE_FIRST = "check the signature over the raw bytes before parsing anything"
RAW_BODY = "compute the HMAC over the raw request bytes before any JSON parsing"

EXPECTED: dict[str, Expected] = {
    "flask-correct": Expected(),
    "express-raw-correct": Expected(),
    "nextjs-text-correct": Expected(),
    "express-json-stringify": Expected(
        frozenset({"signature-before-parsing", "raw-body-verified"}),
        frozenset({"signature-uppercase-hex", "answers-are-json"}),
        PARSE_FIRST,
        {
            "signature-before-parsing": "parses the body before it checks the signature",
            "raw-body-verified": "JSON.stringify(parsed body)",
        },
    ),
    "nextjs-json-first": Expected(
        frozenset({"signature-before-parsing", "raw-body-verified"}),
        frozenset(
            {"malformed-json", "schema-violations", "signature-uppercase-hex", "answers-are-json"}
        ),
        PARSE_FIRST,
        {"raw-body-verified": "JSON.stringify(parsed body)"},
    ),
    "express-raw-timing-safe-equal": Expected(
        frozenset(
            {
                "signature-missing",
                "signature-malformed",
                "signature-without-prefix",
                "signature-other-header",
            }
        ),
        frozenset(
            {"malformed-json", "schema-violations", "signature-uppercase-hex", "answers-are-json"}
        ),
        "Node's crypto.timingSafeEqual throws a RangeError when its two buffers differ in length",
        {"signature-missing": "a wrong signature of the right length got 401"},
    ),
    "express-plain-text-errors": Expected(
        warned=frozenset({"answers-are-json"}),
        first_fix="answer every request, errors included, with JSON",
        said={"receiver-ready": "the handler is there and tells signatures apart"},
    ),
    "express-closes-after-413": Expected(),
    "express-drops-get": Expected(
        frozenset({"wrong-method"}),
        first_fix="look at the handler's log",
        said={"wrong-method": "the handler closed the connection without answering GET"},
    ),
    "flask-get-json-dumps": Expected(
        frozenset({"receiver-ready"}),
        first_fix=RAW_BODY,
        said={"receiver-ready": "verifying json.dumps(request.get_json())"},
    ),
    "flask-wrong-secret": Expected(
        frozenset({"receiver-ready"}),
        first_fix="use the same secret on both sides",
        said={"receiver-ready": "the receiver holds a different secret"},
    ),
    "fastapi-json-compact": Expected(
        frozenset({"signature-before-parsing", "raw-body-verified"}),
        frozenset({"malformed-json", "signature-uppercase-hex", "answers-are-json"}),
        PARSE_FIRST,
        {"raw-body-verified": "json.dumps(parsed body, separators=(',', ':'))"},
    ),
    "refusals-as-200": Expected(
        frozenset({"refusal-status"}),
        first_fix="answer every refusal with its 4xx or 5xx status",
        said={"refusal-status": "senders take any 2xx as delivered and never retry"},
    ),
    "case-sensitive-token-ids": Expected(
        frozenset({"lowercase-token-id"}),
        first_fix="upper-case the token id before the lookup",
        said={"lowercase-token-id": "the handler takes the id as sent"},
    ),
    "bad-json-400-before-signature": Expected(
        frozenset({"signature-before-parsing"}),
        first_fix=PARSE_FIRST,
        said={"signature-before-parsing": "answered 400"},
    ),
    "requires-fractional-seconds": Expected(
        frozenset({"timestamp-formats", "timestamp-without-offset"}),
        first_fix="accept every RFC 3339 timestamp: whole seconds or any fraction",
        said={"timestamp-formats": "whole seconds, the SDK's CLI"},
    ),
    "requires-event-header": Expected(
        frozenset({"optional-headers"}),
        first_fix="do not require X-Hokusai-Event or X-Hokusai-Idempotency-Key",
        said={"optional-headers": "no X-Hokusai-Event got 400"},
    ),
    "requires-idempotency-key": Expected(
        frozenset({"optional-headers"}),
        first_fix="do not require X-Hokusai-Event or X-Hokusai-Idempotency-Key",
        said={"optional-headers": "no X-Hokusai-Idempotency-Key got 400"},
    ),
    "queue-answers-202": Expected(
        warned=frozenset({"acceptance-timing"}),
        first_fix="answer 200 once the token is REGISTERED",
        said={"acceptance-timing": "answers accepted deliveries with 202"},
    ),
}


def check(kind: str, settle: float = 2.0) -> list[CheckResult]:
    """Every receiver check against the handler ``kind``, with a state URL and three spares."""
    with running_handler(kind, SECRET, [TOKEN, *SPARES]) as handler:
        receiver = Receiver(
            handler.webhook_url, SECRET, TOKEN, SPARES, handler.state_url_template, settle=settle
        )
        return run_receiver_checks(receiver)


def ids(results: Iterable[CheckResult], verdict: Verdict) -> frozenset[str]:
    return frozenset(result.check_id for result in results if result.verdict is verdict)


def first_fix(results: list[CheckResult]) -> str | None:
    """The first entry of the report's "How to fix" section, its wrapped lines joined."""
    lines = fixes_section([SuiteResult("receiver", tuple(results))]).splitlines()[1:]
    if not lines:
        return None
    entry = [lines[0]]
    for line in lines[1:]:
        if line.startswith("- "):
            break
        entry.append(line.strip())
    return " ".join(entry)


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_handler_gets_its_verdict_and_a_first_fix_naming_the_real_cause(kind: str) -> None:
    expected = EXPECTED[kind]
    results = check(kind)
    shown = [(r.check_id, r.verdict.value, r.why) for r in results if r.verdict is not Verdict.PASS]
    assert ids(results, Verdict.FAIL) == expected.failed, shown
    assert ids(results, Verdict.WARN) == expected.warned, shown
    if "receiver-ready" in expected.failed:  # the one diagnosis; nothing else can be judged
        assert {r.verdict for r in results[1:]} == {Verdict.SKIP}
    else:
        assert ids(results, Verdict.SKIP) <= {"unknown-token"}, shown
    fix = first_fix(results)
    if expected.first_fix is None:
        assert fix is None
    else:
        assert fix is not None and expected.first_fix in fix, fix
    whys = {result.check_id: result.why for result in results}
    for check_id, words in expected.said.items():
        assert words in whys[check_id], whys[check_id]


def test_a_refusal_sent_as_200_is_never_called_ignoring_signatures() -> None:
    results = check("refusals-as-200")
    assert not any("ignores signatures" in result.why for result in results)
    by_id = {result.check_id: result for result in results}
    for check_id in ("signature-missing", "signature-wrong-secret", "malformed-json"):
        assert by_id[check_id].verdict is Verdict.PASS
        assert "refused, but with 200 and success false" in by_id[check_id].why
    assert "cannot be told" in by_id["unknown-token"].why
    assert by_id["rejections-change-no-state"].verdict is Verdict.PASS


def test_a_handler_registering_a_moment_after_its_200_never_fails() -> None:
    results = check("queue-answers-200")
    assert ids(results, Verdict.FAIL) == frozenset()
    # Whether a read caught the token before the worker registered it depends on timing; when
    # one did, it is reported once, as the receiver's policy.
    assert ids(results, Verdict.WARN) <= {"acceptance-timing"}


def test_a_closed_keep_alive_after_413_is_retried_and_blames_nothing() -> None:
    results = check("express-closes-after-413")
    assert [r.check_id for r in results if r.verdict is not Verdict.PASS] == []
    assert not any("no answer from" in result.why for result in results)


def test_a_queue_that_loses_the_work_is_not_registered_after_the_settle_time() -> None:
    results = {result.check_id: result for result in check("queue-loses-work", settle=0.3)}
    first = results["lowercase-status"]
    assert first.verdict is Verdict.FAIL
    assert "NOT REGISTERED although the receiver accepted the delivery" in first.why
    assert "read again for 0.3 s; pass a longer --settle" in first.why
    assert str(first.fix).startswith("move the token to REGISTERED")
