"""The Schemathesis rows: every request signed over its exact bytes, flaws found, runs bounded."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from contracts import WEBHOOK_PATHS, payload_shape, sign, token_id_of, verify
from contracts.conformance import Verdict
from contracts.conformance.schemathesis_run import SignedBody, run_schemathesis, split_url
from contracts.receiver.testing import running_stub_site
from contracts.support.server import serving
from tests.conformance.receivers import WEBHOOK_PATH, Flaw, FlawedReceiver

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SECRET = "schemathesis secret 5e0a"
EXAMPLES = 15


def fuzz(*flaws: Flaw) -> dict[str, tuple[Verdict, str]]:
    with serving(FlawedReceiver(SECRET, ["LSCOR"], *flaws)) as server:
        results = run_schemathesis(server.url(WEBHOOK_PATH), SECRET, "LSCOR", max_examples=EXAMPLES)
    return {result.check_id: (result.verdict, result.why) for result in results}


def test_a_correct_receiver_passes_both_modes() -> None:
    rows = fuzz()
    assert rows["schemathesis-positive"][0] is Verdict.PASS, rows
    assert rows["schemathesis-negative"][0] is Verdict.PASS, rows
    assert "200" in rows["schemathesis-positive"][1]  # the token under test was accepted


def test_a_receiver_that_ignores_signatures_fails_the_negative_mode() -> None:
    verdict, why = fuzz(Flaw.IGNORES_SIGNATURES)["schemathesis-negative"]
    assert verdict is Verdict.FAIL
    assert "expected 400 (invalid body) or 401 (invalid signature)" in why


def test_a_receiver_that_verifies_a_reserialization_refuses_every_signature() -> None:
    verdict, why = fuzz(Flaw.VERIFIES_RESERIALIZED_JSON)["schemathesis-positive"]
    assert verdict is Verdict.FAIL
    assert "missing auth" in why


def test_the_auth_object_signs_the_exact_bytes_on_the_wire() -> None:
    prepared = requests.Request(
        "POST", "http://127.0.0.1/x", data=b'{"a": 1}', auth=SignedBody(SECRET)
    ).prepare()
    assert prepared.headers["X-Hokusai-Signature"] == sign(b'{"a": 1}', SECRET)
    assert verify(b'{"a": 1}', prepared.headers["X-Hokusai-Signature"], SECRET)
    assert SECRET not in repr(SignedBody(SECRET))


@pytest.mark.parametrize(
    ("url", "base", "path"),
    [
        ("http://h:1/api/mlflow/registered", "http://h:1", "/api/mlflow/registered"),
        ("https://h/site/api/mlflow/registered", "https://h/site", "/api/mlflow/registered"),
        (
            "http://h:1/api/webhooks/model-registration",
            "http://h:1",
            "/api/webhooks/model-registration",
        ),
        (
            "https://h/site/api/webhooks/model-registration",
            "https://h/site",
            "/api/webhooks/model-registration",
        ),
        ("https://h/hooks/hokusai", "https://h", "/hooks/hokusai"),
    ],
)
def test_a_handler_mounted_anywhere_is_fuzzed_at_its_own_path(
    url: str, base: str, path: str
) -> None:
    assert split_url(url) == (base, path)


def test_a_stub_mounted_at_another_path_is_fuzzed_there(tmp_path: Path) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, path="/hooks/hokusai") as site:
        results = run_schemathesis(site.webhook_url, SECRET, "LSCOR", max_examples=EXAMPLES)
        assert site.token("LSCOR")["status"] == "REGISTERED"
    assert [result.verdict for result in results] == [Verdict.PASS, Verdict.PASS]


class AcceptedShapes:
    """WSGI middleware: count the shape and token of each body its app answers 200."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app
        self.accepted: Counter[tuple[str, str]] = Counter()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)

        def record(status: str, headers: Any, *rest: Any) -> Any:
            if status.startswith("200"):
                payload = json.loads(body)
                self.accepted[(payload_shape(payload).value, token_id_of(payload))] += 1
            return start_response(status, headers, *rest)

        return self.app(environ, record)


@pytest.mark.parametrize("path", WEBHOOK_PATHS)
def test_the_stub_is_fuzzed_at_each_contract_path_and_accepts_both_shapes_of_the_token(
    tmp_path: Path, path: str
) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET) as site:
        watched = AcceptedShapes(site.app)
        with serving(watched) as server:
            results = run_schemathesis(server.url(path), SECRET, "LSCOR", max_examples=EXAMPLES)
    assert [result.verdict for result in results] == [Verdict.PASS, Verdict.PASS]
    assert {shape for shape, token in watched.accepted if token == "LSCOR"} == {"v1", "v2"}
