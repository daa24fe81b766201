"""The ``hokusai_sender_judge`` fixture judges an SDK's sender from the SDK's own test suite: a
real sender process given ``hokusai_sender_judge.env`` passes ``assert_conforms()``, and a broken
one fails it with every failing check listed."""

from __future__ import annotations

import sys

import pytest

from tests.conformance.test_check_sender import WEBHOOK_SENDER

pytest_plugins = ["pytester"]

SDK_TEST = f"""
import subprocess


def test_the_sender_keeps_the_contract(hokusai_sender_judge):
    assert hokusai_sender_judge.url.endswith("/api/webhooks/model-registration")
    assert hokusai_sender_judge.env["WEBHOOK_SECRET"] == hokusai_sender_judge.secret
    subprocess.run(
        [{sys.executable!r}, {str(WEBHOOK_SENDER)!r}, *SENDER_OPTIONS],
        env=hokusai_sender_judge.env,
        timeout=60,
        check=False,
    )
    assert len(hokusai_sender_judge.deliveries) == 1
    hokusai_sender_judge.assert_conforms()
"""


def test_a_conforming_sender_passes_assert_conforms(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_sdk="SENDER_OPTIONS = []\n" + SDK_TEST)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_broken_sender_fails_assert_conforms_listing_every_failing_check(
    pytester: pytest.Pytester,
) -> None:
    options = 'SENDER_OPTIONS = ["--token-case", "upper", "--sign", "reserialized"]\n'
    pytester.makepyfile(test_sdk=options + SDK_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    for line in [
        "AssertionError: the sender breaks the contract in 4 check(s):",
        "sender-delivered: LSCOR v4: not delivered (attempts answered [401])",
        "sender-signature: LSCOR v4 (attempt 1): body_reserialized",
        "sender-token-case: LSCOR v4 (attempt 1): v2 model.id 'LSCOR' not lower-cased",
        "sender-token-registered: LSCOR v4: token LSCOR is DRAFT",
    ]:
        assert line in output
