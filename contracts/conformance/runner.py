"""Run the receiver checks against a receiver, reporting each check as soon as it finishes."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import closing
from typing import Any

from contracts.conformance.answers import RAW_BODY_FIX
from contracts.conformance.checklist import OnResult
from contracts.conformance.checks import RECEIVER_CHECKS
from contracts.conformance.probe import Probe
from contracts.conformance.receiver_run import ReceiverRun
from contracts.conformance.receiver_under_test import Receiver
from contracts.conformance.results import CheckResult, SuiteResult, Verdict
from contracts.conformance.schemathesis_run import (
    DEFAULT_MAX_EXAMPLES,
    run_schemathesis,
    skipped_schemathesis,
)


def run_receiver_checks(
    receiver: Receiver, *, on_result: OnResult | None = None
) -> list[CheckResult]:
    """Judge ``receiver`` with every check of :data:`RECEIVER_CHECKS`, in order.

    With a state URL the state checks become possible; each spare token lets one part of a
    transition check see a transition of its own: the nested parts of ``valid-delivery`` and
    ``duplicate-delivery`` first, then ``lowercase-token-id``, the flat part of
    ``duplicate-delivery`` and ``timestamp-without-offset``. The receiver's ``also_urls`` are
    judged by ``webhook-paths``. Each result is recorded for the checks after it, then handed
    to ``on_result``.
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
    seed: int | None = None,
    on_result: OnResult | None = None,
) -> SuiteResult:
    """The receiver checks, then (unless the run stopped early) Schemathesis, as one suite.

    ``seed`` makes Schemathesis generate the same requests again (default: its fixed one).
    """
    results = run_receiver_checks(receiver, on_result=on_result)
    if not schemathesis:
        extra = skipped_schemathesis("skipped: --no-schemathesis")
    elif results and results[0].failed:
        extra = skipped_schemathesis(f"skipped: {results[0].check_id} failed")
    else:
        options: dict[str, Any] = {} if seed is None else {"seed": seed}
        extra = run_schemathesis(
            receiver.url,
            receiver.secret,
            receiver.token,
            timeout=receiver.timeout,
            max_examples=max_examples or DEFAULT_MAX_EXAMPLES,
            headers=receiver.headers,
            **options,
        )
        extra = [explained_by_the_checks(result, results) for result in extra]
    for result in extra:
        if on_result is not None:
            on_result(result)
    return SuiteResult(name, (*results, *extra))


COMPACT_ONLY = "compact_only"


def explained_by_the_checks(result: CheckResult, checks: Sequence[CheckResult]) -> CheckResult:
    """A Schemathesis result re-read with what the checks found: when every signed generated
    request got 401 and ``raw-body-verified`` found that only compact JSON passes, the cause is
    that Schemathesis sends spaced JSON, not the secret."""
    statuses = result.details.get("statuses") or {}
    every_401 = bool(statuses) and set(statuses) == {401}
    if result.check_id != "schemathesis-positive" or result.verdict is not Verdict.FAIL:
        return result
    raw_body = next((check for check in checks if check.check_id == "raw-body-verified"), None)
    if not every_401 or raw_body is None or not raw_body.details.get(COMPACT_ONLY):
        return result
    return dataclasses.replace(
        result,
        why=f"positive: every signed generated request got 401 ({result.details.get('requests')} "
        "sent): Schemathesis sends spaced JSON (', ' and ': ') and the handler accepts only "
        "compact JSON, because it verifies a re-serialization of the parsed body (see "
        "raw-body-verified), not because of the secret",
        fix=RAW_BODY_FIX,
    )
