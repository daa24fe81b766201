"""The pytest plugin, as an SDK's own test suite uses it: installed, nothing to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

SDK_TEST = """
import requests

import contracts


def test_the_stub_site_is_notified_by_a_signed_delivery(stub_site, signed_delivery):
    payload = contracts.build_payload(
        token_id="lscor", model_name="m", model_version=1, metric_name="accuracy",
        baseline_value=0.9,
    )
    delivery = signed_delivery(payload)
    answer = requests.post(stub_site.webhook_url, data=delivery.body, headers=delivery.headers)
    assert answer.status_code == 200
    assert stub_site.token("LSCOR")["status"] == "REGISTERED"


def test_a_recording_receiver_keeps_the_exact_bytes(recording_receiver, signed_delivery):
    delivery = signed_delivery({}, body=b'{"token_id": "X"}', key="k")
    requests.post(recording_receiver.url, data=delivery.body, headers=delivery.headers)
    (request,) = recording_receiver.requests
    assert request.body == b'{"token_id": "X"}'
"""


def test_an_sdk_test_suite_gets_the_fixtures_without_importing_anything(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_sdk=SDK_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_loading_the_plugin_imports_neither_mlflow_nor_requests_nor_werkzeug() -> None:
    code = (
        "import sys, contracts.pytest_plugin; "
        "heavy = [m for m in sys.modules "
        "if m.split('.')[0] in ('mlflow', 'requests', 'werkzeug')]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
