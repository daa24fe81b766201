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
from contracts.conformance.probe import Probe, StateRead
from contracts.conformance.receiver_run import Evidence, ReceiverRun, Subject
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


def test_each_spare_token_goes_to_one_check_and_the_rest_fall_back_to_the_token_under_test(
    run_with_spares: ReceiverRun,
) -> None:
    subjects = {
        check_id: run_with_spares.subject_for(check_id)
        for check_id in ("lowercase-token-id", "duplicate-delivery", "timestamp-without-offset")
    }
    assert subjects == {
        "lowercase-token-id": Subject("AB", own=True),  # the spare with letters to lower-case
        "duplicate-delivery": Subject("123", own=True),
        "timestamp-without-offset": Subject("LSCOR", own=False),
    }
    assert run_with_spares.subject_for("lowercase-status") == Subject("LSCOR", own=True)


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
