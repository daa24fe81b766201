"""The stub site and contract v2: both paths, both shapes, and what a token keeps (its status,
its latest model version, its API schema), over real HTTP and a real SQLite file."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

import contracts
from contracts import CURRENT_PATH, SEED_PATH, WEBHOOK_PATHS, build_model_payload
from contracts.receiver import RejectReason, RunningStubSite, TokenStore, running_stub_site
from contracts.receiver.store import Transition
from tests.receiver.support import SECRET, assert_answer_follows_the_contract, registration

API_SCHEMA = {
    "inputSchema": {"type": "object", "properties": {"industry": {"type": "string"}}},
    "outputSchema": {"type": "object", "properties": {"lead_score": {"type": "number"}}},
}
OTHER_API_SCHEMA = {"inputSchema": {"type": "object"}, "outputSchema": {}}


def model_event(version: str | None = "4", **options: Any) -> dict[str, Any]:
    """A v2 event for LSCOR, as the SDK's CLI builds it."""
    return build_model_payload(
        token_id="lscor", model_name="Sales lead scoring model", model_version=version, **options
    )


def post(url: str, payload: dict[str, Any], **headers: str) -> requests.Response:
    delivery = contracts.signed_delivery(payload, SECRET)
    return requests.post(
        url, data=delivery.body, headers={**delivery.headers, **headers}, timeout=10
    )


def state(site: RunningStubSite, token: str = "LSCOR") -> dict[str, Any]:
    answer = requests.get(site.state_url_template.format(token_id=token), timeout=10)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_the_webhook_url_is_the_current_default_path_and_the_seed_path_is_served_too(
    site: RunningStubSite,
) -> None:
    assert site.webhook_url == site.base_url + CURRENT_PATH
    assert site.webhook_urls == tuple(site.base_url + path for path in WEBHOOK_PATHS)
    assert WEBHOOK_PATHS == ("/api/webhooks/model-registration", "/api/mlflow/registered")
    assert contracts.DEFAULT_PATH == SEED_PATH


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
@pytest.mark.parametrize("shape", ["v1", "v2"])
def test_each_path_registers_the_token_from_either_shape(
    site: RunningStubSite, path: str, shape: str
) -> None:
    payload = registration() if shape == "v1" else model_event()
    answer = assert_answer_follows_the_contract(post(site.base_url + path, payload), 200)
    assert answer["token_id"] == "LSCOR" and answer["duplicate"] is False
    assert state(site)["status"] == "REGISTERED"


def test_a_stub_mounted_elsewhere_serves_only_its_own_path(tmp_path: Path) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, path="/hooks/hokusai") as site:
        assert site.webhook_urls == (site.webhook_url,) == (site.base_url + "/hooks/hokusai",)
        for path in WEBHOOK_PATHS:
            answer = post(site.base_url + path, model_event())
            assert answer.status_code == 404
            assert answer.json()["reason"] == RejectReason.UNKNOWN_PATH.value
        assert post(site.webhook_url, model_event()).status_code == 200


def test_an_unknown_path_names_both_webhook_paths(site: RunningStubSite) -> None:
    answer = requests.post(site.base_url + "/api/webhooks", data=b"{}", timeout=10)
    assert answer.status_code == 404
    assert CURRENT_PATH in answer.json()["error"] and SEED_PATH in answer.json()["error"]


def test_the_state_shows_status_latest_version_and_api_schema_beside_the_earlier_fields(
    site: RunningStubSite,
) -> None:
    assert state(site)["api_schema"] is None
    post(site.webhook_url, model_event(api_schema=API_SCHEMA, run_id="abc123"))
    shown = state(site)
    assert (shown["status"], shown["model_version"], shown["api_schema"]) == (
        "REGISTERED",
        "4",
        API_SCHEMA,
    )
    assert shown["model_name"] == "Sales lead scoring model"
    assert shown["mlflow_run_id"] == "abc123"
    assert {"token_id", "metric_name", "baseline_value", "registered_at", "idempotency_key"} <= (
        shown.keys()
    )


def test_a_lower_case_model_id_matches_the_token_and_an_unknown_one_gets_404(
    site: RunningStubSite,
) -> None:
    unknown = build_model_payload(token_id="nosuchtoken", model_name="m")
    answer = assert_answer_follows_the_contract(
        post(site.webhook_url, unknown), 404, RejectReason.UNKNOWN_TOKEN
    )
    assert "NOSUCHTOKEN" in answer["error"]
    assert post(site.webhook_url, model_event()).json()["token_id"] == "LSCOR"


