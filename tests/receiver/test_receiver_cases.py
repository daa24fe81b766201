"""The shared receiver cases (schemas/vectors/receiver_cases.v1.json) against the stub site over
real HTTP: the same requests and expected answers the Node.js reference receiver is held to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from contracts import WEBHOOK_PATHS, Shape, payload_shape
from contracts.receiver import RejectReason, RunningStubSite, running_stub_site
from contracts.receiver.app import RECEIVER_CASES_FILE
from contracts.schema import load_json
from tests.receiver.support import assert_answer_follows_the_contract

VECTORS: dict[str, Any] = load_json(RECEIVER_CASES_FILE)
CASES: list[dict[str, Any]] = VECTORS["cases"]
REASONS: dict[str, dict[str, Any]] = VECTORS["reasons"]
NOT_REQUESTABLE = {RejectReason.MALFORMED_REQUEST.value, RejectReason.INTERNAL_ERROR.value}
"""Reasons no well-formed request brings about: bad framing needs a raw socket (see
test_framing.py), an internal error a broken site."""


@pytest.fixture
def configured_site(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningStubSite]:
    """A stub site configured as the case says, over a fresh store."""
    receiver = request.param["receiver"]
    options: dict[str, Any] = {}
    if receiver["timestamp_tolerance_seconds"] is not None:
        options["timestamp_tolerance"] = receiver["timestamp_tolerance_seconds"]
    if receiver["max_body_bytes"] is not None:
        options["max_body_bytes"] = receiver["max_body_bytes"]
    with running_stub_site(
        tmp_path / "site.sqlite3", receiver["secrets"], receiver["tokens"], **options
    ) as site:
        yield site


def send(site: RunningStubSite, sent: dict[str, Any]) -> requests.Response:
    return requests.request(
        sent["method"],
        site.base_url + sent["path"],
        headers=sent["headers"],
        data=sent["body"].encode("utf-8"),
        timeout=10,
    )


@pytest.mark.parametrize(
    ("case", "configured_site"),
    [(case, case) for case in CASES],
    ids=[case["name"] for case in CASES],
    indirect=["configured_site"],
)
def test_the_stub_site_gives_every_shared_case_its_expected_answer(
    case: dict[str, Any], configured_site: RunningStubSite
) -> None:
    for earlier in case.get("before", []):
        assert send(configured_site, earlier).status_code == 200
    expected = case["expected"]
    response = send(configured_site, case["request"])
    if case["request"]["path"] in configured_site.app.config.webhook_paths:
        reason = None if expected["reason"] is None else RejectReason(expected["reason"])
        answer = assert_answer_follows_the_contract(response, expected["status"], reason)
    else:
        assert response.status_code == expected["status"], response.text
        answer = response.json()
        assert answer["reason"] == expected["reason"]
    if "field" in expected:
        assert answer["field"] == expected["field"]
    assert answer.items() >= expected.get("answer", {}).items()
    for name, value in expected.get("headers", {}).items():
        assert response.headers[name] == value
    state = requests.get(configured_site.state_url_template.format(token_id="LSCOR"), timeout=10)
    assert state.json().items() >= expected.get("state", {}).items()
    if not case.get("before"):
        stored = configured_site.store.tokens()
        changed = [token.token_id for token in stored if token.status != "DRAFT"]
        assert changed == (["LSCOR"] if expected["status"] == 200 else [])


def _model(request: dict[str, Any]) -> dict[str, Any] | None:
    """The model object of a request's v2 body, or None for any other body."""
    try:
        body = json.loads(request["body"])
    except ValueError:
        return None
    return body["model"] if payload_shape(body) is Shape.V2 and "model" in body else None


def test_the_cases_accept_both_shapes_at_both_paths() -> None:
    accepted = {
        (case["request"]["path"], payload_shape(json.loads(case["request"]["body"])))
        for case in CASES
        if case["expected"]["status"] == 200
    }
    assert accepted == {(path, shape) for path in WEBHOOK_PATHS for shape in Shape}


def test_a_later_v2_version_keeps_clears_or_replaces_the_api_schema_as_the_cases_say() -> None:
    seen = set()
    for case in CASES:
        model, earlier = _model(case["request"]), [_model(r) for r in case.get("before", [])]
        if model is None or not earlier or earlier[-1] is None:
            continue
        if int(model["version"]) <= int(earlier[-1]["version"]):
            continue
        if "api_schema" not in model:
            change, expected = "kept", earlier[-1].get("api_schema")
        else:
            change = "cleared" if model["api_schema"] is None else "replaced"
            expected = model["api_schema"]
        assert case["expected"]["state"]["api_schema"] == expected, case["name"]
        assert case["expected"]["state"]["model_version"] == model["version"], case["name"]
        seen.add(change)
    assert seen == {"kept", "cleared", "replaced"}


def test_the_shared_reasons_are_exactly_the_stub_sites_each_with_its_meaning() -> None:
    assert set(REASONS) == {reason.value for reason in RejectReason}
    assert all(entry["meaning"] for entry in REASONS.values())


def test_every_reason_a_request_can_bring_about_has_a_case() -> None:
    covered = {case["expected"]["reason"] for case in CASES}
    assert covered == set(REASONS) - NOT_REQUESTABLE | {None}


def test_each_case_expects_the_status_its_reason_has() -> None:
    for case in CASES:
        expected = case["expected"]
        if expected["reason"] is not None:
            assert expected["status"] == REASONS[expected["reason"]]["status"], case["name"]
