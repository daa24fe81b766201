"""The recorder keeps what a sender put on the wire, answers from its script first, and
otherwise lets the application it wraps (the stub site, in-process) answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import contracts
from contracts.conformance import (
    SENDER_CHECKS,
    Recorder,
    ScriptedAnswer,
    SenderCase,
    SenderEvidence,
    Verdict,
)
from contracts.receiver import StubSite, create_app

SECRET = "recorder secret 7c1e"
TIMEOUT = 30


def delivery(token: str = "lscor") -> contracts.SignedDelivery:
    payload = contracts.build_payload(
        token_id=token,
        model_name="Sales lead scoring model",
        model_version=3,
        metric_name="accuracy",
        baseline_value=0.933,
    )
    return contracts.signed_delivery(payload, SECRET)


def post(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, data=body, headers=headers, timeout=TIMEOUT)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[StubSite]:
    app = create_app(tmp_path / "site.sqlite3", secrets=SECRET, tokens=["LSCOR"])
    yield app
    app.store.close()


def test_the_recorder_keeps_method_path_query_headers_and_exact_bytes() -> None:
    body = b'{"token_id":  "X"}'  # two spaces: bytes no JSON parser would give back
    with Recorder() as recorder:
        before = time.time()
        answer = post(recorder.url + "?v=1&a=%20b", body, {"X-Hokusai-Signature": "sha256=00"})
        after = time.time()
    (request,) = recorder.requests
    assert answer.status_code == 200 and answer.json() == {"success": True}
    assert (request.method, request.path) == ("POST", contracts.DEFAULT_PATH)
    assert request.query == "v=1&a=%20b"
    assert request.body == body and request.status == 200
    assert request.header("x-hokusai-signature") == "sha256=00"
    assert before <= request.received_at <= after


def test_a_recorder_around_the_stub_site_lets_the_site_answer_and_records_its_status(
    site: StubSite,
) -> None:
    good = delivery()
    with Recorder(site) as recorder:
        accepted = post(recorder.url, good.body, dict(good.headers))
        forged = post(recorder.url, good.body, {**good.headers, "X-Hokusai-Signature": "sha256=0"})
    assert (accepted.status_code, forged.status_code) == (200, 401)
    assert [request.status for request in recorder.requests] == [200, 401]
    assert [request.body for request in recorder.requests] == [good.body, good.body]
    record = site.store.token("LSCOR")
    assert record is not None and record.status == "REGISTERED"


def test_scripted_answers_come_first_and_the_wrapped_site_never_sees_them(site: StubSite) -> None:
    good = delivery()
    with Recorder(site) as recorder:
        recorder.script(ScriptedAnswer(503, {"success": False, "error": "busy"}))
        first = post(recorder.url, good.body, dict(good.headers))
        record = site.store.token("LSCOR")
        assert first.status_code == 503 and record is not None and record.status == "DRAFT"
        second = post(recorder.url, good.body, dict(good.headers))
    assert second.status_code == 200
    assert [request.status for request in recorder.requests] == [503, 200]


def test_any_sender_recorded_in_front_of_the_stub_site_is_judged_by_the_sender_checks(
    site: StubSite,
) -> None:
    with Recorder(site) as recorder:
        recorder.script(ScriptedAnswer(503))
        sent = delivery("lscor")
        for _ in range(2):  # a hand-written sender: one serialization, resent after the 503
            post(recorder.url, sent.body, dict(sent.headers))
    record = site.store.token("LSCOR")
    case = SenderCase(
        "hand-written", "lscor", tuple(recorder.requests), fault_injected=True,
        token_status=record.status if record else None,
    )  # fmt: skip
    results = {r.check_id: r.verdict for r in SENDER_CHECKS.run(SenderEvidence(SECRET, (case,)))}
    for unknown in ("sender-command", "sender-matches-mlflow", "sender-api-schema"):
        assert results.pop(unknown) is Verdict.SKIP  # no command run, MLflow not asked
    assert set(results.values()) == {Verdict.PASS}
