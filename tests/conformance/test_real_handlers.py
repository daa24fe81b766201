"""``check-receiver`` against handlers written the way website teams write them (Express,
Next.js, Flask, FastAPI, queue workers; right and wrong), each started as a real server and
judged at the path the SDK posts to, with the seed path as ``--also-url``: every one gets the
right verdict, and the first "How to fix" line names its real cause."""

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
SPARES = ("OTHER", "SPARE", "THIRD", "FOURTH", "FIFTH")


@dataclass(frozen=True)
class Expected:
    """What a handler must get: the checks that FAIL and WARN, and the start of the fix of the
    first finding the report lists (``None``: nothing to fix)."""

    failed: frozenset[str] = frozenset()
    warned: frozenset[str] = frozenset()
    first_fix: str | None = None
    said: dict[str, str] = field(default_factory=dict)
    """Words a check's ``why`` must hold, by check id."""
    at_seed_path: bool = False
    """Judged at the seed path, with the path the SDK posts to as ``--also-url``."""


PARSE_FIRST = "check the signature over the raw bytes before parsing anything"
RAW_BODY = "compute the HMAC over the raw request bytes before any JSON parsing"
NESTED = (
    "accept the nested shape the SDK sends since 2026-04-30 beside the flat one: a body without "
    "token_id but with a top-level model object is v2, its token id is model.id, sent in lower "
    "case"
)
MODEL_ID_CASE = "upper-case model.id before the lookup"
ONLY_FLAT = "the handler reads only the flat shape (a top-level token_id)"

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
        frozenset({"valid-delivery", "lowercase-token-id"}),
        first_fix=MODEL_ID_CASE,
        said={
            "valid-delivery": "looks model.id up as sent",
            "lowercase-token-id": "the handler takes the id as sent",
        },
    ),
    "express-raw-v1-only": Expected(
        frozenset({"valid-delivery"}),
        first_fix=NESTED,
        said={
            "valid-delivery": 'got 400 {"success":false,"error":"token_id is required"}, while '
            f"the flat v1 body for the same token was accepted: {ONLY_FLAT}"
        },
    ),
    "flask-v1-schema-only": Expected(
        frozenset({"valid-delivery"}),
        first_fix=NESTED,
        said={"valid-delivery": ONLY_FLAT},
    ),
    "nextjs-model-id-case-sensitive": Expected(
        frozenset({"valid-delivery"}),
        first_fix=MODEL_ID_CASE,
        said={
            "valid-delivery": 'for token OTHER, got 404 {"success":false,"error":"Token '
            'not found"}, while the same body with model.id upper-cased was accepted: the '
            "handler looks model.id up as sent, and the SDK sends it in lower case"
        },
    ),
    "flask-seed-path-only": Expected(
        frozenset({"webhook-paths"}),
        first_fix="serve the webhook at /api/webhooks/model-registration too",
        said={
            "webhook-paths": "nothing handles the webhook at /api/webhooks/model-registration",
        },
        at_seed_path=True,
    ),
    "bad-json-400-before-signature": Expected(
        frozenset({"signature-before-parsing"}),
        first_fix=PARSE_FIRST,
        said={"signature-before-parsing": "answered 400"},
    ),
    "requires-fractional-seconds": Expected(
        frozenset({"valid-delivery", "timestamp-formats", "timestamp-without-offset"}),
        first_fix="accept every RFC 3339 timestamp: whole seconds or any fraction",
        said={
            "valid-delivery": "while the same body stamped with microseconds was accepted",
            "timestamp-formats": "whole seconds, the SDK's CLI",
        },
    ),
    "requires-event-header": Expected(
        frozenset({"valid-delivery", "optional-headers"}),
        first_fix="do not require X-Hokusai-Event or X-Hokusai-Idempotency-Key",
        said={
            "valid-delivery": "requires a header the SDK's CLI does not send",
            "optional-headers": "no X-Hokusai-Event got 400",
        },
    ),
    "requires-idempotency-key": Expected(
        frozenset({"valid-delivery", "optional-headers"}),
        first_fix="do not require X-Hokusai-Event or X-Hokusai-Idempotency-Key",
        said={
            "valid-delivery": "requires a header the SDK's CLI does not send",
            "optional-headers": "no X-Hokusai-Idempotency-Key got 400",
        },
    ),
    "queue-answers-202": Expected(
        warned=frozenset({"acceptance-timing"}),
        first_fix="answer 200 once the token is REGISTERED",
        said={"acceptance-timing": "answers accepted deliveries with 202"},
    ),
}


def check(kind: str, settle: float = 2.0, *, at_seed_path: bool = False) -> list[CheckResult]:
    """Every receiver check against the handler ``kind``, with a state URL and five spares, at
    the path the SDK posts to and the seed path (the other way round when ``at_seed_path``)."""
    with running_handler(kind, SECRET, [TOKEN, *SPARES]) as handler:
        url, also = handler.webhook_url, handler.seed_url
        if at_seed_path:
            url, also = also, url
        receiver = Receiver(
            url,
            SECRET,
            TOKEN,
            SPARES,
            handler.state_url_template,
            settle=settle,
            also_urls=(also,),
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
    results = check(kind, at_seed_path=expected.at_seed_path)
    shown = [(r.check_id, r.verdict.value, r.why) for r in results if r.verdict is not Verdict.PASS]
    assert ids(results, Verdict.FAIL) == expected.failed, shown
    assert ids(results, Verdict.WARN) == expected.warned, shown
    if "receiver-ready" in expected.failed:  # the one diagnosis; nothing else can be judged
        assert {r.verdict for r in results[1:]} == {Verdict.SKIP}
    elif "valid-delivery" in expected.failed:  # the nested body refused: no later versions
        assert ids(results, Verdict.SKIP) == {"api-schema"}, shown
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


def test_a_handler_refusing_the_nested_body_is_told_once_and_its_flat_parts_still_judged() -> None:
    checks = {result.check_id: result for result in check("express-raw-v1-only")}
    duplicate = checks["duplicate-delivery"]
    assert duplicate.verdict is Verdict.PASS
    assert duplicate.details["forms"]["v1"]["verdict"] == "pass"
    assert duplicate.details["forms"]["v2 publisher"]["verdict"] == "skip"
    skipped = "v2 publisher: skipped: the handler did not accept the nested body the SDK sends"
    assert f"{skipped} (see valid-delivery)" in duplicate.why
    assert checks["timestamp-formats"].details["forms"]["v2"]["verdict"] == "skip"
    assert "the nested body was not judged there" in checks["webhook-paths"].why


def test_every_correct_handler_keeps_the_api_schema_of_later_nested_versions() -> None:
    for kind in ("flask-correct", "express-raw-correct", "queue-answers-202"):
        api_schema = {result.check_id: result for result in check(kind)}["api-schema"]
        assert api_schema.verdict is Verdict.PASS, (kind, api_schema.why)
        assert "null cleared it" in api_schema.why
