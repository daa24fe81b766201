"""The pytest plugin, as an SDK's own test suite uses it: installed, nothing to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from contracts.pytest_plugin import RENAMED_FIXTURES, HokusaiFixtureDeprecationWarning

pytest_plugins = ["pytester"]

SDK_TEST = """
import requests

import contracts


def test_the_stub_site_is_notified_by_a_signed_delivery(
    hokusai_stub_site, hokusai_signed_delivery
):
    payload = contracts.build_payload(
        token_id="lscor", model_name="m", model_version=1, metric_name="accuracy",
        baseline_value=0.9,
    )
    delivery = hokusai_signed_delivery(payload)
    answer = requests.post(
        hokusai_stub_site.webhook_url, data=delivery.body, headers=delivery.headers
    )
    assert answer.status_code == 200
    assert hokusai_stub_site.token("LSCOR")["status"] == "REGISTERED"


def test_a_recording_receiver_keeps_the_exact_bytes(
    hokusai_recording_receiver, hokusai_signed_delivery
):
    delivery = hokusai_signed_delivery({}, body=b'{"token_id": "X"}', key="k")
    requests.post(hokusai_recording_receiver.url, data=delivery.body, headers=delivery.headers)
    (request,) = hokusai_recording_receiver.requests
    assert request.body == b'{"token_id": "X"}'
"""

OLD_NAMES_TEST = """
import pytest
import requests

import contracts
from contracts.pytest_plugin import HokusaiFixtureDeprecationWarning


def test_the_old_names_give_the_same_fixtures(stub_site, signed_delivery, webhook_secret):
    delivery = signed_delivery(contracts.build_payload(
        token_id="LSCOR", model_name="m", model_version=1, metric_name="accuracy",
        baseline_value=0.9,
    ))
    assert contracts.verify(delivery.body, delivery.signature, webhook_secret)
    requests.post(stub_site.webhook_url, data=delivery.body, headers=delivery.headers)
    assert stub_site.token("LSCOR")["status"] == "REGISTERED"


def test_an_old_name_warns_naming_the_new_one(request):
    renamed = "'outbox_path'.*'hokusai_outbox_path'"
    with pytest.warns(HokusaiFixtureDeprecationWarning, match=renamed):
        path = request.getfixturevalue("outbox_path")
    assert path == request.getfixturevalue("hokusai_outbox_path")
"""


def test_an_sdk_test_suite_gets_the_fixtures_without_importing_anything(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_sdk=SDK_TEST)
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-W",
        f"error::{HokusaiFixtureDeprecationWarning.__module__}."
        f"{HokusaiFixtureDeprecationWarning.__name__}",
    )
    result.assert_outcomes(passed=2)


def test_the_old_fixture_names_still_work_and_warn_with_the_new_name(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_old_names=OLD_NAMES_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rw")
    result.assert_outcomes(passed=2)
    output = result.stdout.str()
    for old in ("stub_site", "signed_delivery", "webhook_secret"):
        warned = f"the fixture {old!r} of hokusai-contracts is now 'hokusai_{old}'"
        assert f"HokusaiFixtureDeprecationWarning: {warned}" in output


def test_every_old_fixture_name_is_an_alias_of_a_prefixed_fixture(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures")
    output = result.stdout.str()
    for old, (new, _) in RENAMED_FIXTURES.items():
        assert new == f"hokusai_{old}"
        assert f"Deprecated: the old name of ``{new}``." in output
        assert new in output


def test_loading_the_plugin_imports_neither_mlflow_nor_requests_nor_werkzeug() -> None:
    code = (
        "import sys, contracts.pytest_plugin; "
        "heavy = [m for m in sys.modules "
        "if m.split('.')[0] in ('mlflow', 'requests', 'werkzeug')]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
