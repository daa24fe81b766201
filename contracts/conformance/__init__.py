"""Conformance: judge any receiver by its URL, any sender by what it put on the wire.

::

    from contracts.conformance import Receiver, Verdict, diagnose, run_receiver_checks

    receiver = Receiver(url, secret, "LSCOR", state_url=".../api/tokens/{token_id}")
    results = run_receiver_checks(receiver)
    failed = [r for r in results if r.verdict is Verdict.FAIL]   # r.why, r.fix in plain words

    diagnosis = diagnose(body, header_value, secret)            # .cause, .explanation, .fix

    with Recorder() as receiver:                                 # judge a sender by its bytes
        ...  # the sender delivers to receiver.url
    cases = (SenderCase("first registration", "lscor", tuple(receiver.requests)),)
    results = SENDER_CHECKS.run(SenderEvidence(secret, cases))

    with SenderJudge(fail_first=1) as judge:                     # or let a judge do all that
        subprocess.run(sender_command, env=judge.env)
        judge.assert_conforms()

Names are loaded on first use, so importing this package (as the CLI does) pulls in neither
``requests`` nor Schemathesis.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from contracts.support.lazy import lazy_exports

if TYPE_CHECKING:
    from contracts.conformance.check_sender import SenderJudge
    from contracts.conformance.checklist import Check, Checklist
    from contracts.conformance.checks import RECEIVER_CHECKS
    from contracts.conformance.diagnosis import Cause, Diagnosis, diagnose
    from contracts.conformance.receiver_under_test import Receiver
    from contracts.conformance.recording import RecordedRequest, Recorder, ScriptedAnswer
    from contracts.conformance.results import CheckResult, Finding, SuiteResult, Verdict
    from contracts.conformance.runner import receiver_suite, run_receiver_checks
    from contracts.conformance.sender_checks import (
        SENDER_CHECKS,
        MlflowTruth,
        SenderCase,
        SenderEvidence,
    )

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "contracts.conformance.check_sender": ["SenderJudge"],
        "contracts.conformance.checklist": ["Check", "Checklist"],
        "contracts.conformance.checks": ["RECEIVER_CHECKS"],
        "contracts.conformance.diagnosis": ["Cause", "Diagnosis", "diagnose"],
        "contracts.conformance.recording": ["RecordedRequest", "Recorder", "ScriptedAnswer"],
        "contracts.conformance.receiver_under_test": ["Receiver"],
        "contracts.conformance.results": ["CheckResult", "Finding", "SuiteResult", "Verdict"],
        "contracts.conformance.runner": ["receiver_suite", "run_receiver_checks"],
        "contracts.conformance.sender_checks": [
            "SENDER_CHECKS",
            "MlflowTruth",
            "SenderCase",
            "SenderEvidence",
        ],
    },
)

__all__ = [
    "RECEIVER_CHECKS",
    "SENDER_CHECKS",
    "Cause",
    "Check",
    "CheckResult",
    "Checklist",
    "Diagnosis",
    "Finding",
    "MlflowTruth",
    "Receiver",
    "RecordedRequest",
    "Recorder",
    "ScriptedAnswer",
    "SenderCase",
    "SenderEvidence",
    "SenderJudge",
    "SuiteResult",
    "Verdict",
    "diagnose",
    "receiver_suite",
    "run_receiver_checks",
]
