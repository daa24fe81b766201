"""The receiver checks over real HTTP: the stub site passes, each flawed receiver fails on the
check that names its flaw, and an unusable receiver gets one diagnosis instead of a cascade."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from contracts.conformance import RECEIVER_CHECKS, CheckResult, Verdict, run_receiver_checks
from contracts.receiver.server import RunningServer, serving
from contracts.receiver.testing import RunningStubSite, running_stub_site
from tests.conformance.receivers import STATE_PREFIX, WEBHOOK_PATH, Flaw, FlawedReceiver

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

SECRET = "conformance shared secret 41b2"
TOKEN = "LSCOR"


def by_id(results: Iterable[CheckResult]) -> dict[str, CheckResult]:
    return {result.check_id: result for result in results}


def failed_ids(results: Iterable[CheckResult]) -> set[str]:
    return {result.check_id for result in results if result.verdict is Verdict.FAIL}


def check_receiver_at(server: RunningServer, secret: str = SECRET) -> list[CheckResult]:
    return run_receiver_checks(
        server.url(WEBHOOK_PATH), secret, TOKEN, server.base_url + STATE_PREFIX + "{token_id}"
    )


@pytest.fixture
def stub_site(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET) as site:
        yield site


def check_stub(site: RunningStubSite) -> list[CheckResult]:
    return run_receiver_checks(site.webhook_url, SECRET, TOKEN, site.state_url_template)


def test_the_stub_site_passes_every_check(stub_site: RunningStubSite) -> None:
    results = check_stub(stub_site)
    assert [result.check_id for result in results] == RECEIVER_CHECKS.ids
    assert all(result.verdict is Verdict.PASS for result in results), [
        (r.check_id, r.why) for r in results if r.verdict is not Verdict.PASS
    ]
    assert stub_site.token(TOKEN)["status"] == "REGISTERED"


def test_the_correct_flawless_test_receiver_passes_too() -> None:
    with serving(FlawedReceiver(SECRET, [TOKEN], Flaw.NONE)) as server:
        assert failed_ids(check_receiver_at(server)) == set()


EXPECTED_FAILURES = {
    Flaw.VERIFIES_RESERIALIZED_JSON: {"raw-body-verified"},
    Flaw.IGNORES_SIGNATURES: {
        "signature-missing",
        "signature-malformed",
        "signature-wrong-secret",
        "signature-without-prefix",
        "signature-other-header",
        "rejections-change-no-state",
    },
    Flaw.CASE_SENSITIVE_TOKEN_IDS: {"lowercase-token-id"},
    Flaw.CRASHES_ON_BAD_JSON: {"malformed-json", "answers-are-json"},
    Flaw.CHANGES_STATE_BEFORE_VERIFYING: {"rejections-change-no-state"},
}


@pytest.mark.parametrize("flaw", list(EXPECTED_FAILURES), ids=lambda flaw: flaw.value)
def test_each_flawed_receiver_fails_on_the_check_naming_its_flaw(flaw: Flaw) -> None:
    with serving(FlawedReceiver(SECRET, [TOKEN], flaw)) as server:
        results = check_receiver_at(server)
    failed = failed_ids(results)
    assert EXPECTED_FAILURES[flaw] <= failed
    assert all(by_id(results)[check].fix for check in EXPECTED_FAILURES[flaw])
    # Nothing unrelated fails: acceptance still works for every flaw but the broken one.
    assert "valid-delivery" not in failed


def test_verifying_a_reserialization_is_named_with_the_raw_body_fix() -> None:
    with serving(FlawedReceiver(SECRET, [TOKEN], Flaw.VERIFIES_RESERIALIZED_JSON)) as server:
        result = by_id(check_receiver_at(server))["raw-body-verified"]
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


def test_ignoring_signatures_is_said_in_words() -> None:
    with serving(FlawedReceiver(SECRET, [TOKEN], Flaw.IGNORES_SIGNATURES)) as server:
        result = by_id(check_receiver_at(server))["signature-missing"]
    assert "accepted (200)" in result.why
    assert "ignores signatures" in result.why


def test_a_receiver_without_a_secret_gets_that_diagnosis_and_every_other_check_is_skipped(
    tmp_path: Path,
) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", None) as site:
        results = check_stub(site)
    first, *rest = results
    assert first.verdict is Verdict.FAIL
    assert "your handler has no secret configured; set WEBHOOK_SECRET" in first.why
    assert "(the same value the SDK uses) and restart" in first.why
    assert {result.verdict for result in rest} == {Verdict.SKIP}
    assert all("no secret configured" in result.why for result in rest)


def test_a_closed_port_gets_one_diagnosis_naming_the_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    first, *rest = run_receiver_checks(url, SECRET, TOKEN)
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
        first, *rest = run_receiver_checks(server.url(WEBHOOK_PATH), SECRET, TOKEN, timeout=0.3)
    assert first.verdict is Verdict.FAIL
    assert "no answer within 0.3 s" in first.why
    assert {result.verdict for result in rest} == {Verdict.SKIP}


def test_a_wrong_path_is_recognized_as_not_the_handler(stub_site: RunningStubSite) -> None:
    first, *_ = run_receiver_checks(stub_site.base_url + "/api/other", SECRET, TOKEN)
    assert first.verdict is Verdict.FAIL
    assert "does not look like the webhook handler" in first.why


def test_a_secret_that_differs_fails_acceptance_with_a_pointer_to_diagnose(
    stub_site: RunningStubSite,
) -> None:
    results = by_id(run_receiver_checks(stub_site.webhook_url, "another secret", TOKEN))
    assert results["valid-delivery"].verdict is Verdict.FAIL
    assert "refused with 401 although correctly signed" in results["valid-delivery"].why
    assert "diagnose" in str(results["valid-delivery"].fix)


def test_a_token_already_registered_makes_the_state_check_weaker_and_says_so(
    stub_site: RunningStubSite,
) -> None:
    check_stub(stub_site)
    results = by_id(check_stub(stub_site))
    assert "already REGISTERED" in results["state-url"].why
    assert results["rejections-change-no-state"].verdict is Verdict.SKIP
    assert "fresh DRAFT token" in results["rejections-change-no-state"].why
    assert failed_ids(results.values()) == set()


def test_without_a_state_url_the_state_checks_are_skipped(stub_site: RunningStubSite) -> None:
    results = by_id(run_receiver_checks(stub_site.webhook_url, SECRET, TOKEN))
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


def test_no_replay_window_is_a_pass_with_a_note(stub_site: RunningStubSite) -> None:
    stale = by_id(check_stub(stub_site))["stale-timestamp"]
    assert stale.verdict is Verdict.PASS
    assert "no replay tolerance enforced" in stale.why


def test_rejection_checks_run_before_the_state_check_and_acceptance_after() -> None:
    ids = RECEIVER_CHECKS.ids
    state = ids.index("rejections-change-no-state")
    for rejection in ("signature-missing", "schema-violations", "oversized-body", "wrong-method"):
        assert ids.index(rejection) < state
    for acceptance in ("valid-delivery", "lowercase-token-id", "duplicate-delivery"):
        assert ids.index(acceptance) > state
    assert len(set(ids)) == len(ids)
