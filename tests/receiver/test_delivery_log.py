"""The deliveries log keeps each request's exact body, its headers without secrets, and the
answer, over real HTTP and in the SQLite file."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import requests

import contracts
from contracts.receiver import RunningStubSite, TokenStore, running_stub_site
from tests.receiver.support import SECRET, deliver, registration

BEARER = "bearer-value-never-kept"
COOKIE = "session=cookie-value-never-kept"
API_KEY = "api-key-value-never-kept"
QUERY_TOKEN = "query-token-never-kept"


def logged(site: RunningStubSite) -> list[dict[str, object]]:
    answer = requests.get(site.deliveries_url, timeout=10)
    assert answer.status_code == 200
    deliveries: list[dict[str, object]] = answer.json()["deliveries"]
    return deliveries


def test_an_accepted_delivery_is_logged_with_its_exact_body_headers_and_answer(
    site: RunningStubSite,
) -> None:
    body = b'{ "odd":  "spacing",\n' + contracts.serialize(registration())[1:]
    response = deliver(site, body=body, key="key-kept-whole")
    assert response.status_code == 200

    (delivery,) = logged(site)
    assert delivery["body_text"] == body.decode("utf-8")
    assert base64.b64decode(str(delivery["body_base64"])) == body
    assert delivery["answer"] == {"status": 200, "body": response.json()}
    headers = dict(delivery["headers"])  # type: ignore[call-overload]
    assert headers[contracts.SIGNATURE_HEADER] == "sha256=...(cut)"
    assert headers[contracts.IDEMPOTENCY_KEY_HEADER] == "key-kept-whole"
    assert headers["Content-Type"] == "application/json"


def test_secrets_in_headers_are_cut_from_the_log_and_the_file(site: RunningStubSite) -> None:
    response = deliver(
        site,
        headers={
            "Authorization": f"Bearer {BEARER}",
            "Cookie": COOKIE,
            "X-Api-Key": API_KEY,
            "Referer": f"https://user:{API_KEY}@example.com/hook?token={QUERY_TOKEN}&page=2",
        },
    )
    assert response.status_code == 200

    headers = dict(logged(site)[0]["headers"])  # type: ignore[call-overload]
    assert headers["Authorization"] == "(cut)"
    assert headers["Cookie"] == "(cut)"
    assert headers["X-Api-Key"] == "(cut)"
    assert headers["Referer"] == "https://***@example.com/hook?token=***&page=2"
    stored = b"".join(
        path.read_bytes() for path in site.store.path.parent.glob(site.store.path.name + "*")
    )
    sent_signature = response.request.headers[contracts.SIGNATURE_HEADER]
    for secret in (BEARER, COOKIE, API_KEY, QUERY_TOKEN, SECRET, sent_signature[7:]):
        assert secret.encode() not in stored


def test_a_refused_body_that_is_not_utf8_is_kept_exactly_as_base64(
    site: RunningStubSite,
) -> None:
    body = b'{"token_id": "\xff\xfe"}'
    response = deliver(site, body=body)
    assert response.status_code == 400

    (delivery,) = logged(site)
    assert delivery["body_text"] is None
    assert base64.b64decode(str(delivery["body_base64"])) == body
    assert delivery["answer"] == {"status": 400, "body": response.json()}


def test_a_body_over_the_limit_is_not_kept(tmp_path: Path) -> None:
    with running_stub_site(tmp_path / "site.sqlite3", SECRET, max_body_bytes=64) as site:
        response = deliver(site)
        assert response.status_code == 413
        (delivery,) = logged(site)
    assert delivery["body_base64"] is None
    assert delivery["answer"] == {"status": 413, "body": response.json()}


def test_one_delivery_is_served_by_its_id_and_an_unknown_id_is_a_404(
    site: RunningStubSite,
) -> None:
    deliver(site)
    (listed,) = logged(site)
    one = requests.get(f"{site.deliveries_url}/{listed['id']}", timeout=10)
    assert one.status_code == 200
    assert one.json() == {"success": True, **listed}

    missing = requests.get(f"{site.deliveries_url}/{int(str(listed['id'])) + 1}", timeout=10)
    assert missing.status_code == 404
    assert "no delivery" in missing.json()["error"]


_STORE_BEFORE_BODIES = """
CREATE TABLE tokens (
    token_id TEXT PRIMARY KEY, status TEXT NOT NULL DEFAULT 'DRAFT', model_name TEXT,
    model_version TEXT, mlflow_run_id TEXT, metric_name TEXT, baseline_value TEXT,
    registered_at TEXT, idempotency_key TEXT, api_schema TEXT
);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, idempotency_key TEXT, token_id TEXT,
    verdict TEXT NOT NULL, status_code INTEGER NOT NULL, signature_prefix TEXT,
    secret_index INTEGER
);
INSERT INTO tokens (token_id, status) VALUES ('LSCOR', 'DRAFT');
INSERT INTO deliveries (received_at, token_id, verdict, status_code, signature_prefix)
VALUES ('2026-01-02T03:04:05Z', 'LSCOR', 'mismatch', 401, 'sha256=0123abcd');
"""


def test_a_store_file_from_before_bodies_were_kept_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.executescript(_STORE_BEFORE_BODIES)
    connection.close()

    with running_stub_site(path, SECRET) as site:
        deliver(site)
        old, new = logged(site)
    assert old["verdict"] == "mismatch"
    assert old["signature_prefix"] == "sha256=0123abcd"
    assert old["body_base64"] is None and old["headers"] is None
    assert new["verdict"] == "registered"
    assert new["body_base64"] is not None
    store = TokenStore(path)
    try:
        assert [delivery.verdict for delivery in store.deliveries()] == ["mismatch", "registered"]
    finally:
        store.close()
