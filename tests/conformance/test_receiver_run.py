"""What the receiver checks may build on: the receiver under test, preconditions the loop
decides, the subject each check registers (chosen once per run), and how strong its evidence
is. Pure: nothing here sends a request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest

from contracts.conformance import RECEIVER_CHECKS, Receiver, Verdict
from contracts.conformance.answers import Answer, read_token_state
from contracts.conformance.checklist import Checklist, Precondition
from contracts.conformance.checks import acceptance_timing
from contracts.conformance.probe import FLAT, SDK_CLI, SDK_PUBLISHER, Probe, StateRead
from contracts.conformance.receiver_run import Evidence, ReceiverRun, Subject, combined
from contracts.conformance.results import Finding

SECRET = "receiver-run secret 77f0"


def test_a_receiver_never_shows_its_secret_nor_the_credentials_of_its_urls() -> None:
    receiver = Receiver(
        "https://hook:pa55-in-url@example.com/api/mlflow/registered?token=qu3ry-secret",
        SECRET,
        "lscor",
        ("other",),
        "https://example.com/api/tokens/{token_id}?api_key=st4te-key",
    )
    shown = repr(receiver) + str(receiver)
    for hidden in (SECRET, "pa55-in-url", "qu3ry-secret", "st4te-key"):
        assert hidden not in shown
    assert "token='LSCOR'" in shown and "spare_tokens=('OTHER',)" in shown
    assert receiver.tokens == ("LSCOR", "OTHER")


def test_an_unmet_precondition_skips_the_check_with_its_words_and_never_runs_it() -> None:
    ran: list[str] = []
    checks: Checklist[str] = Checklist()
    never = Precondition[str](lambda subject, check_id: f"{check_id} needs more than {subject}")
    holds = Precondition[str](lambda subject, check_id: None)

    @checks.check("first", "runs")
    @holds
    def first(subject: str) -> Finding:
        ran.append("first")
        return Finding.passed("ran")

    @checks.check("second", "is skipped")
    @holds
    @never
    def second(subject: str) -> Finding:
        ran.append("second")
        return Finding.passed("ran")

    results = checks.run("a string")
    assert ran == ["first"]
    assert [(r.verdict, r.why) for r in results] == [
        (Verdict.PASS, "ran"),
        (Verdict.SKIP, "second needs more than a string"),
    ]


@pytest.fixture
def run_with_spares() -> Iterator[ReceiverRun]:
    receiver = Receiver("http://127.0.0.1:9/api/mlflow/registered", SECRET, "LSCOR", ("123", "ab"))
    with closing(Probe(receiver)) as probe:
        yield ReceiverRun(receiver, probe, RECEIVER_CHECKS)


def test_spare_tokens_go_to_the_nested_parts_first_and_the_rest_fall_back_to_the_token_under_test(
    run_with_spares: ReceiverRun,
) -> None:
    subjects = {
        (check_id, form.name): run_with_spares.subject_for(check_id, form)
        for check_id, form in (
            ("valid-delivery", SDK_CLI),
            ("duplicate-delivery", SDK_PUBLISHER),
            ("lowercase-token-id", FLAT),
            ("duplicate-delivery", FLAT),
            ("timestamp-without-offset", FLAT),
        )
    }
    assert subjects == {
        ("valid-delivery", "v2"): Subject("AB", own=True),  # the spare with letters
        ("duplicate-delivery", "v2 publisher"): Subject("123", own=True),
        ("lowercase-token-id", "v1"): Subject("LSCOR", own=False),
        ("duplicate-delivery", "v1"): Subject("LSCOR", own=False),
        ("timestamp-without-offset", "v1"): Subject("LSCOR", own=False),
    }
    assert run_with_spares.subject_for("lowercase-status") == Subject("LSCOR", own=True)
    assert run_with_spares.subject_for("valid-delivery") == Subject("LSCOR", own=True)


def test_the_first_check_judging_the_nested_body_gates_the_nested_parts_after_it(
    run_with_spares: ReceiverRun,
) -> None:
    assert run_with_spares.nested_gate() == ("valid-delivery", SDK_CLI)
    assert run_with_spares.forms_of("timestamp-formats") == (FLAT, SDK_CLI)
    assert run_with_spares.forms_of("signature-missing") == (FLAT,)
    assert run_with_spares.form_unmet("valid-delivery", SDK_CLI) is None
    assert run_with_spares.form_unmet("duplicate-delivery", FLAT) is None
    assert "could not judge" in str(run_with_spares.form_unmet("duplicate-delivery", SDK_PUBLISHER))
    run_with_spares.record_part("valid-delivery", SDK_CLI, Verdict.FAIL)
    assert run_with_spares.form_unmet("duplicate-delivery", SDK_PUBLISHER) == (
        "the handler did not accept the nested body the SDK sends (see valid-delivery)"
    )
    run_with_spares.record_part("valid-delivery", SDK_CLI, Verdict.PASS)
    assert run_with_spares.form_unmet("duplicate-delivery", SDK_PUBLISHER) is None


def test_a_check_judged_in_two_forms_is_one_finding_with_the_worst_verdict_and_its_fix() -> None:
    flat = Finding.passed("flat fine", evidence="transition_seen", weaker_state_check=False)
    nested = Finding.failed("nested refused", "accept it", evidence="state_read", answer="400")
    finding = combined([(FLAT, flat), (SDK_CLI, nested)])
    assert finding.verdict is Verdict.FAIL
    assert finding.why == "v1: flat fine | v2: nested refused"
    assert finding.fix == "accept it"
    assert finding.details["evidence"] == "state_read"  # the weakest of the two
    assert finding.details["answer"] == "400"
    assert finding.details["forms"]["v1"]["verdict"] == "pass"
    assert finding.details["forms"]["v2"]["verdict"] == "fail"
    skipped = combined([(FLAT, flat), (SDK_CLI, Finding.skipped("not judged"))])
    assert skipped.verdict is Verdict.PASS
    assert combined([(FLAT, flat)]) is flat


def test_asking_whether_a_check_passed_before_it_ran_is_an_error(
    run_with_spares: ReceiverRun,
) -> None:
    with pytest.raises(ValueError, match="'unknown-token' has not run yet"):
        run_with_spares.passed("unknown-token")


@pytest.mark.parametrize(
    ("own", "state_readable", "evidence"),
    [
        (True, True, Evidence.TRANSITION_SEEN),
        (True, False, Evidence.TRANSITION_ANSWERED),
        (False, True, Evidence.STATE_READ),
        (False, False, Evidence.ANSWER_ONLY),
    ],
)
def test_evidence_is_graded_by_whose_token_it_is_and_whether_its_state_is_read(
    own: bool, state_readable: bool, evidence: Evidence
) -> None:
    graded = Evidence.of(Subject("LSCOR", own), state_readable)
    assert graded is evidence
    assert graded.weaker is not own


def registered_read(check_id: str, token: str, waited_s: float) -> StateRead:
    url = f"http://127.0.0.1:9/api/tokens/{token}"
    reading = read_token_state(url, Answer(200, b'{"status": "REGISTERED"}'))
    return StateRead(check_id, token, reading, waited_s)


def test_a_token_read_registered_only_after_waiting_is_reported_once_as_the_policy(
    run_with_spares: ReceiverRun,
) -> None:
    run_with_spares.probe.reads += [
        registered_read("lowercase-status", "LSCOR", 0.2),
        registered_read("duplicate-delivery", "123", 0.3),
    ]
    assert run_with_spares.answers_before_registering
    finding = acceptance_timing(run_with_spares)
    assert finding.verdict is Verdict.WARN
    assert "token(s) 123, LSCOR read REGISTERED only after the answer" in finding.why
    assert "Senders take any 2xx as delivered" in finding.why


def test_tokens_registered_when_first_read_are_no_finding(run_with_spares: ReceiverRun) -> None:
    run_with_spares.probe.reads.append(registered_read("lowercase-status", "LSCOR", 0.0))
    assert not run_with_spares.answers_before_registering
    assert acceptance_timing(run_with_spares).verdict is Verdict.PASS