def test_a_later_v2_version_is_no_second_transition_but_becomes_the_latest(
    site: RunningStubSite,
) -> None:
    post(site.webhook_url, model_event("4", api_schema=API_SCHEMA))
    registered_at = state(site)["registered_at"]
    answer = post(site.webhook_url, model_event("5", api_schema=OTHER_API_SCHEMA)).json()
    assert answer["duplicate"] is True and answer["model_version"] == "5"
    assert "now 5 (was 4)" in answer["message"]
    shown = state(site)
    assert (shown["model_version"], shown["api_schema"]) == ("5", OTHER_API_SCHEMA)
    assert shown["registered_at"] == registered_at
    verdicts = [delivery["verdict"] for delivery in site.deliveries("LSCOR")]
    assert verdicts == [Transition.REGISTERED.value, Transition.UPDATED.value]


def test_a_resent_v2_delivery_changes_nothing_even_with_a_later_version(
    site: RunningStubSite,
) -> None:
    first = contracts.signed_delivery(model_event("4", api_schema=API_SCHEMA), SECRET)
    requests.post(site.webhook_url, data=first.body, headers=first.headers, timeout=10)
    same_key = contracts.signed_delivery(
        model_event("5", api_schema=None), SECRET, key=first.headers["X-Hokusai-Idempotency-Key"]
    )
    answer = requests.post(
        site.webhook_url, data=same_key.body, headers=same_key.headers, timeout=10
    ).json()
    assert answer["duplicate"] is True
    assert (state(site)["model_version"], state(site)["api_schema"]) == ("4", API_SCHEMA)


def test_a_v1_delivery_for_a_registered_token_changes_nothing_whatever_its_version(
    site: RunningStubSite,
) -> None:
    post(site.webhook_url, registration(model_version="4"))
    answer = post(site.webhook_url, registration(model_version="9")).json()
    assert answer["duplicate"] is True and answer["model_version"] == "4"
    assert state(site)["model_version"] == "4"


def test_concurrent_later_versions_leave_the_highest_as_the_latest(
    site: RunningStubSite,
) -> None:
    post(site.webhook_url, model_event("1"))
    versions = [str(number) for number in range(2, 22)]
    with ThreadPoolExecutor(len(versions)) as pool:
        answers = list(pool.map(lambda v: post(site.webhook_url, model_event(v)), versions))
    assert {answer.status_code for answer in answers} == {200}
    assert all(answer.json()["duplicate"] for answer in answers)
    assert state(site)["model_version"] == "21"
    registered = [d for d in site.deliveries("LSCOR") if d["verdict"] == "registered"]
    assert len(registered) == 1


def test_the_api_schema_survives_a_restart_on_the_same_file(tmp_path: Path) -> None:
    db_path = tmp_path / "site.sqlite3"
    with running_stub_site(db_path, SECRET) as site:
        post(site.webhook_url, model_event(api_schema=API_SCHEMA))
    with running_stub_site(db_path, SECRET) as restarted:
        assert restarted.token("LSCOR")["api_schema"] == API_SCHEMA


def test_a_store_file_made_before_api_schemas_gains_the_column_and_keeps_its_tokens(
    tmp_path: Path,
) -> None:
    db_path = tmp_path / "old.sqlite3"
    with sqlite3.connect(db_path) as connection:
        connection.executescript(
            "CREATE TABLE tokens (token_id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT "
            "'DRAFT', model_name TEXT, model_version TEXT, mlflow_run_id TEXT, metric_name "
            "TEXT, baseline_value TEXT, registered_at TEXT, idempotency_key TEXT);"
            "INSERT INTO tokens (token_id, status, model_version) VALUES ('OLD', 'REGISTERED', "
            "'3');"
        )
    connection.close()
    store = TokenStore(db_path)
    old = store.token("OLD")
    assert old is not None and (old.status, old.model_version, old.api_schema) == (
        "REGISTERED",
        "3",
        None,
    )
    store.close()
    with running_stub_site(db_path, SECRET, tokens=["LSCOR"]) as site:
        post(site.webhook_url, model_event(api_schema=API_SCHEMA))
        assert site.token("LSCOR")["api_schema"] == API_SCHEMA


def test_a_key_first_accepted_with_an_update_is_a_repeat_when_it_comes_again(
    site: RunningStubSite,
) -> None:
    post(site.webhook_url, model_event("4"))
    update = contracts.signed_delivery(model_event("5"), SECRET)
    requests.post(site.webhook_url, data=update.body, headers=update.headers, timeout=10)
    key = update.headers["X-Hokusai-Idempotency-Key"]
    again = contracts.signed_delivery(model_event("6"), SECRET, key=key)
    answer = requests.post(site.webhook_url, data=again.body, headers=again.headers, timeout=10)
    assert "idempotency key was seen before" in answer.json()["message"]
    assert state(site)["model_version"] == "5"
