"""Run the receiver checks against a URL, reporting each check as soon as it finishes."""

from __future__ import annotations

from collections.abc import Sequence

from contracts.conformance.checklist import OnResult
from contracts.conformance.checks import RECEIVER_CHECKS, ReceiverRun
from contracts.conformance.probe import Probe
from contracts.conformance.results import CheckResult, SuiteResult
from contracts.conformance.schemathesis_run import (
    DEFAULT_MAX_EXAMPLES,
    run_schemathesis,
    skipped_schemathesis,
)
from contracts.tokens import normalize_token_id


def run_receiver_checks(
    url: str,
    secret: str,
    token: str,
    state_url: str | None = None,
    *,
    spare_tokens: Sequence[str] = (),
    timeout: float = 10.0,
    on_result: OnResult | None = None,
) -> list[CheckResult]:
    """Judge the receiver at ``url`` with every check of :data:`RECEIVER_CHECKS`, in order.

    ``token`` names a token that exists on the receiver (ideally still DRAFT); ``state_url`` is
    an optional template such as ``https://host/api/tokens/{token_id}`` answering JSON with
    ``status``, which makes the state checks possible. ``spare_tokens`` are further DRAFT
    tokens: with one, ``lowercase-token-id`` sees a transition of its own; with two,
    ``duplicate-delivery`` does too.
    """
    probe = Probe(url, secret, normalize_token_id(token), state_url, timeout)
    spares = tuple(normalize_token_id(spare) for spare in spare_tokens)
    try:
        return RECEIVER_CHECKS.run(ReceiverRun(probe, spares), on_result)
    finally:
        probe.session.close()


def receiver_suite(
    url: str,
    secret: str,
    token: str,
    state_url: str | None = None,
    *,
    spare_tokens: Sequence[str] = (),
    name: str = "receiver",
    timeout: float = 10.0,
    schemathesis: bool = True,
    max_examples: int | None = None,
    on_result: OnResult | None = None,
) -> SuiteResult:
    """The receiver checks, then (unless the run stopped early) Schemathesis, as one suite."""
    results = run_receiver_checks(
        url,
        secret,
        token,
        state_url,
        spare_tokens=spare_tokens,
        timeout=timeout,
        on_result=on_result,
    )
    if not schemathesis:
        extra = skipped_schemathesis("skipped: --no-schemathesis")
    elif results and results[0].failed:
        extra = skipped_schemathesis(f"skipped: {results[0].check_id} failed")
    else:
        extra = run_schemathesis(
            url,
            secret,
            token,
            timeout=timeout,
            max_examples=max_examples or DEFAULT_MAX_EXAMPLES,
        )
    for result in extra:
        if on_result is not None:
            on_result(result)
    return SuiteResult(name, (*results, *extra))
