"""The same stub site application behind pytest-httpserver's ``respond_with_handler``."""

from __future__ import annotations

from pathlib import Path

import requests
from pytest_httpserver import HTTPServer

import contracts
from contracts.receiver import as_request_handler, create_app
from tests.receiver.support import SECRET, assert_answer_follows_the_contract, registration


def test_the_stub_site_answers_through_a_pytest_httpserver_handler(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    app = create_app(tmp_path / "site.sqlite3", secrets=SECRET, tokens=["LSCOR"])
    httpserver.expect_request(contracts.DEFAULT_PATH).respond_with_handler(as_request_handler(app))
    delivery = contracts.signed_delivery(registration(), SECRET)
    url = httpserver.url_for(contracts.DEFAULT_PATH)

    accepted = requests.post(url, data=delivery.body, headers=delivery.headers, timeout=10)
    refused = requests.post(url, data=delivery.body + b" ", headers=delivery.headers, timeout=10)

    assert_answer_follows_the_contract(accepted, 200)
    assert_answer_follows_the_contract(refused, 401)
    token = app.store.token("LSCOR")
    assert token is not None
    assert token.status == "REGISTERED"
