"""The receiver checks over real HTTP: the stub site passes, each flawed receiver fails on the
check that names its flaw, and an unusable receiver gets one diagnosis instead of a cascade."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from contracts.conformance import (
    RECEIVER_CHECKS,
    CheckResult,
    Receiver,
    Verdict,
    run_receiver_checks,
)
from contracts.conformance.answers import Answer, says_no_secret_configured, says_not_the_handler
from contracts.conformance.checks import OVERSIZED_BODY_BYTES, UNKNOWN_TOKEN
from contracts.envelope import CURRENT_PATH, MAX_BODY_BYTES, SEED_PATH
from contracts.receiver.testing import RunningStubSite, running_stub_site
from contracts.support.server import RunningServer, serving
from tests.conformance.receivers import (
    STATE_URL_TEMPLATE,
    WEBHOOK_PATH,
    Flaw,
    FlawedReceiver,
    RewordedReceiver,
    StateWithoutApiSchema,
    error_answer,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from werkzeug.wrappers import Response

SECRET = "conformance shared secret 41b2"
TOKEN = "LSCOR"
SPARES = ("OTHER", "SPARE", "THIRD", "FOURTH", "FIFTH")
TRANSITION_PARTS = {
    ("valid-delivery", "v2"): "OTHER",
    ("duplicate-delivery", "v2 publisher"): "SPARE",
    ("lowercase-token-id", "v1"): "THIRD",
    ("duplicate-delivery", "v1"): "FOURTH",
    ("timestamp-without-offset", "v1"): "FIFTH",
}
"""Which spare each part that registers a token gets: the nested parts first, then in order."""
ACCEPTANCE_CHECKS = RECEIVER_CHECKS.ids[RECEIVER_CHECKS.ids.index("lowercase-status") :]


def by_id(results: Iterable[CheckResult]) -> dict[str, CheckResult]:
    return {result.check_id: result for result in results}


def failed_ids(results: Iterable[CheckResult]) -> set[str]:
    return {result.check_id for result in results if result.verdict is Verdict.FAIL}


def flagged_ids(results: Iterable[CheckResult]) -> set[str]:
    """The checks that found something: FAIL or WARN."""
    return {result.check_id for result in results if result.verdict in (Verdict.FAIL, Verdict.WARN)}


def not_passed(results: Iterable[CheckResult]) -> list[tuple[str, str, str]]:
    return [(r.check_id, r.verdict.value, r.why) for r in results if r.verdict is not Verdict.PASS]


def check_receiver_at(
    server: RunningServer,
    secret: str = SECRET,
    *,
    spares: Sequence[str] = (),
    state: bool = True,
) -> list[CheckResult]:
    state_url = server.base_url + STATE_URL_TEMPLATE if state else None
    return run_receiver_checks(
        Receiver(server.url(WEBHOOK_PATH), secret, TOKEN, tuple(spares), state_url)
    )


def check_flawed(*flaws: Flaw, spares: Sequence[str] = (), state: bool = True) -> list[CheckResult]:
    with serving(FlawedReceiver(SECRET, [TOKEN, *SPARES], *flaws)) as server:
        return check_receiver_at(server, spares=spares, state=state)


@pytest.fixture
def stub_site(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, [TOKEN, *SPARES]) as site:
        yield site


def check_stub(site: RunningStubSite, *, spares: Sequence[str] = ()) -> list[CheckResult]:
    return run_receiver_checks(
        Receiver(site.webhook_url, SECRET, TOKEN, tuple(spares), site.state_url_template)
    )


# --- conforming receivers -------------------------------------------------------------------


def evidence_of(result: CheckResult, form: str) -> str:
    """The evidence one form of a check had."""
    forms = result.details.get("forms")
    details = forms[form] if forms else result.details
    return str(details["evidence"])


def test_the_stub_site_passes_every_check_and_each_spare_token_sees_its_transition(
    stub_site: RunningStubSite,
) -> None:
    results = check_stub(stub_site, spares=SPARES)
    assert [result.check_id for result in results] == RECEIVER_CHECKS.ids
    assert not_passed(results) == []
    for token in (TOKEN, *SPARES):
        assert stub_site.token(token)["status"] == "REGISTERED"
    checks = by_id(results)
    assert "model.id 'other' moved DRAFT token OTHER to REGISTERED" in checks["valid-delivery"].why
    assert "v2 publisher: the delivery moved SPARE from DRAFT" in checks["duplicate-delivery"].why
    assert "moved DRAFT token THIRD to REGISTERED" in checks["lowercase-token-id"].why
    assert "v1: the delivery moved FOURTH from DRAFT" in checks["duplicate-delivery"].why
    assert "moved token LSCOR from DRAFT to REGISTERED" in checks["lowercase-status"].why
    assert "registered DRAFT token FIFTH" in checks["timestamp-without-offset"].why
    assert not any(result.details.get("weaker_state_check") for result in results)
    for (check_id, form), _ in TRANSITION_PARTS.items():
        assert evidence_of(checks[check_id], form) == "transition_seen"


def test_with_fewer_spares_the_nested_body_the_sdk_sends_gets_them_first(
    stub_site: RunningStubSite,
) -> None:
    checks = by_id(check_stub(stub_site, spares=SPARES[:2]))
    assert not_passed(checks.values()) == []
    assert evidence_of(checks["valid-delivery"], "v2") == "transition_seen"
    assert evidence_of(checks["duplicate-delivery"], "v2 publisher") == "transition_seen"
    for check_id, form in (("lowercase-token-id", "v1"), ("duplicate-delivery", "v1")):
        assert evidence_of(checks[check_id], form) == "state_read"
    assert checks["duplicate-delivery"].details["evidence"] == "state_read"  # the weakest
    assert checks["duplicate-delivery"].details["weaker_state_check"] is True


def test_without_spare_tokens_the_transition_checks_pass_and_say_their_evidence_is_weaker(
    stub_site: RunningStubSite,
) -> None:
    checks = by_id(check_stub(stub_site))
    assert not_passed(checks.values()) == []
    for check_id in (
        "valid-delivery",
        "lowercase-token-id",
        "duplicate-delivery",
        "timestamp-without-offset",
    ):
        assert checks[check_id].details["weaker_state_check"] is True
        assert checks[check_id].details["evidence"] == "state_read"
        assert "weaker evidence" in checks[check_id].why
        assert "--spare-token" in checks[check_id].why
    assert stub_site.token("OTHER")["status"] == "DRAFT"


@pytest.mark.parametrize("spares", [(), SPARES], ids=["no spares", "five spares"])
def test_the_correct_flawless_test_receiver_passes_too(spares: tuple[str, ...]) -> None:
    assert not_passed(check_flawed(spares=spares)) == []


def test_a_receiver_wording_its_refusals_its_own_way_passes() -> None:
    rewording = {
        401: {"success": False, "error": "Missing or invalid signature"},
        404: {"success": False, "error": "Token not found", "reason": "token_not_found"},
    }
    with serving(RewordedReceiver(SECRET, [TOKEN], rewording)) as server:
        assert failed_ids(check_receiver_at(server)) == set()


# --- each flaw fails on the check that names it ---------------------------------------------

EXPECTED_FAILURES: dict[tuple[Flaw, ...], set[str]] = {
    (Flaw.VERIFIES_RESERIALIZED_JSON,): {"raw-body-verified"},
    (Flaw.ANSWERS_DUPLICATES_FIRST, Flaw.VERIFIES_RESERIALIZED_JSON): {"raw-body-verified"},
    (Flaw.IGNORES_SIGNATURES,): {
        "signature-missing",
        "signature-malformed",
        "signature-wrong-secret",
        "signature-without-prefix",
        "signature-other-header",
        "rejections-change-no-state",
    },
    (Flaw.CASE_SENSITIVE_TOKEN_IDS,): {"lowercase-token-id"},
    (Flaw.CASE_SENSITIVE_STATUS,): {"lowercase-status"},
    (Flaw.ANSWERS_DUPLICATES_FIRST, Flaw.CASE_SENSITIVE_STATUS): {"lowercase-status"},
    (Flaw.REREGISTERS_REPEATS,): {"duplicate-delivery"},
    (Flaw.CRASHES_ON_BAD_JSON,): {"malformed-json", "answers-are-json"},
    (Flaw.CHANGES_STATE_BEFORE_VERIFYING,): {"rejections-change-no-state"},
    (Flaw.NO_BODY_LIMIT, Flaw.ANY_METHOD_IS_A_DELIVERY): {"oversized-body", "wrong-method"},
    (Flaw.DROPS_LATER_VERSIONS,): {"api-schema"},
    (Flaw.ABSENT_API_SCHEMA_CLEARS,): {"api-schema"},
    (Flaw.NULL_API_SCHEMA_KEPT,): {"api-schema"},
}


@pytest.mark.parametrize("spares", [(), SPARES], ids=["no spares", "five spares"])
@pytest.mark.parametrize(
    "flaws", list(EXPECTED_FAILURES), ids=lambda flaws: "+".join(flaw.value for flaw in flaws)
)
def test_each_flawed_receiver_fails_on_the_check_naming_its_flaw(
    flaws: tuple[Flaw, ...], spares: tuple[str, ...]
) -> None:
    results = check_flawed(*flaws, spares=spares)
    failed = flagged_ids(results)
    assert EXPECTED_FAILURES[flaws] <= failed, not_passed(results)
    assert all(by_id(results)[check].fix for check in EXPECTED_FAILURES[flaws])
    # Nothing unrelated fails: the flat body is still accepted for every flaw.
    valid = by_id(results)["valid-delivery"]
    assert valid.details["forms"]["v1"]["verdict"] == "pass", valid.why


def test_a_case_sensitive_lookup_behind_early_duplicate_answers_is_caught_with_a_spare_token() -> (
    None
):
    flaws = (Flaw.ANSWERS_DUPLICATES_FIRST, Flaw.CASE_SENSITIVE_TOKEN_IDS)
    without = by_id(check_flawed(*flaws))["lowercase-token-id"]
    assert without.verdict is Verdict.PASS and "weaker evidence" in without.why
    caught = by_id(check_flawed(*flaws, spares=SPARES))["lowercase-token-id"]
    assert caught.verdict is Verdict.FAIL
    assert "'third' got 404 although THIRD exists" in caught.why


def test_a_status_compared_case_sensitively_is_named_in_the_nested_body_on_a_spare_token() -> None:
    valid = by_id(check_flawed(Flaw.CASE_SENSITIVE_STATUS, spares=SPARES))["valid-delivery"]
    assert valid.verdict is Verdict.FAIL
    assert "while the same body with model.status 'REGISTERED' was accepted" in valid.why
    assert str(valid.fix).startswith("compare the status case-insensitively")


def test_reregistering_on_every_repeat_is_seen_as_a_second_transition_in_the_state() -> None:
    for spares in ((), SPARES):
        duplicate = by_id(check_flawed(Flaw.REREGISTERS_REPEATS, spares=spares))[
            "duplicate-delivery"
        ]
        assert "a second transition" in duplicate.why
        assert "registered_at" in duplicate.why


def test_verifying_a_reserialization_is_named_with_the_raw_body_fix() -> None:
    result = by_id(check_flawed(Flaw.ANSWERS_DUPLICATES_FIRST, Flaw.VERIFIES_RESERIALIZED_JSON))[
        "raw-body-verified"
    ]
    assert "re-serialization of the parsed JSON, not the raw body" in result.why
    assert "JSON.stringify" in result.why
    assert result.fix is not None
    for framework_hint in (
        "express.raw({type: 'application/json'})",
        "await request.text()",
        "request.get_data()",
        "request.body",
        "await request.body()",
    ):
        assert framework_hint in result.fix


def test_a_status_compared_case_sensitively_is_named_even_behind_early_duplicate_answers() -> None:
    result = by_id(check_flawed(Flaw.ANSWERS_DUPLICATES_FIRST, Flaw.CASE_SENSITIVE_STATUS))[
        "lowercase-status"
    ]
    assert result.verdict is Verdict.FAIL
    assert "compare the status case-insensitively" in str(result.fix)


def test_ignoring_signatures_is_said_in_words_and_the_accepted_requests_are_named() -> None:
    checks = by_id(check_flawed(Flaw.IGNORES_SIGNATURES))
    assert "accepted (200)" in checks["signature-missing"].why
    assert "ignores signatures" in checks["signature-missing"].why
    state = checks["rejections-change-no-state"].why
    assert "these were answered 2xx" in state
    assert "signature-missing (no X-Hokusai-Signature header: 200)" in state
    assert "signature-other-header" in state


def test_a_missing_size_limit_or_method_check_is_blamed_on_them_alone_and_changes_no_state() -> (
    None
):
    checks = by_id(check_flawed(Flaw.NO_BODY_LIMIT, Flaw.ANY_METHOD_IS_A_DELIVERY))
    assert flagged_ids(checks.values()) == {"oversized-body", "wrong-method"}
    # No body limit is a hole; another method is a deviation no sender triggers.
    assert checks["oversized-body"].verdict is Verdict.FAIL
    assert checks["wrong-method"].verdict is Verdict.WARN
    assert checks["rejections-change-no-state"].verdict is Verdict.PASS
    oversized = checks["oversized-body"]
    assert f"{OVERSIZED_BODY_BYTES:,}-byte body" in oversized.why
    assert OVERSIZED_BODY_BYTES > MAX_BODY_BYTES == 1_048_576
    assert "at most 1 MiB (1,048,576 bytes)" in str(oversized.fix)
    assert "PUT got 404" in checks["wrong-method"].why


def test_a_lookup_before_the_signature_is_named_by_unknown_token() -> None:
    checks = by_id(check_flawed(Flaw.LOOKS_UP_BEFORE_VERIFYING))
    assert "unknown-token" in failed_ids(checks.values())
    assert "looks the token up before it verifies the signature" in checks["unknown-token"].why
    assert "weaker evidence" in checks["raw-body-verified"].why


# --- a token that does not exist ------------------------------------------------------------


@pytest.fixture
def stub_site_without_the_token(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, ["OTHER"]) as site:
        yield site


def test_a_token_that_does_not_exist_gets_one_diagnosis_and_the_acceptance_checks_are_skipped(
    stub_site_without_the_token: RunningStubSite,
) -> None:
    results = run_receiver_checks(Receiver(stub_site_without_the_token.webhook_url, SECRET, TOKEN))
    assert failed_ids(results) == {"lowercase-status"}
    first = by_id(results)["lowercase-status"]
    assert "token LSCOR does not exist on the receiver" in first.why
    assert "seed token LSCOR as DRAFT on the receiver, or pass --token" in str(first.fix)
    later = [r for r in results if r.check_id in ACCEPTANCE_CHECKS[1:]]
    assert {r.verdict for r in later} == {Verdict.SKIP}
    assert all("token LSCOR does not exist" in r.why for r in later)


def test_a_state_url_answering_404_for_the_token_stops_the_run_there(
    stub_site_without_the_token: RunningStubSite,
) -> None:
    results = check_stub(stub_site_without_the_token)
    assert failed_ids(results) == {"state-url"}
    state = by_id(results)["state-url"]
    assert "token LSCOR does not exist on the receiver" in state.why
    after = results[RECEIVER_CHECKS.ids.index("state-url") + 1 :]
    assert {r.verdict for r in after} == {Verdict.SKIP}


def test_a_spare_token_that_does_not_exist_is_named(stub_site: RunningStubSite) -> None:
    with_state = by_id(check_stub(stub_site, spares=("GHOST",)))
    assert "spare token(s) GHOST do not exist" in with_state["state-url"].why
    assert "--spare-token" in str(with_state["state-url"].fix)
    stub_site.reset([TOKEN])
    without_state = by_id(
        run_receiver_checks(Receiver(stub_site.webhook_url, SECRET, TOKEN, ("GHOST",)))
    )
    # The nested body the SDK sends draws the first spare with letters.
    assert failed_ids(without_state.values()) == {"valid-delivery"}
    assert "spare token GHOST does not exist" in without_state["valid-delivery"].why


# --- receivers that cannot be judged: one diagnosis -----------------------------------------


def test_a_receiver_without_a_secret_gets_that_diagnosis_and_every_other_check_is_skipped(
    tmp_path: Path,
) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", None) as site:
        results = check_stub(site)
    first, *rest = results
    assert first.verdict is Verdict.FAIL
    assert "the receiver has no webhook secret configured" in first.why
    assert "the same secret as the one in $WEBHOOK_SECRET" in str(first.fix)
    assert {result.verdict for result in rest} == {Verdict.SKIP}
    assert all("no secret configured" in result.why for result in rest)


@pytest.mark.parametrize(
    ("status", "body", "no_secret"),
    [
        (500, b'{"success": false, "error": "Webhook secret not configured"}', True),
        (500, b'{"success": false, "error": "WEBHOOK SECRET NOT CONFIGURED"}', True),
        (500, b"webhook secret not configured", True),
        (500, b'{"success": false, "error": "x", "reason": "no_secret_configured"}', True),
        (
            401,
            b'{"success": false, "error": "Missing or invalid signature: check the secret"}',
            False,
        ),
        (500, b'{"success": false, "error": "secret store missing, no secret set"}', False),
        (200, b'{"success": true, "message": "Webhook secret not configured"}', False),
    ],
)
def test_no_secret_is_read_only_from_its_reason_code_or_exact_words(
    status: int, body: bytes, no_secret: bool
) -> None:
    assert says_no_secret_configured(Answer(status, body)) is no_secret


def test_a_refused_correct_signature_is_one_diagnosis_pointing_to_diagnose() -> None:
    rewording = {401: {"success": False, "error": "Missing or invalid signature: check secret"}}
    with serving(RewordedReceiver("the receiver's own secret", [TOKEN], rewording)) as server:
        first, *rest = check_receiver_at(server)
    assert first.verdict is Verdict.FAIL
    assert "a correctly signed delivery was refused (401" in first.why
    assert "the receiver holds a different secret than $WEBHOOK_SECRET" in first.why
    assert "re-serialization" not in first.why
    assert "no secret configured" not in first.why
    assert "diagnose" in str(first.fix)
    assert {result.verdict for result in rest} == {Verdict.SKIP}


def test_a_receiver_whose_clock_is_off_gets_that_diagnosis_not_a_secret_one() -> None:
    with serving(FlawedReceiver(SECRET, [TOKEN], tolerance_seconds=0)) as server:
        first, *rest = check_receiver_at(server)
    assert first.verdict is Verdict.FAIL
    assert "as a replay" in first.why and "synchronize both clocks" in str(first.fix)
    assert {result.verdict for result in rest} == {Verdict.SKIP}


@pytest.mark.parametrize(
    ("status", "body", "not_the_handler"),
    [
        (
            404,
            b'{"success": false, "error": "Token not found", "reason": "token_not_found"}',
            False,
        ),
        (404, b'{"success": false, "error": "Token not found"}', False),
        (404, b'{"error": "Token not found"}', True),
        (404, b"<html>Not Found</html>", True),
        (404, b'{"success": false, "error": "x", "reason": "unknown_path"}', True),
        (405, b"Method Not Allowed", True),
        (401, b"<html>no</html>", False),
    ],
)
def test_not_the_handler_means_no_contract_answer(
    status: int, body: bytes, not_the_handler: bool
) -> None:
    assert says_not_the_handler(Answer(status, body)) is not_the_handler


def test_a_404_with_its_own_reason_code_is_the_handler_and_the_run_goes_on() -> None:
    rewording = {404: {"success": False, "error": "Token not found", "reason": "token_not_found"}}
    with serving(RewordedReceiver(SECRET, [TOKEN], rewording)) as server:
        results = check_receiver_at(server)
    assert not_passed(results) == []


def test_a_closed_port_gets_one_diagnosis_naming_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    first, *rest = run_receiver_checks(Receiver(url, SECRET, TOKEN))
    assert first.verdict is Verdict.FAIL
    assert url in first.why and "connection refused" in first.why
    assert {result.verdict for result in rest} == {Verdict.SKIP}


class _SlowReceiver:
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        time.sleep(1.5)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"success": true}']


def test_a_receiver_that_does_not_answer_in_time_is_reported_as_a_timeout() -> None:
    with serving(_SlowReceiver()) as server:
        first, *rest = run_receiver_checks(
            Receiver(server.url(WEBHOOK_PATH), SECRET, TOKEN, timeout=0.3)
        )
    assert first.verdict is Verdict.FAIL
    assert "no complete answer from" in first.why and "within 0.3 s" in first.why
    assert {result.verdict for result in rest} == {Verdict.SKIP}


def test_a_wrong_path_is_recognized_as_not_the_handler(stub_site: RunningStubSite) -> None:
    first, *_ = run_receiver_checks(Receiver(stub_site.base_url + "/api/other", SECRET, TOKEN))
    assert first.verdict is Verdict.FAIL
    assert "does not look like the webhook handler" in first.why


# --- weaker evidence, said in words ---------------------------------------------------------


def test_a_token_already_registered_makes_the_state_check_weaker_and_says_so(
    stub_site: RunningStubSite,
) -> None:
    check_stub(stub_site)
    results = by_id(check_stub(stub_site))
    assert "already REGISTERED" in results["state-url"].why
    assert results["rejections-change-no-state"].verdict is Verdict.SKIP
    assert "fresh DRAFT token" in results["rejections-change-no-state"].why
    assert "no transition was seen" in results["lowercase-status"].why
    assert failed_ids(results.values()) == set()


def test_an_unreadable_state_url_fails_once_and_the_rest_judge_by_the_answers(
    stub_site: RunningStubSite,
) -> None:
    unreadable = stub_site.webhook_url + "?token={token_id}"
    results = run_receiver_checks(
        Receiver(stub_site.webhook_url, SECRET, TOKEN, state_url=unreadable)
    )
    assert failed_ids(results) == {"state-url"}
    checks = by_id(results)
    assert "the later checks judge state changes by the answers alone" in checks["state-url"].why
    assert "could not be read" in checks["rejections-change-no-state"].why


def test_a_state_url_template_naming_no_route_is_blamed_not_the_token(
    stub_site: RunningStubSite,
) -> None:
    wrong_route = stub_site.base_url + "/api/token/{token_id}"  # /api/tokens/ is served
    results = run_receiver_checks(
        Receiver(stub_site.webhook_url, SECRET, TOKEN, state_url=wrong_route)
    )
    state = by_id(results)["state-url"]
    assert state.verdict is Verdict.FAIL
    assert "check the --state-url template" in state.why
    assert "does not exist on the receiver" not in state.why
    assert by_id(results)["valid-delivery"].verdict is Verdict.PASS


def test_without_a_state_url_the_state_checks_are_skipped(stub_site: RunningStubSite) -> None:
    results = by_id(run_receiver_checks(Receiver(stub_site.webhook_url, SECRET, TOKEN)))
    assert results["state-url"].verdict is Verdict.SKIP
    assert results["rejections-change-no-state"].verdict is Verdict.SKIP
    assert failed_ids(results.values()) == set()


def test_a_replay_window_is_reported_with_the_tolerance_the_receiver_names(
    tmp_path: Path,
) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, timestamp_tolerance=300) as site:
        results = by_id(check_stub(site))
    stale = results["stale-timestamp"]
    assert stale.verdict is Verdict.PASS
    assert "enforces a tolerance (reported 300 s" in stale.why
    assert failed_ids(results.values()) == set()


def test_a_replay_window_is_seen_even_by_a_receiver_that_answers_duplicates_first() -> None:
    receiver = FlawedReceiver(SECRET, [TOKEN], Flaw.ANSWERS_DUPLICATES_FIRST, tolerance_seconds=600)
    with serving(receiver) as server:
        stale = by_id(check_receiver_at(server))["stale-timestamp"]
    assert stale.verdict is Verdict.PASS
    assert "enforces a tolerance (not reported; observed under 1 hour)" in stale.why


def test_no_replay_window_is_a_pass_with_a_note(stub_site: RunningStubSite) -> None:
    stale = by_id(check_stub(stub_site))["stale-timestamp"]
    assert stale.verdict is Verdict.PASS
    assert "no replay tolerance enforced" in stale.why
    assert UNKNOWN_TOKEN in stale.why


def test_rejection_checks_run_before_the_state_check_and_acceptance_after() -> None:
    ids = RECEIVER_CHECKS.ids
    state = ids.index("rejections-change-no-state")
    for rejection in ("signature-missing", "schema-violations", "oversized-body", "wrong-method"):
        assert ids.index(rejection) < state
    for acceptance in ("valid-delivery", "lowercase-token-id", "duplicate-delivery"):
        assert ids.index(acceptance) > state
    assert ids[state + 1] == "lowercase-status"
    assert len(set(ids)) == len(ids)


class CrashesOnNaiveTimestampsWhenRegistering(FlawedReceiver):
    """Correct, except that it compares the timestamp with an aware clock only when it moves a
    DRAFT token: a timestamp without offset crashes that comparison (500)."""

    def _register(self, token: str, payload: Mapping[str, Any], status_sent: str) -> Response:
        if self.tokens[token] == "DRAFT":
            sent = datetime.fromisoformat(str(payload["timestamp"]).replace("Z", "+00:00"))
            if sent.tzinfo is None:
                return error_answer(500, "internal_error", "can't compare offset-naive datetimes")
        return super()._register(token, payload, status_sent)


def test_a_crash_on_naive_timestamps_after_the_lookup_is_caught_with_a_spare_of_its_own() -> None:
    spares = SPARES
    receiver = CrashesOnNaiveTimestampsWhenRegistering(SECRET, ["LSCOR", *spares])
    with serving(receiver) as server:
        state_url = server.base_url + STATE_URL_TEMPLATE
        results = run_receiver_checks(
            Receiver(server.url(WEBHOOK_PATH), SECRET, "LSCOR", spares, state_url)
        )
    verdicts = {result.check_id: result.verdict for result in results}
    assert verdicts["timestamp-without-offset"] is Verdict.FAIL
    assert [check for check, verdict in verdicts.items() if verdict is Verdict.FAIL] == [
        "timestamp-without-offset"
    ]


# --- later nested versions: api_schema ------------------------------------------------------


@pytest.mark.parametrize(
    ("flaw", "verdict", "words"),
    [
        (Flaw.DROPS_LATER_VERSIONS, Verdict.FAIL, "with an api_schema object was accepted, yet"),
        (Flaw.ABSENT_API_SCHEMA_CLEARS, Verdict.FAIL, "no api_schema must keep the stored"),
        (Flaw.NULL_API_SCHEMA_KEPT, Verdict.WARN, "api_schema null must clear the stored"),
    ],
)
def test_what_a_later_nested_version_does_to_the_api_schema_is_judged_by_the_state(
    flaw: Flaw, verdict: Verdict, words: str
) -> None:
    result = by_id(check_flawed(flaw, spares=SPARES))["api-schema"]
    assert result.verdict is verdict, result.why
    assert words in result.why
    assert str(result.fix).startswith("when a later model version of a REGISTERED token arrives")


def test_api_schema_is_skipped_when_the_state_url_does_not_show_it() -> None:
    with serving(StateWithoutApiSchema(SECRET, [TOKEN])) as server:
        checks = by_id(check_receiver_at(server))
    assert checks["api-schema"].verdict is Verdict.SKIP
    assert "the state URL does not show api_schema for LSCOR" in checks["api-schema"].why
    assert not_passed(checks.values()) == [("api-schema", "skip", checks["api-schema"].why)]


# --- paths ----------------------------------------------------------------------------------


def test_a_website_serving_both_paths_passes_at_the_second_one_too(
    stub_site: RunningStubSite,
) -> None:
    seed = stub_site.server.url(SEED_PATH)
    receiver = Receiver(
        stub_site.webhook_url, SECRET, TOKEN, (), stub_site.state_url_template, also_urls=(seed,)
    )
    checks = by_id(run_receiver_checks(receiver))
    assert not_passed(checks.values()) == []
    paths = checks["webhook-paths"].why
    assert paths.startswith(f"{CURRENT_PATH} is where the SDK posts; at {seed}: answered 404")
    assert "accepted the flat and the nested body for LSCOR" in paths


def test_the_seed_path_alone_is_a_warning_naming_the_path_the_sdk_posts_to(
    stub_site: RunningStubSite,
) -> None:
    seed = stub_site.server.url(SEED_PATH)
    alone = by_id(run_receiver_checks(Receiver(seed, SECRET, TOKEN)))["webhook-paths"]
    assert alone.verdict is Verdict.WARN
    assert f"{SEED_PATH} is the seed path; the SDK posts to {CURRENT_PATH}" in alone.why
    assert f"--also-url {stub_site.webhook_url}" in str(alone.fix)
    stub_site.reset([TOKEN])
    judged_too = Receiver(seed, SECRET, TOKEN, also_urls=(stub_site.webhook_url,))
    checks = by_id(run_receiver_checks(judged_too))
    assert checks["webhook-paths"].verdict is Verdict.PASS
    assert f"{SEED_PATH} is not where the SDK posts, but {CURRENT_PATH} is; at " in (
        checks["webhook-paths"].why
    )


def test_an_also_url_where_nothing_handles_the_webhook_fails_and_its_answers_are_not_judged(
    stub_site: RunningStubSite,
) -> None:
    elsewhere = stub_site.server.url("/api/other")
    receiver = Receiver(stub_site.webhook_url, SECRET, TOKEN, also_urls=(elsewhere,))
    checks = by_id(run_receiver_checks(receiver))
    assert failed_ids(checks.values()) == {"webhook-paths"}
    assert "nothing handles the webhook at /api/other" in checks["webhook-paths"].why
    assert str(checks["webhook-paths"].fix).startswith("serve the webhook at /api/other too")
    assert checks["answers-are-json"].verdict is Verdict.PASS


def test_an_also_url_that_does_not_answer_fails_that_check_alone(
    stub_site: RunningStubSite,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}{SEED_PATH}"
    receiver = Receiver(stub_site.webhook_url, SECRET, TOKEN, also_urls=(dead,))
    checks = by_id(run_receiver_checks(receiver))
    assert failed_ids(checks.values()) == {"webhook-paths"}
    assert f"no answer from {dead} (connection refused)" in checks["webhook-paths"].why
    assert checks["answers-are-json"].verdict is Verdict.PASS
