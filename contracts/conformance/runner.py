"""Run the receiver checks against a receiver, reporting each check as soon as it finishes."""

from __future__ import annotations

from contextlib import closing

from contracts.conformance.checklist import OnResult
from contracts.conformance.checks import RECEIVER_CHECKS
from contracts.conformance.probe import Probe
from contracts.conformance.receiver_run import ReceiverRun
from contracts.conformance.receiver_under_test import Receiver
from contracts.conformance.results import CheckResult, SuiteResult
from contracts.conformance.schemathesis_run import (
    DEFAULT_MAX_EXAMPLES,
    run_schemathesis,
    skipped_schemathesis,
)


def run_receiver_checks(
    receiver: Receiver, *, on_result: OnResult | None = None
) -> list[CheckResult]:
    """Judge ``receiver`` with every check of :data:`RECEIVER_CHECKS`, in order.

    With a state URL the state checks become possible; each spare token lets one transition
    check (``lowercase-token-id``, ``duplicate-delivery``, ``timestamp-without-offset``) see a
    transition of its own. Each result is recorded for the checks after it, then handed to
    ``on_result``.
    """
    with closing(Probe(receiver)) as probe:
        run = ReceiverRun(receiver, probe, RECEIVER_CHECKS)

        def record(result: CheckResult) -> None:
            run.record(result)
            if on_result is not None:
                on_result(result)

        return RECEIVER_CHECKS.run(run, record)


def receiver_suite(
    receiver: Receiver,
    *,
    name: str = "receiver",
    schemathesis: bool = True,
    max_examples: int | None = None,
    on_result: OnResult | None = None,
) -> SuiteResult:
    """The receiver checks, then (unless the run stopped early) Schemathesis, as one suite."""
    results = run_receiver_checks(receiver, on_result=on_result)
    if not schemathesis:
        extra = skipped_schemathesis("skipped: --no-schemathesis")
    elif results and results[0].failed:
        extra = skipped_schemathesis(f"skipped: {results[0].check_id} failed")
    else:
        extra = run_schemathesis(
            receiver.url,
            receiver.secret,
            receiver.token,
            timeout=receiver.timeout,
            max_examples=max_examples or DEFAULT_MAX_EXAMPLES,
        )
    for result in extra:
        if on_result is not None:
            on_result(result)
    return SuiteResult(name, (*results, *extra))
