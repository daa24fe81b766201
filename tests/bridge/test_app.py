"""The bridge's answers over real HTTP, playing MLflow's part with signed events (no MLflow)."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from contracts.bridge import Bridge, BridgeConfig, sign_mlflow_delivery
from contracts.bridge.suite import wait_until
from contracts.conformance import Recorder, ScriptedAnswer
from contracts.envelope import idempotency_key
from contracts.payload import METRIC_TAG, TOKEN_TAG
from contracts.receiver import RunningStubSite, running_stub_site
from contracts.sender import DeliveryPolicy
from contracts.sender.mlflow_webhooks import VERSION_CREATED, VERSION_TAG_SET
from contracts.support.server import RunningServer

MLFLOW_SECRET = "mlflow-secret"
SITE_SECRET = "site-secret"


def event(name: str, data: dict[str, Any]) -> bytes:
    entity, action = name.split(".")
    body = {"entity": entity, "action": action, "timestamp": "2026-01-01T00:00:00", "data": data}
    return json.dumps(body).encode()


def created(token: str | None, name: str = "Lead scorer", version: str = "1") -> bytes:
    tags = {} if token is None else {TOKEN_TAG: token, METRIC_TAG: "auc"}
    data = {"name": name, "version": version, "source": "s3://x", "run_id": "r1", "tags": tags}
    return event(VERSION_CREATED, data)


@dataclass
class Served:
    bridge: Bridge
    server: RunningServer

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
        headers = headers or sign_mlflow_delivery(body, MLFLOW_SECRET)
        return requests.post(self.server.url("/mlflow"), data=body, headers=headers, timeout=30)


@contextmanager
def serving(
    site_url: str, outbox: Path, policy: DeliveryPolicy | None = None, resend_every: float = 60.0
) -> Iterator[Served]:
    config = BridgeConfig(
        (MLFLOW_SECRET,), site_url, SITE_SECRET, outbox, policy=policy, resend_every=resend_every
    )
    bridge = Bridge(config)
    bridge.start()
    try:
        with RunningServer(bridge) as server:
            yield Served(bridge, server)
    finally:
        bridge.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[RunningStubSite]:
    with running_stub_site(tmp_path / "site.sqlite3", SITE_SECRET, ("LSCOR",)) as running:
        yield running


@pytest.fixture
def served(site: RunningStubSite, tmp_path: Path) -> Iterator[Served]:
    with serving(site.webhook_url, tmp_path / "outbox.sqlite3") as running:
        yield running


def test_a_tagged_version_is_delivered_as_the_sdks_v2_body_without_mlflow_to_read(
    served: Served, site: RunningStubSite
) -> None:
    answer = served.post(created("lscor"))

    assert answer.status_code == 200
    assert answer.json()["outcome"] == "queued"
    assert wait_until(lambda: site.token("LSCOR")["status"] == "REGISTERED")
    token = site.token("LSCOR")
    assert (token["model_name"], token["model_version"], token["mlflow_run_id"]) == (
        "Lead scorer",
        "1",
        "r1",
    )
    assert token["metric_name"] == "auc"
    assert token["api_schema"] is None  # no tracking URI: nothing to read a signature from
    assert site.deliveries("LSCOR")[0]["idempotency_key"] == idempotency_key(
        "LSCOR", "Lead scorer", "1"
    )


def test_a_delivery_id_seen_before_is_answered_again_and_nothing_more_is_done(
    served: Served, site: RunningStubSite
) -> None:
    body = created("lscor")
    headers = sign_mlflow_delivery(body, MLFLOW_SECRET)
    assert served.post(body, headers).json()["outcome"] == "queued"
    assert wait_until(lambda: site.token("LSCOR")["status"] == "REGISTERED")

    again = served.post(body, headers)

    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate_delivery"
    assert not served.bridge.outbox.waiting()
    assert len(site.deliveries("LSCOR")) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (created(None), "no_token_tag"),
        (created("not a token"), "not_a_token_id"),
        (event("registered_model.created", {"name": "m", "tags": {}}), "not_a_registration_event"),
        (
            event(VERSION_TAG_SET, {"name": "m", "version": "1", "key": "a", "value": "b"}),
            "no_token_tag",
        ),
        (
            event(
                "model_version_tag.deleted",
                {"name": "m", "version": "1", "key": TOKEN_TAG},
            ),
            "not_a_registration_event",
        ),
    ],
)
def test_an_event_that_names_no_token_is_answered_200_with_why_and_sends_nothing(
    served: Served, site: RunningStubSite, body: bytes, reason: str
) -> None:
    answer = served.post(body)

    assert answer.status_code == 200
    assert (answer.json()["outcome"], answer.json()["reason"]) == ("ignored", reason)
    assert not served.bridge.outbox.waiting()
    assert site.deliveries() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b'{"entity": "model_version"}', "schema_violation"),
        (event("model_version.created", {"version": "1", "tags": {}}), "schema_violation"),
        (
            event("model_version.created", {"name": "m", "version": "1", "tags": []}),
            "schema_violation",
        ),
    ],
)
def test_a_verified_body_that_is_no_mlflow_event_is_answered_400(
    served: Served, body: bytes, reason: str
) -> None:
    answer = served.post(body)

    assert answer.status_code == 400
    assert answer.json()["reason"] == reason


@pytest.mark.parametrize(
    "body",
    [
        created("LSCOR", version="abc"),
        created("LSCOR", version="123456789012345678901"),
        created("LSCOR", name="   "),
        event(VERSION_TAG_SET, {"name": "m", "version": "x1", "key": TOKEN_TAG, "value": "LSCOR"}),
    ],
)
def test_a_tagged_event_whose_data_breaks_the_contract_is_answered_400_and_queues_nothing(
    served: Served, site: RunningStubSite, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "contracts.bridge"):
        answer = served.post(body)

    assert (answer.status_code, answer.json()["reason"]) == (400, "schema_violation")
    assert not served.bridge.outbox.waiting()
    assert [record.exc_info for record in caplog.records] == [None]
    assert "refused an MLflow event (schema_violation)" in caplog.text
    assert site.deliveries() == []


def test_a_bad_signature_is_answered_401_before_the_body_is_read_and_logged_by_its_code(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    body = b"{not json"
    with caplog.at_level(logging.WARNING, "contracts.bridge"):
        answer = served.post(body, sign_mlflow_delivery(body, "another secret"))

    assert answer.status_code == 401
    assert answer.json()["reason"] == "mismatch"
    assert "refused an MLflow delivery (mismatch)" in caplog.text


def test_other_methods_a_large_body_and_health_are_answered_in_json(served: Served) -> None:
    url = served.server.url("/")
    assert requests.get(url, timeout=30).status_code == 405
    assert requests.get(served.server.url("/health"), timeout=30).json()["status"] == "ok"
    large = requests.post(url, data=b"x" * (1024 * 1024 + 1), timeout=30)
    assert (large.status_code, large.json()["reason"]) == (413, "body_too_large")


def test_the_answer_does_not_wait_for_a_site_that_is_down(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{holder.getsockname()[1]}/api/webhooks/model-registration"
        patient = DeliveryPolicy(max_attempts=10_000, base_delay=0.5, max_delay=1, deadline=600)
        with serving(dead, tmp_path / "outbox.sqlite3", patient) as served:
            answer = served.post(created("lscor"))  # times out after 30 s if it waited

            assert answer.status_code == 200
            [(entry, _)] = served.bridge.outbox.waiting()
            assert entry.token_id == "LSCOR"


def test_an_outbox_that_cannot_be_written_is_answered_503_and_mlflows_retry_is_queued(
    served: Served, site: RunningStubSite, caplog: pytest.LogCaptureFixture
) -> None:
    body = created("lscor")
    headers = sign_mlflow_delivery(body, MLFLOW_SECRET)  # a retry resends these unchanged
    outbox = sqlite3.connect(served.bridge.outbox.path)
    outbox.execute(
        "CREATE TRIGGER full BEFORE INSERT ON notifications "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    with caplog.at_level(logging.ERROR, "contracts.bridge"):
        refused = served.post(body, headers)
    outbox.execute("DROP TRIGGER full")
    outbox.close()

    retried = served.post(body, headers)

    assert refused.status_code == 503
    assert (refused.json()["reason"], refused.headers["Retry-After"]) == ("outbox_error", "1")
    assert "could not be written down" in caplog.text
    assert retried.json()["outcome"] == "queued"
    assert wait_until(lambda: site.token("LSCOR")["status"] == "REGISTERED")


def test_what_the_site_did_not_take_is_sent_again_while_the_bridge_runs(tmp_path: Path) -> None:
    once = DeliveryPolicy(max_attempts=1, deadline=30)
    with Recorder() as site:
        site.script(ScriptedAnswer(503))  # the first attempt fails; the site takes the rest
        with serving(site.url, tmp_path / "outbox.sqlite3", once, resend_every=0.2) as served:
            answer = served.post(created("lscor"))
            sent_again = wait_until(lambda: not served.bridge.outbox.waiting())

    assert answer.json()["outcome"] == "queued"
    assert sent_again, f"still waiting after {len(site.requests)} request(s)"
    assert [request.status for request in site.requests] == [503, 200]
    assert len({request.idempotency_key for request in site.requests}) == 1


def test_a_body_cut_short_is_answered_400_like_the_stub_site_and_logs_no_traceback(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.receiver.test_framing import exchange, final_answer

    body = created("lscor")
    headers = sign_mlflow_delivery(body, MLFLOW_SECRET)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = (
        f"POST /mlflow HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{head}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body[:10]
    status, answer = final_answer(exchange(served.server.port, request, half_close=True))
    assert (status, answer["reason"]) == (400, "malformed_request")
    assert f"{len(body)} bytes its Content-Length declares" in answer["error"]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    assert served.bridge.outbox.waiting("LSCOR") == []
