"""Delivering to the stub site over real HTTP, and checking its answers against the contract."""

from __future__ import annotations

from typing import Any

import requests
from jsonschema import Draft202012Validator

import contracts
from contracts.receiver import RejectReason, RunningStubSite
from contracts.schema import load_json, load_openapi

SECRET = "whsec-stub-site-current"
OLD_SECRET = "whsec-stub-site-previous"


def registration(**overrides: Any) -> dict[str, Any]:
    """The contract's example payload (token LSCOR), with any field replaced as given."""
    payload: dict[str, Any] = load_json("examples/model_registered.json")
    payload.update(overrides)
    return payload


def deliver(
    site: RunningStubSite,
    payload: dict[str, Any] | None = None,
    *,
    secret: str = SECRET,
    body: bytes | None = None,
    key: str | None = None,
    drop: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST one signed delivery over real HTTP, the way the reference sender builds it."""
    delivery = contracts.signed_delivery(payload or registration(), secret, key=key, body=body)
    sent = {name: value for name, value in delivery.headers.items() if name not in drop}
    sent.update(headers or {})
    return requests.post(site.webhook_url, data=delivery.body, headers=sent, timeout=10)


def answer_schema(status: int) -> dict[str, Any]:
    """The OpenAPI schema of the webhook's answer with this status code."""
    document = load_openapi()
    responses = document["paths"][contracts.DEFAULT_PATH]["post"]["responses"]
    reference = responses[str(status)]["content"]["application/json"]["schema"]["$ref"]
    schema: dict[str, Any] = document["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    return schema


def assert_answer_follows_the_contract(
    response: requests.Response, status: int, reason: RejectReason | None = None
) -> dict[str, Any]:
    """The status is as expected, the body is JSON valid against the OpenAPI document."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    Draft202012Validator(answer_schema(status)).validate(body)
    if reason is not None:
        assert body["reason"] == reason.value
        assert body["error"]
    return body
